# cython: language_level=3
"""The CPU backend of rpu: batched OpenMP loops around the per-element kernels in rpu/_kernels/.

Design, in three layers (after scikit-learn's ``_loss`` module):

a) Per-element math is ``RPU_HD`` inline C++ in ``rpu/_kernels/*.h`` (DAC, ADC, noise, RNG). The
   GPU backend compiles the same headers, so the math exists once.
b) This module: loops that only index arrays and call (a), in ``prange`` over batch rows with the
   GIL released, plus the dense products, which go to BLAS (``scipy.linalg.cython_blas``) split
   over the same OpenMP threads by blocks of output lines. The caller pins BLAS to one thread
   meanwhile (rpu._threads.blas_single_thread), so one thread pool runs, never two competing
   for the cores. The vectorised row loops themselves live in ``_kernels/cpu_rows.h``.
c) The Python tile classes (``rpu/tiles``) validate once, resolve configs into the plain dicts
   this module reads, allocate outputs and call in here. Nothing here checks shapes again.

Arguments are marked ``# IN`` / ``# OUT``. Randomness never depends on the thread that draws it:
every number is Philox of (seed, op counter, purpose, row, column), see ``_kernels/philox.h``,
so any ``n_threads`` gives bit-identical results.
"""
# The bounds/wraparound checks are off for speed; set RPU_DEBUG_CYTHON=1 when building to turn
# them on (setup.py passes the directives).

import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, sqrt, fabs
from libc.stdint cimport uint32_t, uint64_t, int64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv

from rpu._openmp cimport RPU_OPENMP_ENABLED, omp_get_max_threads
from rpu._kernels cimport (
    rpu_philox4x32_10, rpu_philox_blocks_isa, rpu_normals_by_column_isa, rpu_uniform4,
    rpu_normal4, rpu_normal_row, rpu_uniform_row, rpu_abs_max_row, rpu_dac_row, rpu_adc_row,
    RPU_RNG_X_TRAIN, RPU_RNG_D_TRAIN, RPU_RNG_X_PROB_ROUND, RPU_RNG_D_PROB_ROUND,
    rpu_device_row, rpu_device_globals, rpu_pulse_trains, rpu_compact_sample, rpu_update_row,
    rpu_sample_is_dense, rpu_dense_sample, rpu_exact_update_row, rpu_certain_one_hot,
    rpu_certain_lines, rpu_certain_counts, rpu_write_row,
    RPU_RNG_INP_NOISE, RPU_RNG_INP_STO_ROUND, RPU_RNG_OUT_NOISE, RPU_RNG_OUT_STO_ROUND,
    RPU_RNG_W_NOISE, RPU_RNG_W_NOISE_NEG_PASS,
    rpu_dac_prepare, rpu_ir_drop_factor, rpu_ir_drop_input, rpu_v_offset, rpu_adc_finalize,
    rpu_chopped_buffer_row, rpu_dynamic_buffer_row,
    rpu_nm_abs_max_np_sum, rpu_nm_cap, rpu_pow,
)

cnp.import_array()

# Noise/bound management, MV-type and weight-noise codes of the resolved IO dict; the Python side
# (rpu/tiles/_periphery.py) maps aihwkit's enum members to these numbers.
cdef enum:
    NM_NONE = 0
    NM_ABS_MAX = 1
    NM_MAX = 2
    NM_CONSTANT = 3
    NM_AVERAGE_ABS_MAX = 4
    NM_ABS_MAX_NP_SUM = 5
    BM_NONE = 0
    BM_ITERATIVE = 1
    BM_ITERATIVE_WORST_CASE = 2
    MV_ONE_PASS = 0
    MV_POS_NEG_SEPARATE = 1
    MV_POS_NEG_SEPARATE_DIGITAL_SUM = 2
    W_NOISE_NONE = 0
    W_NOISE_ADDITIVE_CONSTANT = 1
    W_NOISE_PCM_READ = 2
    # Batches up to this many rows use matrix-vector products instead of GEMM.
    GEMV_MAX_ROWS = 8


cdef struct IOSpec:
    # One direction's resolved IOParameters (built by rpu.tiles._periphery.resolve_io).
    bint is_perfect
    int nm_type
    int bm_type
    int mv_type
    double nm_thres
    double nm_assumed_wmax
    double nm_decay
    double inp_bound
    double inp_step
    double inp_noise
    double inp_asymmetry
    bint inp_sto_round
    double out_bound
    double out_step
    double out_noise
    double out_asymmetry
    double out_scale
    bint out_sto_round
    bint out_noise_per_line
    bint nonlinear
    double nlf
    int w_noise_type
    double w_noise
    double ir_drop
    double ir_drop_g_ratio
    bint v_offset_on
    bint v_offset_ref
    double v_offset_w_min
    double r_series
    double r_series_max_total
    bint read_asymmetry_on
    double max_bm_factor
    double max_bm_res
    bint bm_test_negative_bound
    bint zero_shortcut_needs_no_inp_noise


def openmp_enabled():
    """Whether this build of the core was compiled with OpenMP."""
    return bool(RPU_OPENMP_ENABLED)


def openmp_max_threads():
    """The OpenMP runtime's default thread count (1 in a build without OpenMP)."""
    return omp_get_max_threads()


def c_pow(double base, double exponent, bint single):
    """``base ** exponent`` through the C library's ``powf`` (``single``) or ``pow``: the function
    the kernels and aihwkit's C++ use. NumPy's float32 power can differ from ``powf`` in the last
    bit, which decides ties downstream (a pulse count rint(2.5) against rint(2.5000002))."""
    if single:
        return <double>rpu_pow(<float>base, <float>exponent)
    return rpu_pow(base, exponent)


# ---------------------------------------------------------------------------------------------
# Random numbers
# ---------------------------------------------------------------------------------------------

def philox4x32_10(cnp.uint32_t[::1] ctr,   # IN  (4,) counter words
                  cnp.uint32_t[::1] key):  # IN  (2,) key words
    """The raw Philox-4x32-10 bijection: four 32-bit words for a counter and a key (for tests)."""
    out = np.empty(4, dtype=np.uint32)
    cdef cnp.uint32_t[::1] out_v = out
    rpu_philox4x32_10(&ctr[0], &key[0], &out_v[0])
    return out


def philox_blocks(Py_ssize_t n_blocks, uint64_t seed, uint64_t c0_first, uint64_t c1_first,
                  bint lanes_on_c1, uint64_t op, int purpose, uint32_t sub, int isa):
    """The raw words of n_blocks consecutive Philox blocks, as the core's row loops draw them
    (for tests): block b has the counter (c0_first + b, c1_first, op, purpose << 24 | sub), or
    with ``lanes_on_c1`` (c0_first, c1_first + b, ...). ``isa`` picks the version: 0 portable,
    1 AVX2, 2 AVX-512F. Returns the (n_blocks, 4) words, or None where this build or CPU lacks
    that version."""
    if isa not in (0, 1, 2):
        raise ValueError(f"isa must be 0 (portable), 1 (AVX2) or 2 (AVX-512F), got {isa}.")
    if n_blocks < 0:
        raise ValueError(f"n_blocks must be >= 0, got {n_blocks}.")
    out = np.empty((n_blocks, 4), dtype=np.uint32)
    cdef cnp.uint32_t[:, ::1] out_v = out
    cdef int ok = 0
    if n_blocks > 0:
        ok = rpu_philox_blocks_isa(isa, &out_v[0, 0], n_blocks, seed, c0_first, c1_first,
                                   lanes_on_c1, op, purpose, sub)
    return None if ok < 0 else out


def normals_by_column(const signed char[::1] fire,  # IN  (n,) non-zero where a column fires
                      const floating[::1] normals,   # IN  (k,) the firing columns' normals in order
                      Py_ssize_t j0, Py_ssize_t j1, int isa):
    """A dense sample's normals laid out by column, as the pulsed update's row pass reads them
    (for tests): xi[j] = the next of ``normals`` where fire[j] != 0, else 0, for j0 <= j < j1
    (xi is 0 outside). ``isa``: 0 portable, 2 AVX-512F. Returns (xi, the number of normals
    taken), or None where this build or CPU lacks that version."""
    if isa not in (0, 2):
        raise ValueError(f"isa must be 0 (portable) or 2 (AVX-512F), got {isa}.")
    cdef Py_ssize_t n = fire.shape[0]
    if not 0 <= j0 <= j1 <= n:
        raise ValueError(f"need 0 <= j0 <= j1 <= len(fire) = {n}, got j0 = {j0}, j1 = {j1}.")
    cdef Py_ssize_t n_fire = np.count_nonzero(np.asarray(fire)[j0:j1])
    if normals.shape[0] < n_fire:
        raise ValueError(f"normals must hold the {n_fire} normals of the firing columns, got "
                         f"{normals.shape[0]}.")
    xi = np.zeros(n, dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] xi_v = xi
    if j1 == j0:
        return xi, 0
    cdef long taken = rpu_normals_by_column_isa(isa, &xi_v[0], &fire[0], j0, j1,
                                                &normals[0] if normals.shape[0] else NULL)
    return None if taken < 0 else (xi, taken)


def uniform_fill(floating[:, ::1] out,     # OUT (rows, cols) uniforms in [0, 1)
                 uint64_t seed, uint64_t op, int purpose, uint32_t sub, int n_threads):
    """Fill ``out[r, c]`` with the exact uniform of (seed, op, purpose, sub, row r, column c)."""
    _fill(out, seed, op, purpose, sub, n_threads, False)


def normal_fill(floating[:, ::1] out,      # OUT (rows, cols) standard normals
                uint64_t seed, uint64_t op, int purpose, uint32_t sub, int n_threads):
    """Fill ``out[r, c]`` with the standard normal of (seed, op, purpose, sub, row r, column c)."""
    _fill(out, seed, op, purpose, sub, n_threads, True)


cdef void _fill(floating[:, ::1] out, uint64_t seed, uint64_t op, int purpose, uint32_t sub,
                int n_threads, bint normal):
    cdef Py_ssize_t r, n = out.shape[1]
    cdef Py_ssize_t words = _scratch_words(n)
    if out.shape[0] == 0 or n == 0:
        return
    # One scratch row of Philox words per OpenMP thread, allocated here with the GIL held.
    scratch_arr = np.empty((max(n_threads, 1), words), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    with nogil:
        for r in prange(out.shape[0], schedule='static', num_threads=n_threads):
            if normal:
                rpu_normal_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op, purpose, sub)
            else:
                rpu_uniform_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op, purpose, sub)


