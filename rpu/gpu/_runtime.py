"""Where the GPU backend's kernels run: a CuPy RawModule on a CUDA device.

The GPU backend (``rpu.gpu.mvm``, ``rpu.gpu.update``, ``rpu.gpu.backend``) never imports CuPy
itself. It talks to a *kernel runtime*, an object with

``xp``
    the array module the backend's arrays live in (``cupy``);
``kernel(name, dtype)``
    the launcher of kernel ``name`` instantiated for ``dtype`` (float32 or float64), called as
    ``launch(grid, block, args, shared_mem=0)`` like CuPy's ``RawKernel``: ``grid`` and
    ``block`` are tuples of ints, ``args`` a tuple of arrays of ``xp`` (device pointers),
    ``None`` (a null pointer) and NumPy scalars whose dtype is exactly the kernel parameter's
    C type (``numpy.int32`` for ``int``, ``numpy.int64`` for ``long long``, ``numpy.uint64``
    for ``rpu_uint64``, ``numpy.uint32`` for ``unsigned int``, the tile dtype for ``T``);
``name``
    a short description for messages and ``get_brief_info``.

:func:`cuda_runtime` gives the CuPy runtime of the current device. The test suite has a second
runtime with the same interface that compiles the same source for the host and runs the kernels
on the CPU with NumPy arrays (``tests/cuda_host.py``), so the backend's Python layer and the
kernels' logic are checked on machines without a GPU.
"""
import functools

import numpy as np

from rpu.gpu import _source

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# Threads per block of the kernels that give one thread one element.
ELEMENT_BLOCK = 256


def element_grid(n):
    """The 1-d grid that covers ``n`` elements with ELEMENT_BLOCK threads each (at least 1)."""
    return (max((int(n) + ELEMENT_BLOCK - 1) // ELEMENT_BLOCK, 1),)

INSTALL_HINT = (
    "Install CuPy for your CUDA version with rpu's gpu extra, e.g. `pip install rpu[gpu]` "
    "(CUDA 12: cupy-cuda12x; for another CUDA version install the matching cupy-cudaXXx "
    "package instead), and make sure `python -c \"import cupy; cupy.cuda.runtime.getDeviceCount()\"` "
    "sees a device."
)


class CupyRuntime:
    """The RawModule of ``rpu.gpu._source`` on one CUDA device, compiled at first use.

    CuPy caches the compiled module on disk by source text, options and architecture, so a new
    process reuses it; within a process this object keeps the loaded module.
    """

    def __init__(self, cupy, device_id):
        self.xp = cupy
        self.device_id = int(device_id)
        with cupy.cuda.Device(self.device_id):
            props = cupy.cuda.runtime.getDeviceProperties(self.device_id)
        name = props["name"]
        self.name = f"cuda:{self.device_id} ({name.decode() if isinstance(name, bytes) else name})"
        self._module = None

    def _get_module(self):
        if self._module is None:
            self._module = self.xp.RawModule(code=_source.module_source(),
                                             options=_source.OPTIONS,
                                             name_expressions=_source.name_expressions())
        return self._module

    @functools.lru_cache(maxsize=None)
    def kernel(self, name, dtype):
        """The launcher of ``name<float|double>`` (see the module docstring)."""
        ctype = _CTYPES[np.dtype(dtype)]
        return self._get_module().get_function(f"{name}<{ctype}>")


@functools.lru_cache(maxsize=None)
def cuda_runtime(device_id=None):
    """The CuPy runtime of ``device_id`` (default: CuPy's current device).

    The backend's arrays and launches use CuPy's current device, so ``device_id`` must be the
    device that is current while the tile runs (``cupy.cuda.Device(n).use()``).

    Raises
    ------
    RuntimeError
        When CuPy is missing or sees no CUDA device; the message says how to install it.
    """
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(f"backend='cuda' needs CuPy, which is not installed ({exc}). "
                           + INSTALL_HINT) from exc
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver or runtime missing: CuPy raises its own error types
        raise RuntimeError(f"backend='cuda' found CuPy but no usable CUDA device ({exc}). "
                           + INSTALL_HINT) from exc
    if n_devices < 1:
        raise RuntimeError("backend='cuda' found CuPy but no CUDA device. " + INSTALL_HINT)
    if device_id is None:
        device_id = cupy.cuda.Device().id
    return CupyRuntime(cupy, device_id)
