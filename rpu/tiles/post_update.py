"""Weight clipping and remapping after each mini-batch (aihwkit 1.1.0's ``WeightClipParameter`` and
``WeightRemapParameter``, C++ semantics).

Spec: shared/spec/inference.md sections 0.2, 3.1 and 3.2. An inference tile's
``post_update_step`` runs :func:`clip_weights`, then :func:`remap_weights`, then the weight
modifier (:mod:`rpu.tiles.weight_modifier`). Both act on the tile weights as stored (normalised
conductance units, the analog bias column included). Each is one reduction and one scaling, so
they are vectorised array code (in float64, the result cast back to the weights' dtype), on
NumPy or, for the GPU backend, CuPy arrays (``backend``; None follows the weights).

Clipping, ``W <- clip(W, -c, c)`` when ``c > 0``:

================================ ================================================================
``FIXED_VALUE``                  ``c = fixed_value``
``LAYER_GAUSSIAN``               ``c = sigma * std(W)`` (unbiased, over all elements), capped by
                                 ``fixed_value`` when that is > 0
``AVERAGE_CHANNEL_MAX``          ``c = mean_i max_j |W_ij|``, capped by ``fixed_value`` when > 0
================================ ================================================================

aihwkit's torch tile clamps ``FIXED_VALUE`` to ``[-fixed_value, fixed_value]`` without the
``c > 0`` guard (so the default ``fixed_value = -1`` sets every weight to -1 there) [bug?]; rpu
follows the C++ rule.

Remapping moves a scale out of the weights into the per-output scales ``s`` (the tile's
``mapping_scales x learned_out_scales``), keeping the logical weights ``W s`` (row-wise):

* ``LAYERWISE_SYMMETRIC``: ``m = max|W| / remapped_wmax``; if ``m > 0``: ``s <- s m``, ``W <- W/m``.
* ``CHANNELWISE_SYMMETRIC``: ``m_i = max_j |W_ij| / remapped_wmax`` (1 where 0);
  ``s_i <- s_i m_i``, ``W_i <- W_i / m_i``.
* ``CHANNELWISE_SYMMETRIC`` with ``max_scale_range > 0`` (needs ``remapped_wmax == 1``): the new
  scales ``s'_i = m_i s_i`` (``s_i`` where ``m_i = 0``) are capped at ``s_min max_scale_range``,
  with ``s_min = max(min_i s_i, 0)`` raised to ``max_scale_ref`` when both are non-zero; the rows
  become ``W_i s_i / s'_i``. A row whose new scale is 0 (a zero input scale) is left as it is;
  aihwkit divides 0 by 0 there.

aihwkit's torch tile folds ``s`` into the weights first and differs from this when ``s`` is not
uniform; the logical weights agree.
"""
import numpy as np

from rpu.backends import backend_for
from rpu.config import (WeightClipParameter, WeightClipType, WeightRemapParameter,
                        WeightRemapType)
from rpu.errors import ConfigError
from rpu.tiles.weight_modifier import weights_matrix

__all__ = ["clip_value", "clip_weights", "remap_weights"]


def _check(param, cls, name):
    if not isinstance(param, cls):
        raise TypeError(f"{name} must be a rpu.config.{cls.__name__}, got {type(param).__name__}.")
    return param.validate()


def clip_value(clip, weights, *, backend=None):
    """The clip value ``c`` of a weight clipping, or None when nothing is clipped.

    Parameters
    ----------
    clip : WeightClipParameter
    weights : ndarray of shape (d_size, x_size), float32 or float64
        The tile weights (not modified).

    Returns
    -------
    float or None
        ``c`` (computed in float64), or None for type ``NONE``, for ``FIXED_VALUE`` with
        ``fixed_value < 0`` (0 clips every weight to 0, as aihwkit's C++ device clip does),
        and for the other types when ``c <= 0`` (``LAYER_GAUSSIAN`` on constant weights or a
        single weight, whose std is taken as 0: aihwkit's WeightClipper skips ``c <= 0``).
    """
    p = _check(clip, WeightClipParameter, "clip")
    _, xp = backend_for(backend, weights)
    w = weights_matrix(weights, xp=xp)
    if p.type == WeightClipType.NONE:
        return None
    if p.type == WeightClipType.FIXED_VALUE:
        c = float(p.fixed_value)
        return c if c >= 0 else None
    else:
        if p.type == WeightClipType.LAYER_GAUSSIAN:
            std = float(xp.std(w, dtype=np.float64, ddof=1)) if w.size > 1 else 0.0
            c = float(p.sigma) * std
        else:  # AVERAGE_CHANNEL_MAX
            c = float(xp.mean(xp.max(xp.abs(w), axis=1), dtype=np.float64)) if w.size else 0.0
        if p.fixed_value > 0:
            c = min(c, float(p.fixed_value))
    return c if c > 0 else None


