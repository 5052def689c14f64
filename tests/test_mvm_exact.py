"""Deterministic analog MVM paths: every noise source off, rpu against the NumPy reference.

The reference (``tests/mvm_reference.py``) follows spec training.md §1 / inference.md §6 (aihwkit's
C++ CPU path) one input vector at a time. It was checked against aihwkit 1.1.0 itself (float32 C++,
``out_noise=0``) on all the configurations below: identical outputs for every case when run in
float32 arithmetic.

Tiles here are float64 unless a test says otherwise, so the reference (also float64) must agree to
~1e-12. Inputs and weights are random (or chosen by hand away from rounding ties), so a rounding
decision of the DAC/ADC never sits within a few ulps of a tie and a different summation order
cannot flip it. The float32 tests at the end compare with a tolerance and a small, justified
mismatch count.
"""

import re

import numpy as np
import pytest

import rpu
from rpu.config import (
    AnalogMVType,
    BoundManagementType,
    ConstantStepDevice, IdealDevice,
    FloatingPointRPUConfig,
    IOParameters,
    NoiseManagementType,
    SingleRPUConfig,
)

from mvm_reference import ReferenceMVM

NM = NoiseManagementType
BM = BoundManagementType
MV = AnalogMVType

# ``AnalogTile``'s docstring states two intended deviations from aihwkit's C++ CPU path, both
# marked [bug?] in the spec. The tests follow the tile's documented choice; flip these to test the
# aihwkit behaviour instead.
#   * AverageAbsMax running value: C++ shares one value between forward and backward.
AVERAGE_ABS_MAX_SHARED_FWD_BWD = False
#   * bm_test_negative_bound=False: C++ *assigns* passed = True on a negative overflow.
BM_NEGATIVE_BOUND_ASSIGN_QUIRK = False

SEED = 1234


# ----------------------------------------------------------------------------------------- helpers
def quiet(**kw):
    """IOParameters with the output noise off (every other noise source is off by default)."""
    kw.setdefault("out_noise", 0.0)
    return IOParameters(**kw)


def make_tile(out_size, in_size, fwd=None, bwd=None, weights=None, dtype=np.float64, seed=SEED, **kw):
    cfg = SingleRPUConfig(
        # IdealDevice: no device bounds, so set_weights keeps the weights exactly (the MVM is
        # what these tests are about; ConstantStep devices would clip to their dtod bounds).
        device=IdealDevice(),
        forward=fwd if fwd is not None else quiet(),
        backward=bwd if bwd is not None else quiet(),
    )
    tile = rpu.AnalogTile(out_size, in_size, rpu_config=cfg, dtype=dtype, seed=seed, **kw)
    if weights is not None:
        tile.set_weights(weights)
    return tile


def reference_for(tile, fwd=None, bwd=None, dtype=np.float64, **kw):
    """A reference bound to the tile's config and fixed per-line draws."""
    cfg = tile.rpu_config
    kw.setdefault("shared_nm_state", AVERAGE_ABS_MAX_SHARED_FWD_BWD)
    kw.setdefault("bm_negative_assign_quirk", BM_NEGATIVE_BOUND_ASSIGN_QUIRK)
    return ReferenceMVM(
        cfg.forward if fwd is None else fwd,
        cfg.backward if bwd is None else bwd,
        tile.get_d_size(),
        tile.get_x_size(),
        fwd_params=tile.get_forward_parameters(),
        bwd_params=tile.get_backward_parameters(),
        dtype=dtype,
        **kw,
    )


def assert_close(actual, desired, rtol=1e-12, atol=1e-12):
    """float64 tile vs float64 reference: equal up to summation-order rounding."""
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    scale = max(1.0, float(np.max(np.abs(desired))) if desired.size else 1.0)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol * scale)


def rng(seed=0):
    return np.random.default_rng(seed)


def uniform(shape, a, seed=0):
    return rng(seed).uniform(-a, a, shape)


def check_forward(tile, x, ref=None, **ref_kw):
    ref = ref if ref is not None else reference_for(tile, **ref_kw)
    y = tile.forward(x)
    assert y.dtype == tile.dtype
    y_ref = ref.forward(tile.get_weights(), np.asarray(x, dtype=np.float64))
    assert_close(y, y_ref)
    return y, ref


def check_backward(tile, d, ref=None, **ref_kw):
    ref = ref if ref is not None else reference_for(tile, **ref_kw)
    z = tile.backward(d)
    z_ref = ref.backward(tile.get_weights(), np.asarray(d, dtype=np.float64))
    assert_close(z, z_ref)
    return z, ref


# Data used by many tests: 8 x 16 tile, inputs ~ N(0, 1).
W8 = uniform((8, 16), 0.5, seed=1)
X64 = rng(2).standard_normal((64, 16))


# ------------------------------------------------------------------------ defaults, quantisation
def test_default_io_noise_off_matches_reference():
    tile = make_tile(8, 16, weights=W8)
    y, ref = check_forward(tile, X64)
    # the defaults quantise: NM AbsMax, DAC 2/126, ADC 24/510
    nu = np.max(np.abs(X64), axis=1)
    assert np.allclose(ref.nus, nu)
    levels = y / nu[:, None] / (24 / 510)
    assert np.allclose(levels, np.rint(levels), atol=1e-9)
    assert np.all(ref.rhos == 1)  # no overflow with these weights


def test_default_output_is_close_to_exact_product():
    tile = make_tile(8, 16, weights=W8)
    y = tile.forward(X64)
    exact = X64 @ W8.T
    nu = np.max(np.abs(X64), axis=1, keepdims=True)
    # DAC error <= q_in/2 per input, ADC error <= q_out/2, both in units of nu
    bound = nu * (np.abs(W8).sum(1) * (1 / 126) + 12 / 510) + 1e-12
    assert np.all(np.abs(y - exact) <= bound)


def big_weights():
    """Weights whose outputs overflow out_bound = 12 for most inputs (row 0 up to rho = 16)."""
    W = uniform((8, 16), 8.0, seed=3)
    W[0] *= 3
    return W


def test_bound_management_iterative_large_inputs():
    W = big_weights()
    tile = make_tile(8, 16, weights=W)
    x = np.vstack([X64 * 10, 10 * np.sign(W)])
    _, ref = check_forward(tile, x)
    # the test does exercise every BM round
    assert set(np.unique(ref.rhos)) == {1, 2, 4, 8, 16}


def test_bound_management_reaches_rho_16_and_stops():
    # spec §1.8 [run-1.1.0]: W = 1_{1x400}, x = 1 gives exactly 12 * 16 = 192
    tile = make_tile(1, 400, fwd=quiet(), weights=np.ones((1, 400)))
    y = tile.forward(np.ones((3, 400)))
    np.testing.assert_array_equal(y, np.full((3, 1), 192.0))
    y = tile.forward(-np.ones((1, 400)))
    np.testing.assert_array_equal(y, [[-192.0]])


def test_bound_management_mixed_batch_is_per_sample():
    W = np.ones((1, 400))
    tile = make_tile(1, 400, weights=W)
    x = np.vstack([np.ones(400), np.r_[np.ones(10), np.zeros(390)], np.r_[np.ones(30), np.zeros(370)],
                   np.full(400, 0.01)])  # NM scales the last row up to the first
    y, ref = check_forward(tile, x)
    assert y[0, 0] == 192.0
    assert list(ref.rhos) == [16, 1, 4, 16]


