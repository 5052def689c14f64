"""The periphery of one MVM direction: IOParameters resolved for the core, and the fixed per-line
draws made once when a tile is built (aihwkit's ``populateFBParameter``).

``resolve_io`` turns an ``IOParameters`` into the plain dict that ``_core.analog_mvm`` reads,
applying aihwkit's C++ initialisation rules (training.md §1.2): resolution -> quantisation step,
non-positive bounds -> infinite, NM off -> ``nm_thres = 0``, backward -> no bound management.
``Periphery`` holds that dict together with the per-line arrays (output-noise sigmas, voltage
offsets, non-linearities, read asymmetries) and the AverageAbsMax running value.
"""
import math

import numpy as np

from rpu._rng import Purpose
from rpu.errors import ConfigError

# C++-only IO constants that aihwkit's Python dataclass does not expose.
NM_ASSUMED_WMAX = 0.6
NM_DECAY = 1e-3
R_SERIES_MAX_TOTAL = math.inf

_NM_CODES = {"NONE": 0, "ABS_MAX": 1, "MAX": 2, "CONSTANT": 3, "AVERAGE_ABS_MAX": 4,
             "ABS_MAX_NP_SUM": 5}
_BM_CODES = {"NONE": 0, "ITERATIVE": 1, "ITERATIVE_WORST_CASE": 2}
_MV_CODES = {"ONE_PASS": 0, "POS_NEG_SEPARATE": 1, "POS_NEG_SEPARATE_DIGITAL_SUM": 2}
_W_NOISE_CODES = {"NONE": 0, "ADDITIVE_CONSTANT": 1, "PCM_READ": 2}

# aihwkit marks outputs within 0.1 % of the output bound as clipped (their gradient is zeroed).
OUT_BOUND_MARGIN = 0.999


def output_bound_mask(io, y, xp=np):
    """Where the input gradient of a forward's outputs is zeroed (aihwkit's output-bound mask).

    aihwkit's torch tile modules (AnalogTile, InferenceTile and the tiles of an array) keep, in
    each autograd forward, ``|y| >= out_scale * out_bound * 0.999`` of the crossbar output ``y``
    and zero those entries of ``d`` before the tile's backward; the update still gets the whole
    ``d``. This holds with ``is_perfect`` too, whose forward does not clip (spec inference.md
    6.6).

    Parameters
    ----------
    io : IOParameters
        The forward IO of the tile.
    y : ndarray of shape (batch, out_size)
        The crossbar output of the forward, before digital scales and bias.

    Returns
    -------
    ndarray of bool, shape (batch, out_size), or None when ``out_bound <= 0`` (no bound).
    """
    if io.out_bound <= 0:
        return None
    return xp.abs(y) >= io.out_scale * io.out_bound * OUT_BOUND_MARGIN


def layer_masks_outputs(tile_class):
    """Whether a layer holding tiles of ``tile_class`` (a TileArray, an adapter's layer) applies
    :func:`output_bound_mask` itself: for an AnalogTile, rpu's bare crossbar, where aihwkit's
    AnalogTile module masks. An InferenceTile masks its own outputs; a FloatingPointTile has no
    output bound."""
    from rpu.tiles.analog import AnalogTile
    from rpu.tiles.inference import InferenceTile
    return issubclass(tile_class, AnalogTile) and not issubclass(tile_class, InferenceTile)


# Sub-stream ids of the construction draws, per direction.
_SUB_V_OFFSET, _SUB_NONLINEARITY, _SUB_W_ASYMMETRY, _SUB_OUT_NOISE = 0, 1, 2, 3

LINE_KEYS = ("out_noise_values", "v_offset", "out_nonlinearity", "out_nonlinearity_factor",
             "w_asymmetry")


def resolution_step(res, bound, dtype=np.float64):
    """aihwkit's quantisation step: ``res' * 2 * bound`` with ``res' = 1/res`` for ``res > 1``.

    Computed in the tile's dtype, as aihwkit's C++ does in float32: the float32 step of the
    default ADC is 0.04705883, so 255 steps land just above ``out_bound = 12`` and an output on
    the top ADC level counts as an overflow for bound management, as in aihwkit.
    A step <= 0 (resolution <= 0, or a non-positive bound) means no quantisation.
    """
    t = np.dtype(dtype).type
    r = t(0) if res < 0 else (t(1) / t(res) if res > 1 else t(res))
    return float(r * (t(2) * t(bound)))


