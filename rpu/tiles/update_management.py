"""Update management: the bit length BL and the probability scales A (for d) and B (for x).

aihwkit's ``calculateBlAB`` and ``performUpdateManagement`` (spec training.md §2.3), computed for
every sample of a batch at once. A pulse train of x_j then fires with probability Q(B |x_j|) in
each of BL slots, one of d_i with Q(A |d_i|), so that the expected number of coincidences is
``lr |x_j d_i| / g``: the SGD step in units of the weight granularity g.
"""
import numpy as np


def calculate_bl_ab(lr, granularity, up):
    """BL, A, B before update management (aihwkit ``calculateBlAB``), for ``lr >= 0``."""
    g = float(granularity)
    if lr == 0:
        return 0, 0.0, 0.0
    if up.fixed_bl or up.update_bl_management:
        bl = int(up.desired_bl)
    elif g * up.desired_bl < lr:
        bl = max(int(np.ceil(lr / g)), 1)
        return bl, 1.0, 1.0
    else:
        bl = int(up.desired_bl)
    a = float(np.sqrt(lr / (g * bl)))
    return bl, a, a


def update_management(x_abs_max, d_abs_max, lr, granularity, up):
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

    Returns
    -------
    bl : ndarray of int64, shape (m,)
        Bit length per sample; 0 means the sample makes no update.
    a, b : ndarray of float64, shape (m,)
        Probability scales of d (``a``) and x (``b``).
    """
    xm = np.asarray(x_abs_max, dtype=np.float64)
    dm = np.asarray(d_abs_max, dtype=np.float64)
    m = xm.shape[0]
    if np.ndim(lr) == 0:
        bl0, a0, _ = calculate_bl_ab(abs(float(lr)), granularity, up)
        lr = np.full(m, abs(float(lr)))
        bl = np.full(m, bl0, dtype=np.int64)
        a = np.full(m, a0)
    else:
        # calculate_bl_ab, sample by sample, as arrays
        lr = np.abs(np.asarray(lr, dtype=np.float64)).reshape(m)
        g0 = float(granularity)
        bl = np.full(m, int(up.desired_bl), dtype=np.int64)
        if not (up.fixed_bl or up.update_bl_management):
            big = g0 * up.desired_bl < lr
            bl = np.where(big, np.maximum(np.ceil(lr / g0), 1).astype(np.int64), bl)
        else:
            big = np.zeros(m, dtype=bool)
        a = np.where(big, 1.0, np.sqrt(lr / (g0 * bl)))
        bl = np.where(lr == 0, 0, bl)
        a = np.where(lr == 0, 0.0, a)
    b = a.copy()
    g = float(granularity)
    if not (up.update_bl_management or up.update_management):
        return bl, a, b
    managed = bl > 0
    active = (xm > 0) & (dm > 0) & managed
    xs = np.where(active, xm, 1.0)
    dv = up.um_grad_scale * np.where(active, dm, 1.0)
    k = lr * xs * dv / g  # the expected number of pulses of the largest element
    if up.update_bl_management:
        bl = np.where(managed, np.maximum(np.minimum(np.ceil(k), up.desired_bl), 1).astype(np.int64), bl)
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 0 where lr = 0 (masked below)
        dv = np.where(k > up.desired_bl, dv * up.desired_bl / k, dv)
    # A = sqrt(lr / (g BL)) sqrt(xm / dv), B = sqrt(lr / (g BL)) sqrt(dv / xm), each under one
    # square root: exact where the product is (e.g. A = 2, not 2.0000000000000004, so that the
    # dense pulse counts round as aihwkit's do).
    base = lr / (g * np.maximum(bl, 1))
    a = np.where(managed, np.sqrt(base * (xs / dv)), a)
    b = np.where(managed, np.sqrt(base * (dv / xs)), b)
    off = managed & ~active
    return np.where(off, 0, bl), np.where(off, 0.0, a), np.where(off, 0.0, b)
