"""Periphery quantisation: the digital scales and bias of a tile at a fixed number of bits.

Spec: shared/spec/inference.md section 5.2 (aihwkit's ``PeripheryQuantizationParameter``, part of
``PrePostProcessingParameterQuant``). The merged output scale ``S = r * mapping_scales *
out_scaling_alpha`` and the digital bias are each quantised per tensor, with a
``current_minmax`` range: the range is re-estimated from the tensor at every training call and
frozen at the first evaluation call. A scalar scale is reproduced exactly; only per-channel
scales and biases change.

These act on vectors of ``out_size`` digital values once per call; the grid (four numbers) is
kept on the host, the values stay where the tile keeps them (NumPy, or CuPy on the GPU
backend: only array methods and ufuncs touch them, which CuPy arrays provide).
"""
import numpy as np

__all__ = ["PerTensorQuantizer"]

#: aihwkit's floor of the quantisation step and of the range's upper end.
STEP_MIN = 1e-8


class PerTensorQuantizer:
    """One tensor's quantiser (a scale vector or a bias).

    Parameters
    ----------
    n_bits : int
        Number of bits (> 0).
    symmetric : bool
        Symmetric integer grid around 0 (signed when the tensor has negative entries), else an
        affine grid with a zero point.
    """

    def __init__(self, n_bits, symmetric):
        self.n_bits = int(n_bits)
        self.symmetric = bool(symmetric)
        self.step = None
        self.zero_point = 0.0
        self.int_min = 0
        self.int_max = 0

    def estimate(self, values):
        """Set the grid from the current range of ``values`` (``current_minmax``)."""
        v = (values.astype(np.float64) if hasattr(values, "astype")
             else np.asarray(values, dtype=np.float64))
        x_min = min(float(v.min()), 0.0)
        x_max = max(float(v.max()), STEP_MIN)
        n = self.n_bits
        if self.symmetric:
            if x_min < 0:
                self.int_min, self.int_max = -(2 ** (n - 1)), 2 ** (n - 1) - 1
            else:
                self.int_min, self.int_max = 0, 2 ** n - 1
            self.step = max(max(abs(x_min), x_max) / self.int_max, STEP_MIN)
            self.zero_point = 0.0
        else:
            self.int_min, self.int_max = 0, 2 ** n - 1
            self.step = max((x_max - x_min) / self.int_max, STEP_MIN)
            self.zero_point = float(np.clip(np.rint(-x_min / self.step), 0, self.int_max))

    def __call__(self, values, training):
        """Quantise ``values`` (an array): re-estimate the grid when ``training`` or when no grid
        exists yet, then ``step * (clip(rint(v/step) + zp, int_min, int_max) - zp)``."""
        v = values if hasattr(values, "shape") else np.asarray(values)
        if training or self.step is None:
            self.estimate(v)
        levels = (np.rint(v / self.step) + self.zero_point).clip(self.int_min, self.int_max)
        return ((levels - self.zero_point) * self.step).astype(v.dtype, copy=False)

    def state(self):
        """The grid as a small float64 array (empty if none was set), for saving."""
        if self.step is None:
            return np.zeros(0)
        return np.array([self.step, self.zero_point, self.int_min, self.int_max], dtype=np.float64)

    def load(self, arr):
        """Restore a grid saved by :meth:`state`."""
        arr = np.asarray(arr, dtype=np.float64)
        if arr.size == 0:
            self.step = None
            return
        if arr.shape != (4,) or not np.all(np.isfinite(arr)) or arr[0] <= 0:
            raise ValueError(f"a periphery quantiser state must be 4 finite numbers with a "
                             f"positive step, got {arr!r}.")
        self.step, self.zero_point = float(arr[0]), float(arr[1])
        self.int_min, self.int_max = int(arr[2]), int(arr[3])