def test_bound_management_none_clips_at_out_bound():
    tile = make_tile(1, 400, fwd=quiet(bound_management=BM.NONE), weights=np.ones((1, 400)))
    np.testing.assert_array_equal(tile.forward(np.ones((1, 400))), [[12.0]])
    np.testing.assert_array_equal(tile.forward(-np.ones((1, 400))), [[-12.0]])
    W = big_weights()
    tile = make_tile(8, 16, fwd=quiet(bound_management=BM.NONE), weights=W)
    y, _ = check_forward(tile, X64 * 10)
    nu = np.max(np.abs(X64 * 10), axis=1, keepdims=True)
    assert np.all(np.abs(y) <= 12.0 * nu * (1 + 1e-12))
    assert np.sum(np.isclose(np.abs(y), 12.0 * nu, rtol=1e-12)) > 10  # clipping happened


def test_bound_management_max_bm_factor_stops():
    # int(rho) > max_bm_factor: rho = 1, 2, 4 -> stop after the rho = 4 pass: 12 * 4
    tile = make_tile(1, 400, fwd=quiet(max_bm_factor=3), weights=np.ones((1, 400)))
    np.testing.assert_array_equal(tile.forward(np.ones((1, 400))), [[48.0]])


def test_bound_management_max_bm_res_stop_rule():
    # max_bm_res / q_in = 0.5 / (2/126) = 31.5 -> rho = 32 is the last pass: u = 1/32 -> DAC level 2
    # (1/32 / q_in = 1.97), u = 2 q_in; v = 400 * 2/63 = 12.7 -> clipped 12 -> accepted: 12 * 32
    tile = make_tile(1, 400, fwd=quiet(max_bm_res=0.5), weights=np.ones((1, 400)))
    np.testing.assert_array_equal(tile.forward(np.ones((1, 400))), [[384.0]])


def test_bound_management_without_inp_res_goes_until_no_overflow():
    # inp_res <= 0: only max_bm_factor stops; 400 / rho <= 12 first at rho = 64
    tile = make_tile(1, 400, fwd=quiet(inp_res=-1), weights=np.ones((1, 400)))
    y, ref = check_forward(tile, np.ones((1, 400)))
    assert ref.rhos[0] == 64
    q_out = 24 / 510
    np.testing.assert_allclose(y, [[np.rint(6.25 / q_out) * q_out * 64]], rtol=1e-12)


@pytest.mark.parametrize("nm", [NM.ABS_MAX, NM.NONE, NM.ABS_MAX_NP_SUM, NM.MAX, NM.CONSTANT, NM.AVERAGE_ABS_MAX])
def test_bound_management_iterative_worst_case(nm):
    # (AverageAbsMax: the AbsMaxNPSum factor of round 1 does not touch the running value)
    W = big_weights()
    tile = make_tile(8, 16, fwd=quiet(bound_management=BM.ITERATIVE_WORST_CASE, noise_management=nm), weights=W)
    _, ref = check_forward(tile, X64 * 3)
    assert max(i.rounds for i in ref.last_info) >= 2


def test_iterative_worst_case_switches_to_npsum_and_resets_rho():
    # W = 1_{1x400}, x = 1: round 0 (AbsMax, rho 1) clips; round 1 uses nu = AbsMaxNPSum
    # = max(1, min(1/q_in * 0.25, 400 * 0.6 / 12)) = 15.75 with rho reset to 1: u = 1/15.75 ->
    # DAC level rint(63/15.75) = 4 -> v = 400 * 4 q_in = 25.4 > 12 -> rho = 2 (u level 2, v = 12.7)
    # -> rho = 4 (level 1, v = 6.35) passes.
    tile = make_tile(1, 400, fwd=quiet(bound_management=BM.ITERATIVE_WORST_CASE), weights=np.ones((1, 400)))
    y, ref = check_forward(tile, np.ones((1, 400)))
    assert ref.last_info[0].rounds == 4 and ref.rhos[0] == 4
    q_in, q_out = 2 / 126, 24 / 510
    np.testing.assert_allclose(y, [[np.rint(400 * q_in / q_out) * q_out * 15.75 * 4]], rtol=1e-12)


def test_iterative_worst_case_with_nm_none_repeats_rho_one():
    # NM None: the NPSum factor is not used for scaling, but rho is reset to 1 in round 1, so the
    # rounds are rho = 1, 1, 2, 4, 8, 16 and the result is again 12 * 16.
    tile = make_tile(1, 400, fwd=quiet(bound_management=BM.ITERATIVE_WORST_CASE, noise_management=NM.NONE),
                     weights=np.ones((1, 400)))
    y, ref = check_forward(tile, np.ones((1, 400)))
    assert ref.last_info[0].rounds == 6
    np.testing.assert_array_equal(y, [[192.0]])


def test_bm_test_negative_bound_true_counts_negative_overflow():
    for W in ([[100.0], [-100.0]], [[-100.0], [100.0]]):
        tile = make_tile(2, 1, weights=np.array(W))
        y, ref = check_forward(tile, np.ones((1, 1)))
        assert ref.rhos[0] == 16
        np.testing.assert_allclose(np.abs(y), 16 * np.rint(400 / 63 / (24 / 510)) * 24 / 510, rtol=1e-12)


def test_bm_test_negative_bound_false():
    # spec §1.6 [bug?] [run-1.1.0]: C++ gives [12, -12] for W=[[100],[-100]] (negative overflow
    # after the positive one resets "passed") and [-101.6, 101.6] for W=[[-100],[100]].
    # The tile documents the intended behaviour: only positive overflows count, in any order.
    fwd = quiet(bm_test_negative_bound=False)
    big = 16 * np.rint(400 / 63 / (24 / 510)) * 24 / 510  # 101.65
    tile = make_tile(2, 1, fwd=fwd, weights=np.array([[-100.0], [100.0]]))
    check_forward(tile, np.ones((1, 1)))
    np.testing.assert_allclose(tile.forward(np.ones((1, 1))), [[-big, big]], rtol=1e-12)
    tile = make_tile(2, 1, fwd=fwd, weights=np.array([[100.0], [-100.0]]))
    check_forward(tile, np.ones((1, 1)))
    expected = [[12.0, -12.0]] if BM_NEGATIVE_BOUND_ASSIGN_QUIRK else [[big, -big]]
    np.testing.assert_allclose(tile.forward(np.ones((1, 1))), expected, rtol=1e-12)
    # only negative overflow: not tested -> accepted at rho = 1, clipped
    tile = make_tile(1, 1, fwd=fwd, weights=np.array([[-100.0]]))
    np.testing.assert_array_equal(tile.forward(np.ones((1, 1))), [[-12.0]])


# ----------------------------------------------------------------------------- noise management
NM_CASES = [
    (NM.NONE, 0.0),
    (NM.NONE, 0.7),  # nm_thres is forced to 0 with NM None
    (NM.ABS_MAX, 0.0),
    (NM.ABS_MAX, 0.7),
    (NM.MAX, 0.0),
    (NM.MAX, 0.7),
    (NM.CONSTANT, 0.0),
    (NM.CONSTANT, 2.0),
    (NM.ABS_MAX_NP_SUM, 0.0),
    (NM.ABS_MAX_NP_SUM, 0.7),
]


@pytest.mark.parametrize("nm,thres", NM_CASES, ids=[f"{n.name}-{t}" for n, t in NM_CASES])
def test_noise_management_types(nm, thres):
    W = uniform((8, 16), 1.0, seed=5)
    tile = make_tile(8, 16, fwd=quiet(noise_management=nm, nm_thres=thres), weights=W)
    x = np.vstack([X64 * 0.8, -np.abs(X64[:4])])  # the last 4 rows are all negative
    _, ref = check_forward(tile, x)
    m = np.max(np.abs(x), axis=1)
    if nm == NM.ABS_MAX:
        np.testing.assert_allclose(ref.nus, np.minimum(m, thres) if thres > 0 else m)
    elif nm == NM.CONSTANT:
        np.testing.assert_allclose(ref.nus, thres if thres > 0 else 1.0)


