"""Weight <-> conductance converters of the inference noise models (aihwkit 1.1.0 semantics).

Spec: shared/spec/inference.md section 4.2. A converter maps a weight matrix onto one or more
slices of device conductances (in uS) and back; the noise models act on the slices element by
element. The converters are array expressions and interpolation, so they stay in NumPy.

=================================  =========================================  ==================
converter (rpu.config)             slices                                     params
=================================  =========================================  ==================
SinglePairConductanceConverter     ``[g+, g-]``                               scale_ratio
NPair-/DualPairConductanceConverter ``[g+_0, g-_0, g+_1, g-_1, ...]``         scale_ratio, f_lst
CustomPairConductanceConverter     ``[g+_0, g-_0, ...]`` (from the tables)    scale_ratio, f_lst
SingleDeviceConductanceConverter   ``[g]``                                    scale_ratio, min
=================================  =========================================  ==================

aihwkit's ``SingleDeviceConductanceConverter`` returns one tensor instead of a list, so its noise
models iterate over the tensor's rows; every model acts element by element, so the single slice
``[g]`` used here gives the same statistics.
"""
import numpy as np

from rpu.config.noise_models import (
    BaseConductanceConverter,
    CustomPairConductanceConverter,
    NPairConductanceConverter,
    SingleDeviceConductanceConverter,
    SinglePairConductanceConverter,
)

from rpu.backends import backend_for

from ._validation import as_matrix

__all__ = ["ZERO_CLIP", "convert_to_conductances", "convert_back_to_weights", "n_slices",
           "invertibility_error"]

#: aihwkit's ``_ZERO_CLIP``: the smallest weight abs-max (or range) used for the scale ratio.
ZERO_CLIP = 1e-7

_KNOWN = (SinglePairConductanceConverter, NPairConductanceConverter,
          CustomPairConductanceConverter, SingleDeviceConductanceConverter)


def _check_converter(converter):
    if not isinstance(converter, BaseConductanceConverter):
        raise TypeError(f"converter must be a rpu.config conductance converter, got "
                        f"{type(converter).__name__}.")
    if not isinstance(converter, _KNOWN):
        raise NotImplementedError(f"converter {type(converter).__name__} is not implemented; "
                                  f"rpu.inference knows {', '.join(c.__name__ for c in _KNOWN)}.")
    converter.validate()


def n_slices(converter):
    """The number of conductance slices the converter produces (2, 2N or 1)."""
    _check_converter(converter)
    if isinstance(converter, SinglePairConductanceConverter):
        return 2
    if isinstance(converter, SingleDeviceConductanceConverter):
        return 1
    return 2 * len(converter.f_lst)


def _abs_max(w, xp=np):
    dt = w.dtype.type
    # (through float: exact, and a device scalar comes to the host)
    return max(dt(float(xp.max(xp.abs(w)))) if w.size else dt(0), dt(ZERO_CLIP))


