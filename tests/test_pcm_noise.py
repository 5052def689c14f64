"""rpu.inference: aihwkit 1.1.0's PCMLikeNoiseModel, SinglePairConductanceConverter and
GlobalDriftCompensation on NumPy arrays (spec/inference.md sections 4.1-4.6).

Deterministic parts are checked against NumPy references written here; stochastic parts with
statistical bounds (fixed keys, >= 20 000 samples per bin, bounds at >= 4 standard errors);
reproducibility bit for bit (same key/op, any thread count). ``test_matches_aihwkit`` compares
the statistics with aihwkit itself and runs only when ``AIHWKIT_PYTHON`` names its interpreter.
"""
import json
import math
import os
import subprocess
import tempfile

import numpy as np
import pytest

import rpu.inference as inf
from rpu import _core
from rpu._rng import Purpose
from rpu.config import GlobalDriftCompensation, PCMLikeNoiseModel, SinglePairConductanceConverter
from rpu.inference import compensation as comp

from thread_runs import outputs_per_thread_count

KEY = 0x5EED_1234_ABCD_0001
T_0, T_READ, G_MAX = 20.0, 250e-9, 25.0
COEFF = (0.26348, 1.9650, -1.1731)


# ----- NumPy references (independent of the kernels) ---------------------------------------------

def ref_prog_std(g, coeff=COEFF, g_max=G_MAX, g_ref=25.0):
    x = np.asarray(g, dtype=np.float64) / g_max
    return np.polynomial.polynomial.polyval(x, coeff) * (g_max / g_ref)


def ref_nu_moments(g, g_max=G_MAX):
    gr = np.maximum(np.abs(np.asarray(g, dtype=np.float64) / g_max), 1e-7)
    mu = np.clip(-0.0155 * np.log(gr) + 0.0244, 0.049, 0.1)
    sig = np.clip(-0.0125 * np.log(gr) - 0.0059, 0.008, 0.045)
    return mu, sig


def ref_read_std(g_prog, t_inference, g_max=G_MAX, t_0=T_0, t_read=T_READ):
    q_s = np.minimum(0.0088 / np.maximum((np.abs(g_prog) / g_max) ** 0.65, 1e-3), 0.2)
    t = t_inference + t_0
    return q_s * np.sqrt(np.log((t + t_read) / (2 * t_read)))


def folded_normal_moments(mu, sig):
    """Mean and std of |mu + sig xi|."""
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    mean = sig * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * sig * sig)) \
        + mu * (1 - 2 * phi(-mu / sig))
    return mean, math.sqrt(mu * mu + sig * sig - mean * mean)


def const_rows(values, n_cols, dtype=np.float64):
    """One row per value, each filled with it: (len(values), n_cols)."""
    return np.repeat(np.asarray(values, dtype=dtype)[:, None], n_cols, axis=1)


# ----- deterministic parts -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_programming_noise_std_is_the_polynomial(dtype):
    g = np.linspace(0, 25, 101, dtype=dtype).reshape(1, -1)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(inf.programming_noise_std(PCMLikeNoiseModel(), g),
                               ref_prog_std(g), rtol=rtol, atol=1e-12)
    # explicit coefficients: reference g_max = the converter's (40), so no scaling
    m = PCMLikeNoiseModel(prog_coeff=[0.1, 0.5, 0.2, -0.05], g_max=40.0)
    assert m.g_max == 40.0 and m.prog_coeff_g_max_reference == 40.0
    g40 = g * 1.6
    np.testing.assert_allclose(inf.programming_noise_std(m, g40),
                               ref_prog_std(g40, [0.1, 0.5, 0.2, -0.05], 40.0, 40.0), rtol=rtol)
    # default coefficients at g_max = 40 are scaled by 40/25
    m = PCMLikeNoiseModel(g_max=40.0)
    np.testing.assert_allclose(inf.programming_noise_std(m, g40), ref_prog_std(g40, COEFF, 40.0),
                               rtol=rtol)