def test_noise_management_max_all_negative_gives_zero():
    tile = make_tile(8, 16, fwd=quiet(noise_management=NM.MAX), weights=W8)
    x = -np.abs(X64[:5])
    np.testing.assert_array_equal(tile.forward(x), np.zeros((5, 8)))


def test_noise_management_abs_max_nm_thres_saturates_inputs():
    # nm_thres caps nu: inputs above nm_thres map beyond inp_bound and are clipped by the DAC
    tile = make_tile(1, 4, fwd=quiet(nm_thres=0.5, bound_management=BM.NONE, inp_res=0, out_res=0),
                     weights=np.ones((1, 4)))
    y = tile.forward(np.array([[2.0, 0.25, -0.1, 0.0]]))
    np.testing.assert_allclose(y, [[0.5 * (1.0 + 0.5 - 0.2)]], rtol=1e-12)


def test_noise_management_none_clips_inputs_at_inp_bound():
    tile = make_tile(1, 3, fwd=quiet(noise_management=NM.NONE, inp_res=0, out_res=0, bound_management=BM.NONE),
                     weights=np.ones((1, 3)))
    np.testing.assert_allclose(tile.forward(np.array([[5.0, -0.5, 0.25]])), [[0.75]], rtol=1e-12)


def test_noise_management_abs_max_np_sum_factor():
    # nu = max(m, min(m / q_in * max_bm_res, S * 0.6 / out_bound)); here S = 40, m = 1:
    # min(15.75, 2.0) = 2.0
    tile = make_tile(1, 40, fwd=quiet(noise_management=NM.ABS_MAX_NP_SUM, inp_res=0, out_res=0),
                     weights=np.full((1, 40), 0.1))
    y, ref = check_forward(tile, np.ones((1, 40)))
    assert ref.nus[0] == pytest.approx(2.0)
    np.testing.assert_allclose(y, [[4.0]], rtol=1e-12)


def test_noise_management_abs_max_np_sum_infinite_out_bound():
    # B = 1 when out_bound is infinite: nu = max(m, min(m / q_in * 0.25, S * 0.6))
    W = uniform((8, 16), 0.3, seed=5)
    tile = make_tile(8, 16, fwd=quiet(noise_management=NM.ABS_MAX_NP_SUM, out_bound=0.0), weights=W)
    _, ref = check_forward(tile, X64)
    S = np.maximum(np.clip(X64, 0, None).sum(1), -np.clip(X64, None, 0).sum(1))
    m = np.abs(X64).max(1)
    np.testing.assert_allclose(ref.nus, np.maximum(m, np.minimum(m * 63 * 0.25, S * 0.6)), rtol=1e-12)


def test_noise_management_average_abs_max_running_value_forward():
    # per vector in batch order: a = m_1, then a <- (1 - 1e-3) a + 1e-3 m; kept across calls
    W = uniform((8, 16), 1.0, seed=6)
    tile = make_tile(8, 16, fwd=quiet(noise_management=NM.AVERAGE_ABS_MAX), weights=W)
    ref = reference_for(tile)
    Wt = tile.get_weights()
    for k, x in enumerate((X64[:10] * 3, X64[10:40], X64[40:41] * 0.1)):
        y = tile.forward(x)
        assert_close(y, ref.forward(Wt, x))
    m = np.max(np.abs(np.vstack([X64[:10] * 3, X64[10:40], X64[40:41] * 0.1])), axis=1)
    a = m[0]
    for v in m[1:]:
        a = (1 - 1e-3) * a + 1e-3 * v
    assert ref.nus[-1] == pytest.approx(a, rel=1e-12)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_noise_management_average_abs_max_ignores_nm_thres(direction):
    # aihwkit's computeNoiseManagement caps AbsMax, Max and AbsMaxNPSum with nm_thres but
    # averages the raw maxima for AverageAbsMax; rpu capped them too (outputs off by a factor
    # ~ max|x| / nm_thres). Checked against aihwkit 1.1.0 on one case: equal to 5e-7.
    io = quiet(noise_management=NM.AVERAGE_ABS_MAX, nm_thres=0.3)
    W = uniform((6, 16), 1.0, seed=7)
    tile = make_tile(6, 16, fwd=io, bwd=io, weights=W)
    uncapped = make_tile(6, 16, fwd=quiet(noise_management=NM.AVERAGE_ABS_MAX), weights=W,
                         bwd=quiet(noise_management=NM.AVERAGE_ABS_MAX))
    if direction == "forward":
        y, ref = check_forward(tile, X64[:12] * 3)
        np.testing.assert_array_equal(y, uncapped.forward(X64[:12] * 3))
    else:
        d = X64[:12, :6] * 3
        y, ref = check_backward(tile, d)
        np.testing.assert_array_equal(y, uncapped.backward(d))
    assert min(ref.nus) > 0.3  # the running average of maxima ~ 3, not capped at 0.3


def test_noise_management_average_abs_max_first_vector_zero():
    # the first vector sets the running value to its abs-max (0 here, so its output is 0), the
    # next ones decay from 0: nu = 1e-3 * m is tiny and the inputs saturate the DAC.
    tile = make_tile(8, 16, fwd=quiet(noise_management=NM.AVERAGE_ABS_MAX), weights=W8)
    x = np.vstack([np.zeros(16), X64[:5]])
    y, _ = check_forward(tile, x)
    np.testing.assert_array_equal(y[0], 0.0)


def test_noise_management_average_abs_max_forward_backward_state():
    # spec §1.3 [bug?]: on the CPU one running value is shared by forward and backward. The tile
    # documents one value per direction (AVERAGE_ABS_MAX_SHARED_FWD_BWD above selects which).
    io = quiet(noise_management=NM.AVERAGE_ABS_MAX)
    W = uniform((8, 16), 1.0, seed=7)
    tile = make_tile(8, 16, fwd=io, bwd=io, weights=W)
    ref = reference_for(tile)
    Wt = tile.get_weights()
    d = rng(8).standard_normal((5, 8)) * 4
    assert_close(tile.forward(X64[:10] * 3), ref.forward(Wt, X64[:10] * 3))
    assert_close(tile.backward(d), ref.backward(Wt, d))
    assert_close(tile.forward(X64[10:20]), ref.forward(Wt, X64[10:20]))


# ------------------------------------------------------------------------- resolutions and bounds
def test_resolution_greater_than_one_means_number_of_steps():
    a = make_tile(8, 16, fwd=quiet(inp_res=254, out_res=1000), weights=W8)
    b = make_tile(8, 16, fwd=quiet(inp_res=1 / 254, out_res=1 / 1000), weights=W8)
    ya, _ = check_forward(a, X64)
    yb = b.forward(X64)
    assert_close(ya, yb)
    nu = np.max(np.abs(X64), axis=1, keepdims=True)
    levels = ya / nu / (24 / 1000)
    assert np.allclose(levels, np.rint(levels), atol=1e-9)


@pytest.mark.parametrize("res", [0.0, -1.0])
def test_resolution_non_positive_means_no_quantisation(res):
    tile = make_tile(8, 16, fwd=quiet(inp_res=res, out_res=res), weights=W8)
    y, _ = check_forward(tile, X64)
    assert_close(y, X64 @ W8.T)  # no clipping with these weights, no quantisation


