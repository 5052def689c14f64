"""rpu.inference: aihwkit 1.1.0's other noise models (spec/inference.md 4.1, 4.3, 4.4).

StateIndependent, CustomDriftPCMLike, ReRamWan2022, ReRamCMO and Hermes, and PCMLike with the
N-pair converters. Deterministic parts (spreads, drift-exponent moments, read-noise stds, the
noise-free limits) against NumPy references written here, exactly; stochastic parts with
statistical bounds (fixed keys, 20 000 samples per level, bounds at >= 4 standard errors);
reproducibility for any thread count; bad input. The tests marked ``aihwkit`` compare the
constructors and the per-level statistics with aihwkit itself and run only when
``AIHWKIT_PYTHON`` names its interpreter.
"""
import math

import numpy as np
import pytest

import rpu.config as C
import rpu.inference as inf
from rpu import _core
from rpu._rng import Purpose
from rpu.errors import ConfigError

from aihwkit_runner import AIHWKIT_PYTHON, run_worker
from thread_runs import outputs_per_thread_count

KEY = 0x0DDC_0FFE_E123_4567
N = 20000
CUSTOM_TABLE = {"g_lst": [0.0, 5.0, 25.0], "nu_mean_lst": [0.1, 0.07, 0.04],
                "nu_std_lst": [0.03, 0.02, 0.01]}
WAN = {1.0: [0.348, 16.030, -43.853, 45.393, -16.815],
       86400.0: [0.701, 22.086, -50.773, 47.095, -16.458],
       172800.0: [0.782, 20.274, -43.507, 37.062, -11.934]}
HERMES = {1: [0.15781817, 2.32443916, -2.16310839, 0.68841818],
          2: [0.16603222, 4.71806468, -8.48101252, 4.68961419]}
PCM = [0.26348, 1.9650, -1.1731]


# ----- NumPy references (from the spec, independent of the kernels) --------------------------

def poly(g, coeff, g_norm=1.0):
    return np.polynomial.polynomial.polyval(np.asarray(g, float) / g_norm, coeff)


def ref_hermes_nu(g, g_max, nd):
    gr = np.maximum(np.abs(np.asarray(g, float) / g_max), 1e-7)
    mu = np.where(gr < 0.0945, np.clip(-0.0387 * np.log(gr) - 0.0182, 0.072, 0.13),
                  -0.0436 * gr ** 2 - 0.0126 * gr + 0.0736)
    if nd == 1:
        sig = np.where(gr < 0.3039, np.clip(-0.0120 * np.log(gr) - 0.0023, 0.0124, 0.04),
                       -0.0165 * gr ** 2 + 0.0116 * gr + 0.0104)
    else:
        sig = np.where(gr < 0.3055, np.clip(-0.0117 * np.log(gr) - 0.0057, 0.0091, 0.04),
                       -0.0118 * gr ** 2 + 0.0093 * gr + 0.0073)
    return mu, sig


def ref_hermes_qs(g, g_max, nd):
    gr = np.abs(np.asarray(g, float)) / g_max
    with np.errstate(divide="ignore"):
        if nd == 1:
            return np.where(gr < 0.1591, np.clip(-0.0078 * np.log(gr) + 0.0038, 0.0179, 0.04),
                            0.0664 * gr ** 3 - 0.1352 * gr ** 2 + 0.0768 * gr + 0.0088)
        return np.where(gr < 0.16, np.clip(-0.0117 * np.log(gr) - 0.0069, 0.015, 0.04),
                        0.0069 * gr ** 3 - 0.0280 * gr ** 2 + 0.0211 * gr + 0.0123)


def time_factor(t_inference, t_0, t_read):
    t = t_inference + t_0
    return math.sqrt(math.log((t + t_read) / (2 * t_read)))


def folded_normal_moments(mu, sig):
    """Mean and std of |mu + sig xi|."""
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    mean = sig * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * sig * sig)) \
        + mu * (1 - 2 * phi(-mu / sig))
    return mean, math.sqrt(mu * mu + sig * sig - mean * mean)


def const_rows(values, n_cols=N):
    return np.repeat(np.asarray(values, dtype=np.float64)[:, None], n_cols, axis=1)


def assert_moments(x, mean, std, n_se=4.0, what=""):
    n = x.size
    assert abs(x.mean() - mean) < n_se * max(std, 1e-12) / math.sqrt(n), (what, x.mean(), mean)
    assert abs(x.std() / std - 1) < n_se / math.sqrt(2 * n), (what, x.std(), std)


# ----- deterministic parts -------------------------------------------------------------------

G25 = np.linspace(0, 25, 41).reshape(1, -1)

