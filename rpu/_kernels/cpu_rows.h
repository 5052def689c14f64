/* cpu_rows.h -- the CPU core's vector loops over one row: random rows and the fused periphery.
 *
 * Host-only (not part of the GPU module, whose threads take one element each). The per-element
 * math comes from the shared headers; these loops only arrange it so that GCC vectorises it:
 * first all Philox blocks of a row into a scratch buffer, then the transforms on that buffer,
 * both branch-free. On x86-64 with GCC, each loop is compiled for several instruction sets
 * (target_clones: baseline, x86-64-v2 with POPCNT, v3 with AVX2, v4 with AVX-512) and the best
 * one for the running CPU is picked at load time; the Philox blocks have AVX2 and AVX-512F
 * intrinsics versions, and the layout of a dense sample's normals by column an AVX-512F one,
 * picked at run time. Every operation is a correctly rounded IEEE
 * operation without contraction (-ffp-contract=off), so all clones give the same bits as the
 * scalar per-element functions.
 */
#ifndef RPU_CPU_ROWS_H
#define RPU_CPU_ROWS_H

#include "rpu_common.h"
#include "philox.h"
#include "mvm_io.h"
#include "pulse_trains.h"
#include "pulsed_devices.h"
#include "rng_ids.h"
#include "transfer.h"
#include "unit_cells.h"

#include <math.h>

#include <type_traits>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(RPU_NO_SIMD_CLONES)
#define RPU_SIMD_CLONES \
  __attribute__((target_clones("default", "arch=x86-64-v2", "arch=x86-64-v3", "arch=x86-64-v4")))
#define RPU_PHILOX_X86 1
#include <immintrin.h>
#else
#define RPU_SIMD_CLONES
#endif

/* scratch[4 b + l] = word l of Philox block b, for b < n_blocks, where block b has the counter
 * (c0_first + b, c1_first, op, purpose << 24 | sub) -- or, with lanes_on_c1, (c0_first,
 * c1_first + b, ...): the blocks of one element across consecutive samples. Portable version,
 * left to GCC's vectoriser; rpu_philox_blocks below uses it where no intrinsics version runs. */
RPU_SIMD_CLONES
static void rpu_philox_blocks_generic(rpu_uint32 *__restrict scratch, long n_blocks,
                                      rpu_uint64 seed, rpu_uint64 c0_first, rpu_uint64 c1_first,
                                      int lanes_on_c1, rpu_uint64 op, int purpose,
                                      rpu_uint32 sub) {
  /* The 32-bit words live in 64-bit lanes, so that the vectoriser needs no lane shuffles (twice
   * as fast as 32-bit lanes, where GCC splits the products into even and odd lanes). GCC still
   * multiplies with vpmullq or shift-and-add chains here; the intrinsics versions below use one
   * vpmuludq per product. Same words as rpu_philox4x32_10. */
  const rpu_uint64 lo = 0xFFFFFFFFull;
  const rpu_uint64 k0_init = (rpu_uint32)seed, k1_init = (rpu_uint32)(seed >> 32);
  const rpu_uint64 c2_init = (rpu_uint32)op;
  const rpu_uint64 c3_init = ((rpu_uint32)purpose << 24) | (sub & 0xFFFFFFu);
  const rpu_uint32 c0_step = lanes_on_c1 ? 0u : 1u, c1_step = lanes_on_c1 ? 1u : 0u;
  for (long b = 0; b < n_blocks; ++b) {
    rpu_uint64 c0 = (rpu_uint32)((rpu_uint32)c0_first + c0_step * (rpu_uint32)b);
    rpu_uint64 c1 = (rpu_uint32)((rpu_uint32)c1_first + c1_step * (rpu_uint32)b);
    rpu_uint64 c2 = c2_init, c3 = c3_init, k0 = k0_init, k1 = k1_init;
#pragma GCC unroll 10
    for (int round = 0; round < 10; ++round) {
      const rpu_uint64 p0 = (c0 & lo) * (rpu_uint64)RPU_PHILOX_M0;
      const rpu_uint64 p1 = (c2 & lo) * (rpu_uint64)RPU_PHILOX_M1;
      const rpu_uint64 n0 = (p1 >> 32) ^ c1 ^ k0;
      const rpu_uint64 n2 = (p0 >> 32) ^ c3 ^ k1;
      c1 = p1 & lo;
      c3 = p0 & lo;
      c0 = n0;
      c2 = n2;
      k0 = (k0 + RPU_PHILOX_W0) & lo;
      k1 = (k1 + RPU_PHILOX_W1) & lo;
    }
    scratch[4 * b] = (rpu_uint32)c0;
    scratch[4 * b + 1] = (rpu_uint32)c1;
    scratch[4 * b + 2] = (rpu_uint32)c2;
    scratch[4 * b + 3] = (rpu_uint32)c3;
  }
}

#ifdef RPU_PHILOX_X86
/* The same blocks with x86 intrinsics, 8 (AVX-512F) or 4 (AVX2) blocks per vector of 64-bit
 * lanes; they return how many blocks they made (a multiple of 8 or 4), the caller makes the
 * rest. Why intrinsics: from the masked 64-bit product of the portable loop, GCC emits
 * vpmullq (AVX-512; three micro-ops on Intel cores) or a chain of shifts and adds (AVX2), where
 * one vpmuludq -- the 32 x 32 -> 64-bit product of the low halves -- is exact. Only the low
 * 32 bits of every lane are meaningful: vpmuludq reads only those, XOR keeps halves apart, and
 * the stores take the low halves, so no masking is needed, and a product's high half reaches
 * the low half by swapping the halves (a shuffle) rather than by a shift. The words are those of
 * rpu_philox4x32_10. */
/* GCC 12 reports its own _mm512_undefined_epi32 (a self-initialised register) as maybe
 * uninitialised once the intrinsics are inlined: a known false positive, silenced here only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* What every lane of a vector of blocks starts from: the round keys, the two constant counter
 * words, the counter word that stays fixed across the blocks and the first value of the one
 * that counts them. */
struct rpu_philox_lane_start {
  rpu_uint64 k0[10], k1[10], c2, c3, fixed, first;
  rpu_philox_lane_start(rpu_uint64 seed, rpu_uint64 c0_first, rpu_uint64 c1_first,
                        int lanes_on_c1, rpu_uint64 op, int purpose, rpu_uint32 sub) {
    rpu_uint32 a = (rpu_uint32)seed, b = (rpu_uint32)(seed >> 32);
    for (int r = 0; r < 10; ++r, a += RPU_PHILOX_W0, b += RPU_PHILOX_W1) {
      k0[r] = a;
      k1[r] = b;
    }
    c2 = (rpu_uint32)op;
    c3 = ((rpu_uint32)purpose << 24) | (sub & 0xFFFFFFu);
    fixed = lanes_on_c1 ? c0_first : c1_first;
    first = lanes_on_c1 ? c1_first : c0_first;
  }
};

