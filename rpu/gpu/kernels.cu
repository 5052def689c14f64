/* kernels.cu -- thin CUDA kernels around the per-element headers of rpu/_kernels/.
 *
 * This file is appended to the text of the headers (see rpu/gpu/_source.py), so it includes
 * nothing itself. Each kernel gives one thread one element and calls the same inline function
 * the CPU core calls, with the same Philox counters, so both backends draw the same numbers.
 * Kernel names and argument order match the CPU entry points of rpu/_core.pyx.
 */

/* out[r, c] = exact uniform of (seed, op, purpose, sub, row r, column c); out is (rows, cols). */
template <typename T>
__global__ void rpu_uniform_fill(T *out, long long rows, long long cols, rpu_uint64 seed,
                                 rpu_uint64 op, int purpose, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  out[idx] = rpu_uniform_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, purpose, sub);
}

/* out[r, c] = standard normal of (seed, op, purpose, sub, row r, column c). */
template <typename T>
__global__ void rpu_normal_fill(T *out, long long rows, long long cols, rpu_uint64 seed,
                                rpu_uint64 op, int purpose, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  out[idx] = rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, purpose, sub);
}

/* One pulse on every element (direction per element, noise sample per element): the device
 * rules of pulsed_devices.h, one thread per weight. hidden holds the per-element parameters
 * b_max, b_min, s_up, s_down, slope_up, slope_down, gamma_up, gamma_down, reference, each n long
 * (planes of one array); params the globals sigma, A_up, A_down, gamma_up, gamma_down, a, b,
 * std_add, std_slope; nodes_up/nodes_down the PiecewiseStep tables. */
template <typename T>
__global__ void rpu_device_pulse_elements(T *w, const int *down, const T *xi, long long n,
                                          const T *hidden, const T *params, int kind,
                                          int mult_noise, const T *nodes_up,
                                          const T *nodes_down, int n_nodes) {
  long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const T *p = hidden + j;
  T b_max = p[0], b_min = p[n], s_up = p[2 * n], s_down = p[3 * n];
  T v = w[j], x = xi[j];
  int d = down[j];
  switch (kind) {
    case RPU_DEVICE_LINEAR_STEP:
      v = rpu_pulse_linear_step<T>(v, d, s_up, s_down, p[4 * n], p[5 * n], params[0], x,
                                   mult_noise, b_min, b_max);
      break;
    case RPU_DEVICE_SOFT_BOUNDS_REFERENCE:
      v = rpu_pulse_soft_bounds_reference<T>(v, d, s_up, s_down, p[8 * n], params[0], x,
                                             mult_noise, b_min, b_max);
      break;
    case RPU_DEVICE_EXP_STEP:
      v = rpu_pulse_exp_step<T>(v, d, s_up, s_down, params[0], x, params[1], params[2], params[3],
                                params[4], params[5], params[6], params[7], params[8], b_min,
                                b_max);
      break;
    case RPU_DEVICE_POW_STEP:
    case RPU_DEVICE_POW_STEP_REFERENCE:
      v = rpu_pulse_pow_step<T>(v, d, s_up, s_down, p[6 * n], p[7 * n],
                                kind == RPU_DEVICE_POW_STEP_REFERENCE ? p[8 * n] : (T)0,
                                params[0], x, b_min, b_max);
      break;
    case RPU_DEVICE_PIECEWISE_STEP:
      v = rpu_pulse_piecewise_step<T>(v, d, s_up, s_down, params[0], x, nodes_up, nodes_down,
                                      n_nodes, b_min, b_max);
      break;
    default:
      v = rpu_pulse_constant_step<T>(v, d, s_up, s_down, params[0], x, b_min, b_max);
  }
  w[j] = v;
}

