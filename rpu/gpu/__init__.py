"""The CuPy GPU backend of rpu: the kernels of rpu/_kernels/ in a CuPy RawModule.

``AnalogTile(..., backend="cuda")`` (or ``"auto"`` on a machine with a GPU) runs a tile here;
``tile.to("cuda")`` / ``tile.to("cpu")`` move one with its whole state. Importing this package
never imports CuPy; ``is_available()`` tries once, and :class:`CudaBackend` /
:func:`cuda_runtime` load it when a tile asks for the GPU.
"""
import functools

from rpu.gpu.backend import CudaBackend
from rpu.gpu._runtime import INSTALL_HINT, cuda_runtime

__all__ = ["CudaBackend", "cuda_runtime", "is_available", "INSTALL_HINT"]


@functools.lru_cache(maxsize=None)
def is_available():
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return bool(cupy.cuda.is_available())
    except Exception:  # ImportError, or a CUDA driver/runtime failure inside CuPy
        return False