def resolve_io(io, direction, path, dtype=np.float64):
    """Resolve ``io`` (an IOParameters) for ``direction`` ("forward" or "backward").

    Raises ConfigError for settings aihwkit's C++ path rejects (noise management with
    ``inp_bound != 1``) or cannot run (``SHIFT`` bound management, torch-only MV types).
    """
    io.validate()
    mv_name = io.mv_type.name
    is_perfect = bool(io.is_perfect) or mv_name == "IDEAL"
    if not is_perfect and mv_name not in _MV_CODES:
        raise ConfigError(
            f"{path}.mv_type = {mv_name} is only simulated by aihwkit's torch IR-drop tiles; "
            f"rpu's analog tiles support {', '.join(['IDEAL'] + list(_MV_CODES))}.")
    nm_name = io.noise_management.name
    bm_name = io.bound_management.name if direction == "forward" else "NONE"
    if bm_name == "SHIFT" and not is_perfect:
        raise ConfigError(
            f"{path}.bound_management = SHIFT is not implemented (aihwkit has no SHIFT either); "
            f"use NONE, ITERATIVE or ITERATIVE_WORST_CASE.")
    if nm_name != "NONE" and io.inp_bound != 1.0 and not is_perfect:
        raise ConfigError(
            f"{path}.inp_bound = {io.inp_bound!r} with noise_management = {nm_name}: noise "
            f"management scales inputs to [-1, 1], so inp_bound must be 1.0 (aihwkit's C++ path "
            f"treats this as fatal); set noise_management = NONE to use another input bound.")
    inp_step = resolution_step(io.inp_res, io.inp_bound, dtype)
    out_step = resolution_step(io.out_res, io.out_bound, dtype)
    out_bound = float(io.out_bound) if io.out_bound > 0 else math.inf
    inp_bound = float(io.inp_bound) if io.inp_bound > 0 else math.inf
    return {
        "is_perfect": is_perfect,
        "nm_type": _NM_CODES[nm_name],
        "bm_type": _BM_CODES[bm_name],
        "mv_type": _MV_CODES.get(mv_name, 0),
        "nm_thres": float(io.nm_thres) if nm_name != "NONE" else 0.0,
        "nm_assumed_wmax": NM_ASSUMED_WMAX,
        "nm_decay": NM_DECAY,
        "inp_bound": inp_bound,
        "inp_step": inp_step,
        "inp_noise": float(io.inp_noise),
        "inp_asymmetry": float(io.inp_asymmetry),
        "inp_sto_round": bool(io.inp_sto_round),
        "out_bound": out_bound,
        "out_step": out_step,
        "out_noise": float(io.out_noise),
        "out_asymmetry": float(io.out_asymmetry) if io.out_asymmetry > 0 else 0.0,
        "out_scale": float(io.out_scale),
        "out_sto_round": bool(io.out_sto_round),
        "out_noise_per_line": bool(io.out_noise_std > 0),
        "nonlinear": bool((io.out_nonlinearity > 0 or io.r_series > 0) and not is_perfect),
        "nlf": 1.0,
        "w_noise_type": _W_NOISE_CODES[io.w_noise_type.name],
        "w_noise": float(io.w_noise),
        "ir_drop": float(io.ir_drop),
        "ir_drop_g_ratio": float(io.ir_drop_g_ratio),
        "v_offset_on": bool(io.v_offset_std > 0 or io.r_series > 0),
        "v_offset_ref": bool(io.v_offset_w_min != 0),
        "v_offset_w_min": float(io.v_offset_w_min),
        "r_series": max(float(io.r_series), 0.0),
        "r_series_max_total": R_SERIES_MAX_TOTAL,
        "read_asymmetry_on": bool(io.w_read_asymmetry_dtod != 0),
        "max_bm_factor": float(io.max_bm_factor),
        "max_bm_res": float(io.max_bm_res),
        "bm_test_negative_bound": bool(io.bm_test_negative_bound),
        "zero_shortcut_needs_no_inp_noise": direction == "forward",
    }


