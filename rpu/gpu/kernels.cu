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

/* DAC of a batch: u[k, j] = prepare(x[rows[k], j] * scale[k]) with the input noise and
 * stochastic-rounding draws of element (rows[k], j). */
template <typename T>
__global__ void rpu_dac_rows(const T *x, T *u, const long long *rows, const T *scale,
                             long long n_act, long long n_in, T step, T bound, T inp_noise,
                             int sto_round, T asymmetry, rpu_uint64 seed, rpu_uint64 op,
                             unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_act * n_in) return;
  long long k = idx / n_in, j = idx % n_in;
  rpu_uint64 row = (rpu_uint64)rows[k];
  T noise = 0, shift = 0;
  if (inp_noise > (T)0)
    noise = inp_noise * rpu_normal_at<T>(seed, (rpu_uint64)j, row, op, RPU_RNG_INP_NOISE, sub);
  if (sto_round)
    shift = rpu_uniform_at<T>(seed, (rpu_uint64)j, row, op, RPU_RNG_INP_STO_ROUND, sub) - (T)0.5;
  u[idx] = rpu_dac_prepare<T>(x[row * n_in + j], scale[k], step, bound, shift, noise, asymmetry);
}

/* ADC of a batch in place; overflow[k] collects the overflow bits of row k. */
template <typename T>
__global__ void rpu_adc_rows(T *v, const long long *rows, long long n_act, long long n_out,
                             const T *sigma_line, T out_noise, const T *nl_line, int nonlinear,
                             T nlf, T asymmetry, T step, int sto_round, T bound, int *overflow,
                             rpu_uint64 seed, rpu_uint64 op, unsigned int sub) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_act * n_out) return;
  long long k = idx / n_out, i = idx % n_out;
  rpu_uint64 row = (rpu_uint64)rows[k];
  T sigma = sigma_line ? sigma_line[i] : out_noise;
  T noise = 0, shift = 0;
  if (sigma_line || out_noise > (T)0)
    noise = sigma * rpu_normal_at<T>(seed, (rpu_uint64)i, row, op, RPU_RNG_OUT_NOISE, sub);
  if (sto_round)
    shift = rpu_uniform_at<T>(seed, (rpu_uint64)i, row, op, RPU_RNG_OUT_STO_ROUND, sub) - (T)0.5;
  int flags = 0;
  v[idx] = rpu_adc_finalize<T>(v[idx], nonlinear, nonlinear ? nl_line[i] : (T)0, nlf, asymmetry,
                               noise, step, shift, bound, &flags);
  if (flags) atomicOr(&overflow[k], flags);
}
