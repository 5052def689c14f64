"""Weight modifiers for hardware-aware training (aihwkit 1.1.0's ``WeightModifierParameter``).

Spec: shared/spec/inference.md sections 0.2 and 2. An inference tile calls :func:`modify_weights`
in ``post_update_step`` (after clipping and remapping, see :mod:`rpu.tiles.post_update`) to build
the weights ``W_fwd = M(W)`` that its forward and backward passes use until the next mini-batch;
the update keeps acting on the clean ``W``. :func:`modifier_is_active` says whether that call is
needed at all.

The steps follow aihwkit's C++ CPU tile (RPUCuda ``WeightModifier::apply``), in this order:

1. ``amax = assumed_wmax``, unless ``rel_to_actual_wmax`` and the type is not ``COPY``/``NONE``:
   then ``amax = max|W|`` (without the last column if ``copy_last_column``), and 1 if that is 0.
2. The type's transform of each element (``w`` an element, ``a = |w|/amax``,
   ``P(a) = sum_k coeffs[k] a^k``, ``xi`` a standard normal, ``U`` a uniform in [0, 1)):

   ============================ ======================================================================
   ``COPY`` / ``NONE``          ``w`` (only drop connect acts)
   ``DISCRETIZE``               ``amax * res * round(w/(amax res) [+ U - 1/2 if sto_round])``; off if res <= 0
   ``MULT_NORMAL``              ``w + w std_dev amax xi``; off if std_dev <= 0
   ``ADD_NORMAL``               ``w + std_dev amax xi``; off if std_dev <= 0
   ``DISCRETIZE_ADD_NORMAL``    ``DISCRETIZE`` (none if res <= 0), then ``+ std_dev amax xi``
   ``DOREFA``                   ``res round(tanh(w) |dorefa_clip/tanh(amax)| / res [+ U - 1/2])``; off if res <= 0
   ``POLY``                     ``w + amax std_dev P(a) xi``; off if std_dev <= 0 or no coeffs
   ``PROG_NOISE``               ``v = w + amax (std_dev/g_max) P(a) xi``, then ``|v|`` with the sign of ``w``
   ``PCM_NOISE``                aihwkit's CUDA PCM model (spec 2.6; see ``rpu_wm_pcm`` in
                                ``_kernels/weight_modifier.h``): ``std_dev`` scales programming and read noise
   ``DROP_CONNECT``             ``w`` (only drop connect acts)
   ============================ ======================================================================

   ``round`` rounds half away from zero, as aihwkit's modifiers do.
3. Drop connect: each element becomes 0 with probability ``pdrop`` (``U < pdrop``).
4. ``copy_last_column``: the last column (an analog bias) is left as it was.

Differences from aihwkit 1.1.0, on purpose:

* ``pdrop`` acts with every type, ``NONE`` included, as aihwkit's documentation says ("drop connect
  can be used with any other modifier type"). aihwkit's ``InferenceTile.post_update_step`` skips
  the modifier when ``type == NONE``, so there ``pdrop`` has no effect [bug?].
* ``PCM_NOISE`` runs on the CPU too; aihwkit implements it only in its CUDA tile (its CPU tile
  refuses it). The formula is that CUDA kernel's.
* ``per_batch_sample`` is accepted with every type: the tile calls :func:`modify_weights` once
  per sample with a different ``op``. aihwkit's C++ tile refuses it unless the type is ``COPY``.
* float64 weights: ``DOREFA`` takes ``tanh`` in double (aihwkit's CPU code rounds it through float).

Kept as aihwkit 1.1.0 does it, although it may surprise:

* ``res`` is the quantisation step in units of ``amax`` whatever its size. aihwkit's
  documentation reads ``1/res`` as the number of steps, and its torch tile turns ``res > 1`` into
  ``1/res``, but the C++ tile (checked with the running aihwkit 1.1.0) uses ``res > 1`` as it is,
  so ``DISCRETIZE`` with ``res = 4`` rounds every weight below ``2 amax`` to 0. Give ``1/n`` for
  ``n`` steps.
* ``DISCRETIZE_ADD_NORMAL`` with ``res <= 0`` only adds noise (the C++ CPU rule; aihwkit's CUDA
  kernel divides by ``res`` even when it is 0).

Randomness: Philox of ``(key, op, purpose, row, column)`` with purposes ``MODIFIER_NOISE`` (normals;
``PCM_NOISE`` uses sub-streams 0, 1, 2 for programming, drift and read noise), ``MODIFIER_ROUND``
(stochastic rounding), ``MODIFIER_PCM_EVENTS`` (the PCM stuck-device coins, sub-streams 0-4) and
``DROP_CONNECT`` (rpu._rng.Purpose). The same ``key``/``op`` give the same bits for any number of
threads.
"""

