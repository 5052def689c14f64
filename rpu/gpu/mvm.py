"""The analog MVM of the GPU backend: ``rpu._core.analog_mvm`` on the arrays of a kernel runtime.

Same algorithm, same order of operations and the same random draws as the CPU core (aihwkit's
RPUCuda CPU path, see ``rpu._core.analog_mvm``): noise management, the zero shortcut, DAC,
crossbar product(s), line non-idealities, ADC and bound management with its per-row repeats.
The crossbar sums are ``xp.matmul`` (cuBLAS on a GPU); the per-element passes are the kernels
of ``rpu/gpu/mvm_kernels.cu``, which call the same header functions as the core. The host copies
only a few scalars for control flow per bound-management round (how many rows overflowed).

Differences to the CPU result come from the GEMMs alone (cuBLAS sums in another order than the
core's BLAS split); with quantisation on, such a last-bit difference can move a value across a
rounding boundary of the ADC (one output step) or change a bound-management decision.
"""
import math

import numpy as np

from rpu._rng import Purpose
from rpu.gpu._runtime import ELEMENT_BLOCK, element_grid

_ROW_THREADS = 256  # threads per block of the one-block-per-vector kernels (RPU_MVM_ROW_THREADS)

# codes of the resolved IO dict (rpu/tiles/_periphery.py; the enum at the top of rpu/_core.pyx)
NM_NONE, NM_ABS_MAX, NM_MAX, NM_CONSTANT, NM_AVERAGE_ABS_MAX, NM_ABS_MAX_NP_SUM = range(6)
BM_NONE, BM_ITERATIVE, BM_ITERATIVE_WORST_CASE = range(3)
MV_ONE_PASS, MV_POS_NEG_SEPARATE, MV_POS_NEG_SEPARATE_DIGITAL_SUM = range(3)
W_NOISE_NONE, W_NOISE_ADDITIVE_CONSTANT, W_NOISE_PCM_READ = range(3)


def _check_array(name, a, xp, dtype, shape):
    if not isinstance(a, xp.ndarray):
        raise TypeError(f"analog_mvm: {name} must be an array of the runtime's array module, "
                        f"got {type(a).__name__}.")
    if a.dtype != dtype:
        raise TypeError(f"analog_mvm: {name} must have dtype {np.dtype(dtype).name}, "
                        f"got {a.dtype.name}.")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"analog_mvm: {name} must have shape {tuple(shape)}, "
                         f"got {tuple(a.shape)}.")
    if not a.flags.c_contiguous:
        raise ValueError(f"analog_mvm: {name} must be C-contiguous.")


def _line(line_params, key, xp, dtype, shape):
    """line_params[key] checked (None when absent)."""
    a = line_params.get(key)
    if a is not None:
        _check_array(f"line_params[{key!r}]", a, xp, dtype, shape)
    return a


