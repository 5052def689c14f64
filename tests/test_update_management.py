"""BL, A, B of the pulsed update (spec training.md §2.3): rpu's ``update_management`` against the
independent reference in ``update_reference.py`` over a grid of UpdateParameters."""
import itertools
import math

import numpy as np
import pytest

from rpu.config import UpdateParameters
from rpu.tiles.update_management import update_management

from test_compound_tiles import assert_same_state, state
from update_reference import calculate_bl_ab, update_management_ref

RNG = np.random.default_rng(20240611)

# A / B: the same formulas in float64; a different (valid) order of the square roots may cost an ulp.
RTOL = 1e-14


def _abs_max_samples():
    """max|x|, max|d| pairs: random, tiny, large (k > desired_bl), exact oracle values."""
    xm = np.concatenate([RNG.uniform(0.01, 1.0, 40), 10.0 ** RNG.uniform(-4, 3, 40),
                         [1.0, 1.0, 1.0, 0.5, 2.0, 1e-6]])
    dm = np.concatenate([RNG.uniform(0.01, 1.0, 40), 10.0 ** RNG.uniform(-4, 3, 40),
                         [0.5, 100.0, 0.25, 1.0, 3.0, 1e-6]])
    return xm, dm


XM, DM = _abs_max_samples()


def _check(up, lr, g, xm=XM, dm=DM):
    bl, a, b = update_management(np.asarray(xm, np.float64), np.asarray(dm, np.float64), lr, g, up)
    rbl, ra, rb = update_management_ref(xm, dm, lr, g, up)
    bl = np.asarray(bl)
    assert bl.shape == rbl.shape and np.asarray(a).shape == ra.shape and np.asarray(b).shape == rb.shape
    assert bl.dtype == np.int64, bl.dtype
    assert np.asarray(a).dtype == np.float64 and np.asarray(b).dtype == np.float64
    bad = np.flatnonzero(bl != rbl)
    assert bad.size == 0, (
        f"BL differs for {up!r}, lr={lr}, g={g}: at xm={np.asarray(xm)[bad][:5]}, "
        f"dm={np.asarray(dm)[bad][:5]}: got {bl[bad][:5]}, expected {rbl[bad][:5]}")
    on = rbl > 0  # A and B only matter where pulses can happen
    np.testing.assert_allclose(np.asarray(a)[on], ra[on], rtol=RTOL, atol=0,
                               err_msg=f"A for {up!r}, lr={lr}, g={g}")
    np.testing.assert_allclose(np.asarray(b)[on], rb[on], rtol=RTOL, atol=0,
                               err_msg=f"B for {up!r}, lr={lr}, g={g}")
    return bl, np.asarray(a), np.asarray(b)


@pytest.mark.parametrize("fixed_bl,ublm,um",
                         list(itertools.product([True, False], [True, False], [True, False])))
@pytest.mark.parametrize("um_grad_scale", [1.0, 0.3, 2.5])
def test_grid_against_reference(fixed_bl, ublm, um, um_grad_scale):
    # (g = 0.0007: lr / g not whole, so a grown train's A = B = 1 differs from sqrt(lr / (g BL)),
    # which float64 tiles used under update_management [fixed])
    for desired_bl, lr, g in itertools.product([1, 2, 5, 31, 64, 100, 255],
                                               [1e-4, 0.01, 0.1, 1.0],
                                               [0.001, 0.0005, 0.0007]):
        up = UpdateParameters(desired_bl=desired_bl, fixed_bl=fixed_bl, update_bl_management=ublm,
                              update_management=um, um_grad_scale=um_grad_scale)
        _check(up, lr, g)


@pytest.mark.parametrize("desired_bl", range(1, 256))
def test_every_desired_bl(desired_bl):
    up = UpdateParameters(desired_bl=desired_bl)
    bl, a, b = _check(up, 0.01, 0.001)
    assert bl.max() == desired_bl and bl.min() >= 1


def test_spec_oracles():
    # training.md §2.3/§2.4: lr 0.01, g 0.001, x = [1], d = [0.5, 0.25] -> BL = 5, p_x = 1, p_d = [1, 0.5]
    bl, a, b = update_management(np.array([1.0]), np.array([0.5]), 0.01, 0.001, UpdateParameters())
    assert int(bl[0]) == 5
    assert b[0] * 1.0 == pytest.approx(1.0, rel=1e-12)
    assert a[0] * 0.5 == pytest.approx(1.0, rel=1e-12) and a[0] * 0.25 == pytest.approx(0.5, rel=1e-12)
    # d = [100, 1]: k = 1000 > 31 -> BL = 31, p_x = 1, p_d(1) = 0.3226 (= 10/31), p_d(100) >= 1
    bl, a, b = update_management(np.array([1.0]), np.array([100.0]), 0.01, 0.001, UpdateParameters())
    assert int(bl[0]) == 31
    assert b[0] == pytest.approx(1.0, rel=1e-12)
    assert a[0] * 1.0 == pytest.approx(10 / 31, rel=1e-12)
    assert a[0] * 100.0 > 1


