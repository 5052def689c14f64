"""Pulsed device models of rpu.AnalogTile against the spec (training.md §3, §6.2, §7; inference.md §1).

The NumPy reference in tests/device_reference.py (written from the spec; checked against aihwkit
1.1.0 itself in test_devices_aihwkit.py) gives, for given hidden parameters, the weights after
any number of up/down pulses. Pulse experiments use single pulses: with

    UpdateParameters(pulse_type=DETERMINISTIC_IMPLICIT, desired_bl=1, fixed_bl=True,
                     update_bl_management=False, update_management=False,
                     x_res_implicit=0, d_res_implicit=0)

and lr = g (the device's weight granularity), BL = 1 and A = B = sqrt(lr / g) = 1, so each sample
x = 1, d = -1 (+1) gives exactly one up (down) pulse to every weight (§2.3, §2.6).

Covered:
* the single-pulse protocol itself and the update sign convention;
* hidden-parameter names/order (§6.2) and construction without d2d spread (§3.2, §3.5),
  up_down, enforce_consistency, corrupt devices, perfect bias, d2d spreads (statistics);
* noise-free pulse responses of every device == reference (float64, 1e-12), up then down, into
  the bounds; with default noise, mean and spread of the response vs the reference's Monte Carlo;
* write noise (persistent weights), construction_seed, weight granularity (config and tile),
  SoftBoundsPmax derived parameters, symmetry points of the reference devices;
* decay, diffusion, post_update_step, reset_columns, drift (§3.7, inference §1), set_weights
  clipping (§3.8), get/set hidden parameters, save/load, ConfigError on invalid parameters.
"""

import math

import numpy as np
import pytest

import rpu
from rpu.config import (
    ConstantStepDevice,
    DriftParameter,
    ExpStepDevice,
    LinearStepDevice,
    PiecewiseStepDevice,
    PowStepDevice,
    PowStepReferenceDevice,
    PulseType,
    SingleRPUConfig,
    SoftBoundsDevice,
    SoftBoundsPmaxDevice,
    SoftBoundsReferenceDevice,
    UpdateParameters,
)
from rpu.errors import ConfigError

import device_reference as ref

F64 = np.float64
EXACT_TOL = 1e-12

# no device-to-device spread in the base parameters
NO_DTOD = dict(w_max_dtod=0.0, w_min_dtod=0.0, dw_min_dtod=0.0, up_down_dtod=0.0)


# ----- helpers ------------------------------------------------------------------------------------
def single_pulse_update(**kw):
    params = dict(pulse_type=PulseType.DETERMINISTIC_IMPLICIT, desired_bl=1, fixed_bl=True,
                  update_bl_management=False, update_management=False, x_res_implicit=0,
                  d_res_implicit=0)
    params.update(kw)
    return UpdateParameters(**params)


def make_tile(device, out_size=100, in_size=1, *, dtype=F64, seed=1, update=None, bias=False):
    cfg = SingleRPUConfig(device=device, update=update if update is not None else single_pulse_update())
    return rpu.AnalogTile(out_size, in_size, cfg, dtype=dtype, seed=seed, bias=bias)


def hidden(tile):
    return {k: np.asarray(v, dtype=F64) for k, v in tile.get_hidden_parameters().items()}


def stored(tile):
    """The stored weights the pulses act on (persistent weights when write noise is on)."""
    h = tile.get_hidden_parameters()
    if "persistent_weights" in h:
        return np.asarray(h["persistent_weights"], dtype=F64)
    return np.asarray(tile.get_weights(), dtype=F64)


def pulses(tile, n, up):
    """n single pulses (up or down) to every weight of a tile (one sample per pulse)."""
    x = np.ones((n, tile.in_size))
    d = np.full((n, tile.out_size), -1.0 if up else 1.0)
    tile.update(x, d)


def tile_response(tile, n_up, n_down, every, read=stored):
    rec = []
    for n, up in ((n_up, True), (n_down, False)):
        for _ in range(n // every):
            pulses(tile, every, up)
            rec.append(read(tile).copy())
    return np.array(rec)


# ----- the single-pulse protocol ----------------------------------------------------------------------
def test_single_pulse_protocol_and_sign_convention():
    dev = ConstantStepDevice(dw_min_std=0.0, **NO_DTOD)
    tile = make_tile(dev, 3, 2)
    tile.set_learning_rate(dev.dw_min)  # = g: A = B = 1, BL = 1
    tile.set_weights(np.zeros((3, 2)))
    x = np.array([[1.0, -1.0]])
    d = np.array([[1.0, -1.0, 1.0]])
    tile.update(x, d)
    # x_j d_i > 0 -> one down pulse, < 0 -> one up pulse (SGD: W -= lr d x^T)
    expected = -dev.dw_min * np.sign(np.outer(d[0], x[0]))
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=0, atol=EXACT_TOL)
    # a batch of 7 identical samples: 7 pulses each, applied sample by sample
    tile.set_weights(np.zeros((3, 2)))
    tile.update(np.repeat(x, 7, axis=0), np.repeat(d, 7, axis=0))
    np.testing.assert_allclose(tile.get_weights(), 7 * expected, rtol=0, atol=EXACT_TOL)


@pytest.mark.parametrize("ratio,n_expected", [(1.0, 1), (1.3, 1), (3.0, 1)])
def test_single_pulse_protocol_is_robust_to_lr_above_g(ratio, n_expected):
    """DeterministicImplicit clips B|x| and A|d| at 1, so lr >= g still gives one pulse (BL = 1)."""
    dev = ConstantStepDevice(dw_min_std=0.0, **NO_DTOD)
    tile = make_tile(dev, 2, 1)
    tile.set_learning_rate(ratio * dev.dw_min)
    tile.set_weights(np.zeros((2, 1)))
    tile.update(np.ones((1, 1)), -np.ones((1, 2)))
    np.testing.assert_allclose(tile.get_weights(), n_expected * dev.dw_min, rtol=0, atol=EXACT_TOL)


# ----- hidden-parameter names -----------------------------------------------------------------------
NAME_CASES = {
    "ConstantStep": ConstantStepDevice(),
    "LinearStep": LinearStepDevice(),
    "LinearStep_wn": LinearStepDevice(write_noise_std=1.0),
    "SoftBounds": SoftBoundsDevice(),
    "SoftBounds_wn": SoftBoundsDevice(write_noise_std=1.0),
    "SoftBoundsPmax": SoftBoundsPmaxDevice(),
    "SoftBoundsReference": SoftBoundsReferenceDevice(),
    "SoftBoundsReference_wn": SoftBoundsReferenceDevice(write_noise_std=1.0),
    "ExpStep": ExpStepDevice(),
    "ExpStep_wn": ExpStepDevice(write_noise_std=1.0),
    "PowStep": PowStepDevice(),
    "PowStep_wn": PowStepDevice(write_noise_std=1.0),
    "PowStepReference": PowStepReferenceDevice(),
    "PiecewiseStep": PiecewiseStepDevice(),
    "PiecewiseStep_wn": PiecewiseStepDevice(write_noise_std=1.0),
}


@pytest.mark.parametrize("name", list(NAME_CASES))
@pytest.mark.parametrize("bias", [False, True])
def test_hidden_parameter_names_and_shapes(name, bias):
    dev = NAME_CASES[name]
    tile = make_tile(dev, 4, 3, dtype=np.float32, bias=bias)
    expected = ref.hidden_parameter_names(dev)
    assert list(tile.get_hidden_parameter_names()) == expected
    h = tile.get_hidden_parameters()
    assert list(h) == expected  # same order as the names
    for key, value in h.items():
        assert np.shape(value) == (4, 3 + int(bias)), key


def test_hidden_parameter_names_literal():
    """§6.2 spelled out (so that the reference's name lists are pinned too)."""
    base = ["max_bound", "min_bound", "dwmin_up", "dwmin_down", "decay_scales",
            "diffusion_rates", "reset_bias", "drift_nu"]
    names = lambda dev: list(make_tile(dev, 2, 2).get_hidden_parameter_names())  # noqa: E731
    assert names(ConstantStepDevice()) == base
    assert names(SoftBoundsDevice()) == base + ["slope_up", "slope_down"]
    assert names(SoftBoundsDevice(write_noise_std=1.0)) == base + ["persistent_weights", "slope_up",
                                                                    "slope_down"]
    assert names(PowStepDevice()) == base + ["gamma_up", "gamma_down"]
    assert names(PowStepReferenceDevice()) == base + ["gamma_up", "gamma_down", "reference"]
    assert names(SoftBoundsReferenceDevice()) == base + ["reference"]
    assert names(ExpStepDevice(write_noise_std=1.0)) == base + ["persistent_weights"]


