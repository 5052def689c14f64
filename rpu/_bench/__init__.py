"""Benchmark support shared by ``rpu bench`` and the scripts in ``benchmarks/``: the timing rule
(``_timing``) and the script that runs aihwkit in its own interpreter (``_aihwkit_worker``,
never imported here: it is executed as ``$AIHWKIT_PYTHON _aihwkit_worker.py MODE IN OUT``)."""
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: The aihwkit worker script (run under aihwkit's interpreter, not imported).
WORKER = Path(__file__).resolve().parent / "_aihwkit_worker.py"


def run_aihwkit_worker(python, mode, spec, arrays, threads=2, timeout=900, live_stderr=False):
    """Run the worker in ``mode`` under aihwkit's interpreter ``python`` with ``threads`` threads
    (environment and ``torch.set_num_threads``); returns the arrays it wrote. With
    ``live_stderr`` the worker's progress lines go straight to our stderr."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    spec = dict(spec, threads=threads)
    with tempfile.TemporaryDirectory(prefix="rpu-aihwkit-") as tmp:
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(in_path, spec=np.array(json.dumps(spec)), **arrays)
        proc = subprocess.run(
            [python, str(WORKER), mode, in_path, out_path],
            env=env, stdout=subprocess.PIPE, stderr=None if live_stderr else subprocess.PIPE,
            text=True, timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"aihwkit worker failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr or ''}"
            )
        with np.load(out_path, allow_pickle=False) as res:
            return {k: res[k] for k in res.files}
