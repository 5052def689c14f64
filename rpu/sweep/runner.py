"""Run a sweep on Dask: cluster set-up, the per-point task, progress, resume.

:func:`run_sweep` expands the spec into points, drops those that the results table already holds
(and, unless ``retry_failed``, those that the failures table holds), submits the rest to a Dask
cluster and writes each result as it arrives. :func:`run_point` is the task a worker runs: it
builds the point's configuration, calls the experiment function and returns either its metrics
or the error with its traceback; it never raises, so one bad point cannot stop the sweep. A
point whose worker dies (Dask's ``KilledWorker``) is recorded as failed in the same way.

Dask is imported only inside these functions, so ``import rpu.sweep`` works without it.
"""

import dataclasses
import math
import numbers
import os
import socket
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, TextIO, Tuple, Union

from .overrides import apply_overrides, make_base_config
from .results import ResultsTable
from .spec import (
    CLUSTER_KINDS,
    SweepPoint,
    SweepSpec,
    SweepSpecError,
    load_function,
    load_spec,
    point_summary,
)

__all__ = ["run_sweep", "run_point", "SweepReport", "make_cluster", "require_dask", "plan",
           "output_path", "HPC_HINT"]

HPC_HINT = 'pip install "rpu[hpc]"'
_RESERVED = ("point_id", "seed", "elapsed_s", "worker")


def require_dask() -> None:
    """Import dask.distributed and pandas, or raise ImportError that says how to install them."""
    for module, why in (("dask.distributed", "runs on Dask"), ("pandas", "writes its tables "
                                                                         "with pandas")):
        try:
            __import__(module)
        except ImportError as exc:
            raise ImportError(
                f"rpu sweep {why}, which is not installed ({exc}); install the optional extra "
                f"with: {HPC_HINT}"
            ) from None


# --------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------


