/* pulsed_devices.h -- what one voltage pulse does to one resistive device.
 *
 * Each function takes the device's stored weight w, the pulse direction (down != 0: the weight
 * decreases; aihwkit's "s > 0"), the device's hidden parameters at that element, and the
 * cycle-to-cycle noise sample xi of this pulse, and returns the new stored weight, clipped to the
 * device's bounds [b_min, b_max]. The rules are aihwkit's RPUCuda update_once (spec training.md
 * §3.5); aihwkit's names are given in the comments. One function per device family:
 *
 *   ConstantStep            w +- s (1 + sigma xi)
 *   LinearStep / SoftBounds w +- (slope w + s)(1 + sigma xi)       (multiplicative noise)
 *                           w +- (slope w + s (1 + sigma xi))      (additive noise)
 *   SoftBoundsReference     soft bounds around a reference point
 *   ExpStep                 exponential step-size dependence on w
 *   PowStep(+Reference)     power-law step-size dependence on w
 *   PiecewiseStep           step size interpolated from a table of nodes
 */
#ifndef RPU_PULSED_DEVICES_H
#define RPU_PULSED_DEVICES_H

#include "rpu_common.h"

enum rpu_device_kind {
  RPU_DEVICE_CONSTANT_STEP = 0,
  RPU_DEVICE_LINEAR_STEP = 1,        /* also SoftBounds and SoftBoundsPmax */
  RPU_DEVICE_SOFT_BOUNDS_REFERENCE = 2,
  RPU_DEVICE_EXP_STEP = 3,
  RPU_DEVICE_POW_STEP = 4,
  RPU_DEVICE_POW_STEP_REFERENCE = 5,
  RPU_DEVICE_PIECEWISE_STEP = 6
};

/* ConstantStepDevice: w -= s_down (1 + sigma xi) or w += s_up (1 + sigma xi). */
template <typename T>
RPU_HD T rpu_pulse_constant_step(T w, int down, T s_up, T s_down, T sigma, T xi, T b_min, T b_max) {
  T dw = rpu_pick(down, s_up, -s_down);
  return rpu_clip(w + dw * ((T)1 + sigma * xi), b_min, b_max);
}

/* LinearStepDevice (SoftBounds is the case slope = -s/b): the step shrinks linearly with w. */
template <typename T>
RPU_HD T rpu_pulse_linear_step(T w, int down, T s_up, T s_down, T slope_up, T slope_down,
                               T sigma, T xi, int mult_noise, T b_min, T b_max) {
  const T slope = rpu_pick(down, slope_up, slope_down), s = rpu_pick(down, s_up, s_down);
  const T m = mult_noise ? (slope * w + s) * ((T)1 + sigma * xi) : slope * w + s * ((T)1 + sigma * xi);
  return rpu_clip(w + rpu_sign_of<T>(down) * m, b_min, b_max);
}

/* SoftBoundsReferenceDevice: soft bounds act on v = w + reference; the stored w stays
 * reference-free. */
template <typename T>
RPU_HD T rpu_pulse_soft_bounds_reference(T w, int down, T s_up, T s_down, T reference, T sigma,
                                         T xi, int mult_noise, T b_min, T b_max) {
  T v = w + reference;
  /* the bound the pulse moves towards; a bound on the wrong side of zero gives no softening */
  const T bound = rpu_pick(down, b_max, b_min), s = rpu_pick(down, s_up, s_down);
  const int soft = rpu_pick(down, (int)(b_max > (T)0), (int)(b_min < (T)0));
  const T a = rpu_pick(soft, (T)0, v / bound);
  const T m = mult_noise ? s * ((T)1 - a) * ((T)1 + sigma * xi) : s * ((T)1 - a + sigma * xi);
  v += rpu_sign_of<T>(down) * m;
  return rpu_clip(v, b_min, b_max) - reference;
}