def clip_weights(clip, weights, *, backend=None):
    """The weights clipped to ``[-c, c]`` with ``c = clip_value(clip, weights)``.

    Parameters
    ----------
    clip : WeightClipParameter
    weights : ndarray of shape (d_size, x_size), float32 or float64

    Returns
    -------
    ndarray of shape (d_size, x_size), same dtype
        A new array (a copy when nothing is clipped). ``c`` is rounded to the weights' dtype
        first, as aihwkit's float tile does.
    """
    be, xp = backend_for(backend, weights)
    w = weights_matrix(weights, xp=xp)
    c = clip_value(clip, w, backend=be)
    if c is None:
        return w.copy()
    c = w.dtype.type(c)
    return xp.clip(w, -c, c)


def _as_scales(scales, d_size, xp=np):
    s = scales if xp is not np and isinstance(scales, xp.ndarray) else np.asarray(scales)
    if s.dtype.kind not in "fiu" or s.dtype == np.bool_:
        raise TypeError(f"scales must be a real array of shape ({d_size},), got dtype {s.dtype}.")
    if s.shape != (d_size,):
        raise ValueError(f"scales must have shape ({d_size},) (one per output row of the "
                         f"weights), got shape {s.shape}.")
    s = xp.array(s, dtype=np.float64)
    if not bool(xp.isfinite(s).all()):
        raise ValueError("scales must be finite, got NaN or Inf entries.")
    return s


def remap_weights(remap, weights, scales, *, backend=None):
    """Remap the weights to ``remapped_wmax`` and move the scale into the output scales.

    Parameters
    ----------
    remap : WeightRemapParameter
    weights : ndarray of shape (d_size, x_size), float32 or float64
        The tile weights (not modified).
    scales : array_like of shape (d_size,)
        The per-output scales (``mapping_scales x learned_out_scales``); not modified.

    Returns
    -------
    new_weights : ndarray of shape (d_size, x_size), same dtype as ``weights``
    new_scales : ndarray of shape (d_size,), float64
        New arrays; copies unchanged for type ``NONE``.

    Raises
    ------
    rpu.ConfigError
        ``CHANNELWISE_SYMMETRIC`` with ``max_scale_range > 0`` and ``remapped_wmax != 1``
        (aihwkit refuses it too).
    """
    p = _check(remap, WeightRemapParameter, "remap")
    _, xp = backend_for(backend, weights, scales)
    w = weights_matrix(weights, xp=xp)
    s = _as_scales(scales, w.shape[0], xp)
    if p.type == WeightRemapType.NONE or w.size == 0:
        return w.copy(), s
    w64 = w.astype(np.float64)
    abs_w = xp.abs(w64)
    if p.type == WeightRemapType.LAYERWISE_SYMMETRIC:
        m = float(abs_w.max()) / p.remapped_wmax
        if m > 0:
            return (w64 / m).astype(w.dtype), s * m
        return w.copy(), s
    # CHANNELWISE_SYMMETRIC
    m = abs_w.max(axis=1) / p.remapped_wmax
    if p.max_scale_range <= 0:
        m = xp.where(m > 0, m, 1.0)
        return (w64 / m[:, None]).astype(w.dtype), s * m
    if p.remapped_wmax != 1:
        raise ConfigError(f"WeightRemapParameter.remapped_wmax = {p.remapped_wmax!r} is not "
                          "allowed with max_scale_range > 0 (CHANNELWISE_SYMMETRIC): expected 1, "
                          "as aihwkit requires")
    s_min = max(float(s.min()), 0.0)
    if s_min > 0 and p.max_scale_ref != 0:
        s_min = max(s_min, float(p.max_scale_ref))
    new_s = xp.where(m > 0, m * s, s)
    if s_min > 0:
        cap = s_min * p.max_scale_range
        new_s = xp.where(new_s / s_min > p.max_scale_range, cap, new_s)
    # s / new_s, and 1 where new_s is 0 (CuPy's ufuncs take no ``where``)
    nonzero = new_s != 0
    ratio = xp.where(nonzero, s / xp.where(nonzero, new_s, 1.0), 1.0)
    return (w64 * ratio[:, None]).astype(w.dtype), new_s