def test_nu_moments_and_clipping():
    g = np.concatenate([[0.0, 1e-9], np.geomspace(1e-4, 25, 60), [30.0]]).reshape(1, -1)
    mu, sig = inf.drift_nu_moments(PCMLikeNoiseModel(), g)
    mu_r, sig_r = ref_nu_moments(g)
    np.testing.assert_allclose(mu, mu_r, rtol=1e-12)
    np.testing.assert_allclose(sig, sig_r, rtol=1e-12)
    assert mu[0, 0] == pytest.approx(0.1) and sig[0, 0] == pytest.approx(0.045)  # g = 0
    assert mu.min() >= 0.049 and sig.min() >= 0.008


def test_drift_power_law_without_read_noise():
    m = PCMLikeNoiseModel(read_noise_scale=0.0)
    rng = np.random.default_rng(1)
    g = rng.uniform(0, 25, (8, 33))
    nu = rng.uniform(0, 0.15, (8, 33))
    for t in (0.0, 1.0, 3600.0, 86400.0, 3.15e7):
        got = inf.apply_drift_noise_to_conductance(m, g, nu, t, KEY, 3)
        np.testing.assert_allclose(got, g * ((t + T_0) / T_0) ** (-nu), rtol=1e-12)
        np.testing.assert_allclose(inf.drift_factor(m, nu, t), ((t + T_0) / T_0) ** (-nu),
                                   rtol=1e-12)
    np.testing.assert_array_equal(inf.apply_drift_noise_to_conductance(m, g, nu, 0.0, KEY, 3), g)


def test_read_noise_std_formula():
    g = np.concatenate([[0.0, 1e-6], np.linspace(0.01, 25, 50)]).reshape(1, -1)
    for t in (0.0, 3600.0, 3.15e7):
        np.testing.assert_allclose(inf.read_noise_std(PCMLikeNoiseModel(), g, t),
                                   ref_read_std(g, t), rtol=1e-12)
    # spec 4.3: ~0.0368 at g = g_max, t_inference = 0
    assert inf.read_noise_std(PCMLikeNoiseModel(), [[25.0]], 0.0)[0, 0] == pytest.approx(
        0.0368, abs=2e-4)


@pytest.mark.parametrize("g_min", [0.0, 2.0])
def test_single_pair_conversion_round_trip(g_min):
    conv = SinglePairConductanceConverter(g_max=25.0, g_min=g_min)
    w = np.random.default_rng(2).normal(0, 0.3, (17, 9))
    (gp, gm), params = inf.convert_to_conductances(conv, w)
    s = (25.0 - g_min) / np.abs(w).max()
    assert params["scale_ratio"] == pytest.approx(s, rel=1e-14)
    np.testing.assert_allclose(gp, np.clip(s * w, 0, 25.0) + g_min, rtol=1e-14)
    np.testing.assert_allclose(gm, np.clip(-s * w, 0, 25.0) + g_min, rtol=1e-14)
    assert gp.max() == pytest.approx(25.0) or gm.max() == pytest.approx(25.0)
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, [gp, gm], params), w,
                               rtol=1e-12, atol=1e-15)
    w32 = w.astype(np.float32)
    g32, p32 = inf.convert_to_conductances(conv, w32)
    assert g32[0].dtype == np.float32
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, g32, p32), w32, rtol=1e-5,
                               atol=1e-7)
    # all-zero weights: scale from the 1e-7 floor, both devices at g_min
    (gp0, gm0), p0 = inf.convert_to_conductances(conv, np.zeros((2, 3)))
    assert p0["scale_ratio"] == pytest.approx((25.0 - g_min) / 1e-7)
    assert np.all(gp0 == g_min) and np.all(gm0 == g_min)


