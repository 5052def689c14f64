/* cpu_rows.h -- the CPU core's vector loops over one row: random rows and the fused periphery.
 *
 * Host-only (not part of the GPU module, whose threads take one element each). The per-element
 * math comes from the shared headers; these loops only arrange it so that GCC vectorises it:
 * first all Philox blocks of a row into a scratch buffer, then the transforms on that buffer,
 * both branch-free. On x86-64 with GCC, each loop is compiled for several instruction sets
 * (target_clones) and the best one for the running CPU is picked at load time. Every operation
 * is a correctly rounded IEEE operation without contraction (-ffp-contract=off), so all clones
 * give the same bits as the scalar per-element functions.
 */
#ifndef RPU_CPU_ROWS_H
#define RPU_CPU_ROWS_H

#include "rpu_common.h"
#include "philox.h"
#include "mvm_io.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(RPU_NO_SIMD_CLONES)
#define RPU_SIMD_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
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

#endif /* RPU_CPU_ROWS_H */