# ----- construction without d2d spread ------------------------------------------------------------
CONSTRUCTION_CASES = {
    "cs": ConstantStepDevice(**NO_DTOD),
    "cs_up_down+": ConstantStepDevice(up_down=0.2, **NO_DTOD),
    "cs_up_down-": ConstantStepDevice(up_down=-0.2, **NO_DTOD),
    "cs_perfect_bias": ConstantStepDevice(perfect_bias=True, **NO_DTOD),
    "cs_life_diff_drift": ConstantStepDevice(lifetime=10.0, reset=0.1, diffusion=0.05,
                                             drift=DriftParameter(nu=0.1), **NO_DTOD),
    "cs_lifetime_below_1": ConstantStepDevice(lifetime=0.5, **NO_DTOD),
    "cs_negative_reset": ConstantStepDevice(reset=-0.3, **NO_DTOD),
    "cs_no_consistency": ConstantStepDevice(enforce_consistency=False, dw_min=0.002, **NO_DTOD),
    "cs_asym_bounds": ConstantStepDevice(w_max=1.0, w_min=-0.25, **NO_DTOD),
    "ls": LinearStepDevice(gamma_up=0.5, gamma_down=-0.3, gamma_up_dtod=0.0, gamma_down_dtod=0.0,
                           **NO_DTOD),
    "ls_increasing_own_bounds": LinearStepDevice(gamma_up=0.5, gamma_down=-0.3, gamma_up_dtod=0.0,
                                                 gamma_down_dtod=0.0, allow_increasing=True,
                                                 mean_bound_reference=False, **NO_DTOD),
    "ls_reverse": LinearStepDevice(gamma_up=0.5, gamma_down=0.3, gamma_up_dtod=0.0,
                                   gamma_down_dtod=0.0, reverse_up=True, reverse_down=True, **NO_DTOD),
    "sb": SoftBoundsDevice(w_max=0.8, **NO_DTOD),
    "sb_pmax": SoftBoundsPmaxDevice(**NO_DTOD),
    "sbref": SoftBoundsReferenceDevice(reference_mean=0.1, **NO_DTOD),
    "pow": PowStepDevice(pow_gamma=1.5, pow_gamma_dtod=0.0, pow_up_down=0.2, **NO_DTOD),
    "powref": PowStepReferenceDevice(pow_gamma_dtod=0.0, reference_mean=-0.05, pow_up_down=-0.3,
                                     **NO_DTOD),
    "exp": ExpStepDevice(**NO_DTOD),
    "piecewise": PiecewiseStepDevice(piecewise_up=[2, 1, 3], piecewise_down=[2, 1, 3], **NO_DTOD),
}


@pytest.mark.parametrize("name", list(CONSTRUCTION_CASES))
def test_construction_without_spread(name):
    dev = CONSTRUCTION_CASES[name]
    tile = make_tile(dev, 3, 4)
    expected = ref.expected_hidden(dev, 3, 4)
    got = hidden(tile)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


def test_up_down_semantics_in_pulses():
    """up_down > 0 shrinks the down step by (1 - up_down); < 0 shrinks the up step (§3.2)."""
    for up_down, up_step, down_step in ((0.3, 1.0, 0.7), (-0.3, 0.7, 1.0)):
        dev = ConstantStepDevice(up_down=up_down, dw_min_std=0.0, **NO_DTOD)
        tile = make_tile(dev, 2, 2)
        tile.set_learning_rate(dev.dw_min)
        tile.set_weights(np.zeros((2, 2)))
        pulses(tile, 10, up=True)
        np.testing.assert_allclose(tile.get_weights(), 10 * up_step * dev.dw_min, atol=EXACT_TOL)
        pulses(tile, 10, up=False)
        np.testing.assert_allclose(tile.get_weights(), 10 * (up_step - down_step) * dev.dw_min,
                                   atol=EXACT_TOL)


# ----- d2d spreads (statistics over 100 x 100 devices) -----------------------------------------------
N_STAT = 100  # 100 x 100 tile: the std of a std estimate is ~0.7 %


def _rel_close(value, target, rtol):
    assert abs(value - target) <= rtol * abs(target), f"{value:.5g} vs {target:.5g} (rtol {rtol})"


def test_base_dtod_spreads():
    dev = ConstantStepDevice()  # defaults: w_max/w_min/dw_min dtod 0.3, up_down_dtod 0.01
    h = hidden(make_tile(dev, N_STAT, N_STAT, dtype=np.float32, seed=3))
    bp, bm = h["max_bound"] / dev.w_max, h["min_bound"] / dev.w_min
    _rel_close(bp.std(), dev.w_max_dtod, 0.05)
    _rel_close(bm.std(), dev.w_min_dtod, 0.05)
    _rel_close(bp.mean(), 1.0, 0.01)
    _rel_close(bm.mean(), 1.0, 0.01)
    assert abs(np.corrcoef(bp.ravel(), bm.ravel())[0, 1]) < 0.05  # independent draws
    su, sd = h["dwmin_up"] / dev.dw_min, h["dwmin_down"] / dev.dw_min
    _rel_close(su.std(), math.hypot(dev.dw_min_dtod, dev.up_down_dtod), 0.05)
    _rel_close(su.mean(), 1.0, 0.01)
    # up and down share the gain, they differ by 2 * up_down_dtod * xi
    _rel_close((su - sd).std(), 2 * dev.up_down_dtod, 0.05)
    assert abs((su - sd).mean()) < 0.001
    assert np.corrcoef(su.ravel(), sd.ravel())[0, 1] > 0.99
    # consistency enforced: positive steps, bounds around 0
    assert (h["dwmin_up"] >= 0).all() and (h["dwmin_down"] >= 0).all()
    assert (h["max_bound"] >= 0).all() and (h["min_bound"] <= 0).all()
    # no decay, diffusion, reset bias or drift by default
    assert (h["decay_scales"] == 1).all() and (h["diffusion_rates"] == 0).all()
    assert (h["reset_bias"] == 0).all() and (h["drift_nu"] == 0).all()


def test_dw_min_dtod_log_normal():
    dev = ConstantStepDevice(dw_min_dtod=0.3, dw_min_dtod_log_normal=True, up_down_dtod=0.0)
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=4))
    g = np.log(h["dwmin_up"] / dev.dw_min)
    _rel_close(g.std(), 0.3, 0.05)
    assert abs(g.mean()) < 0.01
    np.testing.assert_allclose(h["dwmin_up"], h["dwmin_down"], rtol=1e-12)


def test_other_dtod_spreads():
    dev = ConstantStepDevice(lifetime=100.0, lifetime_dtod=0.2, diffusion=0.1, diffusion_dtod=0.2,
                             reset=0.05, reset_dtod=0.02, drift=DriftParameter(nu=0.1, nu_dtod=0.2))
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=5))
    t = 1.0 / (1.0 - h["decay_scales"])  # decay scale = 1 - 1/t
    _rel_close((t / 100.0).std(), 0.2, 0.05)
    _rel_close((t / 100.0).mean(), 1.0, 0.01)
    _rel_close((h["diffusion_rates"] / 0.1).std(), 0.2, 0.05)
    _rel_close(h["diffusion_rates"].mean(), 0.1, 0.01)
    _rel_close(h["reset_bias"].std(), 0.02, 0.05)  # absolute spread
    assert abs(h["reset_bias"].mean() - 0.05) < 0.001
    _rel_close((h["drift_nu"] / 0.1).std(), 0.2, 0.05)
    _rel_close(h["drift_nu"].mean(), 0.1, 0.01)