def analog_mvm(rt, W, transposed, X, Y, io_dict, line_params, nm_state, seed, op):
    """One analog matrix-vector product of a batch on the GPU backend (``_core.analog_mvm``).

    Parameters
    ----------
    rt : kernel runtime
        Where the kernels run (``rpu.gpu._runtime``); all arrays are arrays of ``rt.xp``.
    W : array, (n_out, n_in), or (n_in, n_out) when ``transposed``
        The weights, float32 or float64, C-contiguous.
    transposed : bool
        Backward direction: the product is ``X @ W``.
    X : array, (batch, n_in)
        Inputs, the dtype of W.
    Y : array, (batch, n_out)
        Outputs, written in place.
    io_dict : dict
        The resolved IOParameters of this direction (``rpu.tiles._periphery.resolve_io``).
    line_params : dict
        Per-line arrays of the tile's dtype (``out_noise_values``, ``v_offset``,
        ``out_nonlinearity`` (n_out,), ``w_asymmetry`` (W's shape)); absent keys: effect off.
    nm_state : array, float64 (2,)
        AverageAbsMax running value and its initialised flag; updated in place.
    seed, op : int
        RNG key and this call's op counter (the draws are the core's).
    """
    xp = rt.xp
    for name, a in (("W", W), ("X", X), ("Y", Y)):
        if not isinstance(a, xp.ndarray):
            raise TypeError(f"analog_mvm: {name} must be an array of the runtime's array module, "
                            f"got {type(a).__name__}.")
        if a.ndim != 2:
            raise ValueError(f"analog_mvm: {name} must be 2-D, got shape {tuple(a.shape)}.")
    dtype = np.dtype(W.dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"analog_mvm: W must be float32 or float64, got {dtype.name}.")
    n_b, n_in = X.shape
    n_out = Y.shape[1]
    _check_array("W", W, xp, dtype, (n_in, n_out) if transposed else (n_out, n_in))
    _check_array("X", X, xp, dtype, None)
    _check_array("Y", Y, xp, dtype, (n_b, n_out))
    _check_array("nm_state", nm_state, xp, np.float64, (2,))
    t = dtype.type
    io = io_dict
    W_op = W if transposed else W.T

    if io["is_perfect"]:
        xp.matmul(X, W_op, out=Y)
        if io["out_scale"] != 1.0:
            xp.multiply(Y, t(io["out_scale"]), out=Y)
        return
    if n_b == 0 or n_out == 0:
        return

    sigma_line = _line(line_params, "out_noise_values", xp, dtype, (n_out,)) \
        if io["out_noise_per_line"] else None
    v_offset = _line(line_params, "v_offset", xp, dtype, (n_out,))
    nl_line = _line(line_params, "out_nonlinearity", xp, dtype, (n_out,))
    nm_type = int(io["nm_type"])
    bm_type = int(io["bm_type"])
    mv_type = int(io["mv_type"])
    nm_on = nm_type != NM_NONE
    bm_on = bm_type != BM_NONE
    seed = np.uint64(seed)
    op = np.uint64(op)
    if io["nonlinear"] and nl_line is None:
        raise ValueError("analog_mvm: io_dict['nonlinear'] is set but line_params has no "
                         "'out_nonlinearity'.")
    if io["v_offset_on"] and v_offset is None:
        raise ValueError("analog_mvm: io_dict['v_offset_on'] is set but line_params has no "
                         "'v_offset'.")

    nu = xp.empty(n_b, dtype=np.float64) if nm_on else xp.ones(n_b, dtype=np.float64)
    U = xp.empty((n_b, n_in), dtype=dtype)
    scale = xp.empty(n_b, dtype=dtype)
    nm_dac = rt.kernel("rpu_mvm_nm_dac", dtype)

    def dac(rows, n_act, nm_compute, do_dac, rho, sub):
        nm_dac((int(n_act),), (_ROW_THREADS,), (
            X, U, rows, np.int64(n_in), nu, np.int32(nm_compute), np.float64(io["nm_thres"]),
            np.float64(io["out_bound"]), np.float64(io["nm_assumed_wmax"]),
            np.float64(io["inp_step"]), np.float64(io["max_bm_res"]), np.int32(nm_on),
            np.int32(bm_on), np.float64(rho), scale, np.int32(do_dac), t(io["inp_step"]),
            t(io["inp_bound"]), t(io["inp_noise"]), np.int32(io["inp_sto_round"]),
            t(io["inp_asymmetry"]), seed, op, np.uint32(sub)))

    # Round 0's factors; the DAC is fused in unless AverageAbsMax must average them first.
    dac_done = False
    if nm_type == NM_AVERAGE_ABS_MAX:
        dac(None, n_b, NM_AVERAGE_ABS_MAX, 0, 1.0, 0)
        rt.kernel("rpu_mvm_nm_running", dtype)((1,), (1,), (
            nu, np.int64(n_b), nm_state, np.float64(io["nm_decay"])))
    else:
        dac(None, n_b, nm_type, 1, 1.0, 0)
        dac_done = True

    # The zero shortcut: vectors with a non-positive factor give zeros and are not computed.
    rows = None
    n_act = n_b
    if nm_on and (io["inp_noise"] <= 0 or not io["zero_shortcut_needs_no_inp_noise"]):
        zero = nu <= 0
        n_zero = int(xp.count_nonzero(zero))
        if n_zero:
            Y[zero] = 0
            rows = xp.nonzero(~zero)[0].astype(np.int64)
            n_act = n_b - n_zero
            dac_done = False  # the fused DAC's rows no longer match
            if n_act == 0:
                return

    posneg = mv_type != MV_ONE_PASS
    digital_sum = mv_type == MV_POS_NEG_SEPARATE_DIGITAL_SUM
    n_pass = 2 if posneg else 1
    direct = n_act == n_b  # round 0 writes straight into Y
    V_buf = None if direct else xp.empty((n_act, n_out), dtype=dtype)
    overflow = xp.empty(n_act, dtype=np.int32)
    W_neg = W
    if posneg and io["read_asymmetry_on"]:
        w_asym = _line(line_params, "w_asymmetry", xp, dtype, W.shape)
        W_neg = xp.ascontiguousarray(W * w_asym)
    if posneg:
        U_pass = xp.empty((n_act, n_in), dtype=dtype)
        V_pass = xp.empty((n_act, n_out), dtype=dtype)
    ir_on = io["ir_drop"] > 0
    if ir_on:
        r = 1.0 - xp.arange(n_in, dtype=np.float64) / max(n_in, 1)
        j_weights = (1.0 - r * r).astype(dtype)
    w_noise_type = int(io["w_noise_type"]) if io["w_noise"] > 0 else W_NOISE_NONE
    line_effects = ir_on or io["v_offset_on"] or w_noise_type != W_NOISE_NONE
    line_kernel = rt.kernel("rpu_mvm_line_effects", dtype)
    adc_kernel = rt.kernel("rpu_mvm_adc", dtype)
    zero_t = t(0)

    def adc(V, n_act, rows, sub):
        adc_kernel(element_grid(n_act * n_out), (ELEMENT_BLOCK,), (
            V, rows, np.int64(n_act), np.int64(n_out), sigma_line, t(io["out_noise"]), nl_line,
            np.int32(io["nonlinear"]), t(io["nlf"]), t(io["out_asymmetry"]), t(io["out_step"]),
            np.int32(io["out_sto_round"]), t(io["out_bound"]), t(io["out_scale"]), scale,
            overflow, seed, op, np.uint32(sub)))

    stop_res = io["max_bm_res"] / io["inp_step"] if io["inp_step"] > 0 else math.inf
    rho = 0.5
    round_idx = 0
    while n_act > 0:
        rho *= 2.0
        worst_case = (round_idx == 1 and bm_type == BM_ITERATIVE_WORST_CASE
                      and nm_type != NM_ABS_MAX_NP_SUM)
        if worst_case:
            rho = 1.0
        sub = round_idx * 2
        if not dac_done:
            dac(rows, n_act, NM_ABS_MAX_NP_SUM if worst_case else NM_NONE, 1, rho, sub)
        dac_done = False
        Uv = U[:n_act]
        Vv = Y if direct and round_idx == 0 else V_buf[:n_act]
        ov = overflow[:n_act]
        ov.fill(0)
        for pass_idx in range(n_pass):
            # POS_NEG modes: pass 0 drives the negative inputs (on the read-asymmetric weights)
            # into V_pass, pass 1 the positive ones into V.
            if posneg:
                Up = U_pass[:n_act]
                if pass_idx == 0:
                    xp.minimum(Uv, zero_t, out=Up)
                    Wp, Vp = W_neg, V_pass[:n_act]
                else:
                    xp.maximum(Uv, zero_t, out=Up)
                    Wp, Vp = W, Vv
            else:
                Up, Wp, Vp = Uv, W, Vv
            Wp_op = Wp if transposed else Wp.T
            xp.matmul(Up, Wp_op, out=Vp)
            if line_effects:
                ir_abs = ir_w = pcm_read = None
                if ir_on or w_noise_type == W_NOISE_PCM_READ:
                    Wa = xp.abs(Wp)
                    Wa_op = Wa if transposed else Wa.T
                if ir_on:
                    ir_abs = xp.ascontiguousarray(xp.matmul(xp.abs(Up), Wa_op), dtype=dtype)
                    ir_w = xp.ascontiguousarray(xp.matmul(Up * j_weights, Wp_op), dtype=dtype)
                if w_noise_type == W_NOISE_PCM_READ:
                    pcm_read = xp.ascontiguousarray(xp.matmul(Up * Up, Wa_op), dtype=dtype)
                purpose = Purpose.W_NOISE if pass_idx == n_pass - 1 else Purpose.W_NOISE_NEG_PASS
                line_kernel((n_act,), (_ROW_THREADS,), (
                    Vp, Up, rows, np.int64(n_out), np.int64(n_in), np.int32(ir_on),
                    t(io["ir_drop"]), t(io["ir_drop_g_ratio"]), ir_abs, ir_w,
                    np.int32(io["v_offset_on"]), v_offset, t(io["r_series"]),
                    t(io["r_series_max_total"]), np.int32(io["v_offset_ref"]),
                    t(-io["v_offset_w_min"]), np.int32(w_noise_type), t(io["w_noise"]), pcm_read,
                    seed, op, np.uint32(sub), np.int32(int(purpose))))
            if digital_sum:
                # each pass has its own ADC conversion (and rescale); the digital sum follows
                adc(Vp, n_act, rows, sub + pass_idx)
        if posneg:
            xp.add(Vv, V_pass[:n_act], out=Vv)
        if not digital_sum:
            adc(Vv, n_act, rows, sub)

        # Bound management: rows whose output clipped are repeated; the others are written out.
        stop_round = (not bm_on) or (int(rho) > io["max_bm_factor"]) or (rho > stop_res)
        written = direct and round_idx == 0
        if stop_round:
            if not written:
                Y[rows] = Vv
            break
        exceeded = (ov & 1) != 0
        if io["bm_test_negative_bound"]:
            exceeded |= (ov & 2) != 0
        n_next = int(xp.count_nonzero(exceeded))
        if rows is None:
            rows = xp.arange(n_act, dtype=np.int64)
        if not written and n_next < n_act:
            keep = ~exceeded
            Y[rows[keep]] = Vv[keep]
        rows = rows[exceeded]
        n_act = n_next
        round_idx += 1
        if n_act > 0 and V_buf is None:
            V_buf = xp.empty((n_act, n_out), dtype=dtype)
