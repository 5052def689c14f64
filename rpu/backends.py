"""Backend selection: resolve ``backend="auto" | "cpu" | "cuda"`` once, when a tile is made.

A backend is an object with the core's entry points (``analog_mvm``, ``gemm_rows``,
``uniform_fill``, ``normal_fill``); the tile binds it in ``__init__`` and never branches on it again.
"""
import os

from rpu import _core

BACKENDS = ("auto", "cpu", "cuda")


def gpu_available():
    """Whether a CUDA GPU with CuPy can be used (never imports CuPy when RPU_DISABLE_GPU=1)."""
    if os.environ.get("RPU_DISABLE_GPU", "") not in ("", "0"):
        return False
    from rpu import gpu
    return gpu.is_available()


def resolve_backend(name):
    """Return ``(name, backend)`` for a backend request.

    ``"auto"`` picks the CPU core: the CuPy backend of rpu is not built yet, so there is nothing
    else to pick. An explicit ``"cuda"`` raises rather than quietly running on the CPU.
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {name!r}.")
    if name == "cuda":
        raise RuntimeError(
            "backend='cuda' is not available in this version of rpu: the CuPy GPU backend is not "
            "implemented yet. Use backend='cpu' (or 'auto')."
        )
    return "cpu", _core