def test_linear_step_gamma_spreads():
    dev = LinearStepDevice(gamma_up=0.5, gamma_down=0.3, gamma_up_dtod=0.05, gamma_down_dtod=0.05)
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=6))
    # mean_bound_reference: slope_up = -gamma_up s+ / w_max, slope_down = -gamma_down s- / w_min
    gu = -h["slope_up"] * dev.w_max / h["dwmin_up"]
    gd = -h["slope_down"] * dev.w_min / h["dwmin_down"]
    _rel_close(gu.mean(), 0.5, 0.01)
    _rel_close(gu.std(), 0.05, 0.05)
    _rel_close(gd.mean(), 0.3, 0.01)
    _rel_close(gd.std(), 0.05, 0.05)
    # gamma 0 with spread: |gamma| unless allow_increasing
    h = hidden(make_tile(LinearStepDevice(gamma_up_dtod=0.05, gamma_down_dtod=0.05), 50, 50, seed=7))
    assert (h["slope_up"] <= 0).all() and (h["slope_down"] >= 0).all()
    h = hidden(make_tile(LinearStepDevice(gamma_up_dtod=0.05, gamma_down_dtod=0.05,
                                          allow_increasing=True), 50, 50, seed=7))
    assert 0.3 < (h["slope_up"] > 0).mean() < 0.7 and 0.3 < (h["slope_down"] < 0).mean() < 0.7


def test_soft_bounds_slopes_follow_own_bounds():
    h = hidden(make_tile(SoftBoundsDevice(), 50, 50, seed=8))
    np.testing.assert_allclose(h["slope_up"], -h["dwmin_up"] / h["max_bound"], rtol=1e-12)
    np.testing.assert_allclose(h["slope_down"], -h["dwmin_down"] / h["min_bound"], rtol=1e-12)


def test_pow_step_gamma_spreads():
    dev = PowStepDevice(pow_gamma=2.0, pow_gamma_dtod=0.1)
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=9))
    _rel_close((h["gamma_up"] / 2.0).std(), 0.1, 0.05)
    _rel_close(h["gamma_up"].mean(), 2.0, 0.01)
    np.testing.assert_allclose(h["gamma_up"], h["gamma_down"], rtol=1e-12)  # pow_up_down_dtod 0
    dev = PowStepDevice(pow_gamma=2.0, pow_gamma_dtod=0.1, pow_up_down=0.2, pow_up_down_dtod=0.05)
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=9))
    diff = (h["gamma_up"] - h["gamma_down"]) / 2.0  # = 0.2 + 2 * 0.05 xi
    _rel_close(diff.mean(), 0.2, 0.02)
    _rel_close(diff.std(), 0.1, 0.05)


def test_soft_bounds_reference_spreads():
    dev = SoftBoundsReferenceDevice(reference_mean=0.1, reference_std=0.05, slope_up_dtod=0.1,
                                    w_max_dtod=0.0, w_min_dtod=0.0)
    h = hidden(make_tile(dev, N_STAT, N_STAT, seed=10))
    _rel_close(h["reference"].std(), 0.05, 0.05)
    assert abs(h["reference"].mean() - 0.1) < 0.002
    # the slope spread is absorbed into the bound: b+ = w_max / |1 + slope_up_dtod xi|
    _rel_close((dev.w_max / h["max_bound"]).std(), 0.1, 0.05)
    np.testing.assert_allclose(h["min_bound"], dev.w_min, rtol=1e-12)


# ----- enforce_consistency, corrupt devices, perfect bias -----------------------------------------
def test_enforce_consistency():
    wide = dict(w_max_dtod=1.5, w_min_dtod=1.5, dw_min_dtod=1.5)
    h = hidden(make_tile(ConstantStepDevice(enforce_consistency=True, **wide), N_STAT, N_STAT, seed=11))
    assert (h["dwmin_up"] >= 0).all() and (h["dwmin_down"] >= 0).all()
    assert (h["max_bound"] >= 0).all() and (h["min_bound"] <= 0).all()
    # |1 + 1.5 xi|: the steps keep the folded spread
    assert h["dwmin_up"].min() < 0.2 * 0.001 and h["dwmin_up"].max() > 3 * 0.001

    tile = make_tile(ConstantStepDevice(enforce_consistency=False, **wide), N_STAT, N_STAT, seed=11)
    h = hidden(tile)
    assert (h["dwmin_up"] < 0).mean() > 0.15  # P(1 + 1.5 xi < 0) = 0.25
    assert (h["min_bound"] <= h["max_bound"]).all()
    off = h["min_bound"] == h["max_bound"]  # b- > b+ drawn: device switched off at their mean
    # P(xi1 + xi2 < -4/3) = 0.173
    assert 0.14 < off.mean() < 0.21, off.mean()
    tile.set_weights(np.zeros((N_STAT, N_STAT)))
    w = tile.get_weights()
    np.testing.assert_array_equal(w[off], h["max_bound"][off])


@pytest.mark.parametrize("prob", [0.3, 1.0])
def test_corrupt_devices(prob):
    dev = ConstantStepDevice(corrupt_devices_prob=prob, corrupt_devices_range=0.1, dw_min_std=0.0)
    tile = make_tile(dev, N_STAT, N_STAT, seed=12)
    h = hidden(tile)
    stuck = h["max_bound"] == h["min_bound"]
    assert abs(stuck.mean() - prob) < 0.025, stuck.mean()
    assert (h["dwmin_up"][stuck] == 0).all() and (h["dwmin_down"][stuck] == 0).all()
    assert (np.abs(h["max_bound"][stuck]) <= 0.1).all()
    assert h["max_bound"][stuck].std() > 0.03  # uniform over [-0.1, 0.1] (within the bounds)
    tile.set_weights(np.zeros((N_STAT, N_STAT)))
    w0 = tile.get_weights()
    np.testing.assert_array_equal(w0[stuck], h["max_bound"][stuck])
    tile.set_learning_rate(dev.dw_min)
    tile.update(np.ones((5, N_STAT)), -np.ones((5, N_STAT)))
    w1 = tile.get_weights()
    np.testing.assert_array_equal(w1[stuck], w0[stuck])  # stuck devices never move
    if prob < 1:
        assert (w1[~stuck] != w0[~stuck]).mean() > 0.99


@pytest.mark.parametrize("bias", [False, True])
def test_perfect_bias_last_column(bias):
    dev = ConstantStepDevice(perfect_bias=True, dw_min_std=0.0)
    tile = make_tile(dev, 20, 3, bias=bias, seed=13)
    h = hidden(tile)
    last = tile.get_x_size() - 1
    np.testing.assert_array_equal(h["dwmin_up"][:, last], dev.dw_min)
    np.testing.assert_array_equal(h["dwmin_down"][:, last], dev.dw_min)
    np.testing.assert_allclose(h["max_bound"][:, last], 100 * dev.w_max, rtol=1e-15)
    np.testing.assert_allclose(h["min_bound"][:, last], 100 * dev.w_min, rtol=1e-15)
    assert h["dwmin_up"][:, :last].std() > 0.1 * dev.dw_min  # other columns keep their spread
    assert (h["max_bound"][:, :last] < 5).all()


# ----- noise-free pulse responses == reference ----------------------------------------------------
N_UP = N_DOWN = 300
EVERY = 10
EXACT_CASES = {
    "ConstantStep": (ConstantStepDevice, dict(dw_min=0.005)),
    "ConstantStep_up_down": (ConstantStepDevice, dict(dw_min=0.005, up_down=0.3)),
    "LinearStep": (LinearStepDevice, dict(dw_min=0.005, gamma_up=0.5, gamma_down=0.3)),
    "LinearStep_additive": (LinearStepDevice, dict(dw_min=0.005, gamma_up=0.5, mult_noise=False,
                                                   mean_bound_reference=False)),
    "LinearStep_reverse": (LinearStepDevice, dict(dw_min=0.005, gamma_up=0.5, gamma_down=0.5,
                                                  reverse_up=True, reverse_down=True)),
    "SoftBounds": (SoftBoundsDevice, dict(dw_min=0.01)),
    "SoftBounds_write_noise": (SoftBoundsDevice, dict(dw_min=0.01, write_noise_std=3.0)),
    "SoftBoundsPmax": (SoftBoundsPmaxDevice, dict(p_max=100, alpha=0.005)),
    "SoftBoundsReference": (SoftBoundsReferenceDevice, dict(dw_min=0.01, reference_std=0.05,
                                                            slope_up_dtod=0.1, slope_down_dtod=0.1)),
    "SoftBoundsReference_mult": (SoftBoundsReferenceDevice, dict(dw_min=0.01, mult_noise=True,
                                                                 reference_mean=0.1)),
    "ExpStep": (ExpStepDevice, dict(dw_min=0.005)),
    "ExpStep_write_noise": (ExpStepDevice, dict(dw_min=0.005, write_noise_std=2.0)),
    "PowStep": (PowStepDevice, dict(dw_min=0.01, pow_gamma=1.5, pow_up_down=0.2)),
    "PowStepReference": (PowStepReferenceDevice, dict(dw_min=0.01, reference_std=0.05)),
    "PiecewiseStep": (PiecewiseStepDevice, dict(dw_min=0.005, piecewise_up=[2.0, 1.0, 0.5, 0.2],
                                                piecewise_down=[0.2, 0.5, 1.0, 2.0])),
    "PiecewiseStep_one_node": (PiecewiseStepDevice, dict(dw_min=0.005, piecewise_up=[1.5],
                                                         piecewise_down=[0.9])),
}


