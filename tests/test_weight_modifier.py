"""rpu.tiles.weight_modifier: aihwkit 1.1.0's weight modifiers (spec/inference.md section 2).

Every type is checked against a NumPy reference written here, fed with the same Philox draws
(``_core.normal_fill`` / ``uniform_fill`` with the modifier's purposes reproduce the kernel's
layout: element (row, column) of the weight matrix). Where the reference uses the same float
operations in the same order, the results must be equal bit for bit; where libm functions enter
(tanh, log, pow) a tight tolerance is used. Statistical checks (noise std, drop fraction, stuck
devices) use fixed keys and bounds at >= 5 standard errors. ``test_matches_aihwkit`` compares with
aihwkit itself and runs only when ``AIHWKIT_PYTHON`` names its interpreter.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rpu import ConfigError, _core
from rpu._rng import Purpose
from rpu.config import WeightModifierParameter, WeightModifierType as WMT
from rpu.tiles.weight_modifier import modifier_amax, modifier_is_active, modify_weights

from aihwkit_runner import AIHWKIT_PYTHON, run_worker

KEY = 0x0DDB_A11C_0FFE_E002
DTYPES = [np.float32, np.float64]
P0, P1, P2, T_READ = 0.26348, 1.9650, -1.1731, 250e-9


def weights(shape=(24, 33), dtype=np.float32, seed=0, scale=0.8):
    return (np.random.default_rng(seed).uniform(-scale, scale, shape)).astype(dtype)


# ----- NumPy references (independent of the kernels) ---------------------------------------------

def normals(shape, op, sub=0, dtype=np.float32, key=KEY):
    out = np.empty(shape, dtype=dtype)
    _core.normal_fill(out, key, op, int(Purpose.MODIFIER_NOISE), sub, 1)
    return out


def uniforms(shape, op, purpose, sub=0, dtype=np.float32, key=KEY):
    out = np.empty(shape, dtype=dtype)
    _core.uniform_fill(out, key, op, int(purpose), sub, 1)
    return out


def round_away(x):
    """Round half away from zero, exactly (C round)."""
    t = np.trunc(x)
    return t + np.where(np.abs(x - t) >= 0.5, np.sign(x), 0).astype(x.dtype)


def ref_amax(m, w):
    if not m.rel_to_actual_wmax or m.type in (WMT.NONE, WMT.COPY):
        return w.dtype.type(m.assumed_wmax)
    cols = w[:, :-1] if m.copy_last_column else w
    a = np.abs(cols).max() if cols.size else 0
    return w.dtype.type(a if a > 0 else 1)


def ref_poly(a, coeffs):
    p, s = np.ones_like(a), np.full_like(a, coeffs[0])
    for c in coeffs[1:]:
        p = p * a
        s = s + a.dtype.type(c) * p
    return s


def ref_pcm(w, m, amax, xi, u):
    """aihwkit's CUDA PCM_NOISE formula in float64 (spec section 2.6)."""
    w, amax, xi, u = np.float64(w), float(amax), [np.float64(x) for x in xi], [np.float64(x) for x in u]
    G, s = m.g_max, m.std_dev
    g = np.clip(w, -amax, amax) * G / amax
    g = np.where(np.abs(g) > m.pcm_zero_thres * s * P0, g, 0.0)
    neg = g < 0
    if m.pcm_prob_at_reset > 0:
        g = np.where(u[0] < m.pcm_prob_at_reset, 0.0, g)
    if m.pcm_prob_at_gmax > 0:
        g = np.where(u[1] < m.pcm_prob_at_gmax, np.where(u[2] > 0.5, g - G, g + G), g)
    if m.pcm_prob_at_random > 0:
        g = np.where(u[3] < m.pcm_prob_at_random, np.where(g > 0, u[4] * G, -u[4] * G), g)
    g = np.clip(g, -G, G)
    r = np.abs(g / G)
    gp = g + s * (P0 + P1 * r + P2 * r * r) * xi[0]
    rp = np.abs(gp / G)
    t, t0 = m.pcm_t_inference + m.pcm_t0, m.pcm_t0
    gd = gp
    if t > t0:
        sd = np.clip(-0.0125 * np.log(np.maximum(rp, 1e-6)) - 0.0059, 0.008, 0.045)
        gd = gp * (t / t0) ** (-np.abs(xi[1] * sd))
    qs = np.minimum(0.0088 / np.maximum(rp ** 0.65, 1e-3), 0.2)
    gf = gd + s * np.abs(gd) * qs * np.sqrt(np.log((t + T_READ) / (2 * T_READ))) * xi[2]
    out = np.abs(gf / G * amax)
    return np.where(g == 0, 0.0, np.where(neg, -out, out))


