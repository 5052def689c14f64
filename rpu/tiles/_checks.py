"""Argument checks at the tile boundary: one place, clear messages, nothing checked twice.

Every public tile method funnels its array arguments through here before any state changes, so a
call that fails leaves the tile as it was.

NaN and Inf policy (tested in tests/test_nan_policy.py and tests/test_bad_input.py):

* Array arguments (``x`` and ``d`` of forward, backward and update; ``weights``; hidden and
  periphery parameters; scales) that hold a NaN or an Inf anywhere raise ``ValueError`` whose
  message starts with the argument's name; so do finite float64 inputs that overflow the tile's
  float32. Nothing is changed and no random number is consumed. Non-finite inputs are never
  silently cleaned: a NaN upstream is a bug the user should see.
* Scalar arguments (learning rate, times, bounds, probabilities) must be finite numbers.
* The weights of a pulsed tile stay finite and inside the device bounds for any finite inputs
  and learning rate, since each pulse moves a weight by a bounded step. An exact
  (floating-point) step ``W - lr d^T x`` that would overflow the dtype raises ``ValueError``
  and leaves the weights as they were (a TileArray restores all its tiles); with
  ``NONE_WITH_DEVICE`` (the step clipped to the device bounds) so does an infinite ``lr d``.
  So does an update whose digital state would overflow: a mixed-precision accumulator ``chi``,
  a transfer compound's buffer (its reads' scale), an InferenceTile's learned output scales,
  input range and digital bias.
* A NaN in a configuration value raises :class:`rpu.ConfigError` naming the field, both at
  construction and when a tile validates its copy of a config that was mutated later.
"""
import math
import numbers

import numpy as np

from rpu.backends import as_backend_array

DTYPES = (np.float32, np.float64)
MAX_SIZE = 2**31 - 1  # a tile dimension: BLAS indexes with 32-bit integers


def check_dtype(dtype):
    """Return the NumPy dtype for a tile ``dtype`` argument (float32 or float64 only)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}.") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt.name}.")
    return dt


def check_size(value, name):
    """A positive integer size argument, within the 32-bit index range of BLAS."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if value > MAX_SIZE:
        raise ValueError(f"{name} must be at most {MAX_SIZE} (the index range of the BLAS "
                         f"products), got {value!r}.")
    return int(value)


def check_finite_number(value, name):
    """A finite real scalar, as a float (an integer past the float range is not finite)."""
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real):
        try:
            as_float = float(value)
        except OverflowError:
            as_float = math.inf
        if math.isfinite(as_float):
            return as_float
    raise ValueError(f"{name} must be a finite number, got {value!r}.")


def check_learning_rate(value):
    """A learning rate: a finite number >= 0, as a float."""
    lr = check_finite_number(value, "learning_rate")
    if lr < 0:
        raise ValueError(f"learning_rate must be >= 0, got {lr}.")
    return lr


def _all_finite(a, xp):
    return bool(xp.isfinite(a).all())


def as_batch(a, name, size, feature_first, dtype, xp=np):
    """Return ``(rows, lead_shape)``: ``a`` as a C-contiguous (n, size) array of ``dtype``.

    Parameters
    ----------
    a : array_like of shape (..., size), or (size, ...) when ``feature_first``
    name : str
        The argument name used in error messages.
    size : int
        The required length of the feature axis.
    feature_first : bool
        The tile's ``in_trans`` / ``out_trans`` flag for this argument.
    dtype : numpy dtype
        The tile's dtype; floating inputs of another precision are converted.
    xp : module
        The array module of the tile's backend (numpy, or cupy on the GPU: host arrays are
        then copied to the device, device arrays used as they are).
    """
    a = as_backend_array(a, name, xp, "an array of floats")
    if a.dtype.kind not in "fiu" or a.dtype.kind in "b":
        raise TypeError(f"{name} must be a real floating-point array, got dtype {a.dtype}.")
    if a.dtype.kind in "iu":
        raise TypeError(f"{name} must be a floating-point array (float32 or float64), got dtype "
                        f"{a.dtype}; convert it with {name}.astype(numpy.float32).")
    if a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension of length {size}, got a scalar.")
    axis = 0 if feature_first else a.ndim - 1
    where = "first" if feature_first else "last"
    if a.shape[axis] != size:
        raise ValueError(f"{name} must have shape {'(' + str(size) + ', ...)' if feature_first else '(..., ' + str(size) + ')'}"
                         f": its {where} dimension must be {size}, got shape {a.shape}.")
    if feature_first:
        a = xp.moveaxis(a, 0, -1)
    lead_shape = a.shape[:-1]
    rows = a.reshape(-1, size)
    if not _all_finite(rows, xp):
        raise ValueError(f"{name} contains NaN or Inf; analog tiles need finite inputs.")
    if rows.dtype != dtype:
        with np.errstate(over="ignore"):
            rows = rows.astype(dtype)
        if not _all_finite(rows, xp):
            raise ValueError(f"{name} has values beyond the range of the tile's dtype "
                             f"{np.dtype(dtype).name}; scale the input or use a float64 tile.")
    return xp.ascontiguousarray(rows), lead_shape


