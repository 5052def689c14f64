"""AnalogTile: a resistive crossbar with noisy DAC/ADC periphery (aihwkit's RPUCuda ``AnalogTile``).

Forward and backward go through ``_core.analog_mvm`` with the forward and backward
IOParameters of the config; the crossbar sum itself is one BLAS GEMM per bound-management pass.
"""
import numpy as np

from rpu import _threads
from rpu.config import SingleRPUConfig
from rpu.tiles._periphery import Periphery
from rpu.tiles.base import TileBase

# Below this many multiply-adds per call, one thread is faster: starting the OpenMP team and
# pinning BLAS cost more than they save (a 256 x 256 matrix-vector product is 65k).
SMALL_PRODUCT_MACS = 1 << 17


class AnalogTile(TileBase):
    """An analog crossbar tile on NumPy arrays.

    Parameters
    ----------
    out_size : int
        Output lines (rows of the weight matrix).
    in_size : int
        Input lines (columns), not counting the bias.
    rpu_config : SingleRPUConfig, optional
        Device, IO and update settings with aihwkit's names and defaults; copied by the tile.
    bias : bool
        Add an analog bias column: the input gets a constant 1 appended, which goes through
        noise management and the DAC like any other input (so AbsMax gives a factor >= 1).
    in_trans, out_trans : bool
        The feature axis of ``x`` (of ``y``) is the first instead of the last.
    dtype : numpy.float32 (default) or numpy.float64
    seed : int or None
        Key of the tile's random stream. None draws one from the OS; read it back from
        ``tile.seed`` to replay the run.
    backend : {"auto", "cpu", "cuda"}

    Notes
    -----
    Behaviour follows aihwkit's C++ CPU path (RPUCuda), with two intended deviations where the
    spec marks aihwkit's behaviour as a bug:

    * bound management with ``bm_test_negative_bound=False`` stops when no output exceeded the
      positive bound; aihwkit's C++ overwrites its running "passed" flag on a negative overflow
      and can stop too early when a negative overflow follows a positive one.
    * the AverageAbsMax running value is kept per direction; aihwkit's CPU tile shares one value
      between forward and backward.

    New weights are drawn uniformly from [-0.1, 0.1), as aihwkit's C++ tiles start.
    """

    config_classes = (SingleRPUConfig,)

    def __init__(self, out_size, in_size, rpu_config=None, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        super().__init__(out_size, in_size, rpu_config, bias=bias, in_trans=in_trans,
                         out_trans=out_trans, dtype=dtype, seed=seed, backend=backend)
        n_threads = _threads.effective_n_threads()
        w_shape = (self.d_size, self.x_size)
        self._fwd = Periphery(self.rpu_config.forward, "forward", self.d_size, self.x_size, w_shape,
                              self._backend, self._key, self.dtype, n_threads, "rpu_config.forward")
        self._bwd = Periphery(self.rpu_config.backward, "backward", self.x_size, self.d_size, w_shape,
                              self._backend, self._key, self.dtype, n_threads, "rpu_config.backward")
        self.set_weights_uniform_random(-0.1, 0.1)

    def _mvm(self, rows, periphery, transposed):
        n_out = periphery.n_out
        out = np.empty((rows.shape[0], n_out), dtype=self.dtype)
        if rows.shape[0] * self._weights.size < SMALL_PRODUCT_MACS:
            # One thread: BLAS is not called from an OpenMP team, so it needs no pinning.
            self._backend.analog_mvm(self._weights, transposed, rows, out, periphery.spec,
                                     periphery.lines, periphery.nm_state, self._key,
                                     self._op_counter, 1)
        else:
            n_threads = _threads.effective_n_threads()
            with _threads.blas_single_thread():
                self._backend.analog_mvm(self._weights, transposed, rows, out, periphery.spec,
                                         periphery.lines, periphery.nm_state, self._key,
                                         self._op_counter, n_threads)
        # The counter advances only once the call succeeded.
        self._op_counter += 1
        return out

    def _forward_rows(self, rows):
        return self._mvm(rows, self._fwd, False)

    def _backward_rows(self, rows):
        return self._mvm(rows, self._bwd, True)

    # ----- periphery parameters -------------------------------------------------------------------
    def get_forward_parameters(self):
        """The forward periphery's fixed per-line draws, as copies.

        Returns
        -------
        dict
            ``out_noise_values`` (out_size,) when ``out_noise_std > 0``; ``v_offset`` (out_size,)
            when offsets or series resistance are on; ``out_nonlinearity`` (out_size,) when the
            output non-linearity is on; ``w_asymmetry`` (out_size, x_size) for read asymmetry;
            and ``out_nonlinearity_factor`` (0-d) always (1 without slope calibration).
        """
        return self._fwd.get_parameters()

    def set_forward_parameters(self, params):
        """Replace forward per-line arrays (same keys and shapes as ``get_forward_parameters``).

        Setting an array switches its effect on (e.g. ``out_noise_values`` makes the output
        noise per line). All keys are checked before anything changes.
        """
        self._fwd.set_parameters(params, self.dtype)

    def get_backward_parameters(self):
        """The backward periphery's per-line draws (lines are the tile's inputs, x_size)."""
        return self._bwd.get_parameters()

    def set_backward_parameters(self, params):
        """Replace backward per-line arrays (same keys and shapes as ``get_backward_parameters``)."""
        self._bwd.set_parameters(params, self.dtype)

    # ----- state ------------------------------------------------------------------------------------
    def _state_arrays(self):
        arrays = super()._state_arrays()
        for prefix, per in (("fwd", self._fwd), ("bwd", self._bwd)):
            for name, value in per.get_parameters().items():
                arrays[f"{prefix}.{name}"] = value
            arrays[f"{prefix}.nm_state"] = per.nm_state
        return arrays

    def _load_state(self, meta, arrays):
        staged = {}
        for prefix, per in (("fwd", self._fwd), ("bwd", self._bwd)):
            params = {k.split(".", 1)[1]: v for k, v in arrays.items()
                      if k.startswith(prefix + ".") and k != prefix + ".nm_state"}
            nm_state = np.asarray(arrays[prefix + ".nm_state"], dtype=np.float64)
            if nm_state.shape != (2,) or not np.isfinite(nm_state).all():
                raise ValueError(f"{prefix}.nm_state must be 2 finite numbers, got {nm_state!r}.")
            staged[prefix] = (per, params, nm_state)
        super()._load_state(meta, arrays)
        for per, params, nm_state in staged.values():
            per.set_parameters(params, self.dtype)
            per.nm_state[:] = nm_state
