/* update_management.h -- the bit length BL and the probability scales A (d side) and B (x side)
 * of one sample of a pulsed update: aihwkit's calculateBlAB followed by its update management
 * (spec training.md §2.3). rpu.tiles.update_management documents the rule; this is its
 * arithmetic: for a float64 tile in double, operation for operation as the NumPy formulas it
 * replaced; for a float32 tile in float, as aihwkit's. It runs on the host for every backend: a
 * batch has only m such samples,
 * and NumPy spent about 50 us on its two dozen array operations for m = 100, a sizeable share
 * of a compound's update at 256 x 256.
 */
#ifndef RPU_UPDATE_MANAGEMENT_H
#define RPU_UPDATE_MANAGEMENT_H

#include "rpu_common.h"

/* Where BL = ceil(lr / g) would pass this, it stops here: far past any length a tile can
 * simulate (rpu.tiles.update_management refuses more than MAX_BL), but in the range of a long,
 * so that the conversion is defined for any lr / g, Inf included. */
#define RPU_BL_CEILING 1.0e15

struct rpu_update_management_params {
  double granularity, um_grad_scale;
  int desired_bl, fixed_bl, update_bl_management, update_management;
  /* a float32 tile: the arithmetic in float (rpu_update_management_float) */
  int single_precision;
};

/* A float32 tile's BL, A and B, in float, operation for operation as aihwkit computes them
 * (its calculateBlAB and performUpdateManagement in the tile's type T). Where the exact result
 * is a whole number or a tie -- a write of whole steps, lr = g n, has the count lr n / g = n and
 * dense counts BL |x| B of n / 2 -- double arithmetic can land on the other side: one slot
 * more, or a count rounded the other way. */
RPU_HD void rpu_update_management_float(float lr, float x_max, float d_max,
                                        const rpu_update_management_params &p, long *bl_out,
                                        double *a_out, double *b_out) {
  const float g = (float)p.granularity, desired = (float)p.desired_bl;
  long bl = p.desired_bl;
  float a = 0.0f;
  if (lr == 0.0f) {
    bl = 0;
  } else if (p.fixed_bl || p.update_bl_management) {
    a = rpu_sqrt(lr / (g * (float)bl));
  } else if (g * desired < lr) {
    const float c = ceilf(lr / g);
    bl = (long)(c > 1.0f ? (c < (float)RPU_BL_CEILING ? c : (float)RPU_BL_CEILING) : 1.0f);
    a = 1.0f;
  } else {
    a = rpu_sqrt(lr / (g * (float)bl));
  }
  float b = a;
  if ((p.update_bl_management || p.update_management) && bl > 0) {
    if (!(x_max > 0.0f && d_max > 0.0f)) {
      bl = 0;
      a = b = 0.0f;
    } else {
      float dv = (float)p.um_grad_scale * d_max;
      const float k = lr * x_max * dv / g;
      if (p.update_bl_management) {
        const float c = ceilf(k) < desired ? ceilf(k) : desired;
        bl = (long)(c > 1.0f ? c : 1.0f);
        a = rpu_sqrt(lr / (g * (float)bl));
        b = a;
      }
      if (k > desired) dv *= desired / k;
      a *= rpu_sqrt(x_max / dv);
      b *= rpu_sqrt(dv / x_max);
    }
  }
  *bl_out = bl;
  *a_out = (double)a;
  *b_out = (double)b;
}

/* BL, A and B of a sample with learning rate lr (its absolute value is used) and input maxima
 * x_max = max_j |x_j|, d_max = max_i |d_i|. BL = 0: the sample makes no update. */
RPU_HD void rpu_update_management(double lr, double x_max, double d_max,
                                  const rpu_update_management_params &p, long *bl_out,
                                  double *a_out, double *b_out) {
  if (p.single_precision) {
    rpu_update_management_float((float)rpu_fabs(lr), (float)x_max, (float)d_max, p, bl_out, a_out,
                                b_out);
    return;
  }
  const double g = p.granularity;
  lr = rpu_fabs(lr);
  /* calculateBlAB: BL grows past desired_bl only when neither fixed nor managed */
  long bl = p.desired_bl;
  double a;
  /* a grown train: A = B = 1 (not sqrt(lr / (g BL)), which is smaller unless lr / g is whole) */
  int grown = 0;
  if (!(p.fixed_bl || p.update_bl_management) && g * (double)p.desired_bl < lr) {
    const double c = ceil(lr / g);
    bl = (long)(c > 1.0 ? (c < RPU_BL_CEILING ? c : RPU_BL_CEILING) : 1.0);
    a = 1.0;
    grown = 1;
  } else {
    a = rpu_sqrt(lr / (g * (double)bl));
  }
  if (lr == 0.0) {
    bl = 0;
    a = 0.0;
  }
  double b = a;
  if (p.update_bl_management || p.update_management) {
    const int managed = bl > 0;
    const int active = x_max > 0.0 && d_max > 0.0 && managed;
    const double xs = active ? x_max : 1.0;
    double dv = p.um_grad_scale * (active ? d_max : 1.0);
    /* the expected number of pulses of the largest element */
    const double k = lr * xs * dv / g;
    if (p.update_bl_management && managed) {
      double c = ceil(k);
      c = c < (double)p.desired_bl ? c : (double)p.desired_bl;
      bl = (long)(c > 1.0 ? c : 1.0);
    }
    if (k > (double)p.desired_bl) dv = dv * (double)p.desired_bl / k;
    /* each scale under one square root: exact where the product is (A = 2, not
     * 2.0000000000000004), so that dense pulse counts round as aihwkit's do */
    const double base = grown ? 1.0 : lr / (g * (double)(bl > 1 ? bl : 1));
    if (managed) {
      a = rpu_sqrt(base * (xs / dv));
      b = rpu_sqrt(base * (dv / xs));
    }
    if (managed && !active) {
      bl = 0;
      a = 0.0;
      b = 0.0;
    }
  }
  *bl_out = bl;
  *a_out = a;
  *b_out = b;
}

#endif /* RPU_UPDATE_MANAGEMENT_H */