__attribute__((target("avx512f")))
static long rpu_philox_blocks_avx512(rpu_uint32 *scratch, long n_blocks, rpu_uint64 seed,
                                     rpu_uint64 c0_first, rpu_uint64 c1_first, int lanes_on_c1,
                                     rpu_uint64 op, int purpose, rpu_uint32 sub) {
  const long n_vec = n_blocks & ~7L;
  const rpu_philox_lane_start st(seed, c0_first, c1_first, lanes_on_c1, op, purpose, sub);
  __m512i k0[10], k1[10];
  for (int r = 0; r < 10; ++r) {
    k0[r] = _mm512_set1_epi64((long long)st.k0[r]);
    k1[r] = _mm512_set1_epi64((long long)st.k1[r]);
  }
  const __m512i m0 = _mm512_set1_epi64(RPU_PHILOX_M0), m1 = _mm512_set1_epi64(RPU_PHILOX_M1);
  const __m512i c2_init = _mm512_set1_epi64((long long)st.c2);
  const __m512i c3_init = _mm512_set1_epi64((long long)st.c3);
  const __m512i fixed = _mm512_set1_epi64((long long)st.fixed);
  __m512i counting = _mm512_add_epi64(_mm512_set1_epi64((long long)st.first),
                                      _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
  const __m512i eight = _mm512_set1_epi64(8);
  /* 64-bit elements of (even blocks, odd blocks) in block order */
  const __m512i first4 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
  const __m512i last4 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
  for (long b = 0; b < n_vec; b += 8, counting = _mm512_add_epi64(counting, eight)) {
    __m512i c0 = lanes_on_c1 ? fixed : counting, c1 = lanes_on_c1 ? counting : fixed;
    __m512i c2 = c2_init, c3 = c3_init;
#pragma GCC unroll 10
    for (int r = 0; r < 10; ++r) {
      const __m512i p0 = _mm512_mul_epu32(c0, m0), p1 = _mm512_mul_epu32(c2, m1);
      /* the high halves moved down by a shuffle (port 5), leaving port 0 to the products */
      const __m512i h1 = _mm512_shuffle_epi32(p1, _MM_PERM_CDAB);
      const __m512i h0 = _mm512_shuffle_epi32(p0, _MM_PERM_CDAB);
      c0 = _mm512_ternarylogic_epi64(h1, c1, k0[r], 0x96);  /* h1 ^ c1 ^ k0 */
      c2 = _mm512_ternarylogic_epi64(h0, c3, k1[r], 0x96);
      c1 = p1;
      c3 = p0;
    }
    /* lane l = block b + l: words (c0, c1) and (c2, c3) side by side, then blocks in order */
    const __m512i w01 = _mm512_mask_blend_epi32(0xAAAA, c0, _mm512_slli_epi64(c1, 32));
    const __m512i w23 = _mm512_mask_blend_epi32(0xAAAA, c2, _mm512_slli_epi64(c3, 32));
    const __m512i even = _mm512_unpacklo_epi64(w01, w23), odd = _mm512_unpackhi_epi64(w01, w23);
    _mm512_storeu_si512((void *)(scratch + 4 * b), _mm512_permutex2var_epi64(even, first4, odd));
    _mm512_storeu_si512((void *)(scratch + 4 * b + 16),
                        _mm512_permutex2var_epi64(even, last4, odd));
  }
  return n_vec;
}

__attribute__((target("avx2")))
static long rpu_philox_blocks_avx2(rpu_uint32 *scratch, long n_blocks, rpu_uint64 seed,
                                   rpu_uint64 c0_first, rpu_uint64 c1_first, int lanes_on_c1,
                                   rpu_uint64 op, int purpose, rpu_uint32 sub) {
  const long n_vec = n_blocks & ~3L;
  const rpu_philox_lane_start st(seed, c0_first, c1_first, lanes_on_c1, op, purpose, sub);
  const __m256i m0 = _mm256_set1_epi64x(RPU_PHILOX_M0), m1 = _mm256_set1_epi64x(RPU_PHILOX_M1);
  const __m256i c2_init = _mm256_set1_epi64x((long long)st.c2);
  const __m256i c3_init = _mm256_set1_epi64x((long long)st.c3);
  const __m256i fixed = _mm256_set1_epi64x((long long)st.fixed);
  __m256i counting = _mm256_add_epi64(_mm256_set1_epi64x((long long)st.first),
                                      _mm256_set_epi64x(3, 2, 1, 0));
  const __m256i four = _mm256_set1_epi64x(4);
  for (long b = 0; b < n_vec; b += 4, counting = _mm256_add_epi64(counting, four)) {
    __m256i c0 = lanes_on_c1 ? fixed : counting, c1 = lanes_on_c1 ? counting : fixed;
    __m256i c2 = c2_init, c3 = c3_init;
#pragma GCC unroll 10
    for (int r = 0; r < 10; ++r) {
      const __m256i p0 = _mm256_mul_epu32(c0, m0), p1 = _mm256_mul_epu32(c2, m1);
      const __m256i k0 = _mm256_set1_epi64x((long long)st.k0[r]);
      const __m256i k1 = _mm256_set1_epi64x((long long)st.k1[r]);
      c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p1, 0xB1), c1), k0);
      c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p0, 0xB1), c3), k1);
      c1 = p1;
      c3 = p0;
    }
    const __m256i w01 = _mm256_blend_epi32(c0, _mm256_slli_epi64(c1, 32), 0xAA);
    const __m256i w23 = _mm256_blend_epi32(c2, _mm256_slli_epi64(c3, 32), 0xAA);
    const __m256i even = _mm256_unpacklo_epi64(w01, w23), odd = _mm256_unpackhi_epi64(w01, w23);
    _mm256_storeu_si256((__m256i *)(scratch + 4 * b), _mm256_permute2x128_si256(even, odd, 0x20));
    _mm256_storeu_si256((__m256i *)(scratch + 4 * b + 8),
                        _mm256_permute2x128_si256(even, odd, 0x31));
  }
  return n_vec;
}
#pragma GCC diagnostic pop
#endif

/* The Philox blocks of rpu_philox_blocks_generic, by one version: isa 0 = portable, 1 = AVX2,
 * 2 = AVX-512F (the last n_blocks % 4 or % 8 blocks portable). Returns 0, or -1 when this build
 * or CPU does not have that version (the tests check each version against the bijection). */
static int rpu_philox_blocks_isa(int isa, rpu_uint32 *scratch, long n_blocks, rpu_uint64 seed,
                                 rpu_uint64 c0_first, rpu_uint64 c1_first, int lanes_on_c1,
                                 rpu_uint64 op, int purpose, rpu_uint32 sub) {
  long done = 0;
  if (isa == 1 || isa == 2) {
#ifdef RPU_PHILOX_X86
    if (isa == 2 && __builtin_cpu_supports("avx512f"))
      done = rpu_philox_blocks_avx512(scratch, n_blocks, seed, c0_first, c1_first, lanes_on_c1,
                                      op, purpose, sub);
    else if (isa == 1 && __builtin_cpu_supports("avx2"))
      done = rpu_philox_blocks_avx2(scratch, n_blocks, seed, c0_first, c1_first, lanes_on_c1, op,
                                    purpose, sub);
    else
      return -1;
#else
    return -1;
#endif
  } else if (isa != 0) {
    return -1;
  }
  if (done < n_blocks)
    rpu_philox_blocks_generic(scratch + 4 * done, n_blocks - done, seed,
                              c0_first + (lanes_on_c1 ? 0 : done),
                              c1_first + (lanes_on_c1 ? done : 0), lanes_on_c1, op, purpose, sub);
  return 0;
}

/* The fastest version this CPU runs (the isa of rpu_philox_blocks_isa). */
static inline int rpu_philox_best_isa(void) {
#ifdef RPU_PHILOX_X86
  if (__builtin_cpu_supports("avx512f")) return 2;
  if (__builtin_cpu_supports("avx2")) return 1;
#endif
  return 0;
}

/* rpu_philox_blocks_generic's words, made by the fastest version this CPU runs. */
static inline void rpu_philox_blocks(rpu_uint32 *scratch, long n_blocks, rpu_uint64 seed,
                                     rpu_uint64 c0_first, rpu_uint64 c1_first, int lanes_on_c1,
                                     rpu_uint64 op, int purpose, rpu_uint32 sub) {
  rpu_philox_blocks_isa(rpu_philox_best_isa(), scratch, n_blocks, seed, c0_first, c1_first,
                        lanes_on_c1, op, purpose, sub);
}

/* scratch[4 b + l] = word l of Philox block (b, row, op, purpose | sub): the blocks of a row. */
static inline void rpu_philox_row(rpu_uint32 *__restrict scratch, long n_blocks, rpu_uint64 seed,
                                  rpu_uint64 row, rpu_uint64 op, int purpose, rpu_uint32 sub) {
  rpu_philox_blocks(scratch, n_blocks, seed, 0, row, 0, op, purpose, sub);
}