import numpy as np

from rpu import _threads
from rpu.backends import CALL_ON_CPU, as_backend_array, backend_for
from rpu.config import WeightModifierParameter, WeightModifierType
from rpu.inference._validation import as_key_op

__all__ = ["modifier_is_active", "modifier_amax", "modify_weights"]


# WeightModifierType -> rpu_wm_type code of _kernels/weight_modifier.h (NONE is COPY).
_TYPE_CODE = {
    WeightModifierType.NONE: 0,
    WeightModifierType.COPY: 0,
    WeightModifierType.DISCRETIZE: 1,
    WeightModifierType.MULT_NORMAL: 2,
    WeightModifierType.ADD_NORMAL: 3,
    WeightModifierType.DISCRETIZE_ADD_NORMAL: 4,
    WeightModifierType.DOREFA: 5,
    WeightModifierType.POLY: 6,
    WeightModifierType.PROG_NOISE: 7,
    WeightModifierType.PCM_NOISE: 8,
    WeightModifierType.DROP_CONNECT: 9,
}
_COPY_TYPES = (WeightModifierType.NONE, WeightModifierType.COPY)


def _check_modifier(modifier):
    if not isinstance(modifier, WeightModifierParameter):
        raise TypeError(f"modifier must be a rpu.config.WeightModifierParameter, got "
                        f"{type(modifier).__name__}.")
    return modifier.validate()