def test_global_drift_compensation():
    dc = GlobalDriftCompensation()
    w = np.random.default_rng(3).normal(0, 0.5, (5, 7))
    x = comp.get_readout_tensor(dc, 7)
    np.testing.assert_array_equal(x, np.eye(7, dtype=np.float32))
    base = comp.init_baseline(dc, lambda x: x @ w.T, in_size=7, dtype=np.float64)
    assert base == pytest.approx(np.mean(np.abs(w)), rel=1e-12)
    alpha = comp.apply(dc, lambda x: x @ (0.8 * w).T, base, in_size=7, dtype=np.float64)
    assert alpha == pytest.approx(1.25, rel=1e-12)
    # outputs can be given directly; the read-out has a 1e-4 floor
    assert comp.readout(dc, np.zeros((3, 3))) == 1e-4
    assert comp.apply(dc, np.zeros((3, 3)), 2e-4) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="ref_value"):
        comp.apply(dc, np.ones((3, 3)), 0.0)
    with pytest.raises(ValueError, match="in_size"):
        comp.init_baseline(dc, lambda x: x)


def test_drift_compensation_undoes_uniform_drift():
    # the aihwkit reference test in spirit: no programming/read noise and a single nu -> the
    # compensated outputs equal the programmed ones
    m = PCMLikeNoiseModel(prog_noise_scale=0.0, read_noise_scale=0.0)
    dc = GlobalDriftCompensation()
    w = np.random.default_rng(4).uniform(-1, 1, (6, 10))
    w_prog, nu = inf.apply_programming_noise(m, w, KEY, 0)
    np.testing.assert_allclose(w_prog, w, rtol=1e-12, atol=1e-15)
    nu = [np.full_like(n, 0.06) for n in nu]
    w_t = inf.apply_drift_noise(m, w_prog, nu, 1000.0, KEY, 1)
    base = comp.init_baseline(dc, lambda x: x @ w_prog.T, in_size=10, dtype=np.float64)
    alpha = comp.apply(dc, lambda x: x @ w_t.T, base, in_size=10, dtype=np.float64)
    x = np.random.default_rng(5).normal(size=(4, 10))
    np.testing.assert_allclose(alpha * (x @ w_t.T), x @ w.T, rtol=1e-10)
    assert not np.allclose(x @ w_t.T, x @ w.T, rtol=1e-3)


# ----- stochastic parts --------------------------------------------------------------------------

N = 20000


def test_programming_noise_statistics_per_conductance():
    m = PCMLikeNoiseModel()
    levels = [5.0, 10.0, 15.0, 20.0, 25.0]
    g = const_rows(levels, N)
    g_prog = inf.apply_programming_noise_to_conductance(m, g, KEY, 7)
    for i, lv in enumerate(levels):
        sig = ref_prog_std(lv)
        d = g_prog[i] - lv
        assert abs(d.mean()) < 4 * sig / math.sqrt(N)
        assert abs(d.std() / sig - 1) < 4 / math.sqrt(2 * N)
    # g = 0: the clipped half normal, mean sigma/sqrt(2 pi)
    z = inf.apply_programming_noise_to_conductance(m, np.zeros((1, N)), KEY, 7)
    assert z.min() == 0.0
    s0 = COEFF[0]
    assert abs(z.mean() - s0 / math.sqrt(2 * math.pi)) < 4 * s0 * 0.6 / math.sqrt(N)
    assert abs((z == 0).mean() - 0.5) < 4 * 0.5 / math.sqrt(N)
    # prog_noise_scale multiplies the std
    g2 = inf.apply_programming_noise_to_conductance(PCMLikeNoiseModel(prog_noise_scale=2.0), g,
                                                    KEY, 7)
    np.testing.assert_allclose(g2 - g, 2 * (g_prog - g), rtol=1e-9, atol=1e-12)


def test_drift_nu_statistics():
    levels = [0.0, 0.5, 2.0, 10.0, 25.0]
    g = const_rows(levels, N)
    nu = inf.generate_drift_coefficients(PCMLikeNoiseModel(), g, KEY, 11)
    assert nu.min() >= 0
    mu, sig = ref_nu_moments(np.asarray(levels))
    for i in range(len(levels)):
        mean, std = folded_normal_moments(mu[i], sig[i])
        assert abs(nu[i].mean() - mean) < 4 * std / math.sqrt(N)
        assert abs(nu[i].std() / std - 1) < 5 / math.sqrt(2 * N)
    nu3 = inf.generate_drift_coefficients(PCMLikeNoiseModel(drift_scale=3.0), g, KEY, 11)
    np.testing.assert_allclose(nu3, 3 * nu, rtol=1e-12)