/* One Philox block, out of line: called from a loop that skips most lanes, it keeps GCC from
 * if-converting that loop into a vector Philox over every lane, masked afterwards. */
__attribute__((noinline))
static void rpu_philox_lane(rpu_uint32 *words, rpu_uint64 seed, rpu_uint64 c0, rpu_uint64 c1,
                            rpu_uint64 op, int purpose, rpu_uint32 sub) {
  rpu_uint32 key[2], ctr[4];
  rpu_rng_key(key, seed);
  rpu_rng_counter(ctr, c0, c1, op, purpose, sub);
  rpu_philox4x32_10(ctr, key, words);
}

/* rpu_philox_blocks for the lanes k that need their words only, when those are fewer than one
 * in eight; the other lanes get zero words. A lane needs its words when value[k] != 0, and, with
 * `skip_certain` (the pulse trains, whose slots fire when U < p), when value[k] < 1 as well: a
 * probability of 1 or more fires whatever U is. A lane's words depend on its counter alone, so
 * skipping lanes changes no other lane: the trains of sparse or saturated inputs (a transfer's
 * one-hot x and its pulse counts of probability 1) then cost per lane that draws. */
template <typename T>
RPU_SIMD_CLONES
static void rpu_philox_blocks_where(rpu_uint32 *scratch, long n, const T *value, int skip_certain,
                                    rpu_uint64 seed, rpu_uint64 c0_first, rpu_uint64 c1_first,
                                    int lanes_on_c1, rpu_uint64 op, int purpose, rpu_uint32 sub) {
  const T certain = skip_certain ? (T)1 : (T)INFINITY;
  long n_draw = 0;
  for (long k = 0; k < n; ++k) n_draw += value[k] != (T)0 && value[k] < certain;
  if (n_draw * 8 >= n) {
    rpu_philox_blocks(scratch, n, seed, c0_first, c1_first, lanes_on_c1, op, purpose, sub);
    return;
  }
  for (long k = 0; k < n; ++k) {
    rpu_uint32 *words = scratch + 4 * k;
    if (value[k] == (T)0 || value[k] >= certain) {
      words[0] = words[1] = words[2] = words[3] = 0u;
      continue;
    }
    rpu_philox_lane(words, seed, c0_first + (lanes_on_c1 ? 0 : k),
                    c1_first + (lanes_on_c1 ? k : 0), op, purpose, sub);
  }
}

/* scratch[4 k + l] = word l of Philox block (c0, c1, op, purpose | sub[k]), k < n: one block of
 * each of n sub-streams (the samples of a pulsed update), independent lanes for the core. */
RPU_SIMD_CLONES
static void rpu_philox_blocks_sub(rpu_uint32 *__restrict scratch, long n, rpu_uint64 seed,
                                  rpu_uint64 c0, rpu_uint64 c1, rpu_uint64 op, int purpose,
                                  const int *__restrict sub) {
  rpu_uint32 key[2];
  rpu_rng_key(key, seed);
  for (long k = 0; k < n; ++k) {
    rpu_uint32 ctr[4];
    rpu_rng_counter(ctr, c0, c1, op, purpose, (rpu_uint32)sub[k]);
    rpu_philox4x32_10(ctr, key, scratch + 4 * k);
  }
}

/* out[k] = normal k of the raw words (4 * n_blocks of them): Box-Muller on the word pairs.
 * Unrolled so that several vectors' chains (a division, a square root and two polynomials
 * each) are in flight together: Tiki-taka at 256 x 256 on one thread, 218-220 -> 211-214 ms,
 * alternating runs. */
template <typename T>
RPU_SIMD_CLONES
static void rpu_box_muller_row(const rpu_uint32 *__restrict words, T *__restrict out,
                               long n_blocks) {
#pragma GCC unroll 4
  for (long p = 0; p < 2 * n_blocks; ++p) {
    float z0, z1;
    rpu_box_muller(words[2 * p], words[2 * p + 1], &z0, &z1);
    out[2 * p] = (T)z0;
    out[2 * p + 1] = (T)z1;
  }
}

