"""Runs a worker script in aihwkit's own interpreter, for the optional comparison tests.

aihwkit 1.1.0 needs its own torch build, so it never runs in the test process: a test writes a
worker script, passes it a JSON spec and arrays in an ``.npz``, and reads the worker's ``.npz``
back. ``AIHWKIT_PYTHON`` names the interpreter; the tests skip when it is not set.
"""
import json
import os
import subprocess
import tempfile

import numpy as np

AIHWKIT_PYTHON = os.environ.get("AIHWKIT_PYTHON")


def run_worker(source, spec, arrays, *, threads=1, prefix="rpu-aihwkit-", timeout=1200):
    """Run ``source`` as ``python worker.py IN.npz OUT.npz`` in aihwkit's interpreter.

    ``IN.npz`` holds ``spec`` (as JSON, key ``spec``) and ``arrays``; returns the arrays the
    worker saved in ``OUT.npz``. Threads of OpenMP, MKL and OpenBLAS are set to ``threads``.
    """
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        worker = os.path.join(tmp, "worker.py")
        with open(worker, "w") as f:
            f.write(source)
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(in_path, spec=np.array(json.dumps(spec)), **arrays)
        proc = subprocess.run([AIHWKIT_PYTHON, worker, in_path, out_path], env=env,
                              capture_output=True, text=True, timeout=timeout, cwd=tmp)
        if proc.returncode != 0:
            raise RuntimeError(f"aihwkit worker failed (rc={proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}")
        with np.load(out_path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
