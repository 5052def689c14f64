"""FloatingPointTile: an exact, noise-free tile (aihwkit's ``FloatingPointTile`` / RPUSimple).

Useful as the digital baseline an analog tile is compared with: forward is ``x W^T`` and
backward ``d W``, both as one BLAS GEMM.
"""
import numpy as np

from rpu.config import FloatingPointRPUConfig
from rpu.tiles.base import TileBase


class FloatingPointTile(TileBase):
    """A floating-point tile with the same API as AnalogTile (no noise, no quantisation).

    Parameters are those of :class:`rpu.AnalogTile`; ``rpu_config`` is a FloatingPointRPUConfig.
    New weights are drawn uniformly from [-0.1, 0.1).
    """

    config_classes = (FloatingPointRPUConfig,)

    def __init__(self, out_size, in_size, rpu_config=None, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        super().__init__(out_size, in_size, rpu_config, bias=bias, in_trans=in_trans,
                         out_trans=out_trans, dtype=dtype, seed=seed, backend=backend)
        self.set_weights_uniform_random(-0.1, 0.1)

    def _forward_rows(self, rows):
        out = np.empty((rows.shape[0], self.d_size), dtype=self.dtype)
        self._backend.gemm_rows(rows, self._weights, out, False)
        return out

    def _backward_rows(self, rows):
        out = np.empty((rows.shape[0], self.x_size), dtype=self.dtype)
        self._backend.gemm_rows(rows, self._weights, out, True)
        return out
