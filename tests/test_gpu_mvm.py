"""The GPU backend's analog MVM (rpu.gpu.mvm.analog_mvm) against the CPU core's analog_mvm.

Both run on the same inputs, IO settings, per-line draws, seed and op counter; the GPU side runs on
the ``gpu_runtime`` fixture (the host emulation of the CUDA kernels everywhere, CuPy on a CUDA
device where there is one).

What must agree, and how closely:

* The per-element passes (NM factors, DAC, line effects, ADC, the draws) do the core's arithmetic
  in the core's order from the same header functions. The crossbar sums do not: the GPU side calls
  ``xp.matmul`` (cuBLAS), the core its own BLAS split, and the two may round differently.
  ``test_matches_core`` therefore compares with a tolerance of a few ulps of the output scale
  (``_assert_close``); with output quantisation on, a last-bit GEMM difference can move a value
  across an ADC rounding boundary, so up to 1 % of the elements (at least 2) may differ by at most
  one ADC step of the most-scaled row (``out_step * out_scale * nu_max * max_bm_factor``).
* ``test_exact_per_element``: inputs of small integers times powers of two, for which every GEMM
  is exact in any summation order. There the host emulation must give the core's bits exactly,
  including every noise draw; on a real GPU the normals may differ in the last bits of the
  transcendental functions, so the tolerance applies there.
* The AverageAbsMax running value (``nm_state``) is a double recurrence done in the same order on
  both sides: always bit-equal.
"""
import numpy as np
import pytest

from cuda_host import HostRuntime, gpu_runtime, to_host  # noqa: F401  (gpu_runtime: a fixture)
from rpu import _core
from rpu.config import (AnalogMVType, BoundManagementType, IOParameters, NoiseManagementType,
                        WeightNoiseType)
from rpu.gpu import mvm
from rpu.tiles._periphery import Periphery

NM = NoiseManagementType
BM = BoundManagementType
MV = AnalogMVType
WN = WeightNoiseType
SEED, OP = 4321, 7


def _periphery(io, transposed, d, x, dtype):
    direction = "backward" if transposed else "forward"
    n_out, n_in = (x, d) if transposed else (d, x)
    return Periphery(io, direction, n_out, n_in, (d, x), _core, 99, dtype, 1, direction)


def _run_core(per, W, X, transposed, n_out, nm_state=None, spec=None):
    Y = np.full((X.shape[0], n_out), np.nan, dtype=W.dtype)
    st = np.zeros(2) if nm_state is None else nm_state
    _core.analog_mvm(W, transposed, X, Y, dict(spec or per.spec), per.lines, st, SEED, OP, 1)
    return Y, st


def _run_gpu(rt, per, W, X, transposed, n_out, nm_state=None):
    xp = rt.xp
    Y = xp.full((X.shape[0], n_out), np.nan, dtype=W.dtype)
    st = xp.zeros(2) if nm_state is None else nm_state
    lines = {k: xp.asarray(v) for k, v in per.lines.items()}
    mvm.analog_mvm(rt, xp.asarray(W), transposed, xp.asarray(X), Y, dict(per.spec), lines, st,
                   SEED, OP)
    return to_host(Y), st


def _nu_max(spec, X):
    """An upper bound of the NM factor of any row (for the one-ADC-step allowance)."""
    a = float(np.max(np.abs(X))) if X.size else 0.0
    if spec["nm_type"] == 0:
        return 1.0
    if spec["nm_type"] == 3:
        return spec["nm_thres"] if spec["nm_thres"] > 0 else 1.0
    # NPSum factor: at most the larger of abs max and the sum bound
    s = float(np.max(np.sum(np.abs(X), axis=1))) * spec["nm_assumed_wmax"]
    b = spec["out_bound"] if np.isfinite(spec["out_bound"]) else 1.0
    return max(a, s / b)


