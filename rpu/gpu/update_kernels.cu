/* update_kernels.cu -- the pulsed update's passes (rpu/gpu/update.py), the GPU twin of
 * rpu._core.pulsed_update.
 *
 * Three passes. rpu_update_trains turns the update inputs into pulse trains, one thread per
 * (line, sample); it draws the CPU core's words (rpu_pulse_trains of cpu_rows.h), so x and d
 * trains are the same bits. rpu_update_compact lists the x lines that fire in each sample (as the
 * CPU core does: with sparse trains most pairs have no coincidence to count). rpu_update_rows then
 * applies the pulses, one block per weight row, the samples in order; within a sample the threads
 * share the firing lines in contiguous chunks, count their pulses, and a block-wide scan gives
 * each thread the index of its first pulse in the sample, so that the k-th pulse of (row,
 * sample) takes the same cycle-to-cycle normal as on the CPU (normal k of Philox blocks (k / 4,
 * row, op, PULSE_NOISE | sample)). The weights therefore agree with the CPU core's up to the
 * last bits of the device rules' transcendental functions (exp, pow).
 */

/* Threads of one rpu_update_rows block at most (the size of its scan buffer). */
#define RPU_UPDATE_THREADS 128

RPU_HD int rpu_popcount64(rpu_uint64 v) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return __popcll(v);
#else
  return __builtin_popcountll(v);
#endif
}

/* The pulse trains of n_lines lines over m samples, one thread per (line e, sample b): line value
 * v[b, e] (v is (m, n_lines)) becomes p = Q(scales[b] |v|) (stochastic rounding with word 0 of
 * Philox (e, b, op, round_purpose)), and slot s < bls[b] fires when the exact uniform of word
 * s % 4 of Philox (e, b, op, train_purpose | s / 4) is below p. Outputs at o = b n_lines + e
 * (sample-major) or o = e m + b (line-major, line_major != 0): trains[o nw .. o nw + nw) (bit s
 * of word s / 64 = slot s; mode 0 only, else trains may be NULL), signs[o] (-1, 0, 1) and, for the
 * dense modes (1 MEAN_COUNT, 2 DETERMINISTIC_IMPLICIT), dense[o]: the signed count or fraction.
 * The same primitives in the same order as rpu_pulse_trains. */
template <typename T>
__global__ void rpu_update_trains(const T *v, const T *scales, const int *bls, long long n_lines,
                                  long long m, int line_major, T res, int sto_round, int nw,
                                  int mode, rpu_uint64 *trains, signed char *signs, T *dense,
                                  rpu_uint64 seed, rpu_uint64 op, int train_purpose,
                                  int round_purpose) {
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_lines * m) return;
  /* consecutive threads take consecutive elements of one sample: coalesced reads of v */
  const long long e = idx % n_lines, b = idx / n_lines;
  const long long o = line_major ? e * m + b : b * n_lines + e;
  const T val = v[b * n_lines + e];
  const int bl = bls[b];
  T p = scales[b] * rpu_fabs(val);
  signs[o] = (signed char)((val > (T)0) - (val < (T)0));
  rpu_uint32 ctr[4], key[2], r[4];
  rpu_rng_key(key, seed);
  T shift = (T)0;
  if (sto_round && res > (T)0) {
    rpu_rng_counter(ctr, (rpu_uint64)e, (rpu_uint64)b, op, round_purpose, 0u);
    rpu_philox4x32_10(ctr, key, r);
    shift = rpu_u01<T>(r[0]) - (T)0.5;
  }
  p = rpu_quantize_probability<T>(p, res, shift);
  if (mode != 0) {
    dense[o] = mode == 1 ? rpu_mean_count<T>(val, p, bl) : rpu_implicit_fraction<T>(val, p);
    return;
  }
  rpu_uint64 *t = trains + o * nw;
  for (int w = 0; w < nw; ++w) t[w] = 0;
  for (int q = 0; 4 * q < bl; ++q) {
    rpu_rng_counter(ctr, (rpu_uint64)e, (rpu_uint64)b, op, train_purpose, (rpu_uint32)q);
    rpu_philox4x32_10(ctr, key, r);
    for (int l = 0; l < 4 && 4 * q + l < bl; ++l) {
      const int slot = 4 * q + l;
      if (rpu_u01<T>(r[l]) < p) t[slot >> 6] |= (rpu_uint64)1 << (slot & 63);
    }
  }
}