def test_zero_inputs_and_zero_lr_give_no_update():
    xm = np.array([0.0, 1.0, 0.0, 0.3])
    dm = np.array([1.0, 0.0, 0.0, 0.2])
    for fixed_bl, ublm, um in itertools.product([True, False], [True, False], [True, False]):
        if not (ublm or um):
            continue
        up = UpdateParameters(fixed_bl=fixed_bl, update_bl_management=ublm, update_management=um)
        bl, _, _ = _check(up, 0.01, 0.001, xm, dm)
        assert list(bl) == [0, 0, 0, 1 if ublm else 31]
    for fixed_bl, ublm, um in itertools.product([True, False], [True, False], [True, False]):
        up = UpdateParameters(fixed_bl=fixed_bl, update_bl_management=ublm, update_management=um)
        bl, _, _ = _check(up, 0.0, 0.001, xm, dm)
        assert (bl == 0).all()


def test_without_management_bl_ignores_the_inputs():
    """UM and UBLM off: plain calculateBlAB, which does not look at x and d (spec §2.3 `else`).

    (With x = 0 no probability is positive, so whether BL is reported as 0 there has no effect on
    the weights; the spec keeps BL = desired_bl.)"""
    up = UpdateParameters(update_bl_management=False, update_management=False, desired_bl=7)
    bl, a, b = _check(up, 0.01, 0.001, np.array([0.0, 0.5, 3.0]), np.array([0.0, 0.5, 0.0]))
    assert list(bl) == [7, 7, 7]
    assert np.allclose(a, math.sqrt(0.01 / (0.001 * 7))) and np.allclose(b, a)


def test_fixed_bl_false_grows_bl():
    # g * desired_bl = 0.031 < lr = 0.1 -> BL = ceil(lr / g) = 100, A = B = 1 (spec §2.3)
    up = UpdateParameters(fixed_bl=False, update_bl_management=False, update_management=False)
    assert calculate_bl_ab(0.1, 0.001, up) == (100, 1.0, 1.0)
    bl, a, b = _check(up, 0.1, 0.001, np.array([0.7]), np.array([0.2]))
    assert int(bl[0]) == 100 and a[0] == 1.0 and b[0] == 1.0
    # UM balances A and B, BL stays ceil(lr / g)
    up = UpdateParameters(fixed_bl=False, update_bl_management=False, update_management=True)
    bl, a, b = _check(up, 0.1, 0.001, np.array([0.7]), np.array([0.2]))
    assert int(bl[0]) == 100


def test_ublm_forces_um():
    """UBLM on and UM off behaves as UM on (spec §2.1: 'forced True if UBLM')."""
    for lr in (0.001, 0.01, 0.5):
        r1 = update_management(XM, DM, lr, 0.001, UpdateParameters(update_management=False))
        r2 = update_management(XM, DM, lr, 0.001, UpdateParameters(update_management=True))
        for u, v in zip(r1, r2):
            assert np.array_equal(np.asarray(u), np.asarray(v))


def test_um_keeps_the_expected_pulse_count():
    """With UM and k <= desired_bl: p_x(max) p_d(max) BL = lr xm dm / g (spec §2.3 consequence);
    with k > desired_bl the x side is at probability 1 and the d side is clipped."""
    lr, g = 0.01, 0.001
    up = UpdateParameters()
    bl, a, b = update_management(XM, DM, lr, g, up)
    k = lr * XM * DM / g
    small = k <= 31
    np.testing.assert_allclose((a * DM * b * XM * bl)[small], k[small], rtol=1e-12)
    np.testing.assert_allclose((b * XM)[~small], 1.0, rtol=1e-12)
    np.testing.assert_allclose((a * DM)[~small], k[~small] / 31, rtol=1e-12)


def test_um_grad_scale_biases_towards_clipping_d():
    """um_grad_scale < 1 lowers d_val: for k > desired_bl the x side still reaches 1, and for
    k <= desired_bl the products p_x p_d are unchanged."""
    lr, g = 0.01, 0.001
    xm, dm = np.array([1.0, 1.0]), np.array([0.5, 100.0])
    b1 = update_management(xm, dm, lr, g, UpdateParameters(um_grad_scale=1.0))
    b2 = update_management(xm, dm, lr, g, UpdateParameters(um_grad_scale=0.5))
    # sample 0: k = 5 (scale 1) vs 2.5 (scale 0.5): BL 5 vs 3
    assert int(b1[0][0]) == 5 and int(b2[0][0]) == 3
    assert b2[2][0] < b1[2][0]  # B smaller: x side less saturated
    # products A * B * BL are lr / g when not clipped
    for bl, a, b in (b1, b2):
        assert a[0] * b[0] * bl[0] == pytest.approx(lr / g, rel=1e-12)


