/* transfer.h -- the buffers of the chopped transfer compounds (TTv2, c-TTv2, AGAD).
 *
 * A transfer reads one column of the fast array A; each element's read, scaled by lr_scale (the
 * transfer learning rate in units of the buffer granularity) and de-chopped, accumulates in a
 * floating-point buffer h. Whole units leave the buffer as pulses on the slow array C: n =
 * trunc(h), at most max_n per transfer. The functions return n and update the buffer in place;
 * spec training.md §4.6 (chopped) and §4.7 (dynamic, AGAD).
 */
#ifndef RPU_TRANSFER_H
#define RPU_TRANSFER_H

#include "rpu_common.h"

/* What is left in the buffer after n pulses left it: forget_buffer keeps a fraction momentum of
 * it, otherwise the pulses are taken out (all of them for momentum 0). */
template <typename T>
RPU_HD T rpu_buffer_after_pulses(T h, int n, T momentum, int forget_buffer) {
  return forget_buffer ? h * momentum : h - ((T)1 - rpu_clip(momentum, (T)0, (T)1)) * (T)n;
}

/* The pulse count of a buffer value: trunc(h) clipped to [-max_n, max_n] once |h| >= 1. */
template <typename T>
RPU_HD int rpu_buffer_pulses(T h, int max_n) {
  if (!(rpu_fabs(h) >= (T)1)) return 0;  /* also 0 for NaN */
  return (int)rpu_clip(h, (T)-max_n, (T)max_n);  /* the cast truncates towards zero */
}

/* ChoppedTransferCompound: h = (no_buffer ? 0 : h) + chop * read * lr_scale, chop = -1 where
 * the input and output choppers differ. */
template <typename T>
RPU_HD int rpu_chopped_buffer_step(T *h, T read, T chop, T lr_scale, int max_n, T momentum,
                                   int forget_buffer, int no_buffer) {
  T hv = (no_buffer ? (T)0 : *h) + chop * read * lr_scale;
  int n = rpu_buffer_pulses(hv, max_n);
  if (n != 0) hv = rpu_buffer_after_pulses(hv, n, momentum, forget_buffer);
  *h = hv;
  return n;
}

/* DynamicTransferCompound (AGAD): the buffer takes the read minus the reference mu_past (the
 * running mean mu at the last chopper switch), de-chopped; mu follows the reads with weight
 * beta; the non-forgetting buffer is capped at +-cap when cap > 0. */
template <typename T>
RPU_HD int rpu_dynamic_buffer_step(T *h, T *mu, T *mu_past, T read, T chop, T lr_scale,
                                   int switched, int max_n, T momentum, int forget_buffer, T cap,
                                   T beta) {
  if (switched) *mu_past = *mu;
  T hv = *h + chop * (read - *mu_past) * lr_scale;
  int n = rpu_buffer_pulses(hv, max_n);
  if (n != 0) {
    if (forget_buffer) {
      hv = hv * momentum;
    } else {
      hv = hv - ((T)1 - momentum) * (T)n;
      if (cap > (T)0) hv = rpu_clip(hv, -cap, cap);
    }
  }
  *h = hv;
  *mu = ((T)1 - beta) * *mu + beta * read;
  return n;
}

/* BufferedTransferCompound (TTv2 without choppers, spec §4.5): the buffer holds weight units;
 * h = h + read * lr (lr = |lr_t|), n = trunc(h / thres) clipped to [-max_n, max_n], thres = the
 * receiving device's granularity times thres_scale; after pulses the buffer keeps h * momentum
 * (forget_buffer) or gives up (1 - clip(momentum, 0, 1)) n thres. */
template <typename T>
RPU_HD int rpu_buffered_buffer_step(T *h, T read, T lr, T thres, int max_n, T momentum,
                                    int forget_buffer) {
  T hv = *h + read * lr;
  int n = rpu_buffer_pulses(hv / thres, max_n);
  if (n != 0)
    hv = forget_buffer ? hv * momentum
                       : hv - ((T)1 - rpu_clip(momentum, (T)0, (T)1)) * (T)n * thres;
  *h = hv;
  return n;
}

/* The running maxima of |x| and |d| that auto-scale the chopped compounds' fast learning rate
 * (aihwkit's updateAutoScale, in the tile's type T): while the running value is <= 0 it takes the
 * sample's value, then positive values enter an exponential moving average with weight tau.
 * out[b] is the running value after sample b. A sequential recursion over the m samples of a
 * batch, run on the host. */
template <typename T>
RPU_HD void rpu_running_max_series(T running, const T *values, long n, T tau, T *out) {
  for (long b = 0; b < n; ++b) {
    const T v = values[b];
    if (running <= (T)0)
      running = v;
    else if (v > (T)0)
      running = ((T)1 - tau) * running + tau * v;
    out[b] = running;
  }
}

#endif /* RPU_TRANSFER_H */