cdef inline Py_ssize_t _scratch_words(Py_ssize_t n) noexcept nogil:
    # Philox words of a row of n elements: whole blocks of 4.
    return 4 * ((n + 3) // 4) + 4


# ---------------------------------------------------------------------------------------------
# Dense products (BLAS, never inside prange)
# ---------------------------------------------------------------------------------------------

cdef void _gemm_block(const floating *A, const floating *M, floating *C, int n_rows,
                      int n_out_total, int out_start, int n_out, int n_in,
                      bint m_is_transposed) noexcept nogil:
    """C[:, out_start:out_start+n_out] = A @ op(M)^T for a block of output lines; row-major.

    ``M`` is stored row-major as (n_out_total, n_in) when ``m_is_transposed`` is False (the
    forward product with W of shape (out, in)) and as (n_in, n_out_total) when it is True (the
    backward product with the same W: z = d W).
    """
    # Row-major C = A M^T is column-major C^T = M A^T; a block of output lines is a block of
    # rows of C^T, reached by offsetting the pointers and keeping the leading dimensions.
    cdef char transa = b'T' if not m_is_transposed else b'N'
    cdef char transb = b'N'
    cdef int lda = n_in if not m_is_transposed else n_out_total
    cdef int ldb = n_in
    cdef int ldc = n_out_total
    cdef floating alpha = 1
    cdef floating beta = 0
    cdef const floating *M_block = M + (<Py_ssize_t>out_start * n_in if not m_is_transposed else out_start)
    cdef Py_ssize_t i, k
    cdef int one = 1, gemv_m, gemv_n
    cdef char gemv_trans = b'T' if not m_is_transposed else b'N'
    if n_rows <= 0 or n_out <= 0:
        return
    if n_in == 0:
        for k in range(n_rows):
            for i in range(n_out):
                C[k * n_out_total + out_start + i] = 0
        return
    if n_rows <= GEMV_MAX_ROWS:
        # A few rows: matrix-vector products. GEMM would first repack the whole weight block,
        # which costs as much as the product itself at these sizes.
        gemv_m = n_in if not m_is_transposed else n_out
        gemv_n = n_out if not m_is_transposed else n_in
        for k in range(n_rows):
            if floating is float:
                sgemv(&gemv_trans, &gemv_m, &gemv_n, &alpha, <float *>M_block, &lda,
                      <float *>(A + k * n_in), &one, &beta, <float *>(C + k * n_out_total + out_start), &one)
            else:
                dgemv(&gemv_trans, &gemv_m, &gemv_n, &alpha, <double *>M_block, &lda,
                      <double *>(A + k * n_in), &one, &beta, <double *>(C + k * n_out_total + out_start), &one)
        return
    if floating is float:
        sgemm(&transa, &transb, &n_out, &n_rows, &n_in, &alpha, <float *>M_block, &lda,
              <float *>A, &ldb, &beta, <float *>(C + out_start), &ldc)
    else:
        dgemm(&transa, &transb, &n_out, &n_rows, &n_in, &alpha, <double *>M_block, &lda,
              <double *>A, &ldb, &beta, <double *>(C + out_start), &ldc)


cdef void _gemm_split(const floating *A, const floating *M, floating *C, int n_rows, int n_out,
                      int n_in, bint m_is_transposed, int n_threads) noexcept nogil:
    """C = A @ op(M)^T with the output lines split over the OpenMP threads.

    Each thread calls single-threaded BLAS on its block of output lines, so the core runs one
    thread pool, never OpenMP and BLAS threads at once (the caller pins BLAS to one thread).
    Every output element is computed by one BLAS call whatever the split, but BLAS may sum a
    block differently from the whole matrix; results are identical for a given thread count.
    """
    cdef int n_blocks = n_threads if n_threads > 1 else 1
    cdef int block = (n_out + n_blocks - 1) // n_blocks
    cdef int b, start, size
    # Blocks of whole cache lines (16 floats) keep threads off each other's lines.
    block = ((block + 15) // 16) * 16
    n_blocks = (n_out + block - 1) // block if n_out > 0 else 0
    if n_blocks <= 1:
        _gemm_block(A, M, C, n_rows, n_out, 0, n_out, n_in, m_is_transposed)
        return
    for b in prange(n_blocks, schedule='static', num_threads=n_threads):
        start = b * block
        size = n_out - start if n_out - start < block else block
        _gemm_block(A, M, C, n_rows, n_out, start, size, n_in, m_is_transposed)


def gemm_rows(const floating[:, ::1] A,  # IN  (n_rows, n_in)
              const floating[:, ::1] M,  # IN  (n_out, n_in), or (n_in, n_out) when transposed
              floating[:, ::1] C,        # OUT (n_rows, n_out)
              bint transposed, int n_threads):
    """``C = A @ M.T`` (or ``A @ M`` when ``transposed``), split over ``n_threads`` OpenMP threads
    that each call single-threaded BLAS (pin BLAS to one thread around the call)."""
    _gemm_views(A, M, C, transposed, n_threads)


# ---------------------------------------------------------------------------------------------
# The analog MVM: noise management, DAC, crossbar, line non-idealities, ADC, bound management
# ---------------------------------------------------------------------------------------------

cdef double _nm_abs_max_np_sum(const floating *x, Py_ssize_t n, const IOSpec *io) noexcept nogil:
    # the per-row sums live in mvm_io.h, shared with the GPU kernel
    return rpu_nm_abs_max_np_sum(x, <int64_t>n, io.nm_thres, io.out_bound, io.nm_assumed_wmax,
                                 io.inp_step, io.max_bm_res)


cdef double _nm_factor(const floating *x, Py_ssize_t n, const IOSpec *io) noexcept nogil:
    """The noise-management factor of one input vector (all types but AverageAbsMax)."""
    cdef double m = 0
    cdef Py_ssize_t j
    if io.nm_type == NM_ABS_MAX or io.nm_type == NM_AVERAGE_ABS_MAX:
        m = rpu_abs_max_row(x, n)
    elif io.nm_type == NM_MAX:
        m = -INFINITY if n > 0 else 0
        for j in range(n):
            if x[j] > m:
                m = x[j]
    elif io.nm_type == NM_CONSTANT:
        return io.nm_thres if io.nm_thres > 0 else 1.0
    elif io.nm_type == NM_ABS_MAX_NP_SUM:
        return _nm_abs_max_np_sum(x, n, io)
    else:
        return 1.0
    return rpu_nm_cap(m, io.nm_thres, io.nm_type == NM_AVERAGE_ABS_MAX)


cdef void _periphery_draws(floating *noise, floating *shift, Py_ssize_t n,
                           const floating *sigma_line, floating sigma, int noise_purpose,
                           bint sto_round, int round_purpose, uint32_t *bits, uint64_t seed,
                           uint64_t row, uint64_t op, uint32_t sub) noexcept nogil:
    """The random terms of one DAC or ADC row, in the thread's scratch.

    noise[j] = sigma_j xi_j, with sigma_j from ``sigma_line`` when given, else ``sigma``
    (0 everywhere when neither is set); shift[j] = U_j - 1/2 with stochastic rounding, else 0.
    """
    cdef floating half = 0.5
    cdef Py_ssize_t j
    if sigma_line != NULL or sigma > 0:
        rpu_normal_row(noise, n, bits, seed, row, op, noise_purpose, sub)
        if sigma_line != NULL:
            for j in range(n):
                noise[j] = sigma_line[j] * noise[j]
        else:
            for j in range(n):
                noise[j] = sigma * noise[j]
    else:
        for j in range(n):
            noise[j] = 0
    if sto_round:
        rpu_uniform_row(shift, n, bits, seed, row, op, round_purpose, sub)
        for j in range(n):
            shift[j] = shift[j] - half
    else:
        for j in range(n):
            shift[j] = 0


cdef void _dac_row(const floating *x, floating *u, Py_ssize_t n, floating scale, const IOSpec *io,
                   uint64_t seed, uint64_t row, uint64_t op, uint32_t sub,
                   floating *noise, floating *shift, uint32_t *bits) noexcept nogil:
    """DAC of one input row; ``noise``/``shift`` (n,) and ``bits`` are the thread's scratch."""
    cdef floating step = <floating>io.inp_step
    cdef floating bound = <floating>io.inp_bound
    cdef floating asym = <floating>io.inp_asymmetry
    if io.inp_noise <= 0 and not io.inp_sto_round:
        rpu_dac_row(x, u, n, scale, step, bound, asym, <const floating *>NULL, <const floating *>NULL)
        return
    _periphery_draws(noise, shift, n, <const floating *>NULL, <floating>io.inp_noise,
                     RPU_RNG_INP_NOISE, io.inp_sto_round, RPU_RNG_INP_STO_ROUND, bits, seed, row,
                     op, sub)
    rpu_dac_row(x, u, n, scale, step, bound, asym, noise, shift)


cdef void _line_effects_row(floating *v, const floating *u, Py_ssize_t n_out, Py_ssize_t n_in,
                            const IOSpec *io,
                            const floating *ir_abs, const floating *ir_weighted,
                            const floating *v_offset, const floating *pcm_read,
                            uint64_t seed, uint64_t row, uint64_t op, uint32_t sub,
                            int w_noise_purpose, floating *noise, uint32_t *bits) noexcept nogil:
    """IR drop, voltage offsets / series resistance and weight read noise on one output row."""
    cdef Py_ssize_t i, j
    cdef floating c, y_ref = 0, norm_u = 0, sigma
    cdef floating ir_drop = <floating>io.ir_drop
    cdef floating g_ratio = <floating>io.ir_drop_g_ratio
    cdef floating n_in_f = <floating>n_in
    cdef floating rs = <floating>io.r_series
    cdef floating r_max = <floating>io.r_series_max_total
    cdef floating w_noise = <floating>io.w_noise
    if io.ir_drop > 0:
        for i in range(n_out):
            c = rpu_ir_drop_factor(ir_abs[i], n_in_f, g_ratio)
            v[i] -= c * ir_drop * ir_weighted[i]
    if io.v_offset_on:
        if io.v_offset_ref:
            for j in range(n_in):
                y_ref += u[j]
            y_ref = <floating>(-io.v_offset_w_min) * y_ref
        for i in range(n_out):
            v[i] = rpu_v_offset(v[i], v_offset[i], rs, r_max, <int>io.v_offset_ref, y_ref)
    if io.w_noise > 0 and io.w_noise_type != W_NOISE_NONE:
        if io.w_noise_type == W_NOISE_ADDITIVE_CONSTANT:
            for j in range(n_in):
                norm_u += u[j] * u[j]
            norm_u = sqrt(norm_u)
        rpu_normal_row(noise, n_out, bits, seed, row, op, w_noise_purpose, sub)
        for i in range(n_out):
            if io.w_noise_type == W_NOISE_ADDITIVE_CONSTANT:
                sigma = w_noise * norm_u
            else:
                sigma = w_noise * <floating>sqrt(pcm_read[i])
            v[i] += sigma * noise[i]


cdef int _adc_row(floating *v, Py_ssize_t n, const IOSpec *io, const floating *sigma_line,
                  const floating *nl_line, floating factor, uint64_t seed, uint64_t row,
                  uint64_t op, uint32_t sub, floating *noise, floating *shift,
                  uint32_t *bits) noexcept nogil:
    """ADC on one output row in place, then the digital rescale by ``factor``.

    Returns the overflow bits (1: above, 2: below the bound). A row that bound management
    repeats is recomputed from its input, so rescaling it here is harmless. ``noise``/``shift``
    (n,) and ``bits`` are the thread's scratch.
    """
    _periphery_draws(noise, shift, n, sigma_line if io.out_noise_per_line else <const floating *>NULL,
                     <floating>io.out_noise, RPU_RNG_OUT_NOISE, io.out_sto_round,
                     RPU_RNG_OUT_STO_ROUND, bits, seed, row, op, sub)
    return rpu_adc_row(v, n, <floating>io.out_step, <floating>io.out_bound,
                       <floating>io.out_asymmetry, factor, noise, shift, io.nonlinear, nl_line,
                       <floating>io.nlf)


def _gemm_views(const floating[:, ::1] A, const floating[:, ::1] M, floating[:, ::1] C,
                bint transposed, int n_threads):
    """``C = A @ op(M)^T`` on typed views, split over ``n_threads`` (see _gemm_split)."""
    with nogil:
        _gemm_split(&A[0, 0] if A.shape[0] > 0 and A.shape[1] > 0 else NULL,
                    &M[0, 0] if M.shape[0] > 0 and M.shape[1] > 0 else NULL,
                    &C[0, 0] if C.shape[0] > 0 and C.shape[1] > 0 else NULL,
                    C.shape[0], C.shape[1], A.shape[1], transposed, n_threads)


cdef inline void *_data(object arr):
    # Raw data pointer of a C-contiguous ndarray (None -> NULL); cheaper than a typed
    # memoryview for the driver's private work arrays.
    return NULL if arr is None else cnp.PyArray_DATA(<cnp.ndarray>arr)


def analog_mvm(const floating[:, ::1] W,       # IN  (out, in) weights; (in, out) view if transposed
               bint transposed,                # IN  backward: the product is d @ W
               const floating[:, ::1] X,       # IN  (batch, n_in) inputs
               floating[:, ::1] Y,             # OUT (batch, n_out) outputs
               dict io_dict,                   # IN  resolved IOParameters (rpu.tiles._periphery)
               dict line_params,               # IN  per-line arrays of the tile's dtype (see below)
               double[::1] nm_state,           # IN/OUT (2,) AverageAbsMax running value, initialised flag
               uint64_t seed, uint64_t op,     # IN  RNG key and this call's op counter
               int n_threads):
    """One analog matrix-vector product for a batch, in aihwkit's RPUCuda CPU order.

    ``line_params`` holds the per-output-line arrays drawn at construction, C-contiguous in the
    tile's dtype: ``out_noise_values`` (n_out,), ``v_offset`` (n_out,), ``out_nonlinearity``
    (n_out,) and ``w_asymmetry`` (shape of the stored weights); absent keys mean the effect is
    off. Bound management decides per input vector (row), as the C++ CPU path does: rows whose
    output clipped are repeated with the input halved again, and only those rows.
    """
    cdef IOSpec io = io_dict
    cdef Py_ssize_t n_b = X.shape[0]
    cdef Py_ssize_t n_in = X.shape[1]
    cdef Py_ssize_t n_out = Y.shape[1]
    cdef Py_ssize_t k, i, row, n_act, n_next
    cdef double rho, scale_d, stop_res, a_run
    cdef bint nm_on = io.nm_type != NM_NONE
    cdef bint bm_on = io.bm_type != BM_NONE
    cdef bint stop_round, exceeded
    cdef int round_idx = 0, n_pass, pass_idx
    cdef floating factor, zero = 0
    dtype = np.float32 if floating is float else np.float64

    if io.is_perfect:
        with nogil:
            _gemm_split(&X[0, 0] if n_b > 0 and n_in > 0 else NULL,
                        &W[0, 0] if W.shape[0] > 0 and W.shape[1] > 0 else NULL,
                        &Y[0, 0] if n_b > 0 and n_out > 0 else NULL,
                        <int>n_b, <int>n_out, <int>n_in, transposed, n_threads)
            if io.out_scale != 1.0:
                factor = <floating>io.out_scale
                for k in prange(n_b, schedule='static', num_threads=n_threads):
                    for i in range(n_out):
                        Y[k, i] = Y[k, i] * factor
        return
    if n_b == 0 or n_out == 0:
        return

    cdef const floating *Xp = &X[0, 0] if n_in > 0 else NULL
    cdef floating *Yp = &Y[0, 0]
    cdef const floating *sigma_line = <const floating *>_data(line_params.get('out_noise_values'))
    cdef const floating *v_offset = <const floating *>_data(line_params.get('v_offset'))
    cdef const floating *nl_line = <const floating *>_data(line_params.get('out_nonlinearity'))

    # The noise-management factor of every input vector.
    nu_arr = np.empty(n_b, dtype=np.float64)
    cdef double *nu = <double *>_data(nu_arr)
    with nogil:
        if not nm_on:
            for k in range(n_b):
                nu[k] = 1.0
        else:
            for k in prange(n_b, schedule='static', num_threads=n_threads):
                nu[k] = _nm_factor(Xp + k * n_in, n_in, &io)
            if io.nm_type == NM_AVERAGE_ABS_MAX:
                # A running average over the vectors in batch order: sequential by nature.
                a_run = nm_state[0]
                for k in range(n_b):
                    if nm_state[1] == 0:
                        a_run = nu[k]
                        nm_state[1] = 1
                    else:
                        a_run = (1.0 - io.nm_decay) * a_run + io.nm_decay * nu[k]
                    nu[k] = a_run
                nm_state[0] = a_run

    # Rows still to compute, and the zero shortcut (NM on and a non-positive factor).
    rows_arr = np.empty(n_b, dtype=np.int64)
    cdef int64_t *rows = <int64_t *>_data(rows_arr)
    n_act = 0
    for k in range(n_b):
        if nm_on and nu[k] <= 0 and (io.inp_noise <= 0 or not io.zero_shortcut_needs_no_inp_noise):
            for i in range(n_out):
                Yp[k * n_out + i] = 0
        else:
            rows[n_act] = k
            n_act += 1
    if n_act == 0:
        return

    posneg = io.mv_type != MV_ONE_PASS
    n_pass = 2 if posneg else 1
    direct = n_act == n_b  # the first round can write straight into Y
    Y_arr = np.asarray(Y)
    U_arr = np.empty((n_act, n_in), dtype=dtype)
    V_arr = None if direct else np.empty((n_act, n_out), dtype=dtype)
    cdef floating *U = <floating *>_data(U_arr)
    cdef floating *V
    cdef floating *U_pass
    cdef floating *V_pass
    cdef const floating *ir_abs = NULL
    cdef const floating *ir_weighted = NULL
    cdef const floating *pcm_read = NULL
    overflow_arr = np.empty(n_act, dtype=np.int32)
    cdef int *overflow = <int *>_data(overflow_arr)
    scale_arr = np.empty(n_act, dtype=dtype)
    cdef floating *scale = <floating *>_data(scale_arr)
    cdef uint32_t sub
    cdef int w_noise_purpose
    cdef bint line_effects = io.ir_drop > 0 or io.v_offset_on or (io.w_noise > 0 and io.w_noise_type != W_NOISE_NONE)
    cdef Py_ssize_t n_max = n_in if n_in > n_out else n_out
    # Per-thread scratch of the row loops, [noise (n_max) | shift (n_max) | Philox words], in
    # floating units; allocated once per call with the GIL held and indexed by threadid().
    cdef Py_ssize_t stride = 2 * n_max + (_scratch_words(n_max) * 4 + sizeof(floating) - 1) // sizeof(floating)
    scratch_arr = np.empty((max(n_threads, 1), stride), dtype=dtype)
    cdef floating *scratch = <floating *>_data(scratch_arr)
    cdef floating *buf

    W_np = np.asarray(W)
    W_neg_pass = W_np
    if posneg and io.read_asymmetry_on:
        W_neg_pass = np.ascontiguousarray(W_np * line_params['w_asymmetry'])
    if posneg:
        U_pass_arr = np.empty((n_act, n_in), dtype=dtype)
        V_pass_arr = np.empty((n_act, n_out), dtype=dtype)
    j_weights = None
    if io.ir_drop > 0:
        j_weights = (1.0 - (1.0 - np.arange(n_in, dtype=np.float64) / max(n_in, 1)) ** 2).astype(dtype)

    stop_res = io.max_bm_res / io.inp_step if io.inp_step > 0 else INFINITY
    rho = 0.5
    while n_act > 0:
        rho *= 2.0
        if round_idx == 1 and io.bm_type == BM_ITERATIVE_WORST_CASE and io.nm_type != NM_ABS_MAX_NP_SUM:
            with nogil:
                for k in prange(n_act, schedule='static', num_threads=n_threads):
                    nu[rows[k]] = _nm_abs_max_np_sum(Xp + rows[k] * n_in, n_in, &io)
            rho = 1.0
        sub = <uint32_t>(round_idx * 2)
        with nogil:
            for k in prange(n_act, schedule='static', num_threads=n_threads):
                buf = scratch + threadid() * stride
                row = rows[k]
                scale_d = 1.0
                if nm_on and nu[row] > 0:
                    scale_d = scale_d / nu[row]
                if bm_on:
                    scale_d = scale_d / rho
                scale[k] = <floating>scale_d
                _dac_row(Xp + row * n_in, U + k * n_in, n_in, scale[k], &io, seed, <uint64_t>row,
                         op, sub, buf, buf + n_max, <uint32_t *>(buf + 2 * n_max))

        Vv = Y_arr if direct and round_idx == 0 else V_arr[:n_act]
        V = <floating *>_data(Vv)
        Uv = U_arr[:n_act]
        for pass_idx in range(n_pass):
            # POS_NEG modes split the prepared input: pass 0 drives the negative inputs (on the
            # read-asymmetric weights) into V_pass, pass 1 the positive ones into V.
            if posneg:
                Up = U_pass_arr[:n_act]
                if pass_idx == 0:
                    np.minimum(Uv, zero, out=Up)
                    Wp = W_neg_pass
                    Vp = V_pass_arr[:n_act]
                else:
                    np.maximum(Uv, zero, out=Up)
                    Wp = W_np
                    Vp = Vv
            else:
                Up = Uv
                Wp = W_np
                Vp = Vv
            _gemm_views(Up, Wp, Vp, transposed, n_threads)
            if io.ir_drop > 0:
                Wa = np.abs(Wp)
                ir_abs_arr = np.ascontiguousarray(np.abs(Up) @ (Wa if transposed else Wa.T), dtype=dtype)
                ir_w_arr = np.ascontiguousarray((Up * j_weights) @ (Wp if transposed else Wp.T), dtype=dtype)
                ir_abs = <const floating *>_data(ir_abs_arr)
                ir_weighted = <const floating *>_data(ir_w_arr)
            if io.w_noise > 0 and io.w_noise_type == W_NOISE_PCM_READ:
                Wa = np.abs(Wp)
                pcm_arr = np.ascontiguousarray((Up * Up) @ (Wa if transposed else Wa.T), dtype=dtype)
                pcm_read = <const floating *>_data(pcm_arr)
            U_pass = <floating *>_data(Up)
            V_pass = <floating *>_data(Vp)
            w_noise_purpose = RPU_RNG_W_NOISE if pass_idx == n_pass - 1 else RPU_RNG_W_NOISE_NEG_PASS
            if line_effects:
                with nogil:
                    for k in prange(n_act, schedule='static', num_threads=n_threads):
                        buf = scratch + threadid() * stride
                        _line_effects_row(V_pass + k * n_out, U_pass + k * n_in, n_out, n_in, &io,
                                          ir_abs + k * n_out if ir_abs != NULL else NULL,
                                          ir_weighted + k * n_out if ir_weighted != NULL else NULL,
                                          v_offset,
                                          pcm_read + k * n_out if pcm_read != NULL else NULL,
                                          seed, <uint64_t>rows[k], op, sub, w_noise_purpose,
                                          buf, <uint32_t *>(buf + 2 * n_max))
            if io.mv_type == MV_POS_NEG_SEPARATE_DIGITAL_SUM:
                # Each pass has its own ADC conversion (and rescale); the digital sum follows.
                with nogil:
                    for k in prange(n_act, schedule='static', num_threads=n_threads):
                        buf = scratch + threadid() * stride
                        overflow[k] = (overflow[k] if pass_idx == 1 else 0) | _adc_row(
                            V_pass + k * n_out, n_out, &io, sigma_line, nl_line,
                            <floating>io.out_scale / scale[k], seed, <uint64_t>rows[k], op,
                            sub + <uint32_t>pass_idx, buf, buf + n_max, <uint32_t *>(buf + 2 * n_max))
        if posneg:
            np.add(Vv, V_pass_arr[:n_act], out=Vv)

        if io.mv_type != MV_POS_NEG_SEPARATE_DIGITAL_SUM:
            with nogil:
                for k in prange(n_act, schedule='static', num_threads=n_threads):
                    buf = scratch + threadid() * stride
                    overflow[k] = _adc_row(V + k * n_out, n_out, &io, sigma_line, nl_line,
                                           <floating>io.out_scale / scale[k], seed,
                                           <uint64_t>rows[k], op, sub, buf, buf + n_max,
                                           <uint32_t *>(buf + 2 * n_max))

        # Keep the rows that must be repeated (bound management); write out the others.
        stop_round = (not bm_on) or (<long long>rho > io.max_bm_factor) or (rho > stop_res)
        n_next = 0
        for k in range(n_act):
            row = rows[k]
            exceeded = (overflow[k] & 1) != 0 or (io.bm_test_negative_bound and (overflow[k] & 2) != 0)
            if stop_round or not exceeded:
                if not (direct and round_idx == 0):
                    for i in range(n_out):
                        Yp[row * n_out + i] = V[k * n_out + i]
            else:
                rows[n_next] = row
                n_next += 1
        n_act = n_next
        round_idx += 1
        if n_act > 0 and V_arr is None:
            V_arr = np.empty((n_act, n_out), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# The pulsed update: pulse trains per sample, then coincidences and device pulses per weight row
# ---------------------------------------------------------------------------------------------

# Indices of the hidden parameters the pulse rules read, in the order of _HIDDEN_FOR_PULSES.
_HIDDEN_FOR_PULSES = ("max_bound", "min_bound", "dwmin_up", "dwmin_down", "slope_up",
                      "slope_down", "gamma_up", "gamma_down", "reference")


cdef inline void _device_row(rpu_device_row[floating] *h, const floating *hidden,
                             const int *hidden_idx, Py_ssize_t plane, Py_ssize_t off) noexcept nogil:
    """Row pointers into each hidden parameter (hidden_idx: _HIDDEN_FOR_PULSES, -1 absent)."""
    h.b_max = hidden + hidden_idx[0] * plane + off
    h.b_min = hidden + hidden_idx[1] * plane + off
    h.s_up = hidden + hidden_idx[2] * plane + off
    h.s_down = hidden + hidden_idx[3] * plane + off
    h.slope_up = hidden + hidden_idx[4] * plane + off if hidden_idx[4] >= 0 else NULL
    h.slope_down = hidden + hidden_idx[5] * plane + off if hidden_idx[5] >= 0 else NULL
    h.gamma_up = hidden + hidden_idx[6] * plane + off if hidden_idx[6] >= 0 else NULL
    h.gamma_down = hidden + hidden_idx[7] * plane + off if hidden_idx[7] >= 0 else NULL
    h.reference = hidden + hidden_idx[8] * plane + off if hidden_idx[8] >= 0 else NULL


cdef tuple _device_globals(dict dev, tuple hidden_idx, rpu_device_globals[floating] *g,
                           int *idx):
    """Fill ``g`` from the device dict (rpu.tiles._devices) and ``idx`` (9 ints) from
    ``hidden_idx``; returns the node tables ``g`` points into, which the caller keeps alive
    while ``g`` is used."""
    cdef int k
    for k in range(9):
        idx[k] = hidden_idx[k]
    dtype = np.float32 if floating is float else np.float64
    nodes_up = np.ascontiguousarray(dev["nodes_up"], dtype=dtype)
    nodes_down = np.ascontiguousarray(dev["nodes_down"], dtype=dtype)
    g.kind = dev["kind"]
    g.mult_noise = dev["mult_noise"]
    g.n_nodes = <int>nodes_up.shape[0]
    g.sigma = dev["sigma"]
    g.A_up = dev["A_up"]
    g.A_down = dev["A_down"]
    g.gamma_up = dev["gamma_up"]
    g.gamma_down = dev["gamma_down"]
    g.a = dev["a"]
    g.b = dev["b"]
    g.std_add = dev["std_add"]
    g.std_slope = dev["std_slope"]
    g.nodes_up = <const floating *>_data(nodes_up)
    g.nodes_down = <const floating *>_data(nodes_down)
    return nodes_up, nodes_down


cdef bint _transfer_write(floating[:, ::1] stored, floating[:, ::1] visible,
                          const floating[:, :, ::1] hidden, const int *hidden_idx,
                          const floating[:, ::1] X, const floating[:, ::1] D,
                          const double[::1] A, const double[::1] B, floating x_res,
                          floating d_res, int lr_sign, const rpu_device_globals[floating] *g,
                          floating write_noise, int needs_noise, uint64_t noise_seed,
                          uint64_t op, int n_threads, dict workspace) except -1:
    """pulsed_update's path for a transfer's write (rpu_write_row, cpu_rows.h); returns False,
    having changed nothing, when the batch is not one (then the general path runs)."""
    cdef Py_ssize_t m = X.shape[0], x_size = X.shape[1], d_size = D.shape[1], i
    if m == 0 or x_size == 0 or d_size == 0:
        return False
    dtype = np.float32 if floating is float else np.float64
    x_col_arr = _work(workspace, "write_x_col", (m,), np.int32)
    x_sgn_arr = _work(workspace, "write_x_sgn", (m,), np.int8)
    cdef int *x_col = <int *>_data(x_col_arr)
    cdef signed char *x_sgn = <signed char *>_data(x_sgn_arr)
    if not rpu_certain_one_hot(&X[0, 0], m, x_size, &B[0], x_res, x_col, x_sgn):
        return False
    a_arr = np.asarray(A, dtype=dtype)
    if not rpu_certain_lines(&D[0, 0], m, d_size, <const floating *>_data(a_arr), d_res):
        return False
    # Per-thread scratch (8-byte units): flags (x_size / 8 + 1) | samples (m / 2 + 1) |
    # Philox words (2 m) | normals (4 m).
    cdef Py_ssize_t f_n = x_size // 8 + 1, s_n = m // 2 + 1
    cdef Py_ssize_t stride = f_n + s_n + 2 * m + 4 * m
    scratch = _work(workspace, "scratch_write", (max(n_threads, 1), stride), np.uint64)
    cdef uint64_t *sw = <uint64_t *>_data(scratch)
    cdef floating *stored_p = &stored[0, 0]
    cdef floating *visible_p = &visible[0, 0]
    cdef const floating *hidden_p = &hidden[0, 0, 0]
    cdef const floating *D_p = &D[0, 0]
    with nogil:
        for i in prange(d_size, schedule='static', num_threads=n_threads):
            _write_row_i(stored_p, visible_p, hidden_p, hidden_idx, i, d_size, x_size, m, x_col,
                         x_sgn, D_p, lr_sign, g, write_noise, needs_noise,
                         sw + threadid() * stride, f_n, s_n, noise_seed, op)
    return True


cdef void _write_row_i(floating *stored, floating *visible, const floating *hidden,
                       const int *hidden_idx, Py_ssize_t i, Py_ssize_t d_size, Py_ssize_t x_size,
                       Py_ssize_t m, const int *x_col, const signed char *x_sgn,
                       const floating *D, int lr_sign, const rpu_device_globals[floating] *g,
                       floating write_noise, int needs_noise, uint64_t *buf, Py_ssize_t f_n,
                       Py_ssize_t s_n, uint64_t noise_seed, uint64_t op) noexcept nogil:
    # the device row in the thread's own frame (scratch layout: see _transfer_write)
    cdef rpu_device_row[floating] h
    _device_row(&h, hidden, hidden_idx, d_size * x_size, i * x_size)
    rpu_write_row(stored + i * x_size, visible + i * x_size, x_size, m, x_col, x_sgn, D + i,
                  d_size, lr_sign, g[0], h, write_noise, needs_noise, <unsigned char *>buf,
                  <int *>(buf + f_n), <uint32_t *>(buf + f_n + s_n),
                  <floating *>(buf + f_n + s_n + 2 * m), noise_seed, <uint64_t>i, op)


cdef void _update_row_i(floating *stored, floating *visible, Py_ssize_t i, Py_ssize_t d_size,
                        Py_ssize_t x_size, Py_ssize_t m, int nw, int mode, const int *x_cnt,
                        const int *x_idx, const uint64_t *x_words, const signed char *x_sgn,
                        const floating *x_val, const signed char *x_fire,
                        const floating *D_t, const floating *a_scales,
                        const int *bl, floating d_res, int sto, int lr_sign, int one_sided,
                        const rpu_device_globals[floating] *g, const floating *hidden,
                        const int *hidden_idx, floating write_noise, int needs_noise,
                        uint64_t *buf, Py_ssize_t chunk, uint64_t seed, uint64_t noise_seed,
                        uint64_t op, const int *record_at, int n_record, int record_rows,
                        floating *record_out) noexcept nogil:
    # The device row (pointers into each hidden parameter at row i) and the scratch layout are
    # built here, in the thread's own frame.
    cdef rpu_device_row[floating] h
    _device_row(&h, hidden, hidden_idx, d_size * x_size, i * x_size)
    cdef Py_ssize_t off = i * x_size
    # scratch (8-byte units): normals (chunk) | noise words (chunk / 2 + 8) | d trains (m * nw) |
    # d dense (m) | prob (m) | train words (2 m + 2) | d signs (m / 8 + 1) | flags (x_size / 8 + 1)
    # | pair_j, pair_n, pair_off, pair_order (x_size / 2 + 1 each) | normals by column (x_size)
    # | first-block normals (4 m) | their samples (m / 2 + 1)
    cdef floating *normals = <floating *>buf
    cdef uint32_t *noise_words = <uint32_t *>(buf + chunk)
    cdef uint64_t *d_train = buf + chunk + chunk // 2 + 8
    cdef floating *d_dense = <floating *>(d_train + m * nw)
    cdef floating *prob = <floating *>(d_train + m * nw + m)
    cdef uint32_t *words = <uint32_t *>(d_train + m * nw + 2 * m)
    cdef signed char *d_sign = <signed char *>(d_train + m * nw + 4 * m + 2)
    cdef unsigned char *flags = <unsigned char *>(d_train + m * nw + 4 * m + 2 + m // 8 + 1)
    cdef int *pair_j = <int *>(d_train + m * nw + 4 * m + 2 + m // 8 + 1 + x_size // 8 + 1)
    cdef int *pair_n = pair_j + 2 * (x_size // 2 + 1)
    cdef int *pair_off = pair_n + 2 * (x_size // 2 + 1)
    cdef int *pair_order = pair_off + 2 * (x_size // 2 + 1)
    cdef floating *by_column = <floating *>(pair_order + 2 * (x_size // 2 + 1))
    cdef floating *first_normals = <floating *>((<uint64_t *>by_column) + x_size)
    cdef int *first_samples = <int *>((<uint64_t *>first_normals) + 4 * m)
    rpu_update_row(stored + off, visible + off, x_size, m, nw, mode, x_cnt, x_idx, x_words,
                   x_sgn, x_val, x_fire, D_t + i * m, 1, a_scales, bl, d_res, sto, lr_sign,
                   one_sided, g[0], h,
                   write_noise, needs_noise, flags, normals, noise_words, chunk, by_column,
                   first_normals, first_samples,
                   d_train, d_sign,
                   d_dense, prob, words, pair_j, pair_n, pair_off, pair_order, seed, noise_seed,
                   <uint64_t>i, op,
                   record_at, n_record, record_rows,
                   record_out if record_rows or record_out == NULL else record_out + i,
                   x_size if record_rows else d_size)


def _work(dict workspace, str name, tuple shape, dtype):
    """A work array of the given shape from ``workspace``, made anew only when the shape or
    dtype changes. Contents are not cleared: every user writes before it reads."""
    arr = workspace.get(name)
    if arr is None or arr.shape != shape or arr.dtype != np.dtype(dtype):
        arr = np.empty(shape, dtype=dtype)
        workspace[name] = arr
    return arr


def pulsed_update(floating[:, ::1] stored,          # IN/OUT (d, x) weights the pulses act on
                  floating[:, ::1] visible,         # IN/OUT (d, x) visible weights (may be stored)
                  const floating[:, :, ::1] hidden, # IN  (n_par, d, x) hidden device parameters
                  tuple hidden_idx,                 # IN  indices of _HIDDEN_FOR_PULSES (-1: absent)
                  const floating[:, ::1] X,         # IN  (m, x) update inputs
                  const floating[:, ::1] D,         # IN  (m, d) update errors
                  const int[::1] BL,                # IN  (m,) bit length per sample
                  const double[::1] A,              # IN  (m,) d-side probability scale
                  const double[::1] B,              # IN  (m,) x-side probability scale
                  dict up,                          # IN  mode, x_res, d_res, sto_round, lr_sign,
                                                    #     one_sided (optional)
                  dict dev,                         # IN  device globals (rpu.tiles._devices)
                  uint64_t seed, uint64_t op, int n_threads,
                  dict workspace=None,              # IN/OUT reusable work arrays (owned by the tile)
                  noise_seed=None,                  # IN  key of the pulse noise (default: seed)
                  record_cols=None,                 # IN  (m,) or (m, R) int32: columns to record after each sample (-1: none)
                  floating[:, ::1] record_out=None, # OUT (m R, d) column records, or (m R, x) row records
                  record_rows=None):                # IN  (m,) or (m, R) int32: rows to record after each sample (-1: none)
    """Apply a batch of pulsed updates, samples in order, as aihwkit's RPUPulsed does.

    ``noise_seed`` gives the cycle-to-cycle pulse noise its own key (the sub-devices of a unit
    cell see the same pulse trains with independent noise). ``record_cols``/``record_out`` let a
    transfer compound read the columns it transfers at the moment of the transfer, in the same
    pass: once sample b is applied, row i records its stored weight in column
    ``record_cols[b, r]`` as ``record_out[b R + r, i]``. ``record_rows`` instead records whole
    rows for a row transfer: ``record_out[b R + r] = stored[record_rows[b, r]]``. A 1-d array is
    one record per sample (R = 1).
    ``up["one_sided"]`` (optional, default 0) = +1 / -1 makes the call the g+ / g- half of a
    one-sided unit cell: only the up (down) pulses of every coincidence count are applied, all
    as up pulses (``rpu_one_sided_count``, unit_cells.h).

    Step 1, per sample (parallel over samples): pulse probabilities and bit trains (or dense
    counts) of x and d, and for one-slot samples in which many x lines fire, their layout along
    the row (``rpu_dense_sample``). Step 2, per weight row (parallel over rows): coincidence
    counts of every weight with every sample, then the device pulses, the weight held across
    the batch. Rows are independent, and every random number is keyed by what it is for, so the
    result does not depend on the thread count.

    A batch shaped like a transfer's write -- one non-zero x per sample, BL = 1, and every line
    that fires doing so with certainty (probability 1 or more after quantisation, no stochastic
    rounding), no records, not one-sided -- skips both steps: each row applies its pulses
    directly (``rpu_write_row``, cpu_rows.h), with the same pulses and normals.
    """
    cdef Py_ssize_t m = X.shape[0], x_size = X.shape[1], d_size = D.shape[1]
    cdef Py_ssize_t b, i, n_max = x_size if x_size > d_size else d_size
    cdef object one = 1
    cdef int mode = up["mode"], sto = up["sto_round"], lr_sign = up["lr_sign"]
    cdef int one_sided = up.get("one_sided", 0)
    cdef floating x_res = up["x_res"], d_res = up["d_res"]
    cdef int max_bl = 0, min_bl = BL[0] if m > 0 else 0, any_one_slot = 0
    for b in range(m):
        if BL[b] > max_bl:
            max_bl = BL[b]
        if BL[b] < min_bl:
            min_bl = BL[b]
        if BL[b] == 1:
            any_one_slot = 1
    # the records: -1 or a column (row) per (sample, read), checked before anything moves
    cdef int n_rec = 0, rec_rows = record_rows is not None
    rec_arr = None
    if record_cols is not None or record_rows is not None:
        if record_cols is not None and record_rows is not None:
            raise ValueError("pulsed_update records columns or rows, not both: pass record_cols "
                             "or record_rows.")
        rec_arr = np.ascontiguousarray(record_rows if rec_rows else record_cols, dtype=np.int32)
        if rec_arr.ndim == 1:
            rec_arr = rec_arr[:, None]
        n_rec = rec_arr.shape[1] if rec_arr.ndim == 2 else 0
        limit, width = (d_size, x_size) if rec_rows else (x_size, d_size)
        name = "record_rows" if rec_rows else "record_cols"
        if rec_arr.ndim != 2 or rec_arr.shape[0] != m or record_out is None \
                or record_out.shape[0] != m * n_rec or record_out.shape[1] != width \
                or (rec_arr >= limit).any():
            what = "rows < d_size" if rec_rows else "columns < x_size"
            raise ValueError(f"{name} must be (m,) or (m, R) {what} = {limit} (-1: none) with "
                             f"record_out of shape (m R, {width}) = ({m * n_rec}, {width}).")
    if m == 0 or max_bl == 0:
        if rec_arr is not None and m > 0:
            # nothing moves: every recorded read is the current column (row)
            rec = np.asarray(record_out)
            flat = rec_arr.ravel()
            for b in range(flat.shape[0]):
                if flat[b] >= 0:
                    rec[b, :] = np.asarray(stored)[flat[b], :] if rec_rows \
                        else np.asarray(stored)[:, flat[b]]
        return
    cdef int nw = (max_bl + 63) // 64
    dtype = np.float32 if floating is float else np.float64

    # The device's globals and the rows of its hidden parameters (both paths below).
    cdef rpu_device_globals[floating] g
    cdef int idx[9]
    node_tables = _device_globals(dev, hidden_idx, &g, idx)
    cdef floating write_noise = dev["write_noise"]
    cdef int needs_noise = dev["needs_noise"]

    cdef uint64_t n_seed = seed if noise_seed is None else <uint64_t>noise_seed
    if workspace is None:
        workspace = {}
    # A transfer's write (one-hot x, every line certain, BL = 1): only its pulses are visited,
    # with the same pulses and normals as the general path below (rpu_write_row, cpu_rows.h).
    if (mode == 0 and one_sided == 0 and rec_arr is None and min_bl == 1 and max_bl == 1
            and not (sto and (x_res > 0 or d_res > 0))
            and _transfer_write(stored, visible, hidden, idx, X, D, A, B, x_res, d_res, lr_sign,
                                &g, write_noise, needs_noise, n_seed, op, n_threads, workspace)):
        return

    # Step 1 (parallel over samples): the x side of every sample -- probabilities, trains, and
    # the compacted list of the elements whose line fires. The d side is made per weight row in
    # step 2, where it is used (so that no two threads write the same cache lines).
    # Work arrays come from the tile's workspace when the shapes repeat: fresh pages cost the
    # kernel a page clear each, a sizeable share of a call otherwise.
    x_cnt_arr = _work(workspace, "x_cnt", (m,), np.int32)
    x_idx_arr = _work(workspace, "x_idx", (m, x_size), np.int32)
    x_words_arr = _work(workspace, "x_words", (m, x_size, nw), np.uint64)
    x_sgn_arr = _work(workspace, "x_sgn", (m, x_size), np.int8)
    x_val_arr = _work(workspace, "x_val", (m, x_size), dtype)
    cdef int *x_cnt = <int *>_data(x_cnt_arr)
    cdef int *x_idx = <int *>_data(x_idx_arr)
    cdef uint64_t *x_words = <uint64_t *>_data(x_words_arr)
    cdef signed char *x_sgn = <signed char *>_data(x_sgn_arr)
    cdef floating *x_val = <floating *>_data(x_val_arr)
    # One-slot samples with many firing elements also get the row-wide layout of their lines
    # (rpu_dense_sample), for step 2's pass over whole rows.
    cdef signed char *x_fire = NULL
    if mode == 0 and any_one_slot:
        x_fire_arr = _work(workspace, "x_fire", (m, x_size), np.int8)
        x_fire = <signed char *>_data(x_fire_arr)
    # Per-thread scratch (8-byte units): probabilities (x_size) | Philox words (2 x_size + 2) |
    # one sample's x trains (x_size * nw) | x dense values (x_size) | x signs (x_size / 8 + 1).
    cdef Py_ssize_t s1_stride = x_size + 2 * x_size + 2 + x_size * nw + x_size + x_size // 8 + 1
    scratch1 = _work(workspace, "scratch1", (max(n_threads, 1), s1_stride), np.uint64)
    cdef uint64_t *s1 = <uint64_t *>_data(scratch1)
    cdef uint64_t *buf1
    cdef uint64_t *xt_tmp
    cdef floating *xd_tmp
    cdef signed char *xs_tmp
    cdef floating scale_b
    cdef int count_b
    with nogil:
        for b in prange(m, schedule='static', num_threads=n_threads):
            buf1 = s1 + threadid() * s1_stride
            xt_tmp = buf1 + 3 * x_size + 2
            xd_tmp = <floating *>(xt_tmp + x_size * nw)
            xs_tmp = <signed char *>(xt_tmp + x_size * nw + x_size)
            scale_b = <floating>B[b]
            rpu_pulse_trains(&X[b, 0], 1, x_size, &scale_b, &BL[b], 0, x_res, sto, nw, mode,
                             xt_tmp, xs_tmp, xd_tmp, <floating *>buf1, <uint32_t *>(buf1 + x_size),
                             seed, <uint64_t>b, op, RPU_RNG_X_TRAIN, RPU_RNG_X_PROB_ROUND)
            count_b = <int>rpu_compact_sample(x_size, nw, mode, xt_tmp, xs_tmp, xd_tmp,
                                              x_idx + b * x_size, x_words + b * x_size * nw,
                                              x_sgn + b * x_size, x_val + b * x_size)
            x_cnt[b] = count_b
            if x_fire != NULL and BL[b] == 1 and rpu_sample_is_dense(count_b, x_size):
                rpu_dense_sample(x_size, nw, xt_tmp, xs_tmp, x_fire + b * x_size)

    # Step 2: per weight row.
    bl32 = np.asarray(BL, dtype=np.int32)
    cdef const int *blp = <const int *>_data(bl32)
    # The d side's probability scales per sample, in the tile dtype.
    a_arr = np.asarray(A, dtype=dtype)
    cdef const floating *a_scales = <const floating *>_data(a_arr)
    # Per-thread scratch of _update_row_i (8-byte units; layout there).
    # Normals drawn at a time (the noise buffer). Chains of pulses (BL > 1) are ordered by
    # length within the pairs whose normals fit it, so a longer buffer packs the SIMD lanes
    # better (tiki-taka at BL 31: 4096 was about 12 % faster than 1024); one-slot updates gain
    # nothing from it and keep their scratch small.
    cdef Py_ssize_t chunk = 4096 if bl32.size and bl32.max() > 1 else 1024
    cdef Py_ssize_t s2_stride = (chunk + chunk // 2 + 8 + m * nw + 4 * m + 2 + m // 8 + 1
                                 + x_size // 8 + 1 + 4 * (x_size // 2 + 1) + x_size
                                 + 4 * m + m // 2 + 1)
    scratch2 = _work(workspace, "scratch2", (max(n_threads, 1), s2_stride), np.uint64)
    cdef uint64_t *s2 = <uint64_t *>_data(scratch2)
    cdef floating *stored_p = &stored[0, 0]
    cdef floating *visible_p = &visible[0, 0]
    cdef const floating *hidden_p = &hidden[0, 0, 0]
    # Each row reads its d column across the batch: transposed, that is one contiguous run
    # instead of m reads a row of D apart.
    D_t = np.ascontiguousarray(np.asarray(D).T)
    cdef const floating *D_p = <const floating *>_data(D_t)
    cdef const int *rec_at = NULL
    cdef floating *rec_out = NULL
    if rec_arr is not None and n_rec > 0:
        rec_at = <const int *>_data(rec_arr)
        rec_out = &record_out[0, 0]
    with nogil:
        for i in prange(d_size, schedule='static', num_threads=n_threads):
            _update_row_i(stored_p, visible_p, i, d_size, x_size, m, nw, mode, x_cnt, x_idx,
                          x_words, x_sgn, x_val, x_fire, D_p, a_scales, blp, d_res, sto, lr_sign,
                          one_sided, &g,
                          hidden_p, idx, write_noise, needs_noise, s2 + threadid() * s2_stride,
                          chunk, seed, n_seed, op, rec_at, n_rec, rec_rows, rec_out)


def write_counts(floating[:, ::1] stored,          # IN/OUT (d, x) weights the pulses act on
                 floating[:, ::1] visible,         # IN/OUT (d, x) visible weights (may be stored)
                 const floating[:, :, ::1] hidden, # IN  (n_par, d, x) hidden device parameters
                 tuple hidden_idx,                 # IN  indices of _HIDDEN_FOR_PULSES (-1: absent)
                 const int[::1] cols,              # IN  (m,) the column each sample writes
                 const int[:, ::1] counts,         # IN  (d, m) pulse counts n per row and sample
                 const int[::1] row_index,         # IN  (d,) a row's index in the random streams
                 const int[::1] BL,                # IN  (m,) bit length per sample
                 const double[::1] A,              # IN  (m,) d-side probability scale
                 const double[::1] B,              # IN  (m,) x-side probability scale
                 dict up, dict dev, uint64_t noise_seed, uint64_t op, int n_threads,
                 dict workspace=None):
    """A transfer's write from its pulse counts: what ``pulsed_update`` makes of the batch with
    sample b's x the unit vector at column ``cols[b]`` and its d = -counts[:, b], when that batch
    takes its write path (``rpu_write_row``): every count fires with certainty, BL = 1,
    stochastic compressed trains, no stochastic rounding, not one-sided. Returns False, having
    changed nothing, for any other batch (then build X and D and call ``pulsed_update``).

    Row i draws its pulse noise as row ``row_index[i]`` (the general path's index of the row
    among those it was given), or takes no pulses when that is negative. The counts come in the
    buffers' layout, a row's samples side by side, so that each row reads its own counts in one
    line instead of one line per sample."""
    cdef Py_ssize_t d_size = stored.shape[0], x_size = stored.shape[1], m = cols.shape[0]
    cdef Py_ssize_t i, b
    if (counts.shape[0] != d_size or counts.shape[1] != m or row_index.shape[0] != d_size
            or BL.shape[0] != m or A.shape[0] != m or B.shape[0] != m
            or visible.shape[0] != d_size or visible.shape[1] != x_size):
        raise ValueError(f"write_counts: counts must be ({d_size}, {m}), row_index ({d_size},) "
                         f"and BL, A, B ({m},) for {m} columns on a ({d_size}, {x_size}) array.")
    for b in range(m):
        if not 0 <= cols[b] < x_size:
            raise ValueError(f"write_counts: column {cols[b]} is outside 0..{x_size - 1}.")
    cdef int mode = up["mode"], sto = up["sto_round"], lr_sign = up["lr_sign"]
    cdef int one_sided = up.get("one_sided", 0)
    cdef floating x_res = up["x_res"], d_res = up["d_res"]
    if m == 0 or d_size == 0 or x_size == 0:
        return True
    if mode != 0 or one_sided != 0 or (sto and (x_res > 0 or d_res > 0)):
        return False
    for b in range(m):
        if BL[b] != 1:
            return False
    dtype = np.float32 if floating is float else np.float64
    a_arr = np.asarray(A, dtype=dtype)
    b_arr = np.asarray(B, dtype=dtype)
    if not rpu_certain_counts(&counts[0, 0], d_size, m, <const floating *>_data(b_arr), x_res,
                              <const floating *>_data(a_arr), d_res):
        return False
    cdef rpu_device_globals[floating] g
    cdef int idx[9]
    node_tables = _device_globals(dev, hidden_idx, &g, idx)
    cdef floating write_noise = dev["write_noise"]
    cdef int needs_noise = dev["needs_noise"]
    if workspace is None:
        workspace = {}
    x_sgn_arr = np.ones(m, dtype=np.int8)
    # Per-thread scratch (8-byte units): flags (x_size / 8 + 1) | samples (m / 2 + 1) |
    # Philox words (2 m) | normals (4 m) | the row's d values (m).
    cdef Py_ssize_t f_n = x_size // 8 + 1, s_n = m // 2 + 1
    cdef Py_ssize_t stride = f_n + s_n + 2 * m + 4 * m + m
    scratch = _work(workspace, "scratch_write_counts", (max(n_threads, 1), stride), np.uint64)
    cdef uint64_t *sw = <uint64_t *>_data(scratch)
    cdef floating *stored_p = &stored[0, 0]
    cdef floating *visible_p = &visible[0, 0]
    cdef const floating *hidden_p = &hidden[0, 0, 0]
    cdef const signed char *x_sgn = <const signed char *>_data(x_sgn_arr)
    cdef const int *counts_p = &counts[0, 0]
    cdef const int *cols_p = &cols[0]
    with nogil:
        for i in prange(d_size, schedule='static', num_threads=n_threads):
            if row_index[i] >= 0:
                _write_counts_row_i(stored_p, visible_p, hidden_p, idx, i, d_size, x_size, m,
                                    cols_p, x_sgn, counts_p + i * m, lr_sign, &g, write_noise,
                                    needs_noise, sw + threadid() * stride, f_n, s_n, noise_seed,
                                    <uint64_t>row_index[i], op)
    return True


cdef void _write_counts_row_i(floating *stored, floating *visible, const floating *hidden,
                              const int *hidden_idx, Py_ssize_t i, Py_ssize_t d_size,
                              Py_ssize_t x_size, Py_ssize_t m, const int *cols,
                              const signed char *x_sgn, const int *counts, int lr_sign,
                              const rpu_device_globals[floating] *g, floating write_noise,
                              int needs_noise, uint64_t *buf, Py_ssize_t f_n, Py_ssize_t s_n,
                              uint64_t noise_seed, uint64_t row, uint64_t op) noexcept nogil:
    # the device row and the row's d values in the thread's own frame and scratch (layout: see
    # write_counts); d = -n, as pulsed_update's D of the same write holds it
    cdef rpu_device_row[floating] h
    _device_row(&h, hidden, hidden_idx, d_size * x_size, i * x_size)
    cdef floating *d_vals = <floating *>(buf + f_n + s_n + 6 * m)
    cdef Py_ssize_t b
    for b in range(m):
        d_vals[b] = -<floating>counts[b]
    rpu_write_row(stored + i * x_size, visible + i * x_size, x_size, m, cols, x_sgn, d_vals, 1,
                  lr_sign, g[0], h, write_noise, needs_noise, <unsigned char *>buf,
                  <int *>(buf + f_n), <uint32_t *>(buf + f_n + s_n),
                  <floating *>(buf + f_n + s_n + 2 * m), noise_seed, row, op)


def exact_update_clipped(floating[:, ::1] W,          # IN/OUT (d, x) weights
                         const floating[:, ::1] X,    # IN  (m, x)
                         const floating[:, ::1] D,    # IN  (m, d)
                         double lr,
                         const floating[:, ::1] b_min, const floating[:, ::1] b_max,  # IN (d, x)
                         int n_threads):
    """``NONE_WITH_DEVICE``: W -= lr d_b x_b^T for each sample b in order, clipped to the device
    bounds after each sample. Rows are independent, so they run in parallel."""
    cdef Py_ssize_t i, d_size = W.shape[0], x_size = W.shape[1], m = X.shape[0]
    cdef floating lr_t = <floating>lr
    if m == 0 or d_size == 0 or x_size == 0:
        return
    with nogil:
        for i in prange(d_size, schedule='static', num_threads=n_threads):
            rpu_exact_update_row(&W[i, 0], x_size, m, &X[0, 0], &D[0, i], d_size, lr_t,
                                 &b_min[i, 0], &b_max[i, 0])


# ---------------------------------------------------------------------------------------------
# The buffers of the chopped transfer compounds: events in order, rows in parallel
# ---------------------------------------------------------------------------------------------

def chopped_buffer(const floating[:, ::1] reads,   # IN  (n_ev, d) transfer reads of A's columns
                   const int[::1] cols,            # IN  (n_ev,) column of each event
                   const floating[:, ::1] chop,    # IN  (n_ev, d) +-1: de-chopping sign
                   const double[::1] lr_scale,     # IN  (n_ev,) read -> buffer units
                   floating[:, ::1] H,             # IN/OUT (d, x) buffer
                   int max_n, double momentum, int forget_buffer, int no_buffer, int n_threads):
    """Advance the TTv2 buffer over a batch's transfer events; returns the pulse counts
    (n_ev, d) int32 (a transposed view) to write into C (rpu_chopped_buffer_step, transfer.h,
    row by row in rpu_chopped_buffer_row, cpu_rows.h)."""
    cdef Py_ssize_t n_ev = reads.shape[0], d = reads.shape[1], i
    counts_arr = np.zeros((d, n_ev), dtype=np.int32)
    cdef int[:, ::1] counts = counts_arr
    cdef floating mom = <floating>momentum
    if n_ev == 0 or d == 0:
        return counts_arr.T
    # rows in parallel, each walking its events (rpu_chopped_buffer_row, cpu_rows.h)
    with nogil:
        for i in prange(d, schedule='static', num_threads=n_threads):
            rpu_chopped_buffer_row(&H[i, 0], &cols[0], &reads[0, i], &chop[0, i], d,
                                   &lr_scale[0], n_ev, max_n, mom, forget_buffer, no_buffer,
                                   &counts[i, 0])
    return counts_arr.T


def dynamic_buffer(const floating[:, ::1] reads,   # IN  (n_ev, d) transfer reads of A's columns
                   const int[::1] cols,            # IN  (n_ev,) column of each event
                   const floating[:, ::1] chop,    # IN  (n_ev, d) +-1: de-chopping sign
                   const double[::1] lr_scale,     # IN  (n_ev,) read -> buffer units
                   const signed char[::1] switched,  # IN (n_ev,) the column's chopper switched
                   floating[:, ::1] H,             # IN/OUT (d, x) buffer
                   floating[:, ::1] mu,            # IN/OUT (d, x) running mean of the reads
                   floating[:, ::1] mu_past,       # IN/OUT (d, x) the mean at the last switch
                   int max_n, double momentum, int forget_buffer, double cap, double beta,
                   int n_threads):
    """Advance the AGAD buffers over a batch's transfer events; returns the pulse counts
    (n_ev, d) int32, a transposed view (rpu_dynamic_buffer_step, transfer.h; rpu_dynamic_buffer_row)."""
    cdef Py_ssize_t n_ev = reads.shape[0], d = reads.shape[1], i
    counts_arr = np.zeros((d, n_ev), dtype=np.int32)
    cdef int[:, ::1] counts = counts_arr
    cdef floating mom = <floating>momentum, cap_t = <floating>cap, beta_t = <floating>beta
    if n_ev == 0 or d == 0:
        return counts_arr.T
    with nogil:
        for i in prange(d, schedule='static', num_threads=n_threads):
            rpu_dynamic_buffer_row(&H[i, 0], &mu[i, 0], &mu_past[i, 0], &cols[0], &reads[0, i],
                                   &chop[0, i], d, &lr_scale[0], &switched[0], n_ev, max_n, mom,
                                   forget_buffer, cap_t, beta_t, &counts[i, 0])
    return counts_arr.T


# ---------------------------------------------------------------------------------------------
# Weight modifiers for hardware-aware training (per-element math in _kernels/weight_modifier.h;
# validation, amax and the public API in rpu/tiles/weight_modifier.py). Every draw is Philox of
# (seed, op, purpose, row, column): normals MODIFIER_NOISE (sub k = k-th normal of an element:
# PCM_NOISE uses 0 programming, 1 drift, 2 read), rounding uniforms MODIFIER_ROUND, PCM event
# coins MODIFIER_PCM_EVENTS (sub 0-4), drop-connect coins DROP_CONNECT. Columns >= n_mod (the
# saved last column of copy_last_column) are copied and draw nothing.
# ---------------------------------------------------------------------------------------------

from rpu._kernels cimport (
    RPU_RNG_MODIFIER_NOISE, RPU_RNG_MODIFIER_ROUND, RPU_RNG_DROP_CONNECT,
    RPU_RNG_MODIFIER_PCM_EVENTS, RPU_WM_PCM_NOISE, rpu_wm_params, rpu_wm_dorefa_scale,
    rpu_wm_pcm_read_factor, rpu_wm_element, rpu_wm_pcm, rpu_wm_drop,
)

# Rows of the per-thread draw buffer of modify_weights.
cdef enum:
    WM_BUF_NORMAL = 0      # 3 rows: the normals of sub 0, 1, 2
    WM_BUF_SHIFT = 3       # stochastic-rounding shifts U - 0.5
    WM_BUF_EVENTS = 4      # 5 rows: the PCM event coins of sub 0..4
    WM_BUF_DROP = 9        # drop-connect coins
    WM_BUF_ROWS = 10


def modify_weights(const floating[:, ::1] W,    # IN  (d_size, x_size) clean weights
                   floating[:, ::1] out,        # OUT (d_size, x_size) modified weights (no alias)
                   dict spec,                   # IN  the resolved modifier (see below)
                   const floating[::1] coeffs,  # IN  (n_coeffs,) Poly / ProgNoise polynomial
                   uint64_t seed, uint64_t op, int n_threads):
    """``out = M(W)`` for one weight modifier (aihwkit's C++ WeightModifier::apply order).

    ``spec`` (built by rpu.tiles.weight_modifier) holds: ``type`` (an rpu_wm_type code),
    ``transform`` (whether the type acts at all), ``n_mod`` (>= 1 columns modified, the rest
    copied), ``n_normal`` (normals per element, 0-3), ``sto_round``, ``event_mask`` (bit k: draw the
    PCM coin of sub k), ``pdrop`` and the scalars ``amax``, ``res``, ``std_dev``, ``dorefa_clip``,
    ``g_max``, ``pcm_zero_thres``, ``pcm_t_inference``, ``pcm_t0``, ``pcm_prob_at_reset``,
    ``pcm_prob_at_gmax``, ``pcm_prob_at_random``.
    """
    cdef Py_ssize_t r, j, k, d = W.shape[0], n = W.shape[1]
    cdef Py_ssize_t n_mod = spec["n_mod"]
    cdef int t, n_normal = spec["n_normal"], event_mask = spec["event_mask"]
    cdef bint transform = spec["transform"], sto_round = spec["sto_round"]
    cdef bint is_pcm = spec["type"] == RPU_WM_PCM_NOISE
    cdef floating pdrop = <floating>spec["pdrop"]
    cdef bint drop = spec["pdrop"] > 0
    cdef rpu_wm_params[floating] p
    p.type = spec["type"]
    p.amax = <floating>spec["amax"]
    p.res = <floating>spec["res"]
    p.std_dev = <floating>spec["std_dev"]
    p.dorefa_scale = rpu_wm_dorefa_scale(<floating>spec["dorefa_clip"], p.amax)
    p.g_max = <floating>spec["g_max"]
    p.coeffs = &coeffs[0] if coeffs.shape[0] > 0 else NULL
    p.n_coeffs = coeffs.shape[0]
    p.pcm_zero_thres = <floating>spec["pcm_zero_thres"]
    p.pcm_t0 = <floating>spec["pcm_t0"]
    p.pcm_t = <floating>(<double>spec["pcm_t_inference"] + <double>spec["pcm_t0"])
    p.pcm_read_factor = <floating>rpu_wm_pcm_read_factor(<double>spec["pcm_t_inference"]
                                                         + <double>spec["pcm_t0"])
    p.pcm_prob_at_reset = <floating>spec["pcm_prob_at_reset"]
    p.pcm_prob_at_gmax = <floating>spec["pcm_prob_at_gmax"]
    p.pcm_prob_at_random = <floating>spec["pcm_prob_at_random"]
    if d == 0 or n == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    # Per-thread draw rows; zeros so that an undrawn row reads as no noise / no shift.
    bufs_arr = np.zeros((max(n_threads, 1), WM_BUF_ROWS, n_mod), dtype=dtype)
    cdef floating[:, :, ::1] bufs = bufs_arr
    scratch_arr = np.empty((max(n_threads, 1), _scratch_words(n_mod)), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    with nogil:
        for r in prange(d, schedule='static', num_threads=n_threads):
            t = threadid()
            if transform:
                for k in range(n_normal):
                    rpu_normal_row(&bufs[t, WM_BUF_NORMAL + k, 0], n_mod, &scratch[t, 0], seed,
                                   <uint64_t>r, op, RPU_RNG_MODIFIER_NOISE, <uint32_t>k)
                if sto_round:
                    rpu_uniform_row(&bufs[t, WM_BUF_SHIFT, 0], n_mod, &scratch[t, 0], seed,
                                    <uint64_t>r, op, RPU_RNG_MODIFIER_ROUND, 0)
                    for j in range(n_mod):
                        bufs[t, WM_BUF_SHIFT, j] = bufs[t, WM_BUF_SHIFT, j] - <floating>0.5
                if is_pcm:
                    for k in range(5):
                        if event_mask & (1 << k):
                            rpu_uniform_row(&bufs[t, WM_BUF_EVENTS + k, 0], n_mod, &scratch[t, 0],
                                            seed, <uint64_t>r, op, RPU_RNG_MODIFIER_PCM_EVENTS,
                                            <uint32_t>k)
                    for j in range(n_mod):
                        out[r, j] = rpu_wm_pcm(W[r, j], p, bufs[t, 0, j], bufs[t, 1, j],
                                               bufs[t, 2, j], bufs[t, 4, j], bufs[t, 5, j],
                                               bufs[t, 6, j], bufs[t, 7, j], bufs[t, 8, j])
                else:
                    for j in range(n_mod):
                        out[r, j] = rpu_wm_element(W[r, j], p, bufs[t, 0, j],
                                                   bufs[t, WM_BUF_SHIFT, j])
            else:
                for j in range(n_mod):
                    out[r, j] = W[r, j]
            if drop:
                rpu_uniform_row(&bufs[t, WM_BUF_DROP, 0], n_mod, &scratch[t, 0], seed,
                                <uint64_t>r, op, RPU_RNG_DROP_CONNECT, 0)
                for j in range(n_mod):
                    out[r, j] = rpu_wm_drop(out[r, j], bufs[t, WM_BUF_DROP, j], pdrop)
            for j in range(n_mod, n):
                out[r, j] = W[r, j]


# ---------------------------------------------------------------------------------------------
# Inference noise models: PCMLike, CustomDriftPCMLike, StateIndependent, ReRamWan2022, ReRamCMO,
# Hermes (per-element math in _kernels/pcm_noise.h and noise_models.h; validation, dispatch and
# the public API in rpu/inference/). Conductances in uS, times in s. Every draw is Philox of
# (seed, op, purpose, row, column) with the converter slice as `sub`, so results do not depend
# on n_threads. `out` must not alias an input (the normals are drawn into it first);
# rpu.inference allocates it. A model's own formulas are chosen per element by its code
# (NOISE_DRIFT_MODELS), so each pass below is one loop for every model.
# ---------------------------------------------------------------------------------------------

from rpu._kernels cimport (
    RPU_RNG_INF_PROG_NOISE, RPU_RNG_INF_DRIFT_NU, RPU_RNG_INF_READ_NOISE, RPU_RNG_INF_RELAXATION,
    rpu_pcm_prog_std, rpu_pcm_time_ratio, rpu_pcm_read_time_factor, rpu_nu_draw,
    rpu_noise_program, rpu_nu_moments_of, rpu_drift_nu_of, rpu_read_std_of,
    rpu_noise_drift_read, RPU_NOISE_DRIFT_STATE_INDEPENDENT, RPU_NOISE_DRIFT_HERMES,
    RPU_NOISE_DRIFT_RERAM_CMO, RPU_NOISE_DRIFT_PCM,
)


def pcm_prog_std(const floating[:, ::1] g_target,  # IN  (rows, cols) target conductances
                 floating[:, ::1] out,             # OUT (rows, cols) programming-noise std
                 const floating[::1] coeff,        # IN  (n_coeff,) polynomial coefficients
                 double g_max, double g_max_ref, int n_threads):
    """``out = (sum_k coeff[k] (g_target/g_max)^k) g_max/g_max_ref`` (deterministic)."""
    cdef Py_ssize_t r, j, n = g_target.shape[1]
    cdef int nc = coeff.shape[0]
    cdef floating gm = <floating>g_max, gref = <floating>g_max_ref
    if g_target.shape[0] == 0 or n == 0:
        return
    with nogil:
        for r in prange(g_target.shape[0], schedule='static', num_threads=n_threads):
            for j in range(n):
                out[r, j] = rpu_pcm_prog_std(g_target[r, j], &coeff[0], nc, gm, gref)


def noise_program(const floating[:, ::1] g_target,  # IN  (rows, cols) target conductances
                  floating[:, ::1] out,             # OUT (rows, cols) programmed conductances
                  const floating[::1] coeff,        # IN  (n_coeff,) polynomial coefficients
                  double g_norm, double g_ref, double scale, bint clip_zero,
                  uint64_t seed, uint64_t op, int purpose, uint32_t sub, int n_threads):
    """``out = g_target + scale * sigma * xi`` (clipped at 0 if ``clip_zero``), with
    ``sigma = (sum_k coeff[k] (g_target/g_norm)^k) g_norm/g_ref`` and ``xi`` of ``purpose``."""
    cdef Py_ssize_t r, j, n = g_target.shape[1]
    cdef int nc = coeff.shape[0]
    cdef floating gn = <floating>g_norm, gref = <floating>g_ref, sc = <floating>scale
    cdef floating g
    if g_target.shape[0] == 0 or n == 0:
        return
    scratch_arr = np.empty((max(n_threads, 1), _scratch_words(n)), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    with nogil:
        for r in prange(g_target.shape[0], schedule='static', num_threads=n_threads):
            rpu_normal_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op,
                           purpose, sub)
            for j in range(n):
                g = g_target[r, j]
                out[r, j] = rpu_noise_program(g, rpu_pcm_prog_std(g, &coeff[0], nc, gn, gref),
                                              sc, clip_zero, out[r, j])


def nu_draw(const floating[:, ::1] mu,     # IN  (rows, cols) mean of the drift exponent
            const floating[:, ::1] sigma,  # IN  (rows, cols) its std
            floating[:, ::1] out,          # OUT (rows, cols) drift exponents >= 0
            double drift_scale, uint64_t seed, uint64_t op, uint32_t sub, int n_threads):
    """``out = drift_scale |mu + sigma xi|`` (purpose INF_DRIFT_NU)."""
    cdef Py_ssize_t r, j, n = mu.shape[1]
    cdef floating ds = <floating>drift_scale
    if mu.shape[0] == 0 or n == 0:
        return
    scratch_arr = np.empty((max(n_threads, 1), _scratch_words(n)), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    with nogil:
        for r in prange(mu.shape[0], schedule='static', num_threads=n_threads):
            rpu_normal_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op,
                           RPU_RNG_INF_DRIFT_NU, sub)
            for j in range(n):
                out[r, j] = rpu_nu_draw(mu[r, j], sigma[r, j], ds, out[r, j])


def nu_moments(const floating[:, ::1] g_target,  # IN  (rows, cols) target conductances
               floating[:, ::1] mu,              # OUT (rows, cols) mean of the drift exponent
               floating[:, ::1] sigma,           # OUT (rows, cols) its std (before folding)
               int model, double g_max, int num_devices, int n_threads):
    """The conductance-dependent moments of the drift exponent (deterministic): ``model`` is
    ``NOISE_DRIFT_MODELS["pcm"]`` (PCMLike) or ``["hermes"]`` (Hermes, with ``num_devices``)."""
    cdef Py_ssize_t r, j, n = g_target.shape[1]
    cdef floating gm = <floating>g_max
    if g_target.shape[0] == 0 or n == 0:
        return
    with nogil:
        for r in prange(g_target.shape[0], schedule='static', num_threads=n_threads):
            for j in range(n):
                rpu_nu_moments_of(model, g_target[r, j], gm, num_devices, &mu[r, j], &sigma[r, j])


def drift_nu(const floating[:, ::1] g_target,  # IN  (rows, cols) target conductances
             floating[:, ::1] out,             # OUT (rows, cols) drift exponents nu >= 0
             int model, double g_max, int num_devices, double drift_scale,
             uint64_t seed, uint64_t op, uint32_t sub, int n_threads):
    """generate_drift_coefficients of PCMLike or Hermes (``model`` as in ``nu_moments``):
    ``drift_scale |mu(g) + sigma(g) xi|`` with xi of purpose INF_DRIFT_NU."""
    cdef Py_ssize_t r, j, n = g_target.shape[1]
    cdef floating gm = <floating>g_max, ds = <floating>drift_scale
    if g_target.shape[0] == 0 or n == 0:
        return
    scratch_arr = np.empty((max(n_threads, 1), _scratch_words(n)), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    with nogil:
        for r in prange(g_target.shape[0], schedule='static', num_threads=n_threads):
            rpu_normal_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op,
                           RPU_RNG_INF_DRIFT_NU, sub)
            for j in range(n):
                out[r, j] = rpu_drift_nu_of(model, g_target[r, j], gm, num_devices, ds, out[r, j])


def read_std(const floating[:, ::1] g_prog,  # IN  (rows, cols) programmed conductances
             floating[:, ::1] out,           # OUT (rows, cols) relative read-noise std
             int model, double g_max, int num_devices, double t_inference, double t_0,
             double t_read, int n_threads):
    """Read-noise std relative to the drifted conductance at ``t_inference`` (deterministic;
    times in seconds): PCMLike's ``Q_s tf`` or Hermes' (``model`` as in ``nu_moments``)."""
    cdef Py_ssize_t r, j, n = g_prog.shape[1]
    cdef floating gm = <floating>g_max
    cdef floating tf = <floating>rpu_pcm_read_time_factor[double](t_inference, t_0, t_read)
    if g_prog.shape[0] == 0 or n == 0:
        return
    with nogil:
        for r in prange(g_prog.shape[0], schedule='static', num_threads=n_threads):
            for j in range(n):
                out[r, j] = rpu_read_std_of(model, g_prog[r, j], gm, num_devices, tf)


#: The model codes of nu_moments, drift_nu, read_std and noise_drift (rpu_noise_drift_model in
#: noise_models.h).
NOISE_DRIFT_MODELS = {"state_independent": RPU_NOISE_DRIFT_STATE_INDEPENDENT,
                      "hermes": RPU_NOISE_DRIFT_HERMES, "reram_cmo": RPU_NOISE_DRIFT_RERAM_CMO,
                      "pcm": RPU_NOISE_DRIFT_PCM}


def noise_drift(const floating[:, ::1] g_prog,  # IN  (rows, cols) programmed conductances
                const floating[:, ::1] nu,      # IN  (rows, cols) drift exponents (ReRamCMO: unused)
                floating[:, ::1] out,           # OUT (rows, cols) conductances at t_inference
                int model, int num_devices, double t_inference, double t_0, double t_read,
                double read_noise_scale, double g_max, double mean_shift, double relax_std,
                double read_k, double g_min, uint64_t seed, uint64_t op, uint32_t sub,
                int n_threads):
    """apply_drift_noise_to_conductance of every noise model (``rpu_noise_drift_read``).

    ``model``: a ``rpu_noise_drift_model`` code (0 StateIndependent, 1 Hermes, 2 ReRamCMO, 3
    PCMLike). The time ratio ``(t_inference + t_0)/t_0`` and the read-noise time factor are
    scalars computed once in double, as aihwkit does from Python floats (ReRamCMO passes
    ``t_0 = 0``). Read normals: purpose INF_READ_NOISE, none drawn when ``read_noise_scale`` is 0
    (the result is then the pure drift); ReRamCMO also draws INF_RELAXATION normals."""
    cdef Py_ssize_t r, j, n = g_prog.shape[1]
    cdef floating par[8]
    par[0] = <floating>rpu_pcm_time_ratio[double](t_inference, t_0) if t_0 > 0 else 1
    par[1] = <floating>rpu_pcm_read_time_factor[double](t_inference, t_0, t_read)
    par[2] = <floating>read_noise_scale
    par[3] = <floating>g_max
    par[4] = <floating>mean_shift
    par[5] = <floating>relax_std
    par[6] = <floating>read_k
    par[7] = <floating>g_min
    cdef bint draw = read_noise_scale != 0
    cdef bint relax = model == RPU_NOISE_DRIFT_RERAM_CMO
    if g_prog.shape[0] == 0 or n == 0:
        return
    scratch_arr = np.empty((max(n_threads, 1), _scratch_words(n)), dtype=np.uint32)
    cdef uint32_t[:, ::1] scratch = scratch_arr
    relax_arr = np.zeros((g_prog.shape[0] if relax else 1, n), dtype=np.asarray(out).dtype)
    cdef floating[:, ::1] xi_relax = relax_arr
    with nogil:
        for r in prange(g_prog.shape[0], schedule='static', num_threads=n_threads):
            if relax:
                rpu_normal_row(&xi_relax[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r,
                               op, RPU_RNG_INF_RELAXATION, sub)
            if draw:
                rpu_normal_row(&out[r, 0], n, &scratch[threadid(), 0], seed, <uint64_t>r, op,
                               RPU_RNG_INF_READ_NOISE, sub)
            else:
                for j in range(n):
                    out[r, j] = 0
            for j in range(n):
                out[r, j] = rpu_noise_drift_read(model, num_devices, &par[0], g_prog[r, j],
                                                 nu[r, j], xi_relax[r if relax else 0, j],
                                                 out[r, j])


# OneSidedUnitCell and BufferedTransferCompound (per-element rules in _kernels/unit_cells.h and
# _kernels/transfer.h; the one-sided split of the pulsed update is `up["one_sided"]` above)
# ---------------------------------------------------------------------------------------------

from rpu._kernels cimport rpu_buffered_buffer_row, rpu_refresh_needed, rpu_running_max_series


def refresh_select(const floating[:, ::1] P,   # IN  (d, x) refresh reads of g+
                   const floating[:, ::1] M,   # IN  (d, x) refresh reads of g-
                   double wp, double wm,       # IN  |w_max| of g+ and of g-
                   double upper, double lower,
                   signed char[:, ::1] out,    # OUT (d, x) 1 where the element is refreshed
                   int n_threads):
    """Mark the elements a one-sided refresh re-writes (rpu_refresh_needed, unit_cells.h)."""
    cdef Py_ssize_t i, j, d = P.shape[0], x = P.shape[1]
    cdef floating wp_t = <floating>wp, wm_t = <floating>wm
    cdef floating up_t = <floating>upper, lo_t = <floating>lower
    if M.shape[0] != d or M.shape[1] != x or out.shape[0] != d or out.shape[1] != x:
        raise ValueError("refresh_select: P, M and out must have the same shape.")
    with nogil:
        for i in prange(d, schedule='static', num_threads=n_threads):
            for j in range(x):
                out[i, j] = <signed char>rpu_refresh_needed(P[i, j], M[i, j], wp_t, wm_t, up_t,
                                                            lo_t)


def buffered_buffer(const floating[:, ::1] reads,   # IN  (n_ev, d) transfer reads of A's columns
                    const int[::1] cols,            # IN  (n_ev,) column of each event
                    double lr,                      # IN  |transfer learning rate|
                    floating[:, ::1] H,             # IN/OUT (d, x) buffer, in weight units
                    double thres, int max_n, double momentum, int forget_buffer, int n_threads):
    """Advance the BufferedTransferCompound buffer over a batch's transfer events; returns the
    pulse counts (n_ev, d) int32, a transposed view (rpu_buffered_buffer_step, transfer.h;
    rpu_buffered_buffer_row)."""
    cdef Py_ssize_t n_ev = reads.shape[0], d = reads.shape[1], i
    counts_arr = np.zeros((d, n_ev), dtype=np.int32)
    cdef int[:, ::1] counts = counts_arr
    cdef floating mom = <floating>momentum, lr_t = <floating>lr, th = <floating>thres
    if n_ev == 0 or d == 0:
        return counts_arr.T
    with nogil:
        for i in prange(d, schedule='static', num_threads=n_threads):
            rpu_buffered_buffer_row(&H[i, 0], &cols[0], &reads[0, i], d, lr_t, th, n_ev, max_n,
                                    mom, forget_buffer, &counts[i, 0])
    return counts_arr.T


# ---------------------------------------------------------------------------------------------
# Update management (per-sample host arithmetic in _kernels/update_management.h; the rule, its
# validation and its documentation in rpu/tiles/update_management.py).
# ---------------------------------------------------------------------------------------------

from rpu._kernels cimport rpu_update_management, rpu_update_management_params


def update_management(const double[::1] x_abs_max,  # IN  (m,) max_j |x_j| per sample
                      const double[::1] d_abs_max,  # IN  (m,) max_i |d_i| per sample
                      const double[::1] lr,         # IN  (m,) learning rate per sample
                      double granularity, int desired_bl, bint fixed_bl,
                      bint update_bl_management, bint update_management, double um_grad_scale,
                      bint single_precision=False):
    """BL (int64), A and B (float64), each of shape (m,), of the samples of a pulsed update
    (rpu_update_management, update_management.h); ``single_precision`` for a float32 tile."""
    cdef Py_ssize_t m = x_abs_max.shape[0], b
    if d_abs_max.shape[0] != m or lr.shape[0] != m:
        raise ValueError(f"update_management: x_abs_max, d_abs_max and lr must have the same "
                         f"length, got {m}, {d_abs_max.shape[0]} and {lr.shape[0]}.")
    bl_arr = np.empty(m, dtype=np.int64)
    a_arr = np.empty(m, dtype=np.float64)
    b_arr = np.empty(m, dtype=np.float64)
    cdef int64_t[::1] bl = bl_arr
    cdef double[::1] a = a_arr
    cdef double[::1] bb = b_arr
    cdef rpu_update_management_params p
    p.granularity = granularity
    p.um_grad_scale = um_grad_scale
    p.desired_bl = desired_bl
    p.fixed_bl = fixed_bl
    p.update_bl_management = update_bl_management
    p.update_management = update_management
    p.single_precision = single_precision
    cdef long bl_b
    for b in range(m):
        rpu_update_management(lr[b], x_abs_max[b], d_abs_max[b], p, &bl_b, &a[b], &bb[b])
        bl[b] = bl_b
    return bl_arr, a_arr, b_arr


def running_max_series(double running,               # IN  the running value before the batch
                       const floating[::1] values,   # IN  (m,) the samples' maxima
                       double tau):                  # IN  weight of a new value
    """The running value after each sample, (m,) in the values' type (rpu_running_max_series,
    transfer.h): the auto-scaled learning rate of the chopped compounds. ``running`` and ``tau``
    are rounded to that type, and the recursion runs in it, as aihwkit's does in its tile's."""
    cdef Py_ssize_t m = values.shape[0]
    out_arr = np.empty(m, dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] out = out_arr
    if m:
        rpu_running_max_series(<floating>running, &values[0], m, <floating>tau, &out[0])
    return out_arr
