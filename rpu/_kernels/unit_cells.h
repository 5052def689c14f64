/* unit_cells.h -- the per-element rules of aihwkit's OneSidedUnitCell (spec training.md §4.3).
 *
 * A one-sided cell holds two devices per weight, g+ and g-, with W = w(g+) - w(g-); both only
 * ever move up. The pulse counts of the ordinary update (signed, > 0: "down", the weight
 * decreases) are split between them: the up counts go to g+, the down counts to g- as up pulses.
 * Both devices see the same coincidences (one set of pulse trains), each with its own pulse
 * noise. Every so often a refresh reads both devices; where both conductances are high, the
 * pair is reset and only the difference is written back.
 */
#ifndef RPU_UNIT_CELLS_H
#define RPU_UNIT_CELLS_H

#include "rpu_common.h"

/* The signed pulse count one device of a one-sided pair receives from the count c of the update
 * (c > 0: c down pulses). side 0: an ordinary device, c itself; side > 0 (g+): only the up
 * pulses (c < 0); side < 0 (g-): the down pulses, as as many up pulses (-c for c > 0). */
RPU_HD int rpu_one_sided_count(int c, int side) {
  if (side > 0) return c < 0 ? c : 0;
  if (side < 0) return c > 0 ? -c : 0;
  return c;
}

/* Whether the refresh re-writes an element, from the reads p (of g+) and m (of g-), normalised
 * by the devices' |w_max| (wp, wm): the larger one above `upper` and the smaller one above
 * `lower` (aihwkit's OneSidedRPUDevice::refreshWeights). */
template <typename T>
RPU_HD int rpu_refresh_needed(T p, T m, T wp, T wm, T upper, T lower) {
  const T pn = p / wp, mn = m / wm;
  return p > m ? (pn > upper && mn > lower) : (pn > lower && mn > upper);
}

#endif /* RPU_UNIT_CELLS_H */
