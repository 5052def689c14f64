"""The pulsed weight update of ``AnalogTile`` (spec training.md §2, §3.1-3.3, §7 oracles).

A noise-free ConstantStep device (every pulse exactly +-dw_min, bounds +-10) turns weight changes
into signed pulse counts, which are checked against the spec's oracles measured on aihwkit 1.1.0,
against the Binomial laws of the stochastic pulse trains, and, for the deterministic pulse types,
exactly against the independent reference in ``update_reference.py``.
"""
import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

import rpu
from rpu.config import (ConstantStepDevice, IdealDevice, PulseType, SingleRPUConfig,
                        UpdateParameters)

from update_reference import (dense_counts, gather_patches, sequential_dense_update,
                              stochastic_probabilities)

RNG = np.random.default_rng(7)
DW = 0.001
NOISE_FREE = dict(dw_min=DW, dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max=10.0,
                  w_min=-10.0, w_max_dtod=0.0, w_min_dtod=0.0)
STOCHASTIC_TYPES = [PulseType.STOCHASTIC_COMPRESSED, PulseType.STOCHASTIC]
DENSE_TYPES = [PulseType.MEAN_COUNT, PulseType.DETERMINISTIC_IMPLICIT]
DTYPES = [np.float32, np.float64]


def make_tile(out_size, in_size, *, device=None, lr=0.01, dtype=np.float64, seed=1, w0=0.0,
              bias=False, in_trans=False, out_trans=False, **up):
    device = ConstantStepDevice(**NOISE_FREE) if device is None else device
    cfg = SingleRPUConfig(device=device, update=UpdateParameters(**up))
    tile = rpu.AnalogTile(out_size, in_size, cfg, seed=seed, dtype=dtype, bias=bias,
                          in_trans=in_trans, out_trans=out_trans)
    tile.set_learning_rate(lr)
    if w0 is not None:
        tile.set_weights(np.full((tile.get_d_size(), tile.get_x_size()), w0))
    return tile


def pulse_counts(w_before, w_after, dw=DW):
    """Signed pulse counts from a noise-free ConstantStep change (> 0: down pulses)."""
    n = (np.asarray(w_before, np.float64) - np.asarray(w_after, np.float64)) / dw
    r = np.rint(n)
    assert np.abs(n - r).max(initial=0) < 0.05, "weight changes are not whole pulses"
    return r.astype(np.int64)


def one_update(tile, x, d):
    w0 = tile.get_weights()
    assert tile.update(np.asarray(x, tile.dtype), np.asarray(d, tile.dtype)) is None
    return pulse_counts(w0, tile.get_weights())


def assert_binomial(counts, n, p, what):
    """``counts`` are independent Binomial(n, p) draws: mean, variance and every frequency."""
    counts = np.asarray(counts)
    m = counts.size
    mean, var = n * p, n * p * (1 - p)
    assert abs(counts.mean() - mean) <= 5 * np.sqrt(var / m) + 1e-12, (what, counts.mean(), mean)
    mu4 = var * (1 + 3 * (n - 2) * p * (1 - p))  # 4th central moment of the binomial
    assert abs(counts.var() - var) < 5 * np.sqrt((mu4 - var**2) / m) + 1e-9, (what, counts.var(), var)
    assert counts.min() >= 0 and counts.max() <= n, (what, counts.min(), counts.max())
    freq = np.bincount(counts, minlength=n + 1) / m
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    tol = 5 * np.sqrt(pmf * (1 - pmf) / m) + 2e-4
    assert (np.abs(freq - pmf) <= tol).all(), (what, np.round(freq, 4), np.round(pmf, 4))


# ----- spec oracles (training.md §2.3, §2.4, §2.6, §7) ------------------------------------------------
N_ROWS = 20000


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES)
def test_oracle_bl5_rows(pulse_type, dtype):
    """lr 0.01, g 0.001, x = [1], d = [0.5, 0.25] => BL = 5; row 0: 5 pulses, row 1: Bin(5, 1/2).

    p_x = 1, so the x bit line fires in every slot and the rows are independent: one sample on a
    tile with 20000 rows of d = 0.25 gives 20000 draws of row 1's law."""
    tile = make_tile(N_ROWS + 1, 1, dtype=dtype, pulse_type=pulse_type)
    d = np.full(N_ROWS + 1, 0.25)
    d[0] = 0.5
    c = one_update(tile, [1.0], d)[:, 0]
    assert c[0] == 5
    assert_binomial(c[1:], 5, 0.5, "row 1 of the BL = 5 oracle")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES)
def test_oracle_bl5_columns(pulse_type, dtype):
    """Same oracle with x and d swapped (x = [1, 0.5, ...], d = [0.5]): p_d = 1 and the columns are
    Binomial(5, 1/2)."""
    tile = make_tile(1, N_ROWS + 1, dtype=dtype, pulse_type=pulse_type)
    x = np.full(N_ROWS + 1, 0.5)
    x[0] = 1.0
    c = one_update(tile, x, [0.5])[0]
    assert c[0] == 5
    assert_binomial(c[1:], 5, 0.5, "columns of the BL = 5 oracle")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES)
