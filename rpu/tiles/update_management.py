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
    lr : float
        The learning rate (its absolute value is used).
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
    lr = abs(float(lr))
    g = float(granularity)
    bl0, a0, b0 = calculate_bl_ab(lr, g, up)
    m = xm.shape[0]
    bl = np.full(m, bl0, dtype=np.int64)
    a = np.full(m, a0)
    b = np.full(m, b0)
    if bl0 == 0:
        return np.zeros(m, dtype=np.int64), np.zeros(m), np.zeros(m)
    if not (up.update_bl_management or up.update_management):
        return bl, a, b
    active = (xm > 0) & (dm > 0)
    xs = np.where(active, xm, 1.0)
    dv = up.um_grad_scale * np.where(active, dm, 1.0)
    k = lr * xs * dv / g  # the expected number of pulses of the largest element
    if up.update_bl_management:
        bl = np.maximum(np.minimum(np.ceil(k), up.desired_bl), 1).astype(np.int64)
    dv = np.where(k > up.desired_bl, dv * up.desired_bl / k, dv)
    # A = sqrt(lr / (g BL)) sqrt(xm / dv), B = sqrt(lr / (g BL)) sqrt(dv / xm), each under one
    # square root: exact where the product is (e.g. A = 2, not 2.0000000000000004, so that the
    # dense pulse counts round as aihwkit's do).
    base = lr / (g * bl)
    a = np.sqrt(base * (xs / dv))
    b = np.sqrt(base * (dv / xs))
    bl = np.where(active, bl, 0)
    return bl, np.where(active, a, 0.0), np.where(active, b, 0.0)
