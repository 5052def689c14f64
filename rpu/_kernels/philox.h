/* philox.h -- Philox-4x32-10 counter-based random numbers, and the uniforms and normals built on it.
 *
 * Design: rpu never keeps a generator state. A draw is the Philox-4x32-10 bijection (Salmon et
 * al., SC'11) applied to a 128-bit counter under a 64-bit key:
 *
 *   key     = the tile seed (64 bits)
 *   counter = (c0, c1, c2, c3) = (block index within the row, row (sample) index,
 *                                 operation counter, purpose id << 24 | sub-stream)
 *
 * so a number depends only on what it is for and where it lands, never on which thread or which
 * backend computes it. One Philox call yields four 32-bit words; element e of a row takes lane e & 3
 * of block e >> 2, for uniforms and normals alike.
 *
 * Uniforms are formed exactly as (r >> 8) * 2^-24, a value that every IEEE float represents, so
 * decisions taken on them (stochastic rounding, pulses, Bernoulli draws) agree bit for bit between
 * the CPU and the GPU. Normals use Box-Muller on two such uniforms with rpu's own polynomial log
 * and sincos (normal.h), so they agree bit for bit too.
 */
#ifndef RPU_PHILOX_H
#define RPU_PHILOX_H

#include "rpu_common.h"
#include "normal.h"

#define RPU_PHILOX_M0 0xD2511F53u
#define RPU_PHILOX_M1 0xCD9E8D57u
#define RPU_PHILOX_W0 0x9E3779B9u
#define RPU_PHILOX_W1 0xBB67AE85u

/* The Philox-4x32 bijection with 10 rounds. ctr and out may alias. */
RPU_HD void rpu_philox4x32_10(const rpu_uint32 *ctr, const rpu_uint32 *key, rpu_uint32 *out) {
  rpu_uint32 c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  rpu_uint32 k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    rpu_uint64 p0 = (rpu_uint64)RPU_PHILOX_M0 * c0;
    rpu_uint64 p1 = (rpu_uint64)RPU_PHILOX_M1 * c2;
    rpu_uint32 hi0 = (rpu_uint32)(p0 >> 32), lo0 = (rpu_uint32)p0;
    rpu_uint32 hi1 = (rpu_uint32)(p1 >> 32), lo1 = (rpu_uint32)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += RPU_PHILOX_W0;
    k1 += RPU_PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The four counter words of a draw; see the design note above. */
RPU_HD void rpu_rng_counter(rpu_uint32 *ctr, rpu_uint64 block, rpu_uint64 row, rpu_uint64 op,
                            int purpose, rpu_uint32 sub) {
  ctr[0] = (rpu_uint32)block;
  ctr[1] = (rpu_uint32)row;
  ctr[2] = (rpu_uint32)op;
  ctr[3] = ((rpu_uint32)purpose << 24) | (sub & 0xFFFFFFu);
}

RPU_HD void rpu_rng_key(rpu_uint32 *key, rpu_uint64 seed) {
  key[0] = (rpu_uint32)seed;
  key[1] = (rpu_uint32)(seed >> 32);
}

/* Exact uniform in [0, 1 - 2^-24]. */
template <typename T> RPU_HD T rpu_u01(rpu_uint32 r) {
  return (T)(r >> 8) * (T)5.9604644775390625e-08;
}

/* Exact uniform in (0, 1]: safe to take the logarithm of. */
template <typename T> RPU_HD T rpu_u01_open0(rpu_uint32 r) {
  return (T)((r >> 8) + 1u) * (T)5.9604644775390625e-08;
}

/* Four uniforms of one block. */
template <typename T>
RPU_HD void rpu_uniform4(rpu_uint64 seed, rpu_uint64 block, rpu_uint64 row, rpu_uint64 op,
                         int purpose, rpu_uint32 sub, T *out) {
  rpu_uint32 ctr[4], key[2], r[4];
  rpu_rng_counter(ctr, block, row, op, purpose, sub);
  rpu_rng_key(key, seed);
  rpu_philox4x32_10(ctr, key, r);
  out[0] = rpu_u01<T>(r[0]); out[1] = rpu_u01<T>(r[1]);
  out[2] = rpu_u01<T>(r[2]); out[3] = rpu_u01<T>(r[3]);
}

/* Box-Muller on one pair of raw words: z0 = rad cos(2 pi v), z1 = rad sin(2 pi v) with
 * rad = sqrt(-2 ln u), u from the first word in (0, 1], v from the second in [0, 1). Computed in
 * float with rpu_log_poly / rpu_sincos_2pi (normal.h): only correctly rounded IEEE operations,
 * so the CPU (scalar or SIMD) and the GPU give the same bits. float64 tiles use the same values. */
RPU_HD void rpu_box_muller(rpu_uint32 r0, rpu_uint32 r1, float *z0, float *z1) {
  float u = rpu_u01_open0<float>(r0);
  float v = rpu_u01<float>(r1);
  float rad = rpu_sqrt(-2.0f * rpu_log_poly(u));
  float s, c;
  rpu_sincos_2pi(v, &s, &c);
  *z0 = rad * c;
  *z1 = rad * s;
}

/* Four standard normals of one block: Box-Muller on the pairs (r0, r1) and (r2, r3). */
template <typename T>
RPU_HD void rpu_normal4(rpu_uint64 seed, rpu_uint64 block, rpu_uint64 row, rpu_uint64 op,
                        int purpose, rpu_uint32 sub, T *out) {
  rpu_uint32 ctr[4], key[2], r[4];
  float z[4];
  rpu_rng_counter(ctr, block, row, op, purpose, sub);
  rpu_rng_key(key, seed);
  rpu_philox4x32_10(ctr, key, r);
  rpu_box_muller(r[0], r[1], &z[0], &z[1]);
  rpu_box_muller(r[2], r[3], &z[2], &z[3]);
  out[0] = (T)z[0]; out[1] = (T)z[1]; out[2] = (T)z[2]; out[3] = (T)z[3];
}

/* The uniform of element `col` of a row: lane col & 3 of block col >> 2. */
template <typename T>
RPU_HD T rpu_uniform_at(rpu_uint64 seed, rpu_uint64 col, rpu_uint64 row, rpu_uint64 op,
                        int purpose, rpu_uint32 sub) {
  T v[4];
  rpu_uniform4<T>(seed, col >> 2, row, op, purpose, sub, v);
  return v[col & 3];
}

/* The standard normal of element `col` of a row: lane col & 3 of block col >> 2. */
template <typename T>
RPU_HD T rpu_normal_at(rpu_uint64 seed, rpu_uint64 col, rpu_uint64 row, rpu_uint64 op,
                       int purpose, rpu_uint32 sub) {
  T v[4];
  rpu_normal4<T>(seed, col >> 2, row, op, purpose, sub, v);
  return v[col & 3];
}

#endif /* RPU_PHILOX_H */