@pytest.mark.parametrize("name", list(EXACT_CASES))
def test_noise_free_pulse_response_matches_reference(name):
    cls, params = EXACT_CASES[name]
    dev = cls(dw_min_std=0.0, **params)  # d2d spreads stay on: the reference uses the tile's draws
    tile = make_tile(dev, 100, 1, seed=21)
    tile.set_learning_rate(ref.weight_granularity(dev))
    rng = np.random.default_rng(1)
    tile.set_weights(rng.uniform(-0.3, 0.3, (100, 1)))
    h = {k: v[:, 0] for k, v in hidden(tile).items()}
    w0 = stored(tile)[:, 0]
    got = tile_response(tile, N_UP, N_DOWN, EVERY)[:, :, 0]
    expected = ref.pulse_response(dev, w0, h, N_UP, N_DOWN, EVERY)
    err = np.abs(got - expected)
    k, i = np.unravel_index(err.argmax(), err.shape)
    assert err.max() <= EXACT_TOL, (
        f"{name}: max |rpu - reference| = {err.max():.3g} at record {k} (after "
        f"{(k + 1) * EVERY} pulses), device {i}: rpu {got[k, i]!r}, reference {expected[k, i]!r}, "
        f"start {w0[i]!r}, hidden { {n: float(v[i]) for n, v in h.items()} }")
    # the experiment reaches the bounds (saturation is part of what is checked)
    if cls in (ConstantStepDevice, PiecewiseStepDevice, LinearStepDevice, ExpStepDevice):
        assert np.isclose(expected[N_UP // EVERY - 1], h["max_bound"]).mean() > 0.3
        assert np.isclose(expected[-1], h["min_bound"]).mean() > 0.05


@pytest.mark.parametrize("name", ["ConstantStep", "LinearStep", "SoftBounds_write_noise",
                                  "SoftBoundsReference", "ExpStep", "PowStepReference", "PiecewiseStep"])
def test_noise_free_pulse_response_float32(name):
    """The float32 tile follows the same rules (to float32 rounding, as aihwkit does)."""
    cls, params = EXACT_CASES[name]
    dev = cls(dw_min_std=0.0, **params)
    tile = make_tile(dev, 100, 1, seed=23, dtype=np.float32)
    tile.set_learning_rate(ref.weight_granularity(dev))
    tile.set_weights(np.random.default_rng(1).uniform(-0.3, 0.3, (100, 1)))
    h = {k: v[:, 0] for k, v in hidden(tile).items()}
    w0 = stored(tile)[:, 0]
    got = tile_response(tile, N_UP, N_DOWN, EVERY)[:, :, 0]
    expected = ref.pulse_response(dev, w0, h, N_UP, N_DOWN, EVERY)
    scale = ref.global_params(dev)["w_max"] - ref.global_params(dev)["w_min"]
    assert np.abs(got - expected).max() <= 1e-4 * scale


def test_pow_step_reference_holds_at_the_bound_when_rounding_overshoots():
    """With a reference, the stored bound w = b+ - ref gives v = w + ref above b+ by one float32
    ulp for these values. The step there is 0 (the distance to the bound counts as 0), so the
    device stays at its bound. aihwkit 1.1.0 takes powf of the negative distance: NaN, which
    its clip turns into b-, so its device drops to the opposite bound (a [bug?] rpu does not
    reproduce; see PowStepReferenceDevice)."""
    b_max, ref_value = np.float32(0.2228139340877533), np.float32(-0.03260369971394539)
    assert np.float32(np.float32(b_max - ref_value) + ref_value) > b_max  # the case is real
    dev = PowStepReferenceDevice(dw_min=0.01, dw_min_std=0.0, pow_gamma=0.8, pow_gamma_dtod=0.0,
                                 **NO_DTOD)
    tile = make_tile(dev, 4, 1, dtype=np.float32)
    h = tile.get_hidden_parameters()
    h["max_bound"][:] = b_max
    h["reference"][:] = ref_value
    h["dwmin_up"][:] = 0.05  # steps that overshoot the bound, so that v is clipped onto it
    tile.set_hidden_parameters(h)
    tile.set_learning_rate(ref.weight_granularity(dev))
    tile.set_weights(np.zeros((4, 1)))
    top = np.float32(b_max - ref_value)
    reached = False
    for _ in range(200):
        pulses(tile, 1, up=True)
        w = tile.get_weights()[:, 0]
        assert (w <= top).all() and (w > 0).all(), w
        reached |= bool((w == top).all())
    assert reached, "the case needs the device on its bound"
    np.testing.assert_array_equal(tile.get_weights()[:, 0], top)


def test_soft_bounds_reference_set_weights_clips_the_stored_weight():
    """onSetWeights clips w (not w + ref) to [b-, b+] (§3.5)."""
    dev = SoftBoundsReferenceDevice(reference_mean=0.3, dw_min_std=0.0, **NO_DTOD)
    tile = make_tile(dev, 1, 3)
    tile.set_weights([[0.5, 0.7, -0.7]])
    np.testing.assert_allclose(tile.get_weights(), [[0.5, 0.6, -0.6]], rtol=0, atol=EXACT_TOL)
    tile.set_learning_rate(dev.dw_min)
    h = hidden(tile)
    w = tile.get_weights()
    pulses(tile, 1, up=True)  # v = 0.8 > b+: the soft-bounds step is negative, then v clips
    np.testing.assert_allclose(tile.get_weights(), ref.pulse(dev, w, h, True), rtol=0, atol=EXACT_TOL)


def test_mixed_signs_in_one_batch_match_reference():
    """Samples of one batch apply in order, each element gets its own pulse sign (§2.5)."""
    dev = SoftBoundsDevice(dw_min=0.02, dw_min_std=0.0)
    tile = make_tile(dev, 5, 4, seed=22)
    tile.set_learning_rate(dev.dw_min)
    rng = np.random.default_rng(2)
    tile.set_weights(rng.uniform(-0.3, 0.3, (5, 4)))
    h = hidden(tile)
    w = tile.get_weights().astype(F64)
    x = rng.choice([-1.0, 1.0], (30, 4))
    d = rng.choice([-1.0, 1.0], (30, 5))
    tile.update(x, d)
    for b in range(30):
        up = np.outer(d[b], x[b]) < 0
        w = np.where(up, ref.pulse(dev, w, h, True), ref.pulse(dev, w, h, False))
    np.testing.assert_allclose(tile.get_weights(), w, rtol=0, atol=EXACT_TOL)


# ----- pulse responses with default noise: statistics vs the reference's Monte Carlo ---------------
DEFAULT_DEVICES = {
    "ConstantStep": ConstantStepDevice,
    "LinearStep": LinearStepDevice,
    "SoftBounds": SoftBoundsDevice,
    "SoftBoundsPmax": SoftBoundsPmaxDevice,
    "SoftBoundsReference": SoftBoundsReferenceDevice,
    "ExpStep": ExpStepDevice,
    "PowStep": PowStepDevice,
    "PowStepReference": PowStepReferenceDevice,
    "PiecewiseStep": PiecewiseStepDevice,
}
MC_REPLICAS = 40


@pytest.mark.parametrize("name", list(DEFAULT_DEVICES))
def test_default_noise_pulse_response_statistics(name):
    dev = DEFAULT_DEVICES[name]()
    n_dev = 300
    tile = make_tile(dev, n_dev, 1, seed=31)
    tile.set_learning_rate(ref.weight_granularity(dev))
    tile.set_weights(np.zeros((n_dev, 1)))
    h = {k: v[:, 0] for k, v in hidden(tile).items()}
    w0 = stored(tile)[:, 0]
    got = tile_response(tile, N_UP, N_DOWN, EVERY)[:, :, 0]  # (records, devices)
    rng = np.random.default_rng(5)
    mc = ref.pulse_response(dev, np.tile(w0, (MC_REPLICAS, 1)), h, N_UP, N_DOWN, EVERY, rng)
    m, s = mc.mean(axis=1), mc.std(axis=1)  # per record and device
    resid = got - m
    # mean over devices of the residual: zero within sampling error
    se = np.sqrt((s ** 2).mean(axis=1) / n_dev * (1 + 1 / MC_REPLICAS))
    bad = np.abs(resid.mean(axis=1)) > 5 * se + 1e-9
    assert not bad.any(), (
        f"{name}: mean residual {resid.mean(axis=1)[bad][:3]} beyond 5 se {5 * se[bad][:3]} "
        f"at records {np.flatnonzero(bad)[:3]}")
    # cycle-to-cycle spread: rms residual vs the reference's spread
    ratio = np.sqrt((resid ** 2).mean() / ((s ** 2).mean() * (1 + 1 / MC_REPLICAS)))
    assert 0.8 < ratio < 1.25, f"{name}: residual rms / reference spread = {ratio:.3f}"
    # and the noise is there at all: the response differs from the noise-free one
    quiet = ref.pulse_response(dev, w0, h, N_UP, N_DOWN, EVERY)
    assert np.abs(got - quiet).max() > 0


NOISE_CASES = {
    "ConstantStep": (ConstantStepDevice(**NO_DTOD), 0.2),
    "LinearStep_mult": (LinearStepDevice(gamma_up=0.5, gamma_up_dtod=0.0, **NO_DTOD), 0.3),
    "LinearStep_additive": (LinearStepDevice(gamma_up=0.5, gamma_up_dtod=0.0, mult_noise=False,
                                             **NO_DTOD), 0.3),
    "SoftBounds": (SoftBoundsDevice(**NO_DTOD), 0.3),
    "SoftBounds_additive": (SoftBoundsDevice(mult_noise=False, **NO_DTOD), 0.3),
    "SoftBoundsReference_additive": (SoftBoundsReferenceDevice(reference_mean=0.1, **NO_DTOD), 0.2),
    "SoftBoundsReference_mult": (SoftBoundsReferenceDevice(reference_mean=0.1, mult_noise=True,
                                                           **NO_DTOD), 0.2),
    "ExpStep": (ExpStepDevice(**NO_DTOD), 0.3),
    "ExpStep_complex": (ExpStepDevice(dw_min_std_add=0.002, dw_min_std_slope=0.01, **NO_DTOD), 0.3),
    "PowStep": (PowStepDevice(pow_gamma=2.0, pow_gamma_dtod=0.0, **NO_DTOD), 0.3),
    "PowStepReference": (PowStepReferenceDevice(pow_gamma_dtod=0.0, reference_mean=0.1, **NO_DTOD), 0.2),
    "PiecewiseStep": (PiecewiseStepDevice(piecewise_up=[1.0, 0.5, 0.25], piecewise_down=[1, 1, 1],
                                          **NO_DTOD), 0.3),
}


@pytest.mark.parametrize("name", list(NOISE_CASES))
@pytest.mark.parametrize("up", [True, False])
def test_single_pulse_noise_model(name, up):
    """One pulse from w0 on 100 x 100 identical devices: mean and std of the step vs the rule
    (multiplicative noise scales the whole step, additive only the constant part, ExpStep's
    complex noise adds std_add and std_slope |w|)."""
    dev, w0 = NOISE_CASES[name]
    dev = dev.copy()
    dev.dw_min_std = 0.5
    dev.dw_min = 0.01
    dev.validate()
    tile = make_tile(dev, 100, 100, seed=33)
    tile.set_learning_rate(ref.weight_granularity(dev))
    tile.set_weights(np.full((100, 100), w0))
    h = hidden(tile)
    start = stored(tile)
    pulses(tile, 1, up)
    step = stored(tile) - start
    xi = np.random.default_rng(9).standard_normal((100, 100))
    mc = ref.pulse(dev, np.full((100, 100), w0), h, up, xi) - w0
    quiet = ref.pulse(dev, np.full((100, 100), w0), h, up)[0, 0] - w0
    assert abs(step.mean() - quiet) <= 5 * mc.std() / 100 + 1e-15, (step.mean(), quiet)
    _rel_close(step.std(), mc.std(), 0.06)


def test_constant_step_cycle_noise_std():
    """n pulses of dw_min_std = 0.3 away from the bounds: std of w = sqrt(n) 0.3 s+."""
    dev = ConstantStepDevice(dw_min_std=0.3, w_max=10.0, w_min=-10.0, w_max_dtod=0.0, w_min_dtod=0.0)
    tile = make_tile(dev, 100, 100, seed=32)
    tile.set_learning_rate(dev.dw_min)
    tile.set_weights(np.zeros((100, 100)))
    pulses(tile, 25, up=True)
    h = hidden(tile)
    z = (tile.get_weights() - 25 * h["dwmin_up"]) / (5 * 0.3 * h["dwmin_up"])
    assert abs(z.mean()) < 0.05
    _rel_close(z.std(), 1.0, 0.05)


# ----- write noise ----------------------------------------------------------------------------------
def test_write_noise_persistent_weights():
    dev = SoftBoundsDevice(write_noise_std=5.0, dw_min_std=0.0)
    tile = make_tile(dev, N_STAT, N_STAT, seed=41)
    w_set = np.random.default_rng(3).uniform(-0.5, 0.5, (N_STAT, N_STAT))
    tile.set_weights(w_set)
    h = hidden(tile)
    persistent = h["persistent_weights"]
    np.testing.assert_array_equal(persistent, np.clip(w_set, h["min_bound"], h["max_bound"]))
    noise = tile.get_weights() - persistent  # visible = persistent + write_noise_std dw_min xi
    _rel_close(noise.std(), 5.0 * dev.dw_min, 0.05)
    assert abs(noise.mean()) < 4 * 5.0 * dev.dw_min / N_STAT  # 4 standard errors
    # pulses act on the persistent weights; the visible ones are redrawn around them
    tile.set_learning_rate(dev.dw_min)
    pulses(tile, 3, up=True)
    h2 = hidden(tile)
    expected = ref.apply_pulses(dev, persistent, h, 3, True)
    np.testing.assert_allclose(h2["persistent_weights"], expected, rtol=0, atol=EXACT_TOL)
    noise2 = tile.get_weights() - h2["persistent_weights"]
    _rel_close(noise2.std(), 5.0 * dev.dw_min, 0.05)
    assert np.corrcoef(noise.ravel(), noise2.ravel())[0, 1] < 0.05  # fresh draws


def test_write_noise_not_applied_on_set():
    dev = ExpStepDevice(write_noise_std=5.0, apply_write_noise_on_set=False)
    tile = make_tile(dev, 20, 20, seed=42)
    w_set = np.random.default_rng(4).uniform(-0.2, 0.2, (20, 20))
    tile.set_weights(w_set)
    h = hidden(tile)
    np.testing.assert_array_equal(tile.get_weights(), h["persistent_weights"])
    np.testing.assert_array_equal(h["persistent_weights"], np.clip(w_set, h["min_bound"], h["max_bound"]))


def test_write_noise_after_decay_acts_on_persistent():
    dev = PowStepDevice(write_noise_std=3.0, lifetime=10.0, reset=0.0, **NO_DTOD)
    tile = make_tile(dev, 30, 30, seed=43)
    tile.set_weights(np.full((30, 30), 0.5))
    h = hidden(tile)
    tile.decay_weights(1.0)
    h2 = hidden(tile)
    np.testing.assert_allclose(h2["persistent_weights"], 0.45, rtol=0, atol=EXACT_TOL)
    _rel_close((tile.get_weights() - 0.45).std(), 3.0 * dev.dw_min, 0.1)
    assert h["persistent_weights"].mean() == 0.5


# ----- construction seed ---------------------------------------------------------------------------
def _hidden_without_weights(tile):
    return {k: v for k, v in hidden(tile).items() if k != "persistent_weights"}


def test_construction_seed():
    def build(cs, seed):
        return _hidden_without_weights(make_tile(LinearStepDevice(construction_seed=cs), 10, 8,
                                                 dtype=np.float32, seed=seed))

    a, b, c = build(123, 1), build(123, 2), build(124, 1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)  # same construction seed
    assert not np.array_equal(a["max_bound"], c["max_bound"])
    assert not np.array_equal(a["dwmin_up"], c["dwmin_up"])
    assert not np.array_equal(a["slope_up"], c["slope_up"])


def test_construction_seed_zero_follows_the_tile_seed():
    """construction_seed 0 (aihwkit: the clock) draws from the tile's seed: replayable runs."""
    def build(seed):
        return _hidden_without_weights(make_tile(ConstantStepDevice(), 10, 8, seed=seed))

    a, b, c = build(5), build(5), build(6)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(a["max_bound"], c["max_bound"])


# ----- weight granularity ---------------------------------------------------------------------------
@pytest.mark.parametrize("device,g", [
    (ConstantStepDevice(), 0.001),
    (PowStepDevice(), 0.0005),
    (PiecewiseStepDevice(piecewise_up=[2, 1, 3], piecewise_down=[2, 1, 3]), 0.001),
    (SoftBoundsPmaxDevice(), 0.0025415),
    (ExpStepDevice(), 0.00098342),
])
def test_weight_granularity_values(device, g):
    assert device.calc_weight_granularity() == pytest.approx(g, rel=1e-4)
    assert ref.weight_granularity(device) == pytest.approx(g, rel=1e-4)


def test_pow_step_granularity_in_float32_uses_the_c_librarys_powf():
    """A float32 tile's PowStep granularity is dw_min * powf(0.5, pow_gamma) in float32, as
    aihwkit computes it. NumPy's float32 power is one bit off for pow_gamma = 1.7238245: there,
    update management made B = 0.50000006 instead of 0.5 and a DeterministicImplicit count
    rint(5 B) = 3 pulses where aihwkit applies rint(2.5) = 2 (found against a running aihwkit)."""
    import ctypes
    import ctypes.util
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.powf.restype, libm.powf.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
    gamma = 1.7238245217237285
    dev = PowStepDevice(**NO_DTOD, dw_min=0.02, dw_min_std=0.0, pow_gamma=gamma, pow_gamma_dtod=0.0,
                        w_max=5.0, w_min=-5.0)
    g32 = np.float32(0.02) * np.float32(libm.powf(0.5, float(np.float32(gamma))))
    assert np.float32(0.02) * np.power(np.float32(0.5), np.float32(gamma)) != g32  # the trap
    update = UpdateParameters(pulse_type=PulseType.DETERMINISTIC_IMPLICIT, desired_bl=5,
                              update_bl_management=True, update_management=True)
    tile = make_tile(dev, 1, 2, dtype=np.float32, update=update)
    assert tile._devices.granularity == float(g32)
    tile.set_weights(np.zeros((1, 2)))
    tile.set_learning_rate(0.03)
    h = hidden(tile)
    # x_max = 2, k = 0.03 * 2 / g = 9.9 > BL 5: B = sqrt(0.03 / (5 g)) sqrt(5 / k / 2) = 0.5, so
    # the x = 1 column gets rint(5 * 1 * 0.5) = 2 down pulses and the x = 2 column 5
    tile.update(np.array([[1.0, 2.0]]), np.array([[1.0]]))
    columns = [ref.apply_pulses(dev, np.zeros((1, 1)), {k: v[:, [j]] for k, v in h.items()}, n,
                                False) for j, n in ((0, 2), (1, 5))]
    expected = np.concatenate(columns, axis=1)
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("device,lr_over_g,n_pulses", [
    (ConstantStepDevice(**NO_DTOD, dw_min_std=0.0), 2.5, 3),
    # g = dw_min 0.5^gamma = 0.0005: lr = 0.0051 -> 11 pulses (6 if g were dw_min)
    (PowStepDevice(**NO_DTOD, dw_min_std=0.0, pow_gamma_dtod=0.0), 10.2, 11),
    # g = dw_min piecewise_up[1] = 0.001: 3 pulses (2 if piecewise_up[0] were used)
    (PiecewiseStepDevice(**NO_DTOD, dw_min_std=0.0, piecewise_up=[2, 1, 3],
                         piecewise_down=[2, 1, 3]), 2.5, 3),
    # g = 0.0025415 from the derived dw_min: 3 pulses (8 if g were the class default 0.001)
    (SoftBoundsPmaxDevice(**NO_DTOD, dw_min_std=0.0), 2.5, 3),
    # g = 0.00098342 (down step at w = 0): 11 pulses (10 if g were dw_min)
    (ExpStepDevice(**NO_DTOD, dw_min_std=0.0), 10.01, 11),
])
def test_tile_uses_weight_granularity(device, lr_over_g, n_pulses):
    """fixed_bl=False, no UBLM/UM, lr > g desired_bl: BL = ceil(lr/g), A = B = 1 (§2.3): the
    number of pulses shows the g the tile uses."""
    tile = make_tile(device, 4, 1, update=single_pulse_update(fixed_bl=False))
    tile.set_learning_rate(lr_over_g * ref.weight_granularity(device))
    tile.set_weights(np.zeros((4, 1)))
    h = hidden(tile)
    tile.update(np.ones((1, 1)), np.ones((1, 4)))  # down pulses
    expected = ref.apply_pulses(device, np.zeros((4, 1)), h, n_pulses, False)
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=0, atol=EXACT_TOL)


def test_soft_bounds_pmax_derived_parameters():
    dev = SoftBoundsPmaxDevice()
    d = dev.derived_parameters()
    assert d["w_min"] == -1.0
    assert d["w_max"] == pytest.approx(4.0830, abs=1e-4)
    assert d["dw_min"] == pytest.approx(0.0025415, rel=1e-4)
    assert d["up_down"] == pytest.approx(0.6065, abs=1e-4)
    b = 2.0 / (1.0 - math.exp(-0.5))
    assert d["w_max"] == pytest.approx(-1.0 + b, rel=1e-12)
    sb = dev.to_soft_bounds()
    assert isinstance(sb, SoftBoundsDevice) and sb.dw_min == pytest.approx(b * 0.0005, rel=1e-12)
    assert sb.dw_min_std == dev.dw_min_std and sb.w_max_dtod == dev.w_max_dtod
    h = hidden(make_tile(SoftBoundsPmaxDevice(**NO_DTOD), 2, 2))
    np.testing.assert_allclose(h["max_bound"], -1.0 + b, rtol=1e-12)
    np.testing.assert_allclose(h["min_bound"], -1.0, rtol=1e-12)
    np.testing.assert_allclose(h["dwmin_up"], b * 0.0005, rtol=1e-12)
    np.testing.assert_allclose(h["dwmin_down"], (1 - d["up_down"]) * b * 0.0005, rtol=1e-12)


# ----- symmetry points ---------------------------------------------------------------------------------
def test_soft_bounds_reference_symmetry_point():
    dev = SoftBoundsReferenceDevice(subtract_symmetry_point=True, reference_mean=0.02, reset=0.01,
                                    up_down=0.1)
    h = hidden(make_tile(dev, 10, 10, seed=51))
    sp = ref.symmetry_point_soft_bounds(h)
    assert np.abs(sp).mean() > 0.01
    np.testing.assert_allclose(h["reference"], 0.02 + sp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h["reset_bias"], 0.01 + sp, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_steps", [500, -1])
def test_pow_step_reference_symmetry_point(n_steps):
    dev = PowStepReferenceDevice(subtract_symmetry_point=True, n_estimation_steps=n_steps,
                                 reference_mean=0.02, up_down=0.1)
    h = hidden(make_tile(dev, 6, 6, seed=52))
    sp = ref.symmetry_point_pow_step(h, n_steps)
    assert np.abs(sp).mean() > 0.01
    np.testing.assert_allclose(h["reference"], 0.02 + sp, rtol=0, atol=1e-9)
    np.testing.assert_allclose(h["reset_bias"], sp, rtol=0, atol=1e-9)


# ----- decay, diffusion, post_update_step, reset, drift ---------------------------------------------
def test_decay_oracle():
    dev = ConstantStepDevice(lifetime=10.0, reset=0.1, **NO_DTOD)
    tile = make_tile(dev, 1, 2)
    h = hidden(tile)
    np.testing.assert_allclose(h["decay_scales"], 0.9, rtol=1e-15)
    np.testing.assert_allclose(h["reset_bias"], 0.1, rtol=1e-15)
    tile.set_weights([[0.5, -0.5]])
    tile.decay_weights()
    np.testing.assert_allclose(tile.get_weights(), [[0.46, -0.44]], rtol=0, atol=EXACT_TOL)
    tile.decay_weights(alpha=0.5)
    np.testing.assert_allclose(tile.get_weights(), [[0.442, -0.413]], rtol=0, atol=EXACT_TOL)


def test_decay_with_spreads_matches_reference():
    dev = SoftBoundsDevice(lifetime=5.0, lifetime_dtod=0.3, reset=0.05, reset_dtod=0.02)
    tile = make_tile(dev, 20, 20, seed=61)
    tile.set_weights(np.random.default_rng(6).uniform(-0.6, 0.6, (20, 20)))
    h = hidden(tile)
    w = tile.get_weights()
    tile.decay_weights(0.7)
    np.testing.assert_allclose(tile.get_weights(), ref.decay(w, h, 0.7), rtol=0, atol=EXACT_TOL)


def test_lifetime_at_most_one_decays_to_reset_bias():
    dev = ConstantStepDevice(lifetime=0.5, reset=0.1, **NO_DTOD)
    tile = make_tile(dev, 2, 2)
    tile.set_weights(np.full((2, 2), 0.4))
    tile.decay_weights()
    np.testing.assert_allclose(tile.get_weights(), 0.1, atol=EXACT_TOL)


def test_diffusion_std():
    dev = ConstantStepDevice(diffusion=0.1, **NO_DTOD)
    tile = make_tile(dev, 100, 122, seed=62)
    tile.set_weights(np.zeros((100, 122)))
    tile.diffuse_weights()
    dw = tile.get_weights()
    assert 0.09 < dw.std() < 0.11 and abs(dw.mean()) < 0.003
    assert (hidden(tile)["diffusion_rates"] == 0.1).all()
    # per-device rates with diffusion_dtod: dw / rate is standard normal
    dev = ConstantStepDevice(diffusion=0.01, diffusion_dtod=0.5, **NO_DTOD)
    tile = make_tile(dev, 100, 100, seed=63)
    tile.set_weights(np.zeros((100, 100)))
    rates = hidden(tile)["diffusion_rates"]
    tile.diffuse_weights()
    _rel_close((tile.get_weights() / rates).std(), 1.0, 0.05)


def test_post_update_step():
    w0 = np.random.default_rng(7).uniform(-0.4, 0.4, (50, 50))
    # nothing requested: nothing changes
    tile = make_tile(ConstantStepDevice(), 50, 50, seed=64)
    tile.set_weights(w0)
    w = tile.get_weights()
    tile.post_update_step()
    np.testing.assert_array_equal(tile.get_weights(), w)
    # lifetime only: one decay_weights(1)
    tile = make_tile(ConstantStepDevice(lifetime=4.0, reset=0.05), 50, 50, seed=64)
    tile.set_weights(w0)
    h, w = hidden(tile), tile.get_weights()
    tile.post_update_step()
    np.testing.assert_allclose(tile.get_weights(), ref.decay(w, h, 1.0), rtol=0, atol=EXACT_TOL)
    # diffusion, then decay: the noise is decayed too (std rho delta, not rho)
    dev = ConstantStepDevice(lifetime=2.0, diffusion=0.02, **NO_DTOD)  # delta = 0.5
    tile = make_tile(dev, 100, 100, seed=65)
    tile.set_weights(np.zeros((100, 100)))
    tile.post_update_step()
    _rel_close(tile.get_weights().std(), 0.01, 0.05)


def test_reset_columns():
    dev = ConstantStepDevice(reset=0.05, reset_std=0.01, **NO_DTOD)
    tile = make_tile(dev, 200, 4, seed=66)
    tile.set_weights(np.full((200, 4), 0.3))
    tile.reset_columns(start_column_idx=3, num_columns=2, reset_prob=1.0)  # columns 3 and 0 (circular)
    w = tile.get_weights()
    np.testing.assert_array_equal(w[:, 1:3], 0.3)
    for j in (0, 3):
        assert abs(w[:, j].mean() - 0.05) < 0.003
        _rel_close(w[:, j].std(), 0.01, 0.15)
    # default arguments: column 0 only; reset_std 0: exactly the reset bias
    tile = make_tile(ConstantStepDevice(reset=0.05, reset_std=0.0, **NO_DTOD), 10, 4, seed=67)
    tile.set_weights(np.full((10, 4), 0.3))
    tile.reset_columns()
    w = tile.get_weights()
    np.testing.assert_allclose(w[:, 0], 0.05, rtol=0, atol=EXACT_TOL)
    np.testing.assert_array_equal(w[:, 1:], 0.3)


def test_reset_columns_probability():
    tile = make_tile(ConstantStepDevice(reset_std=0.0, **NO_DTOD), 100, 10, seed=68)
    tile.set_weights(np.full((100, 10), 0.3))
    tile.reset_columns(0, 10, reset_prob=0.4)
    frac = (tile.get_weights() == 0).mean()
    assert 0.35 < frac < 0.45, frac


def test_set_weights_clips_to_device_bounds():
    tile = make_tile(ConstantStepDevice(), 10, 10, seed=69)
    h = hidden(tile)
    tile.set_weights(np.full((10, 10), 5.0))
    np.testing.assert_array_equal(tile.get_weights(), h["max_bound"])
    tile.set_weights(np.full((10, 10), -5.0))
    np.testing.assert_array_equal(tile.get_weights(), h["min_bound"])


def _drift_tile(**drift):
    dev = ConstantStepDevice(drift=DriftParameter(nu=0.1, t_0=1.0, **drift), **NO_DTOD)
    return make_tile(dev, 4, 5, seed=70)


def test_drift_oracle():
    tile = _drift_tile()
    assert (hidden(tile)["drift_nu"] == 0.1).all()
    w0 = np.random.default_rng(8).uniform(-0.5, 0.5, (4, 5))
    tile.set_weights(w0)
    tile.drift_weights(2.0)
    np.testing.assert_allclose(tile.get_weights(), w0 * 2 ** -0.1, rtol=1e-12)
    # the time accumulates; an element changed since the last call restarts its clock
    w1 = tile.get_weights()
    w1[0, 0] = 0.3
    tile.set_weights(w1)
    tile.drift_weights(2.0)
    expected = w0 * 4 ** -0.1
    expected[0, 0] = 0.3
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=1e-12)
    tile.drift_weights(2.0)
    expected = w0 * 6 ** -0.1
    expected[0, 0] = 0.3 * 2 ** -0.1
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=1e-12)


