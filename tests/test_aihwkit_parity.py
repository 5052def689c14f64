"""Statistical parity of rpu's analog forward/backward with IBM aihwkit 1.1.0 (CPU).

Skipped unless ``AIHWKIT_PYTHON`` names an interpreter with aihwkit installed (see
benchmarks/README.md; ``bash ../shared/anchors/install-aihwkit.sh`` builds one). aihwkit runs in a
subprocess (rpu/_bench/_aihwkit_worker.py); torch and aihwkit are never imported here.

aihwkit's random numbers cannot be seeded (libc ``rand()`` seeded from the clock, Gaussians from a
fixed table), so the two simulators are compared in distribution only: on the same weights and
inputs, the forward residual ``y - x W^T`` and the backward residual ``dx - d W`` (each against the
weights the tile actually holds, since ConstantStepDevice clips them to per-device bounds that are
drawn at random) must have the same standard deviation within 10 % and the same mean within a small
bound. With ~250k residual entries per case the sampling error of either figure is far below that.

Cases (ConstantStepDevice SingleRPUConfig, IOParameters defaults unless named):
- ``default``: noise management ABS_MAX, bound management ITERATIVE, no output ever near out_bound;
  the residual is output noise (0.06) plus DAC/ADC quantisation.
- ``inputs_x10``: the same with inputs scaled by 10 (noise management must scale the noise with it).
- ``quantisation_only``: out_noise = 0, so the residual is DAC (inp_res) and ADC (out_res)
  quantisation alone, deterministic given the weights: a sharp check of the resolutions that the
  output noise hides in ``default``.
- ``nm_none_inputs_x10``: noise management NONE with inputs scaled by 10: the DAC clips the inputs at
  inp_bound = 1, so the residual is dominated by the lost input beyond the bound.
- ``bm_iterative_overflow``: weights and inputs chosen so that ~40 % of the samples have some ideal
  output beyond out_bound = 12; iterative bound management recomputes them with halved inputs, so
  their noise doubles. In the backward pass aihwkit ignores bound management (documented in its
  IOParameters.bound_management: "only available for the forward pass"), so there the outputs are
  clipped at the bound as in the next case.
- ``bm_none_overflow``: the same data with bound management NONE: the outputs are clipped at the
  bound, which shows in both the mean and the spread of the residual.
"""

import json
import os
import subprocess
import sys
import tempfile
from enum import Enum
from pathlib import Path

import numpy as np
import pytest

AIHWKIT_PYTHON = os.environ.get("AIHWKIT_PYTHON")
from rpu._bench import WORKER

pytestmark = pytest.mark.skipif(
    not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit reference not available)"
)

BATCH = 2000
STD_RTOL = 0.10  # the two residual standard deviations must agree within 10 %
MEAN_ATOL_REL = 0.02  # mean residuals: within 2 % of the std, plus the sampling error (below)
MEAN_NSIGMA = 6.0


def _overflow_inputs(batch, n, rng):
    """Non-negative inputs with max ~1 whose mean varies per sample (x = u ** p, p in [0.5, 2])."""
    p = rng.uniform(0.5, 2.0, (batch, 1))
    return (rng.uniform(0.0, 1.0, (batch, n)) ** p).astype(np.float32)


def _overflow_weights(out_size, in_size, rng):
    """Positive weights around 24/n, so that n * mean(w) * mean(x)/max(x) straddles 12."""
    m = 24.0 / in_size
    assert out_size == in_size  # the same weights overflow both directions
    return (m + rng.uniform(-m / 2, m / 2, (out_size, in_size))).astype(np.float32)


def _make_cases():
    rng = np.random.default_rng(20261123)
    arrays, cases = {}, {}

    out_size, in_size = 128, 256
    arrays["W_plain"] = rng.uniform(-0.3, 0.3, (out_size, in_size)).astype(np.float32)
    arrays["x_plain"] = rng.uniform(-1.0, 1.0, (BATCH, in_size)).astype(np.float32)
    arrays["d_plain"] = rng.uniform(-1.0, 1.0, (BATCH, out_size)).astype(np.float32)
    arrays["x_x10"] = arrays["x_plain"] * np.float32(10.0)
    arrays["d_x10"] = arrays["d_plain"] * np.float32(10.0)
    cases["default"] = dict(W="W_plain", x="x_plain", d="d_plain", io={})
    cases["inputs_x10"] = dict(W="W_plain", x="x_x10", d="d_x10", io={})
    cases["quantisation_only"] = dict(W="W_plain", x="x_plain", d="d_plain", io={"out_noise": 0.0})
    cases["nm_none_inputs_x10"] = dict(
        W="W_plain", x="x_x10", d="d_x10", io={"noise_management": "NONE"}
    )

    n = 256
    arrays["W_ovf"] = _overflow_weights(n, n, rng)
    arrays["x_ovf"] = _overflow_inputs(BATCH, n, rng)
    arrays["d_ovf"] = _overflow_inputs(BATCH, n, rng)
    cases["bm_iterative_overflow"] = dict(
        W="W_ovf", x="x_ovf", d="d_ovf", io={"bound_management": "ITERATIVE"}
    )
    cases["bm_none_overflow"] = dict(
        W="W_ovf", x="x_ovf", d="d_ovf", io={"bound_management": "NONE"}
    )
    return arrays, cases


