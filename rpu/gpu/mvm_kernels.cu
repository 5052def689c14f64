/* mvm_kernels.cu -- the per-element passes of the analog MVM on the GPU (used by rpu/gpu/mvm.py).
 *
 * The crossbar sums are cuBLAS GEMMs issued from Python; these kernels are everything around
 * them, in the order of rpu._core.analog_mvm: noise-management factor and DAC of each input
 * vector (one block per vector), the running AverageAbsMax value (one thread: it is sequential
 * by nature), the line non-idealities of each output vector (one block per vector), and the ADC
 * with the digital rescale and the overflow bits of bound management (one thread per element).
 * Every draw is the CPU core's: Philox of (seed, op, purpose, sub, batch row, element), so the
 * two backends see the same random numbers. `rows` maps the k-th active vector to its row of
 * the batch (bound management repeats only some rows); NULL means row k.
 *
 * Codes (nm_type, w_noise_type) are those of rpu/tiles/_periphery.py and rpu/_core.pyx.
 */

/* Threads of the one-block-per-row kernels: a power of two, the size of their shared arrays. */
#define RPU_MVM_ROW_THREADS 256

/* Noise-management codes (rpu/_core.pyx) */
#define RPU_MVM_NM_NONE 0
#define RPU_MVM_NM_ABS_MAX 1
#define RPU_MVM_NM_MAX 2
#define RPU_MVM_NM_CONSTANT 3
#define RPU_MVM_NM_AVERAGE_ABS_MAX 4
#define RPU_MVM_NM_ABS_MAX_NP_SUM 5
#define RPU_MVM_W_NOISE_ADDITIVE_CONSTANT 1
#define RPU_MVM_W_NOISE_PCM_READ 2

/* Noise-management factor and DAC of active input vector k = blockIdx.x (row = rows[k]).
 *
 * nm_compute != 0: first the factor of that type is computed from x's row and stored in
 * nu[row] (double; AverageAbsMax computes the row's abs max, which the running kernel then
 * averages). Max and abs max are block reductions (exact, so any order gives the CPU's value);
 * AbsMaxNPSum sums in element order on one thread (rpu_nm_abs_max_np_sum, as the CPU does).
 * nm_compute == 0: nu[row] is read (nu NULL: 1).
 * Then scale[k] = 1 / nu (when nm_on and nu > 0) / rho (when bm_on), in double and rounded to
 * T, as the core does; and with do_dac, u[k, :] = DAC of x[row, :] * scale[k] with the input
 * noise (INP_NOISE) and stochastic-rounding (INP_STO_ROUND) draws of sub-stream `sub`.
 * Launch: grid (n_act), block (RPU_MVM_ROW_THREADS) (or a smaller power of two). */
