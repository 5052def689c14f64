"""Stochastic analog MVM paths: statistics with fixed seeds, against the spec's formulas.

Spec: training.md §1.3-§1.9 (aihwkit's C++ CPU path). Every formula asserted here was also
checked against aihwkit 1.1.0 in distribution (out_noise std, w_noise ADDITIVE_CONSTANT and
PCM_READ std, inp_noise after the clip, inp_sto_round mean, PosNeg digital sum = two noise draws).

Tolerances are set from the sampling error: with N independent samples, the relative standard
error of a std estimate is 1/sqrt(2N) and that of a mean is std/sqrt(N); asserts use >= 4-5 standard
errors (or a fixed relative band well above that), with fixed seeds so the run is reproducible.
"""

import numpy as np
import pytest

import rpu
from rpu.config import (
    AnalogMVType,
    BoundManagementType,
    ConstantStepDevice, IdealDevice,
    IOParameters,
    NoiseManagementType,
    SingleRPUConfig,
    WeightNoiseType,
)

NM = NoiseManagementType
BM = BoundManagementType
MV = AnalogMVType
WN = WeightNoiseType

SEED = 4321
N = 4000  # samples (rows) per statistical test


def make_tile(out_size, in_size, fwd=None, bwd=None, weights=None, dtype=np.float64, seed=SEED, **kw):
    cfg = SingleRPUConfig(
        # IdealDevice: no device bounds, so set_weights keeps the weights exactly (the MVM is
        # what these tests are about; ConstantStep devices would clip to their dtod bounds).
        device=IdealDevice(),
        forward=fwd if fwd is not None else IOParameters(),
        backward=bwd if bwd is not None else IOParameters(),
    )
    tile = rpu.AnalogTile(out_size, in_size, rpu_config=cfg, dtype=dtype, seed=seed, **kw)
    if weights is not None:
        tile.set_weights(weights)
    return tile


def clean(**kw):
    """Only the named noise on: no quantisation, no clipping, no BM, no output noise."""
    base = dict(out_noise=0.0, inp_res=0.0, out_res=0.0, bound_management=BM.NONE, out_bound=0.0)
    base.update(kw)
    return IOParameters(**base)


def assert_std(samples, expected, rel=None, axis=None):
    """Sample std of ``samples`` (along axis) equals ``expected`` within ``rel`` (default 5 SE)."""
    samples = np.asarray(samples)
    n = samples.size if axis is None else samples.shape[axis]
    rel = rel if rel is not None else 5.0 / np.sqrt(2 * n)
    std = samples.std(axis=axis)
    np.testing.assert_allclose(std, expected, rtol=rel)


def assert_mean(samples, expected, std, axis=None, k=5.0):
    samples = np.asarray(samples)
    n = samples.size if axis is None else samples.shape[axis]
    mean = samples.mean(axis=axis)
    assert np.all(np.abs(mean - expected) <= k * np.asarray(std) / np.sqrt(n) + 1e-15), (mean, expected)


X1 = np.random.default_rng(5).uniform(-1, 1, 16)
X1[3] = 1.0  # abs-max 1: nu = 1 with AbsMax
W8 = np.random.default_rng(6).uniform(-0.5, 0.5, (8, 16))


# ----------------------------------------------------------------------------------- output noise
@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_out_noise_std_scales_with_nm_factor(scale):
    # W = 0: y = nu * sigma * xi (the noise is added in normalised units, then rescaled by nu)
    sigma = 0.1
    tile = make_tile(8, 16, fwd=clean(out_noise=sigma), weights=np.zeros((8, 16)))
    y = tile.forward(np.tile(X1 * scale, (N, 1)))
    assert_std(y, scale * sigma)
    assert_mean(y, 0.0, scale * sigma)
    assert_std(y, scale * sigma, axis=0, rel=0.1)  # every output line has it


