"""PyTorch adapter: analog layers, their optimizer and model conversion over rpu tiles.

A layer owns an rpu tile (a :class:`rpu.TileArray` when the config's mapping splits the matrix);
its forward and backward are the tile's, wrapped in a ``torch.autograd.Function``. The pulsed
update needs the layer inputs ``x`` and output gradients ``d``, not a weight gradient, so each
layer keeps the pairs of the current step and :class:`AnalogSGD` hands them to ``tile.update``,
then calls ``post_update_step``, as aihwkit's ``AnalogSGD`` does. Tensors reach the tiles as
zero-copy views (DLPack; CPU tensors become NumPy arrays, CUDA tensors CuPy arrays).
``state_dict`` carries the whole tile (rpu's file format, as a uint8 tensor), so a loaded model
continues the same random streams.
"""
import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rpu.config import InferenceRPUConfig, SingleRPUConfig
from rpu.errors import TileFileError
from rpu.serialization import from_bytes, to_bytes
from rpu.tiles import InferenceTile, TileArray
from rpu.tiles._periphery import layer_masks_outputs, output_bound_mask
from rpu.tiles.tile_array import _tile_class

__all__ = ["AnalogLinear", "AnalogConv2d", "AnalogSequential", "AnalogSGD", "AnalogFunction",
           "convert_to_analog", "program_analog_weights", "drift_analog_weights", "to_array",
           "from_array", "STATE_KEY"]

#: The state_dict entry (after the module prefix) that holds the tile file's bytes.
STATE_KEY = "analog_tile_state"


def to_array(tensor):
    """A zero-copy view of ``tensor`` for a tile: NumPy for CPU tensors, CuPy for CUDA ones."""
    tensor = tensor.detach()
    if tensor.device.type == "cpu":
        return np.from_dlpack(tensor)
    import cupy
    return cupy.from_dlpack(tensor)


def _host_float(tensor):
    """``tensor`` on the CPU, bfloat16 widened to float32 (NumPy has no bfloat16)."""
    tensor = tensor.detach().cpu()
    return tensor.float() if tensor.dtype == torch.bfloat16 else tensor


def from_array(array):
    """A tensor sharing the memory of a NumPy or CuPy array (zero-copy)."""
    return torch.from_numpy(array) if isinstance(array, np.ndarray) else torch.from_dlpack(array)


def make_tile(out_size, in_size, rpu_config=None, *, bias=True, dtype=np.float32, seed=None):
    """The tile of an ``(out_size, in_size)`` layer: a TileArray where aihwkit 1.1.0 makes a
    TileModuleArray, else an InferenceTile, FloatingPointTile or AnalogTile by the config's kind
    (SingleRPUConfig, aihwkit's default for analog layers, when None).

    aihwkit's rule: an array when ``mapping.max_input_size`` and ``max_output_size`` are not
    both 0 and one of them is below the layer's size -- so a 0 beside a non-zero limit (0 means
    "no limit" inside the array) still gives an array, of one tile along that side, whose bias
    is always digital.

    With ``mapping.digital_bias`` (the default) an AnalogTile or FloatingPointTile gets no bias
    column: the layer keeps the bias as a digital torch parameter, as aihwkit does.
    """
    cfg = SingleRPUConfig() if rpu_config is None else rpu_config
    mapping = getattr(cfg, "mapping", None)
    max_in, max_out = (mapping.max_input_size, mapping.max_output_size) if mapping else (0, 0)
    if (max_in, max_out) != (0, 0) and (max_in < in_size or max_out < out_size):
        return TileArray(out_size, in_size, cfg, bias=bias, dtype=dtype, seed=seed, backend="cpu")
    cls = _tile_class(cfg)
    if cls is not InferenceTile and getattr(mapping, "digital_bias", False):
        bias = False
    # The layers exchange CPU tensors with their tiles (torch.from_numpy), so the tiles stay on
    # the CPU backend even where a GPU would be picked by "auto".
    return cls(out_size, in_size, cfg, bias=bias, dtype=dtype, seed=seed, backend="cpu")


def _tile_dtype(module):   # float64 modules get float64 tiles, all others float32 ones
    return torch.float64 if module.weight.dtype == torch.float64 else torch.float32


