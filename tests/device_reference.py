"""Independent NumPy reference of rpu's pulsed device models (spec training.md §3, §6.2, §7).

Written from the spec alone, without looking at rpu's kernels, so that the tests compare two
separate implementations. Everything works on plain float64 arrays:

* :func:`hidden_parameter_names` / :func:`expected_hidden` give the hidden-parameter names (§6.2)
  and, for a device whose device-to-device spreads are all zero, the values construction must
  produce (§3.2, §3.5);
* :func:`weight_granularity` is the ``g`` of §3.6;
* :func:`pulse` applies one pulse (up or down) to an array of weights, element-wise, with given
  hidden parameters and optional cycle-to-cycle noise ``xi``; :func:`apply_pulses` and
  :func:`pulse_response` repeat it;
* :func:`decay`, :func:`drift_factor`, :func:`symmetry_point_*` are the oracles of §3.7 and the
  inference spec §1.

Conventions: ``hidden`` is a dict of arrays broadcastable against ``w`` (names as in §6.2);
``w`` is the *stored* weight (the persistent weight when write noise is on; for the reference
devices the stored weight ``v - ref``). ``up=True`` is an "up" pulse (``s < 0`` in the update,
i.e. ``x*d < 0`` with a positive learning rate).
"""

import math

import numpy as np

BASE_NAMES = (
    "max_bound",
    "min_bound",
    "dwmin_up",
    "dwmin_down",
    "decay_scales",
    "diffusion_rates",
    "reset_bias",
    "drift_nu",
)

#: the device classes the reference knows (class name -> family of its pulse rule)
KINDS = {
    "ConstantStepDevice": "constant",
    "LinearStepDevice": "linear",
    "SoftBoundsDevice": "linear",
    "SoftBoundsPmaxDevice": "linear",
    "SoftBoundsReferenceDevice": "sbref",
    "ExpStepDevice": "exp",
    "PowStepDevice": "pow",
    "PowStepReferenceDevice": "powref",
    "PiecewiseStepDevice": "piecewise",
}

EXTRA_NAMES = {
    "constant": (),
    "linear": ("slope_up", "slope_down"),
    "sbref": ("reference",),
    "exp": (),
    "pow": ("gamma_up", "gamma_down"),
    "powref": ("gamma_up", "gamma_down", "reference"),
    "piecewise": (),
}


def kind_of(device):
    """The pulse-rule family of a device config (see :data:`KINDS`)."""
    return KINDS[type(device).__name__]


def has_write_noise(device):
    return float(getattr(device, "write_noise_std", 0.0) or 0.0) > 0.0


def hidden_parameter_names(device):
    """Hidden-parameter names in aihwkit's order (§6.2)."""
    names = list(BASE_NAMES)
    if has_write_noise(device):
        names.append("persistent_weights")
    names.extend(EXTRA_NAMES[kind_of(device)])
    return names


# ----- derived / global quantities ---------------------------------------------------------------
def soft_bounds_pmax_derived(p_max, alpha, range_min, range_max):
    """SoftBoundsPmax -> SoftBounds parameters (§3.5)."""
    b = (range_max - range_min) / (1.0 - math.exp(-p_max * alpha))
    return {"w_min": range_min, "w_max": range_min + b, "dw_min": b * alpha,
            "up_down": 1.0 + 2.0 * range_min / b}


def global_params(device):
    """``w_min, w_max, dw_min, up_down`` actually used by a device (Pmax: derived)."""
    if type(device).__name__ == "SoftBoundsPmaxDevice":
        return soft_bounds_pmax_derived(device.p_max, device.alpha, device.range_min,
                                        device.range_max)
    return {"w_min": device.w_min, "w_max": device.w_max, "dw_min": device.dw_min,
            "up_down": device.up_down}


def up_down_biases(up_down):
    """(up_bias, down_bias) of §3.2: positive up_down shrinks the down step and vice versa."""
    up_bias = up_down if up_down <= 0 else 0.0
    down_bias = -up_down if up_down > 0 else 0.0
    return up_bias, down_bias


