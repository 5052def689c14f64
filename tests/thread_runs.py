"""Runs a script in fresh interpreters with different OMP_NUM_THREADS, for the tests that check
that results do not depend on the OpenMP thread count (the count is fixed when the OpenMP
runtime loads, so each count needs its own process)."""
import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)


def _environment(n_threads):
    """This process's environment with OMP_NUM_THREADS = ``n_threads`` (a string) and this
    checkout and tests/ first on the import path."""
    return dict(os.environ, OMP_NUM_THREADS=n_threads,
                PYTHONPATH=os.pathsep.join(filter(None, [ROOT, TESTS,
                                                         os.environ.get("PYTHONPATH")])))


def outputs_per_thread_count(script, counts=("1", "2"), timeout=120):
    """The stripped standard output of ``python -c script`` for each OMP_NUM_THREADS in
    ``counts``, with this checkout and tests/ first on the import path."""
    outs = []
    for n in counts:
        proc = subprocess.run([sys.executable, "-c", script], env=_environment(n),
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout.strip())
    return outs


def arrays_per_thread_count(script, out_dir, *args, counts=("1", "2"), timeout=300):
    """The arrays ``python -c script PATH *args`` saves with ``np.savez(PATH, ...)``, one dict
    per OMP_NUM_THREADS in ``counts``; the script also saves its effective thread count as
    ``n_threads``, which is checked (one thread, then the requested count or the cores there
    are) and left out of the dicts. Like outputs_per_thread_count, this checkout and tests/
    come first on the import path."""
    import numpy as np

    results = []
    for n in counts:
        path = os.path.join(str(out_dir), f"threads{n}.npz")
        proc = subprocess.run([sys.executable, "-c", script, path, *args],
                              env=_environment(n), capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else int(n)
        assert int(arrays.pop("n_threads")) == min(int(n), cores), f"OMP_NUM_THREADS={n}"
        results.append(arrays)
    return results


def assert_same_arrays(first, second):
    """Two dicts of arrays hold the same names and the same bits under each."""
    import numpy as np

    assert sorted(first) == sorted(second)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