class AnalogFunction(torch.autograd.Function):
    """``y = tile.forward(x)``; the backward is ``tile.backward(d)`` and records ``d``.

    ``analog_ctx`` (the layer's parameter) keeps the function in the graph even when neither
    ``x`` nor any other input needs a gradient, so the first layer still sees its ``d``.
    """

    @staticmethod
    def forward(ctx, analog_ctx, layer, rows):
        ctx.layer, ctx.call, ctx.in_dtype = layer, len(layer._pairs), rows.dtype
        # Saved only so that autograd reports in-place changes of the recorded inputs.
        ctx.save_for_backward(rows)
        x = to_array(rows)
        layer._pairs.append([x, None])
        y = layer._tile_forward(x)
        ctx.out_mask = layer._output_bound_mask(y)
        return from_array(y)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors    # autograd raises here if the recorded x was changed in place
        layer = ctx.layer
        d = to_array(grad)
        layer._pairs[ctx.call][1] = d           # the update takes d unmasked, as in aihwkit
        if ctx.out_mask is not None:
            d = np.where(ctx.out_mask, 0, d).astype(d.dtype, copy=False)
        return None, None, from_array(layer.tile.backward(d)).to(ctx.in_dtype)


class _AnalogLayer(nn.Module):
    """What AnalogLinear and AnalogConv2d share: the tile, its records and its state."""

    def _setup(self, out_size, in_size, bias, rpu_config, dtype, seed):
        self.tile = make_tile(out_size, in_size, rpu_config, bias=bias,
                              dtype=torch.empty((), dtype=dtype).numpy().dtype, seed=seed)
        # A digital bias outside the tile (aihwkit's digital_bias) is a torch parameter.
        self.bias = nn.Parameter(torch.zeros(out_size, dtype=dtype)) if (
            bias and not self.tile.bias) else None
        self.analog_ctx = nn.Parameter(torch.zeros(()))
        self.analog_ctx.analog_layer = self
        self._pairs = []
        # nn.Linear's default initialisation, drawn from the layer's seed.
        bound = 1.0 / np.sqrt(in_size)
        rng = np.random.default_rng(self.tile.seed)
        w = torch.from_numpy(rng.uniform(-bound, bound, (out_size, in_size + int(bias))))
        self.set_weights(w[:, :in_size].reshape(self._weight_shape), w[:, in_size] if bias else None)

    def _tile_forward(self, x):
        if isinstance(self.tile.rpu_config, InferenceRPUConfig):
            return self.tile.forward(x, is_test=not self.training)
        return self.tile.forward(x)

    def _output_bound_mask(self, y):
        # the mask aihwkit's AnalogTile module keeps, where the tile does not keep its own
        if not layer_masks_outputs(type(self.tile)):
            return None
        return output_bound_mask(self.tile.rpu_config.forward, y)

    def _run(self, rows):
        if rows.device.type != "cpu":
            raise TypeError(f"x is on {rows.device}, but the torch adapter runs its tiles on rpu's "
                            f"CPU backend (it does not pass CUDA tensors to rpu's GPU backend yet); "
                            f"move the model input to the CPU.")
        # bfloat16 has no NumPy type: its rows go over as float32, which holds them exactly
        if rows.dtype == torch.bfloat16:
            rows = rows.float()
        if not torch.is_grad_enabled():
            y = from_array(self._tile_forward(to_array(rows)))
        else:
            if getattr(self.analog_ctx, "analog_layer", None) is not self:   # after a deepcopy
                self.analog_ctx.analog_layer = self
            y = AnalogFunction.apply(self.analog_ctx, self, rows)
        return y if self.bias is None else y + self.bias

    def apply_update(self, learning_rate):
        """``tile.update`` with the (x, d) pairs recorded since the last update, concatenated.

        Pairs whose backward never ran are dropped; the records are cleared either way. A layer
        called several times in one step: the weights see every call, but the gradients an
        InferenceTile or TileArray keeps itself (digital bias, learned scales, input range) and
        an InferenceTile's output-clip mask come from its last training forward and backward.
        """
        pairs = [(x, d) for x, d in self._pairs if d is not None]
        self._pairs = []
        if not pairs or learning_rate == 0:
            return
        x = pairs[0][0] if len(pairs) == 1 else np.concatenate([p[0] for p in pairs])
        d = pairs[0][1] if len(pairs) == 1 else np.concatenate([p[1] for p in pairs])
        self.tile.set_learning_rate(learning_rate)
        self.tile.update(x, d)

    def get_weights(self):
        """``(weight, bias)`` as tensors (bias None without one); conv weights are 4-d."""
        w = torch.from_numpy(self.tile.get_weights())
        bias = self.bias.detach().clone() if self.bias is not None else (
            w[:, -1].clone() if self.use_bias else None)
        w = w[:, : w.shape[1] - int(self.tile.bias)].reshape(self._weight_shape).clone()
        return w, bias

    def set_weights(self, weight, bias=None):
        """Set the weights from ``weight`` (the layer's torch shape) and ``bias`` (out_size)."""
        weight = torch.as_tensor(weight)
        if tuple(weight.shape) != tuple(self._weight_shape):
            raise ValueError(f"weight must have shape {tuple(self._weight_shape)}, got "
                             f"{tuple(weight.shape)}.")
        if self.use_bias and bias is None:
            raise ValueError("bias must be given: the layer has a bias.")
        if not self.use_bias and bias is not None:
            raise ValueError("bias must be None: the layer has no bias.")
        if bias is not None:
            bias = torch.as_tensor(bias)
            if tuple(bias.shape) != (self.tile.out_size,):
                raise ValueError(f"bias must have shape ({self.tile.out_size},), got "
                                 f"{tuple(bias.shape)}.")
        w = to_array(_host_float(weight.reshape(self.tile.out_size, -1)))
        if self.tile.bias:
            w = np.concatenate([w, to_array(_host_float(bias.reshape(-1, 1)))], axis=1)
        self.tile.set_weights(w)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.copy_(bias.reshape(-1))

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + STATE_KEY] = torch.from_numpy(
            np.frombuffer(to_bytes(self.tile), dtype=np.uint8).copy())

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + STATE_KEY
        if key in state_dict:
            try:
                tile = from_bytes(state_dict[key].detach().cpu().numpy())
            except (TileFileError, TypeError) as exc:
                error_msgs.append(f"{key}: {exc}")
            else:
                old = self.tile
                if (type(tile), tile.out_size, tile.in_size, tile.bias) != (
                        type(old), old.out_size, old.in_size, old.bias):
                    error_msgs.append(f"{key}: holds a {tile.get_brief_info()}, the layer needs "
                                      f"a {type(old).__name__} of the same sizes and bias as "
                                      f"{old.get_brief_info()}.")
                else:
                    self.tile, self._pairs = tile, []
        elif strict:
            missing_keys.append(key)
        rest = {k: v for k, v in state_dict.items() if k != key}
        super()._load_from_state_dict(rest, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def __deepcopy__(self, memo):
        # Tiles hold their backend (a module), which deepcopy cannot copy: copy the tile through
        # its saved state instead; the copy continues the same random stream.
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            new.__dict__[name] = (from_bytes(to_bytes(value)) if name == "tile" else
                                  [] if name == "_pairs" else copy.deepcopy(value, memo))
        new.analog_ctx.analog_layer = new
        return new

    def extra_repr(self):
        return self.tile.get_brief_info()


class AnalogLinear(_AnalogLayer):
    """``nn.Linear`` on an rpu tile: ``y = W x + b`` through the tile's analog forward.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        With ``rpu_config.mapping.digital_bias`` (the default) a digital bias, as in aihwkit:
        a torch parameter ``bias`` (SGD step) beside an AnalogTile or FloatingPointTile, the
        tile's own with InferenceTile and TileArray; otherwise an analog weight column.
    rpu_config : rpu config, optional
        SingleRPUConfig() when None (aihwkit's default); InferenceRPUConfig gives inference
        tiles (``is_test = not module.training``), FloatingPointRPUConfig exact ones.
    seed : int or None
        The tile's seed (also of the initial weights, drawn as nn.Linear draws them).
    dtype : torch.float32 (default) or torch.float64
        The tile's dtype; outputs have it.
    """

    def __init__(self, in_features, out_features, bias=True, rpu_config=None, *, seed=None,
                 dtype=torch.float32):
        super().__init__()
        _int_pair("in_features", in_features, 1, single=True)
        _int_pair("out_features", out_features, 1, single=True)
        self.in_features, self.out_features, self.use_bias = in_features, out_features, bool(bias)
        self._weight_shape = (out_features, in_features)
        self._setup(out_features, in_features, self.use_bias, rpu_config, dtype, seed)

    @classmethod
    def from_digital(cls, module, rpu_config=None, *, seed=None):
        """An AnalogLinear with the weights and bias of ``module`` (an nn.Linear; a float64
        module gives a float64 tile)."""
        layer = cls(module.in_features, module.out_features, module.bias is not None, rpu_config,
                    seed=seed, dtype=_tile_dtype(module))
        layer.set_weights(module.weight, module.bias)
        return layer

    def forward(self, x):
        """``x`` (..., in_features) -> (..., out_features) through the tile's forward, plus the
        digital bias where the layer has one; records ``x`` for the optimizer's update."""
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (..., {self.in_features}), got {tuple(x.shape)}.")
        y = self._run(x.reshape(-1, self.in_features))
        return y.reshape(*x.shape[:-1], self.out_features)


class AnalogConv2d(_AnalogLayer):
    """``nn.Conv2d`` (groups=1, zero padding) on an rpu tile of shape (out, in * kh * kw).

    The input is unfolded into patches (``torch.nn.functional.unfold``); every patch is one row
    for the tile's forward, backward and update. Parameters as nn.Conv2d's and in aihwkit's order
    (``padding_mode`` only ``"zeros"``), plus ``rpu_config``, ``seed`` and ``dtype`` as in
    :class:`AnalogLinear`. ``padding`` may be ``"valid"`` or
    ``"same"`` (stride 1; an odd total pads the extra zero after), as in nn.Conv2d; aihwkit
    1.1.0's AnalogConv2d takes numbers only.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", rpu_config=None, *, seed=None,
                 dtype=torch.float32):
        super().__init__()
        if groups != 1:
            raise ValueError(f"groups must be 1 for an AnalogConv2d, got {groups}.")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode must be 'zeros' for an AnalogConv2d (as in aihwkit), "
                             f"got {padding_mode!r}.")
        _int_pair("in_channels", in_channels, 1, single=True)
        _int_pair("out_channels", out_channels, 1, single=True)
        self.in_channels, self.out_channels, self.use_bias = in_channels, out_channels, bool(bias)
        self.kernel_size = _int_pair("kernel_size", kernel_size, 1)
        self.stride = _int_pair("stride", stride, 1)
        self.dilation = _int_pair("dilation", dilation, 1)
        self.padding, self._same_pad = _conv_padding(padding, self.kernel_size, self.stride,
                                                     self.dilation)
        self._weight_shape = (out_channels, in_channels) + self.kernel_size
        n_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self._setup(out_channels, n_in, self.use_bias, rpu_config, dtype, seed)

    @classmethod
    def from_digital(cls, module, rpu_config=None, *, seed=None):
        """An AnalogConv2d with the weights and bias of ``module`` (an nn.Conv2d)."""
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                    module.padding, module.dilation, module.groups, module.bias is not None,
                    module.padding_mode, rpu_config, seed=seed, dtype=_tile_dtype(module))
        layer.set_weights(module.weight, module.bias)
        return layer

    def forward(self, x):
        """``x`` (N, in_channels, H, W) or (in_channels, H, W) -> (N, out_channels, H', W'):
        the unfolded patches through the tile's forward, one input vector per patch."""
        if x.dim() not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        batched = x.unsqueeze(0) if x.dim() == 3 else x
        padding = self.padding
        if self._same_pad is not None:
            # "same" may pad one side more than the other, which unfold cannot: pad first
            batched, padding = F.pad(batched, self._same_pad), (0, 0)
        size = [(batched.shape[k + 2] + 2 * padding[k] - self.dilation[k] *
                 (self.kernel_size[k] - 1) - 1) // self.stride[k] + 1 for k in (0, 1)]
        if min(size) < 1:
            raise ValueError(f"x of spatial size {tuple(x.shape[-2:])} is smaller than the "
                             f"kernel: kernel_size {self.kernel_size}, dilation {self.dilation} "
                             f"and padding {self.padding} leave an output of size {tuple(size)}.")
        cols = F.unfold(batched, self.kernel_size, self.dilation, padding, self.stride)
        y = self._run(cols.transpose(1, 2).reshape(-1, cols.shape[1]))
        y = y.reshape(batched.shape[0], -1, self.out_channels).transpose(1, 2)
        y = y.reshape(batched.shape[0], self.out_channels, *size)
        return y[0] if x.dim() == 3 else y


def _int_pair(name, value, least, single=False):
    """``value`` (an int or a pair of ints, each >= ``least``; only an int if ``single``) as a
    pair, as nn.Conv2d takes its geometry: anything else is refused with the layer's own
    parameter name at construction, not by the tile or at the first forward."""
    pair = (value, value) if not isinstance(value, (tuple, list)) or single else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= least for v in pair):
        what = f"an int >= {least}" + ("" if single else " or a pair of them")
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return tuple(int(v) for v in pair)


def _conv_padding(padding, kernel_size, stride, dilation):
    """``(padding, same_pad)``: the padding pair (or ``"same"``) and, for ``"same"``, the
    (left, right, top, bottom) zeros that F.pad adds, the larger half after, as nn.Conv2d."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), None
        if padding != "same":
            raise ValueError(f"padding must be 'valid', 'same', an int >= 0 or a pair of them, "
                             f"got {padding!r}.")
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1 (as in nn.Conv2d), got stride "
                             f"{stride}.")
        total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
        pad = (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2)
        return "same", pad
    return _int_pair("padding", padding, 0), None


def _analog_layers(model):
    return [m for m in model.modules() if isinstance(m, _AnalogLayer)]


def _inference_layers(model):
    layers = _analog_layers(model)
    for layer in layers:
        if not isinstance(layer.tile.rpu_config, InferenceRPUConfig):
            raise TypeError(f"programming and drift need InferenceRPUConfig layers, but "
                            f"{layer.tile.get_brief_info()} has a "
                            f"{type(layer.tile.rpu_config).__name__}.")
    return layers


def program_analog_weights(model, noise_model=None):
    """Program every analog layer of ``model`` (inference tiles) with programming noise."""
    kwargs = {} if noise_model is None else {"noise_model": noise_model}
    for layer in _inference_layers(model):
        layer.tile.program_weights(**kwargs)


def drift_analog_weights(model, t_inference=0.0):
    """Drift every analog layer's programmed weights to ``t_inference`` seconds."""
    for layer in _inference_layers(model):
        layer.tile.drift_weights(t_inference)


class AnalogSequential(nn.Sequential):
    """nn.Sequential with aihwkit's whole-model ``program_analog_weights`` and
    ``drift_analog_weights`` methods."""

    def program_analog_weights(self, noise_model=None):
        """:func:`program_analog_weights` on this model."""
        program_analog_weights(self, noise_model)

    def drift_analog_weights(self, t_inference=0.0):
        """:func:`drift_analog_weights` on this model (``t_inference`` in seconds)."""
        drift_analog_weights(self, t_inference)


def convert_to_analog(model, rpu_config=None, *, seed=None, inplace=False):
    """Replace every nn.Linear and nn.Conv2d of ``model`` by its analog layer (same weights).

    Layer k (in ``model.modules()`` order) gets a seed derived from ``seed`` and k (None: every
    layer draws its own). The model is deep-copied first unless ``inplace``.
    """
    def analog(k, child):
        layer_seed = None if seed is None else int(
            np.random.SeedSequence([int(seed), k]).generate_state(1, np.uint64)[0])
        cls = AnalogLinear if isinstance(child, nn.Linear) else AnalogConv2d
        return cls.from_digital(child, rpu_config, seed=layer_seed)

    if type(model) in (nn.Linear, nn.Conv2d):
        return analog(0, model)
    model = model if inplace else copy.deepcopy(model)
    targets = [(parent, name, child) for parent in model.modules()
               for name, child in parent.named_children()
               if type(child) in (nn.Linear, nn.Conv2d)]
    for k, (parent, name, child) in enumerate(targets):
        setattr(parent, name, analog(k, child))
    return model


class AnalogSGD(torch.optim.SGD):
    """SGD whose step also makes the pulsed update of every analog layer among its parameters.

    Digital parameters take torch's SGD step; for each analog layer the step calls
    ``tile.update(x, d)`` with the pairs recorded since the last step or ``zero_grad`` (the
    layer's accumulated "gradient"; learning rate: the group's ``lr``), then every analog
    layer's ``tile.post_update_step()``.
    """

    def regroup_param_groups(self, *_):
        """Kept for scripts ported from aihwkit; rpu's groups need no regrouping."""

    def _analog_layers(self):
        return [(group, p.analog_layer) for group in self.param_groups for p in group["params"]
                if getattr(p, "analog_layer", None) is not None]

    def zero_grad(self, set_to_none=True):
        """Clear the gradients and the analog layers' recorded (x, d) pairs."""
        super().zero_grad(set_to_none)
        for _, layer in self._analog_layers():
            layer._pairs = []

    @torch.no_grad()
    def step(self, closure=None):
        """SGD on the digital parameters, then each analog layer's ``tile.update(x, d)`` with
        its group's learning rate and ``post_update_step()``, as aihwkit's AnalogSGD."""
        loss = super().step(closure)
        layers = self._analog_layers()
        for group, layer in layers:
            layer.apply_update(group["lr"])
        for _, layer in layers:
            layer.tile.post_update_step()
        return loss