class Periphery:
    """One direction's resolved IO settings, fixed per-line draws and running NM value.

    Parameters
    ----------
    io : IOParameters
    direction : {"forward", "backward"}
    n_out, n_in : int
        Output and input lines of this direction (forward: ``d_size, x_size``; backward: swapped).
    w_shape : tuple
        Shape of the stored weights, ``(d_size, x_size)``, for per-weight read asymmetries.
    backend, key, dtype, n_threads
        Where and how the construction draws are made.
    """

    def __init__(self, io, direction, n_out, n_in, w_shape, backend, key, dtype, n_threads, path):
        self.direction = direction
        self.spec = resolve_io(io, direction, path, dtype)
        self.n_out = n_out
        self.w_shape = tuple(w_shape)
        self.nm_state = np.zeros(2, dtype=np.float64)
        self.lines = {}
        if self.spec["is_perfect"]:
            return
        base_sub = 0 if direction == "forward" else 16

        def normals(shape, sub):
            out = np.empty((1, int(np.prod(shape))) if len(shape) == 1 else shape, dtype=dtype)
            backend.normal_fill(out, key, 0, int(Purpose.FB_CONSTRUCTION), base_sub + sub, n_threads)
            return out.reshape(shape)

        out_bound = io.out_bound if io.out_bound > 0 else 1.0
        if io.v_offset_std > 0 or io.r_series > 0:
            self.lines["v_offset"] = np.maximum(io.v_offset_std * normals((n_out,), _SUB_V_OFFSET),
                                                0).astype(dtype)
        if self.spec["nonlinear"]:
            xi = normals((n_out,), _SUB_NONLINEARITY)
            nl = np.abs(io.out_nonlinearity / out_bound * (1 + max(io.out_nonlinearity_std, 0.0) * xi))
            self.lines["out_nonlinearity"] = nl.astype(dtype)
            if io.slope_calibration > 0:
                f = 1.0 + (float(np.mean(np.abs(nl))) + max(io.r_series, 0.0)) * io.slope_calibration * out_bound
                self.spec["nlf"] = f * f
        if io.w_read_asymmetry_dtod != 0:
            self.lines["w_asymmetry"] = (1 + io.w_read_asymmetry_dtod * normals(self.w_shape, _SUB_W_ASYMMETRY)).astype(dtype)
        if io.out_noise_std > 0:
            xi = normals((n_out,), _SUB_OUT_NOISE)
            self.lines["out_noise_values"] = np.abs(io.out_noise * (1 + io.out_noise_std * xi)).astype(dtype)

    def get_parameters(self):
        """Copies of the per-line arrays, and ``out_nonlinearity_factor`` as a 0-d array."""
        params = {k: v.copy() for k, v in self.lines.items()}
        if not self.spec["is_perfect"]:
            params["out_nonlinearity_factor"] = np.array(self.spec["nlf"])
        return params

    def set_parameters(self, params, dtype, backend=None):
        """Replace per-line arrays; checks every key, shape and value before changing anything.
        ``params`` may hold host or device arrays; they are stored on ``backend`` (a
        CudaBackend, or the CPU core when None)."""
        if not isinstance(params, dict):
            raise TypeError(f"parameters must be a dict of arrays, got {type(params).__name__}.")
        staged = {}
        for name, value in params.items():
            if name not in LINE_KEYS:
                raise KeyError(f"unknown {self.direction} parameter {name!r}; known: {', '.join(LINE_KEYS)}.")
            arr = np.asarray(value.get() if hasattr(value, "get") else value, dtype=np.float64)
            expected = {"w_asymmetry": self.w_shape, "out_nonlinearity_factor": ()}.get(name, (self.n_out,))
            if arr.shape != expected:
                raise ValueError(f"{self.direction} parameter {name!r} must have shape {expected}, "
                                 f"got {arr.shape}.")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{self.direction} parameter {name!r} contains NaN or Inf.")
            staged[name] = arr
        for name, arr in staged.items():
            if name == "out_nonlinearity_factor":
                self.spec["nlf"] = float(arr)
            else:
                arr = np.ascontiguousarray(arr, dtype=dtype)
                self.lines[name] = backend.to_device(arr) if hasattr(backend, "to_device") else arr
        if "out_noise_values" in staged:
            self.spec["out_noise_per_line"] = True
        if "v_offset" in staged:
            self.spec["v_offset_on"] = True
        if "out_nonlinearity" in staged and not self.spec["is_perfect"]:
            self.spec["nonlinear"] = True
        if "w_asymmetry" in staged:
            self.spec["read_asymmetry_on"] = True
