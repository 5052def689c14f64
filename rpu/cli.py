"""The ``rpu`` command.

    rpu demo     train a small network on analog tiles, then run it on drifting PCM (the main job)
    rpu bench    throughput of forward, backward and update against a bare GEMM and aihwkit
    rpu info     versions, OpenMP and threads, backends and BLAS of this installation
    rpu plot     device pulse responses and inference weight drift (rpu._plot_cli)
    rpu sweep    run an experiment over a grid of configs and seeds on Dask (rpu.sweep)
"""
import argparse
import sys

from rpu import _plot_cli, bench
from rpu.sweep import cli as sweep_cli  # registers `rpu sweep`; imports no Dask


def main(argv=None):
    """Entry point of the ``rpu`` console script; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="rpu", description="rpu: analog in-memory computing simulator")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train on analog tiles, then run the network on drifting PCM")
    demo.add_argument("--out", default="rpu-demo", metavar="DIR",
                      help="folder for results.json and demo.png (default: ./rpu-demo)")
    demo.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    demo.add_argument("--programmings", type=int, default=3,
                      help="independent PCM programmings to average over (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="seed of data split, weights and tiles")
    bench.add_parser(sub)
    sub.add_parser("info", help="show versions, OpenMP threads, backends and BLAS")
    _plot_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "bench":
        try:
            return bench.run(args)
        except (ValueError, OSError) as exc:  # (an unusable --json path: OSError)
            parser.error(str(exc))
    if args.command == "demo":
        from rpu.demo import run_demo
        try:
            run_demo(args.out, epochs=args.epochs, n_programmings=args.programmings, seed=args.seed)
        except ValueError as exc:
            parser.error(str(exc))
        return 0
    if args.command == "info":
        from rpu import show_config
        show_config()
        return 0
    if args.command == "plot":
        return _plot_cli.run(args)
    if args.command == "sweep":
        return sweep_cli.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
