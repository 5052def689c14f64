"""Tiles used from several Python threads at once (README, "Guarantees").

Different tiles share no mutable state (each has its own weights, random key and operation
counter; the RNG is counter-based), so running them concurrently gives bit for bit what running
them one after the other gives. The kernels release the GIL, so the threads really overlap. BLAS's
process-wide thread count, which the core pins to 1 around its OpenMP regions, is restored once
the last thread leaves.
"""
import threading
import time

import numpy as np
import pytest

import rpu
from rpu import _core, _threads
from rpu.config import (InferenceRPUConfig, IOParameters, MappingParameter, SingleRPUConfig,
                        SoftBoundsDevice)


def _makers():
    # Sizes above analog.SMALL_PRODUCT_MACS for a batch of 8, so that the multi-threaded path
    # (OpenMP team, BLAS pinned) is the one that runs.
    return [
        lambda: rpu.AnalogTile(128, 160, SingleRPUConfig(device=SoftBoundsDevice(),
                                                         forward=IOParameters(out_noise=0.05)), seed=1),
        lambda: rpu.FloatingPointTile(160, 128, seed=2),
        lambda: rpu.InferenceTile(96, 200, bias=True, seed=3),
        lambda: rpu.TileArray(64, 150, InferenceRPUConfig(mapping=MappingParameter(max_input_size=64)), seed=4),
    ]


def _work(tile, seed, steps=6):
    """A short training-and-inference session; returns every output, in order."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        x = rng.uniform(-1, 1, size=(8, tile.in_size)).astype(np.float32)
        d = rng.uniform(-1, 1, size=(8, tile.out_size)).astype(np.float32)
        out.append(tile.forward(x))
        out.append(tile.backward(d))
        tile.update(x, d)
    if hasattr(tile, "program_weights"):  # inference tiles: program, drift, evaluate
        tile.program_weights()
        tile.drift_weights(100.0)
        out.append(tile.forward(x, is_test=True))
    out.append(tile.get_weights())
    return out


def _blas_threads():
    return [lib.get_num_threads() for lib in _threads._blas_libraries()]


def test_different_tiles_in_threads_equal_sequential_runs():
    makers = _makers()
    sequential = [_work(make(), seed) for seed, make in enumerate(makers)]
    blas_before = _blas_threads()
    for _ in range(3):  # several rounds: different interleavings
        tiles = [make() for make in makers]
        results = [None] * len(tiles)
        errors = []
        barrier = threading.Barrier(len(tiles))

        def run(k):
            try:
                barrier.wait()
                results[k] = _work(tiles[k], k)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(len(tiles))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for got, want in zip(results, sequential):
            assert len(got) == len(want)
            for a, b in zip(got, want):
                assert a.tobytes() == b.tobytes()
    assert _blas_threads() == blas_before, "BLAS was left pinned after concurrent tiles"


def test_blas_pin_is_shared_and_restored_when_overlapping():
    libs = _threads._blas_libraries()
    if not libs:
        pytest.skip("no BLAS library found by threadpoolctl")
    before = _blas_threads()
    first, second = _threads.blas_single_thread(), _threads.blas_single_thread()
    first.__enter__()
    second.__enter__()
    assert all(n == 1 for n in _blas_threads())
    first.__exit__(None, None, None)  # the other one is still inside: stay pinned
    assert all(n == 1 for n in _blas_threads())
    second.__exit__(None, None, None)
    assert _blas_threads() == before


def _largest_gap_during(call):
    """Run ``call`` in a thread while this thread loops taking time stamps; return the longest
    stretch, within the call, in which this thread could not run, and the call's duration."""
    span = {}

    def worker():
        span["start"] = time.perf_counter()
        call()
        span["end"] = time.perf_counter()

    stamps = []
    t = threading.Thread(target=worker)
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    inside = [span["start"]] + [s for s in stamps if span["start"] < s < span["end"]] + [span["end"]]
    return float(np.max(np.diff(inside))), span["end"] - span["start"]


def test_kernels_release_the_gil():
    """While one thread is inside a single long kernel call, another keeps running Python.

    A call that held the GIL would stop this thread for (nearly) its whole duration; at most
    one switch interval on either side of it could this thread still run. (Checked by hand:
    ``sorted`` of a long list or ``math.factorial`` give gaps of 55-90 % of their duration.)
    A kernel inside ``with nogil`` leaves only scheduling gaps; three tries absorb a busy
    machine descheduling this thread once.
    """
    out = np.empty((1, 1 << 23), dtype=np.float64)
    results = []
    for attempt in range(3):
        # one call of uniform_fill on one thread, all of it inside `with nogil`
        gap, duration = _largest_gap_during(lambda: _core.uniform_fill(out, 12345, attempt, 0, 0, 1))
        results.append((gap, duration))
        if gap < 0.4 * duration:
            return
    pytest.fail(f"the main thread was blocked for most of the kernel call: (gap, duration) = {results}")


def test_ctrl_c_stops_a_training_loop_between_batches():
    """Each tile call returns to Python after its batch, so Ctrl-C (SIGINT) stops a loop of
    calls at the next batch boundary (the kernels do not block the signal for longer)."""
    import os
    import signal
    import subprocess
    import sys

    code = (
        "import numpy as np, rpu, sys\n"
        "from rpu.config import SingleRPUConfig, SoftBoundsDevice\n"
        "tile = rpu.AnalogTile(256, 256, SingleRPUConfig(device=SoftBoundsDevice()), seed=1)\n"
        "x = np.random.default_rng(0).uniform(-1, 1, (64, 256)).astype(np.float32)\n"
        "d = np.random.default_rng(1).uniform(-1, 1, (64, 256)).astype(np.float32)\n"
        "tile.update(x, d); print('ready', flush=True)\n"
        "while True:\n"
        "    tile.forward(x); tile.backward(d); tile.update(x, d)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err[-2000:]