def test_out_noise_is_quantised_by_adc():
    # default ADC: outputs are multiples of q_out * nu; the noise is drawn before the ADC
    tile = make_tile(8, 16, fwd=IOParameters(out_noise=0.5), weights=np.zeros((8, 16)))
    y = tile.forward(np.tile(X1 * 2, (N // 4, 1)))
    levels = y / 2.0 / (24 / 510)
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-9)
    assert_std(y, 2.0 * np.sqrt(0.5**2 + (24 / 510) ** 2 / 12), rel=0.03)


def test_out_noise_independent_between_outputs_and_samples():
    tile = make_tile(8, 16, fwd=clean(out_noise=0.2), weights=W8)
    x = np.tile(X1, (N, 1))
    r = tile.forward(x) - x @ W8.T
    c = np.corrcoef(r.T)
    assert np.max(np.abs(c - np.eye(8))) < 5 / np.sqrt(N)
    lag = np.corrcoef(r[:-1, 0], r[1:, 0])[0, 1]
    assert abs(lag) < 5 / np.sqrt(N)


def test_out_noise_std_per_output_spread():
    # sigma_i = |out_noise (1 + out_noise_std xi_i)|, drawn once; the ADC noise then uses sigma_i
    out_noise, spread = 0.1, 0.3
    tile = make_tile(64, 16, fwd=clean(out_noise=out_noise, out_noise_std=spread), weights=np.zeros((64, 16)))
    sig = tile.get_forward_parameters()["out_noise_values"]
    assert sig.shape == (64,) and np.all(sig >= 0)
    rel = sig / out_noise
    assert abs(rel.mean() - 1.0) < 5 * spread / 8  # 64 draws
    assert 0.5 * spread < rel.std() < 1.5 * spread
    y = tile.forward(np.tile(X1, (N, 1)))
    assert_std(y, sig, axis=0, rel=0.08)  # per line, 4000 samples: SE 1.1 %


def test_out_noise_values_settable():
    tile = make_tile(8, 16, fwd=clean(out_noise=0.1, out_noise_std=0.2), weights=np.zeros((8, 16)))
    new = np.array([0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.0, 0.4])
    tile.set_forward_parameters({"out_noise_values": new})
    np.testing.assert_allclose(tile.get_forward_parameters()["out_noise_values"], new)
    y = tile.forward(np.tile(X1, (N, 1)))
    np.testing.assert_array_equal(y[:, new == 0], 0.0)  # noise-free outputs
    assert_std(y[:, new > 0], new[new > 0], axis=0, rel=0.08)


def test_out_noise_std_zero_uses_out_noise():
    tile = make_tile(8, 16, fwd=clean(out_noise=0.1), weights=np.zeros((8, 16)))
    y = tile.forward(np.tile(X1, (N, 1)))
    assert_std(y, np.full(8, 0.1), axis=0, rel=0.08)


def test_backward_out_noise_values_settable():
    # backward lines are the tile inputs (in_size of them)
    tile = make_tile(8, 16, bwd=clean(out_noise=0.1, out_noise_std=0.2), weights=np.zeros((8, 16)))
    sig = tile.get_backward_parameters()["out_noise_values"]
    assert sig.shape == (16,)
    new = np.where(np.arange(16) % 2 == 0, 0.0, 0.2)
    tile.set_backward_parameters({"out_noise_values": new})
    d = np.ones((N, 8))
    z = tile.backward(d)
    np.testing.assert_array_equal(z[:, new == 0], 0.0)
    assert_std(z[:, new > 0], new[new > 0], axis=0, rel=0.08)
    # the forward draws are separate
    assert "out_noise_values" not in tile.get_forward_parameters()


def test_backward_uses_backward_out_noise():
    tile = make_tile(8, 16, fwd=clean(), bwd=clean(out_noise=0.2), weights=W8)
    x = np.tile(X1, (4, 1))
    np.testing.assert_array_equal(tile.forward(x), tile.forward(x))  # forward is noise-free
    d = np.zeros((N, 8))
    d[:, 2] = 3.0  # nu = 3
    z = tile.backward(d)
    assert_std(z - d @ W8, 3 * 0.2)


def test_noise_in_bm_rounds_scales_with_rho():
    # W = 1_{1x20}, x = 1: v = 20 > 12 -> the rho = 2 pass is kept: y = 2 (10 + sigma xi)
    sigma = 0.1
    tile = make_tile(1, 20, fwd=IOParameters(out_noise=sigma, inp_res=0, out_res=0), weights=np.ones((1, 20)))
    y = tile.forward(np.ones((N, 20)))
    assert_mean(y, 20.0, 2 * sigma)
    assert_std(y, 2 * sigma)


# ------------------------------------------------------------------------------------ input noise
def test_inp_noise_added_after_clip():
    # NM None, x = 5 -> DAC clips to 1, then noise: y = 1 + sigma xi. Before the clip it would give
    # y <= 1 always (that is the CUDA order, spec §1.4 [diff-CUDA]).
    sigma = 0.1
    W = np.eye(8, 16)
    tile = make_tile(8, 16, fwd=clean(noise_management=NM.NONE, inp_noise=sigma, inp_res=1 / 126), weights=W)
    y = tile.forward(np.full((N, 16), 5.0))
    assert_mean(y, 1.0, sigma)
    assert_std(y, sigma)
    frac = np.mean(y > 1.0)
    assert 0.48 < frac < 0.52


def test_inp_noise_scales_with_nm_and_weights():
    sigma = 0.05
    tile = make_tile(8, 16, fwd=clean(inp_noise=sigma), weights=W8)
    x = np.tile(X1 * 4, (N, 1))  # nu = 4
    r = tile.forward(x) - x @ W8.T
    assert_std(r, 4 * sigma * np.linalg.norm(W8, axis=1), axis=0, rel=0.08)


def test_zero_input_with_inp_noise_is_not_shortcut():
    # NM on, nu = 0 but inp_noise > 0: the product is computed (unscaled) and is noisy
    sigma = 0.1
    tile = make_tile(8, 16, fwd=clean(inp_noise=sigma), weights=W8)
    y = tile.forward(np.zeros((N, 16)))
    assert_std(y, sigma * np.linalg.norm(W8, axis=1), axis=0, rel=0.08)
    # while the backward ignores inp_noise for the zero shortcut (spec §1.3)
    tile = make_tile(8, 16, bwd=IOParameters(inp_noise=sigma, out_noise=0.1), weights=W8)
    np.testing.assert_array_equal(tile.backward(np.zeros((10, 8))), 0.0)


def test_max_nm_all_negative_with_inp_noise_is_not_shortcut():
    tile = make_tile(8, 16, fwd=IOParameters(noise_management=NM.MAX, inp_noise=0.1, out_noise=0.0), weights=W8)
    y = tile.forward(-np.abs(np.tile(X1, (50, 1))))
    assert np.any(y != 0)


def test_zero_input_nm_none_gives_quantised_output_noise():
    tile = make_tile(8, 16, fwd=IOParameters(noise_management=NM.NONE, out_noise=0.1), weights=W8)
    y = tile.forward(np.zeros((N // 2, 16)))
    levels = y / (24 / 510)
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-9)
    assert_std(y, np.sqrt(0.1**2 + (24 / 510) ** 2 / 12), rel=0.05)


# ------------------------------------------------------------------------- stochastic rounding
@pytest.mark.parametrize("value", [0.3, -0.3, 0.1])
def test_inp_sto_round_is_unbiased(value):
    # step 0.25 (inp_res 0.125 * 2 * inp_bound): 0.3 -> 0.25 (p 0.8) or 0.5 (p 0.2)
    tile = make_tile(8, 16, fwd=clean(noise_management=NM.NONE, inp_res=0.125, inp_sto_round=True),
                     weights=np.eye(8, 16))
    y = tile.forward(np.full((N, 16), value))
    lo = np.floor(value / 0.25) * 0.25
    assert np.all(np.isclose(y, lo) | np.isclose(y, lo + 0.25))
    p = (value - lo) / 0.25
    assert_mean(y, value, 0.25 * np.sqrt(p * (1 - p)))
    # deterministic rounding would be biased
    det = make_tile(8, 16, fwd=clean(noise_management=NM.NONE, inp_res=0.125), weights=np.eye(8, 16))
    np.testing.assert_allclose(det.forward(np.full((2, 16), value)), np.rint(value / 0.25) * 0.25)


@pytest.mark.parametrize("value", [0.3, -0.45])
def test_out_sto_round_is_unbiased(value):
    # ADC step 0.25 (out_res 0.125, out_bound 1)
    fwd = clean(noise_management=NM.NONE, out_res=0.125, out_bound=1.0, out_sto_round=True)
    tile = make_tile(8, 16, fwd=fwd, weights=np.eye(8, 16))
    y = tile.forward(np.full((N, 16), value))
    lo = np.floor(value / 0.25) * 0.25
    assert np.all(np.isclose(y, lo) | np.isclose(y, lo + 0.25))
    p = (value - lo) / 0.25
    assert_mean(y, value, 0.25 * np.sqrt(p * (1 - p)))


def test_out_sto_round_redraws_each_row():
    fwd = clean(noise_management=NM.NONE, out_res=0.125, out_bound=1.0, out_sto_round=True)
    tile = make_tile(8, 16, fwd=fwd, weights=np.eye(8, 16))
    y = tile.forward(np.full((200, 16), 0.375))  # exactly half-way: p = 0.5
    assert 0.3 < np.mean(np.isclose(y, 0.5)) < 0.7


# ----------------------------------------------------------------------------------- weight noise
def test_w_noise_additive_constant():
    # v_i += w_noise * ||u||_2 * xi_i ; output in units of nu: std = w_noise * ||x||
    wn = 0.05
    tile = make_tile(8, 16, fwd=clean(w_noise=wn, w_noise_type=WN.ADDITIVE_CONSTANT), weights=W8)
    x = np.tile(X1 * 3, (N, 1))
    r = tile.forward(x) - x @ W8.T
    assert_std(r, np.full(8, wn * np.linalg.norm(X1 * 3)), axis=0, rel=0.08)
    assert_mean(r, 0.0, wn * np.linalg.norm(X1 * 3))


def test_w_noise_pcm_read():
    # v_i += w_noise * sqrt(sum_j |W_ij| u_j^2) * xi_i
    wn = 0.05
    tile = make_tile(8, 16, fwd=clean(w_noise=wn, w_noise_type=WN.PCM_READ), weights=W8)
    x = np.tile(X1 * 2, (N, 1))
    r = tile.forward(x) - x @ W8.T
    expected = 2 * wn * np.sqrt(np.abs(W8) @ (X1**2))  # u = x / nu, nu = 2
    assert_std(r, expected, axis=0, rel=0.08)


def test_w_noise_type_none_or_zero_is_off():
    x = np.tile(X1, (10, 1))
    for fwd in (clean(w_noise=0.1, w_noise_type=WN.NONE), clean(w_noise=0.0, w_noise_type=WN.PCM_READ)):
        tile = make_tile(8, 16, fwd=fwd, weights=W8)
        np.testing.assert_allclose(tile.forward(x), x @ W8.T, rtol=1e-12, atol=1e-12)


def test_w_noise_backward():
    wn = 0.05
    tile = make_tile(8, 16, bwd=clean(w_noise=wn, w_noise_type=WN.PCM_READ), weights=W8)
    d1 = np.random.default_rng(7).uniform(-1, 1, 8)
    d1[0] = 1.0
    d = np.tile(d1, (N, 1))
    r = tile.backward(d) - d @ W8
    assert_std(r, wn * np.sqrt(np.abs(W8).T @ (d1**2)), axis=0, rel=0.08)


# -------------------------------------------------------------------------------------- mv types
def test_pos_neg_digital_sum_draws_output_noise_per_pass():
    # PosNegSeparate: one ADC (one draw); DigitalSum: one ADC per pass -> variance 2 sigma^2
    sigma = 0.1
    x = np.tile(X1, (N, 1))
    for mv, factor in ((MV.POS_NEG_SEPARATE, 1.0), (MV.POS_NEG_SEPARATE_DIGITAL_SUM, np.sqrt(2.0))):
        tile = make_tile(8, 16, fwd=clean(out_noise=sigma, mv_type=mv), weights=W8)
        r = tile.forward(x) - x @ W8.T
        assert_std(r, factor * sigma)


def test_pos_neg_w_noise_per_pass():
    # ADDITIVE_CONSTANT in each pass: ||u-||^2 + ||u+||^2 = ||u||^2, the same total std
    wn = 0.05
    x = np.tile(X1, (N, 1))
    tile = make_tile(8, 16, fwd=clean(w_noise=wn, w_noise_type=WN.ADDITIVE_CONSTANT, mv_type=MV.POS_NEG_SEPARATE),
                     weights=W8)
    r = tile.forward(x) - x @ W8.T
    assert_std(r, wn * np.linalg.norm(X1))


# ----------------------------------------------------------------------------- reproducibility
def _run(seed, fwd=None):
    tile = make_tile(8, 16, fwd=fwd or IOParameters(inp_noise=0.05, w_noise=0.02, w_noise_type=WN.PCM_READ),
                     weights=W8, seed=seed)
    x = np.tile(X1, (5, 1))
    return [tile.forward(x), tile.backward(np.ones((3, 8))), tile.forward(x)]


def test_same_seed_same_output():
    a, b = _run(11), _run(11)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_different_seed_different_output():
    a, b = _run(11), _run(12)
    for u, v in zip(a, b):
        assert not np.array_equal(u, v)


def test_noise_redrawn_on_every_call_and_row():
    a = _run(11)
    assert not np.array_equal(a[0], a[2])  # second forward call, same inputs
    assert not np.array_equal(a[0][0], a[0][1])  # identical rows of one batch


def test_stochastic_rounding_reproducible_with_seed():
    fwd = IOParameters(inp_sto_round=True, out_sto_round=True, out_noise=0.0)
    a, b = _run(3, fwd), _run(3, fwd)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], a[2])


def test_per_output_draws_depend_on_seed():
    fwd = clean(out_noise=0.1, out_noise_std=0.3, v_offset_std=0.1, out_nonlinearity=0.5, out_nonlinearity_std=0.2)
    p1 = make_tile(8, 16, fwd=fwd, seed=1).get_forward_parameters()
    p1b = make_tile(8, 16, fwd=fwd, seed=1).get_forward_parameters()
    p2 = make_tile(8, 16, fwd=fwd, seed=2).get_forward_parameters()
    for k in ("out_noise_values", "v_offset", "out_nonlinearity"):
        np.testing.assert_array_equal(p1[k], p1b[k])
        assert not np.array_equal(p1[k], p2[k])
    assert np.all(p1["v_offset"] >= 0)  # max(v_offset_std xi, 0)


def test_float32_noise_statistics():
    sigma = 0.1
    tile = make_tile(8, 16, fwd=clean(out_noise=sigma), weights=W8, dtype=np.float32)
    x = np.tile(X1, (N, 1)).astype(np.float32)
    y = tile.forward(x)
    assert y.dtype == np.float32
    r = y.astype(np.float64) - x.astype(np.float64) @ tile.get_weights().astype(np.float64).T
    assert_std(r, sigma)