template <typename T>
__global__ void rpu_mvm_nm_dac(const T *x, T *u, const long long *rows, long long n_in,
                               double *nu, int nm_compute, double nm_thres, double out_bound,
                               double assumed_wmax, double inp_step, double max_bm_res,
                               int nm_on, int bm_on, double rho, T *scale, int do_dac, T step,
                               T bound, T inp_noise, int sto_round, T asymmetry,
                               rpu_uint64 seed, rpu_uint64 op, unsigned int sub) {
  __shared__ T red[RPU_MVM_ROW_THREADS];
  __shared__ double nu_row;
  const long long k = (long long)blockIdx.x;
  const long long row = rows ? rows[k] : k;
  const T *xr = x + row * n_in;
  const int t = (int)threadIdx.x, nt = (int)blockDim.x;
  const int reduce = nm_compute == RPU_MVM_NM_ABS_MAX || nm_compute == RPU_MVM_NM_MAX ||
                     nm_compute == RPU_MVM_NM_AVERAGE_ABS_MAX;
  if (reduce) {
    /* max_j |x_j| (ties and NaNs handled as rpu_abs_max_row: NaN never wins a comparison),
     * or max_j x_j starting from -inf (the core's NM_MAX loop) */
    const int signed_max = nm_compute == RPU_MVM_NM_MAX;
    T m = signed_max ? (T)rpu_bits_float(0xFF800000u) : (T)0;
    for (long long j = t; j < n_in; j += nt) {
      const T a = signed_max ? xr[j] : rpu_fabs(xr[j]);
      m = a > m ? a : m;
    }
    red[t] = m;
  }
  __syncthreads();
  for (int s = nt / 2; s > 0; s >>= 1) {
    if (reduce && t < s) red[t] = red[t + s] > red[t] ? red[t + s] : red[t];
    __syncthreads();
  }
  if (t == 0) {
    double f;
    if (reduce) {
      f = rpu_nm_cap(n_in > 0 ? (double)red[0] : 0.0, nm_thres,
                     nm_compute == RPU_MVM_NM_AVERAGE_ABS_MAX);
    } else if (nm_compute == RPU_MVM_NM_CONSTANT) {
      f = nm_thres > 0 ? nm_thres : 1.0;
    } else if (nm_compute == RPU_MVM_NM_ABS_MAX_NP_SUM) {
      f = rpu_nm_abs_max_np_sum<T>(xr, n_in, nm_thres, out_bound, assumed_wmax, inp_step,
                                   max_bm_res);
    } else {
      f = nu ? nu[row] : 1.0;
    }
    if (nm_compute != RPU_MVM_NM_NONE) nu[row] = f;
    nu_row = f;
  }
  __syncthreads();
  double s = 1.0;
  if (nm_on && nu_row > 0) s = s / nu_row;
  if (bm_on) s = s / rho;
  const T sc = (T)s;
  if (t == 0 && scale) scale[k] = sc;
  if (!do_dac) return;
  for (long long j = t; j < n_in; j += nt) {
    T noise = 0, shift = 0;
    if (inp_noise > (T)0)
      noise = inp_noise * rpu_normal_at<T>(seed, (rpu_uint64)j, (rpu_uint64)row, op,
                                           RPU_RNG_INP_NOISE, sub);
    if (sto_round)
      shift = rpu_uniform_at<T>(seed, (rpu_uint64)j, (rpu_uint64)row, op, RPU_RNG_INP_STO_ROUND,
                                sub) - (T)0.5;
    u[k * n_in + j] = rpu_dac_prepare<T>(xr[j], sc, step, bound, shift, noise, asymmetry);
  }
}

/* AverageAbsMax: nu[k] becomes the running average over the batch in order (state[0] the
 * running value, state[1] != 0 once it is initialised; both updated). One thread. */
template <typename T>
__global__ void rpu_mvm_nm_running(double *nu, long long n, double *state, double decay) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double a = state[0];
  for (long long k = 0; k < n; ++k) {
    if (state[1] == 0) {
      a = nu[k];
      state[1] = 1;
    } else {
      a = (1.0 - decay) * a + decay * nu[k];
    }
    nu[k] = a;
  }
  state[0] = a;
}

/* Line non-idealities of active output vector k = blockIdx.x, in place on v[k, :] (n_out),
 * from its DAC output u[k, :] (n_in): IR drop (ir_abs, ir_weighted: the (n_act, n_out) sums
 * of |u||W| and of the position-weighted u W), voltage offsets / series resistance (v_offset
 * (n_out); y_ref = -v_offset_w_min * sum_j u_j), and weight read noise (W_NOISE on the last
 * pass, W_NOISE_NEG_PASS on the negative pass of the POS_NEG modes: `purpose`) with
 * sigma = w_noise |u|_2 (additive) or w_noise sqrt(pcm_read[k, i]) (PCM read). The row sums
 * run on one thread in element order, as in the core.
 * Launch: grid (n_act), block (RPU_MVM_ROW_THREADS). */
