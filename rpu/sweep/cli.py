"""``rpu sweep SPEC``: the command-line front of :mod:`rpu.sweep`.

Exit codes: 0 when every point of the grid has a result, 1 when some failed (now or in an
earlier run), 2 for a bad sweep file or missing packages, 130 when interrupted (what finished is
saved; the same command resumes).
"""

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the ``rpu`` command's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment over a grid of configs and seeds on Dask",
        description=(
            "Run the experiment function of a sweep file (TOML) for every combination of its "
            "grid's values and seeds on a Dask cluster, writing one row per point to a "
            "results table. Re-running skips the points already in the table. Format of the "
            "file: python -c 'import rpu.sweep; help(rpu.sweep)'."
        ),
    )
    parser.add_argument("spec", metavar="SPEC", help="the sweep file (TOML)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler (ignores [cluster])")
    parser.add_argument("--workers", metavar="N", type=_positive_int,
                        help="workers of the local cluster, or jobs of a job-queue cluster")
    parser.add_argument("--output", metavar="PATH",
                        help="results table, .csv or .parquet (default: sweep.output of the "
                             "file, else SPEC_STEM.results.csv next to it)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run the points of the failures table again")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the file and list the points and their state; run nothing")
    parser.add_argument("--flush-every", metavar="SECONDS", type=_seconds, default=1.0,
                        help="seconds between rewrites of the results table (default 1)")
    parser.set_defaults(_run=run)
    return parser


def _dry_run(spec: Any, args: argparse.Namespace) -> int:
    from .runner import output_path

    path = output_path(spec, args.output)
    points = spec.points()
    done = failed = None
    try:
        from .results import ResultsTable
        table = ResultsTable(path)
        done, failed = table.done_ids, table.failed_ids
    except ImportError:  # pandas missing: the state cannot be read, the plan still shows
        pass
    n_combos = spec.n_points // len(spec.seeds)
    print(f"sweep {spec.name!r}: {spec.function}, {n_combos} configurations x "
          f"{len(spec.seeds)} seeds = {len(points)} points")
    print(f"results: {path}")
    keys = list(spec.grid) + ["seed"]
    print("\t".join(["point_id"] + keys + ["state"]))
    for p in points:
        state = "?"
        if done is not None:
            state = ("done" if p.point_id in done else
                     "failed" if p.point_id in failed else "to run")
        values = [repr(v) for v in p.axes.values()] + [str(p.seed)]
        print("\t".join([p.point_id] + values + [state]))
    return 0


def run(args: argparse.Namespace) -> int:
    """Carry out ``rpu sweep`` with parsed arguments; returns the exit code."""
    from .spec import SweepSpecError, load_spec

    try:
        spec = load_spec(args.spec)
        if args.dry_run:
            return _dry_run(spec, args)
        from .runner import require_dask, run_sweep

        require_dask()
        report = run_sweep(spec, output=args.output, scheduler=args.scheduler,
                           workers=args.workers, retry_failed=args.retry_failed,
                           flush_every=args.flush_every)
    except (SweepSpecError, ImportError, ValueError, RuntimeError) as exc:
        print(f"rpu sweep: error: {exc}", file=sys.stderr)
        return 2
    if report.interrupted:
        return 130
    return 0 if report.complete else 1
