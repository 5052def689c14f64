"""FloatingPointTile: an exact, noise-free tile (aihwkit's ``FloatingPointTile`` / RPUSimple).

Useful as the digital baseline an analog tile is compared with: forward is ``x W^T`` and
backward ``d W``, both as one BLAS GEMM.
"""
import numpy as np

from rpu import _threads
from rpu.config import FloatingPointRPUConfig, PulseType, UpdateParameters
from rpu.tiles._device_array import DeviceArray
from rpu.tiles._device_tile import DeviceTile
from rpu.tiles.analog import SMALL_PRODUCT_MACS


class FloatingPointTile(DeviceTile):
    """A floating-point tile with the same API as AnalogTile (no noise, no quantisation).

    Parameters are those of :class:`rpu.AnalogTile`; ``rpu_config`` is a FloatingPointRPUConfig.
    New weights are drawn uniformly from [-0.1, 0.1).

    ``update`` is the exact SGD step ``W <- W - lr d^T x``; ``post_update_step``,
    ``decay_weights``, ``diffuse_weights`` and ``drift_weights`` apply the FloatingPointDevice's
    lifetime, diffusion and simple power-law drift (``SimpleDriftParameter``), as aihwkit's
    floating-point tile does.
    """

    config_classes = (FloatingPointRPUConfig,)

    def __init__(self, out_size, in_size, rpu_config=None, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        super().__init__(out_size, in_size, rpu_config, bias=bias, in_trans=in_trans,
                         out_trans=out_trans, dtype=dtype, seed=seed, backend=backend)
        self._devices = DeviceArray(self.rpu_config.device, UpdateParameters(pulse_type=PulseType.NONE),
                                    self.d_size, self.x_size, self.dtype, self._backend, self._key,
                                    _threads.effective_n_threads())
        self.set_weights_uniform_random(-0.1, 0.1)
        self._place(self._requested_backend)

    def _gpu_unsupported(self):
        return None

    def _product(self, rows, n_out, transposed):
        # The GEMM is split over the core's OpenMP threads, each calling single-threaded BLAS:
        # measured faster here than BLAS's own threading, and the same scheme as AnalogTile.
        out = self._xp.empty((rows.shape[0], n_out), dtype=self.dtype)
        if rows.shape[0] * self._weights.size < SMALL_PRODUCT_MACS:
            # One thread, no BLAS pinning: for small products both cost more than they save.
            self._backend.gemm_rows(rows, self._weights, out, transposed, 1)
            return out
        with _threads.blas_single_thread():
            self._backend.gemm_rows(rows, self._weights, out, transposed, _threads.effective_n_threads())
        return out

    def _forward_rows(self, rows):
        return self._product(rows, self.d_size, False)

    def _backward_rows(self, rows):
        return self._product(rows, self.x_size, True)