@pytest.mark.parametrize("out_bound", [0.0, -1.0])
def test_out_bound_non_positive_is_infinite_and_unquantised(out_bound):
    # the ADC step is computed from the non-positive bound: <= 0 -> no output quantisation
    W = big_weights()
    for bm in (BM.ITERATIVE, BM.NONE):
        tile = make_tile(8, 16, fwd=quiet(out_bound=out_bound, bound_management=bm), weights=W)
        y, ref = check_forward(tile, X64 * 3)
        assert np.all(ref.rhos == 1)
        # some outputs are beyond the (would-be) bound 12 in units of nu
        assert np.max(np.abs(y) / ref.nus[:, None]) > 12
    tile = make_tile(1, 400, fwd=quiet(out_bound=out_bound), weights=np.ones((1, 400)))
    np.testing.assert_allclose(tile.forward(np.ones((1, 400))), [[400.0]], rtol=1e-12)


def test_inp_bound_non_positive_is_infinite_with_nm_none():
    tile = make_tile(1, 3, fwd=quiet(noise_management=NM.NONE, inp_bound=0.0, out_res=0,
                                     bound_management=BM.NONE), weights=np.ones((1, 3)))
    # inp_bound 0: the DAC step is 0 too (no quantisation) and nothing is clipped
    np.testing.assert_allclose(tile.forward(np.array([[5.0, -0.5, 0.3]])), [[4.8]], rtol=1e-12)


def test_inp_bound_other_than_one_with_nm_is_rejected():
    # C++ stops with a fatal error; rpu should refuse the config (ValueError / ConfigError)
    with pytest.raises(ValueError, match="inp_bound"):
        make_tile(2, 3, fwd=quiet(inp_bound=2.0))


# ----------------------------------------------------------------------- asymmetries, out_scale
@pytest.mark.parametrize("a", [0.3, -0.3])
def test_inp_asymmetry(a):
    tile = make_tile(8, 16, fwd=quiet(inp_asymmetry=a), weights=W8)
    y, _ = check_forward(tile, X64)
    assert not np.allclose(y, make_tile(8, 16, weights=W8).forward(X64))


