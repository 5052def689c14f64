"""AnalogTile: a resistive crossbar with noisy DAC/ADC periphery (aihwkit's RPUCuda ``AnalogTile``).

Forward and backward go through ``_core.analog_mvm`` with the forward and backward
IOParameters of the config; the crossbar sum itself is one BLAS GEMM per bound-management pass.
"""
import numpy as np

from rpu import _core, _threads
from rpu._rng import resolve_seed
from rpu.config import DigitalRankUpdateRPUConfig, SingleRPUConfig, UnitCellRPUConfig
from rpu.tiles import _checks
from rpu.tiles._compounds import make_device_state
from rpu.tiles._periphery import Periphery
from rpu.tiles._device_tile import DeviceTile, count_arrays_of_shape

# Below this many multiply-adds per call, one thread is faster: starting the OpenMP team and
# pinning BLAS cost more than they save (a 256 x 256 matrix-vector product is 65k).
SMALL_PRODUCT_MACS = 1 << 17


class AnalogTile(DeviceTile):
    """An analog crossbar tile on NumPy arrays.

    Parameters
    ----------
    out_size : int
        Output lines (rows of the weight matrix).
    in_size : int
        Input lines (columns), not counting the bias.
    rpu_config : SingleRPUConfig, UnitCellRPUConfig or DigitalRankUpdateRPUConfig, optional
        Device, IO and update settings with aihwkit's names and defaults; copied by the tile.
        ``UnitCellRPUConfig`` takes a VectorUnitCell, ReferenceUnitCell or one of the transfer
        compounds (TransferCompound: Tiki-taka; ChoppedTransferCompound: TTv2 / c-TTv2;
        DynamicTransferCompound: AGAD) -- build them with :func:`rpu.config.build_config`;
        ``DigitalRankUpdateRPUConfig`` a MixedPrecisionCompound.
    bias : bool
        Add an analog bias column: the input gets a constant 1 appended, which goes through
        noise management and the DAC like any other input (so AbsMax gives a factor >= 1).
    in_trans, out_trans : bool
        The feature axis of ``x`` (of ``y``) is the first instead of the last.
    dtype : numpy.float32 (default) or numpy.float64
    seed : int or None
        Key of the tile's random stream. None draws one from the OS; read it back from
        ``tile.seed`` to replay the run.
    backend : {"auto", "cpu", "cuda"} or rpu.gpu.CudaBackend
        Where the tile runs; every config above runs on both backends (compounds: the
        schedule on the host, the arrays and kernels on the GPU).

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

    config_classes = (SingleRPUConfig, UnitCellRPUConfig, DigitalRankUpdateRPUConfig)

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
        self._devices = make_device_state(self.rpu_config, self.d_size, self.x_size, self.dtype,
                                          self._backend, self._key, n_threads)
        self.set_weights_uniform_random(-0.1, 0.1)
        if type(self) is AnalogTile:  # subclasses place themselves once they are complete
            self._place(self._requested_backend)

    def _weight_sized_arrays(self, exact=False):
        """How many (d_size, x_size) arrays the tile keeps from construction on (for the
        memory check): the weights and, for every device of the cell, its weights and hidden
        parameters, and the compound's buffers.

        A tile large enough for the memory check to look (or ``exact``) counts them on a
        2 x 3 probe of its device state with the same config, which is exact for every cell
        however nested; smaller tiles take the quick count from the config, a lower bound.
        """
        quick = self._quick_weight_sized_arrays()
        if not exact and self.d_size * self.x_size * self.dtype.itemsize * quick < _checks.SMALL_BYTES:
            return quick
        probe = make_device_state(self.rpu_config, 2, 3, self.dtype, _core, resolve_seed(0)[1], 1)
        return 1 + count_arrays_of_shape(probe, (2, 3))

    def _gpu_unsupported(self):
        if type(self) is not AnalogTile:
            return super()._gpu_unsupported()
        # every config of config_classes: single devices, unit cells, transfer compounds and
        # mixed precision (the compounds' schedules run on the host, their arrays on the GPU)
        return None

    def _mvm(self, rows, periphery, transposed, weights=None):
        # ``weights``: the matrix the crossbar reads, the stored weights unless given (the
        # inference tile's modified forward weights).
        weights = self._weights if weights is None else weights
        n_out = periphery.n_out
        out = self._xp.empty((rows.shape[0], n_out), dtype=self.dtype)
        if rows.shape[0] * weights.size < SMALL_PRODUCT_MACS:
            # One thread: BLAS is not called from an OpenMP team, so it needs no pinning.
            self._backend.analog_mvm(weights, transposed, rows, out, periphery.spec,
                                     periphery.lines, periphery.nm_state, self._key,
                                     self._op_counter, 1)
        else:
            n_threads = _threads.effective_n_threads()
            with _threads.blas_single_thread():
                self._backend.analog_mvm(weights, transposed, rows, out, periphery.spec,
                                         periphery.lines, periphery.nm_state, self._key,
                                         self._op_counter, n_threads)
        # The counter advances only once the call succeeded.
        self._op_counter += 1
        return out

    def _forward_rows(self, rows):
        return self._mvm(rows, self._fwd, False)

    def _backward_rows(self, rows):
        return self._mvm(rows, self._bwd, True)

    def update_indexed(self, x_input, d_input, indices):
        """The update of a convolution: every patch position is one update vector.

        Parameters
        ----------
        x_input : array_like of shape (N, n_features)
            The flattened layer inputs (e.g. images C*H*W), one row per sample.
        d_input : array_like of shape (N, L, out_size)
            The gradients of the L output positions of each sample.
        indices : array_like of int, shape (L, in_size)
            For each output position, the feature index of each of the tile's inputs; -1 stands
            for zero padding.

        Equivalent to ``update(X, D)`` with ``X[n * L + l, k] = x_input[n, indices[l, k]]`` (0
        where the index is -1) and ``D = d_input.reshape(N * L, out_size)``.
        """
        xp = self._xp
        x_arr = _checks.as_backend_array(x_input, "x_input", xp, "an array of floats")
        idx = _checks.as_backend_array(indices, "indices", xp, "an integer array")
        if idx.dtype.kind not in "iu" or idx.ndim != 2 or idx.shape[1] != self.in_size:
            raise ValueError(f"indices must be an integer array of shape (L, {self.in_size}), got "
                             f"{idx.dtype} of shape {idx.shape}.")
        if x_arr.ndim != 2:
            raise ValueError(f"x_input must have shape (N, n_features), got shape {x_arr.shape}.")
        if idx.size and (idx.min() < -1 or idx.max() >= x_arr.shape[1]):
            raise ValueError(f"indices must lie in [-1, {x_arr.shape[1] - 1}] (the features of "
                             f"x_input; -1 pads), got values in [{idx.min()}, {idx.max()}].")
        d_arr = _checks.as_backend_array(d_input, "d_input", xp, "an array of floats")
        if d_arr.ndim != 3 or d_arr.shape[:2] != (x_arr.shape[0], idx.shape[0]) or d_arr.shape[2] != self.out_size:
            raise ValueError(f"d_input must have shape ({x_arr.shape[0]}, {idx.shape[0]}, "
                             f"{self.out_size}) (N, L, out_size), got {d_arr.shape}.")
        padded = xp.concatenate([x_arr, xp.zeros((x_arr.shape[0], 1), dtype=x_arr.dtype)], axis=1)
        patches = padded[:, xp.where(idx < 0, x_arr.shape[1], idx)]  # (N, L, in_size)
        # The tile's own layout flags do not apply to the indexed form.
        saved = self.in_trans, self.out_trans
        self.in_trans = self.out_trans = False
        try:
            self.update(patches.reshape(-1, self.in_size), d_arr.reshape(-1, self.out_size))
        finally:
            self.in_trans, self.out_trans = saved

    # ----- devices: hidden parameters and maintenance ---------------------------------------------
    def get_hidden_parameter_names(self):
        """aihwkit's names of the devices' hidden parameters, in order (empty for ideal devices)."""
        return list(self._devices.names)

    def get_hidden_parameters(self):
        """The devices' hidden parameters: dict name -> copy of shape (out_size, x_size).

        For pulsed devices: ``max_bound``, ``min_bound`` (the device bounds), ``dwmin_up``,
        ``dwmin_down`` (step sizes), ``decay_scales``, ``diffusion_rates``, ``reset_bias``,
        ``drift_nu``, then ``persistent_weights`` for write-noise devices and the device's own
        (``slope_up``/``slope_down``, ``gamma_up``/``gamma_down``, ``reference``). Compounds
        list each sub-device's names with the suffix ``_k`` followed by its weights
        ``hidden_weights_k``, then their buffers (``buffered_FP_weight_0``; AGAD:
        ``buffered_FP_weight``, ``running_mean_weight``, ``past_mean_weight``; mixed precision:
        the analog device's names and ``hidden_weights_chi``), as aihwkit names them.
        """
        if hasattr(self._devices, "get_hidden"):
            return self._devices.get_hidden()
        return {name: self._devices.hidden[k].copy() for k, name in enumerate(self._devices.names)}

    def set_hidden_parameters(self, params):
        """Replace the hidden parameters (all names, each of shape (out_size, x_size), finite).

        The weights are then re-applied to the devices (clipped to the new bounds), as aihwkit's
        ``set_hidden_parameters`` does; a compound recomputes its visible weights from the
        sub-devices' weights (``hidden_weights_k``). Nothing changes if any entry is invalid.

        Write-noise devices (``write_noise_std > 0``): the bounds act on the given
        ``persistent_weights``. A single device then shows them as after ``set_weights``, with
        freshly drawn write noise if ``apply_write_noise_on_set`` (aihwkit instead keeps its
        shown weights as the persistent ones and ignores the given ``persistent_weights``). In a
        compound, the weights a device shows stay as they are (a sub-device's given
        ``hidden_weights_k``; a mixed-precision tile's current weights), so setting what
        ``get_hidden_parameters`` returned leaves a compound tile as it was.
        """
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict name -> array, got {type(params).__name__}.")
        names = self._devices.names
        if sorted(params) != sorted(names):
            raise KeyError(f"hidden parameter names must be exactly {names}, got {list(params)}.")
        staged = {}
        for name in names:
            staged[name] = _checks.as_weights(params[name], f"hidden parameter {name!r}",
                                              (self.d_size, self.x_size), self.dtype, "", self._xp)
        if hasattr(self._devices, "set_hidden"):
            self._devices.set_hidden(staged, self._weights)
            return
        for k, name in enumerate(names):
            self._devices.hidden[k] = staged[name]
        if "persistent_weights" in names:
            weights = self._devices.persistent.copy()
        else:
            weights = self._weights
        self._assign_weights(weights)

    def reset_columns(self, start_column_idx=0, num_columns=1, reset_prob=1.0):
        """Reset ``num_columns`` columns from ``start_column_idx`` (wrapping around) to
        ``reset_bias + reset_std * xi``; each element is reset with probability ``reset_prob``."""
        start = int(start_column_idx)
        num = int(num_columns)
        if num < 0 or num > self.x_size:
            raise ValueError(f"num_columns must be in [0, {self.x_size}], got {num_columns!r}.")
        prob = _checks.check_finite_number(reset_prob, "reset_prob")
        if not 0 <= prob <= 1:
            raise ValueError(f"reset_prob must be in [0, 1], got {reset_prob!r}.")
        columns = (start + self._xp.arange(num)) % self.x_size
        self._maintain(self._devices.reset_columns, columns, prob)

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
        self._fwd.set_parameters(params, self.dtype, self._backend)

    def get_backward_parameters(self):
        """The backward periphery's per-line draws (lines are the tile's inputs, x_size)."""
        return self._bwd.get_parameters()

    def set_backward_parameters(self, params):
        """Replace backward per-line arrays (same keys and shapes as ``get_backward_parameters``)."""
        self._bwd.set_parameters(params, self.dtype, self._backend)

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
            per.set_parameters(params, self.dtype, self._backend)
            per.nm_state[:] = nm_state