/* Whether x line j fires in sample b: a slot in its train (mode 0), a dense value not 0. */
template <typename T>
RPU_HD int rpu_update_fires(long long j, long long b, long long x_size, int nw, int mode,
                            const rpu_uint64 *x_train, const T *x_dense) {
  if (mode != 0) return x_dense[b * x_size + j] != (T)0;
  rpu_uint64 any = 0;
  for (int w = 0; w < nw; ++w) any |= x_train[(b * x_size + j) * nw + w];
  return any != 0;
}

/* The signed pulse count of weight (i, j) in sample b (> 0: down pulses), as the CPU core's
 * rpu_update_row_kind counts it: popcount of the coinciding slots signed by sign(x) sign(d)
 * lr_sign, or the dense coincidences; then the one-sided share. sd = sign(d) lr_sign. */
template <typename T>
RPU_HD int rpu_update_count(long long j, long long b, long long x_size, int nw, int mode,
                            const rpu_uint64 *x_train, const signed char *x_sign,
                            const T *x_dense, const rpu_uint64 *db, int sd, T cd, int blb,
                            int one_sided) {
  int c;
  if (mode == 0) {
    const rpu_uint64 *xw = x_train + (b * x_size + j) * nw;
    int n = 0;
    for (int w = 0; w < nw; ++w) n += rpu_popcount64(xw[w] & db[w]);
    c = x_sign[b * x_size + j] * sd > 0 ? n : -n;
  } else {
    c = rpu_dense_coincidences<T>(x_dense[b * x_size + j], cd, blb, mode == 1);
  }
  return rpu_one_sided_count(c, one_sided);
}

/* Block-wide exclusive scan of one value per thread (Hillis-Steele on `scan`, blockDim.x <=
 * RPU_UPDATE_THREADS long): returns the sum over the threads before this one; *total gets the
 * block's sum. Every thread of the block must call it (it holds barriers). The first barrier
 * keeps this scan's writes after every read of a previous one. */
__device__ long long rpu_block_exclusive_scan(long long *scan, long long v, long long *total) {
  const long long nt = blockDim.x, t = threadIdx.x;
  __syncthreads();
  scan[t] = v;
  __syncthreads();
  for (long long s = 1; s < nt; s <<= 1) {
    const long long add = t >= s ? scan[t - s] : 0;
    __syncthreads();
    scan[t] += add;
    __syncthreads();
  }
  *total = scan[nt - 1];
  return scan[t] - v;
}

/* The x lines that fire in sample b (block b; at most RPU_UPDATE_THREADS threads), in
 * increasing column order: x_idx[b, 0 .. x_cnt[b]) (x_idx is (m, x_size)). A line fires when its
 * train has a slot (mode 0) or its dense value is not 0: the CPU core's rpu_compact_sample, so
 * that the rows visit only the candidate pairs. */
template <typename T>
__global__ void rpu_update_compact(const rpu_uint64 *x_train, const T *x_dense, int *x_idx,
                                   int *x_cnt, long long x_size, int nw, int mode) {
  __shared__ long long scan[RPU_UPDATE_THREADS];
  const long long b = blockIdx.x, nt = blockDim.x, t = threadIdx.x;
  const long long per = (x_size + nt - 1) / nt;
  const long long j0 = t * per < x_size ? t * per : x_size;
  const long long j1 = j0 + per < x_size ? j0 + per : x_size;
  long long n = 0;
  for (long long j = j0; j < j1; ++j) n += rpu_update_fires<T>(j, b, x_size, nw, mode, x_train, x_dense);
  long long total;
  long long at = rpu_block_exclusive_scan(scan, n, &total);
  int *idx = x_idx + b * x_size;
  for (long long j = j0; j < j1; ++j)
    if (rpu_update_fires<T>(j, b, x_size, nw, mode, x_train, x_dense)) idx[at++] = (int)j;
  if (t == 0) x_cnt[b] = (int)total;
}