@pytest.mark.parametrize("up", [
    UpdateParameters(),
    UpdateParameters(update_bl_management=False, update_management=False, desired_bl=1),
    UpdateParameters(update_bl_management=False, desired_bl=3),
    UpdateParameters(fixed_bl=True, update_management=False),
])
def test_per_sample_learning_rates_match_one_call_per_sample(up):
    # The chopped compounds' auto-scaled fast learning rate changes from sample to sample.
    rng = np.random.default_rng(1)
    xm, dm = rng.uniform(0, 1, 50), rng.uniform(0, 0.1, 50)
    xm[3] = 0
    lrs = rng.uniform(0, 0.01, 50)
    lrs[5], lrs[7] = 0.0, 0.5
    bl, a, b = update_management(xm, dm, lrs, 0.001, up)
    for i in range(50):
        rbl, ra, rb = update_management(xm[i:i + 1], dm[i:i + 1], lrs[i], 0.001, up)
        assert (bl[i], a[i], b[i]) == (rbl[0], ra[0], rb[0]), i


def test_per_sample_arguments_of_different_lengths_are_refused():
    up = UpdateParameters()
    with pytest.raises(ValueError, match="same length, got 3, 3 and 2"):
        update_management(np.ones(3), np.ones(3), np.full(2, 0.01), 0.001, up)
    with pytest.raises(ValueError, match="same length, got 3, 4 and 3"):
        update_management(np.ones(3), np.ones(4), 0.01, 0.001, up)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_length_of_whole_step_writes_is_rounded_in_the_tile_precision(dtype):
    """A write of whole steps (mixed precision, buffered transfers): lr = g, n_max steps, so the
    expected count lr n_max / g is the whole number n_max and BL = n_max. aihwkit computes it in
    the tile's type; in double 0.01 * 14 / 0.01 is 14.000000000000002, and for a float64 tile
    aihwkit (and rpu) round that up to 15 -- for float32, as the reference in float32, to 14."""
    up = UpdateParameters(desired_bl=31, update_bl_management=True, update_management=True)
    n_max = np.arange(1.0, 32.0)
    g = float(np.float32(0.01)) if dtype == np.float32 else 0.01
    bl, _, _ = update_management(n_max, np.ones_like(n_max), g, g, up, dtype)
    rbl, _, _ = update_management_ref(n_max, np.ones_like(n_max), g, g, up, dtype)
    np.testing.assert_array_equal(bl, rbl)
    if dtype == np.float32:
        np.testing.assert_array_equal(bl, n_max.astype(np.int64))
    else:
        assert bl[13] == 15  # the double rounding, as aihwkit's float64 tile has it
    # no management: BL = ceil(lr / g) beyond desired_bl, the same way
    plain = UpdateParameters(desired_bl=1, update_bl_management=False, update_management=False)
    bl, _, _ = update_management(np.ones(1), np.ones(1), 14 * g, g, plain, dtype)
    rbl, _, _ = update_management_ref(np.ones(1), np.ones(1), 14 * g, g, plain, dtype)
    np.testing.assert_array_equal(bl, rbl)


@pytest.mark.parametrize("fixed_bl,ublm,um",
                         list(itertools.product([True, False], [True, False], [True, False])))
def test_float32_tiles_compute_as_aihwkit_in_float(fixed_bl, ublm, um):
    """For a float32 tile, BL, A and B are aihwkit's float results bit for bit (the reference
    runs the same operations in float32), ties included: dense counts BL |x| B of a write of
    whole steps land on halves, whose side the last bit decides."""
    xm = np.concatenate([XM, np.arange(1.0, 40.0)]).astype(np.float32)
    dm = np.concatenate([DM, np.ones(39)]).astype(np.float32)
    for desired_bl, lr, g in itertools.product([1, 7, 31], [1e-4, 0.01, 0.1], [0.001, 0.01]):
        up = UpdateParameters(desired_bl=desired_bl, fixed_bl=fixed_bl, update_bl_management=ublm,
                              update_management=um)
        g32 = float(np.float32(g))
        bl, a, b = update_management(xm.astype(np.float64), dm.astype(np.float64), lr, g32, up,
                                     np.float32)
        rbl, ra, rb = update_management_ref(xm, dm, lr, g32, up, np.float32)
        np.testing.assert_array_equal(bl, rbl, err_msg=f"BL for {up!r}, lr={lr}, g={g}")
        on = rbl > 0
        np.testing.assert_array_equal(np.asarray(a, np.float32)[on], ra[on], err_msg="A")
        np.testing.assert_array_equal(np.asarray(b, np.float32)[on], rb[on], err_msg="B")


