"""Independent NumPy reference of the pulsed weight update of aihwkit's RPUCuda CPU path.

Written from ``/work/shared/spec/training.md`` §2 (``calculateBlAB`` + ``performUpdateManagement``,
the probability quantisation ``Q``, the dense pulse types ``MeanCount`` and
``DeterministicImplicit``) and §3.2-3.5 (constant-step pulses, clipping after every pulse). It does
**not** import rpu: update settings are read from any object with the ``UpdateParameters``
attribute names (an rpu ``UpdateParameters``, a ``dict`` or ``None`` for the defaults).

Conventions (spec §2.4, §2.6):

* a signed pulse count ``C_ij > 0`` means ``C_ij`` "down" pulses (the weight decreases), so for a
  positive learning rate ``C`` has the sign of ``d_i x_j``;
* ``res > 1`` is read as a number of steps (``1 / res``), which is rpu's documented choice
  (aihwkit 1.1.0 uses the raw value and then never pulses, spec §2.1 [bug]).

Arithmetic is done in ``dtype`` (float64 by default). The C++ code does it in the tile's type ``T``;
``dtype=np.float32`` follows a float32 tile (NumPy keeps Python scalars weak, so every operation
stays in float32).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "UP_DEFAULTS",
    "up_value",
    "res_step",
    "calculate_bl_ab",
    "update_management_ref",
    "quantize",
    "sto_round_outcomes",
    "expected_q_clipped",
    "stochastic_probabilities",
    "dense_counts",
    "apply_constant_step",
    "sequential_dense_update",
    "gather_patches",
]

# Python defaults of aihwkit's ``UpdateParameters`` (spec training.md §2.1).
UP_DEFAULTS = dict(
    desired_bl=31,
    fixed_bl=True,
    pulse_type="StochasticCompressed",
    res=0.0,
    x_res_implicit=0.0,
    d_res_implicit=0.0,
    d_sparsity=False,
    sto_round=False,
    update_bl_management=True,
    update_management=True,
    um_grad_scale=1.0,
)


def up_value(up, name):
    """``up.name`` for an UpdateParameters-like object, a dict, or None (defaults)."""
    if up is None:
        return UP_DEFAULTS[name]
    if isinstance(up, dict):
        return up.get(name, UP_DEFAULTS[name])
    value = getattr(up, name)
    return getattr(value, "value", value)  # enums -> their string value


def res_step(res):
    """The bin width used by ``Q``: ``res`` in ``(0, 1]``; ``1/res`` for ``res > 1`` (rpu's reading)."""
    res = float(res)
    return 1.0 / res if res > 1.0 else res


# ----- BL, A, B (spec §2.3) ------------------------------------------------------------------------
def calculate_bl_ab(lr, g, up=None, dtype=np.float64):
    """``calculateBlAB(|lr|)``: return ``(BL, A, B)`` with ``BL`` a Python int."""
    T = np.dtype(dtype).type
    lr = T(abs(lr))
    g = T(g)
    desired = int(up_value(up, "desired_bl"))
    if lr == 0:
        return 0, T(0), T(0)
    if up_value(up, "fixed_bl") or up_value(up, "update_bl_management"):
        bl = desired
        a = T(np.sqrt(lr / (g * T(bl))))
        return bl, a, a
    if g * T(desired) < lr:
        return max(int(math.ceil(lr / g)), 1), T(1), T(1)
    bl = desired
    a = T(np.sqrt(lr / (g * T(bl))))
    return bl, a, a


def _update_management_one(xm, dm, lr, g, up, T):
    ublm = bool(up_value(up, "update_bl_management"))
    um = bool(up_value(up, "update_management")) or ublm  # UM is forced on by UBLM
    desired = int(up_value(up, "desired_bl"))
    lr = T(abs(lr))
    g = T(g)
    bl, a, b = calculate_bl_ab(lr, g, up, T)
    if not um:
        return bl, a, b
    if lr == 0:
        return 0, T(0), T(0)
    xm = T(xm)
    dm = T(dm)
    if xm == 0 or dm == 0:
        return 0, T(1), T(1)
    dv = T(up_value(up, "um_grad_scale")) * dm
    k = lr * xm * dv / g  # ((lr * xm) * dv) / g, the C++ order
    if ublm:
        bl = min(int(math.ceil(k)), desired)
        a = T(np.sqrt(lr / (g * T(bl))))
        b = a
    if k > T(desired):
        dv = dv * (T(desired) / k)
    a = a * T(np.sqrt(xm / dv))
    b = b * T(np.sqrt(dv / xm))
    return bl, a, b


def update_management_ref(x_abs_max, d_abs_max, lr, g, up=None, dtype=np.float64):
    """Per-sample ``(BL, A, B)`` as the tile computes them before drawing the pulse trains.

    ``UBLM or UM``: ``performUpdateManagement`` (``BL = 0`` when ``max|x|`` or ``max|d|`` is 0 or
    ``lr == 0``); otherwise plain ``calculateBlAB`` (which does not look at ``x`` and ``d``).

    Returns
    -------
    BL : int64 array (m,), A, B : float arrays (m,) in ``dtype``
    """
    T = np.dtype(dtype).type
    xa = np.atleast_1d(np.asarray(x_abs_max, dtype=dtype))
    da = np.atleast_1d(np.asarray(d_abs_max, dtype=dtype))
    xa, da = np.broadcast_arrays(xa, da)
    bl = np.zeros(xa.shape, np.int64)
    a = np.zeros(xa.shape, dtype)
    b = np.zeros(xa.shape, dtype)
    for n in range(xa.size):
        bl[n], a[n], b[n] = _update_management_one(xa[n], da[n], lr, g, up, T)
    return bl, a, b


def _bl_a_b_for_sample(x, d, lr, g, up, T):
    ublm = bool(up_value(up, "update_bl_management"))
    um = bool(up_value(up, "update_management")) or ublm
    if um:
        return _update_management_one(np.max(np.abs(x)), np.max(np.abs(d)), lr, g, up, T)
    return calculate_bl_ab(lr, g, up, T)


# ----- probability quantisation Q (spec §2.3) ---------------------------------------------------------
def quantize(v, res, sto_round=False, u=None, dtype=np.float64):
    """``Q(v)``: ``v`` if ``res <= 0``, else ``res * rint(v / res + (u - 1/2 if sto_round))``.

    ``u`` are the uniforms of stochastic rounding (ignored without ``sto_round``; ``None`` means
    1/2, i.e. plain ``rint``).
    """
    T = np.dtype(dtype).type
    v = np.asarray(v, dtype=dtype)
    r = T(res_step(res))
    if r <= 0:
        return v.copy()
    shift = T(0)
    if sto_round and u is not None:
        shift = np.asarray(u, dtype=dtype) - T(0.5)
    return (r * np.rint(v / r + shift)).astype(dtype)


def sto_round_outcomes(v, res):
    """Law of ``Q(v)`` with stochastic rounding (``res > 0``): ``(low, high, P(high))``.

    ``rint(a + U - 1/2)`` with ``a = v / res`` is ``floor(a)`` for ``U < 1 - frac(a)`` and
    ``floor(a) + 1`` otherwise, so ``E[Q(v)] = v``.
    """
    r = res_step(res)
    a = np.asarray(v, dtype=np.float64) / r
    lo = np.floor(a)
    return r * lo, r * (lo + 1), a - lo


def expected_q_clipped(v, res, sto_round):
    """``E[min(Q(v), 1)]``: the firing probability of one slot (a probability >= 1 always fires)."""
    v = np.asarray(v, dtype=np.float64)
    if res_step(res) <= 0:
        return np.minimum(v, 1.0)
    if not sto_round:
        return np.minimum(quantize(v, res), 1.0)
    lo, hi, p_hi = sto_round_outcomes(v, res)
    return (1 - p_hi) * np.minimum(lo, 1.0) + p_hi * np.minimum(hi, 1.0)


# ----- sparse (stochastic) path: the law of the pulse counts (spec §2.4) -----------------------------
def stochastic_probabilities(x, d, lr, g, up=None, dtype=np.float64):
    """For one sample: ``(BL, P, S)``.

    The number of pulses on ``W_ij`` is ``Binomial(BL, P_ij)`` (for stochastic rounding the
    per-element probabilities are their expectations, so only the mean count ``BL * P`` is exact);
    ``S_ij = sign(x_j) sign(d_i) sign(lr)`` is the direction (+1 = down).
    """
    T = np.dtype(dtype).type
    x = np.asarray(x, dtype=dtype)
    d = np.asarray(d, dtype=dtype)
    bl, a, b = _bl_a_b_for_sample(x, d, lr, g, up, T)
    if bl == 0:
        return 0, np.zeros((d.size, x.size)), np.zeros((d.size, x.size))
    res = up_value(up, "res")
    sto = bool(up_value(up, "sto_round"))
    px = expected_q_clipped((b * np.abs(x)).astype(np.float64), res, sto)
    pd = expected_q_clipped((a * np.abs(d)).astype(np.float64), res, sto)
    s = np.outer(np.sign(d), np.sign(x)) * np.sign(lr)
    return bl, np.outer(pd, px), s


# ----- dense pulse types (spec §2.6) ------------------------------------------------------------------
def dense_counts(x, d, lr, g, up=None, dtype=np.float64):
    """Signed coincidence counts ``C`` (d_size, x_size) of one sample for ``MeanCount`` or
    ``DeterministicImplicit`` (``up.pulse_type``), without stochastic rounding.

    ``C_ij > 0``: ``C_ij`` down pulses. The C++ order of operations is kept:
    MeanCount ``rint((c^d_i / BL) * c^x_j)``, DeterministicImplicit ``rint((q^d_i * BL) * q^x_j)``.
    """
    T = np.dtype(dtype).type
    x = np.asarray(x, dtype=dtype)
    d = np.asarray(d, dtype=dtype)
    if lr < 0:  # both signs flip: the sign of lr cancels (spec §2.6)
        x, d = -x, -d
    bl, a, b = _bl_a_b_for_sample(x, d, lr, g, up, T)
    ptype = str(up_value(up, "pulse_type"))
    blT = T(bl)
    if ptype == "MeanCount":
        res = up_value(up, "res")

        def counts(v, p):
            pp = quantize(np.abs(v) * p, res, dtype=dtype)
            c = np.clip(np.rint(blT * pp), 0, bl).astype(np.int64)
            c[pp == 0] = 0
            return np.where(v >= 0, c, -c)

        cx = counts(x, b)
        cd = counts(d, a)
        if bl == 0:
            return np.zeros((d.size, x.size), np.int64)
        dc = (cd.astype(dtype) / blT).astype(dtype)
        return np.rint(np.outer(dc, cx.astype(dtype)).astype(dtype)).astype(np.int64)
    if ptype == "DeterministicImplicit":

        def values(v, p, res):
            pp = np.clip(quantize(np.abs(v) * p, res, dtype=dtype), T(0), T(1))
            return np.where(v >= 0, pp, -pp).astype(dtype)

        qx = values(x, b, up_value(up, "x_res_implicit"))
        qd = values(d, a, up_value(up, "d_res_implicit"))
        dc = (qd * blT).astype(dtype)
        return np.rint(np.outer(dc, qx).astype(dtype)).astype(np.int64)
    raise ValueError(f"dense_counts: pulse type {ptype!r} is not a dense type")


# ----- constant-step device, noise-free (spec §3.3, §3.5) ------------------------------------------
def apply_constant_step(w, counts, dw_up, dw_down, w_min, w_max, dtype=np.float64):
    """Apply ``|counts|`` pulses one after the other, clipping after each.

    ``counts > 0``: down pulses ``w -= dw_down``; ``counts < 0``: up pulses ``w += dw_up``.
    All per-element arrays broadcast to ``w``'s shape.
    """
    T = np.dtype(dtype).type
    w = np.array(w, dtype=dtype)
    counts = np.asarray(counts)
    shape = w.shape
    dw_up = np.broadcast_to(np.asarray(dw_up, dtype=dtype), shape)
    dw_down = np.broadcast_to(np.asarray(dw_down, dtype=dtype), shape)
    lo = np.broadcast_to(np.asarray(w_min, dtype=dtype), shape)
    hi = np.broadcast_to(np.asarray(w_max, dtype=dtype), shape)
    n = np.abs(counts)
    for t in range(int(n.max(initial=0))):
        m = n > t
        step = np.where(counts > 0, -dw_down, dw_up)
        w[m] = np.minimum(np.maximum(w[m] + step[m], lo[m]), hi[m])
    return w.astype(dtype, copy=False)


def sequential_dense_update(w, X, D, lr, g, up, dw_up, dw_down, w_min, w_max, dtype=np.float64):
    """Dense update of a batch: samples in order, each with its own BL/A/B, on a noise-free
    constant-step device. Returns ``(w, counts)`` with ``counts`` (m, d_size, x_size)."""
    w = np.array(w, dtype=dtype)
    X = np.atleast_2d(np.asarray(X, dtype=dtype))
    D = np.atleast_2d(np.asarray(D, dtype=dtype))
    all_counts = []
    for x, d in zip(X, D):
        c = dense_counts(x, d, lr, g, up, dtype)
        all_counts.append(c)
        w = apply_constant_step(w, c, dw_up, dw_down, w_min, w_max, dtype)
    return w, np.array(all_counts)


# ----- convolution-style gathering ----------------------------------------------------------------------
def gather_patches(x_input, indices):
    """``X[n * L + l, j] = x_input[n, indices[l, j]]`` (0 where the index is negative)."""
    x_input = np.asarray(x_input)
    indices = np.asarray(indices)
    n, _ = x_input.shape
    n_pos, in_size = indices.shape
    safe = np.where(indices >= 0, indices, 0)
    out = x_input[:, safe]  # (N, L, in_size)
    out = np.where(indices[None] >= 0, out, 0).astype(x_input.dtype)
    return out.reshape(n * n_pos, in_size)
