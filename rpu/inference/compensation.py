"""Drift compensation of aihwkit 1.1.0 on NumPy arrays.

Spec: shared/spec/inference.md sections 4.5 and 4.6. After programming, the tile reads the
one-hot inputs ``eye(in_size)`` through its forward and keeps a baseline read-out; after drift,
the same read-out gives ``alpha = baseline / readout(Y_t)``, which the eval forward multiplies
its outputs by.

==========================================  ==============================================  =========
drift compensation (rpu.config)             read-out of ``Y`` (shape (in_size, out_size))   baseline
==========================================  ==============================================  =========
GlobalDriftCompensation                     ``max(mean|Y|, 1e-4)``, a float                 forward
GlobalDriftCompensationWithExactReference   the same                                        exact
PerColumnDriftCompensation                  ``max(mean over rows |Y|, 1e-4)``, (out_size,)  forward
==========================================  ==============================================  =========

"forward" means the tile's full, noisy forward of the just-programmed weights (aihwkit's
default); "exact" means ``eye @ W_ref.T`` of the target weights without IO non-idealities
(:func:`uses_exact_reference` tells the tile which one to pass). The functions take the
read-out's outputs ``Y``, or a ``forward`` callable that maps an input batch
``(batch, in_size)`` to outputs ``(batch, out_size)``.

On the GPU backend the read-outs are CuPy arrays: the functions keep them there (the
per-column read-out and factor stay CuPy arrays; the global ones are Python floats), and
:func:`get_readout_tensor` makes the one-hot inputs on the backend it is given.
"""
import numbers

import numpy as np

from rpu.backends import backend_for
from rpu.config.noise_models import (
    BaseDriftCompensation,
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
)

__all__ = ["READOUT_MIN", "get_readout_tensor", "readout", "init_baseline", "apply",
           "uses_exact_reference"]

#: The floor of the read-out (aihwkit's ``clamp(min=0.0001)``).
READOUT_MIN = 1e-4

_KNOWN = (GlobalDriftCompensation, PerColumnDriftCompensation)


def _check(drift_compensation):
    if not isinstance(drift_compensation, BaseDriftCompensation):
        raise TypeError(f"drift_compensation must be a rpu.config drift compensation, got "
                        f"{type(drift_compensation).__name__}.")
    if not isinstance(drift_compensation, _KNOWN):
        raise NotImplementedError(f"drift_compensation {type(drift_compensation).__name__} is "
                                  "not implemented; rpu.inference knows GlobalDriftCompensation, "
                                  "GlobalDriftCompensationWithExactReference and "
                                  "PerColumnDriftCompensation.")


def _per_column(drift_compensation):
    return isinstance(drift_compensation, PerColumnDriftCompensation)


def uses_exact_reference(drift_compensation):
    """True if the baseline comes from the exact read-out ``eye @ W_ref.T`` of the target
    weights (GlobalDriftCompensationWithExactReference), False if from the tile's forward."""
    _check(drift_compensation)
    return isinstance(drift_compensation, GlobalDriftCompensationWithExactReference)


def get_readout_tensor(drift_compensation, in_size, dtype=np.float32, *, backend=None):
    """The read-out inputs: the one-hot vectors ``eye(in_size)``, shape (in_size, in_size).

    ``in_size`` counts an analog bias column, if the tile has one. ``backend`` (None: the CPU;
    "cuda" or a rpu.gpu.CudaBackend) is where the array is made.
    """
    _check(drift_compensation)
    if isinstance(in_size, (bool, np.bool_)) or not isinstance(in_size, (int, np.integer)) \
            or in_size < 1:
        raise ValueError(f"in_size must be a positive integer, got {in_size!r}.")
    _, xp = backend_for(backend)
    return xp.eye(int(in_size), dtype=dtype)


