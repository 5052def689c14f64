"""What tiles with a device behind their weights share: the update, and device maintenance.

A ``DeviceTile`` keeps ``self._devices`` (a :class:`rpu.tiles._device_array.DeviceArray` or a
compound cell), set by the subclass: AnalogTile's come from its device config, FloatingPointTile's
is the floating-point device (decay, diffusion and the simple drift of
``FloatingPointDevice``). Setting weights goes through the devices (bounds, write noise); the
update, decay, diffusion and drift are theirs, and so is their part of a saved tile.
"""

import numpy as np

from rpu import _threads
from rpu.tiles import _checks
from rpu.tiles.base import TileBase


def count_arrays_of_shape(root, shape):
    """How many arrays of ``shape`` the objects reachable from ``root`` hold: every NumPy
    buffer whose views have ``shape`` as their last two axes, counted once (a stacked
    (n, *shape) buffer counts n)."""
    size = int(np.prod(shape))
    buffers, seen = {}, set()

    def visit(v):
        if isinstance(v, np.ndarray):
            if v.ndim >= 2 and v.shape[-2:] == tuple(shape):
                base = v
                while isinstance(base.base, np.ndarray):
                    base = base.base
                buffers[id(base)] = base.size // size
            return
        if id(v) in seen:
            return
        seen.add(id(v))
        if isinstance(v, dict):
            for item in v.values():
                visit(item)
        elif isinstance(v, (list, tuple)):
            for item in v:
                visit(item)
        elif hasattr(v, "__dict__") and type(v).__module__.startswith("rpu.tiles"):
            for item in vars(v).values():
                visit(item)

    visit(root)
    return sum(buffers.values())


class DeviceTile(TileBase):
    """A tile whose weights live on devices (``self._devices``); not used directly."""

    def _weight_sized_arrays(self, exact=False):
        # The weights, and per device of the cell its weights (compounds) and hidden parameters:
        # a lower bound from the config (AnalogTile counts exactly where it matters).
        return self._quick_weight_sized_arrays()

    def _quick_weight_sized_arrays(self):
        from rpu.tiles._devices import hidden_names

        device = getattr(self.rpu_config, "device", None)
        subs = getattr(device, "unit_cell_devices", None)
        if subs is None and hasattr(device, "device"):  # MixedPrecisionCompound: device + chi
            inner = getattr(device.device, "unit_cell_devices", None)  # a nested unit cell
            if inner:
                return 2 + sum(1 + len(hidden_names(sub)) for sub in inner)
            return 2 + len(hidden_names(device.device))
        if not subs:
            return 1 + (len(hidden_names(device)) if device is not None else 0)
        return 1 + sum(1 + len(hidden_names(sub)) for sub in subs)

    def _assign_weights(self, weights):
        # aihwkit's onSetWeights: device bounds clip, persistent weights, write noise.
        self._devices.on_set_weights(weights, self._key, self._next_op(),
                                     _threads.effective_n_threads())
        self._weights = weights

    # ----- update ------------------------------------------------------------------------------------
    def update(self, x, d):
        """The update ``W <- W - lr d^T x``, as the devices make it, one sample after the other.

        Parameters
        ----------
        x : array_like of shape (..., in_size), or (in_size, ...) when ``in_trans``
        d : array_like of shape (..., out_size), or (out_size, ...) when ``out_trans``
            The same number of vectors as ``x``: d is the gradient of the loss with respect to the
            tile output, so a positive learning rate moves the weights against it.

        Notes
        -----
        The rule follows the config: a floating-point tile, ``IdealDevice`` or
        ``PulseType.NONE`` make the exact step (one GEMM); ``NONE_WITH_DEVICE`` the exact step clipped to the device bounds; the other
        pulse types draw pulse trains for x and d per sample (update management chooses the bit
        length and scales, :func:`rpu.tiles.update_management.update_management`) and apply one
        device pulse per coincidence. With ``res > 1`` (a number of steps) rpu uses ``1/res`` as
        the probability resolution, as aihwkit documents; aihwkit 1.1.0 uses ``res`` itself and
        then never updates.
        """
        x_rows, d_rows = self._rows_pair(x, d)
        self._update_rows(x_rows, d_rows, self._learning_rate)

    def _update_rows(self, x_rows, d_rows, lr):
        """The devices' update with checked rows (bias input included) and learning rate."""
        if lr == 0 or x_rows.shape[0] == 0:
            return
        self._devices.update(self._weights, x_rows, d_rows, lr, self._key, self._op_counter,
                             _threads.effective_n_threads())
        self._op_counter += 1

    def _maintain(self, operation, *args):
        n_threads = _threads.effective_n_threads()
        operation(self._weights, *args, self._key, self._op_counter, n_threads)
        self._op_counter += 1

    def decay_weights(self, alpha=1.0):
        """Decay towards the reset bias by the devices' lifetimes: ``w <- (w - b) (1 + alpha
        (decay_scale - 1)) + b`` with ``decay_scale = 1 - 1/lifetime``; then the bounds."""
        self._maintain(self._devices.decay, _checks.check_finite_number(alpha, "alpha"))

    def diffuse_weights(self):
        """Add Gaussian diffusion, ``w <- w + diffusion_rate * xi``, then the bounds."""
        self._maintain(self._devices.diffuse)

    def drift_weights(self, delta_t=1.0):
        """Power-law drift of the weights over ``delta_t`` (in units of ``drift.t_0``), with the
        device's DriftParameter (no effect when ``nu`` is 0)."""
        dt = _checks.check_finite_number(delta_t, "delta_t")
        if dt < 0:
            raise ValueError(f"delta_t must be >= 0, got {delta_t!r}.")
        self._maintain(self._devices.drift, dt)

    def post_update_step(self):
        """What aihwkit's optimizer does after each step: diffusion (if the device has any), then
        decay with alpha = 1 (if it has a lifetime)."""
        if self._devices.any_diffusion():
            self.diffuse_weights()
        if self._devices.any_decay():
            self.decay_weights(1.0)

    # ----- state ------------------------------------------------------------------------------------
    def _state_arrays(self):
        arrays = super()._state_arrays()
        arrays.update(self._devices.state_arrays())
        return arrays

    def _load_state(self, meta, arrays):
        # Persistent weights come with the hidden parameters.
        self._devices.load_state({k: v for k, v in arrays.items()
                                  if k.startswith(("hidden.", "drift.", "sub", "extra.", "counter."))})
        super()._load_state(meta, arrays)