PROG_STD_CASES = [
    ("state_independent", lambda: C.StateIndependentNoiseModel(), G25,
     lambda g: poly(g, [0.2, 0, 0], 25)),
    ("state_independent_coeff", lambda: C.StateIndependentNoiseModel(
        g_converter=C.SinglePairConductanceConverter(g_max=40.0), prog_coeff=[0.1, 0.3, -0.1]),
     1.6 * G25, lambda g: poly(g, [0.1, 0.3, -0.1], 40)),
    ("reram_wan", lambda: C.ReRamWan2022NoiseModel(), G25,
     lambda g: poly(g, WAN[1.0], 25) * 25 / 40),
    ("reram_wan_ref", lambda: C.ReRamWan2022NoiseModel(coeff_g_max_reference=25.0), G25,
     lambda g: poly(g, WAN[1.0], 25)),
    ("hermes2", lambda: C.HermesNoiseModel(), G25 * 20.7 / 25,
     lambda g: poly(g, HERMES[2], 20.7)),
    ("hermes1", lambda: C.HermesNoiseModel(num_devices=1, g_max=8.0), G25 * 8 / 25,
     lambda g: poly(g, HERMES[1], 8.0) * 8 / 10.35),
    ("reram_cmo", lambda: C.ReRamCMONoiseModel(), np.linspace(9, 88.2, 23).reshape(1, -1),
     lambda g: 0.00081107 + 0.00106879 * g),
    ("reram_cmo_2pct", lambda: C.ReRamCMONoiseModel(acceptance_range=2),
     np.linspace(9, 88.2, 23).reshape(1, -1), lambda g: 0.0112185391 + 0.01129027418 * g),
    ("custom_drift", lambda: C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE), G25,
     lambda g: poly(g, PCM, 25)),
]


@pytest.mark.parametrize("name,make,g,ref", PROG_STD_CASES, ids=[c[0] for c in PROG_STD_CASES])
def test_programming_noise_std(name, make, g, ref):
    np.testing.assert_allclose(inf.programming_noise_std(make(), g), ref(g), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("nd", [1, 2])
def test_hermes_nu_moments_and_read_std(nd):
    g_max = 20.7 if nd == 2 else 10.35
    gr = np.concatenate([[0.0, 1e-9, 1e-4], np.linspace(0.01, 1, 100),
                         [0.0945, 0.16, 0.1591, 0.3039, 0.3055]])
    g = (gr * g_max).reshape(1, -1)
    m = C.HermesNoiseModel(num_devices=nd)
    mu, sig = inf.drift_nu_moments(m, g)
    mu_r, sig_r = ref_hermes_nu(g, g_max, nd)
    np.testing.assert_allclose(mu, mu_r, rtol=1e-12)
    np.testing.assert_allclose(sig, sig_r, rtol=1e-12)
    for t in (0.0, 3600.0, 3.15e7):
        np.testing.assert_allclose(inf.read_noise_std(m, g, t),
                                   ref_hermes_qs(g, g_max, nd) * time_factor(t, m.t_0, 512e-9),
                                   rtol=1e-12)
    assert inf.read_noise_std(m, [[0.0]], 0.0)[0, 0] == pytest.approx(
        0.04 * time_factor(0.0, m.t_0, 512e-9))  # the log branch at g = 0 is clipped


def test_state_independent_and_custom_moments():
    g = np.concatenate([[0.0], np.linspace(0.5, 25, 30), [30.0]]).reshape(1, -1)
    mu, sig = inf.drift_nu_moments(C.StateIndependentNoiseModel(drift_nu_mean=0.2,
                                                                drift_nu_std=0.03), g)
    assert np.all(mu == 0.2) and np.all(sig == 0.03)
    m = C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE)
    mu, sig = inf.drift_nu_moments(m, g)
    g_c = np.clip(g, 0, 25)  # outside the table: its end values
    np.testing.assert_allclose(mu, np.interp(g_c, CUSTOM_TABLE["g_lst"],
                                             CUSTOM_TABLE["nu_mean_lst"]), rtol=1e-14)
    np.testing.assert_allclose(sig, np.interp(g_c, CUSTOM_TABLE["g_lst"],
                                              CUSTOM_TABLE["nu_std_lst"]), rtol=1e-14)
    assert mu[0, -1] == 0.04
    # read noise std of the state-independent model: tf / g_max everywhere
    si = C.StateIndependentNoiseModel()
    np.testing.assert_allclose(inf.read_noise_std(si, g, 100.0),
                               time_factor(100.0, 20.0, 250e-9) / 25.0, rtol=1e-14)
    for model in (C.ReRamWan2022NoiseModel(), C.ReRamCMONoiseModel()):
        with pytest.raises(ValueError, match="not defined for"):
            inf.drift_nu_moments(model, g)
        with pytest.raises(ValueError, match="not defined for"):
            inf.read_noise_std(model, g, 1.0)
        with pytest.raises(ValueError, match="not defined for"):
            inf.drift_factor(model, g, 1.0)