ARRAYS, CASES = _make_cases()


def _overflow_share(W, x):
    """Share of samples with some ideal output beyond out_bound after ABS_MAX noise management."""
    y = (x.astype(np.float64) @ W.T.astype(np.float64)) / np.abs(x).max(axis=1, keepdims=True)
    return float(np.mean(np.abs(y).max(axis=1) > 12.0))


def run_aihwkit(spec, arrays):
    """Runs the worker in aihwkit's interpreter; returns its output arrays and info."""
    env = dict(os.environ)
    threads = str(spec.get("threads", 2))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = threads
    with tempfile.TemporaryDirectory(prefix="rpu-aihwkit-") as tmp:
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(in_path, spec=np.array(json.dumps(spec)), **arrays)
        proc = subprocess.run(
            [AIHWKIT_PYTHON, str(WORKER), "run", in_path, out_path],
            env=env, capture_output=True, text=True, timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"aihwkit worker failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        with np.load(out_path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def _residual_stats(W, inp, out, direction):
    W = W.astype(np.float64)
    inp = inp.astype(np.float64)
    ideal = inp @ W.T if direction == "forward" else inp @ W
    r = out.astype(np.float64) - ideal
    return {"std": float(r.std()), "mean": float(r.mean()), "n": int(r.size)}


@pytest.fixture(scope="module")
def aihwkit_stats():
    jobs = [
        dict(name=name, config="single", forward=c["io"], backward=c["io"], W=c["W"], x=c["x"],
             d=c["d"])
        for name, c in CASES.items()
    ]
    out = run_aihwkit({"threads": 2, "jobs": jobs}, ARRAYS)
    stats = {}
    for name, c in CASES.items():
        W = out[f"{name}_W"]
        stats[name, "forward"] = _residual_stats(W, ARRAYS[c["x"]], out[f"{name}_y"], "forward")
        stats[name, "backward"] = _residual_stats(W, ARRAYS[c["d"]], out[f"{name}_dx"], "backward")
        stats[name, "raw"] = (W, out[f"{name}_y"], out[f"{name}_dx"])
    stats["info"] = json.loads(str(out["info"]))
    return stats


def _rpu_config(io, device="ConstantStepDevice"):
    from rpu import config as rc

    cfg = rc.SingleRPUConfig(device=getattr(rc, device)())
    for io_params in (cfg.forward, cfg.backward):
        for key, value in io.items():
            current = getattr(io_params, key)  # AttributeError names a missing field
            if isinstance(current, Enum) and isinstance(value, str):
                value = type(current)[value]
            setattr(io_params, key, value)
    return cfg


@pytest.fixture(scope="module")
def rpu_stats():
    import rpu

    stats = {}
    for i, (name, c) in enumerate(CASES.items()):
        W = ARRAYS[c["W"]]
        tile = rpu.AnalogTile(W.shape[0], W.shape[1], rpu_config=_rpu_config(c["io"]),
                              dtype=np.float32, seed=1000 + i)
        tile.set_weights(W)
        W_held = np.asarray(tile.get_weights())
        x, d = ARRAYS[c["x"]], ARRAYS[c["d"]]
        y, dx = np.asarray(tile.forward(x)), np.asarray(tile.backward(d))
        stats[name, "forward"] = _residual_stats(W_held, x, y, "forward")
        stats[name, "backward"] = _residual_stats(W_held, d, dx, "backward")
        stats[name, "raw"] = (W_held, y, dx)
    return stats


PARAMS = [(name, direction) for name in CASES for direction in ("forward", "backward")]


def test_overflow_data_overflows():
    """The overflow cases really overflow for a good share of the samples (in both directions)."""
    W = ARRAYS["W_ovf"].astype(np.float64)
    assert 0.25 < _overflow_share(W, ARRAYS["x_ovf"]) < 0.6
    assert 0.25 < _overflow_share(W.T, ARRAYS["d_ovf"]) < 0.6
    assert _overflow_share(ARRAYS["W_plain"], ARRAYS["x_plain"]) == 0.0


@pytest.mark.parametrize("name,direction", PARAMS)
def test_residual_std_matches_aihwkit(name, direction, aihwkit_stats, rpu_stats):
    a, r = aihwkit_stats[name, direction], rpu_stats[name, direction]
    print(f"{name} {direction}: residual std aihwkit {a['std']:.5g} rpu {r['std']:.5g}")
    assert a["std"] > 0
    assert abs(r["std"] / a["std"] - 1.0) <= STD_RTOL, (
        f"{name} {direction}: residual std rpu {r['std']:.5g} vs aihwkit {a['std']:.5g} "
        f"(ratio {r['std'] / a['std']:.4f}, allowed 1 +- {STD_RTOL})"
    )


@pytest.mark.parametrize("name,direction", PARAMS)
def test_residual_mean_matches_aihwkit(name, direction, aihwkit_stats, rpu_stats):
    a, r = aihwkit_stats[name, direction], rpu_stats[name, direction]
    print(f"{name} {direction}: residual mean aihwkit {a['mean']:.4g} rpu {r['mean']:.4g}")
    sampling = MEAN_NSIGMA * np.hypot(a["std"] / np.sqrt(a["n"]), r["std"] / np.sqrt(r["n"]))
    bound = MEAN_ATOL_REL * a["std"] + sampling
    assert abs(r["mean"] - a["mean"]) <= bound, (
        f"{name} {direction}: residual mean rpu {r['mean']:.4g} vs aihwkit {a['mean']:.4g} "
        f"(|diff| {abs(r['mean'] - a['mean']):.3g} > bound {bound:.3g}; stds "
        f"{r['std']:.4g} / {a['std']:.4g})"
    )


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_quantisation_only_matches_entrywise(direction, aihwkit_stats):
    """Without output noise the analog MVM is deterministic (DAC, product, ADC, clip), so rpu, given
    the weights aihwkit's tile holds, must reproduce aihwkit's outputs entry by entry. rpu's tile
    uses an IdealDevice here, so that it keeps aihwkit's held weights exactly (a ConstantStep
    device would clip them again to its own random per-device bounds). Entries may differ by one
    ADC step where the exact product falls on a rounding tie (float summation order): allow that
    for 0.1 % of them."""
    import rpu

    c = CASES["quantisation_only"]
    Wa, ya, dxa = aihwkit_stats["quantisation_only", "raw"]
    tile = rpu.AnalogTile(Wa.shape[0], Wa.shape[1], rpu_config=_rpu_config(c["io"], "IdealDevice"),
                          dtype=np.float32, seed=7)
    tile.set_weights(Wa)
    Wr = np.asarray(tile.get_weights())
    if direction == "forward":
        inp = ARRAYS[c["x"]]
        same = np.all(Wa == Wr, axis=1)  # outputs whose weight row is the same
        a, r = ya[:, same], np.asarray(tile.forward(inp))[:, same]
    else:
        inp = ARRAYS[c["d"]]
        same = np.all(Wa == Wr, axis=0)  # backward outputs: weight columns
        a, r = dxa[:, same], np.asarray(tile.backward(inp))[:, same]
    assert same.sum() >= 0.25 * same.size, "too few identical weight rows/columns to compare"
    # ABS_MAX noise management: one ADC step is 2 * out_bound * out_res * max|input| ~ 0.047 max|input|
    scale = np.abs(inp).max(axis=1, keepdims=True)
    off = np.abs(a - r) > 1e-4 * scale
    print(f"quantisation_only {direction}: {same.sum()} of {same.size} weight vectors compared, "
          f"{off.mean():.2e} of the entries differ (max |diff| {np.abs(a - r).max():.3g})")
    assert off.mean() <= 1e-3, (
        f"{direction}: {off.mean():.2%} of the outputs differ (max |diff| "
        f"{np.abs(a - r).max():.4g}); they should agree up to rounding ties"
    )


def test_average_abs_max_ignores_nm_thres_as_aihwkit_does():
    """AverageAbsMax noise management averages the raw maxima; nm_thres caps only the other
    types (rpu capped the average too: outputs off by ~ max|x| / nm_thres). Noise-free, so the
    forward must agree entry by entry (the forward alone: aihwkit's CPU shares the running value
    with the backward, rpu does not; see the tile documentation)."""
    import rpu

    rng = np.random.default_rng(5)
    arrays = {"W_aam": rng.uniform(-0.5, 0.5, (16, 24)).astype(np.float32),
              "x_aam": (rng.standard_normal((20, 24)) * 2).astype(np.float32)}
    io = {"out_noise": 0.0, "noise_management": "AVERAGE_ABS_MAX", "nm_thres": 0.3,
          "bound_management": "NONE"}
    out = run_aihwkit({"threads": 1, "jobs": [dict(name="aam", config="single",
                                                     device_class="IdealDevice", forward=io,
                                                     W="W_aam", x="x_aam")]}, arrays)
    tile = rpu.AnalogTile(16, 24, rpu_config=_rpu_config(io, "IdealDevice"), dtype=np.float32,
                          seed=3)
    tile.set_weights(out["aam_W"])
    y = np.asarray(tile.forward(arrays["x_aam"]))
    np.testing.assert_allclose(y, out["aam_y"], rtol=0, atol=1e-4 * np.abs(out["aam_y"]).max())
    assert np.abs(out["aam_y"]).max() > 1.0  # (capped at 0.3 the outputs would stay small)


if __name__ == "__main__":  # prints aihwkit's figures: AIHWKIT_PYTHON=... python tests/test_aihwkit_parity.py
    if not AIHWKIT_PYTHON:
        sys.exit("set AIHWKIT_PYTHON")
    stats = aihwkit_stats.__wrapped__()
    print(stats.pop("info"))
    for (name, direction), s in stats.items():
        if direction == "raw":
            continue
        print(f"{name:24s} {direction:8s} std {s['std']:.5g} mean {s['mean']:+.4g} n {s['n']}")
