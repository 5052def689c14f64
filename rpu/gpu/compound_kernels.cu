/* compound_kernels.cu -- the buffers of the chopped transfer compounds on the GPU
 * (rpu/tiles/_compounds.py through CudaBackend.chopped_buffer / dynamic_buffer).
 *
 * The twins of rpu._core.chopped_buffer and dynamic_buffer: one thread per weight row walks the
 * batch's transfer events in order (an event may read the column an earlier one read, so the
 * events of a row are sequential), calling the per-element rules of transfer.h, as the CPU core
 * does. reads_t and chop_t are (d, n_ev), the buffers (d, x), counts (d, n_ev); lr_scale is
 * double as in the core and rounded to T per event.
 */

/* ChoppedTransferCompound (TTv2, c-TTv2): rpu_chopped_buffer_step per (row, event). */
template <typename T>
__global__ void rpu_chopped_buffer(const T *reads_t, const int *cols, const T *chop_t,
                                   const double *lr_scale, T *H, int *counts, long long d,
                                   long long x, long long n_ev, int max_n, T momentum,
                                   int forget_buffer, int no_buffer) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d) return;
  for (long long e = 0; e < n_ev; ++e)
    counts[i * n_ev + e] = rpu_chopped_buffer_step<T>(
        &H[i * x + cols[e]], reads_t[i * n_ev + e], chop_t[i * n_ev + e], (T)lr_scale[e], max_n,
        momentum, forget_buffer, no_buffer);
}

/* DynamicTransferCompound (AGAD): rpu_dynamic_buffer_step per (row, event), with the running
 * mean mu and the reference mu_past of the read element. */
template <typename T>
__global__ void rpu_dynamic_buffer(const T *reads_t, const int *cols, const T *chop_t,
                                   const double *lr_scale, const signed char *switched, T *H,
                                   T *mu, T *mu_past, int *counts, long long d, long long x,
                                   long long n_ev, int max_n, T momentum, int forget_buffer,
                                   T cap, T beta) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d) return;
  for (long long e = 0; e < n_ev; ++e) {
    long long k = i * x + cols[e];
    counts[i * n_ev + e] = rpu_dynamic_buffer_step<T>(
        &H[k], &mu[k], &mu_past[k], reads_t[i * n_ev + e], chop_t[i * n_ev + e],
        (T)lr_scale[e], (int)switched[e], max_n, momentum, forget_buffer, cap, beta);
  }
}
