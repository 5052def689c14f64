"""TileArray: a weight matrix larger than one crossbar, split over a grid of tiles.

Spec: shared/spec/inference.md section 3.4 (aihwkit's ``TileModuleArray``). The inputs are cut
into blocks of at most ``mapping.max_input_size`` lines and the outputs into blocks of at most
``mapping.max_output_size``, near-equal and larger blocks first. Tile ``(i, o)`` holds
``W[out block o, in block i]`` and is a full tile of its own, with its own periphery (mapping
scales, input range, drift compensation factor, modifier amax, random stream). The forward
concatenates each input block's outputs over the output blocks and sums over the input blocks;
the bias is digital and belongs to the array.
"""
import numpy as np

from rpu import _core
from rpu.backends import resolve_backend

from rpu.config import FloatingPointRPUConfig, InferenceRPUConfig
from rpu.tiles import _checks
from rpu.tiles._periphery import layer_masks_outputs, output_bound_mask
from rpu._rng import resolve_seed

__all__ = ["TileArray", "split_sizes"]


def split_sizes(size, max_size):
    """Near-equal block sizes of ``size`` lines with at most ``max_size`` each, larger first
    (``[size]`` when ``max_size <= 0``)."""
    if max_size <= 0 or size <= max_size:
        return [size]
    n = -(-size // max_size)
    base, extra = divmod(size, n)
    return [base + 1] * extra + [base] * (n - extra)


def _exact_step(tile):
    """Whether ``tile``'s update is the exact step W - lr d^T x (which may refuse to overflow),
    also clipped to the device bounds (``NONE_WITH_DEVICE``: refuses an infinite lr d)."""
    from rpu.tiles._device_array import DeviceArray

    devices = getattr(tile, "_devices", None)
    return isinstance(devices, DeviceArray) and (
        not devices.pulsed or devices.up.pulse_type.name in ("NONE", "NONE_WITH_DEVICE"))


def _may_refuse(tile):
    """Whether ``tile.update`` can refuse a batch of finite inputs (ValueError): the exact step
    (every InferenceTile's, whose learned periphery may overflow too), a mixed-precision
    accumulator that would overflow, or pulse trains that may grow past MAX_BL."""
    from rpu.tiles._compounds import MixedPrecisionCell

    if _exact_step(tile) or isinstance(getattr(tile, "_devices", None), MixedPrecisionCell):
        return True
    up = getattr(tile.rpu_config, "update", None)
    return up is not None and not (up.fixed_bl or up.update_bl_management)


def _keep(tile):
    """What an update may change on ``tile``: its attributes (values it rebinds: periphery
    parameters and gradients) and its saved state (arrays it changes in place: the weights and
    every device's)."""
    # host copies, as rpu.save keeps them: _load_state takes what rpu.load reads
    arrays = {k: v.get() if hasattr(v, "__cuda_array_interface__") else np.array(v, copy=True)
              for k, v in tile._state_arrays().items()}
    return tile, dict(tile.__dict__), tile._state_meta(), arrays


def _put_back(tile, attrs, meta, arrays):
    tile.__dict__.update(attrs)
    # _load_state takes host arrays (as rpu.load reads them): a tile on the GPU goes through
    # the host, as a loaded one does
    backend = tile._backend
    tile._place(_core)
    tile._load_state(meta, arrays)
    tile._place(backend)


def _tile_class(rpu_config):
    from rpu.tiles.analog import AnalogTile
    from rpu.tiles.floating_point import FloatingPointTile
    from rpu.tiles.inference import InferenceTile
    if isinstance(rpu_config, InferenceRPUConfig):
        return InferenceTile
    if isinstance(rpu_config, FloatingPointRPUConfig):
        return FloatingPointTile
    return AnalogTile


class TileArray:
    """A grid of tiles that acts as one ``(out_size, in_size)`` layer.

    Parameters
    ----------
    out_size, in_size : int
        Size of the whole weight matrix.
    rpu_config : InferenceRPUConfig, SingleRPUConfig, UnitCellRPUConfig, ... , optional
        The config of every tile (InferenceRPUConfig by default); its ``mapping.max_input_size``
        and ``mapping.max_output_size`` set the split (0: no split along that side). The tile
        class follows the config: InferenceTile, FloatingPointTile or AnalogTile.
    bias : bool
        A digital bias of the array, added after the tiles' outputs are summed.
    in_trans, out_trans, dtype, backend
        As in :class:`rpu.AnalogTile`.
    seed : int or None
        The array's seed; tile ``(i, o)`` gets its own seed derived from it.

    Attributes
    ----------
    in_sizes, out_sizes : list of int
        The block sizes.
    tiles : list of list of tiles
        ``tiles[i][o]`` covers input block i and output block o.
    """

    def __init__(self, out_size, in_size, rpu_config=None, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        self.out_size = _checks.check_size(out_size, "out_size")
        self.in_size = _checks.check_size(in_size, "in_size")
        for flag, name in ((bias, "bias"), (in_trans, "in_trans"), (out_trans, "out_trans")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}.")
        self.bias, self.in_trans, self.out_trans = bool(bias), bool(in_trans), bool(out_trans)
        self.dtype = _checks.check_dtype(dtype)
        if rpu_config is None:
            rpu_config = InferenceRPUConfig()
        if not hasattr(rpu_config, "mapping"):
            raise TypeError(f"rpu_config must be an rpu config with a mapping (InferenceRPUConfig, "
                            f"SingleRPUConfig, ...), got {type(rpu_config).__name__}.")
        self.rpu_config = rpu_config.copy()
        self.rpu_config.validate()
        self.seed, _ = resolve_seed(seed)
        self.backend_name, resolved = resolve_backend(backend)
        backend = "cpu" if self.backend_name == "cpu" else resolved  # every tile on one device
        mapping = self.rpu_config.mapping
        self.in_sizes = split_sizes(self.in_size, mapping.max_input_size)
        self.out_sizes = split_sizes(self.out_size, mapping.max_output_size)
        self._in_edges = np.cumsum([0] + self.in_sizes)
        self._out_edges = np.cumsum([0] + self.out_sizes)
        cls = _tile_class(self.rpu_config)
        # The grid together must fit, not only each tile: a 1 x 1 tile of the same class tells
        # how many weight-sized arrays each keeps.
        probe = cls(1, 1, self.rpu_config, dtype=self.dtype, seed=0, backend="cpu")
        per_tile = probe._weight_sized_arrays(exact=True)
        _checks.check_memory(f"TileArray({self.out_size}, {self.in_size})", (self.out_size, self.in_size),
                             self.dtype, per_tile)
        children = np.random.SeedSequence(self.seed).spawn(len(self.in_sizes) * len(self.out_sizes))
        self.tiles = [[cls(o_size, i_size, self.rpu_config, dtype=self.dtype,
                           seed=int(children[i * len(self.out_sizes) + o].generate_state(1, np.uint64)[0]),
                           backend=backend)
                       for o, o_size in enumerate(self.out_sizes)]
                      for i, i_size in enumerate(self.in_sizes)]
        self._bias = self._xp.zeros(self.out_size, dtype=self.dtype) if self.bias else None
        self._bias_grad = None
        self._masks_outputs = layer_masks_outputs(cls)
        self._output_masks = None       # (batch, masks[i][o]) of the last forward
        self._learning_rate = self.tiles[0][0].get_learning_rate()

    @property
    def _xp(self):
        # the array module of the tiles' backend (all tiles share it)
        return self.tiles[0][0]._xp

    def to(self, backend):
        """Move every tile (and the digital bias) to ``backend``, in place, and return self;
        see :meth:`rpu.AnalogTile.to`."""
        for t in self._all_tiles():
            t.to(backend)
        self.backend_name = self.tiles[0][0].backend_name

        def moved(a):
            return None if a is None else self._xp.asarray(a.get() if hasattr(a, "get") else a).copy()

        self._bias = moved(self._bias)
        if self._output_masks is not None:    # a backward after the move still masks
            n_rows, masks = self._output_masks
            self._output_masks = (n_rows, [[moved(m) for m in column] for column in masks])
        return self

    def _all_tiles(self):
        return [t for column in self.tiles for t in column]

    def _in_block(self, rows, i):
        return self._xp.ascontiguousarray(rows[:, self._in_edges[i]:self._in_edges[i + 1]])

    def _out_block(self, rows, o):
        return self._xp.ascontiguousarray(rows[:, self._out_edges[o]:self._out_edges[o + 1]])

    # ----- weights -----------------------------------------------------------------------------
    def get_weights(self, **kwargs):
        """The whole matrix, shape (out_size, in_size) (+1 column for the bias). Keyword
        arguments (``apply_weight_scaling``) go to every tile."""
        xp = self._xp
        w = xp.concatenate([xp.concatenate([t.get_weights(**kwargs) for t in column], axis=0)
                            for column in self.tiles], axis=1)
        if self._bias is not None:
            w = xp.concatenate([w, self._bias.reshape(-1, 1)], axis=1)
        return w

    def set_weights(self, weights, **kwargs):
        """Set the whole matrix (the bias as last column); keyword arguments (such as
        ``apply_weight_scaling``) go to every tile. Nothing changes if the matrix is invalid."""
        layout = "(out_size, in_size + 1): the last column is the bias" if self.bias else \
            "(out_size, in_size)"
        w = _checks.as_weights(weights, "weights", (self.out_size, self.in_size + int(self.bias)),
                               self.dtype, layout, self._xp)
        for i, column in enumerate(self.tiles):
            for o, tile in enumerate(column):
                tile.set_weights(w[self._out_edges[o]:self._out_edges[o + 1],
                                   self._in_edges[i]:self._in_edges[i + 1]], **kwargs)
        if self._bias is not None:
            self._bias = w[:, -1].copy()

    # ----- products ----------------------------------------------------------------------------
    def forward(self, x, **kwargs):
        """``y = sum_i concat_o tile[i][o].forward(x_i) + b``.

        Parameters
        ----------
        x : array_like of shape (..., in_size), or (in_size, ...) when ``in_trans``
        **kwargs
            ``is_test`` for inference tiles.

        Returns
        -------
        ndarray of shape (..., out_size), or (out_size, ...) when ``out_trans``.
        """
        xp = self._xp
        rows, lead = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, xp)
        y = xp.zeros((rows.shape[0], self.out_size), dtype=self.dtype)
        masks = [] if self._masks_outputs else None
        for i, column in enumerate(self.tiles):
            x_i = self._in_block(rows, i)
            outputs = [t.forward(x_i, **kwargs) for t in column]
            if masks is not None:
                masks.append([output_bound_mask(t.rpu_config.forward, y_o, xp)
                              for t, y_o in zip(column, outputs)])
            y += xp.concatenate(outputs, axis=1)
        self._output_masks = None if masks is None else (rows.shape[0], masks)
        if self._bias is not None:
            y += self._bias
        return _checks.from_batch(y, lead, self.out_trans, xp)

    def backward(self, d):
        """``dx_i = sum_o tile[i][o].backward(d_o)``, concatenated over the input blocks.

        With AnalogTiles, ``d_o`` is zero where that tile's output of the last forward (of the
        same batch size) reached its output bound, as in aihwkit's array of AnalogTile modules
        (:func:`rpu.tiles._periphery.output_bound_mask`; InferenceTiles mask their own).

        Parameters
        ----------
        d : array_like of shape (..., out_size), or (out_size, ...) when ``out_trans``

        Returns
        -------
        ndarray of shape (..., in_size), or (in_size, ...) when ``in_trans``.
        """
        xp = self._xp
        rows, lead = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, xp)
        blocks = [self._out_block(rows, o) for o in range(len(self.out_sizes))]
        cached = self._output_masks
        masks = cached[1] if cached is not None and cached[0] == rows.shape[0] else None

        def d_block(i, o):
            mask = None if masks is None else masks[i][o]
            return blocks[o] if mask is None else xp.where(mask, 0, blocks[o]).astype(self.dtype)

        dx = xp.concatenate([sum(t.backward(d_block(i, o)) for o, t in enumerate(column))
                             for i, column in enumerate(self.tiles)], axis=1)
        if self._bias is not None:
            self._bias_grad = rows.sum(axis=0, dtype=np.float64)
        return _checks.from_batch(dx, lead, self.in_trans, xp)

    def update(self, x, d):
        """Every tile's update with its blocks of ``x`` and ``d``; the bias takes an SGD step
        with the gradient of the last ``backward``."""
        x_rows, _ = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, self._xp)
        d_rows, _ = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, self._xp)
        if x_rows.shape[0] != d_rows.shape[0]:
            raise ValueError(f"x and d must hold the same number of vectors, got {x_rows.shape[0]} "
                             f"rows of x and {d_rows.shape[0]} rows of d.")
        # A tile may refuse its step only when it gets there (an exact step or a digital state
        # that would overflow, a pulse train too long); the tiles before it have then already
        # stepped. Where any tile may refuse, every tile's state is kept first, so that a failed
        # update leaves the whole array as it was. The usual pulsed tiles never refuse.
        new_bias = None
        if self._bias is not None and self._bias_grad is not None:
            new_bias = self._bias - self._learning_rate * self._bias_grad  # float64
            if not float(self._xp.max(self._xp.abs(new_bias))) <= float(np.finfo(self.dtype).max):
                raise ValueError(f"the update of the bias overflows {self.dtype.name} "
                                 f"(learning_rate = {self._learning_rate}); scale x, d or the "
                                 f"learning_rate down. The tile array is unchanged.")
        tiles = self._all_tiles()
        saved = []
        if len(tiles) > 1 and any(_may_refuse(t) for t in tiles):
            saved = [_keep(t) for t in tiles]
        try:
            for i, column in enumerate(self.tiles):
                x_i = self._in_block(x_rows, i)
                for o, tile in enumerate(column):
                    tile.update(x_i, self._out_block(d_rows, o))
        except BaseException:
            for kept in saved:
                _put_back(*kept)
            raise
        if new_bias is not None:
            self._bias = new_bias.astype(self.dtype)
        self._bias_grad = None

    # ----- per tile -----------------------------------------------------------------------------
    def get_learning_rate(self):
        """The learning rate of the tiles and the bias."""
        return self._learning_rate

    def set_learning_rate(self, learning_rate):
        """Set the learning rate of every tile and of the bias."""
        for t in self._all_tiles():
            t.set_learning_rate(learning_rate)
        self._learning_rate = self.tiles[0][0].get_learning_rate()

    def post_update_step(self):
        """Every tile's ``post_update_step``."""
        for t in self._all_tiles():
            t.post_update_step()

    def program_weights(self, **kwargs):
        """Program every tile (inference tiles); keyword arguments as ``InferenceTile``'s."""
        for t in self._all_tiles():
            t.program_weights(**kwargs)

    def drift_weights(self, t_inference=0.0):
        """Drift every tile to ``t_inference`` seconds (inference tiles)."""
        for t in self._all_tiles():
            t.drift_weights(t_inference)

    def get_brief_info(self):
        """A one-line description: sizes, the grid and the tile class."""
        return (f"TileArray(out_size={self.out_size}, in_size={self.in_size}, bias={self.bias}, "
                f"in_sizes={self.in_sizes}, out_sizes={self.out_sizes}, "
                f"tile={type(self.tiles[0][0]).__name__}, dtype={self.dtype.name}, seed={self.seed})")

    __repr__ = get_brief_info

    # ----- state (rpu.save / rpu.load) ------------------------------------------------------------
    def _state_arrays(self):
        arrays = {}
        for i, column in enumerate(self.tiles):
            for o, tile in enumerate(column):
                arrays.update({f"tile.{i}.{o}.{k}": v for k, v in tile._state_arrays().items()})
        if self._bias is not None:
            arrays["bias"] = self._bias
        if self._bias_grad is not None:  # a backward whose update has not run yet
            arrays["bias_grad"] = self._bias_grad
        return arrays

    def _state_meta(self):
        return {"out_size": self.out_size, "in_size": self.in_size, "bias": self.bias,
                "in_trans": self.in_trans, "out_trans": self.out_trans, "dtype": self.dtype.name,
                "seed": str(self.seed), "learning_rate": self._learning_rate,
                "tiles": [[t._state_meta() for t in column] for column in self.tiles]}

    def _load_state(self, meta, arrays):
        metas = meta["tiles"]
        if len(metas) != len(self.tiles) or any(len(m) != len(c) for m, c in zip(metas, self.tiles)):
            raise ValueError("the saved tile grid does not match the config's split.")
        for i, column in enumerate(self.tiles):
            for o, tile in enumerate(column):
                prefix = f"tile.{i}.{o}."
                tile._load_state(metas[i][o], {k[len(prefix):]: v for k, v in arrays.items()
                                                if k.startswith(prefix)})
        if self._bias is not None:
            bias = np.asarray(arrays["bias"], dtype=self.dtype)
            if bias.shape != (self.out_size,) or not np.all(np.isfinite(bias)):
                raise ValueError(f"bias must be {self.out_size} finite numbers.")
            self._bias = bias
        self._bias_grad = None
        self._output_masks = None
        if "bias_grad" in arrays:
            grad = np.asarray(arrays["bias_grad"])
            # (infinite after a backward of huge errors, as in the live tile: update refuses it)
            if self._bias is None or grad.shape != (self.out_size,) or grad.dtype.kind != "f":
                raise ValueError(f"bias_grad must be {self.out_size} floats, saved only for a "
                                 f"tile with a bias.")
            self._bias_grad = self._xp.asarray(grad, dtype=np.float64)
        self._learning_rate = _checks.check_learning_rate(meta["learning_rate"])
