/* rpu_common.h -- the one portability layer under every kernel header.
 *
 * Every per-element function in rpu/_kernels/ is written once and compiled twice: by the host C++
 * compiler (through Cython, for the OpenMP CPU core) and by NVRTC (through CuPy's RawModule, for the
 * GPU backend). NVRTC opens no standard headers, so this file gives both compilers the same small
 * vocabulary: fixed-width integer typedefs, the RPU_HD function marker, and overloaded math
 * wrappers (rpu_log, rpu_sqrt, ...) that pick the float or double routine from the argument type,
 * so that templates over the weight dtype need no branches.
 */
#ifndef RPU_COMMON_H
#define RPU_COMMON_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define RPU_HD __host__ __device__ __forceinline__
#else
#define RPU_HD static inline
#endif

#if defined(__CUDACC_RTC__)
typedef unsigned int rpu_uint32;
typedef unsigned long long rpu_uint64;
typedef long long rpu_int64;
#else
#include <stdint.h>
#include <math.h>
typedef uint32_t rpu_uint32;
typedef uint64_t rpu_uint64;
typedef int64_t rpu_int64;
#endif

/* Math wrappers, overloaded on float and double. */
RPU_HD float rpu_log(float x) { return logf(x); }
RPU_HD double rpu_log(double x) { return log(x); }
RPU_HD float rpu_sqrt(float x) { return sqrtf(x); }
RPU_HD double rpu_sqrt(double x) { return sqrt(x); }
RPU_HD float rpu_cos(float x) { return cosf(x); }
RPU_HD double rpu_cos(double x) { return cos(x); }
RPU_HD float rpu_exp(float x) { return expf(x); }
RPU_HD double rpu_exp(double x) { return exp(x); }
RPU_HD float rpu_pow(float x, float y) { return powf(x, y); }
RPU_HD double rpu_pow(double x, double y) { return pow(x, y); }
RPU_HD float rpu_sin(float x) { return sinf(x); }
RPU_HD double rpu_sin(double x) { return sin(x); }
RPU_HD float rpu_fabs(float x) { return fabsf(x); }
RPU_HD double rpu_fabs(double x) { return fabs(x); }
RPU_HD float rpu_copysign(float x, float s) { return copysignf(x, s); }
RPU_HD double rpu_copysign(double x, double s) { return copysign(x, s); }

/* Round half to even, as C rint in the default rounding mode (what aihwkit's quantisers use).
 * Written as the add-and-subtract of 2^23 (2^52 for double) that IEEE round-to-nearest-even
 * performs exactly: the same bits on every compiler, and, unlike a libm call, vectorisable
 * without SSE4.1. Values at or beyond 2^23 are integers already. Needs strict IEEE semantics
 * (no -ffast-math), which both builds guarantee. */
RPU_HD float rpu_rint(float x) {
  const float big = 8388608.0f;
  float a = rpu_fabs(x);
  float r = (a + big) - big;
  return a < big ? rpu_copysign(r, x) : x;
}
RPU_HD double rpu_rint(double x) {
  const double big = 4503599627370496.0;
  double a = rpu_fabs(x);
  double r = (a + big) - big;
  return a < big ? rpu_copysign(r, x) : x;
}

/* Reinterpret float bits (for the exponent/mantissa split of rpu_log_poly). */
RPU_HD rpu_uint32 rpu_float_bits(float x) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return __float_as_uint(x);
#else
  union { float f; rpu_uint32 u; } v;
  v.f = x;
  return v.u;
#endif
}
RPU_HD float rpu_bits_float(rpu_uint32 x) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return __uint_as_float(x);
#else
  union { float f; rpu_uint32 u; } v;
  v.u = x;
  return v.f;
#endif
}

template <typename T> RPU_HD T rpu_min(T a, T b) { return a < b ? a : b; }
template <typename T> RPU_HD T rpu_max(T a, T b) { return a > b ? a : b; }
template <typename T> RPU_HD T rpu_clip(T v, T lo, T hi) { return rpu_min(rpu_max(v, lo), hi); }

/* `pick` (0 or 1) ? b : a, as a bit blend: no branch on the CPU (the pulse direction is a coin
 * flip per pulse, and a mispredicted branch costs more than the pulse itself), and a plain
 * blend in SIMD loops. */
RPU_HD float rpu_pick(int pick, float a, float b) {
  const rpu_uint32 m = 0u - (rpu_uint32)(pick != 0);
  return rpu_bits_float((rpu_float_bits(a) & ~m) | (rpu_float_bits(b) & m));
}
RPU_HD double rpu_pick(int pick, double a, double b) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return pick ? b : a;
#else
  union { double f; rpu_uint64 u; } va, vb;
  va.f = a;
  vb.f = b;
  const rpu_uint64 m = 0ull - (rpu_uint64)(pick != 0);
  va.u = (va.u & ~m) | (vb.u & m);
  return va.f;
#endif
}
RPU_HD int rpu_pick(int pick, int a, int b) { return pick ? b : a; }

/* +1 for pick == 0, -1 for pick == 1; exact, so w + rpu_sign_of(down) * m == (down ? w - m : w + m). */
template <typename T> RPU_HD T rpu_sign_of(int pick) { return (T)(1 - 2 * pick); }

#endif /* RPU_COMMON_H */