/* out[j] = normal of element j of the row, j < n; scratch holds 4 * ceil(n / 4) words. */
template <typename T>
static inline void rpu_normal_row(T *__restrict out, long n, rpu_uint32 *__restrict scratch,
                                  rpu_uint64 seed, rpu_uint64 row, rpu_uint64 op, int purpose,
                                  rpu_uint32 sub) {
  const long n_blocks = (n + 3) >> 2, n_whole = n >> 2;
  rpu_philox_row(scratch, n_blocks, seed, row, op, purpose, sub);
  rpu_box_muller_row(scratch, out, n_whole);
  if (n_whole < n_blocks) {
    T last[4];
    rpu_box_muller_row(scratch + 4 * n_whole, last, 1);
    for (long j = 4 * n_whole; j < n; ++j) out[j] = last[j - 4 * n_whole];
  }
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
 * Pulse trains. Line value v of element e in sample b becomes the probability
 * p = Q(scale_b |v|); slot 4 q + l of its train fires when the exact uniform of word l of Philox
 * (e, b, op, train_purpose | q) is below p; stochastic rounding of p uses word 0 of Philox
 * (e, b, op, round_purpose). One function serves both layouts:
 *
 *   per sample (x side, step 1): lanes run over the elements e = 0..n-1 of sample `fixed`;
 *   per element (d side, step 2): lanes run over the samples b = 0..n-1 of element `fixed`.
 *
 * Outputs, per lane k: trains[k * nw + w] (word w; bit k = slot k), signs[k] (-1, 0, 1), and for
 * the dense types dense[k]: the MEAN_COUNT signed count or DETERMINISTIC_IMPLICIT signed
 * fraction. mode: 0 stochastic, 1 mean count, 2 deterministic implicit. `scales` and `bls` are
 * per lane in the per-element layout (per sample: scales[0], bls[0] for every lane).
 * Compiled for each instruction set like the loops above: every pulsed update runs it once per
 * sample (x) and once per weight row (d), over every line whether it fires or not.
 * -------------------------------------------------------------------------------------------- */
template <typename T>
RPU_SIMD_CLONES
static void rpu_pulse_trains(const T *v, long v_stride, long n, const T *scales, const int *bls,
                             int per_element, T res, int sto_round, int nw, int mode,
                             rpu_uint64 *trains, signed char *signs, T *dense, T *prob,
                             rpu_uint32 *scratch, rpu_uint64 seed, rpu_uint64 fixed,
                             rpu_uint64 op, int train_purpose, int round_purpose) {
  const rpu_uint64 c0 = per_element ? fixed : 0, c1 = per_element ? 0 : fixed;
  int max_bl = 0;
  for (long k = 0; k < n; ++k) {
    T scale = scales[per_element ? k : 0];
    prob[k] = scale * rpu_fabs(v[k * v_stride]);
    int bl = bls[per_element ? k : 0];
    max_bl = bl > max_bl ? bl : max_bl;
    signs[k] = (signed char)((v[k * v_stride] > (T)0) - (v[k * v_stride] < (T)0));
  }
  if (sto_round && res > (T)0) {
    rpu_philox_blocks_where(scratch, n, prob, 0, seed, c0, c1, per_element, op, round_purpose,
                            0u);
    for (long k = 0; k < n; ++k)
      prob[k] = rpu_quantize_probability(prob[k], res, rpu_u01<T>(scratch[4 * k]) - (T)0.5);
  } else {
    for (long k = 0; k < n; ++k) prob[k] = rpu_quantize_probability(prob[k], res, (T)0);
  }
  if (mode != 0) {
    for (long k = 0; k < n; ++k) {
      int bl = bls[per_element ? k : 0];
      dense[k] = mode == 1 ? rpu_mean_count(v[k * v_stride], prob[k], bl)
                           : rpu_implicit_fraction(v[k * v_stride], prob[k]);
    }
    return;
  }
  for (long k = 0; k < n * nw; ++k) trains[k] = 0;
  for (int q = 0; q * 4 < max_bl; ++q) {
    rpu_philox_blocks_where(scratch, n, prob, 1, seed, c0, c1, per_element, op, train_purpose,
                            (rpu_uint32)q);
    for (int l = 0; l < 4 && 4 * q + l < max_bl; ++l) {
      const int slot = 4 * q + l;
      const rpu_uint64 bit = (rpu_uint64)1 << (slot & 63);
      const int word = slot >> 6;
      for (long k = 0; k < n; ++k) {
        const int fires = slot < bls[per_element ? k : 0] && rpu_u01<T>(scratch[4 * k + l]) < prob[k];
        trains[k * nw + word] |= fires ? bit : (rpu_uint64)0;
      }
    }
  }
}

/* The cycle-to-cycle noise of the pulses of one (weight row, sample): the k-th pulse of the
 * sample in the row (pairs in list order) takes the normal of Philox (k / 4, row, op,
 * PULSE_NOISE | sample), generated `chunk` at a time, only as far as pulses land. */
template <typename T>
struct rpu_pulse_noise {
  T *normals;
  rpu_uint32 *scratch;
  long chunk;
  rpu_uint64 seed, row, op;
  /* x_size values: a dense one-slot sample's normals at the columns of its pulses (zeros or
   * earlier samples' normals elsewhere, which the pulses of that sample do not read) */
  T *by_column;
  /* the first block's normals of the samples first_sample[0 .. n_first) (ascending), drawn
   * ahead by draw_first_blocks; next_first: the first of them not yet passed */
  T *first_normals;
  const int *first_sample;
  long n_first, next_first;
  /* normals[0 .. len) = pulses [first, first + len) of `sample` (first: a multiple of 4,
   * len <= chunk; whole blocks of 4 are drawn). */
  inline void fill(long first, long len, rpu_uint64 sample) {
    while (next_first < n_first && (rpu_uint64)first_sample[next_first] < sample) ++next_first;
    if (first == 0 && len <= 4 && next_first < n_first &&
        (rpu_uint64)first_sample[next_first] == sample) {
      for (int l = 0; l < 4; ++l) normals[l] = first_normals[4 * next_first + l];
      return;
    }
    if (len <= 8) {
      /* a pulse or a few (a transfer's write, a sparse row): block by block, the same words */
      for (long blk = 0; 4 * blk < len; ++blk)
        rpu_normal4<T>(seed, (rpu_uint64)(first >> 2) + blk, row, op, RPU_RNG_PULSE_NOISE,
                       (rpu_uint32)sample, normals + 4 * blk);
      return;
    }
    /* whole SIMD vectors only (8 blocks: one AVX-512 Philox vector, 16 Box-Muller pairs of
     * floats, a multiple of every clone's width): a few normals more cost less than the scalar
     * remainder of a short fill; the extra normals go unused. (16 blocks drew up to 60 normals
     * too many: a third of the draws of a c-TTv2 row at 256 x 256, about 90 pulses a sample;
     * one thread, 4.18 -> 3.99 ms per batch.) */
    long n_blocks = (((len + 3) >> 2) + 7) & ~7L;
    if (n_blocks > chunk / 4) n_blocks = chunk / 4;
    rpu_philox_blocks(scratch, n_blocks, seed, (rpu_uint64)(first >> 2), row, 0, op,
                      RPU_RNG_PULSE_NOISE, (rpu_uint32)sample);
    rpu_box_muller_row(scratch, normals, n_blocks);
  }
  /* Draws block 0 of each listed sample (n ascending samples) at once, into first_normals,
   * with `words` (4 n) as scratch. A sample whose pulses in the row number at most four (a
   * transfer's write: one per sample) otherwise draws its block alone when it comes, and that
   * one Philox block and Box-Muller, a chain of dependent operations, then cost about ten times
   * what they cost among independent lanes. */
  inline void draw_first_blocks(const int *samples, long n, rpu_uint32 *words) {
    first_sample = samples;
    n_first = n;
    next_first = 0;
    if (n == 0) return;
    rpu_philox_blocks_sub(words, n, seed, 0, row, op, RPU_RNG_PULSE_NOISE, samples);
    rpu_box_muller_row(words, first_normals, n);
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

/* A one-slot sample (BL = 1) whose firing x elements number at least x_size / RPU_DENSE_RATIO
 * is updated by a pass along the row instead of along its list: the pass costs about 2 cycles
 * per column, where a listed element costs about 10 (a gather of the weight and of each hidden
 * parameter, then a scatter), measured with SoftBounds at 1024 columns; the two break even near
 * a fifth of the row firing. Rows shorter than RPU_DENSE_MIN_COLUMNS keep the list: their
 * weights and hidden parameters stay in L1, where gathers are cheap. (With the pass on whole
 * vectors, an AGAD update at 256 x 256 took 3.3 ms instead of 4.2 ms on the list, best of 8
 * alternating runs; before that, the pass lost at 256 columns.) */
#define RPU_DENSE_RATIO 5
#define RPU_DENSE_MIN_COLUMNS 256

static inline int rpu_sample_is_dense(long count, long x_size) {
  return x_size >= RPU_DENSE_MIN_COLUMNS && count * RPU_DENSE_RATIO >= x_size;
}

/* Pulsed update, step 1c (per dense sample, stochastic one-slot trains): fire[j] = sign of x_j
 * where its line fires, else 0. */
static void rpu_dense_sample(long n, int nw, const rpu_uint64 *trains, const signed char *signs,
                             signed char *fire) {
  for (long j = 0; j < n; ++j) {
    rpu_uint64 any = 0;
    for (int w = 0; w < nw; ++w) any |= trains[j * nw + w];
    fire[j] = any != 0 ? signs[j] : (signed char)0;
  }
}

/* The pulses of one dense one-slot sample on columns [j0, j1) of a row: column j pulses when
 * fire[j] != 0, with noise xi[j] (the caller has put each listed element's normal at its
 * column). Columns that do not fire keep their weight: the blend keeps the loop branch-free,
 * so it runs as vector loads along the row. */
template <typename T, int KIND>
static inline void rpu_dense_pulses(T *stored, long j0, long j1, const signed char *fire,
                                    const T *xi, int sd, const rpu_device_globals<T> &g,
                                    const rpu_device_row<T> &h, unsigned char *flags, int write) {
#pragma GCC ivdep
  for (long j = j0; j < j1; ++j) {
    const T next = rpu_device_pulse<T, KIND>(g, h, j, stored[j], fire[j] * sd > 0, xi[j]);
    stored[j] = rpu_pick(fire[j] != 0, stored[j], next);
  }
  if (write)
    for (long j = j0; j < j1; ++j) flags[j] |= fire[j] != 0;
}

/* A dense sample's pass starts and ends on a multiple of this many columns (a whole number of
 * vectors at every SIMD width). */
#define RPU_DENSE_ALIGN 16

/* A dense sample's normals by column, for its columns j0 <= j < j1: the columns that fire
 * (fire[j] != 0) take normals[0], normals[1], ... in column order, which is the list order of
 * their pulses; the others take 0 (finite: the pass computes them and discards them). Returns
 * the number of normals taken. The AVX-512F version expands 16 (8) normals at a time into the
 * firing lanes of a vector; at 1024 columns the element-by-element copy to each listed column
 * it replaces took 9 % of an AGAD update on one thread. `isa`: 0 portable, 2 AVX-512F; -1
 * where this build or CPU lacks that version. */
template <typename T>
static long rpu_normals_by_column_portable(T *__restrict xi, const signed char *__restrict fire,
                                           long j0, long j1, const T *__restrict normals) {
  long t = 0;
  for (long j = j0; j < j1; ++j) {
    if (fire[j] != 0) {
      xi[j] = normals[t++];
    } else {
      xi[j] = (T)0;
    }
  }
  return t;
}

#ifdef RPU_PHILOX_X86
/* (the same false positive as at the Philox intrinsics above, from _mm512_cvtepi8_*) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* The AVX-512F steps of rpu_normals_by_column for one element type: the mask of a vector's
 * firing columns, and the expansion of the next n normals into those lanes (a masked load reads
 * exactly those n, nothing beyond them). */
template <typename T>
struct rpu_expand512;

template <>
struct rpu_expand512<float> {
  static const long lanes = 16;
  __attribute__((target("avx512f"))) static inline unsigned fire_mask(const signed char *fire) {
    const __m512i f = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)fire));
    return _mm512_test_epi32_mask(f, f);
  }
  __attribute__((target("avx512f"))) static inline void expand(float *xi, unsigned k, int n,
                                                               const float *normals) {
    const __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), normals);
    _mm512_storeu_ps(xi, _mm512_maskz_expand_ps((__mmask16)k, v));
  }
};