@pytest.mark.parametrize("t", [0.0, 3600.0, 3.15e7])
def test_read_noise_statistics(t):
    m = PCMLikeNoiseModel()
    levels = [1.0, 5.0, 25.0]
    g = const_rows(levels, N)
    out = inf.apply_drift_noise_to_conductance(m, g, np.zeros_like(g), t, KEY, 13)
    for i, lv in enumerate(levels):
        s = ref_read_std(lv, t)
        rel = out[i] / lv - 1
        assert abs(rel.mean()) < 4 * s / math.sqrt(N)
        assert abs(rel.std() / s - 1) < 4 / math.sqrt(2 * N)


def test_programmed_then_drifted_weights():
    # the zero device of each pair collapses at re-conversion (spec 4.6), and the mean |w|
    # follows the mean drift factor
    m = PCMLikeNoiseModel(prog_noise_scale=0.0, read_noise_scale=0.0)
    w = np.random.default_rng(6).uniform(-1, 1, (100, 100))
    w_prog, (nu_p, nu_m) = inf.apply_programming_noise(m, w, KEY, 0)
    t = 86400.0
    w_t = inf.apply_drift_noise(m, w_prog, [nu_p, nu_m], t, KEY, 1)
    nu = np.where(w > 0, nu_p, nu_m)
    np.testing.assert_allclose(w_t, w * ((t + T_0) / T_0) ** (-nu), rtol=1e-10, atol=1e-15)


# ----- reproducibility ---------------------------------------------------------------------------

def _all_draws(w, key, op, n_threads=None):
    m = PCMLikeNoiseModel()
    w_prog, nu = inf.apply_programming_noise(m, w, key, op, n_threads=n_threads)
    w_t = inf.apply_drift_noise(m, w_prog, nu, 3600.0, key, op + 1, n_threads=n_threads)
    return [w_prog, nu[0], nu[1], w_t]


def test_same_key_and_op_give_the_same_bits():
    w = np.random.default_rng(7).normal(size=(37, 61)).astype(np.float32)
    a, b = _all_draws(w, KEY, 5), _all_draws(w, KEY, 5)
    for x, y in zip(a, b):
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, y)
    for other in (_all_draws(w, KEY, 6), _all_draws(w, KEY + 1, 5)):
        assert not np.array_equal(a[0], other[0]) and not np.array_equal(a[1], other[1])
    # threads change nothing, in-process too
    for x, y in zip(a, _all_draws(w, KEY, 5, n_threads=3)):
        np.testing.assert_array_equal(x, y)
    # the two slices and the three purposes draw different normals
    g = np.full((4, 64), 10.0)
    p0 = inf.apply_programming_noise_to_conductance(PCMLikeNoiseModel(), g, KEY, 5, sub=0)
    p1 = inf.apply_programming_noise_to_conductance(PCMLikeNoiseModel(), g, KEY, 5, sub=1)
    assert not np.array_equal(p0, p1)
    # the normals are the registry's: xi of (key, op, INF_PROG_NOISE, row, col, sub)
    xi = np.empty((4, 64))
    _core.normal_fill(xi, KEY, 5, int(Purpose.INF_PROG_NOISE), 1, 1)
    np.testing.assert_allclose(p1, np.maximum(10.0 + ref_prog_std(10.0) * xi, 0), rtol=1e-12)
    # float32 and float64 use the same normals
    p32 = inf.apply_programming_noise_to_conductance(PCMLikeNoiseModel(), g.astype(np.float32),
                                                     KEY, 5, sub=1)
    np.testing.assert_allclose(p32, p1, rtol=1e-5)


THREAD_SCRIPT = r"""
import hashlib, sys
import numpy as np
import rpu.inference as inf
from rpu.config import PCMLikeNoiseModel
m = PCMLikeNoiseModel()
w = np.random.default_rng(8).normal(size=(203, 131))
w_prog, nu = inf.apply_programming_noise(m, w, 99, 1)
w_t = inf.apply_drift_noise(m, w_prog, nu, 86400.0, 99, 2)
h = hashlib.sha256()
for a in (w_prog, nu[0], nu[1], w_t):
    h.update(np.ascontiguousarray(a).tobytes())
print(h.hexdigest())
"""