def _assert_close(got, want, spec, X):
    """Equal up to GEMM rounding (see the module docstring)."""
    eps = np.finfo(want.dtype).eps
    ref = max(float(np.max(np.abs(want))) if want.size else 0.0, 1.0)
    tol = 64 * eps * ref
    assert np.isfinite(got).all()
    diff = np.abs(got.astype(np.float64) - want)
    bad = diff > tol
    if spec["out_step"] > 0 and not spec["is_perfect"]:
        step = (spec["out_step"] * abs(spec["out_scale"]) * _nu_max(spec, X)
                * max(spec["max_bm_factor"], 1))
        assert np.count_nonzero(bad) <= max(2, bad.size // 100), \
            f"{np.count_nonzero(bad)} of {bad.size} elements differ by more than {tol:g}"
        assert not bad.any() or diff[bad].max() <= step * 1.001 + tol, \
            f"largest difference {diff.max():g} exceeds one ADC step {step:g}"
    else:
        assert not bad.any(), f"largest difference {diff.max():g} exceeds {tol:g}"


def _data(rng, b, n_in, d, x, dtype, scale=1.0):
    W = rng.normal(0.0, 0.3, (d, x)).astype(dtype)
    # rows of different sizes, so that bound management repeats some rows and not others
    X = rng.normal(0.0, 1.0, (b, n_in)) * scale * (1.0 + 3.0 * (np.arange(b) % 3 == 0))[:, None]
    return W, X.astype(dtype)


# name: IOParameters keywords. Backward (transposed) runs resolve bound management to NONE.
CONFIGS = {
    "default": {},
    "perfect_out_scale": dict(is_perfect=True, out_scale=2.0),
    "clean": dict(noise_management=NM.NONE, bound_management=BM.NONE, inp_res=-1, out_res=-1,
                  out_noise=0.0),
    "nm_max": dict(noise_management=NM.MAX, out_bound=2.0),
    "nm_constant": dict(noise_management=NM.CONSTANT, nm_thres=2.0, out_bound=4.0),
    "nm_average_abs_max": dict(noise_management=NM.AVERAGE_ABS_MAX, out_bound=1.5),
    # nm_thres caps no running average, but the worst case's AbsMaxNPSum round it does
    "nm_average_abs_max_thres": dict(noise_management=NM.AVERAGE_ABS_MAX, nm_thres=0.3,
                                     out_bound=1.5),
    "bm_worst_case_average_thres": dict(noise_management=NM.AVERAGE_ABS_MAX, nm_thres=0.3,
                                        bound_management=BM.ITERATIVE_WORST_CASE, out_bound=1.5),
    "nm_np_sum": dict(noise_management=NM.ABS_MAX_NP_SUM, out_bound=2.0, nm_thres=2.5),
    "bm_worst_case": dict(bound_management=BM.ITERATIVE_WORST_CASE, out_bound=2.0),
    "bm_worst_case_np_sum": dict(noise_management=NM.ABS_MAX_NP_SUM,
                                 bound_management=BM.ITERATIVE_WORST_CASE, out_bound=1.5),
    "bm_sto_round_negative": dict(out_bound=1.5, inp_sto_round=True, out_sto_round=True,
                                  bm_test_negative_bound=False, out_scale=0.5),
    "bm_nm_off": dict(noise_management=NM.NONE, out_bound=6.0, inp_bound=4.0),
    "bm_worst_case_nm_off": dict(noise_management=NM.NONE, inp_bound=4.0,
                                 bound_management=BM.ITERATIVE_WORST_CASE, out_bound=6.0),
    "bm_res_limit": dict(out_bound=1.5, inp_res=1 / 16, max_bm_res=8.0),
    "pos_neg_read_asym_w_noise": dict(mv_type=MV.POS_NEG_SEPARATE, w_read_asymmetry_dtod=0.2,
                                      w_noise=0.05, w_noise_type=WN.ADDITIVE_CONSTANT,
                                      out_bound=2.0),
    "digital_sum_pcm_read": dict(mv_type=MV.POS_NEG_SEPARATE_DIGITAL_SUM,
                                 w_read_asymmetry_dtod=0.1, w_noise=0.04,
                                 w_noise_type=WN.PCM_READ, out_sto_round=True, out_bound=2.0),
    "ir_drop_v_offset_r_series": dict(ir_drop=0.5, ir_drop_g_ratio=50.0, v_offset_std=0.1,
                                      v_offset_w_min=-0.4, r_series=0.05, out_bound=1.0),
    "v_offset_no_ref": dict(v_offset_std=0.2, out_res=-1, out_bound=2.0),
    "nonlinear_asymmetries": dict(out_nonlinearity=0.3, out_nonlinearity_std=0.2,
                                  slope_calibration=1.0, out_noise_std=0.3, inp_asymmetry=0.1,
                                  out_asymmetry=0.15, inp_noise=0.05, out_bound=3.0),
}
# Forward configs whose bound management must repeat some rows of the batch but not all (the
# NPSum factor keeps outputs in range by design, and the default out_bound is rarely reached).
NO_REPEATS = ("default", "nm_np_sum", "bm_worst_case_np_sum")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("transposed", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_core(gpu_runtime, name, transposed, dtype):  # noqa: F811
    d, x, b = 24, 40, 13
    io = IOParameters(**CONFIGS[name])
    per = _periphery(io, transposed, d, x, dtype)
    n_out, n_in = (x, d) if transposed else (d, x)
    W, X = _data(np.random.default_rng(len(name)), b, n_in, d, x, dtype)
    Yc, stc = _run_core(per, W, X, transposed, n_out)
    Yg, stg = _run_gpu(gpu_runtime, per, W, X, transposed, n_out)
    _assert_close(Yg, Yc, per.spec, X)
    np.testing.assert_array_equal(to_host(stg), stc)
    if per.spec["bm_type"] != 0 and not per.spec["is_perfect"] and name not in NO_REPEATS:
        # the batch must exercise the per-row repeats: some rows repeat (they change when the
        # core may not repeat any: max_bm_factor 0 stops after round 0), others do not
        Y1, _ = _run_core(per, W, X, transposed, n_out, spec=dict(per.spec, max_bm_factor=0.0))
        repeated = np.any(Y1 != Yc, axis=1)
        n_rep = np.count_nonzero(repeated)
        assert 0 < n_rep < b, f"{n_rep} of {b} rows repeat"


def _int_data(rng, b, n_in, d, x, dtype, max_abs=4):
    """Small integers (X, max |x| = max_abs in every row) and eighths (W): exact GEMMs."""
    W = (rng.integers(-8, 9, (d, x)) / 8).astype(dtype)
    X = rng.integers(-max_abs, max_abs + 1, (b, n_in)).astype(dtype)
    X[np.arange(b), rng.integers(0, n_in, b)] = max_abs * rng.choice([-1, 1], b)
    return W, X


# Settings whose every step is exact or per-element on integer data (see _int_data): no input
# quantisation (its step is no power of two), no NPSum or AverageAbsMax factors, no read asymmetry
# or IR drop (non-dyadic factors inside a GEMM).
EXACT = {
    "noisy_bm": dict(inp_res=-1, out_bound=3.0, out_sto_round=True, out_noise=0.1),
    "nm_max_bm": dict(inp_res=-1, noise_management=NM.MAX, out_bound=2.0),
    "nm_constant": dict(inp_res=-1, noise_management=NM.CONSTANT, nm_thres=2.0, out_bound=5.0),
    "nm_off_bm": dict(inp_res=-1, noise_management=NM.NONE, inp_bound=8.0, out_bound=6.0,
                      inp_asymmetry=0.5),
    "pos_neg_w_noise": dict(inp_res=-1, mv_type=MV.POS_NEG_SEPARATE, w_noise=0.05,
                            w_noise_type=WN.ADDITIVE_CONSTANT, out_bound=3.0),
    "digital_sum_pcm": dict(inp_res=-1, mv_type=MV.POS_NEG_SEPARATE_DIGITAL_SUM, w_noise=0.05,
                            w_noise_type=WN.PCM_READ, out_bound=3.0, out_res=-1),
    "line_effects": dict(inp_res=-1, out_res=-1, v_offset_std=0.1, v_offset_w_min=-0.5,
                         r_series=0.1, out_nonlinearity=0.2, out_noise_std=0.2,
                         out_asymmetry=0.2, out_bound=4.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("b", [1, 11])
@pytest.mark.parametrize("transposed", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name", list(EXACT))
def test_exact_per_element(gpu_runtime, name, transposed, b, dtype):  # noqa: F811
    d, x = 20, 28
    io = IOParameters(**EXACT[name])
    per = _periphery(io, transposed, d, x, dtype)
    n_out, n_in = (x, d) if transposed else (d, x)
    W, X = _int_data(np.random.default_rng(b + len(name)), b, n_in, d, x, dtype)
    Yc, _ = _run_core(per, W, X, transposed, n_out)
    Yg, _ = _run_gpu(gpu_runtime, per, W, X, transposed, n_out)
    if isinstance(gpu_runtime, HostRuntime):
        np.testing.assert_array_equal(Yg, Yc)
    else:
        _assert_close(Yg, Yc, per.spec, X)


@pytest.mark.parametrize("transposed,inp_noise,shortcut", [
    (False, 0.0, True),    # forward without input noise: zero rows are skipped
    (False, 0.1, False),   # forward with input noise: zero rows go through the periphery
    (True, 0.1, True),     # backward: always skipped
], ids=["fwd", "fwd_inp_noise", "bwd_inp_noise"])
def test_zero_shortcut(gpu_runtime, transposed, inp_noise, shortcut):  # noqa: F811
    d, x, b = 12, 16, 9
    io = IOParameters(inp_res=-1, inp_noise=inp_noise, out_noise=0.2, out_bound=3.0)
    per = _periphery(io, transposed, d, x, np.float64)
    n_out, n_in = (x, d) if transposed else (d, x)
    W, X = _int_data(np.random.default_rng(3), b, n_in, d, x, np.float64)
    X[[1, 4, 5]] = 0.0
    Yc, _ = _run_core(per, W, X, transposed, n_out)
    Yg, _ = _run_gpu(gpu_runtime, per, W, X, transposed, n_out)
    assert np.all(Yc[[1, 4, 5]] == 0) == shortcut
    assert np.all(Yg[[1, 4, 5]] == 0) == shortcut
    if isinstance(gpu_runtime, HostRuntime):
        np.testing.assert_array_equal(Yg, Yc)
    else:
        _assert_close(Yg, Yc, per.spec, X)
    # all rows zero: nothing is computed at all
    X[:] = 0.0
    if shortcut:
        Yg, _ = _run_gpu(gpu_runtime, per, W, X, transposed, n_out)
        np.testing.assert_array_equal(Yg, 0.0)


def test_average_abs_max_state_carries(gpu_runtime):  # noqa: F811
    """The running value continues across calls and batches, as in the core."""
    d, x = 10, 14
    io = IOParameters(noise_management=NM.AVERAGE_ABS_MAX)
    per = _periphery(io, False, d, x, np.float64)
    rng = np.random.default_rng(11)
    stc = np.zeros(2)
    stg = gpu_runtime.xp.zeros(2)
    for b in (5, 1, 8):
        W, X = _data(rng, b, x, d, x, np.float64)
        Yc, stc = _run_core(per, W, X, False, d, nm_state=stc)
        Yg, stg = _run_gpu(gpu_runtime, per, W, X, False, d, nm_state=stg)
        _assert_close(Yg, Yc, per.spec, X)
        np.testing.assert_array_equal(to_host(stg), stc)
    assert stc[1] == 1 and stc[0] > 0


def test_empty_batch_and_lines(gpu_runtime):  # noqa: F811
    per = _periphery(IOParameters(), False, 6, 5, np.float32)
    W, X = _data(np.random.default_rng(0), 0, 5, 6, 5, np.float32)
    Yg, st = _run_gpu(gpu_runtime, per, W, X, False, 6)
    assert Yg.shape == (0, 6)
    np.testing.assert_array_equal(to_host(st), 0.0)


def test_bad_input(gpu_runtime):  # noqa: F811
    rt = gpu_runtime
    xp = rt.xp
    per = _periphery(IOParameters(), False, 6, 5, np.float32)
    W = xp.zeros((6, 5), dtype=np.float32)
    X = xp.zeros((3, 5), dtype=np.float32)
    Y = xp.zeros((3, 6), dtype=np.float32)
    st = xp.zeros(2)

    def call(**kw):
        args = dict(W=W, transposed=False, X=X, Y=Y, io_dict=dict(per.spec), line_params={},
                    nm_state=st, seed=1, op=0)
        args.update(kw)
        mvm.analog_mvm(rt, *args.values())

    with pytest.raises(TypeError, match="X must be an array"):
        call(X=np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(TypeError, match="X must have dtype float32"):
        call(X=xp.zeros((3, 5), dtype=np.float64))
    with pytest.raises(ValueError, match=r"W must have shape \(5, 6\)"):
        call(transposed=True)
    with pytest.raises(ValueError, match=r"Y must have shape \(3, 6\)"):
        call(Y=xp.zeros((2, 6), dtype=np.float32))
    with pytest.raises(ValueError, match=r"nm_state must have shape \(2,\)"):
        call(nm_state=xp.zeros(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        call(X=xp.zeros((5, 3), dtype=np.float32).T)
    with pytest.raises(TypeError, match="float32 or float64"):
        call(W=xp.zeros((6, 5), dtype=np.int32))
    with pytest.raises(TypeError, match="W must be an array"):
        call(W=[[0.0] * 5] * 6)


@pytest.mark.parametrize("transposed", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("nm", [NM.ABS_MAX, NM.MAX, NM.ABS_MAX_NP_SUM])
def test_lines_longer_than_a_block(gpu_runtime, nm, transposed):  # noqa: F811
    """More lines than threads per block: the strided loops and the block reductions."""
    d, x, b = 300, 700, 3
    io = IOParameters(noise_management=nm, w_noise=0.02, w_noise_type=WN.ADDITIVE_CONSTANT,
                      v_offset_std=0.1, v_offset_w_min=-0.3, inp_noise=0.02, out_bound=20.0)
    per = _periphery(io, transposed, d, x, np.float32)
    n_out, n_in = (x, d) if transposed else (d, x)
    W, X = _data(np.random.default_rng(5), b, n_in, d, x, np.float32)
    X[1, 517 % n_in] = 9.0  # the row's maximum far from the first block of elements
    Yc, _ = _run_core(per, W, X, transposed, n_out)
    Yg, _ = _run_gpu(gpu_runtime, per, W, X, transposed, n_out)
    _assert_close(Yg, Yc, per.spec, X)
