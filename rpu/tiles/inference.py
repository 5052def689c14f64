"""InferenceTile: an analog tile for hardware-aware training and for inference on drifting
devices (aihwkit's ``InferenceTile`` with its digital periphery, C++ path).

Spec: shared/spec/inference.md sections 0, 2 to 5 and 7. The crossbar is an :class:`AnalogTile`
with the config's forward IOParameters, a perfect backward and a floating-point update. Around it
sits the digital periphery of aihwkit's ``InferenceTileWithPeriphery``:

* the input range (``pre_post.input_range``): clip and divide the inputs, multiply the outputs;
* the mapping scales (``mapping.weight_scaling_omega``, remapping) and the learned output scales
  (``mapping.learn_out_scaling``) that turn normalised conductances back into weights;
* a digital bias (``mapping.digital_bias``, the default when ``bias=True``);
* the modified forward weights of hardware-aware training (``modifier``), and clipping and
  remapping after each mini-batch (``post_update_step``);
* programming, drift and read noise from the noise model (``program_weights``,
  ``drift_weights``) with drift compensation in the evaluation forward;
* periphery quantisation of the scales and bias (``pre_post.periph_quant``, with
  ``PrePostProcessingParameterQuant``).

On the GPU backend (``backend="cuda"``) every array of the tile -- weights, modified and
programmed weights, drift parameters, scales, digital bias, per-column compensation -- lives on
the device, the products run through the GPU analog MVM, and the noise models and modifiers
through the kernels of ``rpu/gpu/`` (the tile passes its backend to ``rpu.inference`` and
``rpu.tiles.weight_modifier``). The input range and the quantisers' grids are a few numbers and
stay on the host; the per-element work on them is array code on the device arrays.
"""
import numpy as np

from rpu import _threads, inference
from rpu.config import InferenceRPUConfig
from rpu.config.enums import WeightClipType, WeightRemapType
from rpu.config.noise_models import BaseNoiseModel
from rpu.errors import ConfigError
from rpu.inference import compensation
from rpu.tiles import _checks
from rpu.tiles._input_range import InputRange
from rpu.tiles._periphery import output_bound_mask
from rpu.tiles._periphery_quant import PerTensorQuantizer
from rpu.tiles.analog import AnalogTile
from rpu.tiles.post_update import clip_weights, remap_weights
from rpu.tiles.weight_modifier import modifier_is_active, modify_weights

__all__ = ["InferenceTile"]


def _to_host(a):
    """A host (NumPy) version of a user value or a device array (CuPy's ``get``)."""
    return a.get() if hasattr(a, "get") and hasattr(a, "shape") else a


