/* weight_modifier.h -- per-element math of aihwkit 1.1.0's weight modifiers (hardware-aware training).
 *
 * Spec: shared/spec/inference.md sections 2.4-2.6. A modifier maps the clean tile weights W to the
 * weights W_fwd used by the forward and backward passes of the next mini-batch. The order of the
 * C++ CPU tile (RPUCuda's WeightModifier::apply) is kept:
 *
 *   1. amax = assumed_wmax, or max|W| (without the last column if copy_last_column), 0 -> 1;
 *      a reduction, done once by the caller (rpu/tiles/weight_modifier.py)
 *   2. the type transform of one element: rpu_wm_element (every type but PCM_NOISE) or
 *      rpu_wm_pcm (PCM_NOISE)
 *   3. drop connect: rpu_wm_drop, element set to 0 when its uniform is < pdrop
 *   4. copy_last_column: the caller leaves the last column untouched
 *
 * The draws are passed in, made by the caller as Philox of (key, op, purpose, row, column):
 * normals with RPU_RNG_MODIFIER_NOISE (PCM_NOISE: sub 0 programming, 1 drift, 2 read noise),
 * rounding uniforms with RPU_RNG_MODIFIER_ROUND, the PCM event coins with
 * RPU_RNG_MODIFIER_PCM_EVENTS (sub 0 reset, 1 and 2 the g_max coin and side, 3 and 4 the random
 * coin and level) and the drop-connect coins with RPU_RNG_DROP_CONNECT (rng_ids.h).
 *
 * Rounding is half away from zero (C round/roundf), as in aihwkit's C++ and CUDA modifiers (the IO
 * quantisers of mvm_io.h round half to even instead). The arithmetic follows the C++ CPU order
 * (w/amax first, then /res; products left to right), so float32 results equal aihwkit's bit for
 * bit for the deterministic types. PCM_NOISE exists only in aihwkit's CUDA tile; rpu_wm_pcm is
 * that kernel's formula, used here on both backends.
 */
#ifndef RPU_WEIGHT_MODIFIER_H
#define RPU_WEIGHT_MODIFIER_H

#include "rpu_common.h"

/* Modifier type codes; rpu/tiles/weight_modifier.py maps WeightModifierType members to them.
 * NONE is COPY (aihwkit's binding does the same). */
enum rpu_wm_type {
  RPU_WM_COPY = 0,
  RPU_WM_DISCRETIZE = 1,
  RPU_WM_MULT_NORMAL = 2,
  RPU_WM_ADD_NORMAL = 3,
  RPU_WM_DISCRETIZE_ADD_NORMAL = 4,
  RPU_WM_DOREFA = 5,
  RPU_WM_POLY = 6,
  RPU_WM_PROG_NOISE = 7,
  RPU_WM_PCM_NOISE = 8,
  RPU_WM_DROP_CONNECT = 9
};

/* The PCM_NOISE constants of aihwkit's CUDA kernel: programming-noise polynomial (uS) and t_read (s). */
#define RPU_WM_PCM_P0 0.26348
#define RPU_WM_PCM_P1 1.9650
#define RPU_WM_PCM_P2 -1.1731
#define RPU_WM_PCM_T_READ 250.0e-9

/* The resolved scalars of one modifier call (all in weight units unless noted). */
template <typename T>
struct rpu_wm_params {
  int type;          /* rpu_wm_type */
  T amax;            /* the weight scale (> 0) */
  T res;             /* quantisation step relative to amax (DoReFa: absolute); <= 0: none */
  T std_dev;         /* noise strength as configured */
  T dorefa_scale;    /* |dorefa_clip / tanh(amax)|, from rpu_wm_dorefa_scale */
  T g_max;           /* uS (ProgNoise, PCMNoise) */
  const T *coeffs;   /* polynomial of Poly / ProgNoise */
  int n_coeffs;
  /* PCM_NOISE */
  T pcm_zero_thres;  /* relative to std_dev * P0, as configured */
  T pcm_t;           /* pcm_t_inference + pcm_t0, s */
  T pcm_t0;          /* s */
  T pcm_read_factor; /* rpu_wm_pcm_read_factor(pcm_t) */
  T pcm_prob_at_reset;
  T pcm_prob_at_gmax;
  T pcm_prob_at_random;
};

/* Round half away from zero, and tanh, overloaded on the float type. */
RPU_HD float rpu_wm_round(float x) { return roundf(x); }
RPU_HD double rpu_wm_round(double x) { return round(x); }
RPU_HD float rpu_wm_tanh(float x) { return tanhf(x); }
RPU_HD double rpu_wm_tanh(double x) { return tanh(x); }

/* v quantised to multiples of res, rounding half away from zero; `shift` is U - 0.5 for stochastic
 * rounding (else 0). res <= 0 leaves v as it is. */
template <typename T>
RPU_HD T rpu_wm_quantize(T v, T res, T shift) {
  return res > (T)0 ? rpu_wm_round(v / res + shift) * res : v;
}

/* The DoReFa output scale |dorefa_clip / tanh(amax)|: a scalar per call. */
template <typename T>
RPU_HD T rpu_wm_dorefa_scale(T dorefa_clip, T amax) {
  return rpu_fabs(dorefa_clip / rpu_wm_tanh(amax));
}

/* The time part of PCM_NOISE's read noise, sqrt(ln((t + t_read) / (2 t_read))); t = t_inference + t0.
 * A scalar per call, computed in double as aihwkit's host code does. */
RPU_HD double rpu_wm_pcm_read_factor(double t) {
  return sqrt(log((t + RPU_WM_PCM_T_READ) / (2.0 * RPU_WM_PCM_T_READ)));
}