@pytest.mark.parametrize("make", [
    lambda: C.StateIndependentNoiseModel(read_noise_scale=0.0),
    lambda: C.HermesNoiseModel(read_noise_scale=0.0),
    lambda: C.HermesNoiseModel(num_devices=1, read_noise_scale=0.0),
    lambda: C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE, read_noise_scale=0.0),
])
def test_power_law_drift_without_read_noise(make):
    m = make()
    rng = np.random.default_rng(1)
    g = rng.uniform(0, m.g_max, (8, 33))
    nu = rng.uniform(0, 0.15, (8, 33))
    for t in (0.0, 1.0, 3600.0, 3.15e7):
        got = inf.apply_drift_noise_to_conductance(m, g, nu, t, KEY, 3)
        np.testing.assert_allclose(got, g * ((t + m.t_0) / m.t_0) ** (-nu), rtol=1e-12)
    np.testing.assert_array_equal(inf.apply_drift_noise_to_conductance(m, g, nu, 0.0, KEY, 3), g)


def test_reram_noise_free_limits():
    g_t = np.random.default_rng(2).uniform(0, 25, (6, 40))
    g_p = g_t + 3.0
    wan = C.ReRamWan2022NoiseModel(noise_scale=0.0)
    np.testing.assert_array_equal(inf.generate_drift_coefficients(wan, g_t, KEY, 0), g_t)
    # the state at t is drawn around the target (passed as the drift parameter), not g_prog
    np.testing.assert_array_equal(inf.apply_drift_noise_to_conductance(wan, g_p, g_t, 86400.0,
                                                                       KEY, 1), g_t)
    cmo = C.ReRamCMONoiseModel(prog_noise_scale=0.0, read_noise_scale=0.0, drift_scale=0.0)
    g = np.random.default_rng(3).uniform(0, 100, (6, 40))
    np.testing.assert_array_equal(inf.apply_programming_noise_to_conductance(cmo, g, KEY, 0), g)
    np.testing.assert_array_equal(inf.apply_drift_noise_to_conductance(cmo, g, g, 3600.0, KEY, 1),
                                  np.clip(g, 9.0, 88.199997))
    # t = 0: the programmed conductances themselves, even with noise on
    cmo1 = C.ReRamCMONoiseModel()
    np.testing.assert_array_equal(inf.apply_drift_noise_to_conductance(cmo1, g, g, 0.0, KEY, 1), g)
    # read noise only: its normals are Purpose.INF_READ_NOISE's; relaxation only: INF_RELAXATION's
    gg = np.full((3, 64), 50.0)
    t = 3600.0
    xi = np.empty_like(gg)
    _core.normal_fill(xi, KEY, 5, int(Purpose.INF_READ_NOISE), 0, 1)
    read = inf.apply_drift_noise_to_conductance(C.ReRamCMONoiseModel(drift_scale=0.0), gg, gg, t,
                                                KEY, 5)
    s_read = 0.0277316483 * math.log10(50.0) * math.sqrt(math.log((t + 1e-6) / 2e-6))
    np.testing.assert_allclose(read, 50.0 + s_read * xi, rtol=1e-12)
    _core.normal_fill(xi, KEY, 5, int(Purpose.INF_RELAXATION), 0, 1)
    relax = inf.apply_drift_noise_to_conductance(C.ReRamCMONoiseModel(read_noise_scale=0.0), gg,
                                                 gg, t, KEY, 5)
    shift, s_rel = -0.08900206 * math.log(t), 0.04201137 * math.log(t) + 0.41183342
    np.testing.assert_allclose(relax, 50.0 + shift + s_rel * xi, rtol=1e-12)


def test_reram_wan_time_lookup():
    m = C.ReRamWan2022NoiseModel()
    g = np.full((2, 50), 10.0)
    a = inf.apply_drift_noise_to_conductance(m, g, g, 86400.0, KEY, 4)
    b = inf.apply_drift_noise_to_conductance(m, g, g, 86400.0 * (1 + 1e-9), KEY, 4)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"t_inference = 1000.0 s .*coeff_dic.*86400.0"):
        inf.apply_drift_noise_to_conductance(m, g, g, 1000.0, KEY, 4)
    with pytest.raises(ValueError, match="t_inference"):
        inf.apply_noise(m, np.eye(3), 5.0, KEY, 0)
    w = np.random.default_rng(4).uniform(-1, 1, (5, 5))
    assert np.all(np.isfinite(inf.apply_noise(m, w, 172800.0, KEY, 0)))


