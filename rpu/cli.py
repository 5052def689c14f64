"""The ``rpu`` command.

    rpu info     versions, OpenMP and threads, backends and BLAS of this installation
    rpu sweep    run an experiment over a grid of configs and seeds on Dask (rpu.sweep)
"""
import argparse
import sys


def main(argv=None):
    """Entry point of the ``rpu`` console script; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="rpu", description="rpu: analog in-memory computing simulator")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="show versions, OpenMP threads, backends and BLAS")
    from rpu.sweep import cli as sweep_cli  # registers `rpu sweep`; imports no Dask
    sweep_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "info":
        from rpu import show_config
        show_config()
        return 0
    if args.command == "sweep":
        return sweep_cli.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
