"""Moving a tile's state between backends: every array it holds, wherever it is held.

A tile's state is spread over a few objects of ``rpu.tiles`` (the tile, its periphery, its
devices), in attributes, dicts and lists. ``move_state`` walks them and replaces each array by
its copy on the target backend, and each reference to the old backend by the new one, so that
construction (which draws on the CPU core) and ``tile.to`` need no list of what to move that
could fall out of date.
"""
import numpy as np

# Per-call scratch of the CPU core's update: dropped on a move, made anew when needed.
_SCRATCH = ("_workspace",)
# An object may name, in a class attribute ``_host_state``, attributes that hold host-side
# control state (NumPy on every backend: chopper signs, mixing coefficients): they stay put.


def _is_array(v):
    return isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__")


def _owned(v):
    # The objects whose attributes belong to the tile's state: rpu's tile-side classes.
    module = type(v).__module__
    return hasattr(v, "__dict__") and module.startswith(("rpu.tiles", "rpu.inference"))


def move_state(tile, source, target):
    """Replace, in place, every array reachable from ``tile`` by a copy on ``target``.

    ``source``/``target``: the CPU core (``rpu._core``) or a CudaBackend. Host to device uses
    the target's ``to_device``; device to host the source's ``to_host``.
    """
    if hasattr(target, "to_device"):
        convert = target.to_device
    else:
        convert = source.to_host
    seen = set()

    def value(v):
        if _is_array(v):
            return convert(v)
        if v is source:
            return target
        if isinstance(v, dict):
            for k in list(v):
                v[k] = value(v[k])
            return v
        if isinstance(v, list):
            v[:] = [value(e) for e in v]
            return v
        if isinstance(v, tuple):
            return tuple(value(e) for e in v)
        if _owned(v):
            walk(v)
        return v

    def walk(obj):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        host_state = getattr(type(obj), "_host_state", ())
        for name, v in list(vars(obj).items()):
            if name in host_state:
                continue
            if name in _SCRATCH:
                setattr(obj, name, {})
            else:
                setattr(obj, name, value(v))

    walk(tile)