def test_pcm_like_with_n_pair_converters_drifts_every_slice():
    # noise-free programming, one exponent everywhere: every slice drifts by the same factor, so
    # the weights do (g_min = 0: the idle devices stay at 0)
    for conv in (C.DualPairConductanceConverter([1.0, 3.0]),
                 C.NPairConductanceConverter([0.5, 1.0, 2.0])):
        m = C.PCMLikeNoiseModel(g_converter=conv, prog_noise_scale=0.0, read_noise_scale=0.0)
        w = np.random.default_rng(5).uniform(-1, 1, (20, 30))
        w_prog, nu = inf.apply_programming_noise(m, w, KEY, 0)
        assert len(nu) == 2 * len(conv.f_lst)
        np.testing.assert_allclose(w_prog, w, atol=1e-12)
        w_t = inf.apply_drift_noise(m, w_prog, [np.full_like(n, 0.06) for n in nu], 1000.0, KEY, 1)
        np.testing.assert_allclose(w_t, w * (1020.0 / 20.0) ** -0.06, rtol=1e-10, atol=1e-14)


# ----- stochastic parts ------------------------------------------------------------------------

STAT_CASES = [
    ("state_independent", lambda: C.StateIndependentNoiseModel(), [2.0, 10.0, 25.0]),
    ("custom_drift", lambda: C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE), [5.0, 15.0, 25.0]),
    ("reram_wan", lambda: C.ReRamWan2022NoiseModel(), [10.0, 18.0, 25.0]),
    ("reram_cmo", lambda: C.ReRamCMONoiseModel(prog_noise_scale=30.0), [9.0, 40.0, 88.0]),
    ("hermes2", lambda: C.HermesNoiseModel(), [5.0, 12.0, 20.7]),
    ("hermes1", lambda: C.HermesNoiseModel(num_devices=1), [3.0, 6.0, 10.35]),
]


@pytest.mark.parametrize("name,make,levels", STAT_CASES, ids=[c[0] for c in STAT_CASES])
def test_programming_noise_statistics(name, make, levels):
    m = make()
    g = const_rows(levels)
    out = inf.apply_programming_noise_to_conductance(m, g, KEY, 7, sub=1)
    std = inf.programming_noise_std(m, np.asarray(levels).reshape(1, -1))[0]
    scale = m.noise_scale if name == "reram_wan" else m.prog_noise_scale
    for i, lv in enumerate(levels):
        assert_moments(out[i], lv, scale * std[i], what=(name, lv))


@pytest.mark.parametrize("name,make,levels", [c for c in STAT_CASES if "reram" not in c[0]],
                         ids=[c[0] for c in STAT_CASES if "reram" not in c[0]])
def test_drift_exponent_statistics(name, make, levels):
    m = make()
    g = const_rows(levels)
    nu = inf.generate_drift_coefficients(m, g, KEY, 11)
    assert nu.min() >= 0
    mu, sig = inf.drift_nu_moments(m, np.asarray(levels).reshape(1, -1))
    for i in range(len(levels)):
        mean, std = folded_normal_moments(mu[0, i], sig[0, i])
        assert_moments(nu[i], mean, std, n_se=5.0, what=(name, levels[i]))
    m.drift_scale = 3.0
    np.testing.assert_allclose(inf.generate_drift_coefficients(m, g, KEY, 11), 3 * nu, rtol=1e-12)


@pytest.mark.parametrize("t", [0.0, 3600.0, 3.15e7])
@pytest.mark.parametrize("name,make,levels", [c for c in STAT_CASES if "reram" not in c[0]],
                         ids=[c[0] for c in STAT_CASES if "reram" not in c[0]])
def test_read_noise_statistics(name, make, levels, t):
    m = make()
    g = const_rows(levels)
    out = inf.apply_drift_noise_to_conductance(m, g, np.zeros_like(g), t, KEY, 13)
    rel = inf.read_noise_std(m, np.asarray(levels).reshape(1, -1), t)[0]
    for i, lv in enumerate(levels):
        assert_moments(out[i], lv, lv * rel[i], what=(name, lv, t))


@pytest.mark.parametrize("t", [1.0, 3600.0, 86400.0])
def test_reram_cmo_drift_statistics(t):
    # against a Monte Carlo of the spec's formula with NumPy's own generator
    m = C.ReRamCMONoiseModel()
    levels = [15.0, 50.0, 80.0]
    out = inf.apply_drift_noise_to_conductance(m, const_rows(levels), const_rows(levels), t, KEY,
                                               17)
    rng = np.random.default_rng(18)
    tf = math.sqrt(math.log((t + 1e-6) / 2e-6))
    for i, lv in enumerate(levels):
        z = rng.standard_normal((2, 200000))
        g_d = lv - 0.08900206 * math.log(t) + (0.04201137 * math.log(t) + 0.41183342) * z[0]
        ref = np.clip(g_d + 0.0277316483 * np.log10(g_d) * tf * z[1], 9.0, 88.199997)
        se = ref.std() * math.sqrt(1 / N + 1 / ref.size)
        assert abs(out[i].mean() - ref.mean()) < 5 * se, (lv, t)
        assert abs(out[i].std() / ref.std() - 1) < 5 / math.sqrt(2 * N), (lv, t)


