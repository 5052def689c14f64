/* pulse_trains.h -- from update inputs to pulse counts (aihwkit's bit-line makers).
 *
 * For one sample, update management has chosen a bit length BL and scales A (for d) and B (for
 * x). Every input element then becomes a pulse probability p = Q(scale |v|), quantised to the
 * probability resolution. The stochastic pulse types fire each of the BL time slots with
 * probability p, independently; a weight receives one device pulse for every slot in which both
 * its x line and its d line fire (a coincidence). The dense types skip the randomness and compute
 * the expected count directly.
 */
#ifndef RPU_PULSE_TRAINS_H
#define RPU_PULSE_TRAINS_H

#include "rpu_common.h"

/* Q(v): v quantised to the resolution res (res <= 0: no quantisation); round_shift is U - 1/2
 * for stochastic rounding and 0 otherwise. */
template <typename T>
RPU_HD T rpu_quantize_probability(T v, T res, T round_shift) {
  T q = res * rpu_rint(v / res + round_shift);
  return res > (T)0 ? q : v;
}

/* MEAN_COUNT: the signed pulse count sign(v) clip(rint(BL p), 0, BL) of one line. */
template <typename T>
RPU_HD T rpu_mean_count(T v, T p, int bl) {
  T c = rpu_clip(rpu_rint((T)bl * p), (T)0, (T)bl);
  return v < (T)0 ? -c : (v > (T)0 ? c : (T)0);
}

/* DETERMINISTIC_IMPLICIT: the signed fraction sign(v) clip(p, 0, 1) of one line. */
template <typename T>
RPU_HD T rpu_implicit_fraction(T v, T p) {
  T c = rpu_clip(p, (T)0, (T)1);
  return v < (T)0 ? -c : (v > (T)0 ? c : (T)0);
}

/* Coincidences of two dense lines: MEAN_COUNT rint(c_d / BL c_x), DETERMINISTIC_IMPLICIT
 * rint(BL q_d q_x). Positive counts are "down" pulses. */
template <typename T>
RPU_HD int rpu_dense_coincidences(T cx, T cd, int bl, int mean_count) {
  if (bl <= 0) return 0;
  return mean_count ? (int)rpu_rint(cd / (T)bl * cx) : (int)rpu_rint((T)bl * cd * cx);
}

#endif /* RPU_PULSE_TRAINS_H */
