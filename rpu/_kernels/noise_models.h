/* noise_models.h -- per-element math of aihwkit 1.1.0's other inference noise models.
 *
 * Spec: shared/spec/inference.md section 4.4 (StateIndependent, ReRamWan2022, ReRamCMO, Hermes;
 * CustomDriftPCMLike draws nu with rpu_nu_draw of pcm_noise.h from interpolated moments). As in
 * pcm_noise.h, a function acts on one device of one conductance slice; conductances in uS, times
 * in seconds; the standard normals are drawn by the caller as Philox of (key, op, purpose, row,
 * col) with the slice as sub-stream: RPU_RNG_INF_PROG_NOISE for programming,
 * RPU_RNG_INF_DRIFT_NU for drift exponents, RPU_RNG_INF_READ_NOISE for read noise (and
 * ReRamWan's fresh sample at t_inference), RPU_RNG_INF_RELAXATION for ReRamCMO's conductance
 * relaxation (rng_ids.h).
 * The polynomial spreads use rpu_pcm_prog_std (ReRamCMO with g_max = g_max_ref = 1: its
 * polynomial is in uS, not normalised).
 *
 *   programming (all):   g_prog = g_T + scale * sigma(g_T) * xi, clipped at 0 except ReRamCMO
 *   StateIndependent:    g_d = g_prog (t/t_0)^-nu;  g = max(0, g_d + |g_d/g_max| rs tf xi)
 *   Hermes:              mu, sigma of nu and Q_s piecewise in g/g_max (num_devices 1 or 2);
 *                        g = max(0, g_d + |g_d| rs Q_s(g_prog) tf xi)
 *   ReRamCMO (t > 0):    g_d = g_prog + shift + relax_std xi_1
 *                        g   = clip(g_d + K log10(g_d) tf rs xi_2, g_min, g_max)
 * with tf = sqrt(ln((t + t_read)/(2 t_read))) the time factor of the 1/f read noise.
 */
#ifndef RPU_NOISE_MODELS_H
#define RPU_NOISE_MODELS_H

#include "rpu_common.h"
#include "pcm_noise.h"

RPU_HD float rpu_cmo_log10(float x) { return log10f(x); }
RPU_HD double rpu_cmo_log10(double x) { return log10(x); }

/* A programmed conductance: g_target + scale * sigma * xi, clipped at 0 when clip_zero (every
 * model but ReRamCMO, whose single device may go below g_min). */
template <typename T>
RPU_HD T rpu_noise_program(T g_target, T sigma, T scale, int clip_zero, T xi) {
  const T g = g_target + scale * sigma * xi;
  return clip_zero ? rpu_max(g, (T)0) : g;
}

/* StateIndependentNoiseModel: drift with exponent nu, then read noise relative to g_max. */
template <typename T>
RPU_HD T rpu_si_drift_read(T g_prog, T nu, T time_ratio, T g_max, T time_factor,
                           T read_noise_scale, T xi) {
  const T g_d = g_prog * rpu_pcm_drift_factor(nu, time_ratio);
  return rpu_max(g_d + rpu_fabs(g_d / g_max) * read_noise_scale * time_factor * xi, (T)0);
}

/* HermesNoiseModel: mean and std of the (unfolded) drift exponent. */
template <typename T>
RPU_HD void rpu_hermes_nu_moments(T g_target, T g_max, int num_devices, T *mu, T *sigma) {
  const T gr = rpu_max(rpu_fabs(g_target / g_max), (T)RPU_PCM_ZERO_CLIP);
  if (gr < (T)0.0945)
    *mu = rpu_clip((T)-0.0387 * rpu_log(gr) - (T)0.0182, (T)0.072, (T)0.13);
  else
    *mu = (T)-0.0436 * gr * gr - (T)0.0126 * gr + (T)0.0736;
  if (num_devices == 1) {
    if (gr < (T)0.3039)
      *sigma = rpu_clip((T)-0.0120 * rpu_log(gr) - (T)0.0023, (T)0.0124, (T)0.04);
    else
      *sigma = (T)-0.0165 * gr * gr + (T)0.0116 * gr + (T)0.0104;
  } else {
    if (gr < (T)0.3055)
      *sigma = rpu_clip((T)-0.0117 * rpu_log(gr) - (T)0.0057, (T)0.0091, (T)0.04);
    else
      *sigma = (T)-0.0118 * gr * gr + (T)0.0093 * gr + (T)0.0073;
  }
}

/* HermesNoiseModel's Q_s of a programmed conductance (no floor on |g|/g_max: at 0 the log
 * branch is clipped to its upper bound 0.04). */
template <typename T>
RPU_HD T rpu_hermes_q_s(T g_prog, T g_max, int num_devices) {
  const T gr = rpu_fabs(g_prog) / g_max;
  if (num_devices == 1) {
    if (gr < (T)0.1591) return rpu_clip((T)-0.0078 * rpu_log(gr) + (T)0.0038, (T)0.0179, (T)0.04);
    return (T)0.0664 * gr * gr * gr - (T)0.1352 * gr * gr + (T)0.0768 * gr + (T)0.0088;
  }
  if (gr < (T)0.16) return rpu_clip((T)-0.0117 * rpu_log(gr) - (T)0.0069, (T)0.015, (T)0.04);
  return (T)0.0069 * gr * gr * gr - (T)0.0280 * gr * gr + (T)0.0211 * gr + (T)0.0123;
}