@pytest.mark.parametrize("t", [1.0, 86400.0, 172800.0])
def test_reram_wan_drift_statistics(t):
    m = C.ReRamWan2022NoiseModel()
    levels = [12.0, 18.0, 25.0]
    g = const_rows(levels)
    out = inf.apply_drift_noise_to_conductance(m, np.zeros_like(g), g, t, KEY, 19)
    for i, lv in enumerate(levels):
        assert_moments(out[i], lv, poly(lv, WAN[t], 25.0) * 25 / 40, what=(lv, t))


# ----- weights, apply_noise, reproducibility ---------------------------------------------------

MODELS = [
    lambda: C.PCMLikeNoiseModel(),
    lambda: C.PCMLikeNoiseModel(g_converter=C.DualPairConductanceConverter([1.0, 3.0])),
    lambda: C.StateIndependentNoiseModel(read_noise_scale=0.1),
    lambda: C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE),
    lambda: C.ReRamWan2022NoiseModel(),
    lambda: C.ReRamCMONoiseModel(),
    lambda: C.HermesNoiseModel(),
    lambda: C.HermesNoiseModel(num_devices=1, g_converter=C.NPairConductanceConverter(
        [1.0, 2.0], g_max=10.0)),
]


def _all_draws(make, w, op, n_threads=None, t=86400.0):
    m = make()
    w_prog, nu = inf.apply_programming_noise(m, w, KEY, op, n_threads=n_threads)
    w_t = inf.apply_drift_noise(m, w_prog, nu, t, KEY, op + 1, n_threads=n_threads)
    return [w_prog, *nu, w_t, inf.apply_noise(m, w, t, KEY, op + 2, n_threads=n_threads)]


@pytest.mark.parametrize("make", MODELS)
def test_reproducible_and_thread_independent(make):
    w = np.random.default_rng(7).normal(size=(37, 61)).astype(np.float32)
    a = _all_draws(make, w, 5)
    for x, y in zip(a, _all_draws(make, w, 5, n_threads=3)):
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, y)
    b = _all_draws(make, w, 9)
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[-2], b[-2])
    assert all(np.all(np.isfinite(x)) for x in a)


@pytest.mark.parametrize("make", MODELS)
def test_apply_noise_at_zero_time_is_programming(make):
    m = make()
    w = np.random.default_rng(9).uniform(-1, 1, (20, 20))
    w_prog, _ = inf.apply_programming_noise(m, w, KEY, 4)
    np.testing.assert_array_equal(inf.apply_noise(m, w, 0.0, KEY, 4), w_prog)
    assert not np.array_equal(w_prog, w)  # noisy != clean (aihwkit's NoiseModelTest)
    t = 86400.0 if isinstance(m, C.ReRamWan2022NoiseModel) else 100.0
    w_t = inf.apply_noise(m, w, t, KEY, 4)
    assert np.all(np.isfinite(w_t)) and not np.allclose(w_t, w, atol=1e-3)


THREAD_SCRIPT = r"""
import hashlib
import numpy as np
import rpu.config as C
import rpu.inference as inf
table = {"g_lst": [0.0, 25.0], "nu_mean_lst": [0.1, 0.05], "nu_std_lst": [0.02, 0.01]}
models = [C.StateIndependentNoiseModel(), C.CustomDriftPCMLikeNoiseModel(table),
          C.ReRamWan2022NoiseModel(), C.ReRamCMONoiseModel(), C.HermesNoiseModel(num_devices=1),
          C.PCMLikeNoiseModel(g_converter=C.NPairConductanceConverter([1.0, 2.0, 4.0]))]
w = np.random.default_rng(8).normal(size=(203, 131))
h = hashlib.sha256()
for m in models:
    w_prog, nu = inf.apply_programming_noise(m, w, 99, 1)
    w_t = inf.apply_drift_noise(m, w_prog, nu, 86400.0, 99, 2)
    for a in (w_prog, *nu, w_t):
        h.update(np.ascontiguousarray(a).tobytes())
print(h.hexdigest())
"""


def test_omp_num_threads_1_vs_2_identical():
    digests = outputs_per_thread_count(THREAD_SCRIPT)
    assert len(digests[0]) == 64 and digests[0] == digests[1]


# ----- configuration and bad input -------------------------------------------------------------