def convert_to_conductances(converter, weights, *, backend=None):
    """Map weights onto slices of conductances.

    * SinglePair: ``s = (g_max - g_min) / max(max|W|, 1e-7)``; ``g+ = clip(s W, 0, g_max) +
      g_min``, ``g- = clip(-s W, 0, g_max) + g_min``.
    * NPair / DualPair: ``s = sum(f) (g_max - g_min) / max(max|W|, 1e-7)``, ``w = s W``; pair
      k (lower bound ``L_k = sum_{l<k} f_l (g_max - g_min)``) gets
      ``g+ = clip((max(w, 0) - L_k)/f_k + g_min, g_min, g_max)`` and likewise ``g-`` from
      ``max(-w, 0)``.
    * CustomPair: ``wu = sum_k f_k (g+_k - g-_k)`` over the table points,
      ``s = max|wu| / max(max|W|, 1e-7)``; each device ``g = interp(W, grid, table)`` with
      ``grid = linspace(-max|wu|, max|wu|, K) / s`` (clamped at the ends). aihwkit builds
      the tables and the grid as float32 tensors (torch's default dtype) whatever the weights'
      dtype; rpu uses float64, so float64 results differ from aihwkit's at the 1e-7 level.
    * SingleDevice: ``s = (g_max - g_min) / (max W - min W)``; ``g = (W - min W) s + g_min``.
      aihwkit divides by a zero range (NaN) for constant weights; rpu floors it at 1e-7.

    Parameters
    ----------
    converter : rpu.config conductance converter
    weights : array_like of shape (out_size, in_size)
        Finite weights; float32 and float64 keep their dtype, others become float32.
    backend : None, "cpu", "cuda" or a rpu.gpu.CudaBackend
        Where to compute (see ``rpu.backends.backend_for``): None follows ``weights`` (a CuPy
        array runs on the GPU and gives CuPy arrays).

    Returns
    -------
    conductances : list of ndarrays of shape (out_size, in_size)
        The slices in uS, in the weights' dtype (see the module's table for their order).
    params : dict
        ``scale_ratio`` (uS per weight unit, a float of the weights' dtype) and, per converter,
        ``f_lst`` or ``min``; needed by :func:`convert_back_to_weights`.
    """
    _check_converter(converter)
    _, xp = backend_for(backend, weights)
    w = as_matrix("weights", weights, xp=xp)
    dt = w.dtype.type
    if isinstance(converter, SinglePairConductanceConverter):
        scale_ratio = dt(converter.g_max - converter.g_min) / _abs_max(w, xp)
        scaled = w * scale_ratio
        g_max, g_min = dt(converter.g_max), dt(converter.g_min)
        g_plus = xp.clip(scaled, 0, g_max) + g_min
        g_minus = xp.clip(-scaled, 0, g_max) + g_min
        return [g_plus, g_minus], {"scale_ratio": scale_ratio}
    if isinstance(converter, NPairConductanceConverter):
        g_max, g_min = converter.g_max, converter.g_min
        span = g_max - g_min
        scale_ratio = dt(sum(f * span for f in converter.f_lst)) / _abs_max(w, xp)
        w_us = w * scale_ratio
        pos, neg = xp.maximum(w_us, 0), xp.maximum(-w_us, 0)
        lower = 0.0
        out = []
        for f in converter.f_lst:
            for part in (pos, neg):
                out.append(xp.clip((part - dt(lower)) / dt(f) + dt(g_min), dt(g_min), dt(g_max)))
            lower += f * span
        return out, {"scale_ratio": scale_ratio, "f_lst": list(converter.f_lst)}
    if isinstance(converter, CustomPairConductanceConverter):
        return _custom_pair_to_g(converter, w, xp)
    # SingleDeviceConductanceConverter
    w_min = dt(float(xp.min(w))) if w.size else dt(0)
    w_range = (dt(float(xp.max(w))) - w_min) if w.size else dt(0)
    scale_ratio = dt(converter.g_max - converter.g_min) / max(w_range, dt(ZERO_CLIP))
    g = (w - w_min) * scale_ratio + dt(converter.g_min)
    return [g], {"scale_ratio": scale_ratio, "min": w_min}


def _scale_ratio(params):
    if "scale_ratio" not in params:
        raise ValueError("params must contain 'scale_ratio' (from convert_to_conductances).")
    s = float(params["scale_ratio"])
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"params['scale_ratio'] must be finite and > 0, got "
                         f"{params['scale_ratio']!r}.")
    return s


