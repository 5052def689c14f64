"""Drift compensation of aihwkit 1.1.0 (``GlobalDriftCompensation``) on NumPy arrays.

Spec: shared/spec/inference.md sections 4.5 and 4.6. After programming, the tile reads the
one-hot inputs ``eye(in_size)`` through its forward and keeps ``baseline = max(mean|Y|, 1e-4)``;
after drift, the same read-out gives ``alpha = baseline / max(mean|Y_t|, 1e-4)``, a scalar that
the eval forward multiplies its outputs by.

The functions take the read-out's outputs ``Y``, or a ``forward`` callable that maps an input
batch ``(batch, in_size)`` to outputs ``(batch, out_size)`` -- the tile's full, noisy forward
(aihwkit's default), or ``lambda x: x @ W.T`` for an exact read-out.
"""
import numpy as np

from rpu.config.noise_models import BaseDriftCompensation, GlobalDriftCompensation

__all__ = ["READOUT_MIN", "get_readout_tensor", "readout", "init_baseline", "apply"]

#: The floor of the read-out (aihwkit's ``clamp(min=0.0001)``).
READOUT_MIN = 1e-4


def _check(drift_compensation):
    if not isinstance(drift_compensation, BaseDriftCompensation):
        raise TypeError(f"drift_compensation must be a rpu.config drift compensation, got "
                        f"{type(drift_compensation).__name__}.")
    if not isinstance(drift_compensation, GlobalDriftCompensation):
        raise NotImplementedError(f"drift_compensation {type(drift_compensation).__name__} is "
                                  "not implemented yet; only GlobalDriftCompensation is.")


def get_readout_tensor(drift_compensation, in_size, dtype=np.float32):
    """The read-out inputs: the one-hot vectors ``eye(in_size)``, shape (in_size, in_size).

    ``in_size`` counts an analog bias column, if the tile has one.
    """
    _check(drift_compensation)
    if isinstance(in_size, (bool, np.bool_)) or not isinstance(in_size, (int, np.integer)) \
            or in_size < 1:
        raise ValueError(f"in_size must be a positive integer, got {in_size!r}.")
    return np.eye(int(in_size), dtype=dtype)


def readout(drift_compensation, forward_output):
    """``max(mean|Y|, 1e-4)`` over all entries of the read-out's outputs (a Python float).

    Parameters
    ----------
    drift_compensation : rpu.config.GlobalDriftCompensation
    forward_output : array_like of shape (in_size, out_size)
        The outputs for the read-out inputs; must be non-empty and finite.
    """
    _check(drift_compensation)
    y = np.asarray(forward_output)
    if y.size == 0:
        raise ValueError("forward_output must be non-empty.")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
        raise ValueError("forward_output must hold finite numbers.")
    return max(float(np.mean(np.abs(y), dtype=np.float64)), READOUT_MIN)


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
    drift_compensation : rpu.config.GlobalDriftCompensation
    forward : callable or array_like
        Either the forward of the programmed tile, ``(batch, in_size) -> (batch, out_size)``,
        called once on :func:`get_readout_tensor`, or its outputs for those inputs directly.
    in_size : int, required with a callable
    dtype : dtype of the read-out inputs, default float32

    Returns
    -------
    float
        ``max(mean|Y_prog|, 1e-4)``.
    """
    return readout(drift_compensation, _outputs(drift_compensation, forward, in_size, dtype))


def apply(drift_compensation, forward, ref_value, in_size=None, dtype=np.float32):
    """The compensation factor ``alpha = ref_value / readout(Y_now)`` (a Python float).

    Parameters
    ----------
    drift_compensation : rpu.config.GlobalDriftCompensation
    forward : callable or array_like
        The forward of the drifted tile, or its outputs for the read-out inputs.
    ref_value : float
        From :func:`init_baseline`; finite and > 0.
    in_size, dtype
        As in :func:`init_baseline`.
    """
    ref = float(ref_value)
    if not np.isfinite(ref) or ref <= 0:
        raise ValueError(f"ref_value must be finite and > 0, got {ref_value!r}.")
    return ref / readout(drift_compensation, _outputs(drift_compensation, forward, in_size,
                                                      dtype))
