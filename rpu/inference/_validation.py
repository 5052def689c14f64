"""Input checks shared by rpu.inference (the Python boundary: kernels check nothing again)."""
import math
import numbers

import numpy as np

from rpu import _threads
from rpu.backends import CALL_ON_CPU, as_backend_array

_UINT64_MAX = (1 << 64) - 1


def as_matrix(name, value, dtype=None, xp=np):
    """``value`` as a C-contiguous 2-D float32/float64 array of ``xp`` with finite entries.

    Float arrays keep their dtype (float16 becomes float32); other real numbers become float32,
    rpu's default, unless ``dtype`` is given. With a GPU array module, device arrays stay on the
    device and host data is copied there.
    """
    arr = as_backend_array(value, name, xp, "an array of real numbers", CALL_ON_CPU)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (out_size, in_size), got an "
                         f"array of shape {arr.shape}.")
    if dtype is None:
        if arr.dtype in (np.float32, np.float64):
            dtype = arr.dtype
        elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) \
                or arr.dtype == np.bool_:
            dtype = np.float32
        else:
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    arr = xp.ascontiguousarray(arr, dtype=dtype)
    finite = xp.isfinite(arr)
    if not bool(finite.all()):
        bad = int(arr.size - int(xp.count_nonzero(finite)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or Inf entries.")
    return arr


def as_time(name, value):
    """A finite time in seconds >= 0, as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number of seconds >= 0, got {value!r}.")
    t = float(value)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {t!r}.")
    return t


def as_key_op(key, op):
    """The Philox key (64-bit) and operation counter (unsigned) as Python ints."""
    for name, value in (("key", key), ("op", op)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be a non-negative integer, got {value!r}.")
        if not 0 <= int(value) <= _UINT64_MAX:
            raise ValueError(f"{name} must be in [0, 2**64 - 1], got {int(value)}.")
    return int(key), int(op)


def n_threads_of(n_threads):
    return _threads.effective_n_threads(n_threads)