def convert_back_to_weights(converter, conductances, params, *, backend=None):
    """Weights from (possibly noisy) conductance slices; the inverse of
    :func:`convert_to_conductances`.

    * SinglePair: ``((g+ - g_min) - (g- - g_min)) / s``.
    * NPair / DualPair / CustomPair: ``sum_k f_k (g+_k - g-_k) / s`` (``f_lst`` from params).
    * SingleDevice: ``min + (g - g_min) / s``.

    Parameters
    ----------
    converter : rpu.config conductance converter
    conductances : sequence of arrays of shape (out_size, in_size)
        The slices in uS, as many as :func:`n_slices` (a SingleDevice converter also takes the
        one array by itself).
    params : dict
        From :func:`convert_to_conductances`.
    backend : None, "cpu", "cuda" or a rpu.gpu.CudaBackend
        As in :func:`convert_to_conductances` (None follows the conductances).

    Returns
    -------
    weights : ndarray of shape (out_size, in_size), in the conductances' dtype
    """
    _check_converter(converter)
    if isinstance(converter, SingleDeviceConductanceConverter) and not isinstance(
            conductances, (list, tuple)):
        conductances = [conductances]
    n = n_slices(converter)
    if len(conductances) != n:
        raise ValueError(f"conductances must hold {n} arrays for {type(converter).__name__}, "
                         f"got {len(conductances)}.")
    s = _scale_ratio(params)
    _, xp = backend_for(backend, *conductances)
    g = [as_matrix("conductances[0]", conductances[0], xp=xp)]
    for k in range(1, n):
        g.append(as_matrix(f"conductances[{k}]", conductances[k], dtype=g[0].dtype, xp=xp))
        if g[k].shape != g[0].shape:
            raise ValueError(f"conductances[{k}] must have the shape of conductances[0], "
                             f"{g[0].shape}, got {g[k].shape}.")
    dt = g[0].dtype.type
    scale_ratio = dt(s)
    if isinstance(converter, SinglePairConductanceConverter):
        g_min = dt(converter.g_min)
        return ((g[0] - g_min) - (g[1] - g_min)) / scale_ratio
    if isinstance(converter, SingleDeviceConductanceConverter):
        if "min" not in params:
            raise ValueError("params must contain 'min' (from convert_to_conductances).")
        return dt(params["min"]) + (g[0] - dt(converter.g_min)) / scale_ratio
    f_lst = params.get("f_lst")
    if f_lst is None or len(f_lst) != n // 2:
        raise ValueError(f"params must contain 'f_lst' with {n // 2} factors (from "
                         f"convert_to_conductances), got {f_lst!r}.")
    return _pairs_back(g, f_lst, scale_ratio, xp)


def _pairs_back(g, f_lst, scale_ratio, xp=np):
    dt = g[0].dtype.type
    w = xp.zeros_like(g[0])
    for k, f in enumerate(f_lst):
        w += dt(f) * (g[2 * k] - g[2 * k + 1])
    return w / scale_ratio


def _custom_pair_to_g(converter, w, xp=np):
    # Shared by the conversion and the invertibility test (which runs while the converter is
    # being validated, so it must not validate it again).
    dt = w.dtype.type
    tables = np.asarray(converter.g_lst, dtype=np.float64)
    f = np.asarray(converter.f_lst, dtype=np.float64)
    w_us = (f[:, None] * (tables[0::2] - tables[1::2])).sum(axis=0)
    max_us = float(np.max(np.abs(w_us)))
    if not max_us > 0:
        raise ValueError("the g_lst tables give no weight range (g+ = g- everywhere)")
    scale_ratio = dt(max_us) / _abs_max(w, xp)
    grid = np.linspace(-max_us, max_us, tables.shape[1]) / float(scale_ratio)
    if xp is not np:
        grid, tables = xp.asarray(grid), xp.asarray(tables)
    out = [xp.interp(w, grid, table).astype(w.dtype) for table in tables]
    return out, {"scale_ratio": scale_ratio, "f_lst": list(converter.f_lst)}


def invertibility_error(converter):
    """For a CustomPairConductanceConverter: None if ``linspace(-1, 1, 5)`` survives the round
    trip within 1e-4 (aihwkit's test), else a short description of the worst deviation."""
    w = np.linspace(-1.0, 1.0, 5).reshape(1, -1)
    try:
        g, params = _custom_pair_to_g(converter, w)
    except ValueError as exc:
        return str(exc)
    back = _pairs_back(g, params["f_lst"], params["scale_ratio"])
    err = np.abs(back - w)
    if not np.all(err <= 1e-4):
        k = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
        return f"w = {w[0, k]:g} comes back as {back[0, k]:g}"
    return None