def test_drift_default_delta_t_and_minimum_one_t0():
    tile = _drift_tile()
    w0 = np.full((4, 5), 0.4)
    tile.set_weights(w0)
    tile.drift_weights()  # delta_t = 1: (max(1, 1))^-nu = 1
    np.testing.assert_allclose(tile.get_weights(), w0, rtol=1e-12)
    tile.drift_weights(0.5)  # t = 1.5
    np.testing.assert_allclose(tile.get_weights(), w0 * 1.5 ** -0.1, rtol=1e-12)


def test_drift_off_by_default():
    tile = make_tile(ConstantStepDevice(**NO_DTOD), 4, 5, seed=71)
    w0 = np.full((4, 5), 0.4)
    tile.set_weights(w0)
    tile.drift_weights(100.0)
    np.testing.assert_array_equal(tile.get_weights(), w0)


def test_drift_read_noise_and_nu_spread():
    dev = ConstantStepDevice(drift=DriftParameter(nu=0.1, nu_dtod=0.3, w_noise_std=0.01), **NO_DTOD)
    tile = make_tile(dev, 100, 100, seed=72)
    nu = hidden(tile)["drift_nu"]
    _rel_close((nu / 0.1).std(), 0.3, 0.05)
    w0 = np.full((100, 100), 0.4)
    tile.set_weights(w0)
    tile.drift_weights(3.0)
    resid = tile.get_weights() - w0 * 3.0 ** -nu
    _rel_close(resid.std(), 0.01, 0.05)