def from_batch(rows, lead_shape, feature_first, xp=np):
    """Inverse of ``as_batch`` for an output: (n, size) -> (..., size) or (size, ...)."""
    out = rows.reshape(lead_shape + (rows.shape[1],))
    if feature_first:
        out = xp.ascontiguousarray(xp.moveaxis(out, -1, 0))
    return out


def as_weights(w, name, shape, dtype, layout="", xp=np):
    """A finite (d_size, x_size) weight matrix as a new C-contiguous array of ``dtype``.

    ``layout`` is appended to the shape in error messages, e.g. "(out_size, in_size + 1)";
    ``xp`` is the tile backend's array module (see ``as_batch``).
    """
    w = as_backend_array(w, name, xp, "a numeric array")
    if w.dtype.kind not in "fiu" or w.dtype.kind == "b":
        raise TypeError(f"{name} must be a real numeric array, got dtype {w.dtype}.")
    if w.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} {layout}, got {w.shape}.".replace("  ", " "))
    if not _all_finite(w, xp):
        raise ValueError(f"{name} contains NaN or Inf.")
    # a finite float64 value past float32's range becomes Inf in the cast: say so, not "NaN"
    with np.errstate(over="ignore"):
        w = xp.array(w, dtype=dtype, order="C", copy=True)
    if not _all_finite(w, xp):
        raise ValueError(f"{name} has values beyond the range of the tile's dtype "
                         f"{np.dtype(dtype).name}; scale the weights or use a float64 tile.")
    return w


# ----- memory ----------------------------------------------------------------------------------

# Below this estimate the check is skipped: reading /proc/meminfo costs more than it can save.
SMALL_BYTES = 64 << 20


def available_memory_bytes():
    """Bytes this process can still allocate without swapping (None when unknown).

    ``MemAvailable`` of ``/proc/meminfo`` on Linux (free memory plus reclaimable caches), else
    free physical pages from ``os.sysconf``.
    """
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(what, shape, dtype, n_arrays, available=None,
                 contents="weights, hidden parameters and buffers",
                 advice="use a smaller tile (or a TileArray on a machine with more memory)"):
    """Refuse up front a tile whose ``n_arrays`` arrays of ``shape`` would not fit in memory.

    Parameters
    ----------
    what : str
        The tile, as named in the message (e.g. "AnalogTile(100000, 100000)").
    shape : tuple of int
        The shape of one weight-sized array, (d_size, x_size).
    dtype : numpy dtype
    n_arrays : int
        How many such arrays the tile keeps (weights, hidden parameters, buffers): a lower
        bound, so the check never refuses a tile that fits.
    available : int, optional
        Bytes available; read from the system when not given.
    contents, advice : str
        What the arrays hold and what to do instead, for the message (a tile's by default).

    Raises
    ------
    rpu.errors.TileMemoryError
        The estimate exceeds the available memory. ``RPU_SKIP_MEMORY_CHECK=1`` skips the check.
    """
    import os

    from rpu.errors import TileMemoryError

    need = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize * int(n_arrays)
    if need < SMALL_BYTES or os.environ.get("RPU_SKIP_MEMORY_CHECK", "") not in ("", "0"):
        return need
    if available is None:
        available = available_memory_bytes()
    if available is not None and need > available:
        gib = 1 << 30
        raise TileMemoryError(
            f"{what} needs about {need / gib:.1f} GiB ({n_arrays} array(s) of shape {tuple(shape)} "
            f"in {np.dtype(dtype).name}: {contents}), but only {available / gib:.1f} GiB of "
            f"memory is available; {advice}. Set RPU_SKIP_MEMORY_CHECK=1 to skip this check.")
    return need


def refuse_module_periphery(rpu_config, tile_name):
    """Refuse the periphery settings of aihwkit's torch tile modules on a tile without them.

    aihwkit applies weight scaling, learned output scales, the input range and periphery
    quantisation in its torch tile modules (TileWithPeriphery), for analog and floating-point
    tiles alike; rpu has them in InferenceTile only. AnalogTile (aihwkit's bare C++ tile) and
    FloatingPointTile would ignore them, so they are refused rather than dropped silently.
    """
    from rpu.errors import ConfigError

    mapping, pre_post = getattr(rpu_config, "mapping", None), getattr(rpu_config, "pre_post", None)
    found = []
    if mapping is not None and mapping.weight_scaling_omega > 0:
        found.append(f"mapping.weight_scaling_omega = {mapping.weight_scaling_omega!r}")
    if mapping is not None and mapping.learn_out_scaling:
        found.append("mapping.learn_out_scaling = True")
    if pre_post is not None and pre_post.input_range.enable:
        found.append("pre_post.input_range.enable = True")
    quant = getattr(pre_post, "periph_quant", None)
    if quant is not None and quant.n_bits > 0:
        found.append(f"pre_post.periph_quant.n_bits = {quant.n_bits!r}")
    if found:
        raise ConfigError(
            f"{type(rpu_config).__name__}.{found[0]} is not supported by {tile_name}: weight "
            "scaling, learned output scales, the input range and periphery quantisation are the "
            "digital periphery of aihwkit's torch tile modules, which rpu implements in "
            "InferenceTile only; leave them at their defaults here")