def test_inp_asymmetry_by_hand():
    tile = make_tile(1, 2, fwd=quiet(inp_asymmetry=0.25, inp_res=0, out_res=0, noise_management=NM.NONE),
                     weights=np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(tile.forward(np.array([[0.5, -0.5]])), [[0.5 - 0.375]], rtol=1e-12)


@pytest.mark.parametrize("a", [0.2, -0.2])
def test_out_asymmetry(a):
    # only applied if > 0 (negative outputs times 1 - a); a < 0 is ignored
    tile = make_tile(8, 16, fwd=quiet(out_asymmetry=a), weights=W8)
    y, _ = check_forward(tile, X64)
    y0 = make_tile(8, 16, weights=W8).forward(X64)
    if a < 0:
        assert_close(y, y0)
    else:
        assert np.all(y[y0 > 0] == y0[y0 > 0])
        assert not np.allclose(y[y0 < 0], y0[y0 < 0])


def test_out_scale():
    tile = make_tile(8, 16, fwd=quiet(out_scale=2.5), weights=W8)
    y, _ = check_forward(tile, X64)
    assert_close(y, 2.5 * make_tile(8, 16, weights=W8).forward(X64))


def test_out_scale_with_nm_none_and_no_bm():
    # scaling is false, but out_scale != 1 still rescales
    tile = make_tile(8, 16, fwd=quiet(out_scale=0.5, noise_management=NM.NONE, bound_management=BM.NONE),
                     weights=W8)
    check_forward(tile, np.clip(X64, -1, 1))


@pytest.mark.parametrize("how", ["is_perfect", "ideal"])
def test_is_perfect(how):
    # y = out_scale * W x exactly; every other setting (noise included) ignored
    kw = dict(out_noise=0.5, inp_noise=0.3, w_noise=0.2, out_scale=2.5, out_bound=0.1, inp_res=3,
              ir_drop=1.0, out_nonlinearity=1.0)
    fwd = IOParameters(is_perfect=True, **kw) if how == "is_perfect" else IOParameters(mv_type=MV.IDEAL, **kw)
    tile = make_tile(8, 16, fwd=fwd, weights=W8)
    y = tile.forward(X64 * 10)
    assert_close(y, 2.5 * (X64 * 10) @ W8.T)


def test_floating_point_tile_is_exact():
    tile = rpu.FloatingPointTile(8, 16, rpu_config=FloatingPointRPUConfig(), dtype=np.float64, seed=SEED)
    tile.set_weights(W8)
    assert_close(tile.forward(X64 * 100), (X64 * 100) @ W8.T)
    d = rng(3).standard_normal((5, 8))
    assert_close(tile.backward(d), d @ W8)


# --------------------------------------------------------------------------------- zero inputs
def test_all_zero_input_with_nm_gives_exact_zero_even_with_output_noise():
    # NM on, nu = 0 and inp_noise = 0 -> output exactly 0, no output noise
    tile = make_tile(8, 16, fwd=IOParameters(out_noise=0.5), weights=W8)
    x = np.zeros((4, 16))
    np.testing.assert_array_equal(tile.forward(x), np.zeros((4, 8)))
    tile = make_tile(8, 16, bwd=IOParameters(out_noise=0.5, inp_noise=0.5), weights=W8)
    np.testing.assert_array_equal(tile.backward(np.zeros((4, 8))), np.zeros((4, 16)))


def test_all_zero_input_with_nm_none_noise_off():
    tile = make_tile(8, 16, fwd=quiet(noise_management=NM.NONE), weights=W8)
    np.testing.assert_array_equal(tile.forward(np.zeros((4, 16))), np.zeros((4, 8)))


def test_zero_rows_in_a_batch_do_not_affect_others():
    tile = make_tile(8, 16, weights=W8)
    x = X64[:6].copy()
    x[[1, 4]] = 0.0
    y, _ = check_forward(tile, x)
    np.testing.assert_array_equal(y[[1, 4]], 0.0)


# ---------------------------------------------------------------------------- non-idealities
def test_ir_drop():
    fwd = quiet(ir_drop=1.0, ir_drop_g_ratio=100.0)
    tile = make_tile(8, 16, fwd=fwd, weights=W8)
    y, _ = check_forward(tile, X64)
    y0 = make_tile(8, 16, fwd=quiet(inp_res=0, out_res=0), weights=W8).forward(X64)
    y1 = make_tile(8, 16, fwd=quiet(ir_drop=1.0, ir_drop_g_ratio=100.0, inp_res=0, out_res=0),
                   weights=W8).forward(X64)
    assert np.max(np.abs(y1 - y0)) > 1e-3  # the test does see IR drop


def test_ir_drop_by_hand():
    # n = 2, W = [[1, 1]], u = [1, 1]: current 2, a = 2 * 2 / g, c = a (a (0.05 a - 0.2) + 0.5),
    # u' = u (1 - (1 - j/n)^2) = [0, 0.75]; y = 2 - c * ir_drop * 0.75
    g, ird = 10.0, 2.0
    tile = make_tile(1, 2, fwd=quiet(ir_drop=ird, ir_drop_g_ratio=g, inp_res=0, out_res=0,
                                     bound_management=BM.NONE), weights=np.ones((1, 2)))
    a = 2 * 2 / g
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    np.testing.assert_allclose(tile.forward(np.ones((1, 2))), [[2 - c * ird * 0.75]], rtol=1e-12)


def test_ir_drop_backward():
    bwd = quiet(ir_drop=2.0, ir_drop_g_ratio=50.0)
    tile = make_tile(8, 16, bwd=bwd, weights=W8)
    check_backward(tile, rng(10).standard_normal((16, 8)))


@pytest.mark.parametrize("slope", [0.0, 0.5])
def test_out_nonlinearity(slope):
    W = uniform((8, 16), 2.0, seed=11)
    fwd = quiet(out_nonlinearity=0.5, out_nonlinearity_std=0.0, slope_calibration=slope)
    tile = make_tile(8, 16, fwd=fwd, weights=W)
    params = tile.get_forward_parameters()
    np.testing.assert_allclose(params["out_nonlinearity"], np.full(8, 0.5 / 12), rtol=1e-12)
    nlf = (1 + 0.5 / 12 * slope * 12) ** 2 if slope > 0 else 1.0
    assert float(params["out_nonlinearity_factor"]) == pytest.approx(nlf, rel=1e-12)
    check_forward(tile, X64)


def test_out_nonlinearity_infinite_out_bound():
    # n_i = |out_nonlinearity / B| with B = 1 when out_bound is infinite
    W = uniform((8, 16), 2.0, seed=11)
    tile = make_tile(8, 16, fwd=quiet(out_nonlinearity=0.2, out_bound=0.0), weights=W)
    np.testing.assert_allclose(tile.get_forward_parameters()["out_nonlinearity"], 0.2, rtol=1e-12)
    check_forward(tile, X64)


def test_setting_v_offset_switches_offsets_on():
    # rpu's documented choice (AnalogTile.set_forward_parameters): setting an array switches its
    # effect on, also with v_offset_std = r_series = 0. (aihwkit's C++ would ignore the loaded
    # offsets then, since hasVoltageOffsets() only looks at v_offset_std / r_series / v_offset_vec.)
    tile = make_tile(8, 16, weights=W8)
    offsets = np.linspace(0.0, 0.2, 8)
    tile.set_forward_parameters({"v_offset": offsets})
    check_forward(tile, X64, force_offsets=True)


def test_out_nonlinearity_with_spread_uses_tile_draws():
    W = uniform((8, 16), 2.0, seed=11)
    fwd = quiet(out_nonlinearity=0.5, out_nonlinearity_std=0.3, slope_calibration=0.5)
    tile = make_tile(8, 16, fwd=fwd, weights=W)
    n = tile.get_forward_parameters()["out_nonlinearity"]
    assert np.all(n >= 0) and np.std(n) > 0
    f = 1 + np.mean(n) * 0.5 * 12
    assert float(tile.get_forward_parameters()["out_nonlinearity_factor"]) == pytest.approx(f * f, rel=1e-9)
    check_forward(tile, X64)


@pytest.mark.parametrize("w_min", [-1.0, 0.0])
def test_v_offset_set_via_forward_parameters(w_min):
    tile = make_tile(8, 16, fwd=quiet(v_offset_std=0.1, v_offset_w_min=w_min), weights=W8)
    drawn = tile.get_forward_parameters()["v_offset"]
    assert drawn.shape == (8,) and np.all(drawn >= 0)  # offsets are never negative
    check_forward(tile, X64)
    tile.set_forward_parameters({"v_offset": np.linspace(0.0, 0.2, 8)})
    np.testing.assert_allclose(tile.get_forward_parameters()["v_offset"], np.linspace(0.0, 0.2, 8))
    check_forward(tile, X64)


def test_v_offset_by_hand():
    # v_offset_w_min = -1, r_series = 0: v <- v (1 - o) - 2 o sum(u)
    tile = make_tile(2, 2, fwd=quiet(v_offset_std=0.1, inp_res=0, out_res=0, bound_management=BM.NONE,
                                     noise_management=NM.NONE), weights=np.array([[0.5, 0.25], [1.0, -1.0]]))
    tile.set_forward_parameters({"v_offset": np.array([0.0, 0.1])})
    u = np.array([0.5, -0.25])
    v = np.array([0.25 - 0.0625, 0.75])
    expected = v * (1 - np.array([0.0, 0.1])) - 2 * np.array([0.0, 0.1]) * u.sum()
    np.testing.assert_allclose(tile.forward(u[None]), expected[None], rtol=1e-12)


@pytest.mark.parametrize("w_min,v_std,slope", [(-1.0, 0.0, 0.0), (0.0, 0.0, 0.0), (-1.0, 0.1, 0.0),
                                               (0.0, 0.1, 0.0), (-1.0, 0.0, 0.5)])
def test_r_series(w_min, v_std, slope):
    fwd = quiet(r_series=0.05, v_offset_std=v_std, v_offset_w_min=w_min, slope_calibration=slope)
    tile = make_tile(8, 16, fwd=fwd, weights=W8)
    if v_std == 0:
        np.testing.assert_array_equal(tile.get_forward_parameters()["v_offset"], 0.0)
    y, _ = check_forward(tile, X64)
    y0 = make_tile(8, 16, weights=W8).forward(X64)
    assert not np.allclose(y, y0)


@pytest.mark.parametrize("mv", [MV.POS_NEG_SEPARATE, MV.POS_NEG_SEPARATE_DIGITAL_SUM])
@pytest.mark.parametrize("extra", ["plain", "ir_drop", "read_asymmetry", "bm_none"])
def test_pos_neg_modes(mv, extra):
    kw = dict(mv_type=mv)
    if extra == "ir_drop":
        kw.update(ir_drop=1.0, ir_drop_g_ratio=100.0, inp_asymmetry=0.1)
    elif extra == "read_asymmetry":
        kw.update(w_read_asymmetry_dtod=0.2)
    elif extra == "bm_none":
        kw.update(bound_management=BM.NONE)
    W = big_weights()
    tile = make_tile(8, 16, fwd=quiet(**kw), weights=W)
    if extra == "read_asymmetry":
        wa = tile.get_forward_parameters()["w_asymmetry"]
        assert wa.shape == (8, 16) and np.std(wa) > 0
    y, ref = check_forward(tile, X64 * 3)
    if extra != "bm_none":
        assert ref.rhos.max() > 1


def test_pos_neg_digital_sum_quantises_each_pass():
    # ADC step 0.25 (out_res 0.125, out_bound 1), no DAC quantisation, W = [[1, 1]], u = [0.4, -0.1]:
    # one pass / PosNegSeparate quantise the sum 0.3 -> 0.25; the digital sum quantises
    # 0.4 -> 0.5 and -0.1 -> 0 and adds them: 0.5.
    io = dict(noise_management=NM.NONE, inp_res=0, out_res=0.125, out_bound=1.0, bound_management=BM.NONE)
    x = np.array([[0.4, -0.1]])
    results = {}
    for mv in (MV.ONE_PASS, MV.POS_NEG_SEPARATE, MV.POS_NEG_SEPARATE_DIGITAL_SUM):
        tile = make_tile(1, 2, fwd=quiet(mv_type=mv, **io), weights=np.ones((1, 2)))
        results[mv] = check_forward(tile, x)[0][0, 0]
    assert results[MV.ONE_PASS] == pytest.approx(0.25, abs=1e-15)
    assert results[MV.POS_NEG_SEPARATE] == pytest.approx(0.25, abs=1e-15)
    assert results[MV.POS_NEG_SEPARATE_DIGITAL_SUM] == pytest.approx(0.5, abs=1e-15)


# ------------------------------------------------------------------ bias, layouts, batch shapes
def test_bias_column_goes_through_nm_and_dac():
    W = uniform((8, 17), 0.5, seed=13)
    tile = make_tile(8, 16, weights=W, bias=True)
    assert tile.get_weights().shape == (8, 17)
    x = X64 * 0.3
    y = tile.forward(x)
    ref = reference_for(tile)
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    assert_close(y, ref.forward(W, xb))
    assert np.all(ref.nus >= 1)  # the constant 1 takes part in AbsMax


def test_bias_backward_drops_bias_line():
    W = uniform((8, 17), 0.5, seed=13)
    tile = make_tile(8, 16, weights=W, bias=True)
    d = rng(14).standard_normal((10, 8))
    z = tile.backward(d)
    assert z.shape == (10, 16)
    assert_close(z, reference_for(tile).backward(W, d)[:, :16])


def test_in_trans_out_trans():
    base = make_tile(8, 16, weights=W8)
    y = base.forward(X64)
    for in_t, out_t in [(True, False), (False, True), (True, True)]:
        tile = make_tile(8, 16, weights=W8, in_trans=in_t, out_trans=out_t)
        x = X64.T if in_t else X64
        yt = tile.forward(x)
        assert_close(yt, y.T if out_t else y)
        d = rng(15).standard_normal((64, 8))
        zb = base.backward(d)
        zt = tile.backward(d.T if out_t else d)
        assert_close(zt, zb.T if in_t else zb)


def test_in_trans_with_leading_dims():
    tile = make_tile(8, 16, weights=W8, in_trans=True, out_trans=True)
    x = X64[:6].reshape(2, 3, 16)
    y = tile.forward(np.moveaxis(x, -1, 0))  # (16, 2, 3)
    assert y.shape == (8, 2, 3)
    assert_close(np.moveaxis(y, 0, -1), make_tile(8, 16, weights=W8).forward(x))


def test_leading_batch_dimensions():
    tile = make_tile(8, 16, weights=W8)
    x = X64[:6].reshape(2, 3, 16)
    y = tile.forward(x)
    assert y.shape == (2, 3, 8)
    assert_close(y.reshape(6, 8), make_tile(8, 16, weights=W8).forward(X64[:6]))
    d = rng(16).standard_normal((2, 3, 8))
    z = tile.backward(d)
    assert z.shape == (2, 3, 16)
    assert_close(z.reshape(6, 16), tile.backward(d.reshape(6, 8)))


def test_single_vector_input():
    tile = make_tile(8, 16, weights=W8)
    y = tile.forward(X64[0])
    assert y.shape == (8,)
    assert_close(y, tile.forward(X64[:1])[0])
    z = tile.backward(np.ones(8))
    assert z.shape == (16,)


def test_list_and_non_contiguous_inputs():
    tile = make_tile(8, 16, weights=W8)
    y = tile.forward(X64[:4])
    assert_close(tile.forward(X64[:4].tolist()), y)
    big = np.zeros((4, 32))
    big[:, ::2] = X64[:4]
    assert_close(tile.forward(big[:, ::2]), y)  # strided view
    assert_close(tile.forward(np.asfortranarray(X64[:4])), y)
    assert_close(tile.forward(X64[:4].astype(np.float32)), make_tile(8, 16, weights=W8).forward(
        X64[:4].astype(np.float32).astype(np.float64)))


def test_forward_does_not_modify_input():
    tile = make_tile(8, 16, weights=W8)
    x = X64.copy()
    tile.forward(x)
    np.testing.assert_array_equal(x, X64)


# ---------------------------------------------------------------------------------- backward
def test_backward_uses_backward_io_on_transposed_weights():
    W = uniform((8, 16), 1.0, seed=17)  # |z| <= 8 < out_bound: no clipping
    bwd = quiet(out_res=0, noise_management=NM.NONE)
    tile = make_tile(8, 16, fwd=quiet(), bwd=bwd, weights=W)
    d = np.clip(rng(18).standard_normal((32, 8)), -1, 1)
    z, _ = check_backward(tile, d)
    # backward DAC quantises (default inp_res), no ADC quantisation, no NM
    u = np.rint(d / (2 / 126)) * (2 / 126)
    assert_close(z, u @ W)


def test_backward_default_io():
    W = uniform((8, 16), 2.0, seed=17)
    tile = make_tile(8, 16, weights=W)
    check_backward(tile, rng(19).standard_normal((32, 8)) * 5)


def test_backward_bound_management_is_forced_off():
    # W = 1_{400x1}: backward sum 400 clips at 12 (no BM), even with ITERATIVE in the backward IO
    for bm in (BM.ITERATIVE, BM.ITERATIVE_WORST_CASE):
        tile = make_tile(400, 1, bwd=quiet(bound_management=bm), weights=np.ones((400, 1)))
        np.testing.assert_array_equal(tile.backward(np.ones((2, 400))), [[12.0], [12.0]])
    # ... while the forward of the transposed tile uses BM: 192
    tile = make_tile(1, 400, weights=np.ones((1, 400)))
    np.testing.assert_array_equal(tile.forward(np.ones((1, 400))), [[192.0]])


@pytest.mark.parametrize("nm", [NM.ABS_MAX, NM.MAX, NM.CONSTANT, NM.ABS_MAX_NP_SUM])
def test_backward_noise_management_types(nm):
    W = uniform((8, 16), 1.0, seed=20)
    tile = make_tile(8, 16, bwd=quiet(noise_management=nm, nm_thres=0.0), weights=W)
    d = np.vstack([rng(21).standard_normal((10, 8)), -np.abs(rng(22).standard_normal((3, 8)))])
    check_backward(tile, d)


def test_backward_max_all_negative_is_zero_even_with_inp_noise():
    tile = make_tile(8, 16, bwd=IOParameters(noise_management=NM.MAX, inp_noise=0.5, out_noise=0.5), weights=W8)
    np.testing.assert_array_equal(tile.backward(-np.ones((2, 8))), np.zeros((2, 16)))


def test_backward_out_scale_and_perfect():
    tile = make_tile(8, 16, bwd=quiet(out_scale=3.0), weights=W8)
    check_backward(tile, rng(23).standard_normal((4, 8)))
    tile = make_tile(8, 16, bwd=IOParameters(is_perfect=True, out_scale=3.0), weights=W8)
    d = rng(23).standard_normal((4, 8)) * 20
    assert_close(tile.backward(d), 3.0 * d @ W8)


def test_backward_pos_neg_with_read_asymmetry():
    W = uniform((8, 16), 1.0, seed=24)
    tile = make_tile(8, 16, bwd=quiet(mv_type=MV.POS_NEG_SEPARATE, w_read_asymmetry_dtod=0.2), weights=W)
    check_backward(tile, rng(25).standard_normal((6, 8)))


# ---------------------------------------------------------------------------------- float32
def _mismatch_count(y, y_ref, step):
    return int(np.sum(np.abs(y - y_ref) > 1e-5 * (1 + np.abs(y_ref)) + 1e-4 * step))


@pytest.mark.parametrize("fwd", [quiet(), quiet(mv_type=MV.POS_NEG_SEPARATE_DIGITAL_SUM),
                                 quiet(noise_management=NM.ABS_MAX_NP_SUM, out_nonlinearity=0.3)],
                         ids=["default", "digital_sum", "npsum_nl"])
def test_float32_tile_matches_float32_reference(fwd):
    # The reference in float32 arithmetic reproduces aihwkit's float32 C++ exactly on these data;
    # the dot products are summed in another order here, so a DAC/ADC rounding decision within an
    # ulp of a tie may flip. With random data that happens for at most a handful of the 512
    # outputs, and then only by about one ADC step (times nu).
    tile = make_tile(8, 16, fwd=fwd, weights=W8, dtype=np.float32)
    x = X64.astype(np.float32)
    y = tile.forward(x)
    assert y.dtype == np.float32
    ref = reference_for(tile, dtype=np.float32)
    y_ref = ref.forward(tile.get_weights().astype(np.float64), x.astype(np.float64))
    nu = np.max(np.abs(x), axis=1, keepdims=True)
    assert _mismatch_count(y, y_ref, 1.0) <= 3
    assert np.all(np.abs(y - y_ref) <= 1.01 * 24 / 510 * np.maximum(nu, ref.nus[:, None]) * ref.rhos[:, None] + 1e-5)


def test_float32_tile_bound_management():
    W = big_weights().astype(np.float32)
    tile = make_tile(8, 16, weights=W, dtype=np.float32)
    x = (X64 * 10).astype(np.float32)
    y = tile.forward(x)
    ref = reference_for(tile, dtype=np.float32)
    y_ref = ref.forward(W.astype(np.float64), x.astype(np.float64))
    # One row of these 64 differs: its output lands on the top ADC level 255. The float32
    # reference and rpu both compute the ADC step in float32 as aihwkit's C++ does,
    # float(1/510) * 24.0f, for which 255 * step = 12.000001 > out_bound: an output on the top
    # ADC level is a bound overflow and rho doubles (see the next test). A row can still differ
    # if float32 rounding of the GEMM moves an output across a quantisation boundary.
    bad_rows = np.any(np.abs(y - y_ref) > 1e-5 * (1 + np.abs(y_ref)) + 0.5 * 24 / 510 * np.abs(y_ref).max(), axis=1)
    assert bad_rows.sum() <= 1


def test_float32_top_adc_level_counts_as_overflow_aihwkit_parity():
    # W = [[11.99], [5]], x = 1: output 0 quantises to level 255. aihwkit float32 treats it as a
    # bound overflow and recomputes with rho = 2 (DAC level 31 or 32 of 0.5/q_in = 31.5 in
    # float32 -> 31): y = 2 * [125 q_out, 52 q_out] = [11.764707, 4.8941183].
    tile = make_tile(2, 1, weights=np.array([[11.99], [5.0]]), dtype=np.float32)
    y = tile.forward(np.ones((1, 1), np.float32))
    np.testing.assert_allclose(y, [[11.764707, 4.8941183]], rtol=1e-6)


def test_float32_saturation_192():
    tile = make_tile(1, 400, weights=np.ones((1, 400)), dtype=np.float32)
    np.testing.assert_array_equal(tile.forward(np.ones((1, 400), np.float32)), [[192.0]])


def test_float32_tile_converts_float64_input():
    tile = make_tile(8, 16, weights=W8, dtype=np.float32)
    y64 = tile.forward(X64)
    assert y64.dtype == np.float32


# ------------------------------------------------------------------------------- validation
def _names(msg, name):
    return re.search(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", msg) is not None


@pytest.mark.parametrize("bad_shape", [(4, 15), (15,), (4, 16, 3), (7, 8)])
def test_forward_wrong_last_dimension(bad_shape):
    tile = make_tile(8, 16, weights=W8)
    with pytest.raises(ValueError) as exc:
        tile.forward(np.zeros(bad_shape))
    msg = str(exc.value)
    assert _names(msg, "x") and "16" in msg, msg


def test_forward_in_trans_wrong_first_dimension():
    tile = make_tile(8, 16, weights=W8, in_trans=True)
    with pytest.raises(ValueError) as exc:
        tile.forward(np.zeros((4, 16)))
    msg = str(exc.value)
    assert _names(msg, "x") and "16" in msg, msg


def test_backward_wrong_last_dimension():
    tile = make_tile(8, 16, weights=W8)
    with pytest.raises(ValueError) as exc:
        tile.backward(np.zeros((4, 16)))
    msg = str(exc.value)
    assert _names(msg, "d") and "8" in msg, msg


@pytest.mark.parametrize("bad", [np.float64(1.0), np.array(2.0)])
def test_forward_wrong_ndim(bad):
    tile = make_tile(8, 16, weights=W8)
    with pytest.raises(ValueError) as exc:
        tile.forward(bad)
    msg = str(exc.value)
    assert _names(msg, "x") and "16" in msg, msg
    with pytest.raises(ValueError) as exc:
        tile.backward(bad)
    assert _names(str(exc.value), "d")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_forward_rejects_non_finite(value):
    tile = make_tile(8, 16, weights=W8)
    x = X64[:3].copy()
    x[1, 5] = value
    with pytest.raises(ValueError) as exc:
        tile.forward(x)
    assert _names(str(exc.value), "x"), str(exc.value)
    d = np.ones((2, 8))
    d[0, 0] = value
    with pytest.raises(ValueError) as exc:
        tile.backward(d)
    assert _names(str(exc.value), "d"), str(exc.value)


def test_float32_tile_rejects_overflowing_float64_input():
    # 1e300 is finite in float64 but inf after conversion to the tile's float32
    tile = make_tile(8, 16, weights=W8, dtype=np.float32)
    x = np.ones((1, 16))
    x[0, 0] = 1e300
    with pytest.raises(ValueError) as exc:
        tile.forward(x)
    assert _names(str(exc.value), "x")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128, object, "U3"])
