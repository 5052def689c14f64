"""Runs a script in fresh interpreters with different OMP_NUM_THREADS, for the tests that check
that results do not depend on the OpenMP thread count (the count is fixed when the OpenMP
runtime loads, so each count needs its own process)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outputs_per_thread_count(script, counts=("1", "2"), timeout=120):
    """The stripped standard output of ``python -c script`` for each OMP_NUM_THREADS in
    ``counts``, with this checkout first on the import path."""
    outs = []
    for n in counts:
        env = dict(os.environ, OMP_NUM_THREADS=n,
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout.strip())
    return outs