def test_oracle_clipped_gradient(pulse_type, dtype):
    """d = [100, 1] (w range +-10): k = 1000 > 31 => BL = 31, row 0: 31 pulses, row 1:
    Binomial(31, 10/31) (spec: mean 10.06, var 6.76 measured)."""
    tile = make_tile(N_ROWS + 1, 1, dtype=dtype, pulse_type=pulse_type)
    d = np.ones(N_ROWS + 1)
    d[0] = 100.0
    c = one_update(tile, [1.0], d)[:, 0]
    assert c[0] == 31
    assert_binomial(c[1:], 31, 10 / 31, "row 1 of the clipped-gradient oracle")


@pytest.mark.parametrize("desired_bl", [1, 32, 64, 65, 255])
def test_clipped_gradient_long_pulse_trains(desired_bl):
    """The same oracle for other maximal bit lengths (more than one 32/64-bit word per train):
    row 0 gets BL = desired_bl pulses, row 1 Binomial(BL, 10 / BL)."""
    tile = make_tile(N_ROWS + 1, 1, desired_bl=desired_bl)
    d = np.ones(N_ROWS + 1)
    d[0] = 100.0
    c = one_update(tile, [1.0], d)[:, 0]
    assert c[0] == desired_bl
    assert_binomial(c[1:], desired_bl, min(10 / desired_bl, 1.0), f"BL = {desired_bl}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pulse_type", DENSE_TYPES)
def test_oracle_dense_types(pulse_type, dtype):
    """MeanCount and DeterministicImplicit: exactly 5 and 2 pulses (rint(2.5) = 2), every time."""
    tile = make_tile(2, 1, dtype=dtype, pulse_type=pulse_type)
    for _ in range(3):
        c = one_update(tile, [1.0], [0.5, 0.25])
        assert list(c[:, 0]) == [5, 2], (pulse_type, dtype, c[:, 0])


@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES + DENSE_TYPES)
@pytest.mark.parametrize("xs,ds,expected", [(1, 1, 5), (-1, 1, -5), (1, -1, -5), (-1, -1, 5)])
def test_signs(pulse_type, xs, ds, expected):
    """s = sign(x) sign(d): s > 0 => down pulses (the weight decreases), s < 0 => up pulses."""
    tile = make_tile(1, 1, pulse_type=pulse_type)
    c = one_update(tile, [xs * 1.0], [ds * 0.5])
    assert c[0, 0] == expected


@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES + DENSE_TYPES)
def test_zero_learning_rate_and_zero_inputs_do_nothing(pulse_type):
    tile = make_tile(4, 3, pulse_type=pulse_type, w0=None, seed=3)
    w0 = tile.get_weights()
    x = RNG.uniform(-1, 1, (5, 3))
    d = RNG.uniform(-1, 1, (5, 4))
    tile.set_learning_rate(0.0)
    tile.update(x, d)
    assert np.array_equal(tile.get_weights(), w0)
    tile.set_learning_rate(0.01)
    tile.update(np.zeros((2, 3)), d[:2])
    tile.update(x[:2], np.zeros((2, 4)))
    assert np.array_equal(tile.get_weights(), w0)


# ----- resolution, stochastic rounding, implicit resolutions ----------------------------------------
def _rows_of_law(dtype=np.float64, d_rest=0.2, **up):
    """One sample x = [1], d = [0.5, d_rest, ...]: BL = 5, A = 2, B = 1 (x side fires always)."""
    tile = make_tile(N_ROWS + 1, 1, dtype=dtype, **up)
    d = np.full(N_ROWS + 1, d_rest)
    d[0] = 0.5
    c = one_update(tile, [1.0], d)[:, 0]
    return c[0], c[1:]


def test_res_0_1_works():
    """Spec §2.1: res = 0.1 updates normally (p = 0.5 and 1 are on the grid)."""
    first, rest = _rows_of_law(d_rest=0.25, res=0.1)
    assert first == 5
    assert_binomial(rest, 5, 0.5, "res = 0.1")


@pytest.mark.parametrize("res", [0.25, 4])
def test_res_quantises_the_probability(res):
    """p_d = 0.4 on a 0.25 grid rounds to 0.5: Binomial(5, 0.5) instead of Binomial(5, 0.4).
    ``res = 4`` is read by rpu as 4 steps (bin width 1/4), as its docs say; aihwkit 1.1.0 would
    never pulse (spec §2.1 [bug])."""
    first, rest = _rows_of_law(res=res)
    assert first == 5
    assert_binomial(rest, 5, 0.5, f"res = {res}")


def test_no_res_keeps_the_probability():
    first, rest = _rows_of_law()
    assert first == 5
    assert_binomial(rest, 5, 0.4, "res = 0")