def test_forward_rejects_non_floating_dtypes(dtype):
    tile = make_tile(8, 16, weights=W8)
    x = np.ones((2, 16)).astype(dtype)
    with pytest.raises((TypeError, ValueError)) as exc:
        tile.forward(x)
    assert _names(str(exc.value), "x"), str(exc.value)
    with pytest.raises((TypeError, ValueError)) as exc:
        tile.backward(np.ones((2, 8)).astype(dtype))
    assert _names(str(exc.value), "d"), str(exc.value)


def test_failed_call_leaves_tile_usable():
    tile = make_tile(8, 16, weights=W8)
    with pytest.raises(ValueError):
        tile.forward(np.full((2, 16), np.nan))
    assert_close(tile.forward(X64), make_tile(8, 16, weights=W8).forward(X64))


# ------------------------------------------------------- the reference itself against aihwkit
# Optional: keeps the reference honest. Runs only when AIHWKIT_PYTHON names an interpreter with
# aihwkit 1.1.0 (see ../shared/anchors/install-aihwkit.sh). aihwkit's C++ tile is float32 only;
# with every noise source off it is deterministic, and the reference in float32 arithmetic must
# reproduce it (up to float32 summation order: 1e-5 relative).
_AIHWKIT_WORKER = r'''
import pickle, sys, numpy as np, torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice
from aihwkit.simulator.parameters.io import IOParameters
from aihwkit.simulator.parameters.enums import (NoiseManagementType, BoundManagementType,
    WeightNoiseType, AnalogMVType)
from aihwkit.simulator.tiles import AnalogTile
ENUMS = dict(noise_management=NoiseManagementType, bound_management=BoundManagementType,
             w_noise_type=WeightNoiseType, mv_type=AnalogMVType)
def mkio(kw):
    kw = {k: (ENUMS[k](v) if k in ENUMS else v) for k, v in kw.items()}
    return IOParameters(**kw)
cases = pickle.load(open(sys.argv[1], "rb"))
res = []
for c in cases:
    dev = ConstantStepDevice(w_max=1e4, w_min=-1e4, w_max_dtod=0.0, w_min_dtod=0.0)
    cfg = SingleRPUConfig(device=dev, forward=mkio(c["fwd"]), backward=mkio(c["bwd"]))
    W = np.asarray(c["W"], np.float32)
    ct = AnalogTile(W.shape[0], W.shape[1], cfg).tile
    ct.set_weights(torch.tensor(W))
    outs = []
    for op, a in c["ops"]:
        a = torch.tensor(np.asarray(a, np.float32))
        outs.append((ct.forward(a) if op == "f" else ct.backward(a)).numpy().copy())
    extra = {k: np.asarray(v, np.float64) for k, v in ct.dump_extra().items() if "fb_pass" in k}
    res.append(dict(outs=outs, extra=extra, W=ct.get_weights().numpy().astype(np.float64)))
pickle.dump(res, open(sys.argv[2], "wb"))
'''