def reference(m, w, op):
    """M(W) in NumPy, the C++ CPU order (spec 2.4), with the kernel's draws."""
    dt = w.dtype.type
    out = w.copy()
    n = w.shape[1] - 1 if m.copy_last_column else w.shape[1]
    x = w[:, :n]
    amax = ref_amax(m, w)
    res, std = dt(m.res), dt(m.std_dev)
    xi = normals(x.shape, op, 0, w.dtype)
    shift = (uniforms(x.shape, op, Purpose.MODIFIER_ROUND, 0, w.dtype) - dt(0.5)) if m.sto_round \
        else np.zeros_like(x)
    t = m.type
    if t == WMT.DISCRETIZE and m.res > 0:
        y = amax * (round_away((x / amax) / res + shift) * res)
    elif t == WMT.MULT_NORMAL and m.std_dev > 0:
        y = x + x * (std * amax) * xi
    elif t == WMT.ADD_NORMAL and m.std_dev > 0:
        y = x + (std * amax) * xi
    elif t == WMT.DISCRETIZE_ADD_NORMAL and (m.res > 0 or m.std_dev > 0):
        q = round_away((x / amax) / res + shift) * res if m.res > 0 else x / amax
        y = amax * q + (std * amax) * xi
    elif t == WMT.DOREFA and m.res > 0:
        scale = dt(abs(np.float64(m.dorefa_clip) / np.tanh(np.float64(amax))))
        y = round_away((np.tanh(x.astype(np.float64)).astype(w.dtype) * scale) / res + shift) * res
    elif t == WMT.POLY and m.std_dev > 0 and m.coeffs:
        y = x + amax * (ref_poly(np.abs(x) / amax, m.coeffs) * std) * xi
    elif t == WMT.PROG_NOISE and m.std_dev > 0 and m.coeffs:
        v = np.abs(x + amax * (ref_poly(np.abs(x) / amax, m.coeffs) * (std / dt(m.g_max))) * xi)
        y = np.where(x < 0, -v, v)
    elif t == WMT.PCM_NOISE:
        xis = [normals(x.shape, op, k, w.dtype) for k in range(3)]
        us = [uniforms(x.shape, op, Purpose.MODIFIER_PCM_EVENTS, k, w.dtype) for k in range(5)]
        y = ref_pcm(x, m, amax, xis, us).astype(w.dtype)
    else:
        y = x.copy()
    if m.pdrop > 0:
        y = np.where(uniforms(x.shape, op, Purpose.DROP_CONNECT, 0, w.dtype) < dt(m.pdrop), 0, y)
    out[:, :n] = y
    return out


# ----- every type against the reference ----------------------------------------------------------