/* One weight row (block), for the device family KIND: see rpu_update_rows. */
template <typename T, int KIND>
__device__ void rpu_update_row_block(T *st, T *vis, int write, long long i, long long d_size,
                                     long long x_size, long long m, int nw, int mode,
                                     const int *x_cnt, const int *x_idx,
                                     const rpu_uint64 *x_train, const signed char *x_sign,
                                     const T *x_dense, const rpu_uint64 *d_train,
                                     const signed char *d_sign, const T *d_dense, const int *bl,
                                     int lr_sign, int one_sided, const rpu_device_globals<T> &g,
                                     const rpu_device_row<T> &h, T write_noise, int needs_noise,
                                     unsigned char *fl, rpu_uint64 noise_seed, rpu_uint64 op,
                                     const int *record_at, int n_record, int record_rows,
                                     T *record_out, long long *scan) {
  const long long nt = blockDim.x, t = threadIdx.x;
  /* this thread's columns [c0, c1) for the flags and the write noise */
  const long long per_col = (x_size + nt - 1) / nt;
  const long long c0 = t * per_col < x_size ? t * per_col : x_size;
  const long long c1 = c0 + per_col < x_size ? c0 + per_col : x_size;
  if (write)
    for (long long j = c0; j < c1; ++j) fl[j] = 0;
  /* (the flags are set by whichever thread pulses a column: the first scan's barrier orders
   * them after the clearing) */
  for (long long b = 0; b < m; ++b) {
    const rpu_uint64 *db = d_train + (i * m + b) * nw;
    const int blb = bl[b];
    int sd = 0, active;
    T cd = (T)0;
    if (mode == 0) {
      rpu_uint64 any = 0;
      for (int w = 0; w < nw; ++w) any |= db[w];
      active = any != 0;
      sd = d_sign[i * m + b] * lr_sign;
    } else {
      cd = d_dense[i * m + b];
      active = cd != (T)0 && blb > 0;
    }
    /* `active` is the same in every thread of the block: all reach the barriers or none */
    if (active) {
      /* this thread's share [u0, u1) of the sample's firing x lines: contiguous, so its pulses
       * are contiguous in the order k of the sample's pulses (increasing column) */
      const long long cnt = x_cnt[b];
      const int *idx = x_idx + b * x_size;
      const long long per = (cnt + nt - 1) / nt;
      const long long u0 = t * per < cnt ? t * per : cnt;
      const long long u1 = u0 + per < cnt ? u0 + per : cnt;
      long long mine = 0, total;
      for (long long u = u0; u < u1; ++u) {
        const int c = rpu_update_count<T>(idx[u], b, x_size, nw, mode, x_train, x_sign, x_dense,
                                          db, sd, cd, blb, one_sided);
        mine += c < 0 ? -c : c;
      }
      long long k = rpu_block_exclusive_scan(scan, mine, &total);  /* first pulse of mine */
      long long block = -1;
      T z[4] = {(T)0, (T)0, (T)0, (T)0};
      for (long long u = u0; u < u1; ++u) {
        const long long j = idx[u];
        const int c = rpu_update_count<T>(j, b, x_size, nw, mode, x_train, x_sign, x_dense, db,
                                          sd, cd, blb, one_sided);
        if (c == 0) continue;
        const int n = c < 0 ? -c : c, down = c > 0;
        T w = st[j];
        for (int p = 0; p < n; ++p, ++k) {
          T xi = (T)0;
          if (needs_noise) {
            if ((k >> 2) != block) {
              block = k >> 2;
              rpu_normal4<T>(noise_seed, (rpu_uint64)block, (rpu_uint64)i, op,
                             RPU_RNG_PULSE_NOISE, (rpu_uint32)b, z);
            }
            xi = z[k & 3];
          }
          w = rpu_device_pulse<T, KIND>(g, h, (long)j, w, down, xi);
        }
        st[j] = w;
        if (write) fl[j] = 1;
      }
    }
    /* what a transfer reads after this sample (rpu_record_sample, cpu_rows.h): a column's
     * element in this row, or this whole row, each thread its columns [c0, c1). A column's
     * owner changes from sample to sample: read after a barrier; the next sample's writes come
     * after its scan's. */
    if (record_at != 0) {
      __syncthreads();
      for (int r = 0; r < n_record; ++r) {
        const long long at = record_at[b * n_record + r];
        T *out = record_out + (b * n_record + r) * (record_rows ? x_size : d_size);
        if (!record_rows) {
          if (t == 0 && at >= 0) out[i] = st[at];
        } else if (at == i) {
          for (long long j = c0; j < c1; ++j) out[j] = st[j];
        }
      }
    }
  }
  if (write) {
    __syncthreads();  /* flags and weights of other threads' pulses */
    for (long long j = c0; j < c1; ++j)
      if (fl[j])
        vis[j] = st[j] + write_noise * rpu_normal_at<T>(noise_seed, (rpu_uint64)j, (rpu_uint64)i,
                                                        op, RPU_RNG_WRITE_NOISE, 0u);
  }
}

