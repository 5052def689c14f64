"""Backend selection: resolve ``backend="auto" | "cpu" | "cuda"`` once, when a tile is made.

A backend is an object with the core's entry points (``analog_mvm``, ``pulsed_update``,
``gemm_rows``, ``uniform_fill``, ``normal_fill``, ...): the Cython module ``rpu._core`` on the
CPU, a :class:`rpu.gpu.backend.CudaBackend` on the GPU. The tile binds it in ``__init__`` and never
branches on it again, except for where its arrays live (``xp``: numpy or cupy).
"""
import os

import numpy as np

from rpu import _core

BACKENDS = ("auto", "cpu", "cuda")


def gpu_available():
    """Whether a CUDA GPU with CuPy can be used (never imports CuPy when RPU_DISABLE_GPU=1)."""
    if os.environ.get("RPU_DISABLE_GPU", "") not in ("", "0"):
        return False
    from rpu import gpu
    return gpu.is_available()


def array_module(backend):
    """The array module a backend's arrays live in (numpy for the CPU core)."""
    return getattr(backend, "xp", np)


def resolve_backend(name, gpu_unsupported=None):
    """Return ``(name, backend)`` for a backend request.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"} or CudaBackend
        ``"auto"`` is the GPU when CuPy sees a CUDA device (and ``RPU_DISABLE_GPU`` is not set)
        and the tile runs there, else the CPU. ``"cuda"`` is the GPU or an error that says how
        to install CuPy; it never runs on the CPU instead. A ``CudaBackend`` instance is used as
        it is (the tests pass one on the host emulation of the kernels).
    gpu_unsupported : str or None
        Why this tile cannot run on the GPU backend (None when it can): ``"auto"`` then picks
        the CPU, and ``"cuda"`` raises with this reason.
    """
    from rpu.gpu.backend import CudaBackend

    if isinstance(name, CudaBackend):
        backend = name
    elif not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))} or a "
                         f"rpu.gpu.CudaBackend, got {name!r}.")
    elif name == "cpu" or (name == "auto" and (gpu_unsupported or not gpu_available())):
        return "cpu", _core
    else:
        backend = None
    if gpu_unsupported:
        raise ValueError(f"backend='cuda': {gpu_unsupported} Use backend='cpu' (or 'auto', which "
                         f"picks the CPU for this tile).")
    if backend is None:
        backend = CudaBackend()  # raises RuntimeError with installation advice without a GPU
    return "cuda", backend


def backend_for(backend, *arrays):
    """The backend an array function (``rpu.inference``, the weight modifier, clipping and
    remapping) runs on, with its array module: ``(backend, xp)``.

    Parameters
    ----------
    backend : None, "cpu", "cuda", the CPU core or a CudaBackend
        Given by a tile (its own backend) or a caller; None follows the arrays: the default
        CUDA backend when any of ``arrays`` is a CuPy array, else the CPU core.
    arrays
        The function's array arguments (only inspected when ``backend`` is None).
    """
    if backend is None:
        if any(hasattr(a, "__cuda_array_interface__") for a in arrays):
            backend = "cuda"
        else:
            return _core, np
    from rpu.gpu.backend import CudaBackend

    if isinstance(backend, (str, CudaBackend)):
        backend = resolve_backend(backend)[1]
    elif backend is not _core:
        raise TypeError(f"backend must be None, 'cpu', 'cuda', rpu._core or a "
                        f"rpu.gpu.CudaBackend, got {backend!r}.")
    return backend, array_module(backend)


# What to tell a caller who hands a GPU array to something running on the CPU backend.
TILE_ON_CPU = "this tile runs on the CPU backend; pass a NumPy array or move the tile with tile.to('cuda')"
CALL_ON_CPU = ("this call runs on the CPU backend; pass backend='cuda' (or a rpu.gpu.CudaBackend), "
               "or a NumPy array")


def as_backend_array(a, name, xp, what, on_cpu=TILE_ON_CPU):
    """``a`` as an array of ``xp`` (numpy, or cupy for the GPU backend).

    Device arrays of a GPU backend stay where they are; anything else goes through NumPy first
    (and is then copied to the device). A GPU array given to the CPU backend raises TypeError
    with the advice ``on_cpu``; an object NumPy cannot convert raises TypeError naming ``name``
    and ``what`` it must be.
    """
    if xp is not np and isinstance(a, xp.ndarray):
        return a
    if not isinstance(a, np.ndarray):
        if hasattr(a, "__cuda_array_interface__"):
            raise TypeError(f"{name} is a GPU array, but {on_cpu}.")
        try:
            a = np.asarray(a)
        except Exception as exc:  # objects NumPy cannot convert
            raise TypeError(f"{name} must be {what}, got {type(a).__name__}.") from exc
    return a if xp is np else xp.asarray(a)