# ----- get/set hidden parameters, save/load ------------------------------------------------------
def test_set_hidden_parameters_round_trip_and_reclip():
    dev = SoftBoundsDevice(dw_min_std=0.0)
    tile = make_tile(dev, 20, 5, seed=81)
    tile.set_weights(np.full((20, 5), 0.3))
    h = hidden(tile)
    w_before = tile.get_weights()  # 0.3, or the device's max_bound where that is lower
    new = {k: v.copy() for k, v in h.items()}
    new["max_bound"] = np.full((20, 5), 0.2)
    new["dwmin_up"] = h["dwmin_up"] * 1.5
    new["slope_up"] = -new["dwmin_up"] / 0.2
    tile.set_hidden_parameters(new)
    got = hidden(tile)
    assert list(got) == list(h)
    for key in new:
        np.testing.assert_array_equal(got[key], new[key], err_msg=key)
    np.testing.assert_array_equal(tile.get_weights(), np.minimum(w_before, 0.2))  # re-clipped
    # the new parameters drive the pulses
    tile.set_weights(np.zeros((20, 5)))
    tile.set_learning_rate(dev.dw_min)
    pulses(tile, 4, up=True)
    expected = ref.apply_pulses(dev, np.zeros((20, 5)), new, 4, True)
    np.testing.assert_allclose(tile.get_weights(), expected, rtol=0, atol=EXACT_TOL)