/* The dense pulse counts of one (x line, d line) pair of MEAN_COUNT / DETERMINISTIC_IMPLICIT. */
template <typename T>
__global__ void rpu_dense_counts(const T *x, const T *d, int *counts, long long n_x,
                                 long long n_d, T scale_x, T scale_d, T res, int bl,
                                 int mean_count) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_x * n_d) return;
  long long i = idx / n_x, j = idx % n_x;
  T px = rpu_quantize_probability<T>(scale_x * rpu_fabs(x[j]), res, (T)0);
  T pd = rpu_quantize_probability<T>(scale_d * rpu_fabs(d[i]), res, (T)0);
  T cx = mean_count ? rpu_mean_count<T>(x[j], px, bl) : rpu_implicit_fraction<T>(x[j], px);
  T cd = mean_count ? rpu_mean_count<T>(d[i], pd, bl) : rpu_implicit_fraction<T>(d[i], pd);
  counts[idx] = rpu_dense_coincidences<T>(cx, cd, bl, mean_count);
}

/* Weight modifier (weight_modifier.h): out = M(w) for a (d, n) weight matrix, one thread per
 * element, with the CPU core's draws (rpu._core.modify_weights): normals MODIFIER_NOISE sub k,
 * rounding uniforms MODIFIER_ROUND, PCM coins MODIFIER_PCM_EVENTS sub k, drop coins DROP_CONNECT,
 * all at (row, column). Columns >= n_mod are copied. coeffs is a device array of n_coeffs. */
template <typename T>
__global__ void rpu_modify_weights(const T *w, T *out, long long d, long long n, long long n_mod,
                                   int type, int transform, int n_normal, int sto_round,
                                   int event_mask, T pdrop, T amax, T res, T std_dev,
                                   T dorefa_clip, T g_max, const T *coeffs, int n_coeffs,
                                   T pcm_zero_thres, double pcm_t_inference, double pcm_t0,
                                   T pcm_prob_at_reset, T pcm_prob_at_gmax,
                                   T pcm_prob_at_random, rpu_uint64 seed, rpu_uint64 op) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= d * n) return;
  long long r = idx / n, c = idx % n;
  T v = w[idx];
  if (c < n_mod) {
    rpu_uint64 row = (rpu_uint64)r, col = (rpu_uint64)c;
    if (transform) {
      rpu_wm_params<T> p;
      p.type = type; p.amax = amax; p.res = res; p.std_dev = std_dev;
      p.dorefa_scale = rpu_wm_dorefa_scale<T>(dorefa_clip, amax);
      p.g_max = g_max; p.coeffs = coeffs; p.n_coeffs = n_coeffs;
      p.pcm_zero_thres = pcm_zero_thres; p.pcm_t0 = (T)pcm_t0;
      p.pcm_t = (T)(pcm_t_inference + pcm_t0);
      p.pcm_read_factor = (T)rpu_wm_pcm_read_factor(pcm_t_inference + pcm_t0);
      p.pcm_prob_at_reset = pcm_prob_at_reset; p.pcm_prob_at_gmax = pcm_prob_at_gmax;
      p.pcm_prob_at_random = pcm_prob_at_random;
      T xi[3] = {(T)0, (T)0, (T)0};
      for (int k = 0; k < n_normal; ++k)
        xi[k] = rpu_normal_at<T>(seed, col, row, op, RPU_RNG_MODIFIER_NOISE, (unsigned int)k);
      T shift = sto_round ? rpu_uniform_at<T>(seed, col, row, op, RPU_RNG_MODIFIER_ROUND, 0u) - (T)0.5
                          : (T)0;
      if (type == RPU_WM_PCM_NOISE) {
        T u[5] = {(T)0, (T)0, (T)0, (T)0, (T)0};
        for (int k = 0; k < 5; ++k)
          if (event_mask & (1 << k))
            u[k] = rpu_uniform_at<T>(seed, col, row, op, RPU_RNG_MODIFIER_PCM_EVENTS, (unsigned int)k);
        v = rpu_wm_pcm<T>(v, p, xi[0], xi[1], xi[2], u[0], u[1], u[2], u[3], u[4]);
      } else {
        v = rpu_wm_element<T>(v, p, xi[0], shift);
      }
    }
    if (pdrop > (T)0)
      v = rpu_wm_drop<T>(v, rpu_uniform_at<T>(seed, col, row, op, RPU_RNG_DROP_CONNECT, 0u), pdrop);
  }
  out[idx] = v;
}

