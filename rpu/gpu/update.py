"""The pulsed weight update on the GPU: the twin of ``rpu._core.pulsed_update``.

Three kernel passes (``rpu/gpu/update_kernels.cu``): the pulse trains of every (line, sample), x
and d alike, from the same Philox words as the CPU core; the list of the x lines that fire in each
sample; then one block per weight row applies the samples in order, each thread a contiguous run
of the sample's firing lines, with a block-wide scan numbering the pulses of each (row, sample)
as the CPU does, so that every pulse takes the CPU's noise sample.
Same seed, same inputs: the same pulse trains, the same coincidence counts, the same noise draws,
hence the same weights up to the last bits of the device rules' transcendental functions (exp,
pow); in the host emulation of the kernels (tests/cuda_host.py) they are bit-identical.
"""
import numpy as np

from rpu._rng import Purpose

# Order of the globals in the kernel's params array (rpu_update_rows).
_GLOBALS = ("sigma", "A_up", "A_down", "gamma_up", "gamma_down", "a", "b", "std_add", "std_slope")
_THREADS_MAX = 128  # RPU_UPDATE_THREADS of update_kernels.cu
_BLOCK = 256


def _address(a):
    """The device (or host) address of an array's first element."""
    iface = getattr(a, "__cuda_array_interface__", None) or a.__array_interface__
    return iface["data"][0]


def _row_threads(x_size):
    """Threads per row block: about 8 columns each, 32 to _THREADS_MAX (a power of two)."""
    want = max((int(x_size) + 7) // 8, 1)
    nt = 32
    while nt < want and nt < _THREADS_MAX:
        nt *= 2
    return nt


def _check(name, a, xp, shape, dtype):
    if not isinstance(a, xp.ndarray):
        raise TypeError(f"pulsed_update: {name} must be an array of the runtime's array module "
                        f"({xp!r}), got {type(a).__name__}.")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"pulsed_update: {name} must have shape {tuple(shape)}, got {tuple(a.shape)}.")
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"pulsed_update: {name} must be {np.dtype(dtype).name}, got {a.dtype.name}.")
    if not a.flags.c_contiguous:
        raise ValueError(f"pulsed_update: {name} must be C-contiguous.")