def test_set_hidden_parameters_rejects_wrong_shape():
    tile = make_tile(ConstantStepDevice(), 4, 3)
    h = hidden(tile)
    h["max_bound"] = np.ones((3, 4))
    before = hidden(tile)
    with pytest.raises((ValueError, TypeError)):
        tile.set_hidden_parameters(h)
    for key, value in hidden(tile).items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("device", [SoftBoundsDevice(write_noise_std=2.0),
                                    PowStepReferenceDevice(reference_std=0.05, lifetime=50.0)])
def test_save_load_keeps_hidden_parameters(tmp_path, device):
    tile = make_tile(device, 8, 6, seed=82)
    tile.set_weights(np.random.default_rng(9).uniform(-0.3, 0.3, (8, 6)))
    tile.set_learning_rate(0.01)
    tile.update(np.random.default_rng(10).uniform(-1, 1, (3, 6)),
                np.random.default_rng(11).uniform(-1, 1, (3, 8)))
    path = tmp_path / "tile.npz"
    rpu.save(tile, path)
    loaded = rpu.load(path)
    assert list(loaded.get_hidden_parameter_names()) == list(tile.get_hidden_parameter_names())
    h, hl = hidden(tile), hidden(loaded)
    for key in h:
        np.testing.assert_array_equal(hl[key], h[key], err_msg=key)
    np.testing.assert_array_equal(loaded.get_weights(), tile.get_weights())
    # the loaded tile continues the same random stream
    x = np.random.default_rng(12).uniform(-1, 1, (4, 6))
    d = np.random.default_rng(13).uniform(-1, 1, (4, 8))
    tile.update(x, d)
    loaded.update(x, d)
    np.testing.assert_array_equal(loaded.get_weights(), tile.get_weights())