EXACT_CASES = [
    dict(type=WMT.NONE),
    dict(type=WMT.COPY),
    dict(type=WMT.DISCRETIZE, res=0.1),
    dict(type=WMT.DISCRETIZE, res=0.132, sto_round=True),
    dict(type=WMT.DISCRETIZE, res=0.0),
    dict(type=WMT.DISCRETIZE, res=1 / 15, rel_to_actual_wmax=False, assumed_wmax=0.5),
    dict(type=WMT.MULT_NORMAL, std_dev=0.2),
    dict(type=WMT.ADD_NORMAL, std_dev=0.05),
    dict(type=WMT.ADD_NORMAL, std_dev=0.05, rel_to_actual_wmax=False, assumed_wmax=2.0),
    dict(type=WMT.DISCRETIZE_ADD_NORMAL, res=0.1, std_dev=0.03),
    dict(type=WMT.DISCRETIZE_ADD_NORMAL, res=0.1, std_dev=0.03, sto_round=True),
    dict(type=WMT.DISCRETIZE_ADD_NORMAL, res=0.0, std_dev=0.03),
    dict(type=WMT.POLY, std_dev=1.0),
    dict(type=WMT.POLY, std_dev=0.5, coeffs=[0.01, 0.1, -0.02, 0.05]),
    dict(type=WMT.PROG_NOISE, std_dev=2.0),
    dict(type=WMT.PROG_NOISE, std_dev=2.0, coeffs=[]),
    dict(type=WMT.DROP_CONNECT, pdrop=0.3),
    dict(type=WMT.ADD_NORMAL, std_dev=0.05, pdrop=0.2, copy_last_column=True),
    dict(type=WMT.DISCRETIZE, res=0.1, copy_last_column=True, pdrop=0.5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EXACT_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_types_match_reference_exactly(case, dtype):
    m = WeightModifierParameter(**case)
    w = weights(dtype=dtype)
    w_in = w.copy()
    out = modify_weights(m, w, KEY, 5)
    assert out.dtype == w.dtype and out.shape == w.shape and out.flags.c_contiguous
    np.testing.assert_array_equal(w, w_in)  # the input is untouched
    np.testing.assert_array_equal(out, reference(m, w, 5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [
    dict(type=WMT.DOREFA, res=0.1),
    dict(type=WMT.DOREFA, res=0.05, sto_round=True, dorefa_clip=0.8),
    dict(type=WMT.PCM_NOISE, std_dev=1.0),
    dict(type=WMT.PCM_NOISE, std_dev=0.7, pcm_t_inference=3600.0, pcm_zero_thres=0.5),
    dict(type=WMT.PCM_NOISE, std_dev=1.0, pcm_t_inference=10.0, pcm_prob_at_reset=0.1,
         pcm_prob_at_gmax=0.1, pcm_prob_at_random=0.1, copy_last_column=True, pdrop=0.1),
], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_libm_types_match_reference(case, dtype):
    # tanh, log and pow come from libm (C) and NumPy (reference): a few ulp apart at most.
    m = WeightModifierParameter(**case)
    w = weights(dtype=dtype, seed=3)
    out = modify_weights(m, w, KEY, 9)
    ref = reference(m, w, 9)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    if m.type == WMT.DOREFA:  # on the grid, within the clip
        grid = out / np.float64(m.res)
        np.testing.assert_allclose(grid, np.round(grid), atol=1e-4)
        assert np.abs(out).max() <= m.dorefa_clip + m.res


def test_pcm_noise_without_noise_is_the_clipped_weight():
    # std_dev = 0, t_inference = 0: no programming, drift or read noise; the target is clipped
    # to +-amax and converted back.
    m = WeightModifierParameter(type=WMT.PCM_NOISE, std_dev=0.0, rel_to_actual_wmax=False,
                                assumed_wmax=0.5)
    w = weights(dtype=np.float64, seed=4)
    np.testing.assert_allclose(modify_weights(m, w, KEY, 0), np.clip(w, -0.5, 0.5), rtol=1e-14)


def test_pcm_noise_stuck_devices_statistics():
    # Every target at +g_max/2: a reset sets the weight to 0 with probability p_reset; the
    # programming noise alone has std amax * std_dev * sigma_prog(1/2) / g_max.
    n = 200 * 200
    w = np.full((200, 200), 0.5, dtype=np.float64)
    m = WeightModifierParameter(type=WMT.PCM_NOISE, std_dev=0.0, pcm_prob_at_reset=0.25,
                                rel_to_actual_wmax=False, assumed_wmax=1.0)
    zero = np.mean(modify_weights(m, w, KEY, 1) == 0)
    assert abs(zero - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n)
    m = WeightModifierParameter(type=WMT.PCM_NOISE, std_dev=1.0, rel_to_actual_wmax=False,
                                assumed_wmax=1.0)
    out = modify_weights(m, w, KEY, 2)
    # relative read noise at t = t0 = 20 s: Q_s(g) sqrt(ln((t + t_read)/(2 t_read))), small
    # next to the programming noise, both add in quadrature (to first order)
    sig_prog = (P0 + P1 * 0.5 + P2 * 0.25) / 25.0
    sig_read = 0.5 * min(0.0088 / 0.5 ** 0.65, 0.2) * np.sqrt(np.log((20 + T_READ) / (2 * T_READ)))
    expected = np.hypot(sig_prog, sig_read)
    assert abs(out.std() / expected - 1) < 5 * np.sqrt(0.5 / n) + 0.01
    assert abs(out.mean() - 0.5) < 5 * expected / np.sqrt(n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_noise_statistics(dtype):
    # guards against a reference that shares a mistake with the kernel's use of the draws
    w = weights((200, 200), dtype, seed=5)
    n = w.size
    amax = float(np.abs(w).max())
    d = modify_weights(WeightModifierParameter(type=WMT.ADD_NORMAL, std_dev=0.1), w, KEY, 3) - w
    assert abs(d.std() / (0.1 * amax) - 1) < 5 / np.sqrt(2 * n)
    assert abs(d.mean()) < 5 * 0.1 * amax / np.sqrt(n)
    rel = modify_weights(WeightModifierParameter(type=WMT.MULT_NORMAL, std_dev=0.1), w, KEY, 4) / w - 1
    assert abs(rel.std() / (0.1 * amax) - 1) < 5 / np.sqrt(2 * n)
    # stochastic rounding is unbiased: E[out] = w
    m = WeightModifierParameter(type=WMT.DISCRETIZE, res=0.25, sto_round=True)
    reps = np.mean([modify_weights(m, w[:20], KEY, op) for op in range(200)], axis=0)
    step = 0.25 * amax
    assert np.abs(reps - w[:20]).max() < 5 * step * 0.5 / np.sqrt(200)


@pytest.mark.parametrize("pdrop", [0.05, 0.5, 0.9])
def test_drop_connect_fraction_is_binomial(pdrop):
    w = weights((150, 200), seed=6) + 2.0  # no zero weights before dropping
    for t in (WMT.NONE, WMT.COPY, WMT.DROP_CONNECT, WMT.ADD_NORMAL):
        m = WeightModifierParameter(type=t, pdrop=pdrop, std_dev=0.01)
        frac = np.mean(modify_weights(m, w, KEY, 7) == 0)
        assert abs(frac - pdrop) < 5 * np.sqrt(pdrop * (1 - pdrop) / w.size), t


def test_new_op_new_noise_same_op_same_noise():
    m = WeightModifierParameter(type=WMT.ADD_NORMAL, std_dev=0.1, pdrop=0.1)
    w = weights()
    a, b, c = (modify_weights(m, w, KEY, op) for op in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, modify_weights(m, w, KEY + 1, 1))


# ----- amax, copy_last_column, activity, res > 1 -----------------------------------------------

def test_amax_rules():
    w = weights(dtype=np.float64, seed=7)
    w[2, -1] = 5.0  # the largest weight sits in the last column
    m = WeightModifierParameter(type=WMT.ADD_NORMAL)
    assert modifier_amax(m, w) == 5.0
    m.copy_last_column = True
    assert modifier_amax(m, w) == np.abs(w[:, :-1]).max()
    m.rel_to_actual_wmax = False
    m.assumed_wmax = 0.7
    assert modifier_amax(m, w) == 0.7
    # COPY / NONE always take assumed_wmax (aihwkit: rel_to_actual_wmax only for other types)
    for t in (WMT.COPY, WMT.NONE):
        assert modifier_amax(WeightModifierParameter(type=t, assumed_wmax=0.3), w) == 0.3
    assert modifier_amax(WeightModifierParameter(type=WMT.DISCRETIZE), np.zeros((3, 4))) == 1.0
    one_col = WeightModifierParameter(type=WMT.DISCRETIZE, copy_last_column=True)
    assert modifier_amax(one_col, np.ones((3, 1))) == 1.0


def test_copy_last_column_keeps_the_bias_and_scales_without_it():
    w = weights((10, 6), np.float32, seed=8)
    w[:, -1] = np.linspace(-3, 3, 10)  # a large analog bias
    m = WeightModifierParameter(type=WMT.DISCRETIZE, res=0.1, copy_last_column=True, pdrop=0.9)
    out = modify_weights(m, w, KEY, 0)
    np.testing.assert_array_equal(out[:, -1], w[:, -1])
    amax = np.abs(w[:, :-1]).max()
    kept = out[:, :-1][out[:, :-1] != 0]
    steps = kept / (amax * np.float32(0.1))
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
    # a single column that is kept: the whole matrix is returned unchanged
    np.testing.assert_array_equal(modify_weights(m, w[:, :1], KEY, 0), w[:, :1])


def test_rel_to_actual_wmax_vs_assumed_wmax():
    w = weights((8, 8), np.float64, seed=9, scale=0.3)
    rel = modify_weights(WeightModifierParameter(type=WMT.DISCRETIZE, res=0.25), w, KEY, 0)
    ab = modify_weights(WeightModifierParameter(type=WMT.DISCRETIZE, res=0.25,
                                                rel_to_actual_wmax=False, assumed_wmax=1.0),
                        w, KEY, 0)
    amax = np.abs(w).max()
    np.testing.assert_allclose(rel, amax * 0.25 * round_away(w / amax / 0.25), rtol=1e-12)
    np.testing.assert_allclose(ab, 0.25 * round_away(w / 0.25), rtol=1e-12)


def test_res_above_one_is_a_step_as_in_aihwkit():
    # aihwkit 1.1.0's C++ modifier uses res as the step even when > 1 (not 1/res steps)
    w = weights((5, 7), np.float64, seed=10)
    out = modify_weights(WeightModifierParameter(type=WMT.DISCRETIZE, res=4.0), w, KEY, 0)
    np.testing.assert_array_equal(out, np.zeros_like(w))


def test_modifier_is_active():
    M = WeightModifierParameter
    assert not modifier_is_active(M())
    assert not modifier_is_active(M(type=WMT.COPY))
    assert modifier_is_active(M(type=WMT.NONE, pdrop=0.1))  # aihwkit skips this [bug?]
    assert modifier_is_active(M(type=WMT.COPY, pdrop=0.1))
    for t in WMT:
        if t not in (WMT.NONE, WMT.COPY):
            assert modifier_is_active(M(type=t))


def test_per_batch_sample_is_accepted():
    m = WeightModifierParameter(type=WMT.ADD_NORMAL, std_dev=0.1, per_batch_sample=True)
    w = weights()
    np.testing.assert_array_equal(modify_weights(m, w, KEY, 3), reference(m, w, 3))


def test_empty_and_non_contiguous_weights():
    m = WeightModifierParameter(type=WMT.ADD_NORMAL, std_dev=0.1)
    assert modify_weights(m, np.zeros((0, 4), np.float32), KEY, 0).shape == (0, 4)
    w = weights((12, 10), np.float64)
    np.testing.assert_array_equal(modify_weights(m, w.T, KEY, 0),
                                  modify_weights(m, np.ascontiguousarray(w.T), KEY, 0))


# ----- threads --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [
    dict(type=WMT.DISCRETIZE_ADD_NORMAL, res=0.1, std_dev=0.05, sto_round=True, pdrop=0.2),
    dict(type=WMT.PCM_NOISE, std_dev=1.0, pcm_t_inference=100.0, pcm_prob_at_reset=0.1,
         pcm_prob_at_gmax=0.1, pcm_prob_at_random=0.1, copy_last_column=True),
])
def test_same_result_for_any_thread_count(case, dtype):
    m = WeightModifierParameter(**case)
    w = weights((96, 161), dtype, seed=11)  # large enough for the core to use several threads
    with threadpool_limits(limits=1, user_api="openmp"):
        one = modify_weights(m, w, KEY, 4)
    with threadpool_limits(limits=2, user_api="openmp"):
        two = modify_weights(m, w, KEY, 4)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(modify_weights(m, w, KEY, 4, n_threads=3), one)


# ----- bad input ------------------------------------------------------------------------------

def test_bad_input_raises():
    m = WeightModifierParameter(type=WMT.ADD_NORMAL, std_dev=0.1)
    w = weights()
    bad = w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="weights must be finite"):
        modify_weights(m, bad, KEY, 0)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="weights"):
        modify_weights(m, bad, KEY, 0)
    with pytest.raises(ValueError, match="weights must be a 2-D array"):
        modify_weights(m, w[0], KEY, 0)
    with pytest.raises(TypeError, match="weights must be a float32 or float64"):
        modify_weights(m, w.astype(np.int64), KEY, 0)
    with pytest.raises(TypeError, match="modifier must be"):
        modify_weights({"type": "AddNormal"}, w, KEY, 0)
    with pytest.raises(ValueError, match="key"):
        modify_weights(m, w, -1, 0)
    with pytest.raises(TypeError, match="op"):
        modify_weights(m, w, KEY, 1.5)
    m.std_dev = -0.1  # mutated after construction: validated again
    with pytest.raises(ConfigError, match="std_dev"):
        modify_weights(m, w, KEY, 0)
    m = WeightModifierParameter(type=WMT.DROP_CONNECT)
    m.pdrop = 1.5
    with pytest.raises(ConfigError, match="pdrop"):
        modify_weights(m, w, KEY, 0)
    m = WeightModifierParameter()
    m.type = "NoSuchType"
    with pytest.raises(ConfigError, match="type"):
        modifier_is_active(m)


# ----- aihwkit 1.1.0 itself (optional) ------------------------------------------------------------

AIHWKIT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.simulator.configs import InferenceRPUConfig
from aihwkit.simulator.parameters.inference import WeightModifierParameter
from aihwkit.simulator.parameters.enums import WeightModifierType
from aihwkit.simulator.parameters.helpers import parameters_to_bindings
from aihwkit.simulator.tiles.inference import InferenceTile

torch.manual_seed(0)
data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
w = torch.tensor(data["w"])
d_size, x_size = w.shape
cfg = InferenceRPUConfig()
cfg.forward.is_perfect = True
tile = InferenceTile(d_size, x_size, cfg)
out = {}
for i, case in enumerate(spec["cases"]):
    tile.tile.set_weights(w)
    case = dict(case, type=WeightModifierType(case["type"]))
    params = parameters_to_bindings(WeightModifierParameter(**case), tile.get_data_type())
    tile.tile.modify_weights(params)
    # the perfect forward of the identity reads the modified weights back, exactly
    y = tile.tile.forward(torch.eye(x_size), False, False, False, False)
    out[f"case{i}"] = y.T.numpy()
np.savez(sys.argv[2], **out)
"""

AIHWKIT_EXACT = [
    dict(type="Copy"), dict(type="Discretize", res=0.1), dict(type="Discretize", res=0.132),
    dict(type="Discretize", res=0.05, rel_to_actual_wmax=False, assumed_wmax=0.6),
    dict(type="Discretize", res=0.1, copy_last_column=True), dict(type="DoReFa", res=0.1),
    dict(type="DoReFa", res=0.04, dorefa_clip=0.9), dict(type="Discretize", res=4.0),
]
AIHWKIT_NOISY = [
    dict(type="AddNormal", std_dev=0.1), dict(type="MultNormal", std_dev=0.2),
    dict(type="Poly", std_dev=1.0), dict(type="ProgNoise", std_dev=3.0),
    dict(type="DiscretizeAddNormal", res=0.1, std_dev=0.05),
    dict(type="Discretize", res=0.2, sto_round=True),
]
AIHWKIT_DROP = [dict(type="Copy", pdrop=0.3), dict(type="DropConnect", pdrop=0.6)]


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_matches_aihwkit():
    w = weights((160, 150), np.float32, seed=12, scale=0.9)
    cases = AIHWKIT_EXACT + AIHWKIT_NOISY + AIHWKIT_DROP
    got = run_worker(AIHWKIT_WORKER, {"cases": cases}, {"w": w}, prefix="rpu-aihwkit-wm-")
    for i, case in enumerate(cases):
        theirs = got[f"case{i}"]
        ours = modify_weights(WeightModifierParameter(**case), w, KEY, i)
        if case in AIHWKIT_EXACT:
            np.testing.assert_array_equal(ours, theirs, err_msg=str(case))
        elif case in AIHWKIT_NOISY:
            # same distribution: the std of the perturbation within 5 standard errors
            s_ours, s_theirs = (ours - w).std(), (theirs - w).std()
            assert abs(s_ours / s_theirs - 1) < 5 * np.sqrt(2 / w.size) + 0.005, case
            assert abs((ours - w).mean() - (theirs - w).mean()) < 5 * s_theirs / np.sqrt(w.size / 2)
        else:
            p = case["pdrop"]
            f_ours, f_theirs = np.mean(ours == 0), np.mean(theirs == 0)
            assert abs(f_ours - f_theirs) < 5 * np.sqrt(2 * p * (1 - p) / w.size), case
            kept = theirs != 0
            np.testing.assert_array_equal(theirs[kept], w[kept])
