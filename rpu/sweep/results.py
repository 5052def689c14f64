"""The results table and the failures table of a sweep, written atomically.

The results table holds one row per finished point: ``point_id``, one column per grid key,
``seed``, the metrics the experiment returned, ``elapsed_s`` and ``worker``. It is CSV, or
Parquet when the path ends in ``.parquet`` / ``.pq`` (needs pyarrow or fastparquet). The
failures table (``<results stem>.failures.csv`` next to it) holds one row per failed point with
the error and its full traceback.

Both tables are rewritten whole into a temporary file in the same folder, which then replaces the
old one (``os.replace``, atomic on POSIX and Windows): a sweep stopped at any moment leaves either
the previous or the new table, never a torn one. Rows are buffered and flushed at most every
``flush_every`` seconds, so a long sweep does not rewrite the table for every point.
"""

import math
import os
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Set

from rpu._files import move_into_place, replace_target

__all__ = ["ResultsTable", "failures_path", "table_format"]

_PARQUET = (".parquet", ".pq")


def table_format(path: str) -> str:
    """``"csv"`` or ``"parquet"`` from the file name; ValueError for anything else."""
    low = path.lower()
    if low.endswith(".csv"):
        return "csv"
    if low.endswith(_PARQUET):
        return "parquet"
    raise ValueError(f"output = {path!r}: expected a file name ending in .csv, .parquet or .pq")


def failures_path(path: str) -> str:
    """The failures table that belongs to the results table ``path``."""
    root, ext = os.path.splitext(path)
    if ext.lower() not in (".csv",) + _PARQUET:
        root = path
    return root + ".failures.csv"


def _check_parquet() -> None:
    import importlib.util

    if not any(importlib.util.find_spec(name) for name in ("pyarrow", "fastparquet")):
        raise ImportError(
            "a .parquet results table needs pyarrow (pip install \"rpu[hpc]\" or pip install "
            "pyarrow); or give an output path ending in .csv"
        )


def _read(path: str, fmt: str) -> Any:
    import pandas as pd

    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype={"point_id": str})
        return pd.read_parquet(path)
    except Exception as exc:  # never overwrite a table that cannot be read back
        raise RuntimeError(
            f"the existing table {path!r} cannot be read ({type(exc).__name__}: {exc}); move it "
            "away or choose another output path (it is left untouched)"
        ) from None


def _write_atomic(frame: Any, path: str, fmt: str) -> None:
    os.makedirs(os.path.dirname(os.path.realpath(path)), exist_ok=True)
    target, existing = replace_target(path, f"cannot write the table {path!r}")
    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(target), dir=folder)
    os.close(fd)
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        with open(tmp, "rb+") as fh:  # the data must be on disk before the rename makes it live
            os.fsync(fh.fileno())
        move_into_place(tmp, target, existing)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ResultsTable:
    """The results and failures tables of one sweep, loaded from disk and appended to.

    Parameters
    ----------
    path : str
        The results table (``.csv``, ``.parquet`` or ``.pq``).
    flush_every : float, default 1.0
        Seconds between rewrites of the tables while rows arrive (0: after every row).
        :meth:`flush` writes whatever is buffered at once.

    Attributes
    ----------
    done_ids, failed_ids : set of str
        Point ids with a row in the results / failures table.
    """

    def __init__(self, path: str, flush_every: float = 1.0):
        import pandas as pd

        self.path = os.path.abspath(path)
        self.format = table_format(self.path)
        if self.format == "parquet":
            _check_parquet()
        self.failures_path = failures_path(self.path)
        self.flush_every = float(flush_every)
        self._pd = pd
        self._results = _read(self.path, self.format) if os.path.exists(self.path) else None
        self._failures = (_read(self.failures_path, "csv")
                          if os.path.exists(self.failures_path) else None)
        self._new_rows: List[Dict[str, Any]] = []
        self._new_failures: List[Dict[str, Any]] = []
        self._cleared: Set[str] = set()
        self._last_flush = -math.inf  # the first row is written at once
        self.done_ids: Set[str] = self._ids(self._results)
        self.failed_ids: Set[str] = self._ids(self._failures)

    @staticmethod
    def _ids(frame: Any) -> Set[str]:
        if frame is None or "point_id" not in frame.columns:
            return set()
        return set(frame["point_id"].astype(str))

    def add_result(self, row: Dict[str, Any]) -> None:
        """Buffer one finished point's row (and drop an earlier failure of the same point)."""
        pid = str(row["point_id"])
        self._new_rows.append(row)
        self.done_ids.add(pid)
        if pid in self.failed_ids:
            self.failed_ids.discard(pid)
            self._cleared.add(pid)
        self._maybe_flush()

    def add_failure(self, row: Dict[str, Any]) -> None:
        """Buffer one failed point's row (error, traceback); it replaces an earlier failure."""
        pid = str(row["point_id"])
        self._new_failures.append(row)
        if pid in self.failed_ids:
            self._cleared.add(pid)
        self.failed_ids.add(pid)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows now (atomically; nothing is written when nothing is new)."""
        pd = self._pd
        if self._new_rows:
            new = pd.DataFrame(self._new_rows)
            frame = new if self._results is None else pd.concat(
                [self._results, new], ignore_index=True, sort=False)
            _write_atomic(frame, self.path, self.format)
            self._results, self._new_rows = frame, []
        if self._new_failures or self._cleared:
            frame = self._failures
            if frame is not None and self._cleared:
                frame = frame[~frame["point_id"].astype(str).isin(self._cleared)]
            if self._new_failures:
                new = pd.DataFrame(self._new_failures)
                # a point retried and failed again keeps only its newest failure
                new = new.drop_duplicates("point_id", keep="last")
                frame = new if frame is None else pd.concat([frame, new], ignore_index=True,
                                                            sort=False)
            frame = frame.reset_index(drop=True)
            _write_atomic(frame, self.failures_path, "csv")
            self._failures, self._new_failures, self._cleared = frame, [], set()
        self._last_flush = time.monotonic()

    def results(self) -> Optional[Any]:
        """The results table as a pandas DataFrame (None if empty), buffered rows included."""
        self.flush()
        return self._results

    def failures(self) -> Optional[Any]:
        """The failures table as a pandas DataFrame (None if empty), buffered rows included."""
        self.flush()
        return self._failures

    def failures_for(self, ids: Iterable[str]) -> List[Dict[str, Any]]:
        """The failures table's rows whose point ids are in ``ids``."""
        frame = self.failures()
        if frame is None:
            return []
        ids = set(ids)
        return [r for r in frame.to_dict("records") if str(r["point_id"]) in ids]