def _aihwkit_cases():
    def c(fwd=None, bwd=None, W=None, ops=()):
        return dict(fwd={"out_noise": 0.0, **(fwd or {})}, bwd={"out_noise": 0.0, **(bwd or {})},
                    W=W, ops=list(ops))
    Wb = big_weights()
    X = np.vstack([X64, 10 * np.sign(Wb)])
    return {
        "default": c(W=W8, ops=[("f", X64)]),
        "bm": c(W=Wb, ops=[("f", X)]),
        "bm_worst_case_none": c(fwd=dict(bound_management="IterativeWorstCase", noise_management="None"),
                                W=Wb, ops=[("f", X)]),
        "npsum_worst_case": c(fwd=dict(bound_management="IterativeWorstCase", noise_management="AbsMaxNPSum"),
                              W=Wb, ops=[("f", X)]),
        "aam_shared_fwd_bwd": c(fwd=dict(noise_management="AverageAbsMax"), bwd=dict(noise_management="AverageAbsMax"),
                                W=W8, ops=[("f", X64[:10] * 3), ("b", X64[:5, :8]), ("f", X64[10:20])]),
        "neg_bound_quirk": c(fwd=dict(bm_test_negative_bound=False), W=np.array([[100.0], [-100.0]]),
                             ops=[("f", np.ones((1, 1)))]),
        "nl_rseries_offsets": c(fwd=dict(out_nonlinearity=0.5, out_nonlinearity_std=0.2, slope_calibration=0.5,
                                         r_series=0.05, v_offset_std=0.1), W=uniform((8, 16), 2.0, seed=11),
                                ops=[("f", X64)]),
        "ir_drop_pos_neg": c(fwd=dict(mv_type="PosNegSeparateDigitalSum", ir_drop=1.0, ir_drop_g_ratio=100.0,
                                      inp_asymmetry=0.1, out_asymmetry=0.2, w_read_asymmetry_dtod=0.2),
                             W=Wb, ops=[("f", X)]),
        "backward": c(bwd=dict(out_res=254, inp_res=-1, noise_management="Max", ir_drop=2.0, ir_drop_g_ratio=50.0),
                      W=Wb, ops=[("b", rng(3).standard_normal((32, 8)))]),
        "top_adc_level": c(W=np.array([[11.99], [5.0]]), ops=[("f", np.ones((1, 1)))]),
    }


