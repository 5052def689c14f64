/* pcm_noise.h -- per-element math of aihwkit 1.1.0's statistical PCM model (PCMLikeNoiseModel).
 *
 * Spec: shared/spec/inference.md section 4.3. All conductances are in uS, times in seconds. The
 * functions act on one device (one conductance of one slice of the converter); the loops over a
 * weight matrix live in _core.pyx (CPU) and, later, in gpu/kernels.cu. The standard normal `xi`
 * of each draw is passed in, drawn by the caller as Philox of (key, op, purpose, row, col) with
 * the purposes RPU_RNG_INF_PROG_NOISE / RPU_RNG_INF_DRIFT_NU / RPU_RNG_INF_READ_NOISE and the
 * converter slice as the sub-stream (rng_ids.h).
 *
 *   programming:  sigma_prog = (sum_k c_k (g_T/g_max)^k) * g_max / g_ref
 *                 g_prog     = max(0, g_T + prog_noise_scale * sigma_prog * xi)
 *   drift nu:     gr = max(|g_T/g_max|, 1e-7)
 *                 mu = clip(-0.0155 ln gr + 0.0244, 0.049, 0.1)
 *                 s  = clip(-0.0125 ln gr - 0.0059, 0.008, 0.045)
 *                 nu = drift_scale * |mu + s xi|
 *   drift + read: t = t_inference + t_0
 *                 g_d  = g_prog (t/t_0)^(-nu) if t > t_0 else g_prog
 *                 Q_s  = min(0.0088 / max((|g_prog|/g_max)^0.65, 1e-3), 0.2)
 *                 s_rd = Q_s sqrt(ln((t + t_read) / (2 t_read)))
 *                 g    = max(0, g_d + |g_d| read_noise_scale s_rd xi)
 *
 * The evaluation order follows aihwkit's torch code (the polynomial as running powers, not
 * Horner), so float32 results agree with aihwkit's up to libm differences in log/pow.
 */
#ifndef RPU_PCM_NOISE_H
#define RPU_PCM_NOISE_H

#include "rpu_common.h"

/* aihwkit's _ZERO_CLIP: the smallest relative conductance in the drift-exponent fit. */
#define RPU_PCM_ZERO_CLIP 1e-7

/* Std of the programming noise (uS) for a target conductance g_target (uS): the polynomial
 * sum_k coeff[k] (g_target/g_max)^k, k < n_coeff, scaled by g_max / g_max_ref. */
template <typename T>
RPU_HD T rpu_pcm_prog_std(T g_target, const T *coeff, int n_coeff, T g_max, T g_max_ref) {
  const T x = g_target / g_max;
  T mat = (T)1;
  T sig = n_coeff > 0 ? coeff[0] : (T)0;
  for (int k = 1; k < n_coeff; ++k) {
    mat = mat * x;
    sig = sig + mat * coeff[k];
  }
  return sig * (g_max / g_max_ref);
}

/* Mean and std of the (unfolded) drift exponent for a target conductance. */
template <typename T>
RPU_HD void rpu_pcm_nu_moments(T g_target, T g_max, T *mu, T *sigma) {
  const T gr = rpu_max(rpu_fabs(g_target / g_max), (T)RPU_PCM_ZERO_CLIP);
  const T lg = rpu_log(gr);
  *mu = rpu_clip((T)-0.0155 * lg + (T)0.0244, (T)0.049, (T)0.1);
  *sigma = rpu_clip((T)-0.0125 * lg - (T)0.0059, (T)0.008, (T)0.045);
}

/* A drift exponent from a mean and std: drift_scale |mu + sigma xi| (the folded normal of
 * aihwkit's PCM-like and state-independent models). */
template <typename T>
RPU_HD T rpu_nu_draw(T mu, T sigma, T drift_scale, T xi) {
  return rpu_fabs(mu + sigma * xi) * drift_scale;
}

/* t / t_0 with t = t_inference + t_0: the argument of the drift power law. A scalar per call; the
 * caller computes it once, in double (aihwkit forms it from Python floats). */
template <typename T>
RPU_HD T rpu_pcm_time_ratio(T t_inference, T t_0) {
  return (t_inference + t_0) / t_0;
}

/* The drift factor (t/t_0)^(-nu); 1 when t <= t_0 (t_inference <= 0: no drift yet). */
template <typename T>
RPU_HD T rpu_pcm_drift_factor(T nu, T time_ratio) {
  return time_ratio > (T)1 ? rpu_pow(time_ratio, -nu) : (T)1;
}

/* The time part of the 1/f read noise: sqrt(ln((t + t_read) / (2 t_read))), t = t_inference + t_0.
 * A scalar per call; the caller computes it once. */
template <typename T>
RPU_HD T rpu_pcm_read_time_factor(T t_inference, T t_0, T t_read) {
  const T t = t_inference + t_0;
  return rpu_sqrt(rpu_log((t + t_read) / ((T)2 * t_read)));
}

/* Relative read-noise std of a programmed conductance: Q_s(g_prog) * time_factor. */
template <typename T>
RPU_HD T rpu_pcm_read_std(T g_prog, T g_max, T time_factor) {
  const T p = rpu_max(rpu_pow(rpu_fabs(g_prog) / g_max, (T)0.65), (T)1e-3);
  const T q_s = rpu_min((T)0.0088 / p, (T)0.2);
  return q_s * time_factor;
}

/* PCMLikeNoiseModel.apply_drift_noise_to_conductance for one device: drift from the programmed
 * conductance with exponent nu, then read noise relative to |g_drift| (std from g_prog).
 * time_ratio = rpu_pcm_time_ratio(t_inference, t_0), time_factor = rpu_pcm_read_time_factor(...). */
template <typename T>
RPU_HD T rpu_pcm_drift_read(T g_prog, T nu, T time_ratio, T g_max, T time_factor,
                            T read_noise_scale, T xi) {
  const T g_d = g_prog * rpu_pcm_drift_factor(nu, time_ratio);
  const T sig = rpu_pcm_read_std(g_prog, g_max, time_factor);
  return rpu_max(g_d + rpu_fabs(g_d) * read_noise_scale * sig * xi, (T)0);
}

#endif /* RPU_PCM_NOISE_H */