def test_omp_num_threads_1_vs_2_identical():
    digests = outputs_per_thread_count(THREAD_SCRIPT)
    assert len(digests[0]) == 64 and digests[0] == digests[1]


# ----- validation --------------------------------------------------------------------------------

def test_input_validation_names_the_argument():
    m = PCMLikeNoiseModel()
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match="weights must be a 2-D"):
        inf.apply_programming_noise(m, np.ones(3), KEY, 0)
    with pytest.raises(ValueError, match="weights must be finite"):
        inf.apply_programming_noise(m, np.array([[1.0, np.nan]]), KEY, 0)
    with pytest.raises(ValueError, match="t_inference"):
        inf.apply_drift_noise(m, w, [w, w], -1.0, KEY, 0)
    with pytest.raises(ValueError, match="t_inference"):
        inf.apply_noise(m, w, float("inf"), KEY, 0)
    with pytest.raises(ValueError, match="drift_noise_parameters must hold 2"):
        inf.apply_drift_noise(m, w, [w], 1.0, KEY, 0)
    with pytest.raises(ValueError, match=r"drift_noise_parameters\[1\] must have the shape"):
        inf.apply_drift_noise(m, w, [w, np.ones((3, 2))], 1.0, KEY, 0)
    with pytest.raises(ValueError, match="nu must have the shape"):
        inf.apply_drift_noise_to_conductance(m, w, np.ones((2, 2)), 1.0, KEY, 0)
    with pytest.raises(TypeError, match="noise_model"):
        inf.apply_programming_noise(object(), w, KEY, 0)
    with pytest.raises(TypeError, match="key"):
        inf.apply_programming_noise(m, w, 1.5, 0)
    with pytest.raises(ValueError, match="op"):
        inf.apply_programming_noise(m, w, KEY, -1)
    with pytest.raises(TypeError, match="drift_compensation"):
        comp.readout(m, w)


def test_apply_noise_at_zero_and_positive_time():
    m = PCMLikeNoiseModel()
    w = np.random.default_rng(9).uniform(-1, 1, (20, 20))
    w_prog, _ = inf.apply_programming_noise(m, w, KEY, 4)
    np.testing.assert_array_equal(inf.apply_noise(m, w, 0.0, KEY, 4), w_prog)
    w_t = inf.apply_noise(m, w, 86400.0, KEY, 4)
    assert np.abs(w_t).mean() < 0.8 * np.abs(w).mean()


# ----- NVRTC: the header compiles for the GPU, its templates instantiated ------------------------

NVRTC_PROBE = r"""
template <typename T>
__global__ void rpu_pcm_probe(const T *g, const T *coeff, T *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  T mu, sig;
  rpu_pcm_nu_moments(g[i], (T)25, &mu, &sig);
  T s = rpu_pcm_prog_std(g[i], coeff, 3, (T)25, (T)25);
  T p = rpu_noise_program(g[i], s, (T)1, 1, rpu_normal_at<T>(1ull, i, 0, 0, RPU_RNG_INF_PROG_NOISE, 0));
  T nu = rpu_drift_nu_of(RPU_NOISE_DRIFT_PCM, g[i], (T)25, 0, (T)1, mu + sig);
  T tf = rpu_pcm_read_time_factor((T)0, (T)20, (T)2.5e-7);
  out[i] = rpu_pcm_drift_read(p, nu, rpu_pcm_time_ratio((T)3600, (T)20), (T)25, tf, (T)1,
                              rpu_nu_draw(mu, sig, (T)1, (T)0));
}
"""