template <>
struct rpu_expand512<double> {
  static const long lanes = 8;
  __attribute__((target("avx512f"))) static inline unsigned fire_mask(const signed char *fire) {
    const __m512i f = _mm512_cvtepi8_epi64(_mm_loadl_epi64((const __m128i *)fire));
    return _mm512_test_epi64_mask(f, f);
  }
  __attribute__((target("avx512f"))) static inline void expand(double *xi, unsigned k, int n,
                                                               const double *normals) {
    const __m512d v = _mm512_maskz_loadu_pd((__mmask8)((1u << n) - 1u), normals);
    _mm512_storeu_pd(xi, _mm512_maskz_expand_pd((__mmask8)k, v));
  }
};

template <typename T>
__attribute__((target("avx512f")))
static long rpu_normals_by_column_avx512(T *__restrict xi, const signed char *__restrict fire,
                                         long j0, long j1, const T *__restrict normals) {
  typedef rpu_expand512<T> E;
  long t = 0, j = j0;
  for (; j + E::lanes <= j1; j += E::lanes) {
    const unsigned k = E::fire_mask(fire + j);
    const int n = __builtin_popcount(k);
    E::expand(xi + j, k, n, normals + t);
    t += n;
  }
  return t + rpu_normals_by_column_portable(xi, fire, j, j1, normals + t);
}
#pragma GCC diagnostic pop
#endif

template <typename T>
static long rpu_normals_by_column_isa(int isa, T *xi, const signed char *fire, long j0, long j1,
                                      const T *normals) {
  if (isa == 2) {
#ifdef RPU_PHILOX_X86
    if (__builtin_cpu_supports("avx512f"))
      return rpu_normals_by_column_avx512(xi, fire, j0, j1, normals);
#endif
    return -1;
  }
  return isa == 0 ? rpu_normals_by_column_portable(xi, fire, j0, j1, normals) : -1;
}

template <typename T>
static inline long rpu_normals_by_column(T *xi, const signed char *fire, long j0, long j1,
                                         const T *normals) {
  return rpu_normals_by_column_isa(rpu_philox_best_isa() == 2 ? 2 : 0, xi, fire, j0, j1,
                                   normals);
}

/* A write-noise device's visible weights after a row's pulses: stored + write_noise xi where a
 * pulse landed (flags[j] != 0), xi the normal of Philox (j, row, op, WRITE_NOISE). */
template <typename T>
static void rpu_write_noise_row(const T *stored, T *visible, const unsigned char *flags,
                                long x_size, T write_noise, rpu_uint64 seed, rpu_uint64 row,
                                rpu_uint64 op) {
  for (long j = 0; j < x_size; ++j)
    if (flags[j])
      visible[j] = stored[j] + write_noise * rpu_normal_at<T>(seed, (rpu_uint64)j, row, op,
                                                             RPU_RNG_WRITE_NOISE, 0u);
}

/* Calls f(std::integral_constant<int, K>()) for the device family K = kind, so that a row loop
 * is instantiated once per pulse rule (kinds without a rule of their own run ConstantStep's). */
template <typename F>
static inline void rpu_with_device_kind(int kind, F &&f) {
  switch (kind) {
    case RPU_DEVICE_LINEAR_STEP: f(std::integral_constant<int, RPU_DEVICE_LINEAR_STEP>()); break;
    case RPU_DEVICE_SOFT_BOUNDS_REFERENCE:
      f(std::integral_constant<int, RPU_DEVICE_SOFT_BOUNDS_REFERENCE>());
      break;
    case RPU_DEVICE_EXP_STEP: f(std::integral_constant<int, RPU_DEVICE_EXP_STEP>()); break;
    case RPU_DEVICE_POW_STEP: f(std::integral_constant<int, RPU_DEVICE_POW_STEP>()); break;
    case RPU_DEVICE_POW_STEP_REFERENCE:
      f(std::integral_constant<int, RPU_DEVICE_POW_STEP_REFERENCE>());
      break;
    case RPU_DEVICE_PIECEWISE_STEP: f(std::integral_constant<int, RPU_DEVICE_PIECEWISE_STEP>()); break;
    default: f(std::integral_constant<int, RPU_DEVICE_CONSTANT_STEP>());
  }
}

/* One-slot samples listing fewer elements than this are applied one element at a time. */
#define RPU_SHORT_LIST 8

/* Pairs whose pulse chains advance side by side in step 2 (two AVX-512 vectors of float). */
#define RPU_PULSE_LANES 32
/* Longer chains (BL > 64) run one pair at a time. */
#define RPU_LANE_MAX_PULSES 64

/* What a transfer compound reads of this row after sample b, n_record entries per sample (-1:
 * none), recorded in the update's pass so that A need not stop for the reads. By column
 * (record_rows == 0, column transfer): entry r names a column, whose weight in this row goes to
 * record_out[(b n_record + r) record_stride] (the caller points record_out at this row's element
 * of the first record). By row (row transfer): entry r names a row; when it is this one (`row`),
 * the whole row goes to record_out + (b n_record + r) record_stride. */