def test_config_resolution():
    wan = C.ReRamWan2022NoiseModel()
    assert wan.coeff_g_max_reference == 40.0 and wan.g_max == 25.0
    assert wan.coeff_dic == WAN
    assert C.ReRamWan2022NoiseModel(coeff_dic={2.0: [0.1]}).coeff_g_max_reference == 25.0
    cmo = C.ReRamCMONoiseModel()
    assert cmo.acceptance_range == 0.2 and cmo.g_converter == C.SingleDeviceConductanceConverter()
    assert C.ReRamCMONoiseModel(g_max=50.0, g_min=1.0).g_converter.g_max == 50.0
    h1 = C.HermesNoiseModel(num_devices=1)
    assert (h1.g_max, h1.t_0, h1.prog_coeff_g_max_reference) == (10.35, 200.0, 10.35)
    h2 = C.HermesNoiseModel(prog_coeff=[0.1], prog_coeff_g_max_reference=30.0, g_max=20.0)
    assert h2.prog_coeff_g_max_reference == 30.0 and h2.t_0 == 300.0
    si = C.StateIndependentNoiseModel(g_converter=C.DualPairConductanceConverter([1.0, 2.0],
                                                                                 g_max=10.0))
    assert si.g_max == 10.0 and si.prog_coeff == [0.2, 0.0, 0.0]
    for m in (wan, cmo, h1, h2, si, C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE)):
        assert C.from_json(m.to_json()) == m
    assert "custom_drift_model" in repr(C.CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE))


@pytest.mark.parametrize("make,match", [
    (lambda: C.HermesNoiseModel(num_devices=3), "HermesNoiseModel.num_devices"),
    (lambda: C.HermesNoiseModel(g_max=21.0), r"HermesNoiseModel.g_max = 21.0"),
    (lambda: C.HermesNoiseModel(g_converter=C.SinglePairConductanceConverter(g_max=25.0)),
     "HermesNoiseModel.g_max = 25.0"),
    (lambda: C.CustomDriftPCMLikeNoiseModel({"g_lst": [0, 25], "nu_mean_lst": [0.1, 0.1]}),
     "CustomDriftPCMLikeNoiseModel.custom_drift_model has the keys"),
    (lambda: C.CustomDriftPCMLikeNoiseModel({**CUSTOM_TABLE, "g_lst": [0.0, 25.0, 5.0]}),
     "ascending"),
    (lambda: C.CustomDriftPCMLikeNoiseModel({**CUSTOM_TABLE, "nu_std_lst": [0.1, -0.1, 0.1]}),
     r"\['nu_std_lst'\]"),
    (lambda: C.CustomDriftPCMLikeNoiseModel({**CUSTOM_TABLE, "g_lst": [0.0, 5.0, 20.0]}),
     "converter's range"),
    (lambda: C.CustomDriftPCMLikeNoiseModel({**CUSTOM_TABLE, "g_lst": [1.0, 5.0]}),
     "lengths"),
    (lambda: C.ReRamWan2022NoiseModel(coeff_dic={1.0: []}), r"coeff_dic\[1.0\] = \[\]"),
    (lambda: C.ReRamWan2022NoiseModel(coeff_dic={-1.0: [0.1]}), "time in seconds > 0"),
    (lambda: C.ReRamWan2022NoiseModel(noise_scale=-1.0), "ReRamWan2022NoiseModel.noise_scale"),
    (lambda: C.ReRamCMONoiseModel(decay_dict={"mean": [0.1]}), r"decay_dict\['std'\]"),
    (lambda: C.ReRamCMONoiseModel(read_dict={"K": 0.1}), "read_dict"),
    (lambda: C.ReRamCMONoiseModel(g_max=5.0), r"g_min = 9.0 .*g_max = 5.0"),
    (lambda: C.StateIndependentNoiseModel(drift_nu_std=-0.1), "drift_nu_std"),
    (lambda: C.StateIndependentNoiseModel(prog_coeff=[]), r"prog_coeff = \[\]"),
])
def test_config_errors_name_the_field(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_mutated_configs_are_rechecked():
    cmo = C.ReRamCMONoiseModel()
    cmo.acceptance_range = 5.0
    with pytest.raises(ConfigError, match="acceptance_range"):
        inf.apply_programming_noise(cmo, np.eye(2), KEY, 0)
    cmo = C.ReRamCMONoiseModel()
    cmo.g_max = 60.0
    with pytest.raises(ConfigError, match="g_converter"):
        inf.apply_programming_noise(cmo, np.eye(2), KEY, 0)


def test_input_validation():
    m = C.HermesNoiseModel()
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match="drift_noise_parameters must hold 2"):
        inf.apply_drift_noise(m, w, [w], 1.0, KEY, 0)
    with pytest.raises(ValueError, match="nu must have the shape"):
        inf.apply_drift_noise_to_conductance(C.ReRamCMONoiseModel(), w, np.ones((3, 2)), 1.0,
                                             KEY, 0)
    with pytest.raises(ValueError, match="t_inference"):
        inf.apply_drift_noise(C.StateIndependentNoiseModel(), w, [w, w], -5.0, KEY, 0)
    with pytest.raises(ValueError, match="g_target must be finite"):
        inf.apply_programming_noise_to_conductance(m, [[np.nan]], KEY, 0)
    with pytest.raises(TypeError, match="noise_model"):
        inf.apply_noise(C.SinglePairConductanceConverter(), w, 1.0, KEY, 0)