/* Programming noise of the inference noise models (noise_models.h): out = g + scale sigma(g) xi,
 * sigma the polynomial of rpu_pcm_prog_std, xi the normal of (seed, op, purpose, sub, r, c). */
template <typename T>
__global__ void rpu_noise_program_elements(const T *g, T *out, long long rows, long long cols,
                                           const T *coeff, int n_coeff, T g_norm, T g_ref,
                                           T scale, int clip_zero, rpu_uint64 seed,
                                           rpu_uint64 op, int purpose, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  T xi = rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, purpose, sub);
  out[idx] = rpu_noise_program<T>(g[idx], rpu_pcm_prog_std<T>(g[idx], coeff, n_coeff, g_norm,
                                                              g_ref), scale, clip_zero, xi);
}

/* Drift and read noise of the inference noise models at t_inference, one thread per device:
 * rpu_noise_drift_read with the model and per-call scalars ``par`` (layout in noise_models.h),
 * the CPU core's draws (_core.noise_drift): read normals INF_READ_NOISE, and for ReRamCMO
 * relaxation normals INF_RELAXATION, at (row, column) on sub-stream ``sub``. */
template <typename T>
__global__ void rpu_noise_drift_elements(const T *g_prog, const T *nu, T *out, long long rows,
                                         long long cols, int model, int num_devices,
                                         const T *par, int draw_read, rpu_uint64 seed,
                                         rpu_uint64 op, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  T xi = draw_read ? rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op,
                                      RPU_RNG_INF_READ_NOISE, sub)
                   : (T)0;
  T xr = model == RPU_NOISE_DRIFT_RERAM_CMO
             ? rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, RPU_RNG_INF_RELAXATION, sub)
             : (T)0;
  out[idx] = rpu_noise_drift_read<T>(model, num_devices, par, g_prog[idx], nu[idx], xr, xi);
}


/* OneSidedUnitCell refresh: out[idx] = 1 where the element is re-written, from the reads p
 * (g+) and m (g-) of n elements (rpu_refresh_needed). */
template <typename T>
__global__ void rpu_refresh_select(const T *p, const T *m, signed char *out, long long n, T wp,
                                   T wm, T upper, T lower) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n) return;
  out[idx] = (signed char)rpu_refresh_needed<T>(p[idx], m[idx], wp, wm, upper, lower);
}

/* BufferedTransferCompound buffer: one thread per row i walks the n_ev events in order;
 * reads_t is (d, n_ev), H is (d, x), counts (d, n_ev) (rpu_buffered_buffer_step). */
template <typename T>
__global__ void rpu_buffered_buffer(const T *reads_t, const int *cols, T *H, int *counts,
                                    long long d, long long x, long long n_ev, T lr, T thres,
                                    int max_n, T momentum, int forget_buffer) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d) return;
  for (long long e = 0; e < n_ev; ++e)
    counts[i * n_ev + e] = rpu_buffered_buffer_step<T>(&H[i * x + cols[e]], reads_t[i * n_ev + e],
                                                       lr, thres, max_n, momentum, forget_buffer);
}

/* The share of n signed pulse counts one device of a one-sided pair receives (side +1: g+,
 * -1: g-; rpu_one_sided_count); T only names the instantiation. */
template <typename T>
__global__ void rpu_one_sided_counts(const int *counts, int *out, long long n, int side) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n) return;
  out[idx] = rpu_one_sided_count(counts[idx], side);
}

