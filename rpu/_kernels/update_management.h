/* update_management.h -- the bit length BL and the probability scales A (d side) and B (x side)
 * of one sample of a pulsed update: aihwkit's calculateBlAB followed by its update management
 * (spec training.md §2.3). rpu.tiles.update_management documents the rule; this is its
 * arithmetic, in double, operation for operation as the NumPy formulas it replaced (so BL, A and
 * B keep their bits). It runs on the host for every backend: a batch has only m such samples,
 * and NumPy spent about 50 us on its two dozen array operations for m = 100, a sizeable share
 * of a compound's update at 256 x 256.
 */
#ifndef RPU_UPDATE_MANAGEMENT_H
#define RPU_UPDATE_MANAGEMENT_H

#include "rpu_common.h"

struct rpu_update_management_params {
  double granularity, um_grad_scale;
  int desired_bl, fixed_bl, update_bl_management, update_management;
  /* the tile is float32: the bit length's decisions use float arithmetic (see below) */
  int single_precision;
};

/* (a b c) / g as the decisions on the bit length compute it. aihwkit does this arithmetic in the
 * tile's type: for a float32 tile whose exact product is a whole number (a mixed-precision or
 * transfer write of whole steps, lr = g n), float gives that number, where double can land just
 * above it and ceil to one more. The scales A and B stay in double (rounded to the tile's type
 * later), as before. */
RPU_HD double rpu_um_count(double a, double b, double c, double g, int single_precision) {
  if (single_precision) return (double)((float)((float)a * (float)b * (float)c) / (float)g);
  return a * b * c / g;
}

/* BL, A and B of a sample with learning rate lr (its absolute value is used) and input maxima
 * x_max = max_j |x_j|, d_max = max_i |d_i|. BL = 0: the sample makes no update. */
RPU_HD void rpu_update_management(double lr, double x_max, double d_max,
                                  const rpu_update_management_params &p, long *bl_out,
                                  double *a_out, double *b_out) {
  const double g = p.granularity;
  lr = rpu_fabs(lr);
  /* calculateBlAB: BL grows past desired_bl only when neither fixed nor managed */
  long bl = p.desired_bl;
  double a;
  const int beyond_bl = p.single_precision
                           ? (float)g * (float)p.desired_bl < (float)lr
                           : g * (double)p.desired_bl < lr;
  if (!(p.fixed_bl || p.update_bl_management) && beyond_bl) {
    const double c = ceil(rpu_um_count(lr, 1.0, 1.0, g, p.single_precision));
    bl = (long)(c > 1.0 ? c : 1.0);
    a = 1.0;
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
    const double k_bl = rpu_um_count(lr, xs, dv, g, p.single_precision);
    if (p.update_bl_management && managed) {
      double c = ceil(k_bl);
      c = c < (double)p.desired_bl ? c : (double)p.desired_bl;
      bl = (long)(c > 1.0 ? c : 1.0);
    }
    if (k_bl > (double)p.desired_bl) dv = dv * (double)p.desired_bl / k;
    /* each scale under one square root: exact where the product is (A = 2, not
     * 2.0000000000000004), so that dense pulse counts round as aihwkit's do */
    const double base = lr / (g * (double)(bl > 1 ? bl : 1));
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