template <typename T>
__global__ void rpu_mvm_line_effects(T *v, const T *u, const long long *rows, long long n_out,
                                     long long n_in, int ir_on, T ir_drop, T g_ratio,
                                     const T *ir_abs, const T *ir_weighted, int v_offset_on,
                                     const T *v_offset, T rs, T r_max, int use_ref,
                                     T neg_w_min, int w_noise_type, T w_noise,
                                     const T *pcm_read, rpu_uint64 seed, rpu_uint64 op,
                                     unsigned int sub, int purpose) {
  __shared__ T sums[2];
  const long long k = (long long)blockIdx.x;
  const long long row = rows ? rows[k] : k;
  const int t = (int)threadIdx.x, nt = (int)blockDim.x;
  const T *ur = u + k * n_in;
  if (t == 0) {
    T y_ref = 0, norm_u = 0;
    if (v_offset_on && use_ref) {
      for (long long j = 0; j < n_in; ++j) y_ref += ur[j];
      y_ref = neg_w_min * y_ref;
    }
    if (w_noise_type == RPU_MVM_W_NOISE_ADDITIVE_CONSTANT) {
      for (long long j = 0; j < n_in; ++j) norm_u += ur[j] * ur[j];
      norm_u = rpu_sqrt(norm_u);
    }
    sums[0] = y_ref;
    sums[1] = norm_u;
  }
  __syncthreads();
  const T y_ref = sums[0], norm_u = sums[1];
  const T n_in_f = (T)n_in;
  for (long long i = t; i < n_out; i += nt) {
    const long long e = k * n_out + i;
    T val = v[e];
    if (ir_on) {
      const T c = rpu_ir_drop_factor<T>(ir_abs[e], n_in_f, g_ratio);
      val -= c * ir_drop * ir_weighted[e];
    }
    if (v_offset_on) val = rpu_v_offset<T>(val, v_offset[i], rs, r_max, use_ref, y_ref);
    if (w_noise_type != 0) {
      const T sigma = w_noise_type == RPU_MVM_W_NOISE_ADDITIVE_CONSTANT
                          ? w_noise * norm_u
                          : w_noise * rpu_sqrt(pcm_read[e]);
      val += sigma * rpu_normal_at<T>(seed, (rpu_uint64)i, (rpu_uint64)row, op, purpose, sub);
    }
    v[e] = val;
  }
}

/* ADC of the active output vectors in place, then the digital rescale by out_scale / scale[k]:
 * v[k, i] = rpu_adc_finalize(...) * factor, with the output noise (sigma_line[i] when given,
 * else out_noise; OUT_NOISE) and stochastic rounding (OUT_STO_ROUND) draws of sub-stream
 * `sub`; overflow[k] |= the overflow bits (1: above, 2: below the bound; zero it before).
 * One thread per element: grid covers n_act * n_out. */
template <typename T>
__global__ void rpu_mvm_adc(T *v, const long long *rows, long long n_act, long long n_out,
                            const T *sigma_line, T out_noise, const T *nl_line, int nonlinear,
                            T nlf, T asymmetry, T step, int sto_round, T bound, T out_scale,
                            const T *scale, int *overflow, rpu_uint64 seed, rpu_uint64 op,
                            unsigned int sub) {
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_act * n_out) return;
  const long long k = idx / n_out, i = idx % n_out;
  const rpu_uint64 row = (rpu_uint64)(rows ? rows[k] : k);
  T noise = 0, shift = 0;
  if (sigma_line || out_noise > (T)0)
    noise = (sigma_line ? sigma_line[i] : out_noise) *
            rpu_normal_at<T>(seed, (rpu_uint64)i, row, op, RPU_RNG_OUT_NOISE, sub);
  if (sto_round)
    shift = rpu_uniform_at<T>(seed, (rpu_uint64)i, row, op, RPU_RNG_OUT_STO_ROUND, sub) - (T)0.5;
  const T factor = out_scale / scale[k];
  int flags = 0;
  v[idx] = rpu_adc_finalize<T>(v[idx], nonlinear, nonlinear ? nl_line[i] : (T)0, nlf, asymmetry,
                               noise, step, shift, bound, &flags) * factor;
  if (flags) atomicOr(&overflow[k], flags);
}
