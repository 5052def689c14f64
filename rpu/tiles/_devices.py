"""Pulsed device models on the tile side: which rule a device follows, and its hidden parameters.

A pulsed device is described by per-element hidden parameters (aihwkit's names and order,
training.md §6.2), drawn once at construction from the device-to-device spreads (§3.2 and the
device-specific draws of §3.5), and by a few global parameters that the per-pulse rules in
``rpu/_kernels/pulsed_devices.h`` read. Construction happens once per tile, on whole arrays; the
per-pulse math lives in the kernel headers.

The device-to-device draws are Philox normals keyed by ``construction_seed`` (or by the tile
seed when it is 0, where aihwkit would use the clock), so the same ``construction_seed`` gives
the same devices whatever the tile seed.
"""
import numpy as np

from rpu import _core
from rpu.config import (
    ConstantStepDevice, ExpStepDevice, LinearStepDevice, PiecewiseStepDevice,
    PowStepDevice, PowStepReferenceDevice, PulsedDevice, SoftBoundsDevice, SoftBoundsPmaxDevice,
    SoftBoundsReferenceDevice,
)
from rpu.errors import ConfigError

# Device kinds of rpu/_kernels/pulsed_devices.h.
KIND_CONSTANT_STEP = 0
KIND_LINEAR_STEP = 1
KIND_SOFT_BOUNDS_REFERENCE = 2
KIND_EXP_STEP = 3
KIND_POW_STEP = 4
KIND_POW_STEP_REFERENCE = 5
KIND_PIECEWISE_STEP = 6

BASE_NAMES = ("max_bound", "min_bound", "dwmin_up", "dwmin_down", "decay_scales",
              "diffusion_rates", "reset_bias", "drift_nu")

# Construction sub-streams: each quantity has its own, so adding one never shifts another.
(_S_WMAX, _S_WMIN, _S_GAIN, _S_UPDOWN, _S_CORRUPT_COIN, _S_CORRUPT_VALUE, _S_DIFFUSION,
 _S_RESET, _S_LIFETIME, _S_DRIFT, _S_EXTRA1, _S_EXTRA2, _S_EXTRA3) = range(13)


def is_pulsed(device):
    """Whether ``device`` is updated by pulses (IdealDevice and FloatingPointDevice are not)."""
    return isinstance(device, PulsedDevice)


def as_simulated(device):
    """SoftBoundsPmaxDevice is simulated as the SoftBoundsDevice it derives (as aihwkit does)."""
    if isinstance(device, SoftBoundsPmaxDevice):
        return device.to_soft_bounds()
    return device


def kind_of(device):
    """The kernel's device kind for a pulsed device config."""
    device = as_simulated(device)
    for cls, kind in ((SoftBoundsReferenceDevice, KIND_SOFT_BOUNDS_REFERENCE),
                      (LinearStepDevice, KIND_LINEAR_STEP), (SoftBoundsDevice, KIND_LINEAR_STEP),
                      (ExpStepDevice, KIND_EXP_STEP),
                      (PowStepReferenceDevice, KIND_POW_STEP_REFERENCE),
                      (PowStepDevice, KIND_POW_STEP), (PiecewiseStepDevice, KIND_PIECEWISE_STEP),
                      (ConstantStepDevice, KIND_CONSTANT_STEP)):
        if isinstance(device, cls):
            return kind
    raise ConfigError(f"device {type(device).__name__} is not a single pulsed device rpu can "
                      f"simulate yet.")


def write_noise_std(device):
    """The device's write noise in units of dw_min (0 when it has none)."""
    return float(getattr(as_simulated(device), "write_noise_std", 0.0) or 0.0)


def hidden_names(device):
    """aihwkit's hidden-parameter names of ``device``, in tensor order (training.md §6.2)."""
    if not is_pulsed(device):
        return []
    device = as_simulated(device)
    names = list(BASE_NAMES)
    if write_noise_std(device) > 0:
        names.append("persistent_weights")
    kind = kind_of(device)
    if kind == KIND_LINEAR_STEP:
        names += ["slope_up", "slope_down"]
    elif kind == KIND_POW_STEP:
        names += ["gamma_up", "gamma_down"]
    elif kind == KIND_POW_STEP_REFERENCE:
        names += ["gamma_up", "gamma_down", "reference"]
    elif kind == KIND_SOFT_BOUNDS_REFERENCE:
        names += ["reference"]
    return names