# ----- aihwkit 1.1.0 itself (optional) ----------------------------------------------------------

needs_aihwkit = pytest.mark.skipif(not AIHWKIT_PYTHON,
                                   reason="AIHWKIT_PYTHON is not set (aihwkit not available)")

SIGNATURE_WORKER = r"""
import inspect, json, sys
import numpy as np
import aihwkit.inference as I
from aihwkit.inference.noise.hermes import HermesNoiseModel
from aihwkit.inference.compensation.drift import (GlobalDriftCompensationWithExactReference,
                                                  PerColumnDriftCompensation)
spec = json.loads(str(np.load(sys.argv[1])["spec"]))
out = {}
for name in spec["classes"]:
    cls = HermesNoiseModel if name == "HermesNoiseModel" else getattr(I, name, None)
    if cls is None:
        cls = {"GlobalDriftCompensationWithExactReference": GlobalDriftCompensationWithExactReference,
               "PerColumnDriftCompensation": PerColumnDriftCompensation}[name]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    out[name] = [[p.name, None if p.default is inspect.Parameter.empty else repr(p.default)]
                 for p in params]
for name, kwargs in spec["objects"]:
    cls = HermesNoiseModel if name == "HermesNoiseModel" else getattr(I, name)
    obj = cls(**kwargs)
    out["obj:" + name + json.dumps(kwargs)] = {k: v for k, v in vars(obj).items()
                                               if isinstance(v, (int, float, list, dict))}
np.savez(sys.argv[2], result=np.array(json.dumps(out)))
"""

SIGNATURE_CLASSES = ["StateIndependentNoiseModel", "CustomDriftPCMLikeNoiseModel",
                     "ReRamWan2022NoiseModel", "ReRamCMONoiseModel", "HermesNoiseModel",
                     "NPairConductanceConverter", "DualPairConductanceConverter",
                     "CustomPairConductanceConverter", "SingleDeviceConductanceConverter",
                     "GlobalDriftCompensationWithExactReference", "PerColumnDriftCompensation"]
# attributes where rpu resolves differently on purpose (see the class docstrings)
INTENDED = {("ReRamWan2022NoiseModel", "coeff_g_max_reference")}


@needs_aihwkit
def test_constructors_match_aihwkit():
    import dataclasses
    import json
    objects = [["StateIndependentNoiseModel", {}], ["ReRamWan2022NoiseModel", {}],
               ["ReRamCMONoiseModel", {}], ["HermesNoiseModel", {}],
               ["HermesNoiseModel", {"num_devices": 1}],
               ["CustomDriftPCMLikeNoiseModel", {"custom_drift_model": CUSTOM_TABLE}],
               ["SingleDeviceConductanceConverter", {}],
               ["NPairConductanceConverter", {"f_lst": [1.0, 2.0]}]]
    res = json.loads(str(run_worker(SIGNATURE_WORKER, {"classes": SIGNATURE_CLASSES,
                                                        "objects": objects}, {})["result"]))
    for name in SIGNATURE_CLASSES:
        ours = [f for f in dataclasses.fields(getattr(C, name)) if f.init]
        assert [f.name for f in ours] == [p[0] for p in res[name]], name
        for f, (_, default) in zip(ours, res[name]):
            if default is None:
                assert f.default is dataclasses.MISSING, (name, f.name)
            else:
                assert repr(f.default) == default or float(f.default) == float(default), \
                    (name, f.name, f.default, default)
    for name, kwargs in objects:
        ours = getattr(C, name)(**kwargs)
        for attr, value in res["obj:" + name + json.dumps(kwargs)].items():
            if hasattr(ours, attr) and (name, attr) not in INTENDED:
                mine = getattr(ours, attr)
                if isinstance(value, dict):
                    value = {float(k) if k.replace(".", "").isdigit() else k: v
                             for k, v in value.items()}
                assert mine == value, (name, attr, mine, value)


STAT_WORKER = r"""
import json, sys
import numpy as np
import torch
import aihwkit.inference as I
from aihwkit.inference.noise.hermes import HermesNoiseModel
from aihwkit.inference.converter import conductance as CV
torch.manual_seed(0)
data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
w = torch.from_numpy(data["w"])
out = {}
for i, (name, kwargs, conv, times) in enumerate(spec["models"]):
    if conv is not None:
        kwargs = dict(kwargs, g_converter=getattr(CV, conv[0])(**conv[1]))
    cls = HermesNoiseModel if name == "HermesNoiseModel" else getattr(I, name)
    m = cls(**kwargs)
    res = {"prog": []}
    for _ in range(spec["reps"]):
        w_prog, nu = m.apply_programming_noise(w)
        res["prog"].append(w_prog.numpy())
        for k, n in enumerate(nu):
            res.setdefault(f"nu{k}", []).append(n.numpy())
        for t in times:
            res.setdefault(f"t{t}", []).append(m.apply_drift_noise(w_prog, nu, t).numpy())
    for k, v in res.items():
        out[f"{i}_{k}"] = np.stack(v)
np.savez(sys.argv[2], **out)
"""