def readout(drift_compensation, forward_output):
    """The read-out of the outputs for the read-out inputs.

    Parameters
    ----------
    drift_compensation : rpu.config drift compensation
    forward_output : array_like of shape (in_size, out_size)
        The outputs for the read-out inputs; must be non-empty and finite (2-D for
        PerColumnDriftCompensation).

    Returns
    -------
    float or ndarray of shape (out_size,)
        Global types: ``max(mean|Y|, 1e-4)`` over all entries, a Python float.
        PerColumnDriftCompensation: ``max(mean_rows |Y|, 1e-4)`` per output, in Y's dtype
        (float32 or float64; float64 for other dtypes).
    """
    _check(drift_compensation)
    y = _as_array(forward_output)
    xp = _xp_of(y)
    if y.size == 0:
        raise ValueError("forward_output must be non-empty.")
    if not np.issubdtype(y.dtype, np.number) or not bool(xp.isfinite(y).all()):
        raise ValueError("forward_output must hold finite numbers.")
    if not _per_column(drift_compensation):
        return max(float(xp.mean(xp.abs(y), dtype=np.float64)), READOUT_MIN)
    if y.ndim != 2:
        raise ValueError(f"forward_output must be a 2-D array of shape (in_size, out_size) for "
                         f"PerColumnDriftCompensation, got shape {y.shape}.")
    dtype = y.dtype if y.dtype in (np.float32, np.float64) else np.float64
    col = xp.mean(xp.abs(y), axis=0, dtype=np.float64)
    return xp.maximum(col, READOUT_MIN).astype(dtype)


def _as_array(a):
    # arrays stay what they are (a CuPy array on its device); anything else through NumPy
    return a if isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__") \
        else np.asarray(a)


def _xp_of(a):
    # CuPy for CuPy arrays; NumPy otherwise (its functions dispatch to ndarray subclasses)
    if hasattr(a, "__cuda_array_interface__"):
        import cupy
        return cupy
    return np


def _outputs(drift_compensation, forward, in_size, dtype):
    if callable(forward):
        if in_size is None:
            raise ValueError("in_size is required when forward is a callable.")
        return forward(get_readout_tensor(drift_compensation, in_size, dtype))
    return forward


def init_baseline(drift_compensation, forward, in_size=None, dtype=np.float32):
    """The reference read-out, taken right after programming.

    Parameters
    ----------
    drift_compensation : rpu.config drift compensation
    forward : callable or array_like
        Either a forward ``(batch, in_size) -> (batch, out_size)``, called once on
        :func:`get_readout_tensor`, or its outputs for those inputs directly. That is the
        programmed tile's forward, or the exact ``lambda x: x @ W_ref.T`` when
        :func:`uses_exact_reference` is True.
    in_size : int, required with a callable
    dtype : dtype of the read-out inputs, default float32

    Returns
    -------
    float or ndarray of shape (out_size,)
        :func:`readout` of those outputs.
    """
    return readout(drift_compensation, _outputs(drift_compensation, forward, in_size, dtype))


def apply(drift_compensation, forward, ref_value, in_size=None, dtype=np.float32):
    """The compensation factor ``alpha = ref_value / readout(Y_now)``.

    Parameters
    ----------
    drift_compensation : rpu.config drift compensation
    forward : callable or array_like
        The forward of the drifted tile, or its outputs for the read-out inputs.
    ref_value : float or array_like of shape (out_size,)
        From :func:`init_baseline`; finite and > 0 (a vector for PerColumnDriftCompensation).
    in_size, dtype
        As in :func:`init_baseline`.

    Returns
    -------
    float or ndarray of shape (out_size,)
        A Python float for the global types; for PerColumnDriftCompensation a vector in the
        read-out's dtype.
    """
    _check(drift_compensation)
    if not _per_column(drift_compensation):
        if not isinstance(ref_value, numbers.Real) and np.ndim(ref_value) != 0:
            raise ValueError(f"ref_value must be a number for "
                             f"{type(drift_compensation).__name__}, got an array of shape "
                             f"{np.shape(ref_value)}.")
        ref = float(ref_value)
        if not np.isfinite(ref) or ref <= 0:
            raise ValueError(f"ref_value must be finite and > 0, got {ref_value!r}.")
        return ref / readout(drift_compensation,
                             _outputs(drift_compensation, forward, in_size, dtype))
    ref = _as_array(ref_value)
    xp = _xp_of(ref)
    ref = ref.astype(np.float64, copy=False)
    if ref.ndim != 1 or not bool(xp.isfinite(ref).all()) or not bool((ref > 0).all()):
        raise ValueError(f"ref_value must be a 1-D array of finite values > 0 (one per output) "
                         f"for PerColumnDriftCompensation, got {ref_value!r}.")
    now = readout(drift_compensation, _outputs(drift_compensation, forward, in_size, dtype))
    if now.shape != ref.shape:
        raise ValueError(f"ref_value must have one entry per output, {now.shape}, got shape "
                         f"{ref.shape}.")
    return (ref / now).astype(now.dtype)
