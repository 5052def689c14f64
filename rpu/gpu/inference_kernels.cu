/* inference_kernels.cu -- the inference noise models' remaining passes on the GPU.
 *
 * Appended to the headers' text (rpu/gpu/_source.py). The programming noise, the drift and
 * read noise and the weight modifier already have kernels in kernels.cu; these are the other
 * entry points of the CPU core's inference section (rpu/_core.pyx: pcm_prog_std, nu_moments,
 * drift_nu, nu_draw, read_std, and the per-call scalars of noise_drift), one thread per
 * element, calling the same functions of pcm_noise.h / noise_models.h with the same Philox
 * counters (purpose, sub-stream, row, column), so both backends draw the same numbers.
 */

/* Std of the programming noise of every device: rpu_pcm_prog_std(g, coeff, g_norm, g_ref). */
template <typename T>
__global__ void rpu_prog_std_elements(const T *g, T *out, long long n, const T *coeff,
                                      int n_coeff, T g_norm, T g_ref) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n) return;
  out[idx] = rpu_pcm_prog_std<T>(g[idx], coeff, n_coeff, g_norm, g_ref);
}

/* Moments of the drift exponent from the target conductance: rpu_nu_moments_of (model: a code
 * of rpu_noise_drift_model, PCM or HERMES). */
template <typename T>
__global__ void rpu_nu_moments_elements(const T *g, T *mu, T *sigma, long long n, int model,
                                        T g_max, int num_devices) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n) return;
  rpu_nu_moments_of<T>(model, g[idx], g_max, num_devices, &mu[idx], &sigma[idx]);
}

/* Drift exponents of PCMLike or Hermes (rpu_drift_nu_of) with xi the normal of (seed, op,
 * INF_DRIFT_NU, sub, row, column). */
template <typename T>
__global__ void rpu_drift_nu_elements(const T *g, T *out, long long rows, long long cols,
                                      int model, T g_max, int num_devices, T drift_scale,
                                      rpu_uint64 seed, rpu_uint64 op, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  T xi = rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, RPU_RNG_INF_DRIFT_NU, sub);
  out[idx] = rpu_drift_nu_of<T>(model, g[idx], g_max, num_devices, drift_scale, xi);
}

/* Drift exponents drift_scale |mu + sigma xi| from per-element moments (CustomDriftPCMLike's
 * table, StateIndependent's constants), xi as above. */
template <typename T>
__global__ void rpu_nu_draw_elements(const T *mu, const T *sigma, T *out, long long rows,
                                     long long cols, T drift_scale, rpu_uint64 seed,
                                     rpu_uint64 op, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * cols) return;
  long long r = idx / cols, c = idx % cols;
  T xi = rpu_normal_at<T>(seed, (rpu_uint64)c, (rpu_uint64)r, op, RPU_RNG_INF_DRIFT_NU, sub);
  out[idx] = rpu_nu_draw<T>(mu[idx], sigma[idx], drift_scale, xi);
}

/* Relative read-noise std of programmed conductances (rpu_read_std_of). The time factor is
 * formed in double from the times in seconds and rounded to T, as the CPU core does once per
 * call. */
template <typename T>
__global__ void rpu_read_std_elements(const T *g, T *out, long long n, int model, T g_max,
                                      int num_devices, double t_inference, double t_0,
                                      double t_read) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n) return;
  const T tf = (T)rpu_pcm_read_time_factor<double>(t_inference, t_0, t_read);
  out[idx] = rpu_read_std_of<T>(model, g[idx], g_max, num_devices, tf);
}

/* The 8 per-call scalars ``par`` of rpu_noise_drift_read (layout in noise_models.h), formed in
 * double and rounded to T exactly as the CPU core's noise_drift does; one thread. */
template <typename T>
__global__ void rpu_noise_drift_params(T *par, double t_inference, double t_0, double t_read,
                                       double read_noise_scale, double g_max, double mean_shift,
                                       double relax_std, double read_k, double g_min) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  par[0] = t_0 > 0 ? (T)rpu_pcm_time_ratio<double>(t_inference, t_0) : (T)1;
  par[1] = (T)rpu_pcm_read_time_factor<double>(t_inference, t_0, t_read);
  par[2] = (T)read_noise_scale;
  par[3] = (T)g_max;
  par[4] = (T)mean_shift;
  par[5] = (T)relax_std;
  par[6] = (T)read_k;
  par[7] = (T)g_min;
}
