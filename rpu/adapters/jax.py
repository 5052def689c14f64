"""JAX adapter: an rpu tile as a differentiable dense layer, usable under ``jax.jit``.

``analog_dense(tile)`` returns a ``jax.custom_vjp`` function whose forward is the tile's forward
and whose backward is the tile's backward, both run through ``jax.pure_callback`` (so they work
inside jitted code; the tile stays a NumPy object on the host). The pulsed update is explicit,
since it changes the tile: ``apply_update(tile, x, d, learning_rate)`` with the layer inputs
``x`` and the loss gradient ``d`` at the layer output. JAX returns that gradient as the gradient
of a zero ``probe`` added to the output::

    l1, l2 = analog_dense(tile1), analog_dense(tile2)

    def loss_fn(probes, x, labels):
        h = jax.nn.sigmoid(l1(x, probes[0]))
        logits = l2(h, probes[1])
        return cross_entropy(logits, labels), h

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    (loss, h), (d1, d2) = step(zero_probes, x, labels)
    apply_update(tile1, x, d1, 0.1); apply_update(tile2, h, d2, 0.1)

Notes
-----
``pure_callback`` declares the tile calls pure, but an analog tile draws fresh noise on every
call: JAX may drop a call whose result is unused (the input gradient of the first layer, so
its backward does not run) and never caches results. An InferenceTile's periphery gradients
(digital bias, learned scales, input range) come from its backward, so they reach
``apply_update`` only when that backward ran; use the PyTorch adapter to train them.
"""
import jax
import jax.numpy as jnp
import numpy as np

from rpu.config import InferenceRPUConfig
from rpu.tiles._periphery import layer_masks_outputs, output_bound_mask

__all__ = ["analog_dense", "apply_update"]


def analog_dense(tile, *, is_test=False):
    """A JAX function ``dense(x, probe=None)`` computing ``tile.forward(x) + probe``.

    Parameters
    ----------
    tile : rpu.AnalogTile, InferenceTile, FloatingPointTile or TileArray
        Used by reference: later updates of the tile change what ``dense`` computes.
    is_test : bool
        Passed to the forward of inference tiles (evaluation mode: drift compensation, no
        training modifier).

    Returns
    -------
    callable
        ``dense(x, probe=None)``: ``x`` of shape (..., in_size) -> (..., out_size) in the tile's
        dtype. ``probe`` (zeros of the output's shape) lets ``jax.grad`` return ``d`` for
        :func:`apply_update`. The gradient with respect to ``x`` is ``tile.backward(d)``, with
        ``d`` zeroed where an AnalogTile's output reached its output bound, as aihwkit's
        AnalogTile module and the torch adapter do (``apply_update`` takes ``d`` unmasked).
    """
    _check_tile(tile)
    if getattr(tile, "backend_name", "cpu") != "cpu":
        # the host callbacks exchange NumPy arrays with the tile
        raise ValueError(f"analog_dense needs a tile on the CPU backend, got one on "
                         f"{tile.backend_name!r}; move it with tile.to('cpu').")
    kwargs = {"is_test": bool(is_test)} if isinstance(tile.rpu_config, InferenceRPUConfig) else {}
    dtype = np.dtype(tile.dtype)
    # the mask aihwkit's AnalogTile module keeps, where the tile does not keep its own
    masks_outputs = layer_masks_outputs(type(tile)) and tile.rpu_config.forward.out_bound > 0

    def _call(method, shape, arg, out_dtype):
        # The tile takes any leading shape, so a vmapped batch axis simply stays in front.
        def host(a):
            return np.asarray(method(np.asarray(a)), dtype=out_dtype)
        return jax.pure_callback(host, jax.ShapeDtypeStruct(shape, out_dtype), arg,
                                 vmap_method="expand_dims")

    @jax.custom_vjp
    def core(x):
        return _call(lambda a: tile.forward(a, **kwargs), x.shape[:-1] + (tile.out_size,), x, dtype)

    def core_fwd(x):
        # The residual: the output-bound mask where the layer keeps it, and an empty array for
        # the input's dtype (the tile keeps what else it needs).
        y = core(x)
        mask = output_bound_mask(tile.rpu_config.forward, y, jnp) if masks_outputs else None
        return y, (mask, jnp.zeros((0,), x.dtype))

    def core_bwd(res, g):
        mask, like = res
        g_in = g if mask is None else jnp.where(mask, jnp.zeros((), g.dtype), g)
        return (_call(tile.backward, g.shape[:-1] + (tile.in_size,), g_in, like.dtype),)

    core.defvjp(core_fwd, core_bwd)

    def dense(x, probe=None):
        x = _floating(jnp.asarray(x), "x")
        if x.ndim == 0 or x.shape[-1] != tile.in_size:
            raise ValueError(f"x must have shape (..., {tile.in_size}), got {x.shape}.")
        if not isinstance(x, jax.core.Tracer) and not bool(jnp.isfinite(x).all()):
            # (eagerly, before the host call: under jit the tile's own check raises there, and
            # JAX reports it inside an XlaRuntimeError)
            raise ValueError("x contains NaN or Inf; analog tiles need finite inputs.")
        y = core(x)
        if probe is None:
            return y
        if jnp.shape(probe) != y.shape:
            raise ValueError(f"probe must have the output's shape {y.shape}, got {jnp.shape(probe)}.")
        return y + probe

    return dense


def apply_update(tile, x, d, learning_rate):
    """The tile's pulsed update ``W <- W - lr d^T x`` (outside jit: it changes the tile).

    Parameters
    ----------
    tile : an rpu tile
    x : array of shape (..., in_size)
        The layer inputs of the batch (JAX or NumPy; JAX CPU arrays are read without a copy).
    d : array of shape (..., out_size)
        The loss gradient at the layer output, e.g. the gradient of the ``probe``.
    learning_rate : float
        Set on the tile before the update.
    """
    _check_tile(tile)
    x, d = _host(x, "x"), _host(d, "d")
    tile.set_learning_rate(learning_rate)
    tile.update(x, d)


def _check_tile(tile):
    from rpu.tiles import TILE_CLASSES

    if not isinstance(tile, tuple(TILE_CLASSES.values())):
        raise TypeError(f"tile must be an rpu tile ({', '.join(TILE_CLASSES)}), got "
                        f"{type(tile).__name__}.")


def _floating(a, name):
    """``a`` with a floating dtype the tiles take: bfloat16 (which NumPy cannot hold) widened to
    float32, exactly; integers and complex numbers refused while tracing, not in the host call."""
    if a.dtype == jnp.bfloat16:
        return a.astype(jnp.float32)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {a.dtype}.")
    return a


def _host(a, name):
    if isinstance(a, jax.core.Tracer):
        raise TypeError(f"apply_update changes the tile on the host: call it outside jax.jit and "
                        f"jax.grad, with concrete arrays ({name} is a traced value).")
    if isinstance(a, jax.Array):
        a = _floating(a, name)
        if any(dev.platform != "cpu" for dev in a.devices()):
            raise TypeError(f"{name} lives on {a.devices()}, but rpu's tiles run on the CPU; "
                            f"move it with jax.device_get({name}).")
        return np.from_dlpack(a)
    return a