/* HermesNoiseModel.apply_drift_noise_to_conductance for one device (PCMLike with Hermes' Q_s). */
template <typename T>
RPU_HD T rpu_hermes_drift_read(T g_prog, T nu, T time_ratio, T g_max, int num_devices,
                               T time_factor, T read_noise_scale, T xi) {
  const T g_d = g_prog * rpu_pcm_drift_factor(nu, time_ratio);
  const T sig = rpu_hermes_q_s(g_prog, g_max, num_devices) * time_factor;
  return rpu_max(g_d + rpu_fabs(g_d) * read_noise_scale * sig * xi, (T)0);
}

/* ReRamCMONoiseModel.apply_drift_noise_to_conductance for one device at t_inference > 0:
 * mean_shift = mean_0 ln(t) drift_scale and relax_std = (std_0 ln(t) + std_1) drift_scale are
 * per-call scalars, as is the time factor. aihwkit's log10 of a non-positive g_d gives NaN;
 * here the read noise is 0 there. */
template <typename T>
RPU_HD T rpu_cmo_drift_read(T g_prog, T mean_shift, T relax_std, T read_k, T time_factor,
                            T read_noise_scale, T g_min, T g_max, T xi_relax, T xi_read) {
  const T g_d = g_prog + mean_shift + xi_relax * relax_std;
  const T sig = g_d > (T)0 ? read_k * rpu_cmo_log10(g_d) * time_factor : (T)0;
  return rpu_clip(g_d + sig * xi_read * read_noise_scale, g_min, g_max);
}

/* The model codes of the dispatchers below (rpu._core.NOISE_DRIFT_MODELS). */
enum rpu_noise_drift_model {
  RPU_NOISE_DRIFT_STATE_INDEPENDENT = 0,
  RPU_NOISE_DRIFT_HERMES = 1,
  RPU_NOISE_DRIFT_RERAM_CMO = 2,
  RPU_NOISE_DRIFT_PCM = 3
};

/* The models whose drift exponent depends on the target conductance: the moments of nu for
 * PCMLike (model RPU_NOISE_DRIFT_PCM) or Hermes (RPU_NOISE_DRIFT_HERMES, with num_devices). */
template <typename T>
RPU_HD void rpu_nu_moments_of(int model, T g_target, T g_max, int num_devices, T *mu, T *sigma) {
  if (model == RPU_NOISE_DRIFT_HERMES)
    rpu_hermes_nu_moments(g_target, g_max, num_devices, mu, sigma);
  else
    rpu_pcm_nu_moments(g_target, g_max, mu, sigma);
}

/* generate_drift_coefficients of one device of those models: drift_scale |mu + sigma xi|. */
template <typename T>
RPU_HD T rpu_drift_nu_of(int model, T g_target, T g_max, int num_devices, T drift_scale, T xi) {
  T mu, sigma;
  rpu_nu_moments_of(model, g_target, g_max, num_devices, &mu, &sigma);
  return rpu_nu_draw(mu, sigma, drift_scale, xi);
}

/* Read-noise std relative to the drifted conductance, of a programmed conductance: PCMLike
 * (and CustomDriftPCMLike: RPU_NOISE_DRIFT_PCM) or Hermes; time_factor from
 * rpu_pcm_read_time_factor. */
template <typename T>
RPU_HD T rpu_read_std_of(int model, T g_prog, T g_max, int num_devices, T time_factor) {
  return model == RPU_NOISE_DRIFT_HERMES ? rpu_hermes_q_s(g_prog, g_max, num_devices) * time_factor
                                         : rpu_pcm_read_std(g_prog, g_max, time_factor);
}

/* Drift and read noise of one device for every model (the CPU loop _core.noise_drift and the
 * GPU kernel rpu_noise_drift_elements both call this). par holds the per-call scalars:
 * [0] time ratio (t_inference + t_0)/t_0, [1] read-noise time factor, [2] read_noise_scale,
 * [3] g_max, and for ReRamCMO [4] mean shift, [5] relaxation std, [6] K, [7] g_min. */
template <typename T>
RPU_HD T rpu_noise_drift_read(int model, int num_devices, const T *par, T g_prog, T nu,
                              T xi_relax, T xi_read) {
  switch (model) {
    case RPU_NOISE_DRIFT_STATE_INDEPENDENT:
      return rpu_si_drift_read<T>(g_prog, nu, par[0], par[3], par[1], par[2], xi_read);
    case RPU_NOISE_DRIFT_HERMES:
      return rpu_hermes_drift_read<T>(g_prog, nu, par[0], par[3], num_devices, par[1], par[2],
                                      xi_read);
    case RPU_NOISE_DRIFT_RERAM_CMO:
      return rpu_cmo_drift_read<T>(g_prog, par[4], par[5], par[6], par[1], par[2], par[7], par[3],
                                   xi_relax, xi_read);
    default:
      return rpu_pcm_drift_read<T>(g_prog, nu, par[0], par[3], par[1], par[2], xi_read);
  }
}

#endif /* RPU_NOISE_MODELS_H */