def test_sto_round_is_unbiased():
    """sto_round: Q(0.4) on a 0.25 grid is 0.25 (prob. 0.4) or 0.5 (prob. 0.6), drawn per element,
    so a row's count is a mixture with mean 5 * 0.4 = 2 and variance 1.125 + 0.375 = 1.5."""
    first, rest = _rows_of_law(res=0.25, sto_round=True)
    assert first == 5
    m = rest.size
    assert abs(rest.mean() - 2.0) < 5 * np.sqrt(1.5 / m), rest.mean()
    assert abs(rest.var() - 1.5) < 0.08, rest.var()
    freq = np.bincount(rest, minlength=6) / m
    pmf = 0.4 * stats.binom.pmf(np.arange(6), 5, 0.25) + 0.6 * stats.binom.pmf(np.arange(6), 5, 0.5)
    assert np.allclose(freq, pmf, atol=5 * np.sqrt(0.25 / m)), (freq, pmf)


def test_sto_round_without_res_is_off():
    first, rest = _rows_of_law(sto_round=True)
    assert first == 5
    assert_binomial(rest, 5, 0.4, "sto_round with res = 0")


@pytest.mark.parametrize("dtype", DTYPES)
def test_implicit_resolutions(dtype):
    """DeterministicImplicit quantises x with x_res_implicit, d with d_res_implicit, and ignores
    res (spec §2.6); exact against the reference for random inputs (BL = 31: no rounding ties)."""
    up = dict(pulse_type=PulseType.DETERMINISTIC_IMPLICIT, x_res_implicit=0.3, d_res_implicit=0.25,
              res=0.5, update_bl_management=False)
    X = RNG.uniform(-1, 1, (12, 7))
    D = RNG.uniform(-1, 1, (12, 5))
    for x, d in zip(X, D):
        tile = make_tile(5, 7, dtype=dtype, **up)
        c = one_update(tile, x, d)
        ref = dense_counts(x.astype(dtype), d.astype(dtype), 0.01, DW, UpdateParameters(**up),
                           dtype=dtype)
        assert np.array_equal(c, ref), (c, ref)
    # the resolutions act: with them off the counts differ for these inputs
    ref_plain = dense_counts(X[0], D[0], 0.01, DW, UpdateParameters(
        pulse_type=PulseType.DETERMINISTIC_IMPLICIT, update_bl_management=False))
    assert not np.array_equal(ref_plain, dense_counts(X[0], D[0], 0.01, DW, UpdateParameters(**up)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pulse_type", DENSE_TYPES)
@pytest.mark.parametrize("setting", ["um", "fixed_bl_false", "ublm_off_um_off"])
def test_dense_types_against_reference(pulse_type, dtype, setting):
    """Random batches, samples in order: weights and counts equal the sequential reference.
    Settings with an odd BL (31 or 101), so that MeanCount's rint(c_d / BL * c_x) has no ties."""
    up = dict(pulse_type=pulse_type)
    lr = 0.01
    if setting == "um":
        up.update(update_bl_management=False)  # BL = desired_bl = 31, UM balancing
    elif setting == "fixed_bl_false":
        up.update(update_bl_management=False, update_management=False, fixed_bl=False)
        lr = 0.1005  # BL = ceil(lr / g) = 101 > 64, A = B = 1
    else:
        up.update(update_bl_management=False, update_management=False)
    tile = make_tile(6, 9, dtype=dtype, lr=lr, **up)
    X = RNG.uniform(-1, 1, (20, 9)).astype(dtype)
    D = RNG.uniform(-1, 1, (20, 6)).astype(dtype)
    w0 = tile.get_weights()
    tile.update(X, D)
    ref_w, counts = sequential_dense_update(w0, X, D, lr, DW, UpdateParameters(**up), DW, DW,
                                            -10.0, 10.0, dtype=dtype)
    assert np.array_equal(pulse_counts(w0, tile.get_weights()), counts.sum(axis=0))
    atol = 1e-9 if dtype == np.float64 else 5e-5  # float32: per-pulse vs summed steps may round apart
    np.testing.assert_allclose(tile.get_weights(), ref_w, rtol=0, atol=atol)


@pytest.mark.parametrize("pulse_type", DENSE_TYPES)
def test_samples_are_applied_in_order_with_clipping(pulse_type):
    """Bounds +-0.004: sample 1 pushes up past the bound (clipped after every pulse), sample 2
    pushes down from the bound; a batch sum would end elsewhere (spec §2.5, §3.3)."""
    dev = ConstantStepDevice(**{**NOISE_FREE, "w_max": 0.004, "w_min": -0.004})
    tile = make_tile(3, 2, device=dev, pulse_type=pulse_type, w0=0.003)
    hp = tile.get_hidden_parameters()
    assert np.allclose(hp["max_bound"], 0.004) and np.allclose(hp["min_bound"], -0.004)
    X = np.array([[1.0, 0.6], [1.0, 0.3]])
    D = np.array([[-0.5, -0.4, 0.2], [0.2, 0.45, -0.1]])  # BL = 5 and 5: no rint ties
    w0 = tile.get_weights()
    tile.update(X, D)
    ref_w, counts = sequential_dense_update(w0, X, D, 0.01, DW, tile.rpu_config.update,
                                            hp["dwmin_up"], hp["dwmin_down"], hp["min_bound"],
                                            hp["max_bound"])
    np.testing.assert_allclose(tile.get_weights(), ref_w, rtol=0, atol=1e-12)
    batch_sum = np.clip(w0 - DW * counts.sum(axis=0), -0.004, 0.004)
    assert not np.allclose(ref_w, batch_sum)  # the test does discriminate the order


def test_bias_column_gets_input_one():
    up = dict(pulse_type=PulseType.MEAN_COUNT, update_bl_management=False)
    tile = make_tile(4, 3, bias=True, **up)
    assert tile.get_weights().shape == (4, 4)
    X = RNG.uniform(-0.8, 0.8, (6, 3))
    D = RNG.uniform(-1, 1, (6, 4))
    w0 = tile.get_weights()
    tile.update(X, D)
    Xb = np.hstack([X, np.ones((6, 1))])
    ref_w, _ = sequential_dense_update(w0, Xb, D, 0.01, DW, UpdateParameters(**up), DW, DW, -10, 10)
    np.testing.assert_allclose(tile.get_weights(), ref_w, rtol=0, atol=1e-12)
    # exact floating-point update: the bias column gets -lr * sum(d)
    tile = make_tile(4, 3, bias=True, device=IdealDevice(), w0=0.0)
    tile.update(X, D)
    np.testing.assert_allclose(tile.get_weights(), -0.01 * D.T @ Xb, rtol=1e-12, atol=1e-15)


# ----- statistics of the stochastic update --------------------------------------------------------------
def _expected_moments(X, D, lr, up, dw_up, dw_down, sigma=0.0):
    """Mean and variance of the weight change of a sequential stochastic update (no clipping)."""
    mean = np.zeros((D.shape[1], X.shape[1]))
    var = np.zeros_like(mean)
    for x, d in zip(X, D):
        bl, p, s = stochastic_probabilities(x, d, lr, DW, up)
        step = np.where(s > 0, -dw_down, dw_up)
        n_mean = bl * p
        mean += n_mean * step
        var += (bl * p * (1 - p) + n_mean * sigma**2) * step**2
    return mean, var


@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES)
@pytest.mark.parametrize("setting", ["default", "um_only", "fixed_bl_false", "no_um"])
def test_mean_update_is_sgd(pulse_type, setting):
    """Random batch: every weight's change is within 5.5 sigma of its expectation (Binomial counts
    per sample); with UM and k <= BL the expectation is exactly -lr d^T x."""
    up = dict(pulse_type=pulse_type)
    lr = 0.01
    if setting == "um_only":
        up.update(update_bl_management=False)
    elif setting == "fixed_bl_false":
        up.update(update_bl_management=False, update_management=False, fixed_bl=False)
        lr = 0.1005  # BL = 101
    elif setting == "no_um":
        up.update(update_bl_management=False, update_management=False, desired_bl=100)
    tile = make_tile(8, 6, lr=lr, seed=11, **up)
    X = RNG.uniform(-1, 1, (300, 6))
    D = RNG.uniform(-1, 1, (300, 8))
    w0 = tile.get_weights()
    tile.update(X, D)
    dw = tile.get_weights() - w0
    mean, var = _expected_moments(X, D, lr, UpdateParameters(**up), DW, DW)
    if setting in ("default", "um_only"):
        np.testing.assert_allclose(mean, -lr * D.T @ X, rtol=1e-9, atol=1e-12)
    z = (dw - mean) / np.sqrt(var)
    assert np.abs(z).max() < 5.5, np.abs(z).max()
    assert abs(z.mean()) < 5.5 / np.sqrt(z.size) * 2, z.mean()


@pytest.mark.parametrize("pulse_type", STOCHASTIC_TYPES)
def test_repeated_sample_converges_to_sgd(pulse_type):
    tile = make_tile(5, 4, seed=5, pulse_type=pulse_type)
    x = np.array([0.9, -0.4, 0.2, 0.6])
    d = np.array([0.7, -0.3, 0.5, 0.1, -0.8])
    n = 800  # |expected| <= 5.8, inside the +-10 bounds
    w0 = tile.get_weights()
    tile.update(np.tile(x, (n, 1)), np.tile(d, (n, 1)))
    expected = -0.01 * n * np.outer(d, x)
    # count std <= sqrt(n * BL / 4) pulses with BL = 8
    np.testing.assert_allclose(tile.get_weights() - w0, expected, rtol=0.03, atol=6 * DW * np.sqrt(2 * n))


def test_default_constant_step_noise_mean():
    """Default ConstantStep spreads (dw_min_dtod 0.3, dw_min_std 0.3, up_down_dtod 0.01): each weight
    moves by its own mean steps dwmin_up / dwmin_down (hidden parameters), the average over devices
    by ~ -lr d^T x (bounds widened to +-1 so that no weight reaches them)."""
    dev = ConstantStepDevice(w_max=1.0, w_min=-1.0)
    tile = make_tile(8, 6, device=dev, lr=0.005, seed=21, w0=0.0)
    hp = tile.get_hidden_parameters()
    assert hp["dwmin_up"].std() > 0.1 * DW  # the spreads are on
    X = RNG.uniform(-1, 1, (300, 6))
    D = RNG.uniform(-1, 1, (300, 8))
    tile.update(X, D)
    w = tile.get_weights()
    assert (w < 0.9 * hp["max_bound"]).all() and (w > 0.9 * hp["min_bound"]).all()
    mean, var = _expected_moments(X, D, 0.005, UpdateParameters(), hp["dwmin_up"], hp["dwmin_down"],
                                  sigma=0.3)
    z = (w - mean) / np.sqrt(var)
    assert np.abs(z).max() < 5.5, np.abs(z).max()

    # all-positive repeated sample: down pulses only; average step over devices ~ dw_min
    tile = make_tile(16, 12, device=dev, lr=0.005, seed=22, w0=0.0)
    hp = tile.get_hidden_parameters()
    x = RNG.uniform(0.2, 0.5, 12)
    d = RNG.uniform(0.2, 0.5, 16)
    n = 100
    tile.update(np.tile(x, (n, 1)), np.tile(d, (n, 1)))
    w = tile.get_weights()
    sgd = -0.005 * n * np.outer(d, x)
    # each device moves by its own mean down step ...
    assert w.sum() / (sgd * hp["dwmin_down"] / DW).sum() == pytest.approx(1.0, abs=0.04)
    ratio = w / sgd
    assert np.corrcoef(ratio.ravel(), hp["dwmin_down"].ravel())[0, 1] > 0.6
    # ... and the average over devices is the SGD step scaled by the mean step (~ dw_min)
    assert w.sum() / sgd.sum() == pytest.approx(hp["dwmin_down"].mean() / DW, abs=0.05)
    assert w.sum() / sgd.sum() == pytest.approx(1.0, abs=0.1)


# ----- reproducibility ------------------------------------------------------------------------------
def _noisy_tile(seed=42, **kwargs):
    return make_tile(128, 96, device=ConstantStepDevice(), seed=seed, dtype=np.float32, w0=None,
                     **kwargs)


def test_same_seed_is_bit_identical_across_thread_counts():
    X = RNG.uniform(-1, 1, (16, 96)).astype(np.float32)
    D = RNG.uniform(-1, 1, (16, 128)).astype(np.float32)
    results = []
    for n in (1, 2):
        with threadpool_limits(limits=n, user_api="openmp"):
            tile = _noisy_tile()
            tile.update(X, D)
            tile.update(X[::-1], D)
            results.append(tile.get_weights())
    assert np.array_equal(results[0], results[1])


def test_save_load_continues_the_update_stream(tmp_path):
    X = RNG.uniform(-1, 1, (8, 96)).astype(np.float32)
    D = RNG.uniform(-1, 1, (8, 128)).astype(np.float32)
    tile = _noisy_tile(seed=7)
    tile.set_learning_rate(0.02)
    tile.update(X, D)
    rpu.save(tile, tmp_path / "tile.rpu")
    loaded = rpu.load(tmp_path / "tile.rpu")
    assert loaded.get_learning_rate() == 0.02
    assert np.array_equal(loaded.get_weights(), tile.get_weights())
    for name, value in tile.get_hidden_parameters().items():
        assert np.array_equal(loaded.get_hidden_parameters()[name], value), name
    tile.update(X[::-1], D)
    loaded.update(X[::-1], D)
    assert np.array_equal(loaded.get_weights(), tile.get_weights())


def test_different_seeds_and_successive_updates_differ():
    X = RNG.uniform(-1, 1, (4, 96)).astype(np.float32)
    D = RNG.uniform(-1, 1, (4, 128)).astype(np.float32)
    a, b = _noisy_tile(seed=1), _noisy_tile(seed=2)
    b.set_hidden_parameters(a.get_hidden_parameters())
    b.set_weights(a.get_weights())
    w0 = a.get_weights()
    a.update(X, D)
    b.update(X, D)
    assert not np.array_equal(a.get_weights(), b.get_weights())
    first = a.get_weights() - w0
    w1 = a.get_weights()
    a.update(X, D)
    second = a.get_weights() - w1
    assert not np.array_equal(first, second)
    # the same seed from scratch gives the same first update
    c = _noisy_tile(seed=1)
    c.update(X, D)
    assert np.array_equal(c.get_weights(), w1)


def test_layouts_and_leading_dims_give_identical_updates():
    X = RNG.uniform(-1, 1, (2, 3, 5))
    D = RNG.uniform(-1, 1, (2, 3, 4))
    plain = make_tile(4, 5, seed=9, device=ConstantStepDevice(), w0=None)
    plain.update(X.reshape(6, 5), D.reshape(6, 4))
    nd = make_tile(4, 5, seed=9, device=ConstantStepDevice(), w0=None)
    nd.update(X, D)
    assert np.array_equal(nd.get_weights(), plain.get_weights())
    trans = make_tile(4, 5, seed=9, device=ConstantStepDevice(), w0=None, in_trans=True,
                      out_trans=True)
    trans.update(np.ascontiguousarray(X.reshape(6, 5).T), np.ascontiguousarray(D.reshape(6, 4).T))
    assert np.array_equal(trans.get_weights(), plain.get_weights())
    # a single vector is one sample
    one = make_tile(4, 5, seed=9, device=ConstantStepDevice(), w0=None)
    two = make_tile(4, 5, seed=9, device=ConstantStepDevice(), w0=None)
    one.update(X[0, 0], D[0, 0])
    two.update(X[0, :1], D[0, :1])
    assert np.array_equal(one.get_weights(), two.get_weights())


# ----- exact (floating-point) update paths ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ideal", "none"])
def test_exact_update(kind, dtype):
    if kind == "ideal":
        tile = make_tile(5, 7, device=IdealDevice(), dtype=dtype, lr=0.3, w0=None)
    else:
        tile = make_tile(5, 7, dtype=dtype, lr=0.3, w0=None, pulse_type=PulseType.NONE,
                         device=ConstantStepDevice())
        assert tile.get_hidden_parameter_names() == []
    tile.set_weights(np.full((5, 7), 5.0))  # no bounds: kept (spec §2.2)
    assert np.all(tile.get_weights() == 5.0)
    X = RNG.normal(size=(9, 7))
    D = RNG.normal(size=(9, 5))
    tile.update(X.astype(dtype), D.astype(dtype))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(tile.get_weights(), 5.0 - 0.3 * D.T @ X, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_update_layouts(dtype):
    X = RNG.normal(size=(3, 4, 7))
    D = RNG.normal(size=(3, 4, 5))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    tile = make_tile(5, 7, device=IdealDevice(), dtype=dtype, lr=0.1)
    tile.update(X, D)
    ref = -0.1 * D.reshape(12, 5).T @ X.reshape(12, 7)
    np.testing.assert_allclose(tile.get_weights(), ref, rtol=tol, atol=tol)
    tile = make_tile(5, 7, device=IdealDevice(), dtype=dtype, lr=0.1, in_trans=True, out_trans=True)
    tile.update(X.reshape(12, 7).T, D.reshape(12, 5).T)
    np.testing.assert_allclose(tile.get_weights(), ref, rtol=tol, atol=tol)
    tile = make_tile(5, 7, device=IdealDevice(), dtype=dtype, lr=0.0)
    tile.update(X, D)
    assert np.all(tile.get_weights() == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_none_with_device_clips_to_the_device_bounds(dtype):
    dev = ConstantStepDevice(**{**NOISE_FREE, "w_max": 0.6, "w_min": -0.5})
    tile = make_tile(1, 2, device=dev, dtype=dtype, lr=1.0, w0=0.55,
                     pulse_type=PulseType.NONE_WITH_DEVICE)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    # a single sample: exact, then clipped (column 0 crosses the bound, column 1 does not)
    tile.update(np.array([[1.0, 0.01]]), np.array([[-0.1]]))
    np.testing.assert_allclose(tile.get_weights(), [[0.6, 0.551]], rtol=0, atol=tol)
    tile.update(np.array([[1.0, 0.0]]), np.array([[2.0]]))
    np.testing.assert_allclose(tile.get_weights(), [[-0.5, 0.551]], rtol=0, atol=tol)
    # per sample in order (spec §2.2 updateVector): +0.1 (clip at 0.6), then -0.1 -> 0.5, not 0.55
    tile.set_weights(np.full((1, 2), 0.55))
    tile.update(np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[-0.1], [0.1]]))
    np.testing.assert_allclose(tile.get_weights(), [[0.5, 0.5]], rtol=0, atol=tol)


# ----- update_indexed --------------------------------------------------------------------------------------
def _conv_indices(h, w, k, pad):
    """Indices (L, k*k) of k x k patches of an h x w image, stride 1, zero padding ``pad``."""
    rows = []
    for i in range(-pad, h + pad - k + 1):
        for j in range(-pad, w + pad - k + 1):
            idx = []
            for di in range(k):
                for dj in range(k):
                    r, c = i + di, j + dj
                    idx.append(r * w + c if 0 <= r < h and 0 <= c < w else -1)
            rows.append(idx)
    return np.array(rows)


@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("device", ["constant_step", "ideal"])
def test_update_indexed_equals_update_on_patches(device, index_dtype):
    indices = _conv_indices(4, 5, 3, 1).astype(index_dtype)  # (20, 9), with padding
    assert (indices < 0).any()
    n, n_pos, out = 3, indices.shape[0], 6
    x_input = RNG.uniform(-1, 1, (n, 20))
    d_input = RNG.uniform(-1, 1, (n, n_pos, out))
    dev = ConstantStepDevice() if device == "constant_step" else IdealDevice()
    a = make_tile(out, 9, device=dev, seed=13, w0=None)
    b = make_tile(out, 9, device=dev, seed=13, w0=None)
    a.update_indexed(x_input, d_input, indices)
    b.update(gather_patches(x_input, indices), d_input.reshape(n * n_pos, out))
    if device == "ideal":
        np.testing.assert_allclose(a.get_weights(), b.get_weights(), rtol=1e-12, atol=1e-14)
    else:
        assert np.array_equal(a.get_weights(), b.get_weights())


# ----- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["constant_step", "ideal"])
def test_errors_leave_the_weights_unchanged(device):
    dev = ConstantStepDevice() if device == "constant_step" else IdealDevice()
    tile = make_tile(4, 3, device=dev, w0=None)
    w0 = tile.get_weights()
    x = RNG.uniform(-1, 1, (5, 3))
    d = RNG.uniform(-1, 1, (5, 4))
    with pytest.raises(ValueError, match=r"\bx\b"):
        tile.update(RNG.uniform(-1, 1, (5, 4)), d)
    with pytest.raises(ValueError, match=r"\bd\b"):
        tile.update(x, RNG.uniform(-1, 1, (5, 3)))
    with pytest.raises(ValueError):
        tile.update(x, d[:4])  # batch sizes differ
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bx\b"):
        tile.update(bad, d)
    bad = d.copy()
    bad[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"\bd\b"):
        tile.update(x, bad)
    bad[4, 0] = -np.inf
    with pytest.raises(ValueError, match=r"\bd\b"):
        tile.update(x, bad)
    assert np.array_equal(tile.get_weights(), w0)


def test_update_indexed_errors():
    tile = make_tile(2, 4, device=ConstantStepDevice(), w0=None)
    w0 = tile.get_weights()
    indices = np.array([[0, 1, 2, 3], [1, 2, 3, -1], [2, 3, -1, -1]])
    x_input = RNG.uniform(-1, 1, (2, 4))
    d_input = RNG.uniform(-1, 1, (2, 3, 2))
    with pytest.raises(ValueError):
        tile.update_indexed(x_input, d_input[:, :2], indices)  # L differs
    with pytest.raises(ValueError):
        tile.update_indexed(x_input, d_input[:1], indices)  # N differs
    with pytest.raises(ValueError):
        tile.update_indexed(x_input, d_input, indices[:, :3])  # patch size != in_size
    with pytest.raises(ValueError):
        tile.update_indexed(x_input, d_input, np.where(indices == 3, 4, indices))  # out of range
    bad = x_input.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        tile.update_indexed(bad, d_input, indices)
    assert np.array_equal(tile.get_weights(), w0)


@pytest.mark.parametrize("isa", [0, 2], ids=["portable", "avx512"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_normals_by_column_versions(isa, dtype):
    """The row pass of a dense one-slot sample reads each pulse's normal by column
    (rpu_normals_by_column, cpu_rows.h): the firing columns of [j0, j1) take the sample's normals
    in column order, every other column of the span 0, and nothing outside the span is written.
    Both versions, on spans that start and end inside a vector, at every density."""
    rng = np.random.default_rng(17)
    from rpu import _core
    for n, keep in [(1, 1.0), (16, 1.0), (16, 0.0), (37, 0.5), (64, 0.9), (70, 0.2), (300, 0.05)]:
        for _ in range(4):
            fire = (rng.random(n) < keep) * rng.choice(np.array([-1, 1], np.int8), n)
            fire = fire.astype(np.int8)
            j0 = int(rng.integers(0, n))
            j1 = int(rng.integers(j0, n + 1))
            cols = j0 + np.flatnonzero(fire[j0:j1])
            normals = rng.standard_normal(cols.size + 3).astype(dtype)
            got = _core.normals_by_column(fire, normals, j0, j1, isa)
            if got is None:
                pytest.skip(f"this CPU or build has no version {isa}")
            xi, taken = got
            expected = np.zeros(n, dtype=dtype)
            expected[cols] = normals[:cols.size]
            assert taken == cols.size
            assert xi.dtype == dtype and np.array_equal(xi, expected), (n, keep, j0, j1)


def test_normals_by_column_refuses_bad_arguments():
    from rpu import _core
    fire = np.array([1, 0, -1, 1], np.int8)
    normals = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="isa must be"):
        _core.normals_by_column(fire, normals, 0, 4, 1)
    with pytest.raises(ValueError, match="j0"):
        _core.normals_by_column(fire, normals, 3, 2, 0)
    with pytest.raises(ValueError, match="j0"):
        _core.normals_by_column(fire, normals, 0, 5, 0)
    with pytest.raises(ValueError, match="the 3 normals"):
        _core.normals_by_column(fire, normals[:2], 0, 4, 0)


# ----- randomised: dense pulse types on every noise-free device kind, against the references -----
def _random_device(rng):
    from rpu.config import (ExpStepDevice, LinearStepDevice, PiecewiseStepDevice, PowStepDevice,
                            SoftBoundsDevice)

    # (dw_min 0.0007 and lr 0.03 make lr / g not whole: the grown trains' case below)
    common = dict(dw_min=float(rng.choice([0.001, 0.0007, 0.01, 0.05])),
                  up_down=float(rng.choice([0.0, 0.1, -0.2])), w_max=float(rng.choice([0.6, 1.0])),
                  w_min=float(rng.choice([-0.6, -1.0])), dw_min_dtod=0.0, up_down_dtod=0.0,
                  w_max_dtod=0.0, w_min_dtod=0.0, dw_min_std=0.0)
    kind = int(rng.integers(6))
    if kind == 0:
        return ConstantStepDevice(**common)
    if kind == 1:
        return LinearStepDevice(gamma_up=float(rng.uniform(0, 0.5)),
                                gamma_down=float(rng.uniform(0, 0.5)), gamma_up_dtod=0.0,
                                gamma_down_dtod=0.0, mult_noise=bool(rng.integers(2)), **common)
    if kind == 2:
        return SoftBoundsDevice(**common)
    if kind == 3:
        return ExpStepDevice(A_up=float(rng.uniform(0, 0.5)), A_down=float(rng.uniform(0, 0.5)),
                             gamma_up=float(rng.uniform(0, 5)), gamma_down=float(rng.uniform(0, 5)),
                             a=float(rng.uniform(-1, 1)), b=float(rng.uniform(-1, 1)), **common)
    if kind == 4:
        return PowStepDevice(pow_gamma=float(rng.uniform(0.5, 2)),
                             pow_up_down=float(rng.uniform(-0.2, 0.2)), pow_gamma_dtod=0.0,
                             pow_up_down_dtod=0.0, **common)
    return PiecewiseStepDevice(piecewise_up=list(rng.uniform(0.5, 1.5, 5)),
                               piecewise_down=list(rng.uniform(0.5, 1.5, 5)), **common)


@pytest.mark.parametrize("seed", range(4))
def test_random_dense_updates_match_the_references(seed):
    """MeanCount and DeterministicImplicit trains (deterministic counts) on noise-free devices of
    every kind, with random update management settings, learning rates and data, float64: the
    counts of update_reference.dense_counts, applied pulse by pulse with the rules of
    device_reference.pulse, sample after sample. (A differential run of 1200 such cases found
    that float64 tiles scaled A and B of a grown train -- fixed_bl and update_bl_management off,
    update_management on, lr / g not whole -- by sqrt(lr / (g BL)) instead of 1.)"""
    import device_reference as DR
    from rpu.tiles._devices import granularity

    rng = np.random.default_rng(7000 + seed)
    for case in range(30):
        dev = _random_device(rng)
        up = UpdateParameters(
            pulse_type=[PulseType.MEAN_COUNT, PulseType.DETERMINISTIC_IMPLICIT][int(rng.integers(2))],
            desired_bl=int(rng.choice([1, 5, 31, 100])), fixed_bl=bool(rng.integers(2)),
            update_bl_management=bool(rng.integers(2)), update_management=bool(rng.integers(2)),
            res=float(rng.choice([0.0, 0.02])), x_res_implicit=float(rng.choice([0.0, 0.1])),
            d_res_implicit=float(rng.choice([0.0, 0.05])))
        out, inn, m = int(rng.integers(1, 7)), int(rng.integers(1, 9)), int(rng.integers(1, 5))
        tile = rpu.AnalogTile(out, inn, SingleRPUConfig(device=dev, update=up), dtype=np.float64,
                              seed=case)
        lr = float(rng.choice([0.01, 0.03, 0.05, 0.1, 0.5]))
        tile.set_learning_rate(lr)
        tile.set_weights(rng.uniform(-0.5, 0.5, (out, inn)))
        hidden, ref = tile.get_hidden_parameters(), tile.get_weights()
        X = rng.uniform(-1, 1, (m, inn))
        D = rng.uniform(-1, 1, (m, out)) * float(rng.choice([0.1, 1.0]))
        for x, d in zip(X, D):
            counts = dense_counts(x, d, lr, granularity(dev), up)
            for t in range(int(np.abs(counts).max(initial=0))):
                pulsed = np.where(counts > 0, DR.pulse(dev, ref, hidden, False),
                                  DR.pulse(dev, ref, hidden, True))
                ref = np.where(np.abs(counts) > t, pulsed, ref)
        tile.update(X, D)
        np.testing.assert_allclose(tile.get_weights(), ref, rtol=1e-9, atol=1e-12,
                                   err_msg=f"case {case}: {dev!r}, {up!r}, lr {lr}")