/* ExpStepDevice (es_A_up, es_A_down, es_gamma_up, es_gamma_down, es_a, es_b): the step factor
 * 1 - A exp(+-gamma z) of the normalised position z = 2 a w / (b_max - b_min) + b. With
 * std_add or std_slope set, the noise is additive: sigma (|dw| + std_add + std_slope |w|) xi. */
template <typename T>
RPU_HD T rpu_pulse_exp_step(T w, int down, T s_up, T s_down, T sigma, T xi, T A_up, T A_down,
                            T gamma_up, T gamma_down, T a, T b, T std_add, T std_slope, T b_min,
                            T b_max) {
  T range = b_max - b_min;
  if (range <= (T)0) return w;  /* a collapsed device does not move */
  T z = (T)2 * a * w / range + b;
  if (sigma > (T)0 && (std_add != (T)0 || std_slope != (T)0)) {
    T dw = down ? -rpu_max((T)1 - A_down * rpu_exp(-gamma_down * z), (T)0) * s_down
                : rpu_max((T)1 - A_up * rpu_exp(gamma_up * z), (T)0) * s_up;
    w += dw + sigma * (rpu_fabs(dw) + std_add + std_slope * rpu_fabs(w)) * xi;
  } else if (down) {
    w -= rpu_max((T)1 - A_down * rpu_exp(-gamma_down * z), (T)0) * ((T)1 + sigma * xi) * s_down;
  } else {
    w += rpu_max((T)1 - A_up * rpu_exp(gamma_up * z), (T)0) * ((T)1 + sigma * xi) * s_up;
  }
  return rpu_clip(w, b_min, b_max);
}

/* PowStepDevice: steps scale with the distance to the bound it moves towards, to the power
 * gamma. PowStepReferenceDevice applies the same rule to v = w + reference. */
template <typename T>
RPU_HD T rpu_pulse_pow_step(T w, int down, T s_up, T s_down, T gamma_up, T gamma_down,
                            T reference, T sigma, T xi, T b_min, T b_max) {
  T range = b_max - b_min;
  if (range == (T)0) return w;
  T v = w + reference;
  /* distance to the bound the pulse moves towards; max(., 0): a reference can put v outside
   * the bounds before the first clip */
  const T dist = rpu_pick(down, b_max - v, v - b_min);
  const T s = rpu_pick(down, s_up, s_down), gamma = rpu_pick(down, gamma_up, gamma_down);
  v += rpu_sign_of<T>(down) * (s * rpu_pow(rpu_max(dist / range, (T)0), gamma) * ((T)1 + sigma * xi));
  return rpu_clip(v, b_min, b_max) - reference;
}

/* PiecewiseStepDevice: the step factor is interpolated linearly between n_nodes nodes spread
 * evenly over [b_min, b_max] (tables nodes_up / nodes_down). */
template <typename T>
RPU_HD T rpu_pulse_piecewise_step(T w, int down, T s_up, T s_down, T sigma, T xi,
                                  const T *nodes_up, const T *nodes_down, int n_nodes, T b_min,
                                  T b_max) {
  int n = n_nodes - 1;
  const T *nodes = down ? nodes_down : nodes_up;
  T factor;
  if (n <= 0 || b_max <= b_min) {
    factor = nodes[0];
  } else {
    T ws = rpu_max((w - b_min) / (b_max - b_min) * (T)n, (T)0);
    int k = (int)ws;
    k = k < n - 1 ? k : n - 1;
    T t = rpu_min(ws - (T)k, (T)1);
    factor = ((T)1 - t) * nodes[k] + t * nodes[k + 1];
  }
  if (down) {
    w -= s_down * factor * ((T)1 + sigma * xi);
  } else {
    w += s_up * factor * ((T)1 + sigma * xi);
  }
  return rpu_clip(w, b_min, b_max);
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

/* One pulse on element j of a row, with the device family fixed at compile time (the CPU core's
 * row loops and the GPU update kernel both dispatch through it). */
template <typename T, int KIND>
RPU_HD T rpu_device_pulse(const rpu_device_globals<T> &g, const rpu_device_row<T> &h,
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

#endif /* RPU_PULSED_DEVICES_H */
