/* mvm_io.h -- the per-element periphery of one analog matrix-vector product.
 *
 * An analog MVM is DAC -> crossbar -> ADC. The crossbar sum itself is a dense GEMM that goes to
 * BLAS (cuBLAS on the GPU); everything around it acts element by element and lives here:
 *
 *   rpu_dac_prepare      input scaling, quantisation, clipping, input noise, input asymmetry
 *   rpu_ir_drop_*        the simple IR-drop model on one output line
 *   rpu_v_offset         voltage offsets / series resistance on one output line
 *   rpu_adc_finalize     output non-linearity, asymmetry, noise, quantisation and clipping
 *
 * The order of operations is aihwkit's C++ (RPUCuda) CPU path: input noise is added after the
 * DAC clip (the CUDA path of aihwkit adds it before; rpu follows the CPU path on both backends).
 * Random numbers come in as arguments, already drawn by the caller from philox.h with the
 * element's own counter, so these functions are deterministic and easy to test.
 */
#ifndef RPU_MVM_IO_H
#define RPU_MVM_IO_H

#include "rpu_common.h"

/* DAC: scale, quantise to `step` (no quantisation when step <= 0), clip to +-bound, add the input
 * noise sample `noise`, and shrink negative values by (1 - asymmetry).
 * round_shift is U - 1/2 for stochastic rounding and 0 otherwise. */
/* Written with selects instead of branches so that row loops vectorise; with step == 0 the
 * discarded quotient is inf/NaN, which IEEE arithmetic computes without trapping. */
template <typename T>
RPU_HD T rpu_dac_prepare(T x, T scale, T step, T bound, T round_shift, T noise, T asymmetry) {
  T u = x * scale;
  T q = step * rpu_rint(u / step + round_shift);
  u = step > (T)0 ? q : u;
  u = rpu_clip(u, -bound, bound);
  u += noise;
  return u < (T)0 ? u * ((T)1 - asymmetry) : u;
}

/* IR drop, part 1: the cubic line-load factor c_i from the absolute current sum
 * a = (n / g_ratio) * sum_j |W_ij| |u_j|. */
template <typename T>
RPU_HD T rpu_ir_drop_factor(T abs_current, T n_in, T g_ratio) {
  T a = n_in / g_ratio * abs_current;
  return a * (a * ((T)0.05 * a - (T)0.2) + (T)0.5);
}

/* IR drop, part 2: the input weighting u'_j = u_j (1 - (1 - j/n)^2) of input j of n. */
template <typename T>
RPU_HD T rpu_ir_drop_input(T u, rpu_int64 j, rpu_int64 n) {
  T r = (T)1 - (T)j / (T)n;
  return u * ((T)1 - r * r);
}

/* Voltage offset o (>= 0) and series resistance rs on one output line. y_ref is
 * -v_offset_w_min * sum_j u_j (the implicit reference column); use_ref selects the branch with a
 * reference (v_offset_w_min != 0). r_max caps the series-resistance load. */
template <typename T>
RPU_HD T rpu_v_offset(T v, T o, T rs, T r_max, int use_ref, T y_ref) {
  if (!use_ref) {
    if (rs > (T)0) {
      return ((T)1 - o) * v / ((T)1 + rpu_min(rs * rpu_fabs(v), r_max));
    }
    return ((T)1 - o) * v;
  }
  if (rs > (T)0) {
    T vp = v + y_ref;
    return ((T)1 - o) * vp / ((T)1 + rpu_min(rs * rpu_fabs(vp), r_max)) -
           ((T)1 + o) * y_ref / ((T)1 + rpu_min(rs * rpu_fabs(y_ref), r_max));
  }
  return v * ((T)1 - o) - (T)2 * o * y_ref;
}

/* ADC. nonlinear selects the S-shaped output non-linearity nlf * v / (1 + |n v|) (n = the
 * line's non-linearity, nlf = the slope calibration factor); then negative outputs shrink by
 * (1 - asymmetry), the noise sample `noise` is added, the value is quantised to `step` (no
 * quantisation when step <= 0) and clipped to +-bound. *overflow gets bit 0 set when the value
 * exceeded +bound and bit 1 when it fell below -bound (branch-free, so row loops vectorise). */
template <typename T>
RPU_HD T rpu_adc_finalize(T v, int nonlinear, T n_line, T nlf, T asymmetry, T noise, T step,
                          T round_shift, T bound, int *overflow) {
  if (nonlinear) {
    v = nlf * v / ((T)1 + rpu_fabs(n_line * v));
  }
  v = v < (T)0 ? v * ((T)1 - asymmetry) : v;
  v += noise;
  T q = step * rpu_rint(v / step + round_shift);
  v = step > (T)0 ? q : v;
  *overflow |= (int)(v > bound) | ((int)(v < -bound) << 1);
  return rpu_clip(v, -bound, bound);
}

/* The noise-management factor from a vector's maximum m (max_j |x_j|, or max_j x_j for Max):
 * capped at thres when thres > 0, except where it feeds AverageAbsMax's running average, which
 * takes the raw maxima (aihwkit's computeNoiseManagement caps the other types only). */
RPU_HD double rpu_nm_cap(double m, double thres, int averaged) {
  return (!averaged && thres > 0 && m > thres) ? thres : m;
}

/* Noise management AbsMaxNPSum of one input vector x (n elements): the larger of
 * m = max_j |x_j| (capped at thres when thres > 0) and the expected output amplitude
 * v = max(sum of the positive x_j, -sum of the negative x_j) * assumed_wmax / out_bound
 * (out_bound infinite: 1), v capped at m / inp_step * max_bm_res when inp_step > 0.
 * The sums run in double in element order, so the CPU core (one row per thread) and the GPU
 * kernel (one thread per row) give the same bits. */
template <typename T>
RPU_HD double rpu_nm_abs_max_np_sum(const T *x, rpu_int64 n, double thres, double out_bound,
                                    double assumed_wmax, double inp_step, double max_bm_res) {
  double m = 0, s_pos = 0, s_neg = 0;
  for (rpu_int64 j = 0; j < n; ++j) {
    const double xv = (double)x[j];
    const double a = rpu_fabs(xv);
    if (a > m) m = a;
    if (xv > 0) {
      s_pos += xv;
    } else {
      s_neg += xv;
    }
  }
  m = rpu_nm_cap(m, thres, 0);
  const double b = out_bound <= 1.7976931348623157e308 ? out_bound : 1.0;
  double v = (s_pos > -s_neg ? s_pos : -s_neg) * assumed_wmax / b;
  if (inp_step > 0 && m / inp_step * max_bm_res < v) v = m / inp_step * max_bm_res;
  return m > v ? m : v;
}

#endif /* RPU_MVM_IO_H */
