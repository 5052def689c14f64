/* cpu_rows.h -- the CPU core's vector loops over one row: random rows and the fused periphery.
 *
 * Host-only (not part of the GPU module, whose threads take one element each). The per-element
 * math comes from the shared headers; these loops only arrange it so that GCC vectorises it:
 * first all Philox blocks of a row into a scratch buffer, then the transforms on that buffer,
 * both branch-free. On x86-64 with GCC, each loop is compiled for several instruction sets
 * (target_clones: baseline, x86-64-v2 with POPCNT, v3 with AVX2, v4 with AVX-512) and the best
 * one for the running CPU is picked at load time. Every operation
 * is a correctly rounded IEEE operation without contraction (-ffp-contract=off), so all clones
 * give the same bits as the scalar per-element functions.
 */
#ifndef RPU_CPU_ROWS_H
#define RPU_CPU_ROWS_H

#include "rpu_common.h"
#include "philox.h"
#include "mvm_io.h"
#include "pulse_trains.h"
#include "pulsed_devices.h"
#include "rng_ids.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(RPU_NO_SIMD_CLONES)
#define RPU_SIMD_CLONES \
  __attribute__((target_clones("default", "arch=x86-64-v2", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define RPU_SIMD_CLONES
#endif

/* scratch[4 b + l] = word l of the Philox block b of a row, for b < n_blocks. */
RPU_SIMD_CLONES
static void rpu_philox_row(rpu_uint32 *__restrict scratch, long n_blocks, rpu_uint64 seed,
                           rpu_uint64 row, rpu_uint64 op, int purpose, rpu_uint32 sub) {
  const rpu_uint32 k0_init = (rpu_uint32)seed, k1_init = (rpu_uint32)(seed >> 32);
  const rpu_uint32 c1_init = (rpu_uint32)row, c2_init = (rpu_uint32)op;
  const rpu_uint32 c3_init = ((rpu_uint32)purpose << 24) | (sub & 0xFFFFFFu);
  for (long b = 0; b < n_blocks; ++b) {
    rpu_uint32 c0 = (rpu_uint32)b, c1 = c1_init, c2 = c2_init, c3 = c3_init;
    rpu_uint32 k0 = k0_init, k1 = k1_init;
#pragma GCC unroll 10
    for (int round = 0; round < 10; ++round) {
      rpu_uint64 p0 = (rpu_uint64)RPU_PHILOX_M0 * c0;
      rpu_uint64 p1 = (rpu_uint64)RPU_PHILOX_M1 * c2;
      rpu_uint32 n0 = (rpu_uint32)(p1 >> 32) ^ c1 ^ k0;
      rpu_uint32 n2 = (rpu_uint32)(p0 >> 32) ^ c3 ^ k1;
      c1 = (rpu_uint32)p1;
      c3 = (rpu_uint32)p0;
      c0 = n0;
      c2 = n2;
      k0 += RPU_PHILOX_W0;
      k1 += RPU_PHILOX_W1;
    }
    scratch[4 * b] = c0;
    scratch[4 * b + 1] = c1;
    scratch[4 * b + 2] = c2;
    scratch[4 * b + 3] = c3;
  }
}

/* In place: the raw words of scratch (4 * n_blocks) become float normals (as bits). */
RPU_SIMD_CLONES
static void rpu_box_muller_row(rpu_uint32 *__restrict scratch, long n_blocks) {
  for (long p = 0; p < 2 * n_blocks; ++p) {
    float z0, z1;
    rpu_box_muller(scratch[2 * p], scratch[2 * p + 1], &z0, &z1);
    scratch[2 * p] = rpu_float_bits(z0);
    scratch[2 * p + 1] = rpu_float_bits(z1);
  }
}

/* out[j] = normal of element j of the row, j < n; scratch holds 4 * ceil(n / 4) words. */
template <typename T>
static inline void rpu_normal_row(T *__restrict out, long n, rpu_uint32 *__restrict scratch,
                                  rpu_uint64 seed, rpu_uint64 row, rpu_uint64 op, int purpose,
                                  rpu_uint32 sub) {
  long n_blocks = (n + 3) >> 2;
  rpu_philox_row(scratch, n_blocks, seed, row, op, purpose, sub);
  rpu_box_muller_row(scratch, n_blocks);
  for (long j = 0; j < n; ++j) out[j] = (T)rpu_bits_float(scratch[j]);
}

/* out[j] = exact uniform of element j of the row, j < n. */
template <typename T>
static inline void rpu_uniform_row(T *__restrict out, long n, rpu_uint32 *__restrict scratch,
                                   rpu_uint64 seed, rpu_uint64 row, rpu_uint64 op, int purpose,
                                   rpu_uint32 sub) {
  long n_blocks = (n + 3) >> 2;
  rpu_philox_row(scratch, n_blocks, seed, row, op, purpose, sub);
  for (long j = 0; j < n; ++j) out[j] = rpu_u01<T>(scratch[j]);
}

/* max_j |x_j| of a row (0 for an empty row). */
template <typename T>
RPU_SIMD_CLONES
static T rpu_abs_max_row(const T *__restrict x, long n) {
  T m = 0;
  for (long j = 0; j < n; ++j) {
    T a = rpu_fabs(x[j]);
    m = a > m ? a : m;
  }
  return m;
}

/* DAC of a row: u_j = rpu_dac_prepare(x_j, ...), with per-element noise and rounding shift
 * arrays, or none (NULL) for the deterministic DAC. */
template <typename T>
RPU_SIMD_CLONES
static void rpu_dac_row(const T *__restrict x, T *__restrict u, long n, T scale, T step, T bound,
                        T asymmetry, const T *__restrict noise, const T *__restrict shift) {
  if (noise == 0 && shift == 0) {
    for (long j = 0; j < n; ++j) u[j] = rpu_dac_prepare(x[j], scale, step, bound, (T)0, (T)0, asymmetry);
  } else {
    for (long j = 0; j < n; ++j) u[j] = rpu_dac_prepare(x[j], scale, step, bound, shift[j], noise[j], asymmetry);
  }
}

/* ADC of a row in place, then the digital rescale by factor; noise and shift are per-element
 * arrays (already scaled). Returns the OR of the overflow bits. */
template <typename T>
RPU_SIMD_CLONES
static int rpu_adc_row(T *__restrict v, long n, T step, T bound, T asymmetry, T factor,
                       const T *__restrict noise, const T *__restrict shift, int nonlinear,
                       const T *__restrict nl_line, T nlf) {
  int overflow = 0;
  if (nonlinear) {
    for (long i = 0; i < n; ++i)
      v[i] = rpu_adc_finalize(v[i], 1, nl_line[i], nlf, asymmetry, noise[i], step, shift[i], bound, &overflow) * factor;
  } else {
    for (long i = 0; i < n; ++i)
      v[i] = rpu_adc_finalize(v[i], 0, (T)0, nlf, asymmetry, noise[i], step, shift[i], bound, &overflow) * factor;
  }
  return overflow;
}

/* ----------------------------------------------------------------------------------------------
 * Pulsed update, step 1 (per sample b): the pulse probabilities of one input line vector v (x or
 * d of sample b, n elements) and, for the stochastic types, their bit trains.
 *
 *   trains[j * train_stride + w]  word w of element j's train (bit k = slot k), nw words
 *   signs[j * sign_stride]        sign of v_j (-1, 0, 1)
 *   dense[j * sign_stride]        MEAN_COUNT signed count / DETERMINISTIC_IMPLICIT signed fraction
 *
 * mode: 0 stochastic (trains), 1 mean count, 2 deterministic implicit (dense). Slots use
 * Philox (element j, sample b, op, purpose | slot block); slot 4 q + l is lane l of block q.
 * -------------------------------------------------------------------------------------------- */
template <typename T>
static void rpu_pulse_train_sample(const T *v, long n, T scale, T res, int sto_round, int bl,
                                   int nw, int mode, rpu_uint64 *trains, long train_stride,
                                   signed char *signs, T *dense, long sign_stride, T *prob,
                                   rpu_uint32 *scratch, rpu_uint64 seed, rpu_uint64 sample,
                                   rpu_uint64 op, int train_purpose, int round_purpose) {
  long n_blocks = n;  /* one Philox block per element and slot block */
  if (sto_round && res > (T)0) {
    rpu_uniform_row(prob, n, scratch, seed, sample, op, round_purpose, 0u);
    for (long j = 0; j < n; ++j)
      prob[j] = rpu_quantize_probability(scale * rpu_fabs(v[j]), res, prob[j] - (T)0.5);
  } else {
    for (long j = 0; j < n; ++j)
      prob[j] = rpu_quantize_probability(scale * rpu_fabs(v[j]), res, (T)0);
  }
  for (long j = 0; j < n; ++j)
    signs[j * sign_stride] = (signed char)((v[j] > (T)0) - (v[j] < (T)0));
  if (mode == 1) {
    for (long j = 0; j < n; ++j) dense[j * sign_stride] = rpu_mean_count(v[j], prob[j], bl);
    return;
  }
  if (mode == 2) {
    for (long j = 0; j < n; ++j) dense[j * sign_stride] = rpu_implicit_fraction(v[j], prob[j]);
    return;
  }
  for (long j = 0; j < n; ++j)
    for (int w = 0; w < nw; ++w) trains[j * train_stride + w] = 0;
  for (int q = 0; q * 4 < bl; ++q) {
    rpu_philox_row(scratch, n_blocks, seed, sample, op, train_purpose, (rpu_uint32)q);
    for (int l = 0; l < 4 && 4 * q + l < bl; ++l) {
      int slot = 4 * q + l;
      rpu_uint64 bit = (rpu_uint64)1 << (slot & 63);
      for (long j = 0; j < n; ++j) {
        if (rpu_u01<T>(scratch[4 * j + l]) < prob[j]) trains[j * train_stride + (slot >> 6)] |= bit;
      }
    }
  }
}

/* Per-element hidden parameters of one weight row, and the device's global parameters. */
template <typename T>
struct rpu_device_row {
  const T *b_max, *b_min, *s_up, *s_down, *slope_up, *slope_down, *gamma_up, *gamma_down,
      *reference;
};

template <typename T>
struct rpu_device_globals {
  int kind, mult_noise, n_nodes;
  T sigma, A_up, A_down, gamma_up, gamma_down, a, b, std_add, std_slope;
  const T *nodes_up, *nodes_down;
};

/* One pulse on element j of a row, with the device family fixed at compile time. */
template <typename T, int KIND>
static inline T rpu_device_pulse(const rpu_device_globals<T> &g, const rpu_device_row<T> &h,
                                 long j, T w, int down, T xi) {
  if (KIND == RPU_DEVICE_LINEAR_STEP)
    return rpu_pulse_linear_step(w, down, h.s_up[j], h.s_down[j], h.slope_up[j],
                                 h.slope_down[j], g.sigma, xi, g.mult_noise, h.b_min[j],
                                 h.b_max[j]);
  if (KIND == RPU_DEVICE_SOFT_BOUNDS_REFERENCE)
    return rpu_pulse_soft_bounds_reference(w, down, h.s_up[j], h.s_down[j], h.reference[j],
                                           g.sigma, xi, g.mult_noise, h.b_min[j], h.b_max[j]);
  if (KIND == RPU_DEVICE_EXP_STEP)
    return rpu_pulse_exp_step(w, down, h.s_up[j], h.s_down[j], g.sigma, xi, g.A_up, g.A_down,
                              g.gamma_up, g.gamma_down, g.a, g.b, g.std_add, g.std_slope,
                              h.b_min[j], h.b_max[j]);
  if (KIND == RPU_DEVICE_POW_STEP || KIND == RPU_DEVICE_POW_STEP_REFERENCE)
    return rpu_pulse_pow_step(w, down, h.s_up[j], h.s_down[j], h.gamma_up[j], h.gamma_down[j],
                              KIND == RPU_DEVICE_POW_STEP_REFERENCE ? h.reference[j] : (T)0,
                              g.sigma, xi, h.b_min[j], h.b_max[j]);
  if (KIND == RPU_DEVICE_PIECEWISE_STEP)
    return rpu_pulse_piecewise_step(w, down, h.s_up[j], h.s_down[j], g.sigma, xi, g.nodes_up,
                                    g.nodes_down, g.n_nodes, h.b_min[j], h.b_max[j]);
  return rpu_pulse_constant_step(w, down, h.s_up[j], h.s_down[j], g.sigma, xi, h.b_min[j],
                                 h.b_max[j]);
}

/* The cycle-to-cycle noise stream of one weight row: the k-th pulse of the row (in
 * weight-then-sample order) takes the normal of Philox (k / 4 within its chunk, row, op,
 * PULSE_NOISE | chunk), generated a chunk at a time, only as far as pulses land. */
template <typename T>
struct rpu_pulse_noise {
  T *normals;
  rpu_uint32 *scratch;
  long chunk, pos, chunk_index;
  rpu_uint64 seed, row, op;
  inline T next() {
    if (pos == chunk) {
      ++chunk_index;
      rpu_normal_row(normals, chunk, scratch, seed, row, op, RPU_RNG_PULSE_NOISE,
                     (rpu_uint32)chunk_index);
      pos = 0;
    }
    return normals[pos++];
  }
};

/* Pulsed update, step 1b (per sample b): keep only the x elements whose line fires (a non-zero
 * train, or a non-zero dense count), with their train words, signs and dense values, so that
 * step 2 visits only candidate pairs. Returns the number kept. */
template <typename T>
static long rpu_compact_sample(long n, int nw, int mode, const rpu_uint64 *trains,
                               const signed char *signs, const T *dense, int *idx,
                               rpu_uint64 *words, signed char *sgn, T *val) {
  long c = 0;
  for (long j = 0; j < n; ++j) {
    int active;
    if (mode == 0) {
      rpu_uint64 any = 0;
      for (int w = 0; w < nw; ++w) any |= trains[j * nw + w];
      active = any != 0;
    } else {
      active = dense[j] != (T)0;
    }
    if (!active) continue;
    idx[c] = (int)j;
    for (int w = 0; w < nw; ++w) words[c * nw + w] = mode == 0 ? trains[j * nw + w] : 0;
    sgn[c] = signs[j];
    val[c] = mode == 0 ? (T)0 : dense[j];
    ++c;
  }
  return c;
}

/* Pulsed update, step 2, for one weight row i (aihwkit's RPUPulsed order: samples one after the
 * other, so every weight sees its pulses in sample order). For each sample whose d line fires,
 * only the x elements that fire too are visited (step 1b's lists): the coincidences
 * popcount(x_j & d_i) (or the dense count) become device pulses, "down" when
 * sign(x) sign(d) sign(lr) > 0.
 *
 * Loop order: samples outside, the sample's active x elements inside, the row of weights (at most
 * a few thousand values) staying in L1 across the batch. DESIGN.md's "weights outside, samples
 * inside" keeps each weight in a register instead, but must then test every (weight, sample)
 * pair; with sparse trains (the common case: update management keeps BL small) this order does
 * only the work of the candidate pairs, and independent weights pipeline instead of forming one
 * dependency chain. Measured at 1024 x 1024, batch 100, about 4x faster.
 *
 * `stored` holds the weights the pulses act on (the persistent ones of write-noise devices);
 * `visible` gets stored + write_noise xi where a pulse landed (`flags`: x_size scratch). */
template <typename T, int KIND>
RPU_SIMD_CLONES
static void rpu_update_row_kind(T *stored, T *visible, long x_size, long m, int nw, int mode,
                                const int *x_cnt, const int *x_idx, const rpu_uint64 *x_words,
                                const signed char *x_sgn, const T *x_val,
                                const rpu_uint64 *d_train, const signed char *d_sign,
                                const T *d_dense, const int *bl, int lr_sign,
                                const rpu_device_globals<T> &g, const rpu_device_row<T> &h,
                                T write_noise, int needs_noise, unsigned char *flags,
                                rpu_pulse_noise<T> &noise) {
  const int write = visible != stored;
  if (write)
    for (long j = 0; j < x_size; ++j) flags[j] = 0;
  for (long b = 0; b < m; ++b) {
    const rpu_uint64 *db = d_train + b * nw;
    int sd = 0, blb = bl[b];
    T cd = (T)0;
    if (mode == 0) {
      rpu_uint64 any = 0;
      for (int w = 0; w < nw; ++w) any |= db[w];
      if (!any) continue;
      sd = d_sign[b] * lr_sign;
    } else {
      cd = d_dense[b];
      if (cd == (T)0 || blb <= 0) continue;
    }
    const long cnt = x_cnt[b];
    const int *idx = x_idx + b * x_size;
    const rpu_uint64 *xw = x_words + b * x_size * nw;
    const signed char *xs = x_sgn + b * x_size;
    const T *xv = x_val + b * x_size;
    for (long t = 0; t < cnt; ++t) {
      int n, down;
      if (mode == 0) {
        n = 0;
        for (int w = 0; w < nw; ++w) n += __builtin_popcountll(xw[t * nw + w] & db[w]);
        if (n == 0) continue;
        down = xs[t] * sd > 0;
      } else {
        int c = rpu_dense_coincidences(xv[t], cd, blb, mode == 1);
        if (c == 0) continue;
        down = c > 0;
        n = down ? c : -c;
      }
      const long j = idx[t];
      T w = stored[j];
      for (int p = 0; p < n; ++p) {
        T xi = needs_noise ? noise.next() : (T)0;
        w = rpu_device_pulse<T, KIND>(g, h, j, w, down, xi);
      }
      stored[j] = w;
      if (write) flags[j] = 1;
    }
  }
  if (write) {
    for (long j = 0; j < x_size; ++j)
      if (flags[j])
        visible[j] = stored[j] + write_noise * rpu_normal_at<T>(noise.seed, (rpu_uint64)j, noise.row,
                                                               noise.op, RPU_RNG_WRITE_NOISE, 0u);
  }
}

/* Step 2 for row `row`: picks the device family's instantiation. */
template <typename T>
static void rpu_update_row(T *stored, T *visible, long x_size, long m, int nw, int mode,
                           const int *x_cnt, const int *x_idx, const rpu_uint64 *x_words,
                           const signed char *x_sgn, const T *x_val, const rpu_uint64 *d_train,
                           const signed char *d_sign, const T *d_dense, const int *bl,
                           int lr_sign, const rpu_device_globals<T> &g,
                           const rpu_device_row<T> &h, T write_noise, int needs_noise,
                           unsigned char *flags, T *normals, rpu_uint32 *scratch, long chunk,
                           rpu_uint64 seed, rpu_uint64 row, rpu_uint64 op) {
  rpu_pulse_noise<T> noise = {normals, scratch, chunk, chunk, -1, seed, row, op};
#define RPU_UPDATE_ROW_CASE(K)                                                                 \
  case K:                                                                                      \
    rpu_update_row_kind<T, K>(stored, visible, x_size, m, nw, mode, x_cnt, x_idx, x_words,     \
                              x_sgn, x_val, d_train, d_sign, d_dense, bl, lr_sign, g, h,       \
                              write_noise, needs_noise, flags, noise);                          \
    break;
  switch (g.kind) {
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_LINEAR_STEP)
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_SOFT_BOUNDS_REFERENCE)
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_EXP_STEP)
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_POW_STEP)
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_POW_STEP_REFERENCE)
    RPU_UPDATE_ROW_CASE(RPU_DEVICE_PIECEWISE_STEP)
    default:
      rpu_update_row_kind<T, RPU_DEVICE_CONSTANT_STEP>(
          stored, visible, x_size, m, nw, mode, x_cnt, x_idx, x_words, x_sgn, x_val, d_train,
          d_sign, d_dense, bl, lr_sign, g, h, write_noise, needs_noise, flags, noise);
  }
#undef RPU_UPDATE_ROW_CASE
}

#endif /* RPU_CPU_ROWS_H */