def weights_matrix(weights, name="weights", xp=np):
    """``weights`` as a C-contiguous, finite 2-D float32/float64 array of ``xp`` (not copied if
    it is one; host data goes to the device of a GPU array module).

    Raises TypeError for another dtype and ValueError, naming ``name``, for another number of
    dimensions or NaN/Inf entries.
    """
    arr = as_backend_array(weights, name, xp, "a float32 or float64 array", CALL_ON_CPU)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (d_size, x_size), got an array "
                         f"of shape {arr.shape}.")
    arr = xp.ascontiguousarray(arr)
    finite = xp.isfinite(arr)
    if not bool(finite.all()):
        bad = int(arr.size - int(xp.count_nonzero(finite)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or Inf entries.")
    return arr


def modifier_is_active(modifier):
    """Whether ``post_update_step`` must (re)compute the forward weights ``W_fwd``.

    Parameters
    ----------
    modifier : WeightModifierParameter

    Returns
    -------
    bool
        False for type ``NONE`` or ``COPY`` with ``pdrop <= 0`` (then ``W_fwd = W``), True
        otherwise. Unlike aihwkit's tile, which never runs the modifier for ``NONE``, a ``NONE``
        modifier with ``pdrop > 0`` is active (drop connect with any type, as documented).
    """
    m = _check_modifier(modifier)
    return not (m.type in _COPY_TYPES and m.pdrop <= 0)


def _n_modified(modifier, x_size):
    return x_size - 1 if modifier.copy_last_column else x_size


def modifier_amax(modifier, weights, *, backend=None):
    """The weight scale ``amax`` of a modifier call (step 1 of the module docstring).

    Parameters
    ----------
    modifier : WeightModifierParameter
    weights : ndarray of shape (d_size, x_size), float32 or float64

    Returns
    -------
    float
        ``assumed_wmax``; or, with ``rel_to_actual_wmax`` and a type other than ``NONE``/``COPY``,
        ``max|W|`` over the modified columns (all but the last with ``copy_last_column``), 1 if
        that is 0 or there are none. Computed in the weights' dtype, as aihwkit does.
    """
    m = _check_modifier(modifier)
    _, xp = backend_for(backend, weights)
    w = weights_matrix(weights, xp=xp)
    return _amax(m, w, xp)


def _amax(m, w, xp=np):
    if not m.rel_to_actual_wmax or m.type in _COPY_TYPES:
        return float(m.assumed_wmax)
    cols = w[:, :_n_modified(m, w.shape[1])]
    amax = float(xp.max(xp.abs(cols))) if cols.size else 0.0
    return amax if amax > 0 else 1.0


def _transform_acts(m):
    """Whether the type's transform changes anything (aihwkit's per-type guards)."""
    t = m.type
    if t in (WeightModifierType.DISCRETIZE, WeightModifierType.DOREFA):
        return m.res > 0
    if t in (WeightModifierType.MULT_NORMAL, WeightModifierType.ADD_NORMAL):
        return m.std_dev > 0
    if t == WeightModifierType.DISCRETIZE_ADD_NORMAL:
        return m.res > 0 or m.std_dev > 0
    if t in (WeightModifierType.POLY, WeightModifierType.PROG_NOISE):
        return m.std_dev > 0 and len(m.coeffs) > 0
    return t == WeightModifierType.PCM_NOISE


def _spec(m, amax, n_mod):
    t = m.type
    transform = _transform_acts(m)
    if not transform:
        n_normal = 0
    elif t == WeightModifierType.PCM_NOISE:
        n_normal = 3
    elif t in (WeightModifierType.DISCRETIZE, WeightModifierType.DOREFA):
        n_normal = 0
    else:
        n_normal = 1
    quantises = t in (WeightModifierType.DISCRETIZE, WeightModifierType.DOREFA,
                      WeightModifierType.DISCRETIZE_ADD_NORMAL)
    event_mask = 0
    if transform and t == WeightModifierType.PCM_NOISE:
        event_mask = ((1 if m.pcm_prob_at_reset > 0 else 0)
                      | (6 if m.pcm_prob_at_gmax > 0 else 0)
                      | (24 if m.pcm_prob_at_random > 0 else 0))
    return {
        "type": _TYPE_CODE[t], "transform": transform, "n_mod": n_mod, "n_normal": n_normal,
        "sto_round": bool(transform and quantises and m.sto_round and m.res > 0),
        "event_mask": event_mask, "pdrop": float(m.pdrop), "amax": amax, "res": float(m.res),
        "std_dev": float(m.std_dev), "dorefa_clip": float(m.dorefa_clip),
        "g_max": float(m.g_max), "pcm_zero_thres": float(m.pcm_zero_thres),
        "pcm_t_inference": float(m.pcm_t_inference), "pcm_t0": float(m.pcm_t0),
        "pcm_prob_at_reset": float(m.pcm_prob_at_reset),
        "pcm_prob_at_gmax": float(m.pcm_prob_at_gmax),
        "pcm_prob_at_random": float(m.pcm_prob_at_random),
    }


def modify_weights(modifier, weights, key, op, *, n_threads=None, backend=None):
    """The forward/backward weights ``W_fwd = M(W)`` of a weight modifier.

    Parameters
    ----------
    modifier : WeightModifierParameter
        The modifier settings (validated here; a bad field raises ``rpu.ConfigError``).
    weights : ndarray of shape (d_size, x_size), float32 or float64
        The clean tile weights (normalised conductance units; with an analog bias, the last
        column is the bias). Not modified.
    key : int
        The tile's 64-bit Philox key (``rpu._rng.resolve_seed(seed)[1]``).
    op : int
        The tile's operation counter for this call; a new ``op`` gives new noise.
    n_threads : int or None
        OpenMP threads (None: the OpenMP default). Never changes the result.
    backend : None, "cpu", "cuda" or a rpu.gpu.CudaBackend
        Where the modifier runs (``rpu.backends.backend_for``): None follows ``weights`` (a CuPy
        array runs the GPU kernel ``rpu_modify_weights``, the same draws, and gives a CuPy
        array). An inference tile passes its own backend.

    Returns
    -------
    ndarray of shape (d_size, x_size), same dtype as ``weights``
        A new C-contiguous array; a plain copy for ``NONE``/``COPY`` without drop connect.

    Raises
    ------
    TypeError
        ``modifier`` is not a WeightModifierParameter, ``weights`` not a float32/float64 array,
        or ``key``/``op`` not integers.
    ValueError
        ``weights`` is not 2-D or holds NaN or Inf.
    rpu.ConfigError
        A field of ``modifier`` is out of range.
    """
    m = _check_modifier(modifier)
    be, xp = backend_for(backend, weights)
    w = weights_matrix(weights, xp=xp)
    key, op = as_key_op(key, op)
    n_threads = _threads.effective_n_threads(n_threads)
    n_mod = _n_modified(m, w.shape[1])
    out = xp.empty_like(w)
    spec = _spec(m, _amax(m, w, xp), n_mod)
    if n_mod <= 0 or w.shape[0] == 0 or not (spec["transform"] or spec["pdrop"] > 0):
        out[...] = w
        return out
    coeffs = np.ascontiguousarray(m.coeffs, dtype=w.dtype).reshape(-1)
    if xp is not np:
        coeffs = xp.asarray(coeffs)
    n_threads = _threads.for_work(n_threads, 16 * w.size)
    be.modify_weights(w, out, spec, coeffs, key, op, n_threads)
    return out

