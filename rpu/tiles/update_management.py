"""Update management: the bit length BL and the probability scales A (for d) and B (for x).

aihwkit's ``calculateBlAB`` and ``performUpdateManagement`` (spec training.md §2.3), computed for
every sample of a batch at once. A pulse train of x_j then fires with probability Q(B |x_j|) in
each of BL slots, one of d_i with Q(A |d_i|), so that the expected number of coincidences is
``lr |x_j d_i| / g``: the SGD step in units of the weight granularity g.
"""
import math

import numpy as np

from rpu import _core
from rpu.config.update import MAX_BL


def check_bit_lengths(lr, granularity, up):
    """Refuse learning rates whose pulse trains would be longer than ``MAX_BL`` slots.

    BL passes ``desired_bl`` (itself at most MAX_BL) only when neither ``fixed_bl`` nor
    ``update_bl_management`` is on: then BL = ceil(|lr| / g), whatever the data. Callers check
    before they change anything, so that a refused update leaves the tile as it was.

    Parameters
    ----------
    lr : float, or ndarray of shape (m,)
        The learning rate(s) of the update.
    granularity : float
        The device's weight granularity g.
    up : UpdateParameters

    Raises
    ------
    ValueError
        Naming the learning rate, g, the BL it asks for, and the settings that bound it.
    """
    if up.fixed_bl or up.update_bl_management:
        return
    largest = float(np.max(np.abs(lr))) if np.size(lr) else 0.0
    slots = largest / float(granularity)
    if slots > MAX_BL:
        asked = f"{math.ceil(slots)}" if math.isfinite(slots) else "an unbounded number of"
        raise ValueError(
            f"learning rate {largest:g} asks for pulse trains of {asked} slots (BL = "
            f"ceil(lr / g) with the device granularity g = {float(granularity):g}, as "
            f"update.fixed_bl and update.update_bl_management are off); rpu simulates at most "
            f"{MAX_BL}. Lower the learning rate, or turn on update.update_bl_management or "
            f"update.fixed_bl.")


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
        Bit length per sample (at most ``MAX_BL``; see :func:`check_bit_lengths`); 0 means the
        sample makes no update.
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
    check_bit_lengths(lr, granularity, up)
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