def pulsed_update(rt, stored, visible, hidden, hidden_idx, X, D, BL, A, B, up, dev, seed, op,
                  noise_seed=None, record_cols=None, record_out=None, record_rows=None):
    """Apply a batch of pulsed updates, samples in order, on a kernel runtime.

    The arguments are those of ``rpu._core.pulsed_update`` without ``n_threads`` and
    ``workspace``, with the kernel runtime ``rt`` first (``rpu.gpu._runtime``); every array is an
    array of ``rt.xp``.

    Parameters
    ----------
    rt : kernel runtime
        Where the kernels run.
    stored : array (d, x), float32 or float64
        IN/OUT: the weights the pulses act on (the persistent weights of write-noise devices).
    visible : array (d, x)
        IN/OUT: the visible weights; when it is not ``stored`` (another buffer), every weight
        pulsed at least once gets ``stored + dev["write_noise"] xi``, xi the normal of
        (noise_seed, op, WRITE_NOISE, row i, column j).
    hidden : array (n_par, d, x)
        The hidden device parameters; ``hidden_idx`` (9 ints, -1: absent) names the planes of
        max_bound, min_bound, dwmin_up, dwmin_down, slope_up, slope_down, gamma_up, gamma_down,
        reference.
    X : array (m, x)
        The update inputs (x side).
    D : array (m, d)
        The update errors (d side).
    BL : array (m,), int32
        The bit length of each sample.
    A, B : arrays (m,), float64
        The d-side and x-side probability scales of each sample (rounded to the tile dtype, as
        the CPU core rounds them).
    up : dict
        ``mode`` (0 stochastic, 1 MEAN_COUNT, 2 DETERMINISTIC_IMPLICIT), ``x_res``, ``d_res``,
        ``sto_round``, ``lr_sign`` (-1: every learning rate negative), ``one_sided`` (optional;
        +1 / -1: the g+ / g- device of a one-sided unit cell).
    dev : dict
        The device globals (``rpu.tiles._devices.globals_of``).
    seed, op : int
        The tile key and the operation counter of the draws.
    noise_seed : int, optional
        The key of the pulse and write noise (default: ``seed``).
    record_cols : array (m,) or (m, R), int32, optional
        Columns to record after each sample (-1: none), with ``record_out``.
    record_out : array (m R, d), or (m R, x) with ``record_rows``, optional
        OUT: ``record_out[b R + r, i] = stored[i, record_cols[b, r]]`` once sample b is applied
        (also when the sample moves nothing); with ``record_rows``,
        ``record_out[b R + r] = stored[record_rows[b, r]]``.
    record_rows : array (m,) or (m, R), int32, optional
        Rows to record after each sample (-1: none), for a row transfer; not with
        ``record_cols``.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong array module, dtype, shape or layout (named in the message),
        or records without ``record_out``, with an index outside the tile, or of both kinds.
    """
    xp = rt.xp
    dtype = stored.dtype
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"pulsed_update: stored must be float32 or float64, got {dtype.name}.")
    d_size, x_size = stored.shape
    m = X.shape[0] if X.ndim == 2 else -1
    _check("stored", stored, xp, (d_size, x_size), dtype)
    _check("visible", visible, xp, (d_size, x_size), dtype)
    _check("hidden", hidden, xp, (hidden.shape[0], d_size, x_size), dtype)
    _check("X", X, xp, (m, x_size), dtype)
    _check("D", D, xp, (m, d_size), dtype)
    _check("BL", BL, xp, (m,), np.int32)
    _check("A", A, xp, (m,), np.float64)
    _check("B", B, xp, (m,), np.float64)
    hidden_idx = tuple(int(k) for k in hidden_idx)
    if len(hidden_idx) != 9 or any(k >= hidden.shape[0] for k in hidden_idx) or min(hidden_idx[:4]) < 0:
        raise ValueError(f"pulsed_update: hidden_idx must be 9 plane indices of hidden "
                         f"(n_par = {hidden.shape[0]}; the first four present), got {hidden_idx}.")
    if record_cols is not None and record_rows is not None:
        raise ValueError("pulsed_update records columns or rows, not both: pass record_cols or "
                         "record_rows.")
    record_at = record_cols if record_rows is None else record_rows
    by_rows = record_rows is not None
    n_record = 0
    if record_at is not None:
        name = "record_rows" if by_rows else "record_cols"
        if not isinstance(record_at, xp.ndarray):
            _check(name, record_at, xp, (m,), np.int32)  # raises: not an array of xp
        if record_at.ndim == 1:
            record_at = record_at.reshape(-1, 1)
        n_record = record_at.shape[1] if record_at.ndim == 2 else 1
        _check(name, record_at, xp, (m, n_record), np.int32)
        limit, width = (d_size, x_size) if by_rows else (x_size, d_size)
        if record_out is None:
            raise ValueError(f"pulsed_update: {name} needs record_out of shape (m R, {width}).")
        _check("record_out", record_out, xp, (m * n_record, width), dtype)
        if m and bool((record_at >= limit).any()):
            what = "rows < d_size" if by_rows else "columns < x_size"
            raise ValueError(f"pulsed_update: {name} must be {what} = {limit} (or -1).")
    if m == 0 or d_size == 0:
        return
    max_bl = int(BL.max())
    if max_bl <= 0 or x_size == 0:
        if record_at is not None:
            # nothing moves: every recorded read is the current column (row)
            flat = record_at.ravel()
            valid = flat >= 0
            record_out[valid] = stored[flat[valid]] if by_rows else stored[:, flat[valid]].T
        return
    nw = (max_bl + 63) // 64
    mode, sto = int(up["mode"]), int(up["sto_round"])
    lr_sign, one_sided = int(up["lr_sign"]), int(up.get("one_sided", 0))
    T = dtype.type
    seed, op = np.uint64(seed), np.uint64(op)
    n_seed = seed if noise_seed is None else np.uint64(noise_seed)

    # Pass 1: the pulse trains (or dense counts) of both sides.
    trains = rt.kernel("rpu_update_trains", dtype)
    a_t, b_t = A.astype(dtype), B.astype(dtype)

    def lines(v, scales, n_lines, line_major, res, train_purpose, round_purpose):
        shape = (n_lines, m) if line_major else (m, n_lines)
        words = xp.empty(shape + (nw,), dtype=np.uint64) if mode == 0 else None
        signs = xp.empty(shape, dtype=np.int8)
        dense = xp.empty(shape, dtype=dtype) if mode != 0 else None
        n = n_lines * m
        trains(((n + _BLOCK - 1) // _BLOCK,), (_BLOCK,),
               (v, scales, BL, np.int64(n_lines), np.int64(m), np.int32(line_major), T(res),
                np.int32(sto), np.int32(nw), np.int32(mode), words, signs, dense, seed, op,
                np.int32(train_purpose), np.int32(round_purpose)))
        return words, signs, dense

    x_train, x_sign, x_dense = lines(X, b_t, x_size, 0, up["x_res"], Purpose.X_TRAIN,
                                     Purpose.X_PROB_ROUND)
    d_train, d_sign, d_dense = lines(D, a_t, d_size, 1, up["d_res"], Purpose.D_TRAIN,
                                     Purpose.D_PROB_ROUND)

    # Pass 2: the x lines that fire in each sample, in column order.
    threads = _row_threads(x_size)
    x_cnt = xp.empty(m, dtype=np.int32)
    x_idx = xp.empty((m, x_size), dtype=np.int32)
    rt.kernel("rpu_update_compact", dtype)(
        (m,), (threads,), (x_train, x_dense, x_idx, x_cnt, np.int64(x_size), np.int32(nw),
                           np.int32(mode)))

    # Pass 3: the pulses, one block per weight row.
    write = _address(visible) != _address(stored)
    flags = xp.empty((d_size, x_size), dtype=np.uint8) if write else None
    params = xp.asarray(np.array([dev[k] for k in _GLOBALS], dtype=dtype))
    nodes_up = xp.ascontiguousarray(xp.asarray(dev["nodes_up"], dtype=dtype))
    nodes_down = xp.ascontiguousarray(xp.asarray(dev["nodes_down"], dtype=dtype))
    idx = xp.asarray(np.array(hidden_idx, dtype=np.int32))
    rt.kernel("rpu_update_rows", dtype)(
        (d_size,), (threads,),
        (stored, visible, np.int32(write), hidden, idx, np.int64(d_size), np.int64(x_size),
         np.int64(m), np.int32(nw), np.int32(mode), x_cnt, x_idx, x_train, x_sign, x_dense, d_train, d_sign,
         d_dense, BL, np.int32(lr_sign), np.int32(one_sided), np.int32(dev["kind"]),
         np.int32(dev["mult_noise"]), params, nodes_up, nodes_down, np.int32(nodes_up.shape[0]),
         T(dev["write_noise"]), np.int32(dev["needs_noise"]), flags, n_seed, op, record_at,
         np.int32(n_record), np.int32(by_rows), record_out))
