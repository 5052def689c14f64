"""The CuPy GPU backend of rpu (CuPy RawModule compiled from rpu/_kernels/ at first use).

Importing this package never imports CuPy. ``is_available()`` tries once.
"""
import functools


@functools.lru_cache(maxsize=None)
def is_available():
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return bool(cupy.cuda.is_available())
    except Exception:  # ImportError, or a CUDA driver/runtime failure inside CuPy
        return False
