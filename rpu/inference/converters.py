"""Weight <-> conductance converters of the inference noise models (aihwkit 1.1.0 semantics).

Spec: shared/spec/inference.md section 4.2. A converter maps a weight matrix onto one or more
slices of device conductances (in uS) and back; the noise models act on the slices element by
element. Only :class:`rpu.config.SinglePairConductanceConverter` exists so far.
"""
import numpy as np

from rpu.config.noise_models import BaseConductanceConverter, SinglePairConductanceConverter

from ._validation import as_matrix

__all__ = ["ZERO_CLIP", "convert_to_conductances", "convert_back_to_weights"]

#: aihwkit's ``_ZERO_CLIP``: the smallest weight abs-max used for the scale ratio.
ZERO_CLIP = 1e-7


def _check_converter(converter):
    if not isinstance(converter, BaseConductanceConverter):
        raise TypeError(f"converter must be a rpu.config conductance converter, got "
                        f"{type(converter).__name__}.")
    if not isinstance(converter, SinglePairConductanceConverter):
        raise NotImplementedError(f"converter {type(converter).__name__} is not implemented yet; "
                                  "only SinglePairConductanceConverter is.")
    converter.validate()


def convert_to_conductances(converter, weights):
    """Map weights onto a pair of conductances per weight (``SinglePairConductanceConverter``).

    ``s = (g_max - g_min) / max(max|W|, 1e-7)``; ``g+ = clip(s W, 0, g_max) + g_min`` and
    ``g- = clip(-s W, 0, g_max) + g_min``, so the weight abs-max lands on ``g_max`` and zero on
    ``g_min`` in both devices.

    Parameters
    ----------
    converter : rpu.config.SinglePairConductanceConverter
    weights : array_like of shape (out_size, in_size)
        Finite weights; float32 and float64 keep their dtype, others become float32.

    Returns
    -------
    conductances : list of two ndarrays of shape (out_size, in_size)
        ``[g_plus, g_minus]`` in uS, in the weights' dtype.
    params : dict
        ``{"scale_ratio": s}`` (uS per weight unit, a float of the weights' dtype), needed by
        :func:`convert_back_to_weights`.
    """
    _check_converter(converter)
    w = as_matrix("weights", weights)
    dt = w.dtype.type
    abs_max = dt(np.max(np.abs(w))) if w.size else dt(0)
    scale_ratio = dt(converter.g_max - converter.g_min) / max(abs_max, dt(ZERO_CLIP))
    scaled = w * scale_ratio
    g_max, g_min = dt(converter.g_max), dt(converter.g_min)
    g_plus = np.clip(scaled, 0, g_max) + g_min
    g_minus = np.clip(-scaled, 0, g_max) + g_min
    return [g_plus, g_minus], {"scale_ratio": scale_ratio}


def convert_back_to_weights(converter, conductances, params):
    """Weights from conductances: ``((g+ - g_min) - (g- - g_min)) / s``.

    Parameters
    ----------
    converter : rpu.config.SinglePairConductanceConverter
    conductances : sequence of two arrays of shape (out_size, in_size)
        ``[g_plus, g_minus]`` in uS, as from :func:`convert_to_conductances` (possibly noisy).
    params : dict
        With ``"scale_ratio"`` > 0 from :func:`convert_to_conductances`.

    Returns
    -------
    weights : ndarray of shape (out_size, in_size)
    """
    _check_converter(converter)
    if len(conductances) != 2:
        raise ValueError(f"conductances must hold exactly two arrays [g_plus, g_minus] for "
                         f"SinglePairConductanceConverter, got {len(conductances)}.")
    if "scale_ratio" not in params:
        raise ValueError("params must contain 'scale_ratio' (from convert_to_conductances).")
    g_plus = as_matrix("conductances[0]", conductances[0])
    g_minus = as_matrix("conductances[1]", conductances[1], dtype=g_plus.dtype)
    if g_plus.shape != g_minus.shape:
        raise ValueError(f"conductances[1] must have the shape of conductances[0], "
                         f"{g_plus.shape}, got {g_minus.shape}.")
    dt = g_plus.dtype.type
    scale_ratio = dt(params["scale_ratio"])
    if not np.isfinite(scale_ratio) or scale_ratio <= 0:
        raise ValueError(f"params['scale_ratio'] must be finite and > 0, got {scale_ratio!r}.")
    g_min = dt(converter.g_min)
    return ((g_plus - g_min) - (g_minus - g_min)) / scale_ratio
