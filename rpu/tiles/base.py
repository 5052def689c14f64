"""What every rpu tile shares: sizes, bias column, layouts, dtype, seed, weights, and state.

A tile stores its weights as one C-contiguous ``(d_size, x_size)`` array (aihwkit's layout:
rows are outputs, columns inputs; with ``bias=True`` the last column is the bias, driven by a
constant input of 1). Subclasses provide the products (``_forward_rows``, ``_backward_rows``) and
their own config handling; this class turns user arrays into rows and back.
"""
import math

import numpy as np

from rpu import _core, _threads
from rpu._rng import Purpose, resolve_seed
from rpu.backends import array_module, resolve_backend
from rpu.tiles import _checks, _placement


def _tile_hint(rpu_config):
    """' (a config for X)' naming the tile classes that take this config, or ''."""
    found, stack = [], list(TileBase.__subclasses__())
    while stack:
        cls = stack.pop(0)
        stack += cls.__subclasses__()
        if cls.config_classes and isinstance(rpu_config, cls.config_classes):
            if cls.__name__ not in found:
                found.append(cls.__name__)
    return f" (a config for {' or '.join(found)})" if found else ""


class TileBase:
    """Common machinery of the NumPy tile API. Not used directly; see AnalogTile and FloatingPointTile."""

    #: the config classes a tile accepts (set by subclasses)
    config_classes = ()
    #: whether the tile applies the mapping and pre/post-processing periphery (InferenceTile)
    has_module_periphery = False

    def __init__(self, out_size, in_size, rpu_config, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        self.out_size = _checks.check_size(out_size, "out_size")
        self.in_size = _checks.check_size(in_size, "in_size")
        for flag, name in ((bias, "bias"), (in_trans, "in_trans"), (out_trans, "out_trans")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}.")
        self.bias = bool(bias)
        self.in_trans = bool(in_trans)
        self.out_trans = bool(out_trans)
        self.dtype = _checks.check_dtype(dtype)
        if rpu_config is None:
            rpu_config = self.config_classes[0]()
        if not isinstance(rpu_config, self.config_classes):
            raise TypeError(
                f"rpu_config of {type(self).__name__} must be one of "
                f"{', '.join(c.__name__ for c in self.config_classes)}, got "
                f"{type(rpu_config).__name__}{_tile_hint(rpu_config)}.")
        # A private copy: later edits of the caller's config do not reach the tile.
        self.rpu_config = rpu_config.copy()
        self.rpu_config.validate()
        self.rpu_config.check_representable(self.dtype.name, float(np.finfo(self.dtype).max))
        if not self.has_module_periphery:
            _checks.refuse_module_periphery(self.rpu_config, type(self).__name__)
        _checks.check_memory(f"{type(self).__name__}({self.out_size}, {self.in_size})",
                             (self.d_size, self.x_size), self.dtype, self._weight_sized_arrays())
        self.seed, self._key = resolve_seed(seed)
        # The construction draws run on the CPU core (a GPU draws the same numbers); a subclass
        # moves the finished state to the requested backend with _place() at the end of its
        # __init__.
        self.backend_name, self._requested_backend = resolve_backend(backend, self._gpu_unsupported())
        self._backend = _core
        self._xp = np
        self._op_counter = 1  # op 0 is reserved for draws made at construction
        self._learning_rate = 0.1
        self._weights = np.zeros((self.d_size, self.x_size), dtype=self.dtype)

    # ----- backend -----------------------------------------------------------------------------
    def _gpu_unsupported(self):
        """Why this tile cannot run on the GPU backend (a sentence), or None when it can."""
        return f"{type(self).__name__} does not run on the GPU backend yet."

    def _place(self, backend):
        """Move the whole state onto ``backend``'s arrays and bind it (construction, ``to``)."""
        if backend is self._backend:
            return
        _placement.move_state(self, self._backend, backend)
        self._backend = backend
        self._xp = array_module(backend)

    def to(self, backend):
        """Move the tile, with its full state (weights, devices, periphery, RNG counter), to
        another backend, in place, and return it.

        Parameters
        ----------
        backend : {"cpu", "cuda", "auto"} or rpu.gpu.CudaBackend

        Returns
        -------
        self
            Its arrays now live on the backend (NumPy or CuPy); the random stream continues
            where it was, so a moved tile gives the results it would have given in place, up
            to float rounding between the backends.
        """
        name, target = resolve_backend(backend, self._gpu_unsupported())
        same_runtime = getattr(target, "runtime", 0) is getattr(self._backend, "runtime", 1)
        if target is self._backend or same_runtime or (name == "cpu" and self.backend_name == "cpu"):
            return self  # already there (another CudaBackend object on the same device included)
        if name == "cuda" and self.backend_name == "cuda":
            # between two GPU runtimes: through the host
            self._place(_core)
        self._place(target)
        self.backend_name = name
        return self

    def _weight_sized_arrays(self, exact=False):
        """A lower bound on how many (d_size, x_size) arrays the tile keeps (for the memory
        check before anything is allocated): the weights, plus what subclasses add. ``exact``
        asks for the exact count where a subclass can tell it (a TileArray sizes its grid)."""
        return 1

    # ----- sizes -------------------------------------------------------------------------------
    @property
    def analog_bias(self):
        """Whether the bias is a weight column driven by a constant input of 1 (else none, or
        a digital one added after the crossbar: see InferenceTile)."""
        return self.bias

    @property
    def x_size(self):
        """Input lines of the crossbar: ``in_size``, plus one for an analog bias column."""
        return self.in_size + int(self.analog_bias)

    @property
    def d_size(self):
        """Output lines of the crossbar (``out_size``)."""
        return self.out_size

    def get_x_size(self):
        """Number of crossbar input lines (``in_size + bias``)."""
        return self.x_size

    def get_d_size(self):
        """Number of crossbar output lines (``out_size``)."""
        return self.d_size

    def _weights_layout(self):
        return "(out_size, in_size + 1): the last column is the bias" if self.bias else "(out_size, in_size)"

    # ----- weights -----------------------------------------------------------------------------
    def get_weights(self):
        """Return a copy of the weights.

        Returns
        -------
        ndarray of shape (out_size, in_size), or (out_size, in_size + 1) with ``bias=True``
            (the bias is the last column). A CuPy array on the GPU backend.
        """
        return self._weights.copy()

    def set_weights(self, weights):
        """Set the weights (copied, converted to the tile's dtype).

        Parameters
        ----------
        weights : array_like of shape (out_size, in_size), or (out_size, in_size + 1) with a bias
            Finite values; NaN or Inf raise ValueError and leave the tile unchanged.
        """
        self._assign_weights(_checks.as_weights(weights, "weights", (self.d_size, self.x_size),
                                                self.dtype, self._weights_layout(), self._xp))

    def _assign_weights(self, weights):
        """Store checked weights; devices with bounds override this (aihwkit's onSetWeights)."""
        self._weights = weights

    def set_weights_uniform_random(self, bmin, bmax):
        """Draw every weight uniformly from ``[bmin, bmax)`` from the tile's own random stream."""
        bmin = _checks.check_finite_number(bmin, "bmin")
        bmax = _checks.check_finite_number(bmax, "bmax")
        if not bmin <= bmax:
            raise ValueError(f"bmin must not exceed bmax, got bmin={bmin} and bmax={bmax}.")
        largest = float(np.finfo(self.dtype).max)
        if not (max(-bmin, bmax) <= largest and math.isfinite(bmax - bmin)
                and bmax - bmin <= largest):
            raise ValueError(f"bmin and bmax must span a range the tile's "
                             f"{np.dtype(self.dtype).name} weights can hold (within "
                             f"+-{largest:.4g}, and so must bmax - bmin), got bmin={bmin} and "
                             f"bmax={bmax}.")
        u = self._xp.empty((self.d_size, self.x_size), dtype=self.dtype)
        self._backend.uniform_fill(u, self._key, self._next_op(), int(Purpose.WEIGHT_INIT), 0,
                                   _threads.effective_n_threads())
        self._assign_weights((bmin + (bmax - bmin) * u).astype(self.dtype))

    # ----- learning rate -------------------------------------------------------------------------
    def get_learning_rate(self):
        """The learning rate used by the pulsed update (aihwkit's default is 0.1)."""
        return self._learning_rate

    def set_learning_rate(self, learning_rate):
        """Set the update's learning rate (a finite number >= 0)."""
        self._learning_rate = _checks.check_learning_rate(learning_rate)

    # ----- products -----------------------------------------------------------------------------
    def _next_op(self):
        op = self._op_counter
        self._op_counter += 1
        return op

    def _rows_pair(self, x, d):
        """Check an (x, d) pair of update inputs: rows of both, with the bias input appended."""
        x_rows, _ = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, self._xp)
        d_rows, _ = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, self._xp)
        if x_rows.shape[0] != d_rows.shape[0]:
            raise ValueError(f"x and d must hold the same number of vectors, got {x_rows.shape[0]} "
                             f"rows of x and {d_rows.shape[0]} rows of d.")
        if self.analog_bias:
            x_rows = self._with_bias_input(x_rows)
        return x_rows, d_rows

    def _with_bias_input(self, rows):
        xp = self._xp
        return xp.concatenate([rows, xp.ones((rows.shape[0], 1), dtype=self.dtype)], axis=1)

    def forward(self, x):
        """Analog forward pass ``y = W x``, one product per input vector.

        Parameters
        ----------
        x : array_like of shape (..., in_size), or (in_size, ...) when ``in_trans``

        Returns
        -------
        ndarray of shape (..., out_size), or (out_size, ...) when ``out_trans``; the tile's dtype.
            On the GPU backend a CuPy array (NumPy inputs are copied to the device first).
        """
        rows, lead = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, self._xp)
        if self.analog_bias:
            rows = self._with_bias_input(rows)
        y = self._forward_rows(rows)
        return _checks.from_batch(y, lead, self.out_trans, self._xp)

    def backward(self, d):
        """Backward pass ``z = W^T d`` (the gradient with respect to the tile input).

        Parameters
        ----------
        d : array_like of shape (..., out_size), or (out_size, ...) when ``out_trans``

        Returns
        -------
        ndarray of shape (..., in_size), or (in_size, ...) when ``in_trans``. The bias column's
        line is dropped.
        """
        rows, lead = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, self._xp)
        z = self._backward_rows(rows)
        if self.analog_bias:
            z = self._xp.ascontiguousarray(z[:, : self.in_size])
        return _checks.from_batch(z, lead, self.in_trans, self._xp)

    def _forward_rows(self, rows):
        raise NotImplementedError

    def _backward_rows(self, rows):
        raise NotImplementedError

    # ----- description and state ----------------------------------------------------------------
    def get_brief_info(self):
        """A one-line description: class, sizes, bias, dtype, backend and device."""
        device = getattr(self.rpu_config, "device", None)
        return (f"{type(self).__name__}(out_size={self.out_size}, in_size={self.in_size}, "
                f"bias={self.bias}, dtype={self.dtype.name}, backend={self.backend_name}, "
                f"device={type(device).__name__ if device is not None else None}, seed={self.seed})")

    def __repr__(self):
        return self.get_brief_info()

    def _state_arrays(self):
        """Arrays that, with ``_state_meta``, reproduce this tile (used by rpu.save)."""
        return {"weights": self._weights}

    def _state_meta(self):
        return {
            "out_size": self.out_size, "in_size": self.in_size, "bias": self.bias,
            "in_trans": self.in_trans, "out_trans": self.out_trans, "dtype": self.dtype.name,
            "seed": str(self.seed), "op_counter": str(self._op_counter),
            "learning_rate": self._learning_rate,
        }

    def _load_state(self, meta, arrays):
        """Restore the mutable state saved by ``_state_arrays``/``_state_meta``.

        The weights are restored as saved, not set anew: they already passed through the
        devices (bounds, write noise) when the tile was saved.
        """
        self._weights = _checks.as_weights(arrays["weights"], "weights", (self.d_size, self.x_size),
                                           self.dtype, self._weights_layout(), self._xp)
        op = meta["op_counter"]
        if not isinstance(op, (str, int)) or isinstance(op, bool) or not str(op).isdigit() \
                or not 1 <= int(op) < 2 ** 64:
            raise ValueError(f"op_counter must be an integer in [1, 2^64) (as decimal digits), "
                             f"got {op!r}.")
        self._op_counter = int(op)
        self.set_learning_rate(meta["learning_rate"])