template <typename T>
static inline void rpu_record_sample(const T *stored, long x_size, long b, long row,
                                     const int *record_at, int n_record, int record_rows,
                                     T *record_out, long record_stride) {
  for (int r = 0; r < n_record; ++r) {
    const int at = record_at[b * n_record + r];
    T *out = record_out + (b * n_record + r) * record_stride;
    if (!record_rows) {
      if (at >= 0) out[0] = stored[at];
    } else if (at == row) {
      for (long j = 0; j < x_size; ++j) out[j] = stored[j];
    }
  }
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
 * dependency chain. Measured at 1024 x 1024, batch 100, about 4x faster. A one-slot sample
 * whose list covers much of the row (rpu_sample_is_dense) is walked along the row instead,
 * from step 1c's x_fire (NULL when no sample has BL = 1); its pulses and their normals are the
 * same, only the memory access differs.
 *
 * `stored` holds the weights the pulses act on (the persistent ones of write-noise devices);
 * `visible` gets stored + write_noise xi where a pulse landed (`flags`: x_size scratch).
 * `one_sided` is 0 for an ordinary device and +1 / -1 for the g+ / g- device of a one-sided
 * unit cell, which keeps only its share of every count (rpu_one_sided_count, unit_cells.h);
 * those take the counting path, so that the k-th pulse that lands takes normal k there too. */
template <typename T, int KIND>
RPU_SIMD_CLONES
static void rpu_update_row_kind(T *stored, T *visible, long x_size, long m, int nw, int mode,
                                const int *x_cnt, const int *x_idx, const rpu_uint64 *x_words,
                                const signed char *x_sgn, const T *x_val,
                                const signed char *x_fire, const rpu_uint64 *d_train,
                                const signed char *d_sign,
                                const T *d_dense, const int *bl, int lr_sign, int one_sided,
                                const rpu_device_globals<T> &g, const rpu_device_row<T> &h,
                                T write_noise, int needs_noise, unsigned char *flags,
                                int *pair_j, int *pair_n, int *pair_off, int *pair_order,
                                rpu_pulse_noise<T> &noise,
                                const int *record_at, int n_record, int record_rows,
                                T *record_out, long record_stride) {
  const int write = visible != stored;
  if (write)
    for (long j = 0; j < x_size; ++j) flags[j] = 0;
  const T *normals = noise.normals;
  const long chunk = noise.chunk;
  int by_column_clear = 0;
  for (long b = 0; b < m; ++b) {
    /* `continue` below ends the sample's work and lands after this block, where a transfer
     * compound records the weight it will read after this sample. */
    do {
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
    if (mode == 0 && blb == 1 && one_sided == 0) {
      /* One slot: every element on the list fires in it, so each pair pulses exactly once
       * (the common case under BL management with small lr). No counting pass needed. */
      const int dense = x_fire != 0 && rpu_sample_is_dense(cnt, x_size);
      for (long first = 0; first < cnt; first += chunk) {
        const long len = cnt - first < chunk ? cnt - first : chunk;
        if (needs_noise) noise.fill(first, len, (rpu_uint64)b);
        const int *idx_c = idx + first;
        if (dense) {
          /* the columns from the chunk's first listed element to its last take their pulses in
           * one pass. A sample in one chunk: its span widened to whole vectors (columns outside
           * it do not fire), so that the loop runs without a scalar start or remainder; a chunk
           * of a longer sample must keep to its own span, as the columns beyond it fire in the
           * other chunks. */
          long j0 = idx_c[0], j1 = idx_c[len - 1] + 1;
          if (len == cnt) {
            j0 &= ~(RPU_DENSE_ALIGN - 1L);
            j1 = (j1 + RPU_DENSE_ALIGN - 1) & ~(RPU_DENSE_ALIGN - 1L);
            j1 = j1 < x_size ? j1 : x_size;
          }
          T *xi = noise.by_column;
          if (needs_noise) {
            rpu_normals_by_column(xi, x_fire + b * x_size, j0, j1, normals);
          } else if (!by_column_clear) {
            /* finite values everywhere: the blend discards the columns that do not fire, but
             * their arithmetic still runs */
            for (long j = 0; j < x_size; ++j) xi[j] = (T)0;
            by_column_clear = 1;
          }
          rpu_dense_pulses<T, KIND>(stored, j0, j1, x_fire + b * x_size, xi, sd, g, h, flags,
                                    write);
          continue;
        }
        const signed char *xs_c = xs + first;
        if (len < RPU_SHORT_LIST) {
          /* a few elements (a transfer's write has one): one at a time, where the vector loop
           * below spends more on its set-up than on them */
          for (long t = 0; t < len; ++t) {
            const long j = idx_c[t];
            const T xi = needs_noise ? normals[t] : (T)0;
            stored[j] = rpu_device_pulse<T, KIND>(g, h, j, stored[j], xs_c[t] * sd > 0, xi);
          }
        } else {
          /* the elements of one sample are distinct: no iteration reads what another wrote,
           * so the loop runs as gathers and scatters on SIMD hardware */
#pragma GCC ivdep
          for (long t = 0; t < len; ++t) {
            const long j = idx_c[t];
            const T xi = needs_noise ? normals[t] : (T)0;
            stored[j] = rpu_device_pulse<T, KIND>(g, h, j, stored[j], xs_c[t] * sd > 0, xi);
          }
        }
        if (write)
          for (long t = 0; t < len; ++t) flags[idx_c[t]] = 1;
      }
      continue;
    }
    /* Pass 1, branch-free: the pairs that pulse, with their signed pulse counts (> 0: down). */
    long np = 0;
    if (mode == 0 && nw == 1 && one_sided == 0) {
      const rpu_uint64 d0 = db[0];
      for (long t = 0; t < cnt; ++t) {
        const int n = __builtin_popcountll(xw[t] & d0);
        pair_j[np] = idx[t];
        pair_n[np] = xs[t] * sd > 0 ? n : -n;
        np += n > 0;
      }
    } else {
      for (long t = 0; t < cnt; ++t) {
        int c;
        if (mode == 0) {
          int n = 0;
          for (int w = 0; w < nw; ++w) n += __builtin_popcountll(xw[t * nw + w] & db[w]);
          c = xs[t] * sd > 0 ? n : -n;
        } else {
          c = rpu_dense_coincidences(xv[t], cd, blb, mode == 1);
        }
        c = rpu_one_sided_count(c, one_sided);
        pair_j[np] = idx[t];
        pair_n[np] = c;
        np += c != 0;
      }
    }
    if (np == 0) continue;
    /* Pass 2: the pulses. Pairs are independent within the sample, but the pulses of one pair
     * form a chain through its weight (each needs the last one's result). Chains of up to
     * RPU_PULSE_LANES pairs advance side by side, one pulse each per step, so that SIMD lanes
     * (and the out-of-order core) overlap them; a pair whose count is done keeps its weight.
     * The k-th pulse of the sample (pairs in list order) takes normal k, as one pair at a time
     * would. A group costs as many steps as its longest chain, so the pairs of a window (as
     * many consecutive pairs as fit the noise buffer) are first ordered by count: with BL = 31
     * the counts spread from 1 to 31, and groups of neighbours in list order took about twice
     * the steps of groups of similar counts. */
    long k = 0;
    for (long u0 = 0; u0 < np;) {
      const int c0 = pair_n[u0];
      const int n0 = c0 > 0 ? c0 : -c0;
      if (n0 > RPU_LANE_MAX_PULSES || n0 + 3 > chunk) {
        /* one pair with a long chain (BL > 64): alone, its normals chunk by chunk */
        const long j = pair_j[u0];
        T w = stored[j];
        for (long first = 0; first < n0; first += chunk - 4) {
          const long len = n0 - first < chunk - 4 ? n0 - first : chunk - 4;
          const long f0 = (k + first) & ~3L;
          if (needs_noise) noise.fill(f0, len + (k + first - f0), (rpu_uint64)b);
          for (long p = 0; p < len; ++p)
            w = rpu_device_pulse<T, KIND>(g, h, j, w, c0 > 0,
                                          needs_noise ? normals[k + first - f0 + p] : (T)0);
        }
        stored[j] = w;
        if (write) flags[j] = 1;
        k += n0;
        u0 += 1;
        continue;
      }
      /* the window [u0, u1): each pair's first normal (list order), then the pairs by count */
      long u1 = u0, window_total = 0;
      int per_count[RPU_LANE_MAX_PULSES + 2] = {0};
      while (u1 < np) {
        const int c = pair_n[u1];
        const int n = c > 0 ? c : -c;
        if (n > RPU_LANE_MAX_PULSES || window_total + n + 3 > chunk) break;
        pair_off[u1 - u0] = (int)window_total;
        window_total += n;
        ++per_count[n + 1];
        ++u1;
      }
      for (int n = 1; n <= RPU_LANE_MAX_PULSES + 1; ++n) per_count[n] += per_count[n - 1];
      for (long u = u0; u < u1; ++u) {
        const int c = pair_n[u];
        pair_order[per_count[c > 0 ? c : -c]++] = (int)(u - u0);
      }
      const long f0 = k & ~3L;
      if (needs_noise) noise.fill(f0, window_total + (k - f0), (rpu_uint64)b);
      const T *nz = normals + (k - f0);
      for (long g0 = 0; g0 < u1 - u0; g0 += RPU_PULSE_LANES) {
        const int nl = u1 - u0 - g0 < RPU_PULSE_LANES ? (int)(u1 - u0 - g0) : RPU_PULSE_LANES;
        int off[RPU_PULSE_LANES], cnt[RPU_PULSE_LANES], dn[RPU_PULSE_LANES];
        long lane_j[RPU_PULSE_LANES];
        int max_n = 0;
        for (int l = 0; l < RPU_PULSE_LANES; ++l) {
          /* idle lanes repeat the group's first pair with no pulses (their results are
           * discarded) */
          const int w = pair_order[g0 + (l < nl ? l : 0)];
          const int c = pair_n[u0 + w];
          lane_j[l] = pair_j[u0 + w];
          off[l] = l < nl ? pair_off[w] : 0;
          cnt[l] = l < nl ? (c > 0 ? c : -c) : 0;
          dn[l] = l < nl && c > 0;
          max_n = cnt[l] > max_n ? cnt[l] : max_n;
        }
        /* the lanes' hidden parameters, gathered once; the pulse rule then reads lane l */
        T lw[RPU_PULSE_LANES], lb_max[RPU_PULSE_LANES], lb_min[RPU_PULSE_LANES],
            ls_up[RPU_PULSE_LANES], ls_down[RPU_PULSE_LANES], l_a[RPU_PULSE_LANES],
            l_b[RPU_PULSE_LANES], l_c[RPU_PULSE_LANES];
        rpu_device_row<T> hl = {lb_max, lb_min, ls_up, ls_down, 0, 0, 0, 0, 0};
        if (h.slope_up) { hl.slope_up = l_a; hl.slope_down = l_b; }
        if (h.gamma_up) { hl.gamma_up = l_a; hl.gamma_down = l_b; }
        if (h.reference) hl.reference = l_c;
        for (int l = 0; l < RPU_PULSE_LANES; ++l) {
          const long j = lane_j[l];
          lw[l] = stored[j];
          lb_max[l] = h.b_max[j];
          lb_min[l] = h.b_min[j];
          ls_up[l] = h.s_up[j];
          ls_down[l] = h.s_down[j];
          if (h.slope_up) { l_a[l] = h.slope_up[j]; l_b[l] = h.slope_down[j]; }
          if (h.gamma_up) { l_a[l] = h.gamma_up[j]; l_b[l] = h.gamma_down[j]; }
          if (h.reference) l_c[l] = h.reference[j];
        }
        /* each step's normals for all lanes (a lane past its count repeats its last one, which
         * it then discards); without noise, a row of zeros */
        T lane_xi[RPU_PULSE_LANES];
        int last[RPU_PULSE_LANES], at[RPU_PULSE_LANES];
        for (int l = 0; l < RPU_PULSE_LANES; ++l) {
          last[l] = cnt[l] > 0 ? cnt[l] - 1 : 0;
          lane_xi[l] = (T)0;
        }
        for (int p = 0; p < max_n; ++p) {
          if (needs_noise) {
            for (int l = 0; l < RPU_PULSE_LANES; ++l) at[l] = off[l] + (p < last[l] ? p : last[l]);
            for (int l = 0; l < RPU_PULSE_LANES; ++l) lane_xi[l] = nz[at[l]];
          }
          const T *xi = lane_xi;
#pragma GCC ivdep
          for (int l = 0; l < RPU_PULSE_LANES; ++l) {
            const T next = rpu_device_pulse<T, KIND>(g, hl, l, lw[l], dn[l], xi[l]);
            lw[l] = p < cnt[l] ? next : lw[l];
          }
        }
        for (int l = 0; l < nl; ++l) {
          stored[lane_j[l]] = lw[l];
          if (write) flags[lane_j[l]] = 1;
        }
      }
      k += window_total;
      u0 = u1;
    }
    } while (0);
    if (record_at != 0)
      rpu_record_sample(stored, x_size, b, (long)noise.row, record_at, n_record, record_rows,
                        record_out, record_stride);
  }
  if (write) rpu_write_noise_row(stored, visible, flags, x_size, write_noise, noise.seed, noise.row,
                                 noise.op);
}

/* Step 2 for weight row `row`: the d trains of this row's element across all samples (from
 * the column d_col of D, stride d_stride), then the device family's instantiation of the row
 * update. Scratch: d_train (m * nw), d_sign (m), d_dense (m), prob (m), words (4 m) for the
 * trains; normals and scratch (chunk each) for the pulse noise; flags, pair_j, pair_n,
 * pair_off, pair_order (x_size each). */
template <typename T>
static void rpu_update_row(T *stored, T *visible, long x_size, long m, int nw, int mode,
                           const int *x_cnt, const int *x_idx, const rpu_uint64 *x_words,
                           const signed char *x_sgn, const T *x_val,
                           const signed char *x_fire, const T *d_col,
                           long d_stride, const T *a_scales, const int *bl, T d_res,
                           int sto_round, int lr_sign, int one_sided,
                           const rpu_device_globals<T> &g,
                           const rpu_device_row<T> &h, T write_noise, int needs_noise,
                           unsigned char *flags, T *normals, rpu_uint32 *scratch, long chunk,
                           T *by_column, T *first_normals, int *first_samples,
                           rpu_uint64 *d_train, signed char *d_sign, T *d_dense, T *prob,
                           rpu_uint32 *words, int *pair_j, int *pair_n, int *pair_off,
                           int *pair_order, rpu_uint64 seed,
                           rpu_uint64 noise_seed, rpu_uint64 row, rpu_uint64 op,
                           const int *record_at, int n_record, int record_rows, T *record_out,
                           long record_stride) {
  rpu_pulse_trains(d_col, d_stride, m, a_scales, bl, 1, d_res, sto_round, nw, mode, d_train,
                   d_sign, d_dense, prob, words, seed, row, op, RPU_RNG_D_TRAIN,
                   RPU_RNG_D_PROB_ROUND);
  rpu_pulse_noise<T> noise = {normals, scratch, chunk, noise_seed, row, op, by_column,
                              first_normals, first_samples, 0, 0};
  if (needs_noise && mode == 0 && one_sided == 0) {
    /* the one-slot samples that pulse at most four weights of this row: their one block of
     * normals, drawn ahead together (the train words are spent, so they serve as scratch) */
    long n_first = 0;
    for (long b = 0; b < m; ++b) {
      rpu_uint64 any = 0;
      for (int w = 0; w < nw; ++w) any |= d_train[b * nw + w];
      /* branch-free: whether this row's d line fires is a coin flip per sample */
      first_samples[n_first] = (int)b;
      n_first += (any != 0) & (bl[b] == 1) & (x_cnt[b] >= 1) & (x_cnt[b] <= 4);
    }
    noise.draw_first_blocks(first_samples, n_first, words);
  }
  rpu_with_device_kind(g.kind, [&](auto kind) {
    rpu_update_row_kind<T, decltype(kind)::value>(
        stored, visible, x_size, m, nw, mode, x_cnt, x_idx, x_words, x_sgn, x_val, x_fire, d_train,
        d_sign, d_dense, bl, lr_sign, one_sided, g, h, write_noise, needs_noise, flags, pair_j,
        pair_n, pair_off, pair_order, noise, record_at, n_record, record_rows, record_out,
        record_stride);
  });
}

/* A transfer's write: a pulsed update in which every sample's x is one-hot and every line that
 * fires does so with certainty (BL = 1, probabilities of 1 or more after quantisation), so that
 * each sample gives one pulse to every row whose d is non-zero, in the column of its x. This is
 * what rpu_update_row does with such a batch, pulse for pulse and normal for normal; it visits
 * only the pulses, where rpu_update_row makes the trains of every line of every sample and walks
 * every (row, sample) pair, which cost a c-TTv2 write at 256 x 256 (100 samples, ~3800 pulses)
 * 290 of its 450 us on one thread even with all inputs zero.
 *
 * rpu_certain_one_hot: x_col[b] = the column of sample b's one non-zero x, x_sgn[b] its sign;
 * returns 0 (the general path must run) unless every sample has exactly one non-zero x, with
 * probability scale * |x| >= 1 after quantisation to res (deterministic rounding only). */
template <typename T>
static int rpu_certain_one_hot(const T *X, long m, long x_size, const double *scales, T res,
                               int *x_col, signed char *x_sgn) {
  for (long b = 0; b < m; ++b) {
    const T *xb = X + b * x_size;
    long col = -1;
    for (long j = 0; j < x_size; ++j) {
      if (xb[j] == (T)0) continue;
      if (col >= 0) return 0;
      col = j;
    }
    if (col < 0) return 0;
    const T v = xb[col];
    if (!(rpu_quantize_probability((T)scales[b] * rpu_fabs(v), res, (T)0) >= (T)1)) return 0;
    x_col[b] = (int)col;
    x_sgn[b] = (signed char)((v > (T)0) - (v < (T)0));
  }
  return 1;
}

/* Whether every non-zero d (m x d_size, row-major) fires with certainty: scales[b] |d| >= 1
 * after quantisation to res. */
template <typename T>
static int rpu_certain_lines(const T *D, long m, long d_size, const T *scales, T res) {
  for (long b = 0; b < m; ++b)
    for (long i = 0; i < d_size; ++i) {
      const T v = D[b * d_size + i];
      if (v != (T)0 && !(rpu_quantize_probability(scales[b] * rpu_fabs(v), res, (T)0) >= (T)1))
        return 0;
    }
  return 1;
}

/* Whether a transfer's write given by pulse counts fires with certainty everywhere: the x line
 * of every sample (x = 1: x_scales[b] >= 1 after quantisation to x_res), and every non-zero
 * count n as the d line -n (d_scales[b] |n| >= 1 after quantisation to d_res). counts: rows x m,
 * row-major (a row's counts of the m samples side by side). */
template <typename T>
static int rpu_certain_counts(const int *counts, long rows, long m, const T *x_scales,
                              T x_res, const T *d_scales, T d_res) {
  for (long b = 0; b < m; ++b)
    if (!(rpu_quantize_probability(x_scales[b] * (T)1, x_res, (T)0) >= (T)1)) return 0;
  for (long i = 0; i < rows; ++i)
    for (long b = 0; b < m; ++b) {
      const int n = counts[i * m + b];
      if (n != 0 &&
          !(rpu_quantize_probability(d_scales[b] * rpu_fabs(-(T)n), d_res, (T)0) >= (T)1))
        return 0;
    }
  return 1;
}

/* The write on weight row `row` (see above). d_col[b * d_stride] is the row's d in sample b.
 * Sample b's pulse is the first of the row in that sample, so it takes normal 0 of Philox
 * (0, row, op, PULSE_NOISE | b), drawn for all the row's samples at once by rpu_pulse_noise's
 * draw_first_blocks, as in the general path. Scratch: flags (x_size), samples (m), words (4 m), normals (4 m). */
template <typename T, int KIND>
RPU_SIMD_CLONES
static void rpu_write_row_kind(T *stored, T *visible, long x_size, long m, const int *x_col,
                               const signed char *x_sgn, const T *d_col, long d_stride,
                               int lr_sign, const rpu_device_globals<T> &g,
                               const rpu_device_row<T> &h, T write_noise, int needs_noise,
                               unsigned char *flags, int *samples, rpu_uint32 *words, T *normals,
                               rpu_uint64 noise_seed, rpu_uint64 row, rpu_uint64 op) {
  long n = 0;
  for (long b = 0; b < m; ++b)
    if (d_col[b * d_stride] != (T)0) samples[n++] = (int)b;
  if (n == 0) return;
  if (needs_noise) {
    /* the normals the general path draws ahead for such samples (rpu_update_row) */
    rpu_pulse_noise<T> noise = {0, 0, 0, noise_seed, row, op, 0, normals, 0, 0, 0};
    noise.draw_first_blocks(samples, n, words);
  }
  const int write = visible != stored;
  if (write)
    for (long j = 0; j < x_size; ++j) flags[j] = 0;
  for (long k = 0; k < n; ++k) {
    const long b = samples[k];
    const T d = d_col[b * d_stride];
    const int sd = ((d > (T)0) - (d < (T)0)) * lr_sign;
    const long j = x_col[b];
    stored[j] = rpu_device_pulse<T, KIND>(g, h, j, stored[j], x_sgn[b] * sd > 0,
                                          needs_noise ? normals[4 * k] : (T)0);
    if (write) flags[j] = 1;
  }
  if (write) rpu_write_noise_row(stored, visible, flags, x_size, write_noise, noise_seed, row, op);
}

template <typename T>
static void rpu_write_row(T *stored, T *visible, long x_size, long m, const int *x_col,
                          const signed char *x_sgn, const T *d_col, long d_stride, int lr_sign,
                          const rpu_device_globals<T> &g, const rpu_device_row<T> &h,
                          T write_noise, int needs_noise, unsigned char *flags, int *samples,
                          rpu_uint32 *words, T *normals, rpu_uint64 noise_seed, rpu_uint64 row,
                          rpu_uint64 op) {
  rpu_with_device_kind(g.kind, [&](auto kind) {
    rpu_write_row_kind<T, decltype(kind)::value>(stored, visible, x_size, m, x_col, x_sgn, d_col,
                                                 d_stride, lr_sign, g, h, write_noise,
                                                 needs_noise, flags, samples, words, normals,
                                                 noise_seed, row, op);
  });
}

/* PulseType.NONE_WITH_DEVICE on one weight row: the exact SGD step of every sample in order,
 * each followed by the device bounds (aihwkit's updateVectorWithDevice). */
template <typename T>
RPU_SIMD_CLONES
static void rpu_exact_update_row(T *__restrict w, long x_size, long m, const T *__restrict X,
                                 const T *d_col, long d_stride, T lr, const T *__restrict b_min,
                                 const T *__restrict b_max) {
  for (long b = 0; b < m; ++b) {
    const T c = -lr * d_col[b * d_stride];
    if (c == (T)0) continue;
    const T *xb = X + b * x_size;
    for (long j = 0; j < x_size; ++j) w[j] = rpu_clip(w[j] + c * xb[j], b_min[j], b_max[j]);
  }
}

/* The chopped compounds' buffers (transfer.h) on one weight row, the batch's events in order:
 * the buffer row h (x_size values, the event's column cols[e] taken), the row's reads and
 * de-chopping signs at reads[e * stride] and chop[e * stride] (the (n_ev, d) arrays, offset to
 * the row), and its pulse counts counts[e]. Functions of their own, so that the row's pointers
 * stay in registers: the same loop written in Cython indexed every element through the
 * memoryviews' fields, which the OpenMP region keeps in memory (AGAD at 256 x 256, 100 events,
 * one thread: 108 us there, 63 us here). */
template <typename T>
static void rpu_chopped_buffer_row(T *h, const int *cols, const T *reads, const T *chop,
                                   long stride, const double *lr_scale, long n_ev, int max_n,
                                   T momentum, int forget_buffer, int no_buffer, int *counts) {
  for (long e = 0; e < n_ev; ++e)
    counts[e] = rpu_chopped_buffer_step(h + cols[e], reads[e * stride], chop[e * stride],
                                        (T)lr_scale[e], max_n, momentum, forget_buffer,
                                        no_buffer);
}

/* AGAD's buffer, running mean and reference rows (x_size values each); as above. */
template <typename T>
static void rpu_dynamic_buffer_row(T *h, T *mu, T *mu_past, const int *cols, const T *reads,
                                   const T *chop, long stride, const double *lr_scale,
                                   const signed char *switched, long n_ev, int max_n, T momentum,
                                   int forget_buffer, T cap, T beta, int *counts) {
  for (long e = 0; e < n_ev; ++e)
    counts[e] = rpu_dynamic_buffer_step(h + cols[e], mu + cols[e], mu_past + cols[e],
                                        reads[e * stride], chop[e * stride], (T)lr_scale[e],
                                        (int)switched[e], max_n, momentum, forget_buffer, cap,
                                        beta);
}

/* BufferedTransferCompound's buffer row (weight units); as above. */
template <typename T>
static void rpu_buffered_buffer_row(T *h, const int *cols, const T *reads, long stride, T lr,
                                    T thres, long n_ev, int max_n, T momentum, int forget_buffer,
                                    int *counts) {
  for (long e = 0; e < n_ev; ++e)
    counts[e] = rpu_buffered_buffer_step(h + cols[e], reads[e * stride], lr, thres, max_n,
                                         momentum, forget_buffer);
}

#endif /* RPU_CPU_ROWS_H */