def _scalar(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # NumPy scalar / 0-d
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(
        f"metric {name!r} is a {type(value).__name__}: the experiment function must return a "
        "dict of scalars (numbers, bools, strings or None)"
    )


def _check_metrics(out: Any, axes: Dict[str, Any]) -> Dict[str, Any]:
    if not isinstance(out, dict):
        raise TypeError(
            f"the experiment function returned a {type(out).__name__}: expected a dict of "
            "scalar metrics such as {'mse': 0.01}"
        )
    metrics = {}
    for key, value in out.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metric name {key!r}: expected a non-empty string")
        if key in _RESERVED or key in axes:
            raise ValueError(f"metric name {key!r} is also a column of the results table "
                             f"(reserved: {', '.join(_RESERVED)} and the grid keys)")
        metrics[key] = _scalar(key, value)
    return metrics


def run_point(point: Dict[str, Any]) -> Dict[str, Any]:
    """Run one point (on a worker) and return its outcome; never raises.

    Parameters
    ----------
    point : dict
        :meth:`SweepPoint.to_dict`.

    Returns
    -------
    dict
        ``point_id``, ``ok``, ``elapsed_s`` (wall seconds of the call), ``worker``
        (``host:pid``), and either ``metrics`` (a dict of scalars) or ``error`` (``Type:
        message``) and ``traceback`` (the full text).
    """
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    outcome: Dict[str, Any] = {"point_id": point["point_id"], "worker": worker}
    try:
        fn = load_function(point["function"], point["base_dir"])
        config = apply_overrides(make_base_config(point["base"]), point["overrides"])
        out = fn(config=config, seed=point["seed"], **point["params"])
        outcome["metrics"] = _check_metrics(out, point["axes"])
        outcome["ok"] = True
    except (Exception, SystemExit) as exc:  # the point fails, the sweep goes on
        outcome["ok"] = False
        outcome["error"] = f"{type(exc).__name__}: {exc}"
        outcome["traceback"] = traceback.format_exc()
    outcome["elapsed_s"] = time.perf_counter() - start
    return outcome


# --------------------------------------------------------------------------------------------
# clusters
# --------------------------------------------------------------------------------------------


def make_cluster(cluster: Dict[str, Any], workers: Optional[int] = None) -> Any:
    """Build (but do not scale) the cluster that a ``[cluster]`` table describes.

    Parameters
    ----------
    cluster : dict
        ``kind = "local"`` (default): a ``dask.distributed.LocalCluster`` of ``workers``
        processes (default: the CPU count) with ``threads_per_worker`` threads (default 1) and
        an optional ``memory_limit``. ``kind = "slurm" | "pbs" | "sge" | "lsf" | "htcondor"``:
        the dask-jobqueue cluster class of that name, given every other key of the table
        (``cores``, ``memory``, ``queue``, ``account``, ``walltime``, ``job_extra_directives``,
        ...; ``jobs`` is used by :func:`run_sweep` to scale it).
    workers : int, optional
        Overrides ``workers`` of a local cluster.

    Returns
    -------
    dask.distributed.LocalCluster or dask_jobqueue.JobQueueCluster
    """
    kind = cluster.get("kind", "local")
    if kind == "local":
        from dask.distributed import LocalCluster

        from rpu._threads import cpu_count

        n = workers or cluster.get("workers") or cpu_count()
        kwargs: Dict[str, Any] = dict(
            n_workers=n, threads_per_worker=cluster.get("threads_per_worker", 1),
            processes=True, dashboard_address="127.0.0.1:0",
        )
        if "memory_limit" in cluster:
            kwargs["memory_limit"] = cluster["memory_limit"]
        return LocalCluster(**kwargs)
    try:
        import dask_jobqueue
    except ImportError:
        raise ImportError(
            f"[cluster] kind = {kind!r} needs dask-jobqueue, which is not installed; {HPC_HINT}"
        ) from None
    cls = getattr(dask_jobqueue, CLUSTER_KINDS[kind])
    kwargs = {k: v for k, v in cluster.items() if k not in ("kind", "jobs")}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SweepSpecError(
            f"[cluster] kind = {kind!r}: dask_jobqueue.{cls.__name__} refused the keys "
            f"{', '.join(sorted(kwargs)) or '(none)'}: {exc}"
        ) from None


# --------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Progress:
    """One status line on ``stream``: redrawn in place on a terminal, else printed every few
    seconds (and at the end), so logs of batch jobs stay short."""

    def __init__(self, stream: Optional[TextIO], total: int, every: float = 5.0):
        self.stream = stream
        self.total = total
        self.start = time.monotonic()
        self.every = every
        self.last = -math.inf
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.drawn = False
        self.width = 0

    def line(self, done: int, failed: int) -> str:
        left = self.total - done - failed
        return (f"rpu sweep: {done + failed}/{self.total} finished ({done} done, {failed} "
                f"failed), {left} to go, {_clock(time.monotonic() - self.start)} elapsed")

    def update(self, done: int, failed: int, final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if self.tty:
            text = self.line(done, failed)
            self.width = max(self.width, len(text))  # pad over a longer previous line
            self.stream.write("\r" + text.ljust(self.width) + ("\n" if final else ""))
            self.drawn = not final
        elif final or now - self.last >= self.every:
            self.stream.write(self.line(done, failed) + "\n")
            self.last = now
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.stream is None:
            return
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SweepReport:
    """What a call of :func:`run_sweep` did.

    Attributes
    ----------
    total : int
        Points in the grid.
    skipped_done, skipped_failed : int
        Points not run because the results table already held them, or the failures table did
        (and ``retry_failed`` was off).
    done, failed : int
        Points run now that finished / failed.
    failures : list of dict
        The failures of this run: ``point_id``, ``error``, ``traceback``, the grid values, ...
    output, failures_path : str
        The two tables.
    interrupted : bool
        The run was stopped (KeyboardInterrupt) before every point finished; what finished is
        saved, and running again resumes.
    """

    total: int
    skipped_done: int = 0
    skipped_failed: int = 0
    done: int = 0
    failed: int = 0
    failures: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    output: str = ""
    failures_path: str = ""
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Every point of the grid has a row in the results table."""
        return self.skipped_done + self.done == self.total


def plan(spec: SweepSpec, table: ResultsTable, retry_failed: bool
         ) -> Tuple[List[SweepPoint], int, int]:
    """Split the spec's points into those to run and the numbers skipped (done, failed)."""
    todo, skipped_done, skipped_failed = [], 0, 0
    for point in spec.points():
        if point.point_id in table.done_ids:
            skipped_done += 1
        elif point.point_id in table.failed_ids and not retry_failed:
            skipped_failed += 1
        else:
            todo.append(point)
    return todo, skipped_done, skipped_failed


def output_path(spec: SweepSpec, output: Optional[str] = None) -> str:
    """The results table's path: ``output``, else the file's ``sweep.output``, else the default."""
    return os.path.abspath(output or spec.output or spec.default_output())


def run_sweep(
    spec: Union[SweepSpec, str, "os.PathLike[str]"],
    *,
    output: Optional[str] = None,
    scheduler: Optional[str] = None,
    workers: Optional[int] = None,
    retry_failed: bool = False,
    flush_every: float = 1.0,
    progress: Union[bool, TextIO, None] = True,
) -> SweepReport:
    """Run every point of a sweep that is not finished yet, on Dask, and save the results.

    Parameters
    ----------
    spec : SweepSpec, str or path-like
        A checked spec, or the path of a sweep file.
    output : str, optional
        The results table (``.csv``, ``.parquet``); default: ``sweep.output`` of the file, else
        ``<file stem>.results.csv`` next to it. Failures go to ``<stem>.failures.csv``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); the ``[cluster]`` table is
        then ignored.
    workers : int, optional
        Workers of the local cluster, or jobs of a job-queue cluster (overrides the file).
    retry_failed : bool, default False
        Run the points of the failures table again (by default they are skipped).
    flush_every : float, default 1.0
        Seconds between rewrites of the tables while results arrive.
    progress : bool or text stream, default True
        Where the progress line, the failures' tracebacks and the summary go: True for
        ``sys.stderr`` (as it is at the call), a stream, or False / None for nowhere.

    Returns
    -------
    SweepReport

    Raises
    ------
    SweepSpecError
        A bad sweep file.
    ImportError
        Dask (or pandas, or dask-jobqueue for a job queue) is not installed.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers = {workers!r} is not allowed: expected an integer >= 1")
    require_dask()
    from dask.distributed import Client, as_completed

    table = ResultsTable(output_path(spec, output), flush_every=flush_every)
    todo, skipped_done, skipped_failed = plan(spec, table, retry_failed)
    report = SweepReport(total=spec.n_points, skipped_done=skipped_done,
                         skipped_failed=skipped_failed, output=table.path,
                         failures_path=table.failures_path)
    stream = sys.stderr if progress is True else (progress or None)
    bar = _Progress(stream, len(todo))
    head = f"rpu sweep {spec.name!r}: {spec.n_points} points"
    if skipped_done or skipped_failed:
        head += f"; {skipped_done} done earlier"
        if skipped_failed:
            head += (f", {skipped_failed} failed earlier (skipped; --retry-failed runs them "
                     "again)")
    head += f"; {len(todo)} to run"
    bar.message(head)
    if not todo:
        _summary(bar, report, table)
        return report

    if scheduler and workers:
        bar.message(f"rpu sweep: workers = {workers} is ignored: the cluster behind "
                    f"{scheduler} has its own")
    cluster = None
    client = None
    futures: Dict[Any, SweepPoint] = {}
    try:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = make_cluster(spec.cluster, workers if spec.cluster["kind"] == "local"
                                   else None)
            if spec.cluster["kind"] != "local":
                cluster.scale(jobs=workers or spec.cluster.get("jobs", 1))
            client = Client(cluster)
        link = getattr(client, "dashboard_link", None)
        bar.message(f"rpu sweep: scheduler {client.scheduler.address}"
                    + (f", dashboard {link}" if link else ""))
        for point in todo:
            fut = client.submit(run_point, point.to_dict(), pure=False)
            futures[fut] = point
        bar.update(0, 0)
        for fut in as_completed(list(futures)):
            point = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # the worker died, the task was lost, ...
                outcome = {"point_id": point.point_id, "ok": False, "worker": "",
                           "error": f"{type(exc).__name__}: {exc}", "elapsed_s": float("nan"),
                           "traceback": "".join(traceback.format_exception(exc))}
            fut.release()
            _record(point, outcome, table, report, bar)
            bar.update(report.done, report.failed)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        for fut in futures:
            fut.cancel()
        table.flush()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    bar.update(report.done, report.failed, final=True)
    _summary(bar, report, table)
    return report


def _record(point: SweepPoint, outcome: Dict[str, Any], table: ResultsTable,
            report: SweepReport, bar: _Progress) -> None:
    row = point.columns()
    if outcome["ok"]:
        row.update(outcome["metrics"])
        row["elapsed_s"] = outcome["elapsed_s"]
        row["worker"] = outcome["worker"]
        table.add_result(row)
        report.done += 1
        return
    row.update(error=outcome["error"], traceback=outcome["traceback"],
               elapsed_s=outcome["elapsed_s"], worker=outcome["worker"])
    table.add_failure(row)
    report.failed += 1
    report.failures.append(row)
    bar.message(f"rpu sweep: point {point_summary(point)} failed on {outcome['worker'] or '?'}:"
                f"\n{outcome['traceback']}")


def _summary(bar: _Progress, report: SweepReport, table: ResultsTable) -> None:
    results = table.results()
    n_rows = 0 if results is None else len(results)
    text = f"rpu sweep: {report.done} points done"
    if report.failed:
        text += f", {report.failed} failed (tracebacks above and in {table.failures_path})"
    text += f"; results: {table.path} ({n_rows} rows)"
    if report.interrupted:
        text += "; interrupted: run the same command again to resume"
    elif not report.complete:
        missing = report.total - report.skipped_done - report.done
        text += f"; {missing} of {report.total} points have no result"
    bar.message(text)