/* The pulses of a batch, one block per weight row i (grid = d_size, at most RPU_UPDATE_THREADS
 * threads), samples in order: rpu_update_row_kind of cpu_rows.h. stored/visible/flags are
 * (d_size, x_size); write != 0 when visible is not stored (write-noise devices: visible = stored
 * + write_noise xi, xi the normal WRITE_NOISE at (j, i), for every weight pulsed in the batch;
 * flags is scratch then). hidden is (n_par, d_size, x_size) with the planes hidden_idx[0..8] of
 * b_max, b_min, s_up, s_down, slope_up, slope_down, gamma_up, gamma_down, reference (-1:
 * absent); params the globals sigma, A_up, A_down, gamma_up, gamma_down, a, b, std_add,
 * std_slope. x trains (m, x_size, nw), x signs / dense (m, x_size), the firing x lines x_cnt /
 * x_idx (rpu_update_compact); d trains (d_size, m, nw),
 * d signs / dense (d_size, m) (rpu_update_trains). record_at (m, n_record), or NULL: what a
 * transfer reads after sample b (-1: none). Columns (record_rows == 0): record_out
 * (m n_record, d_size), record_out[b n_record + r, i] = stored[i, record_at[b, r]]; rows:
 * record_out (m n_record, x_size), record_out[b n_record + r] = stored[record_at[b, r]]. */
template <typename T>
__global__ void rpu_update_rows(T *stored, T *visible, int write, const T *hidden,
                                const int *hidden_idx, long long d_size, long long x_size,
                                long long m, int nw, int mode, const int *x_cnt,
                                const int *x_idx, const rpu_uint64 *x_train,
                                const signed char *x_sign, const T *x_dense,
                                const rpu_uint64 *d_train, const signed char *d_sign,
                                const T *d_dense, const int *bl, int lr_sign, int one_sided,
                                int kind, int mult_noise, const T *params, const T *nodes_up,
                                const T *nodes_down, int n_nodes, T write_noise, int needs_noise,
                                unsigned char *flags, rpu_uint64 noise_seed, rpu_uint64 op,
                                const int *record_at, int n_record, int record_rows,
                                T *record_out) {
  __shared__ long long scan[RPU_UPDATE_THREADS];
  const long long i = blockIdx.x;
  rpu_device_globals<T> g;
  g.kind = kind; g.mult_noise = mult_noise; g.n_nodes = n_nodes;
  g.sigma = params[0]; g.A_up = params[1]; g.A_down = params[2]; g.gamma_up = params[3];
  g.gamma_down = params[4]; g.a = params[5]; g.b = params[6]; g.std_add = params[7];
  g.std_slope = params[8];
  g.nodes_up = nodes_up; g.nodes_down = nodes_down;
  const long long plane = d_size * x_size, off = i * x_size;
  const T *hp[9];
  for (int q = 0; q < 9; ++q) hp[q] = hidden_idx[q] >= 0 ? hidden + hidden_idx[q] * plane + off : 0;
  rpu_device_row<T> h = {hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], hp[7], hp[8]};
  T *st = stored + off, *vis = visible + off;
  unsigned char *fl = write ? flags + off : 0;
#define RPU_UPDATE_ROWS_CASE(K)                                                                  \
  case K:                                                                                        \
    rpu_update_row_block<T, K>(st, vis, write, i, d_size, x_size, m, nw, mode, x_cnt, x_idx,     \
                               x_train, x_sign, x_dense, d_train, d_sign, d_dense, bl, lr_sign,  \
                               one_sided, g, h, write_noise, needs_noise, fl, noise_seed, op,    \
                               record_at, n_record, record_rows, record_out, scan);              \
    break;
  switch (kind) {
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_LINEAR_STEP)
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_SOFT_BOUNDS_REFERENCE)
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_EXP_STEP)
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_POW_STEP)
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_POW_STEP_REFERENCE)
    RPU_UPDATE_ROWS_CASE(RPU_DEVICE_PIECEWISE_STEP)
    default:
      rpu_update_row_block<T, RPU_DEVICE_CONSTANT_STEP>(
          st, vis, write, i, d_size, x_size, m, nw, mode, x_cnt, x_idx, x_train, x_sign, x_dense,
          d_train, d_sign, d_dense, bl, lr_sign, one_sided, g, h, write_noise, needs_noise, fl,
          noise_seed, op, record_at, n_record, record_rows, record_out, scan);
  }
#undef RPU_UPDATE_ROWS_CASE
}