# ----- invalid parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs,field", [
    (ConstantStepDevice, dict(w_min=-0.5, w_max=-0.6), "w_m"),
    (ConstantStepDevice, dict(w_min=0.3, w_max=0.3), "w_min"),
    (ConstantStepDevice, dict(dw_min=0.0), "dw_min"),
    (ConstantStepDevice, dict(dw_min=-0.001), "dw_min"),
    (ConstantStepDevice, dict(dw_min_std=-0.1), "dw_min_std"),
    (ConstantStepDevice, dict(w_max_dtod=-0.1), "w_max_dtod"),
    (ConstantStepDevice, dict(reset_std=-0.01), "reset_std"),
    (ConstantStepDevice, dict(diffusion=-0.1), "diffusion"),
    (ConstantStepDevice, dict(corrupt_devices_prob=1.5), "corrupt_devices_prob"),
    (SoftBoundsDevice, dict(write_noise_std=-1.0), "write_noise_std"),
    (LinearStepDevice, dict(gamma_up_dtod=-0.1), "gamma_up_dtod"),
    (PowStepDevice, dict(pow_gamma_dtod=-0.1), "pow_gamma_dtod"),
    (PiecewiseStepDevice, dict(piecewise_up=[1, 2], piecewise_down=[1]), "piecewise_down"),
    (SoftBoundsPmaxDevice, dict(range_min=1.0, range_max=0.5), "range_min"),
])
def test_invalid_parameters_raise_config_error(cls, kwargs, field):
    with pytest.raises(ConfigError, match=field):
        cls(**kwargs)


def test_invalid_parameter_set_after_construction_is_caught_by_the_tile():
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    cfg.device.dw_min = -0.01
    with pytest.raises(ConfigError, match=r"device\.dw_min"):
        rpu.AnalogTile(2, 2, cfg)
    cfg.device.dw_min = 0.001
    cfg.device.w_min = 0.7  # >= w_max
    with pytest.raises(ConfigError, match="w_min"):
        rpu.AnalogTile(2, 2, cfg)


def test_count_pulses_is_refused_rather_than_ignored():
    """rpu keeps no pulse counters (aihwkit keeps them on CUDA tiles only): a tile refuses the
    request, for a single device and for a compound's sub-device, instead of training without
    them; the config itself stays constructible, as aihwkit's is."""
    dev = SoftBoundsDevice(count_pulses=True)
    with pytest.raises(ConfigError, match="count_pulses"):
        rpu.AnalogTile(2, 2, SingleRPUConfig(device=dev))
    from rpu.config import build_config
    with pytest.raises(ConfigError, match="SoftBoundsDevice.count_pulses"):
        rpu.AnalogTile(2, 2, build_config("c-ttv2", dev))
    rpu.AnalogTile(2, 2, SingleRPUConfig(device=SoftBoundsDevice(count_pulses=False)))


def test_exp_step_with_an_exponent_past_the_float_range():
    """exp(gamma z) past the float range: the step factor max(1 - A exp, 0) is 0 for A > 0 (the
    granularity falls back as for a vanishing step), and the device trains without overflow
    errors or non-finite weights. (A < 0 would make the step infinite: a ConfigError,
    test_config.)"""
    dev = ExpStepDevice(A_up=0.5, A_down=0.5, gamma_up=200.0, gamma_down=200.0, a=5.0, b=5.0,
                        dw_min=0.002)
    # the down step at w = 0 is 0.002 (exp(-1000) = 0), the up step vanishes
    assert dev.calc_weight_granularity() == pytest.approx(0.001)
    tile = make_tile(dev, 6, 4, dtype=np.float32)
    tile.set_learning_rate(0.05)
    rng = np.random.default_rng(0)
    for _ in range(5):
        tile.update(rng.uniform(-1, 1, (8, 4)), rng.uniform(-1, 1, (8, 6)))
    w, h = tile.get_weights(), hidden(tile)
    assert np.isfinite(w).all()
    assert ((w >= h["min_bound"] - 1e-6) & (w <= h["max_bound"] + 1e-6)).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_diverging_symmetry_point_is_refused_at_construction():
    # Negative drawn steps (enforce_consistency=False, dw_min_dtod 0.6) made the PowStep symmetry
    # point iteration diverge: reference and reset_bias were infinite, and the first update
    # gave infinite weights.
    dev = PowStepReferenceDevice(dw_min=0.1, dw_min_dtod=0.6, enforce_consistency=False,
                                 pow_gamma=1.7, subtract_symmetry_point=True)
    with pytest.raises(ConfigError, match=r"^PowStepReferenceDevice\.subtract_symmetry_point = "
                                          r"True is not allowed for these drawn devices"):
        rpu.AnalogTile(14, 6, SingleRPUConfig(device=dev), seed=1, dtype=np.float64)
    dev.enforce_consistency = True
    tile = rpu.AnalogTile(14, 6, SingleRPUConfig(device=dev), seed=1, dtype=np.float64)
    assert all(np.isfinite(v).all() for v in tile.get_hidden_parameters().values())
