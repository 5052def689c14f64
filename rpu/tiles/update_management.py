"""Update management: the bit length BL and the probability scales A (for d) and B (for x).

aihwkit's ``calculateBlAB`` and ``performUpdateManagement`` (spec training.md §2.3), computed for
every sample of a batch at once. A pulse train of x_j then fires with probability Q(B |x_j|) in
each of BL slots, one of d_i with Q(A |d_i|), so that the expected number of coincidences is
``lr |x_j d_i| / g``: the SGD step in units of the weight granularity g.
"""
import numpy as np

from rpu import _core


def update_management(x_abs_max, d_abs_max, lr, granularity, up, dtype=np.float64):
    """Per-sample bit lengths and probability scales of a pulsed update.

    Parameters
    ----------
    x_abs_max, d_abs_max : ndarray of shape (m,)
        max_j |x_j| and max_i |d_i| of every sample.
    lr : float, or ndarray of shape (m,)
        The learning rate (its absolute value is used); one per sample where it changes from
        sample to sample (the auto-scaled fast learning rate of the chopped transfer compounds).
    granularity : float
        The device's weight granularity g (about dw_min).
    up : UpdateParameters
    dtype : numpy dtype, default float64
        The tile's type. aihwkit computes BL, A and B in it; for float32 so does rpu, operation
        for operation (a whole count lr n / g, as a write of whole steps has, stays whole, and
        the dense counts' halves fall the same way). float64 is computed in double.

    Returns
    -------
    bl : ndarray of int64, shape (m,)
        Bit length per sample; 0 means the sample makes no update.
    a, b : ndarray of float64, shape (m,)
        Probability scales of d (``a``) and x (``b``).

    Notes
    -----
    Without management BL = desired_bl and A = B = sqrt(lr / (g BL)); when BL is neither fixed
    nor managed and g desired_bl < lr, BL = ceil(lr / g) and A = B = 1. With update management,
    k = lr x_max (um_grad_scale d_max) / g is the expected pulse count of the largest element;
    update_bl_management sets BL = clip(ceil(k), 1, desired_bl); d_max is scaled by
    desired_bl / k where k > desired_bl; then A = sqrt(lr / (g BL) x_max / d_max') and
    B = sqrt(lr / (g BL) d_max' / x_max). A managed sample with x_max = 0 or d_max = 0 gets
    BL = 0 (no update).
    """
    xm = np.ascontiguousarray(x_abs_max, dtype=np.float64).reshape(-1)
    dm = np.ascontiguousarray(d_abs_max, dtype=np.float64).reshape(-1)
    m = xm.shape[0]
    if np.ndim(lr) == 0:
        lr_rows = np.full(m, float(lr))
    else:
        lr_rows = np.ascontiguousarray(lr, dtype=np.float64).reshape(-1)
    # the per-sample arithmetic: rpu_update_management (rpu/_kernels/update_management.h)
    return _core.update_management(xm, dm, lr_rows, float(granularity), int(up.desired_bl),
                                   bool(up.fixed_bl), bool(up.update_bl_management),
                                   bool(up.update_management), float(up.um_grad_scale),
                                   np.dtype(dtype) == np.float32)