def test_pcm_header_compiles_under_nvrtc():
    nvrtc = pytest.importorskip("cuda.bindings.nvrtc")
    from rpu.gpu import _source
    assert "pcm_noise.h" in _source.HEADERS
    src = _source.module_source() + NVRTC_PROBE
    err, prog = nvrtc.nvrtcCreateProgram(src.encode(), b"pcm_probe.cu", 0, [], [])
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS
    names = [f"rpu_pcm_probe<{t}>".encode() for t in ("float", "double")]
    for name in names:
        assert nvrtc.nvrtcAddNameExpression(prog, name)[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
    opts = [o.encode() for o in _source.OPTIONS] + [b"--gpu-architecture=compute_80"]
    result = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    err, size = nvrtc.nvrtcGetProgramLogSize(prog)
    # a writable buffer: NVRTC writes the log into it (into b" " * 1, the empty log's one
    # byte overwrote CPython's shared b" ", which broke later code such as torch.load)
    log = bytearray(size)
    nvrtc.nvrtcGetProgramLog(prog, log)
    nvrtc.nvrtcDestroyProgram(prog)
    assert result[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS, bytes(log).decode(errors="replace")


# ----- aihwkit 1.1.0 itself (optional) ------------------------------------------------------------

AIHWKIT_PYTHON = os.environ.get("AIHWKIT_PYTHON")
TIMES = [1.0, 3600.0, 86400.0, 3.15e7]

AIHWKIT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.inference import PCMLikeNoiseModel
torch.manual_seed(0)
w = torch.from_numpy(np.load(sys.argv[1]))
reps, times = int(sys.argv[3]), json.loads(sys.argv[4])
m = PCMLikeNoiseModel()
out = {"prog": [], "nu_p": [], "nu_m": []}
for t in times:
    out[f"t{t}"] = []
for _ in range(reps):
    w_prog, nu = m.apply_programming_noise(w)
    out["prog"].append(w_prog.numpy())
    out["nu_p"].append(nu[0].numpy()); out["nu_m"].append(nu[1].numpy())
    for t in times:
        out[f"t{t}"].append(m.apply_drift_noise(w_prog, nu, t).numpy())
np.savez(sys.argv[2], **{k: np.stack(v) for k, v in out.items()})
"""


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_matches_aihwkit():
    # 16 weight levels x 256 devices, 8 repetitions: per level, the mean and std of the programmed
    # and drifted weights (and of nu) agree within sampling error.
    levels = np.linspace(-1, 1, 16).astype(np.float32)
    w = np.repeat(levels[:, None], 256, axis=1)
    reps = 8
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="rpu-aihwkit-pcm-") as tmp:
        worker, w_path, out_path = (os.path.join(tmp, n) for n in ("w.py", "w.npy", "o.npz"))
        with open(worker, "w") as f:
            f.write(AIHWKIT_WORKER)
        np.save(w_path, w)
        proc = subprocess.run([AIHWKIT_PYTHON, worker, w_path, out_path, str(reps),
                               json.dumps(TIMES)], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        with np.load(out_path) as data:
            ref = {k: data[k] for k in data.files}
    m = PCMLikeNoiseModel()
    ours = {k: [] for k in ref}
    for r in range(reps):
        w_prog, nu = inf.apply_programming_noise(m, w, KEY, 2 * r)
        ours["prog"].append(w_prog)
        ours["nu_p"].append(nu[0]); ours["nu_m"].append(nu[1])
        for t in TIMES:
            ours[f"t{t}"].append(inf.apply_drift_noise(m, w_prog, nu, t, KEY, 2 * r + 1))
    n = reps * w.shape[1]
    for k in ref:
        a = np.moveaxis(np.stack(ours[k]), 1, 0).reshape(len(levels), -1)   # (level, samples)
        b = np.moveaxis(ref[k], 1, 0).reshape(len(levels), -1)
        sd = np.maximum(np.maximum(a.std(1), b.std(1)), 1e-6)
        # means within 5 standard errors of the difference; stds within 5 standard errors
        assert np.all(np.abs(a.mean(1) - b.mean(1)) < 5 * sd * math.sqrt(2 / n)), k
        ok = np.abs(a.std(1) - b.std(1)) < 5 * sd * math.sqrt(1 / n) + 1e-6
        assert np.all(ok), (k, a.std(1), b.std(1))