def weight_granularity(device):
    """``g`` of §3.6 (``calcWeightGranularity``), from the global parameters."""
    kind = kind_of(device)
    gp = global_params(device)
    dw_min = gp["dw_min"]
    if kind in ("pow", "powref"):
        return dw_min * 0.5 ** device.pow_gamma
    if kind == "piecewise":
        return dw_min * device.piecewise_up[len(device.piecewise_up) // 2]
    if kind == "exp":
        _, down_bias = up_down_biases(gp["up_down"])
        z = device.b  # at w = 0
        y_down = max(1.0 - device.A_down * math.exp(-device.gamma_down * z), 0.0)
        dw_down = (1.0 + down_bias) * dw_min * y_down
        g = max((dw_down + dw_down) / 2.0, 0.0)  # aihwkit uses the down step twice [bug?]
        return g if g != 0 else dw_min
    return dw_min


# ----- construction without device-to-device spread ---------------------------------------------
def expected_hidden(device, d_size, x_size):
    """Hidden parameters that construction must give when every d2d spread is zero.

    Requires ``w_max_dtod = w_min_dtod = dw_min_dtod = up_down_dtod = diffusion_dtod =
    lifetime_dtod = reset_dtod = 0``, ``corrupt_devices_prob = 0``, ``drift.nu_dtod = 0`` and the
    device's own d2d fields (gamma_*_dtod, pow_*_dtod, slope_*_dtod, reference_std) zero, and no
    subtract_symmetry_point. Returns a dict of (d_size, x_size) float64 arrays, without
    ``persistent_weights`` (that one depends on the weights).
    """
    kind = kind_of(device)
    gp = global_params(device)
    shape = (d_size, x_size)
    up_bias, down_bias = up_down_biases(gp["up_down"])
    bp, bm = gp["w_max"], gp["w_min"]
    sp = (up_bias + 1.0) * gp["dw_min"]
    sm = (down_bias + 1.0) * gp["dw_min"]
    if device.enforce_consistency:
        sp, sm = abs(sp), abs(sm)
        if bm > bp:
            bp, bm = bm, bp
        bp, bm = abs(bp), -abs(bm)
    elif bm > bp:
        bp = bm = (bp + bm) / 2.0
    full = lambda v: np.full(shape, float(v))  # noqa: E731
    h = {"max_bound": full(bp), "min_bound": full(bm), "dwmin_up": full(sp), "dwmin_down": full(sm)}
    if device.perfect_bias:
        h["dwmin_up"][:, -1] = gp["dw_min"]
        h["dwmin_down"][:, -1] = gp["dw_min"]
        h["min_bound"][:, -1] = 100.0 * gp["w_min"]
        h["max_bound"][:, -1] = 100.0 * gp["w_max"]
    if device.lifetime > 0:
        t = device.lifetime
        h["decay_scales"] = full(1.0 - 1.0 / t if t > 1 else 0.0)
    else:
        h["decay_scales"] = full(1.0)
    h["diffusion_rates"] = full(abs(device.diffusion))
    h["reset_bias"] = full(max(device.reset, 0.0))  # aihwkit 1.1.0 clamps a negative mean reset
    h["drift_nu"] = full(device.drift.nu if device.drift.nu > 0 else 0.0)
    if kind == "linear":
        if type(device).__name__ == "LinearStepDevice":
            gu, gd = device.gamma_up, device.gamma_down
            if not device.allow_increasing:
                gu, gd = abs(gu), abs(gd)
            mean_ref = device.mean_bound_reference
        else:  # SoftBounds(+Pmax): gamma 1, per-device bound reference
            gu = gd = 1.0
            mean_ref = False
        wmax = full(gp["w_max"]) if mean_ref else h["max_bound"]
        wmin = full(gp["w_min"]) if mean_ref else h["min_bound"]
        ref_up = (wmin - device.reverse_offset) if device.reverse_up else wmax
        ref_down = (wmax + device.reverse_offset) if device.reverse_down else wmin
        with np.errstate(divide="ignore", invalid="ignore"):
            h["slope_up"] = np.where(ref_up != 0, -gu * h["dwmin_up"] / ref_up, 0.0)
            h["slope_down"] = np.where(ref_down != 0, -gd * h["dwmin_down"] / ref_down, 0.0)
    elif kind in ("pow", "powref"):
        ub, db = up_down_biases(device.pow_up_down)
        gup = (ub + 1.0) * device.pow_gamma
        gdn = (db + 1.0) * device.pow_gamma
        if device.enforce_consistency:
            gup, gdn = abs(gup), abs(gdn)
        h["gamma_up"], h["gamma_down"] = full(gup), full(gdn)
        if kind == "powref":
            h["reference"] = full(device.reference_mean)
    elif kind == "sbref":
        h["reference"] = full(device.reference_mean)
    return h


# ----- symmetry points (reference devices) ---------------------------------------------------------
def symmetry_point_soft_bounds(hidden):
    """SoftBoundsReference symmetry point ``(s+ - s-)/(s+/b+ - s-/b-)`` (from final bounds)."""
    sp, sm = hidden["dwmin_up"], hidden["dwmin_down"]
    bp, bm = hidden["max_bound"], hidden["min_bound"]
    return (sp - sm) / (sp / bp - sm / bm)


def symmetry_point_pow_step(hidden, n_steps=-1):
    """PowStepReference symmetry-point estimate: n noise-free up+down pairs from 0 (§3.5)."""
    sp, sm = np.asarray(hidden["dwmin_up"], float), np.asarray(hidden["dwmin_down"], float)
    bp, bm = np.asarray(hidden["max_bound"], float), np.asarray(hidden["min_bound"], float)
    gu, gd = np.asarray(hidden["gamma_up"], float), np.asarray(hidden["gamma_down"], float)
    rng_ = bp - bm
    if n_steps > 0:
        n = np.full(sp.shape, int(n_steps))
    else:
        n = np.minimum(np.round(10.0 * rng_ / np.minimum(sm, sp)), 10000).astype(int)
    x = np.zeros(sp.shape)
    for k in range(int(n.max())):
        active = k < n
        step = -sm * ((x - bm) / rng_) ** gd + sp * ((bp - x) / rng_) ** gu
        x = np.where(active, x + step, x)
    return x


# ----- the per-pulse rules ---------------------------------------------------------------------------
def _h(hidden, name):
    return np.asarray(hidden[name], dtype=np.float64)


def pulse(device, w, hidden, up, xi=None):
    """Apply one pulse to every element of ``w`` (stored weights), return the new weights.

    Parameters
    ----------
    device : a device config (``rpu.config`` class)
    w : array of stored weights (float64)
    hidden : dict name -> array broadcastable to ``w``
    up : bool, True for an up pulse
    xi : None (cycle-to-cycle noise off) or an array of standard normals like ``w``
    """
    kind = kind_of(device)
    w = np.asarray(w, dtype=np.float64)
    sigma = float(device.dw_min_std)
    noise = np.zeros_like(w) if xi is None else sigma * np.asarray(xi, dtype=np.float64)
    bp, bm = _h(hidden, "max_bound"), _h(hidden, "min_bound")
    sp, sm = _h(hidden, "dwmin_up"), _h(hidden, "dwmin_down")

    if kind == "constant":
        w = w + sp * (1.0 + noise) if up else w - sm * (1.0 + noise)
        return np.clip(w, bm, bp)

    if kind == "linear":
        mult = bool(device.mult_noise)
        if up:
            k = _h(hidden, "slope_up")
            w = w + (k * w + sp) * (1.0 + noise) if mult else w + k * w + sp * (1.0 + noise)
        else:
            k = _h(hidden, "slope_down")
            w = w - (k * w + sm) * (1.0 + noise) if mult else w - (k * w + sm * (1.0 + noise))
        return np.clip(w, bm, bp)

    if kind == "sbref":
        ref = _h(hidden, "reference")
        v = w + ref
        with np.errstate(divide="ignore", invalid="ignore"):
            if up:
                a = np.where(bp > 0, v / bp, 0.0)
                s = sp
            else:
                a = np.where(bm < 0, v / bm, 0.0)
                s = sm
        if device.mult_noise:
            step = s * (1.0 - a) * (1.0 + noise)
        else:
            step = s * (1.0 - a + noise)
        v = v + step if up else v - step
        return np.clip(v, bm, bp) - ref

    if kind == "exp":
        span = bp - bm
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = 2.0 * device.a * w / span + device.b
            if up:
                y = np.maximum(1.0 - device.A_up * np.exp(device.gamma_up * z), 0.0)
                delta = y * sp
            else:
                y = np.maximum(1.0 - device.A_down * np.exp(-device.gamma_down * z), 0.0)
                delta = -y * sm
        complex_noise = sigma > 0 and (device.dw_min_std_add != 0 or device.dw_min_std_slope != 0)
        if xi is not None and complex_noise:
            new = w + delta + sigma * (np.abs(delta) + device.dw_min_std_add
                                       + device.dw_min_std_slope * np.abs(w)) * np.asarray(xi)
        else:
            new = w + delta * (1.0 + noise)
        new = np.clip(new, bm, bp)
        return np.where(span > 0, new, w)

    if kind in ("pow", "powref"):
        ref = _h(hidden, "reference") if kind == "powref" else 0.0
        v = w + ref
        span = bp - bm
        with np.errstate(divide="ignore", invalid="ignore"):
            if up:
                base = np.maximum((bp - v) / span, 0.0)
                new = v + sp * base ** _h(hidden, "gamma_up") * (1.0 + noise)
            else:
                base = np.maximum((v - bm) / span, 0.0)
                new = v - sm * base ** _h(hidden, "gamma_down") * (1.0 + noise)
        new = np.where(span == 0, v, np.clip(new, bm, bp))
        return new - ref

    if kind == "piecewise":
        vu = np.asarray(device.piecewise_up, dtype=np.float64)
        vd = np.asarray(device.piecewise_down, dtype=np.float64)
        n = len(vu) - 1
        if n <= 0:
            step_u, step_d = vu[0] * sp, vd[0] * sm
        else:
            span = bp - bm
            with np.errstate(divide="ignore", invalid="ignore"):
                ws = np.maximum((w - bm) / span * n, 0.0)
            ws = np.where(span > 0, ws, 0.0)
            k = np.minimum(np.floor(ws), n - 1).astype(int)
            t = np.minimum(ws - k, 1.0)
            step_u = np.where(span > 0, sp * ((1 - t) * vu[k] + t * vu[k + 1]), vu[0] * sp)
            step_d = np.where(span > 0, sm * ((1 - t) * vd[k] + t * vd[k + 1]), vd[0] * sm)
        w = w + step_u * (1.0 + noise) if up else w - step_d * (1.0 + noise)
        return np.clip(w, bm, bp)

    raise ValueError(f"unknown device kind {kind!r}")


def apply_pulses(device, w, hidden, n, up, rng=None):
    """Apply ``n`` pulses of one direction; ``rng`` (numpy Generator) switches cycle noise on."""
    w = np.asarray(w, dtype=np.float64).copy()
    for _ in range(int(n)):
        xi = None if rng is None else rng.standard_normal(w.shape)
        w = pulse(device, w, hidden, up, xi)
    return w


def pulse_response(device, w0, hidden, n_up, n_down, every, rng=None):
    """Weights after every ``every`` pulses: ``n_up`` up pulses, then ``n_down`` down pulses.

    Returns an array ``(n_up // every + n_down // every, *w0.shape)``.
    """
    w = np.asarray(w0, dtype=np.float64).copy()
    out = []
    for n, up in ((n_up, True), (n_down, False)):
        for _ in range(n // every):
            w = apply_pulses(device, w, hidden, every, up, rng)
            out.append(w.copy())
    return np.array(out)


# ----- decay / drift oracles ---------------------------------------------------------------------------
def decay(w, hidden, alpha=1.0):
    """``w <- (w - b0)(1 + alpha (delta - 1)) + b0``, then clip (§3.7)."""
    b0 = _h(hidden, "reset_bias")
    delta = _h(hidden, "decay_scales")
    w = (np.asarray(w, dtype=np.float64) - b0) * (1.0 + alpha * (delta - 1.0)) + b0
    return np.clip(w, _h(hidden, "min_bound"), _h(hidden, "max_bound"))


def drift_factor(nu, elapsed, t_0=1.0):
    """Power-law drift factor ``max(elapsed/t_0, 1)^-nu`` (inference spec §1.3, a = 0)."""
    return max(elapsed / t_0, 1.0) ** (-nu)