def test_reference_reproduces_aihwkit(tmp_path):
    import os
    import pickle
    import subprocess

    py = os.environ.get("AIHWKIT_PYTHON")
    if not py:
        pytest.skip("AIHWKIT_PYTHON is not set (aihwkit reference not available)")
    cases = _aihwkit_cases()
    src, dst, worker = tmp_path / "cases.pkl", tmp_path / "res.pkl", tmp_path / "worker.py"
    worker.write_text(_AIHWKIT_WORKER)
    with open(src, "wb") as f:
        pickle.dump(list(cases.values()), f)
    subprocess.run([py, str(worker), str(src), str(dst)], check=True, capture_output=True, timeout=300)
    with open(dst, "rb") as f:
        results = pickle.load(f)
    for (name, case), res in zip(cases.items(), results):
        W = res["W"]
        np.testing.assert_allclose(W, np.asarray(case["W"], np.float32), err_msg=name)

        def params(d):
            out = {}
            for k in ("v_offset", "out_nonlinearity", "out_nonlinearity_factor", "out_noise_values", "w_asymmetry"):
                v = res["extra"].get(f"rpu.fb_pass.{d}.{k}")
                if v is not None and v.size:
                    out[k] = v
            return out

        ref = ReferenceMVM(case["fwd"], case["bwd"], W.shape[0], W.shape[1], fwd_params=params("fwd"),
                           bwd_params=params("bwd"), dtype=np.float32, shared_nm_state=True,
                           bm_negative_assign_quirk=True)
        for (op, a), y in zip(case["ops"], res["outs"]):
            a = np.asarray(a, np.float32).astype(np.float64)
            y_ref = ref.forward(W, a) if op == "f" else ref.backward(W, a)
            np.testing.assert_allclose(y_ref, y, rtol=1e-5, atol=1e-5, err_msg=name)


# ------------------------------------------------------------------ randomised, against the reference
def _random_deterministic_io(rng):
    """IOParameters drawn over the deterministic settings (no noise, no stochastic rounding):
    the types of noise and bound management, resolutions, bounds, thresholds, asymmetries,
    output scale, bound-management limits, MV types and the fixed line non-idealities."""
    def pick(options):
        return options[int(rng.integers(len(options)))]

    return dict(
        out_noise=0.0,
        noise_management=pick([NM.ABS_MAX, NM.NONE, NM.ABS_MAX_NP_SUM, NM.MAX, NM.CONSTANT,
                               NM.AVERAGE_ABS_MAX]),
        bound_management=pick([BM.NONE, BM.ITERATIVE, BM.ITERATIVE_WORST_CASE]),
        inp_res=pick([0.0, -1.0, 1 / 126, 1 / 30, 0.25, 64.0]),
        out_res=pick([0.0, 1 / 510, 1 / 62, 0.1, 100.0]),
        inp_bound=pick([1.0, 1.0, 0.5, 2.0, 0.0]),
        out_bound=pick([12.0, 3.0, 0.5, 0.0, 50.0]),
        nm_thres=pick([0.0, 0.0, 0.3, 2.0]),
        inp_asymmetry=pick([0.0, 0.0, 0.1, -0.2]),
        out_asymmetry=pick([0.0, 0.0, 0.05]),
        out_scale=pick([1.0, 1.0, 0.5, 3.0]),
        max_bm_factor=pick([1000, 4, 1]),
        max_bm_res=pick([0.25, 0.5, 1.0]),
        bm_test_negative_bound=pick([True, False]),
        mv_type=pick([MV.ONE_PASS, MV.POS_NEG_SEPARATE, MV.POS_NEG_SEPARATE_DIGITAL_SUM]),
        out_nonlinearity=pick([0.0, 0.0, 0.2]),
        slope_calibration=pick([0.0, 0.0, 0.1]),
        ir_drop=pick([0.0, 0.0, 0.5]),
        r_series=pick([0.0, 0.0, 1e-3]),
    )


@pytest.mark.parametrize("seed", range(4))
def test_random_deterministic_periphery_matches_reference(seed):
    """Random combinations of the deterministic periphery settings, forward and backward, on
    random shapes and input scales (a differential run of 2400 such configurations found the
    AverageAbsMax nm_thres difference from aihwkit that
    test_noise_management_average_abs_max_ignores_nm_thres pins down)."""
    rng = np.random.default_rng(9000 + seed)
    ran = 0
    while ran < 40:
        try:
            io = IOParameters(**_random_deterministic_io(rng))
        except rpu.ConfigError:  # e.g. inp_bound != 1 with noise management (aihwkit: fatal)
            continue
        out_size, in_size = int(rng.integers(1, 12)), int(rng.integers(1, 20))
        W = rng.uniform(-1, 1, (out_size, in_size)) * float(rng.choice([0.1, 1.0, 3.0]))
        scale = float(rng.choice([0.01, 1.0, 5.0, 100.0]))
        X = rng.standard_normal((int(rng.integers(1, 6)), in_size)) * scale
        if rng.random() < 0.2:
            X[0] = 0.0
        D = rng.standard_normal((X.shape[0], out_size)) * scale
        check_forward(make_tile(out_size, in_size, fwd=io, bwd=io, weights=W), X)
        check_backward(make_tile(out_size, in_size, fwd=io, bwd=io, weights=W), D)
        ran += 1