# ----- the longest pulse train: MAX_BL ------------------------------------------------------------
def _growing(um=False):
    return UpdateParameters(fixed_bl=False, update_bl_management=False, update_management=um)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_length_up_to_max_bl_and_no_further(dtype):
    from rpu.config.update import MAX_BL

    g = 0.001
    ones = np.ones(1)
    bl, _, _ = update_management(ones, ones, g * MAX_BL, g, _growing(), dtype)
    assert int(bl[0]) == MAX_BL
    for lr in (g * (MAX_BL + 1), 1e30):  # (1e30 / g made a float -> long conversion undefined)
        with pytest.raises(ValueError, match=r"asks for pulse trains of \d+ slots .* at most "
                                             rf"{MAX_BL}.*update_bl_management"):
            update_management(ones, ones, lr, g, _growing(um=True), dtype)
    # per-sample learning rates: the largest decides
    with pytest.raises(ValueError, match="learning rate 100 asks"):
        update_management(np.ones(2), np.ones(2), np.array([0.1, -100.0]), g, _growing(), dtype)
    # fixed or managed trains never pass desired_bl, whatever the learning rate
    for up in (UpdateParameters(fixed_bl=False), UpdateParameters(update_bl_management=False)):
        assert update_management(ones, ones, 1e30, g, up, dtype)[0][0] <= up.desired_bl


@pytest.mark.parametrize("single", [False, True])
def test_kernel_bit_length_stays_defined_for_any_lr_over_g(single):
    from rpu import _core

    # the kernel alone (the Python layer refuses these): BL stops at 1e15 instead of an
    # out-of-range conversion, also for lr / g = Inf in float
    lr = np.array([1e30, 3e38, 1e300 if not single else 3e38])
    bl, a, b = _core.update_management(np.ones(3), np.ones(3), lr, 1e-9, 31, False, False,
                                       False, 1.0, single)
    ceiling = int(np.float32(1e15)) if single else 10 ** 15
    assert list(bl) == [ceiling] * 3 and np.all(a == 1.0) and np.all(b == 1.0)


def test_desired_bl_past_max_bl_is_a_config_error():
    from rpu.config.update import MAX_BL
    from rpu.errors import ConfigError

    assert UpdateParameters(desired_bl=MAX_BL).desired_bl == MAX_BL
    for bad in (MAX_BL + 1, 10 ** 400):
        with pytest.raises(ConfigError, match="desired_bl"):
            UpdateParameters(desired_bl=bad)


@pytest.mark.parametrize("kind", ["device", "c-ttv2"])
def test_refused_update_leaves_the_tile_as_it_was(kind):
    """An update whose pulse trains would be too long is refused before anything moves: the
    tile then trains on exactly as a twin that never saw the call."""
    import rpu
    from rpu.config import SingleRPUConfig, SoftBoundsDevice, build_config

    def make():
        if kind == "device":
            cfg = SingleRPUConfig(device=SoftBoundsDevice(), update=_growing())
        else:
            # A's auto-scaled learning rate fast_lr BL g / (m_x m_d) grows without bound as
            # the inputs shrink; the running maxima m_x, m_d start at a new tile's first batch
            cfg = build_config("c-ttv2", SoftBoundsDevice)
            cfg.update = _growing(um=True)
        tile = rpu.AnalogTile(5, 4, cfg, seed=3)
        tile.set_learning_rate(0.05)
        return tile

    rng = np.random.default_rng(1)
    x, d = rng.uniform(-1, 1, (6, 4)), rng.uniform(-0.5, 0.5, (6, 5))
    tile, twin = make(), make()
    if kind == "device":
        for t in (tile, twin):
            t.update(x, d)
    before = state(tile)
    if kind == "device":
        tile.set_learning_rate(1e6)
        with pytest.raises(ValueError, match="asks for pulse trains"):
            tile.update(x, d)
        tile.set_learning_rate(0.05)
    else:
        with pytest.raises(ValueError, match="asks for pulse trains"):
            tile.update(x * 1e-9, d * 1e-9)
    assert_same_state(state(tile), before)
    assert tile._devices.__dict__.get("count") == twin._devices.__dict__.get("count")
    for t in (tile, twin):
        t.update(x, d)
    assert_same_state(state(tile), state(twin))