# (aihwkit name, its kwargs, converter, times, rpu's extra kwargs to match aihwkit)
STAT_MODELS = [
    ("StateIndependentNoiseModel", {"read_noise_scale": 0.2}, None, [0.0, 3600.0, 3.15e7], {}),
    ("CustomDriftPCMLikeNoiseModel", {"custom_drift_model": CUSTOM_TABLE}, None,
     [0.0, 3600.0, 3.15e7], {}),
    ("ReRamWan2022NoiseModel", {}, None, [1.0, 86400.0, 172800.0],
     {"coeff_g_max_reference": 25.0}),
    ("ReRamCMONoiseModel", {}, None, [0.0, 1.0, 3600.0, 86400.0], {}),
    ("HermesNoiseModel", {}, None, [0.0, 3600.0, 3.15e7], {}),
    ("HermesNoiseModel", {"num_devices": 1}, None, [3600.0], {}),
    ("PCMLikeNoiseModel", {}, ["DualPairConductanceConverter", {"f_lst": [1.0, 3.0]}],
     [0.0, 86400.0], {}),
]


@needs_aihwkit
def test_statistics_match_aihwkit():
    # 16 weight levels x 256 devices, 8 repetitions: per level, the mean and std of the
    # programmed and drifted weights and of the drift parameters agree within sampling error
    levels = np.linspace(-1, 1, 16).astype(np.float32)
    w = np.repeat(levels[:, None], 256, axis=1)
    reps = 8
    spec = {"reps": reps, "models": [[n, kw, conv, times] for n, kw, conv, times, _ in STAT_MODELS]}
    ref = run_worker(STAT_WORKER, spec, {"w": w}, prefix="rpu-aihwkit-noise-")
    n = reps * w.shape[1]
    for i, (name, kwargs, conv, times, extra) in enumerate(STAT_MODELS):
        kw = dict(kwargs, **extra)
        if conv is not None:
            kw["g_converter"] = getattr(C, conv[0])(**conv[1])
        m = getattr(C, name)(**kw)
        ours = {}
        for r in range(reps):
            w_prog, nu = inf.apply_programming_noise(m, w, KEY, 2 * r)
            ours.setdefault("prog", []).append(w_prog)
            for k, x in enumerate(nu):
                ours.setdefault(f"nu{k}", []).append(x)
            for t in times:
                ours.setdefault(f"t{t}", []).append(
                    inf.apply_drift_noise(m, w_prog, nu, t, KEY, 2 * r + 1))
        if isinstance(m.g_converter, C.SingleDeviceConductanceConverter):
            # aihwkit's single-device converter gives one tensor, so its noise models iterate
            # over rows: one drift-parameter tensor per weight row; rpu keeps one slice
            rows = [ref.pop(f"{i}_nu{k}") for k in range(w.shape[0])]
            ref[f"{i}_nu0"] = np.stack(rows, axis=1)
        assert sorted(f"{i}_{k}" for k in ours) == sorted(k for k in ref if k.startswith(f"{i}_"))
        for k in ours:
            a = np.moveaxis(np.stack(ours[k]), 1, 0).reshape(len(levels), -1)
            b = np.moveaxis(ref[f"{i}_{k}"], 1, 0).reshape(len(levels), -1)
            sd = np.maximum(np.maximum(a.std(1), b.std(1)), 1e-6)
            assert np.all(np.abs(a.mean(1) - b.mean(1)) < 5 * sd * math.sqrt(2 / n) + 1e-6), \
                (name, k, a.mean(1), b.mean(1))
            ok = np.abs(a.std(1) - b.std(1)) < 5 * sd * math.sqrt(1 / n) + 1e-6
            assert np.all(ok), (name, k, a.std(1), b.std(1))


@pytest.mark.parametrize("cls", [C.PCMLikeNoiseModel, C.StateIndependentNoiseModel,
                                 C.ReRamWan2022NoiseModel, C.HermesNoiseModel])
def test_a_given_converter_replaces_g_max_unchecked(cls):
    # aihwkit ignores g_max when a converter is given; rpu refused g_max <= 0 there, naming a
    # SinglePairConductanceConverter the user never passed
    for g_max in (-5.0, 0.0):
        model = cls(g_max=g_max, g_converter=C.SinglePairConductanceConverter(g_max=20.0))
        assert model.g_max == 20.0
        with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.g_max = {g_max} is not allowed"):
            cls(g_max=g_max)
