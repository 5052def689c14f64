"""What the CPU benchmarks against aihwkit (bench_mvm, bench_update, bench_compounds) share: the
table cell formats, the machine description and thread pools in their JSON "meta", the common
command-line options, the best-of-rounds rule, and the end of their main() (errors, JSON file).

Importing this module loads no NumPy: the benchmarks set OMP_NUM_THREADS & co. to 2 before NumPy
is imported, and that must stay in effect whichever module is imported first.
"""

import json
import os
import platform

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
AIHWKIT_MISSING = "not available (set AIHWKIT_PYTHON or --aihwkit-python)"


def _is_number(v):
    return isinstance(v, (int, float))


def fmt_time(v):
    """Seconds as a 9-wide milliseconds cell; '-' for a missing time or an error string."""
    if _is_number(v):
        return f"{v * 1e3:9.3f}"
    return f"{'-':>9s}"


def fmt_ratio(a, b):
    """a / b as an 8-wide cell; '-' unless both are numbers and b > 0."""
    if _is_number(a) and _is_number(b) and b > 0:
        return f"{a / b:8.2f}"
    return f"{'-':>8s}"


def ratio(a, b):
    """a / b for the JSON; None unless both are numbers and b > 0."""
    if _is_number(a) and _is_number(b) and b > 0:
        return a / b
    return None


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (platform.processor() where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def threadpools():
    """The BLAS and OpenMP thread pools loaded in this process (empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "filepath")}
            for p in threadpool_info()]


def machine_meta():
    """The machine part of a benchmark's "meta": thread variables, NumPy and Python versions,
    machine, CPU model and count (in this order, after the benchmark's own settings)."""
    import numpy as np

    return {
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


_REPEATS_HELP = "timed calls per measurement (median)"
_MAX_SECONDS_HELP = "stop timing one measurement after this long (at least 3 calls)"


def add_common_args(ap, repeats, max_seconds, rounds, repeats_help=_REPEATS_HELP,
                    max_seconds_help=_MAX_SECONDS_HELP):
    """Adds --repeats, --max-seconds, --rounds, --json and --aihwkit-python (in this order) to the
    parser `ap`, with this benchmark's defaults and, where they differ, its help texts."""
    ap.add_argument("--repeats", type=int, default=repeats, help=repeats_help)
    ap.add_argument("--max-seconds", type=float, default=max_seconds, help=max_seconds_help)
    ap.add_argument("--rounds", type=int, default=rounds,
                    help="measure everything this many times, keep the best median "
                         f"(default {rounds})")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--aihwkit-python", metavar="PATH", default=os.environ.get("AIHWKIT_PYTHON"),
                    help="interpreter with aihwkit installed (default: $AIHWKIT_PYTHON)")


def check_sides(meta, aihwkit_python):
    """(rpu error, aihwkit error), None where that side can run; records rpu's version in
    meta["rpu"] when rpu imports."""
    rpu_error, aih_error = None, None
    try:
        import rpu

        meta["rpu"] = getattr(rpu, "__version__", "?")
    except Exception as exc:
        rpu_error = f"{type(exc).__name__}: {exc}"
    if not aihwkit_python:
        aih_error = AIHWKIT_MISSING
    return rpu_error, aih_error


def keep_min(store, key, value):
    """Best of rounds: keeps the smallest time under `key`; an error message only while no time
    came."""
    old = store.get(key)
    if isinstance(value, str):  # an error message: keep it unless a time came
        store.setdefault(key, value)
    elif not _is_number(old) or value < old:
        store[key] = value


def print_versions(meta, rpu_error, aih_error, aihwkit_note):
    """The 'rpu: ...' and 'aihwkit: ...' lines under a table's title; `aihwkit_note` follows
    aihwkit's thread count."""
    print(f"rpu: {meta.get('rpu', 'not importable: ' + str(rpu_error))}")
    if aih_error:
        print(f"aihwkit: {aih_error}")
    else:
        info = meta["aihwkit"]
        print(f"aihwkit: {info['aihwkit']} (torch {info['torch']}, {info['torch_threads']} "
              f"threads){aihwkit_note}")


def finish(errors, json_path, meta, rpu_error, aih_error, results):
    """The end of a benchmark's main(): prints the errors, then writes the JSON file (when
    `json_path` is set) and says so."""
    for e in errors:
        print("error:", e)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "rpu_error": rpu_error, "aihwkit_error": aih_error,
                       "results": results}, f, indent=1)
        print(f"wrote {json_path}")