/* sum_k coeffs[k] a^k with running powers (the C++ evaluation order). */
template <typename T>
RPU_HD T rpu_wm_poly(T a, const T *coeffs, int n_coeffs) {
  T p = (T)1;
  T s = n_coeffs > 0 ? coeffs[0] : (T)0;
  for (int k = 1; k < n_coeffs; ++k) {
    p = p * a;
    s = s + coeffs[k] * p;
  }
  return s;
}

/* One element of every type but PCM_NOISE. xi: the standard normal of the element; shift: U - 0.5
 * for stochastic rounding, else 0. The caller calls it only for a type that acts (Discretize and
 * DoReFa with res > 0, the noise types with std_dev > 0, Poly/ProgNoise with coefficients,
 * DiscretizeAddNormal with res > 0 or std_dev > 0); COPY and DROP_CONNECT return w. */
template <typename T>
RPU_HD T rpu_wm_element(T w, const rpu_wm_params<T> &p, T xi, T shift) {
  const T amax = p.amax;
  switch (p.type) {
  case RPU_WM_DISCRETIZE:
    return amax * rpu_wm_quantize(w / amax, p.res, shift);
  case RPU_WM_MULT_NORMAL: {
    const T std = p.std_dev * amax;
    return w + w * std * xi;
  }
  case RPU_WM_ADD_NORMAL: {
    const T std = p.std_dev * amax;
    return w + std * xi;
  }
  case RPU_WM_DISCRETIZE_ADD_NORMAL: {
    const T std = p.std_dev * amax;
    return amax * rpu_wm_quantize(w / amax, p.res, shift) + std * xi;
  }
  case RPU_WM_DOREFA:
    return rpu_wm_quantize(rpu_wm_tanh(w) * p.dorefa_scale, p.res, shift);
  case RPU_WM_POLY: {
    const T sig = rpu_wm_poly(rpu_fabs(w) / amax, p.coeffs, p.n_coeffs) * p.std_dev;
    return w + amax * sig * xi;
  }
  case RPU_WM_PROG_NOISE: {
    /* Gaussian noise of polynomial std, mirrored at zero: the sign of w is kept. */
    const T sig = rpu_wm_poly(rpu_fabs(w) / amax, p.coeffs, p.n_coeffs) * (p.std_dev / p.g_max);
    const T v = rpu_fabs(w + amax * sig * xi);
    return w < (T)0 ? -v : v;
  }
  default:
    return w;
  }
}

/* One element of PCM_NOISE (aihwkit's CUDA kernel; drift *variation* only, no mean drift):
 * target conductance g = clip(w, +-amax) g_max / amax, zeroed below the threshold; stuck-device
 * events (reset, +-g_max, random level) on the coins u_*; programming noise, drift variation for
 * t > t0, read noise; back to weights with the sign of the target. xi_*: standard normals. */
template <typename T>
RPU_HD T rpu_wm_pcm(T w, const rpu_wm_params<T> &p, T xi_prog, T xi_drift, T xi_read, T u_reset,
                    T u_gmax, T u_gmax_side, T u_random, T u_random_level) {
  const T amax = p.amax, gmax = p.g_max, noise = p.std_dev;
  T g = rpu_clip(w, -amax, amax) * gmax / amax;
  const T zero_thres = p.pcm_zero_thres * noise * (T)RPU_WM_PCM_P0;
  g = rpu_fabs(g) > zero_thres ? g : (T)0;
  const int negative = g < (T)0;
  if (p.pcm_prob_at_reset > (T)0 && u_reset < p.pcm_prob_at_reset) g = (T)0;
  if (p.pcm_prob_at_gmax > (T)0 && u_gmax < p.pcm_prob_at_gmax)
    g = u_gmax_side > (T)0.5 ? g - gmax : g + gmax;
  if (p.pcm_prob_at_random > (T)0 && u_random < p.pcm_prob_at_random)
    g = g > (T)0 ? u_random_level * gmax : -(u_random_level * gmax);
  g = rpu_clip(g, -gmax, gmax);
  if (!(rpu_fabs(g) > (T)0)) return (T)0;  /* left at reset: not programmed */

  const T r = rpu_fabs(g / gmax);
  const T sig_prog = (T)RPU_WM_PCM_P0 + r * (T)RPU_WM_PCM_P1 + r * r * (T)RPU_WM_PCM_P2;
  const T g_prog = g + noise * sig_prog * xi_prog;
  const T r_prog = rpu_fabs(g_prog / gmax);
  T g_drift = g_prog;
  if (p.pcm_t > p.pcm_t0) {
    const T sig_drift = rpu_clip((T)-0.0125 * rpu_log(rpu_max(r_prog, (T)1e-6)) - (T)0.0059,
                                 (T)0.008, (T)0.045);
    const T nu = rpu_fabs(xi_drift * sig_drift);
    g_drift = g_prog * rpu_pow(p.pcm_t / p.pcm_t0, -nu);
  }
  /* t = t_inference + t0 > 0 always, so the read noise is always on. */
  const T q_s = rpu_min((T)0.0088 / rpu_max(rpu_pow(r_prog, (T)0.65), (T)1e-3), (T)0.2);
  const T g_final = g_drift + noise * rpu_fabs(g_drift) * (q_s * p.pcm_read_factor) * xi_read;
  const T w_final = rpu_fabs(g_final / gmax * amax);
  return negative ? -w_final : w_final;
}

/* Drop connect: 0 with probability pdrop (u: the element's uniform in [0, 1)). */
template <typename T>
RPU_HD T rpu_wm_drop(T w, T u, T pdrop) {
  return u < pdrop ? (T)0 : w;
}

#endif /* RPU_WEIGHT_MODIFIER_H */