class InferenceTile(AnalogTile):
    """An analog tile with aihwkit's inference periphery, on NumPy arrays.

    Parameters
    ----------
    out_size, in_size : int
        Output and input lines, not counting a bias.
    rpu_config : InferenceRPUConfig, optional
        Forward IO, noise model, drift compensation, clip, remap, modifier, mapping and
        pre/post-processing, with aihwkit's names and defaults; copied by the tile.
    bias : bool
        Add a bias. With ``rpu_config.mapping.digital_bias`` (the default) it is a digital vector
        added after the output scales; otherwise it is an analog weight column driven by a
        constant input of 1. Either way ``get_weights``/``set_weights`` carry it as the last
        column.
    in_trans, out_trans, dtype, seed, backend
        As in :class:`rpu.AnalogTile`.

    Notes
    -----
    The forward of a batch ``x`` (spec 0.1)::

        z = clip(x, -|r|, |r|) / r                  # input range, when enabled
        y = MVM(W_fwd, z) * r * s_map               # W_fwd: modified weights in training mode
        y = y * alpha                               # eval only: drift compensation
        y = y * s_out + b                           # learned output scales, digital bias

    ``backward(d)`` returns ``W_fwd^T (s_map s_out d)`` (aihwkit passes the input gradient
    straight through the input clip) and computes the gradients of the periphery parameters
    (input range, learned output scales, digital bias); ``update(x, d)`` then applies the weight
    step ``W <- W - lr d' x'^T`` (with ``x' = clip(x)/r`` and ``d' = d s_out / (s_map
    lr_scale)``) and an SGD step of those parameters with the same learning rate. This is
    aihwkit's InferenceTile with shared weights and ``AnalogSGD``: the weight-scaling learning
    rate compensation scales the step by ``mean(s_map)/s_map``.

    Intended differences from aihwkit 1.1.0, where the spec marks its behaviour a bug:

    * ``set_weights`` forgets the programmed weights and the drift compensation factor, so that
      ``drift_weights`` programs the new weights (aihwkit keeps drifting the old ones), and
      recomputes the modified forward weights (aihwkit keeps the stale ones until the next
      ``post_update_step``).
    * ``pdrop`` acts with ``modifier.type = NONE`` too (aihwkit skips the modifier then).
    * ``manage_output_clipping`` divides the count of clipped outputs by the number of outputs
      (aihwkit by the number of input gradients).
    * With ``weight_scaling_columnwise`` the mapping scales exist from the start (aihwkit leaves
      them unset until the first ``set_weights``).
    * ``program_weights`` and ``drift_weights`` recompute the modified forward weights of an
      active modifier from the programmed or drifted weights, as ``set_weights`` does (aihwkit
      keeps those of the last ``post_update_step``, so its training forward, and with
      ``enable_during_test`` its evaluation forward, do not see programming and drift).
    * With ``pre_post = PrePostProcessingParameterQuant`` the periphery follows aihwkit's
      QuantizedTorchInferenceTile (spec 5.2): learned output scales folded into the quantised
      merged scale, the digital bias quantised. aihwkit's InferenceRPUConfig with that
      ``pre_post`` quantises the merged scale, then applies the learned scales again and adds the
      bias unquantised.
    """

    config_classes = (InferenceRPUConfig,)
    has_module_periphery = True

    def __init__(self, out_size, in_size, rpu_config=None, *, bias=False, in_trans=False,
                 out_trans=False, dtype=np.float32, seed=None, backend="auto"):
        super().__init__(out_size, in_size, rpu_config, bias=bias, in_trans=in_trans,
                         out_trans=out_trans, dtype=dtype, seed=seed, backend=backend)
        cfg = self.rpu_config
        mapping = cfg.mapping
        self._digital_bias = (np.zeros(self.d_size, dtype=self.dtype)
                              if self.bias and mapping.digital_bias else None)
        self._mapping_scales = None
        if cfg.remap.type != WeightRemapType.NONE or (
                mapping.weight_scaling_omega > 0 and mapping.weight_scaling_columnwise):
            self._mapping_scales = np.ones(self.d_size)
        elif mapping.weight_scaling_omega > 0:
            self._mapping_scales = np.ones(1)
        self._out_scales = None
        if mapping.learn_out_scaling:
            self._out_scales = np.ones(self.d_size if mapping.out_scaling_columnwise else 1)
        irange = cfg.pre_post.input_range
        self._input_range = InputRange(irange) if irange.enable else None
        quant = getattr(cfg.pre_post, "periph_quant", None)
        self._quant = None
        if quant is not None and quant.n_bits > 0 and quant.learn_quant_params:
            raise ConfigError(
                "rpu_config.pre_post.periph_quant.learn_quant_params = True: rpu estimates the "
                "quantisation ranges from the current scales (current_minmax) but does not learn "
                "them; set learn_quant_params = False.")
        if quant is not None and quant.n_bits > 0:
            self._quant = {"scale": PerTensorQuantizer(quant.n_bits, quant.symmetric),
                           "bias": PerTensorQuantizer(quant.n_bits, quant.symmetric)}
        self._w_fwd = None          # modified forward weights (None: the weights themselves)
        self._alpha = None          # drift-compensation factor (None: 1)
        self._reference = None      # the weights programming starts from
        self._programmed = None     # (programmed weights, drift noise parameters)
        self._baseline = None       # drift-compensation read-out right after programming
        self._cache = None          # what the last training forward leaves for backward
        self._grads = {}            # periphery gradients of the last backward
        if type(self) is InferenceTile:  # built on the CPU core; now the requested backend
            self._place(self._requested_backend)

    def _gpu_unsupported(self):
        return None

    # ----- sizes -----------------------------------------------------------------------------------
    @property
    def analog_bias(self):
        """True when the bias is a weight column of the crossbar (``digital_bias=False``)."""
        return self.bias and not self.rpu_config.mapping.digital_bias

    # ----- scales ----------------------------------------------------------------------------------
    @property
    def mapping_lr_scale(self):
        """``1/mean(mapping_scales)`` with ``weight_scaling_lr_compensation``, else 1."""
        if self._mapping_scales is not None and self.rpu_config.mapping.weight_scaling_lr_compensation:
            return 1.0 / float(self._xp.mean(self._mapping_scales))
        return 1.0

    def get_mapping_scales(self):
        """The mapping scales (copy; shape (1,) or (out_size,)), or None when unused."""
        return None if self._mapping_scales is None else self._mapping_scales.copy()

    def set_mapping_scales(self, scales):
        """Set the mapping scales: None, a number, or an array of 1 or ``out_size`` finite,
        non-zero values (negative ones come from remapping a learned output scale that training
        drove below 0, as in aihwkit; a zero would divide the update's ``d``). A single value
        fills an existing per-output vector, as in aihwkit."""
        self._mapping_scales = self._checked_scales(scales, "scales", self._mapping_scales)

    def get_learned_out_scales(self):
        """The learned output scales (copy), or None without ``mapping.learn_out_scaling``."""
        return None if self._out_scales is None else self._out_scales.copy()

    def set_learned_out_scales(self, scales):
        """Set the learned output scales (a number or an array of their size)."""
        if self._out_scales is None:
            raise ValueError("this tile has no learned output scales; set "
                             "rpu_config.mapping.learn_out_scaling = True to use them.")
        new = self._checked_scales(scales, "scales", self._out_scales, nonzero=False)
        if new.shape != self._out_scales.shape:
            new = self._xp.broadcast_to(new, self._out_scales.shape).copy()
        self._out_scales = new

    def get_scales(self):
        """``mapping_scales * learned_out_scales`` (whichever exist), or None."""
        if self._mapping_scales is None and self._out_scales is None:
            return None
        if self._mapping_scales is None:
            return self._out_scales.copy()
        if self._out_scales is None:
            return self._mapping_scales.copy()
        return self._mapping_scales * self._out_scales

    def set_scales(self, scales):
        """Set the mapping scales to ``scales`` and the learned output scales to 1."""
        new = self._checked_scales(scales, "scales", self._mapping_scales)
        self._mapping_scales = new
        if self._out_scales is not None:
            self._out_scales = self._xp.ones_like(self._out_scales)

    def _checked_scales(self, scales, name, current, nonzero=True):
        if scales is None:
            return None
        arr = np.array(_to_host(scales), dtype=np.float64).reshape(-1)
        if arr.size not in (1, self.d_size) or not np.all(np.isfinite(arr)) or (
                nonzero and np.any(arr == 0)):
            raise ValueError(f"{name} must be {'non-zero ' if nonzero else ''}finite numbers, one "
                             f"or out_size = {self.d_size} of them, got shape "
                             f"{np.shape(scales)} with values {arr[:4]}{'...' if arr.size > 4 else ''}.")
        if arr.size == 1 and current is not None and current.size == self.d_size:
            arr = np.full(self.d_size, arr[0])
        return arr if self._xp is np else self._xp.asarray(arr)

    # ----- input range -----------------------------------------------------------------------------
    def get_input_range(self):
        """The input range ``r`` (a float), or None when ``pre_post.input_range.enable`` is off."""
        return None if self._input_range is None else self._input_range.value

    def set_input_range(self, value):
        """Set the input range to ``|value|`` (a finite, non-zero number)."""
        if self._input_range is None:
            raise ValueError("this tile has no input range; set "
                             "rpu_config.pre_post.input_range.enable = True to use one.")
        v = _checks.check_finite_number(value, "value")
        if v == 0:
            raise ValueError("value must be non-zero: the inputs are divided by the input range.")
        self._input_range.set(v)

    # ----- weights -----------------------------------------------------------------------------------
    def get_weights(self, apply_weight_scaling=True):
        """The weights, as the layer computes with them.

        Parameters
        ----------
        apply_weight_scaling : bool
            Multiply the stored (normalised) weights by the scales (``get_scales()``), giving the
            weights of the layer; False returns the crossbar's normalised weights.

        Returns
        -------
        ndarray of shape (out_size, in_size), or (out_size, in_size + 1) with a bias (last
        column; digital or analog).
        """
        w = self._weights.copy()
        scales = self.get_scales() if apply_weight_scaling else None
        if scales is not None:
            w *= scales.astype(self.dtype).reshape(-1, 1)
        if self._digital_bias is not None:
            w = self._xp.concatenate([w, self._digital_bias.reshape(-1, 1)], axis=1)
        return w

    def set_weights(self, weights, *, apply_weight_scaling=True, weight_scaling_omega=None):
        """Set the layer's weights (and bias, as the last column).

        Parameters
        ----------
        weights : array_like of shape (out_size, in_size), or (out_size, in_size + 1) with a bias
            Finite values; the tile is unchanged if any check fails.
        apply_weight_scaling : bool
            With ``weight_scaling_omega > 0`` (the argument, else the mapping's), store
            ``W / alpha`` with ``alpha = max|W| / omega`` (per output row when
            ``weight_scaling_columnwise``) and make ``alpha`` the mapping scales.
        weight_scaling_omega : float, optional
            Overrides ``rpu_config.mapping.weight_scaling_omega``.
        """
        xp = self._xp
        w = _checks.as_weights(weights, "weights", (self.d_size, self.in_size + int(self.bias)),
                               self.dtype, self._weights_layout(), xp)
        omega = (self.rpu_config.mapping.weight_scaling_omega if weight_scaling_omega is None
                 else _checks.check_finite_number(weight_scaling_omega, "weight_scaling_omega"))
        bias = None
        if self._digital_bias is not None:
            bias = w[:, -1].copy()
            w = xp.ascontiguousarray(w[:, :-1])
        scales = None
        if apply_weight_scaling and omega > 0:
            if self.rpu_config.mapping.weight_scaling_columnwise:
                w_max = xp.max(xp.abs(w), axis=1).astype(np.float64)
            else:
                w_max = xp.max(xp.abs(w), keepdims=True).reshape(1).astype(np.float64)
            scales = w_max / omega
            scales[scales == 0] = 1.0
            w = (w / scales.astype(self.dtype).reshape(-1, 1)).astype(self.dtype)
        self._assign_weights(w)
        if scales is not None:
            self.set_scales(scales)
        if bias is not None:
            self._digital_bias = bias
        self._forget_programming()
        if self._w_fwd is not None:
            self._refresh_forward_weights()

    def _forget_programming(self):
        self._reference = None
        self._programmed = None
        self._baseline = None
        self._alpha = None

    # ----- forward ---------------------------------------------------------------------------------
    def _forward_weights(self, is_test):
        """The matrix the forward reads: the modified weights in training (or with
        ``enable_during_test``), once a ``post_update_step`` made them."""
        if self._w_fwd is not None and (not is_test or self.rpu_config.modifier.enable_during_test):
            return self._w_fwd
        return self._weights

    def _crossbar_inputs(self, rows):
        xp = self._xp
        z = rows if self._input_range is None else self._input_range.apply(rows, xp)
        if self.analog_bias:
            z = xp.concatenate([z, xp.ones((z.shape[0], 1), dtype=self.dtype)], axis=1)
        return xp.ascontiguousarray(z)

    def _crossbar_forward(self, z, is_test):
        modifier = self.rpu_config.modifier
        if not is_test and modifier.per_batch_sample and modifier_is_active(modifier):
            # A fresh modification of the weights for every input vector (aihwkit's torch tile):
            # one product per vector.
            out = self._xp.empty((z.shape[0], self.d_size), dtype=self.dtype)
            for n in range(z.shape[0]):
                w_n = modify_weights(modifier, self._weights, self._key, self._next_op(),
                                     backend=self._backend)
                out[n] = self._mvm(z[n:n + 1], self._fwd, False, w_n)[0]
            return out
        return self._mvm(z, self._fwd, False, self._forward_weights(is_test))

    def forward(self, x, is_test=False):
        """The layer's forward pass, ``y = s_out * s_map * r * MVM(W_fwd, clip(x)/r) + b``.

        Parameters
        ----------
        x : array_like of shape (..., in_size), or (in_size, ...) when ``in_trans``
        is_test : bool
            Evaluation mode: the unmodified weights (unless ``modifier.enable_during_test``) and
            the drift compensation factor. In training mode (the default, as aihwkit's tile
            forward) the input range learns from the data and the call is remembered for
            ``backward``.

        Returns
        -------
        ndarray of shape (..., out_size), or (out_size, ...) when ``out_trans``; the tile's dtype.
        """
        rows, lead = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, self._xp)
        is_test = bool(is_test)
        if not is_test and self._input_range is not None:
            self._input_range.init_from_data(rows, self._xp)
        y_t = self._crossbar_forward(self._crossbar_inputs(rows), is_test)
        y = self._apply_output_periphery(y_t, is_test, remember=not is_test, rows=rows)
        return _checks.from_batch(y, lead, self.out_trans, self._xp)

    def _apply_output_periphery(self, y_t, is_test, remember=False, rows=None):
        dt = self.dtype.type
        xp = self._xp
        scale = None
        if self._input_range is not None:
            scale = xp.full(1, self._input_range.value)
        if self._mapping_scales is not None:
            scale = self._mapping_scales if scale is None else scale * self._mapping_scales
        out_scales = self._out_scales
        if self._quant is not None:
            merged = scale if scale is not None else xp.ones(1)
            if out_scales is not None:
                merged = merged * out_scales
            scale = self._quant["scale"](merged, training=not is_test)
            out_scales = None
        y = y_t if scale is None else y_t * scale.astype(dt).reshape(1, -1)
        if is_test and self._alpha is not None:
            y = y * xp.asarray(self._alpha, dtype=dt).reshape(1, -1)
        if remember:
            self._cache = {"x": rows, "y_pre_out": y if self._out_scales is not None else None,
                           "clip_mask": output_bound_mask(self.rpu_config.forward, y_t, self._xp)}
        if out_scales is not None:
            y = y * out_scales.astype(dt).reshape(1, -1)
        if self._digital_bias is not None:
            b = self._digital_bias
            if self._quant is not None:
                b = self._quant["bias"](b, training=not is_test)
            y = y + b.astype(dt).reshape(1, -1)
        return xp.ascontiguousarray(y, dtype=self.dtype)

    # ----- backward and update ----------------------------------------------------------------------
    def _cache_for(self, n_rows, what):
        cache = self._cache
        if cache is None or cache["x"].shape[0] != n_rows:
            raise ValueError(f"{what} needs the training forward of the same batch first: call "
                             f"forward(x, is_test=False) with these {n_rows} input vectors before "
                             f"backward(d).")
        return cache

    def backward(self, d):
        """The gradient with respect to the layer input, and the periphery's gradients.

        Parameters
        ----------
        d : array_like of shape (..., out_size), or (out_size, ...) when ``out_trans``
            The gradient of the loss with respect to the layer output.

        Returns
        -------
        ndarray of shape (..., in_size), or (in_size, ...) when ``in_trans``:
        ``W_fwd^T (s_map s_out d)`` through the backward IO, with ``d`` zeroed where the
        training forward's output hit the output bound.

        Notes
        -----
        The gradients of the input range, the learned output scales and the digital bias are
        kept for the next ``update`` (see :meth:`get_periphery_gradients`); the first two need
        the training forward of the same batch.
        """
        xp = self._xp
        rows, lead = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, xp)
        n = rows.shape[0]
        cache = self._cache if self._cache is not None and self._cache["x"].shape[0] == n else None
        learn_range = self._input_range is not None and self._input_range.params.learn_input_range
        if self._out_scales is not None:
            self._cache_for(n, "learning the output scales")
        if learn_range:
            self._cache_for(n, "learning the input range")
        grads = {}
        if self._digital_bias is not None:
            grads["bias"] = rows.sum(axis=0, dtype=np.float64)
        delta = rows
        if self._out_scales is not None:
            y_pre = cache["y_pre_out"]
            g_out = xp.sum(rows * y_pre, axis=0, dtype=np.float64)
            grads["out_scaling_alpha"] = g_out if self._out_scales.size > 1 else g_out.sum(keepdims=True)
            delta = delta * self._out_scales.astype(self.dtype).reshape(1, -1)
        if self._mapping_scales is not None:
            delta = delta * self._mapping_scales.astype(self.dtype).reshape(1, -1)
        if cache is not None and cache["clip_mask"] is not None:
            delta = xp.where(cache["clip_mask"], 0, delta)
        delta = xp.ascontiguousarray(delta, dtype=self.dtype)
        weights = self._w_fwd if self._w_fwd is not None else self._weights
        g = self._mvm(delta, self._bwd, True, weights)
        if self.analog_bias:
            g = xp.ascontiguousarray(g[:, : self.in_size])
        if learn_range:
            grads["input_range"] = self._input_range.gradient(cache["x"], g, cache["clip_mask"],
                                                              xp)
        self._grads = grads
        return _checks.from_batch(g, lead, self.in_trans, xp)

    def get_periphery_gradients(self):
        """The gradients the last ``backward`` computed: dict with ``input_range`` (float),
        ``out_scaling_alpha`` ((1,) or (out_size,)) and ``bias`` ((out_size,)), whichever the
        tile has. ``update`` applies and clears them."""
        return {k: (v.copy() if hasattr(v, "shape") else v) for k, v in self._grads.items()}

    def update(self, x, d):
        """One SGD step: the weights ``W <- W - lr d' x'^T`` and the periphery parameters.

        Parameters
        ----------
        x : array_like of shape (..., in_size), or (in_size, ...) when ``in_trans``
            The layer inputs of the batch.
        d : array_like of shape (..., out_size), or (out_size, ...) when ``out_trans``
            The gradient of the loss with respect to the layer output (the same as given to
            ``backward``).

        Notes
        -----
        ``x' = clip(x, -|r|, |r|)/r`` and ``d' = d s_out / (s_map lr_scale)``; the step goes
        through the config's update (floating point for the default InferenceRPUConfig). The
        gradients of the last ``backward`` (input range, output scales, digital bias) are
        applied with the same learning rate and cleared.
        """
        xp = self._xp
        x_rows, _ = _checks.as_batch(x, "x", self.in_size, self.in_trans, self.dtype, xp)
        d_rows, _ = _checks.as_batch(d, "d", self.out_size, self.out_trans, self.dtype, xp)
        if x_rows.shape[0] != d_rows.shape[0]:
            raise ValueError(f"x and d must hold the same number of vectors, got {x_rows.shape[0]} "
                             f"rows of x and {d_rows.shape[0]} rows of d.")
        z = self._crossbar_inputs(x_rows)
        dd = d_rows
        if self._out_scales is not None:
            dd = dd * self._out_scales.astype(self.dtype).reshape(1, -1)
        if self._mapping_scales is not None:
            dd = dd / (self._mapping_scales * self.mapping_lr_scale).astype(self.dtype).reshape(1, -1)
        lr = self._learning_rate
        new = self._periphery_step(lr)
        self._update_rows(z, xp.ascontiguousarray(dd, dtype=self.dtype), lr)
        self._grads = {}
        if "input_range" in new:
            self._input_range.set(new["input_range"])
        if "out_scaling_alpha" in new:
            self._out_scales = new["out_scaling_alpha"]
        if "bias" in new:
            self._digital_bias = new["bias"].astype(self.dtype)

    def _periphery_step(self, lr):
        """The periphery parameters after the SGD step with the last backward's gradients, or
        ValueError, before anything moves, where one would pass the dtype's range (huge finite
        inputs make an infinite output-scale gradient; the NaN policy of rpu.tiles._checks)."""
        grads, xp = self._grads, self._xp
        new = {}
        if "input_range" in grads and self._input_range.params.learn_input_range:
            new["input_range"] = self._input_range.value - lr * grads["input_range"]
        if "out_scaling_alpha" in grads:
            new["out_scaling_alpha"] = self._out_scales - lr * grads["out_scaling_alpha"]
        if "bias" in grads:
            new["bias"] = self._digital_bias - lr * grads["bias"]
        largest = float(np.finfo(self.dtype).max)
        for name, value in new.items():
            if not float(xp.max(xp.abs(xp.asarray(value, dtype=np.float64)))) <= largest:
                raise ValueError(f"the update of the {name} overflows {np.dtype(self.dtype).name} "
                                 f"(learning_rate = {lr}); scale x, d or the learning_rate down. "
                                 f"The tile is unchanged.")
        return new

    # ----- after each mini-batch ---------------------------------------------------------------------
    def post_update_step(self):
        """aihwkit's per-mini-batch step (spec 0.2): the device's diffusion and decay, then
        clipping, remapping (new mapping scales, learned output scales back to 1), and the
        modified forward weights of the weight modifier."""
        cfg = self.rpu_config
        xp = self._xp
        if cfg.remap.type != WeightRemapType.NONE and self._out_scales is not None and bool(
                xp.any(self._out_scales == 0)):
            # a zero would become a mapping scale, which divides the update's d
            raise ValueError("a learned output scale is 0, which remapping cannot move into the "
                             "mapping scales; set_learned_out_scales to non-zero values first. "
                             "The tile is unchanged.")
        super().post_update_step()
        w = self._weights
        if cfg.clip.type != WeightClipType.NONE:
            w = clip_weights(cfg.clip, w, backend=self._backend)
        if cfg.remap.type != WeightRemapType.NONE:
            scales = self.get_scales()
            w, scales = remap_weights(cfg.remap, w, xp.broadcast_to(scales, (self.d_size,)).copy(),
                                      backend=self._backend)
            self.set_scales(scales)
        self._weights = xp.ascontiguousarray(w, dtype=self.dtype)
        if modifier_is_active(cfg.modifier):
            self._refresh_forward_weights()

    def _refresh_forward_weights(self):
        modifier = self.rpu_config.modifier
        if modifier_is_active(modifier):
            self._w_fwd = modify_weights(modifier, self._weights, self._key, self._next_op(),
                                         n_threads=_threads.effective_n_threads(),
                                         backend=self._backend)
        else:
            self._w_fwd = None

    def get_forward_weights(self):
        """The modified weights the training forward reads (copy), or None before the first
        ``post_update_step`` with an active modifier."""
        return None if self._w_fwd is None else self._w_fwd.copy()

    # ----- programming and drift --------------------------------------------------------------------
    def _modified(self, weights):
        """The modified forward weights for new crossbar weights, if the tile keeps any."""
        if self._w_fwd is None or not modifier_is_active(self.rpu_config.modifier):
            return None
        return modify_weights(self.rpu_config.modifier, weights, self._key, self._next_op(),
                              n_threads=_threads.effective_n_threads(), backend=self._backend)

    def _readout(self, weights, w_fwd, exact):
        """The drift-compensation read-out: the one-hot inputs through the crossbar's evaluation
        forward of ``weights`` (no input range, no scales), or exactly (``eye @ W^T``)."""
        eye = compensation.get_readout_tensor(self.rpu_config.drift_compensation, self.x_size,
                                              self.dtype, backend=self._backend)
        if exact:
            return eye @ weights.T
        if w_fwd is not None and self.rpu_config.modifier.enable_during_test:
            weights = w_fwd
        return self._mvm(eye, self._fwd, False, weights)

    def program_weights(self, from_reference=True, noise_model=None):
        """Program the weights with the noise model's programming noise (spec 4.6).

        Parameters
        ----------
        from_reference : bool
            Program the weights kept from the last programming (the reference); False, or no
            reference yet, takes the current crossbar weights as the new reference.
        noise_model : rpu.config noise model, optional
            Replaces ``rpu_config.noise_model`` (also for later ``drift_weights`` calls).

        Notes
        -----
        The crossbar weights become the programmed weights; the drift parameters (exponents)
        are kept for ``drift_weights``. With drift compensation, the read-out of the programmed
        weights becomes the baseline (the exact ``eye @ W_ref^T`` with
        GlobalDriftCompensationWithExactReference).
        """
        cfg = self.rpu_config
        model = cfg.noise_model
        if noise_model is not None:
            if not isinstance(noise_model, BaseNoiseModel):
                raise TypeError(f"noise_model must be a rpu.config noise model, got "
                                f"{type(noise_model).__name__}.")
            noise_model.validate()
            model = noise_model.copy()
        reference = self._reference
        if not from_reference or reference is None:
            reference = self._weights.copy()
        xp = self._xp
        w_prog, params = inference.apply_programming_noise(
            model, reference, self._key, self._next_op(), n_threads=_threads.effective_n_threads(),
            backend=self._backend)
        w_prog = xp.ascontiguousarray(w_prog, dtype=self.dtype)
        w_fwd = self._modified(w_prog)
        baseline = None
        dc = cfg.drift_compensation
        if dc is not None:
            exact = compensation.uses_exact_reference(dc)
            baseline = compensation.init_baseline(
                dc, self._readout(reference if exact else w_prog, w_fwd, exact))
        cfg.noise_model = model
        self._reference = reference
        self._programmed = (w_prog, [xp.ascontiguousarray(p) for p in params])
        self._baseline = baseline
        self._alpha = None
        self._weights = w_prog.copy()
        if w_fwd is not None:
            self._w_fwd = w_fwd

    def drift_weights(self, t_inference=0.0):
        """Drift the programmed weights to ``t_inference`` seconds after programming (spec 4.6).

        Each call starts from the programmed weights (programming first if there are none), with
        fresh read noise; the crossbar weights become the drifted ones. With drift compensation
        the factor ``alpha = baseline / readout(W_t)`` multiplies the evaluation forward.
        """
        t = _checks.check_finite_number(t_inference, "t_inference")
        if t < 0:
            raise ValueError(f"t_inference must be >= 0 seconds, got {t_inference!r}.")
        if self._programmed is None:
            self.program_weights()
        w_prog, params = self._programmed
        w_t = inference.apply_drift_noise(self.rpu_config.noise_model, w_prog, params, t,
                                          self._key, self._next_op(),
                                          n_threads=_threads.effective_n_threads(),
                                          backend=self._backend)
        w_t = self._xp.ascontiguousarray(w_t, dtype=self.dtype)
        w_fwd = self._modified(w_t)
        alpha = None
        dc = self.rpu_config.drift_compensation
        if dc is not None:
            alpha = compensation.apply(dc, self._readout(w_t, w_fwd, False), self._baseline)
        self._weights = w_t
        self._alpha = alpha
        if w_fwd is not None:
            self._w_fwd = w_fwd

    @property
    def alpha(self):
        """The drift-compensation factor of the evaluation forward (1.0 before any drift; an
        array of out_size factors with per-column compensation)."""
        return 1.0 if self._alpha is None else self._alpha

    # ----- state ----------------------------------------------------------------------------------------
    def _state_arrays(self):
        arrays = super()._state_arrays()
        optional = {"w_fwd": self._w_fwd, "digital_bias": self._digital_bias,
                    "mapping_scales": self._mapping_scales, "out_scales": self._out_scales,
                    "reference": self._reference}
        arrays.update({f"inf.{k}": v for k, v in optional.items() if v is not None})
        if self._programmed is not None:
            arrays["inf.programmed"] = self._programmed[0]
            for k, v in enumerate(self._programmed[1]):
                arrays[f"inf.drift_param.{k}"] = v
        for name, value in (("baseline", self._baseline), ("alpha", self._alpha)):
            if value is not None:
                arrays[f"inf.{name}"] = self._xp.asarray(value, dtype=np.float64)
        if self._quant is not None:
            for name, q in self._quant.items():
                arrays[f"inf.quant.{name}"] = q.state()
        # the periphery gradients of a backward whose update has not run yet
        for name, value in self._grads.items():
            arrays[f"inf.grad.{name}"] = self._xp.asarray(value, dtype=np.float64)
        return arrays

    def _state_meta(self):
        meta = super()._state_meta()
        if self._input_range is not None:
            meta["input_range"] = [self._input_range.value, self._input_range.update_idx]
        return meta

    def _load_state(self, meta, arrays):
        inf = {k[4:]: v for k, v in arrays.items() if k.startswith("inf.")}
        rest = {k: v for k, v in arrays.items() if not k.startswith("inf.")}
        shape = (self.d_size, self.x_size)

        def weights(name):
            return _checks.as_weights(inf[name], name, shape, self.dtype)

        w_fwd = weights("w_fwd") if "w_fwd" in inf else None
        reference = weights("reference") if "reference" in inf else None
        programmed = None
        if "programmed" in inf:
            n_params = sum(1 for k in inf if k.startswith("drift_param."))
            programmed = (weights("programmed"),
                          [np.asarray(inf[f"drift_param.{k}"]) for k in range(n_params)])
        scales = {name: self._checked_scales(inf.get(name), name, None, nonzero=name != "out_scales")
                  for name in ("mapping_scales", "out_scales")}
        # Mapping scales may be set or cleared whatever the config says (set_mapping_scales,
        # set_weights(weight_scaling_omega=...)), as in aihwkit; learned scales follow the config.
        if (scales["out_scales"] is None) != (self._out_scales is None):
            raise ValueError("the saved learned output scales do not match the tile's "
                             "mapping.learn_out_scaling.")
        bias = None
        if self._digital_bias is not None:
            bias = np.asarray(inf["digital_bias"], dtype=self.dtype)
            if bias.shape != (self.d_size,) or not np.all(np.isfinite(bias)):
                raise ValueError(f"digital_bias must be {self.d_size} finite numbers.")
        grads = self._checked_pending_gradients({k[5:]: v for k, v in inf.items()
                                                 if k.startswith("grad.")})
        input_range = None
        if self._input_range is not None:
            value, idx = meta["input_range"]
            value = _checks.check_finite_number(value, "input_range")
            if value == 0 or isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
                raise ValueError(f"input_range must be [a finite non-zero value, an update count "
                                 f">= 0], got {meta['input_range']!r}.")
            input_range = (value, idx)
        super()._load_state(meta, rest)
        if input_range is not None:
            self._input_range.value, self._input_range.update_idx = input_range
        self._grads = grads
        if self._quant is not None:
            for name, q in self._quant.items():
                q.load(inf[f"quant.{name}"])
        self._w_fwd, self._reference, self._programmed = w_fwd, reference, programmed
        self._mapping_scales, self._out_scales = scales["mapping_scales"], scales["out_scales"]
        self._digital_bias = bias
        self._baseline = None if "baseline" not in inf else self._scalar_or_vector(inf["baseline"])
        self._alpha = None if "alpha" not in inf else self._scalar_or_vector(inf["alpha"])

    def _checked_pending_gradients(self, saved):
        """The saved gradients of a backward whose update had not run, checked against the
        features the tile has (input range learning, learned output scales, digital bias).

        They may be infinite, as a live tile's may be after a backward of huge errors: the
        update then refuses them before anything moves (see ``_periphery_step``).
        """
        shapes = {}
        if self._input_range is not None and self._input_range.params.learn_input_range:
            shapes["input_range"] = ()
        if self._out_scales is not None:
            shapes["out_scaling_alpha"] = self._out_scales.shape
        if self._digital_bias is not None:
            shapes["bias"] = (self.d_size,)
        grads = {}
        for name, value in saved.items():
            value = np.asarray(value)
            if name not in shapes or value.shape != shapes[name] or value.dtype.kind != "f":
                raise ValueError(f"pending gradient {name!r} must be a float array of shape "
                                 f"{shapes.get(name)} (the tile's periphery has "
                                 f"{sorted(shapes) or 'no learned parameters'}).")
            grads[name] = float(value) if name == "input_range" else \
                self._xp.asarray(value, dtype=np.float64)
        return grads

    @staticmethod
    def _scalar_or_vector(arr):
        arr = np.asarray(arr, dtype=np.float64)
        return float(arr) if arr.ndim == 0 else arr