def granularity(device, dtype=np.float64):
    """The weight granularity g used by update management (training.md §3.6).

    Computed in the tile's ``dtype`` as aihwkit's ``calcWeightGranularity`` computes it in its
    float type: BL = ceil(lr / g) and the dense pulse counts turn on the last bit of g (a float32
    ``dw_min * 0.5 ** pow_gamma`` and the same product rounded from double can differ by one).
    """
    T = np.dtype(dtype).type
    dev = as_simulated(device)
    if not is_pulsed(dev):
        return float(T(dev.dw_min))
    kind = kind_of(dev)
    if kind in (KIND_POW_STEP, KIND_POW_STEP_REFERENCE):
        # the C library's powf, as aihwkit's (NumPy's float32 power can be one bit off)
        half_to_gamma = T(_core.c_pow(0.5, dev.pow_gamma, T is np.float32))
        return float(T(dev.dw_min) * half_to_gamma)
    if kind == KIND_PIECEWISE_STEP and len(dev.piecewise_up):
        return float(T(dev.dw_min) * T(dev.piecewise_up[len(dev.piecewise_up) // 2]))
    if kind == KIND_EXP_STEP:  # rpu's own (intended) formula: see ExpStepDevice's notes
        return float(T(dev.calc_weight_granularity()))
    return float(T(dev.dw_min))


def mean_granularity(values, dtype=np.float64):
    """The granularity of a unit cell or transfer compound: the mean of its devices', summed in
    order and divided in the tile's type, as aihwkit's VectorRPUDevice does (float32: (0.02 +
    0.005) / 2 is 0.0124999993, not the 0.0125000002 that double arithmetic rounds to)."""
    T = np.dtype(dtype).type
    total = T(0.0)
    for v in values:
        total = total + T(v)
    return float(total / T(len(values)))


def globals_of(device, dtype):
    """The global per-pulse parameters of the kernel (dict of numbers and node tables)."""
    device = as_simulated(device)
    kind = kind_of(device)
    g = {"kind": kind, "sigma": float(device.dw_min_std), "mult_noise": int(bool(getattr(device, "mult_noise", True))),
         "A_up": 0.0, "A_down": 0.0, "gamma_up": 0.0, "gamma_down": 0.0, "a": 0.0, "b": 0.0,
         "std_add": 0.0, "std_slope": 0.0, "write_noise": write_noise_std(device) * float(device.dw_min)}
    if kind == KIND_EXP_STEP:
        g.update(A_up=device.A_up, A_down=device.A_down, gamma_up=device.gamma_up,
                 gamma_down=device.gamma_down, a=device.a, b=device.b,
                 std_add=device.dw_min_std_add, std_slope=device.dw_min_std_slope)
    nodes_up = np.asarray(getattr(device, "piecewise_up", [1.0]), dtype=dtype)
    nodes_down = np.asarray(getattr(device, "piecewise_down", [1.0]), dtype=dtype)
    g["nodes_up"], g["nodes_down"] = nodes_up, nodes_down
    # Does any pulse need a noise sample? (ExpStep's additive noise also scales with sigma.)
    g["needs_noise"] = int(g["sigma"] > 0)
    return g


def _biased_pair(mean_bias, gain, spread):
    """aihwkit's up/down split of a gain (training.md §3.2): (up factor, down factor)."""
    up_bias = min(mean_bias, 0.0)
    down_bias = -mean_bias if mean_bias > 0 else 0.0
    return up_bias + gain + spread, down_bias + gain - spread


def populate(device, d_size, x_size, normal, uniform, dtype):
    """Draw the hidden parameters of a (d_size, x_size) array of devices.

    Parameters
    ----------
    device : PulsedDevice
    normal, uniform : callable(sub) -> ndarray of shape (d_size, x_size)
        Construction draws of sub-stream ``sub`` (standard normals / uniforms in [0, 1)).
    dtype : numpy dtype of the tile

    Returns
    -------
    dict name -> ndarray (d_size, x_size), in aihwkit's order; ``persistent_weights`` (if any)
    is set to zero here and follows the weights once they are set.
    """
    device = as_simulated(device)
    shape = (d_size, x_size)
    kind = kind_of(device)
    b_max = device.w_max * (1 + device.w_max_dtod * normal(_S_WMAX))
    b_min = device.w_min * (1 + device.w_min_dtod * normal(_S_WMIN))
    xi = normal(_S_GAIN)
    gain = np.exp(device.dw_min_dtod * xi) if device.dw_min_dtod_log_normal else 1 + device.dw_min_dtod * xi
    r = device.up_down_dtod * normal(_S_UPDOWN)
    up_f, down_f = _biased_pair(device.up_down, gain, r)
    s_up = up_f * device.dw_min
    s_down = down_f * device.dw_min
    if device.enforce_consistency:
        s_up, s_down = np.abs(s_up), np.abs(s_down)
        swap = b_min > b_max
        b_max, b_min = np.where(swap, b_min, b_max), np.where(swap, b_max, b_min)
        b_max, b_min = np.abs(b_max), -np.abs(b_min)
    else:
        off = b_min > b_max
        mid = (b_max + b_min) / 2
        b_max, b_min = np.where(off, mid, b_max), np.where(off, mid, b_min)
    if device.corrupt_devices_prob > 0:
        corrupt = uniform(_S_CORRUPT_COIN) < device.corrupt_devices_prob
        rng = abs(device.corrupt_devices_range)
        lo = np.maximum(np.minimum(b_max, b_min), -rng)
        hi = np.minimum(np.maximum(b_max, b_min), rng)
        value = lo + (hi - lo) * uniform(_S_CORRUPT_VALUE)
        b_max, b_min = np.where(corrupt, value, b_max), np.where(corrupt, value, b_min)
        s_up, s_down = np.where(corrupt, 0.0, s_up), np.where(corrupt, 0.0, s_down)
    if device.perfect_bias:
        # aihwkit applies this to the last column whether or not the tile has a bias.
        s_up[:, -1] = s_down[:, -1] = device.dw_min
        b_min[:, -1] = 100 * device.w_min
        b_max[:, -1] = 100 * device.w_max
    diffusion = np.abs(device.diffusion * (1 + device.diffusion_dtod * normal(_S_DIFFUSION)))
    # aihwkit 1.1.0 clamps a negative reset mean to 0 (training.md §9).
    reset_bias = max(device.reset, 0.0) + device.reset_dtod * normal(_S_RESET)
    if device.lifetime > 0:
        t = device.lifetime * (1 + device.lifetime_dtod * normal(_S_LIFETIME))
        decay = np.where(t > 1, 1 - 1 / np.where(t > 1, t, 2.0), 0.0)
    else:
        decay = np.ones(shape)
    drift = device.drift
    if drift.nu > 0:
        drift_nu = drift.nu + drift.nu_dtod * drift.nu * normal(_S_DRIFT)
    else:
        drift_nu = np.zeros(shape)

    hidden = {"max_bound": b_max, "min_bound": b_min, "dwmin_up": s_up, "dwmin_down": s_down,
              "decay_scales": decay, "diffusion_rates": diffusion, "reset_bias": reset_bias,
              "drift_nu": drift_nu}
    if write_noise_std(device) > 0:
        hidden["persistent_weights"] = np.zeros(shape)

    if kind == KIND_LINEAR_STEP:
        if isinstance(device, LinearStepDevice):
            g_up = device.gamma_up + device.gamma_up_dtod * normal(_S_EXTRA1)
            g_down = device.gamma_down + device.gamma_down_dtod * normal(_S_EXTRA2)
            if not device.allow_increasing:
                g_up, g_down = np.abs(g_up), np.abs(g_down)
            mean_ref = device.mean_bound_reference
        else:  # SoftBounds: gamma 1, no spread, the element's own bounds
            g_up = g_down = np.ones(shape)
            mean_ref = False
        w_max_ref = device.w_max if mean_ref else b_max
        w_min_ref = device.w_min if mean_ref else b_min
        ref_up = (w_min_ref - device.reverse_offset) if device.reverse_up else w_max_ref
        ref_down = (w_max_ref + device.reverse_offset) if device.reverse_down else w_min_ref
        ref_up = np.broadcast_to(ref_up, shape)
        ref_down = np.broadcast_to(ref_down, shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            hidden["slope_up"] = np.where(ref_up != 0, -g_up * s_up / ref_up, 0.0)
            hidden["slope_down"] = np.where(ref_down != 0, -g_down * s_down / ref_down, 0.0)
    elif kind in (KIND_POW_STEP, KIND_POW_STEP_REFERENCE):
        gain = 1 + device.pow_gamma_dtod * normal(_S_EXTRA1)
        r = device.pow_up_down_dtod * normal(_S_EXTRA2)
        up_f, down_f = _biased_pair(device.pow_up_down, gain, r)
        g_up, g_down = up_f * device.pow_gamma, down_f * device.pow_gamma
        if device.enforce_consistency:
            g_up, g_down = np.abs(g_up), np.abs(g_down)
        hidden["gamma_up"], hidden["gamma_down"] = g_up, g_down
        if kind == KIND_POW_STEP_REFERENCE:
            ref = device.reference_mean + device.reference_std * normal(_S_EXTRA3)
            if device.subtract_symmetry_point:
                sp = _pow_step_symmetry_point(device, b_max, b_min, s_up, s_down, g_up, g_down)
                _check_symmetry_point(device, sp)
                ref = ref + sp
                hidden["reset_bias"] = hidden["reset_bias"] + sp
            hidden["reference"] = ref
    elif kind == KIND_SOFT_BOUNDS_REFERENCE:
        inside = (b_max > 0) & (b_min < 0)
        k_down = (-s_down / np.where(inside, b_min, -1.0)) * np.abs(1 + device.slope_down_dtod * normal(_S_EXTRA1))
        k_up = (s_up / np.where(inside, b_max, 1.0)) * np.abs(1 + device.slope_up_dtod * normal(_S_EXTRA2))
        with np.errstate(divide="ignore", invalid="ignore"):
            b_max = np.where(inside, s_up / k_up, b_max)
            b_min = np.where(inside, -s_down / k_down, b_min)
        hidden["max_bound"], hidden["min_bound"] = b_max, b_min
        ref = device.reference_mean + device.reference_std * normal(_S_EXTRA3)
        if device.subtract_symmetry_point:
            with np.errstate(divide="ignore", invalid="ignore"):
                sp = (s_up - s_down) / (s_up / b_max - s_down / b_min)
            sp = np.where(inside, sp, 0.0)
            _check_symmetry_point(device, sp)
            ref = ref + sp
            hidden["reset_bias"] = hidden["reset_bias"] + sp
        hidden["reference"] = ref
    return {name: np.ascontiguousarray(np.broadcast_to(hidden[name], shape), dtype=dtype)
            for name in hidden_names(device)}


def _check_symmetry_point(device, sp):
    """Refuse drawn devices whose symmetry point is not a number (``subtract_symmetry_point``):
    it would make their reference, and the weights read against it, infinite."""
    bad = int(np.count_nonzero(~np.isfinite(sp)))
    if bad:
        raise ConfigError(
            f"{type(device).__name__}.subtract_symmetry_point = True is not allowed for these "
            f"drawn devices: the symmetry point of {bad} of {sp.size} is not finite (drawn up and "
            f"down steps that never cancel, such as negative steps with enforce_consistency = "
            f"False, or equal slopes); set enforce_consistency = True or reduce the *_dtod "
            f"spreads")


def _pow_step_symmetry_point(device, b_max, b_min, s_up, s_down, g_up, g_down):
    """The weight where a noise-free up+down pulse pair of a PowStep device cancels, estimated by
    iterating pulse pairs from 0 as aihwkit does (training.md §3.5)."""
    rng = b_max - b_min
    inside = (b_max > 0) & (b_min < 0)
    if device.n_estimation_steps > 0:
        n = int(device.n_estimation_steps)
    else:
        smallest = float(np.min(np.minimum(s_down, s_up)[inside])) if inside.any() else 1.0
        n = int(min(round(10 * float(np.max(rng)) / max(smallest, 1e-12)), 10000))
    sp = np.zeros_like(b_max)
    safe = np.where(rng > 0, rng, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):   # (a diverging one is refused after)
        for _ in range(n):
            sp = sp - s_down * np.maximum((sp - b_min) / safe, 0) ** g_down + s_up * np.maximum((b_max - sp) / safe, 0) ** g_up
    return np.where(inside, sp, 0.0)

