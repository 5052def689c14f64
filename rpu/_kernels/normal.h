/* normal.h -- the logarithm and sine/cosine that turn uniforms into normals (Box-Muller).
 *
 * libm's logf/sincosf differ between glibc and CUDA in the last bits, and as calls they keep
 * GCC from vectorising the normal generator. These replacements use only +, -, *, / and
 * integer bit operations, all correctly rounded in IEEE arithmetic, without branches: the CPU
 * core (scalar or any SIMD width, built with -ffp-contract=off) and the GPU module (built with
 * --fmad=false) produce identical bits. Accuracy, measured on every 7th of the 2^24 inputs the
 * generator can produce: |log error| < 1e-6 absolute, |sin/cos error| < 1e-7; end to end, the
 * normals are within 5e-7 of a float64 Box-Muller of the same words (tests/test_rng.py) -- far
 * below the statistical resolution of any simulation that uses them.
 */
#ifndef RPU_NORMAL_H
#define RPU_NORMAL_H

#include "rpu_common.h"

/* Natural logarithm of a normal, positive float u. u = m 2^e with m in [sqrt(1/2), sqrt(2));
 * ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.1716, by its odd series to s^9. */
RPU_HD float rpu_log_poly(float u) {
  rpu_uint32 bits = rpu_float_bits(u);
  int e = (int)(bits >> 23) - 127;
  float m = rpu_bits_float((bits & 0x7fffffu) | 0x3f800000u);
  int big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  float f = m - 1.0f;
  float s = f / (2.0f + f);
  float s2 = s * s;
  float p = s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * 0.222222222f)));
  return (float)e * 0.693147182f + (2.0f * s + s * p);
}

/* sin(2 pi v) and cos(2 pi v) for v in [0, 1). The quarter-turn reduction w = 4v - rint(4v) is
 * exact; sin and cos of the remaining angle in [-pi/4, pi/4] come from Taylor polynomials
 * (degree 9 and 10), then the quadrant rotates them. */
RPU_HD void rpu_sincos_2pi(float v, float *s_out, float *c_out) {
  float w = 4.0f * v;
  float k = rpu_rint(w);
  float a = (w - k) * 1.57079633f;
  float a2 = a * a;
  float s = a * (1.0f + a2 * (-0.166666667f + a2 * (0.00833333333f +
                 a2 * (-0.000198412698f + a2 * 2.75573192e-6f))));
  float c = 1.0f + a2 * (-0.5f + a2 * (0.0416666667f + a2 * (-0.00138888889f +
                 a2 * (2.48015873e-5f + a2 * -2.75573192e-7f))));
  /* The quadrant q rotates (s, c): odd quadrants swap them, and the sine changes sign in
   * quadrants 2 and 3, the cosine in 1 and 2 (q = 4, from v just below 1, is quadrant 0). As a
   * swap and two sign-bit flips the rotation costs a third of the operations of picking one of
   * four values for each output (Box-Muller 0.60 -> 0.56 ns per normal, standalone, one core);
   * the values are the same. */
  const rpu_uint32 q = (rpu_uint32)(int)k;
  const int odd = (int)(q & 1u);
  const float s_q = rpu_pick(odd, s, c), c_q = rpu_pick(odd, c, s);
  *s_out = rpu_bits_float(rpu_float_bits(s_q) ^ ((q & 2u) << 30));
  *c_out = rpu_bits_float(rpu_float_bits(c_q) ^ (((q + 1u) & 2u) << 30));
}

#endif /* RPU_NORMAL_H */
