"""The statistical PCM noise model of aihwkit 1.1.0 (``PCMLikeNoiseModel``) on NumPy arrays.

Spec: shared/spec/inference.md sections 4.1 and 4.3. The parameters are the config dataclass
:class:`rpu.config.PCMLikeNoiseModel`; these functions apply it, with the method names of
aihwkit's ``BaseNoiseModel`` (the config comes first). The per-element math is in
``rpu/_kernels/pcm_noise.h`` (shared with the GPU module); the loops in ``rpu._core``.

Units: conductances in uS, times in seconds. ``t_inference`` counts from the end of
programming; the drift clock starts at ``t_0`` (20 s by default), so ``t_inference = 0`` means
no drift (but read noise).

Randomness: every draw is Philox of ``(key, op, purpose, row, column)``, with purposes
``Purpose.INF_PROG_NOISE``, ``INF_DRIFT_NU`` and ``INF_READ_NOISE`` (rpu._rng) and the converter
slice (0 for ``g+``, 1 for ``g-``) as the sub-stream. The same ``key``/``op`` give the same bits
for any number of threads. ``key`` is a 64-bit Philox key (``rpu._rng.resolve_seed(seed)[1]``);
``op`` is the caller's operation counter (a tile advances it once per call).

Programming then drift, as aihwkit's inference tile does it::

    w_prog, nu = apply_programming_noise(model, w, key, op=0)
    w_t = apply_drift_noise(model, w_prog, nu, t_inference=3600.0, key=key, op=1)
"""
import numpy as np

from rpu import _core
from rpu.config.noise_models import BaseNoiseModel, PCMLikeNoiseModel

from ._validation import as_key_op, as_matrix, as_time, n_threads_of
from .converters import convert_back_to_weights, convert_to_conductances

__all__ = [
    "programming_noise_std",
    "apply_programming_noise_to_conductance",
    "drift_nu_moments",
    "generate_drift_coefficients",
    "drift_factor",
    "read_noise_std",
    "apply_drift_noise_to_conductance",
    "apply_programming_noise",
    "apply_drift_noise",
    "apply_noise",
]


def _check_model(noise_model):
    if not isinstance(noise_model, BaseNoiseModel):
        raise TypeError(f"noise_model must be a rpu.config noise model, got "
                        f"{type(noise_model).__name__}.")
    if not isinstance(noise_model, PCMLikeNoiseModel):
        raise NotImplementedError(f"noise_model {type(noise_model).__name__} is not implemented "
                                  "yet; only PCMLikeNoiseModel is.")
    noise_model.validate()
    return noise_model


def _coeff(noise_model, dtype):
    coeff = np.ascontiguousarray(noise_model.prog_coeff, dtype=dtype)
    if coeff.ndim != 1 or not np.all(np.isfinite(coeff)):
        raise ValueError(f"noise_model.prog_coeff must be a list of finite numbers, got "
                         f"{noise_model.prog_coeff!r}.")
    return coeff


# ----- per conductance slice ---------------------------------------------------------------------

def programming_noise_std(noise_model, g_target, *, n_threads=None):
    """Std of the programming noise (deterministic).

    ``(sum_k c_k (g_target/g_max)^k) * g_max / prog_coeff_g_max_reference``, in uS.

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    g_target : array_like of shape (rows, cols)
        Target conductances in uS.
    n_threads : int or None
        OpenMP threads (None: the OpenMP default); results do not depend on it.

    Returns
    -------
    ndarray of shape (rows, cols), in g_target's dtype (float32 unless float64).
    """
    m = _check_model(noise_model)
    g = as_matrix("g_target", g_target)
    out = np.empty_like(g)
    _core.pcm_prog_std(g, out, _coeff(m, g.dtype), float(m.g_max),
                       float(m.prog_coeff_g_max_reference), n_threads_of(n_threads))
    return out


def apply_programming_noise_to_conductance(noise_model, g_target, key, op, *, sub=0,
                                           n_threads=None):
    """Programmed conductances: ``max(0, g_target + prog_noise_scale * std(g_target) * xi)``.

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    g_target : array_like of shape (rows, cols)
        Target conductances in uS.
    key, op : int
        Philox key and operation counter; ``xi`` is the normal of
        ``(key, op, Purpose.INF_PROG_NOISE, row, col)`` on sub-stream ``sub``.
    sub : int, default 0
        Sub-stream (the converter slice index).
    n_threads : int or None

    Returns
    -------
    ndarray of shape (rows, cols)
        Programmed conductances in uS, >= 0.
    """
    m = _check_model(noise_model)
    g = as_matrix("g_target", g_target)
    key, op = as_key_op(key, op)
    out = np.empty_like(g)
    _core.pcm_program(g, out, _coeff(m, g.dtype), float(m.g_max),
                      float(m.prog_coeff_g_max_reference), float(m.prog_noise_scale), key, op,
                      int(sub), n_threads_of(n_threads))
    return out


def drift_nu_moments(noise_model, g_target, *, n_threads=None):
    """Mean and std of the drift exponent before folding (deterministic).

    With ``gr = max(|g_target/g_max|, 1e-7)``: ``mu = clip(-0.0155 ln gr + 0.0244, 0.049, 0.1)``
    and ``sigma = clip(-0.0125 ln gr - 0.0059, 0.008, 0.045)`` (dimensionless).

    Returns
    -------
    mu, sigma : ndarrays of shape (rows, cols)
    """
    _check_model(noise_model)
    g = as_matrix("g_target", g_target)
    mu, sigma = np.empty_like(g), np.empty_like(g)
    _core.pcm_nu_moments(g, mu, sigma, float(noise_model.g_max), n_threads_of(n_threads))
    return mu, sigma


def generate_drift_coefficients(noise_model, g_target, key, op, *, sub=0, n_threads=None):
    """Drift exponents drawn from the target conductances: ``drift_scale * |mu + sigma xi|``.

    ``mu`` and ``sigma`` as in :func:`drift_nu_moments`; ``xi`` is the normal of
    ``(key, op, Purpose.INF_DRIFT_NU, row, col)`` on sub-stream ``sub``.

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    g_target : array_like of shape (rows, cols)
        Target conductances in uS (aihwkit draws nu from the target, not the programmed value).
    key, op, sub, n_threads
        As in :func:`apply_programming_noise_to_conductance`.

    Returns
    -------
    ndarray of shape (rows, cols)
        Drift exponents nu >= 0 (dimensionless).
    """
    m = _check_model(noise_model)
    g = as_matrix("g_target", g_target)
    key, op = as_key_op(key, op)
    out = np.empty_like(g)
    _core.pcm_drift_nu(g, out, float(m.g_max), float(m.drift_scale), key, op, int(sub),
                       n_threads_of(n_threads))
    return out


def drift_factor(noise_model, nu, t_inference):
    """The drift power law ``((t_inference + t_0)/t_0)^(-nu)`` (1 at ``t_inference = 0``).

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    nu : array_like
        Drift exponents.
    t_inference : float
        Seconds since the end of programming (>= 0).

    Returns
    -------
    ndarray of nu's shape
    """
    m = _check_model(noise_model)
    t = as_time("t_inference", t_inference)
    nu = np.asarray(nu)
    nu = nu.astype(nu.dtype if nu.dtype in (np.float32, np.float64) else np.float64)
    ratio = (t + m.t_0) / m.t_0
    if ratio <= 1.0:
        return np.ones_like(nu)
    return np.power(nu.dtype.type(ratio), -nu)


def read_noise_std(noise_model, g_prog, t_inference, *, n_threads=None):
    """Relative std of the 1/f read noise at ``t_inference`` (deterministic).

    ``Q_s sqrt(ln((t + t_read)/(2 t_read)))`` with ``t = t_inference + t_0`` and
    ``Q_s = min(0.0088 / max((|g_prog|/g_max)^0.65, 1e-3), 0.2)``. The read noise added to a
    drifted conductance ``g_d`` has std ``read_noise_scale * |g_d| *`` this value.

    Returns
    -------
    ndarray of shape (rows, cols) (dimensionless)
    """
    m = _check_model(noise_model)
    g = as_matrix("g_prog", g_prog)
    t = as_time("t_inference", t_inference)
    out = np.empty_like(g)
    _core.pcm_read_std(g, out, float(m.g_max), t, float(m.t_0), float(m.t_read),
                       n_threads_of(n_threads))
    return out


def apply_drift_noise_to_conductance(noise_model, g_prog, nu, t_inference, key, op, *, sub=0,
                                     n_threads=None):
    """Conductances at ``t_inference``: power-law drift, then 1/f read noise, clipped at 0.

    ``g_d = g_prog (t/t_0)^(-nu)`` for ``t = t_inference + t_0 > t_0``, else ``g_prog``; then
    ``max(0, g_d + |g_d| read_noise_scale read_noise_std(g_prog) xi)``, ``xi`` the normal of
    ``(key, op, Purpose.INF_READ_NOISE, row, col)`` on sub-stream ``sub``. Read noise is applied
    at every ``t_inference``, 0 included (as in aihwkit).

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    g_prog : array_like of shape (rows, cols)
        Programmed conductances in uS.
    nu : array_like of shape (rows, cols)
        Drift exponents (from :func:`generate_drift_coefficients`), finite.
    t_inference : float
        Seconds since the end of programming, >= 0.
    key, op, sub, n_threads
        As in :func:`apply_programming_noise_to_conductance`.

    Returns
    -------
    ndarray of shape (rows, cols), in uS, >= 0.
    """
    m = _check_model(noise_model)
    g = as_matrix("g_prog", g_prog)
    nu_arr = as_matrix("nu", nu, dtype=g.dtype)
    if nu_arr.shape != g.shape:
        raise ValueError(f"nu must have the shape of g_prog, {g.shape}, got {nu_arr.shape}.")
    t = as_time("t_inference", t_inference)
    key, op = as_key_op(key, op)
    out = np.empty_like(g)
    _core.pcm_drift_read(g, nu_arr, out, float(m.g_max), t, float(m.t_0), float(m.t_read),
                         float(m.read_noise_scale), key, op, int(sub), n_threads_of(n_threads))
    return out


# ----- on weights (BaseNoiseModel API) -----------------------------------------------------------

def apply_programming_noise(noise_model, weights, key, op, *, n_threads=None):
    """Program weights: convert to conductances, add programming noise, convert back.

    The drift exponents are drawn from the *target* conductances of each slice (aihwkit's
    ``BaseNoiseModel.apply_programming_noise``). Both devices of a pair are programmed, the
    one at ``g_min`` included.

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    weights : array_like of shape (out_size, in_size)
        Finite target weights.
    key, op : int
        Philox key and operation counter; slice k uses sub-stream k.
    n_threads : int or None

    Returns
    -------
    weights_prog : ndarray of shape (out_size, in_size)
        Programmed weights, in the weights' dtype.
    nu_list : list of ndarrays of shape (out_size, in_size)
        Drift exponents, one array per conductance slice (``[nu_plus, nu_minus]``).
    """
    m = _check_model(noise_model)
    key, op = as_key_op(key, op)
    g_list, params = convert_to_conductances(m.g_converter, weights)
    g_prog, nu_list = [], []
    for k, g in enumerate(g_list):
        g_prog.append(apply_programming_noise_to_conductance(m, g, key, op, sub=k,
                                                             n_threads=n_threads))
        nu_list.append(generate_drift_coefficients(m, g, key, op, sub=k, n_threads=n_threads))
    return convert_back_to_weights(m.g_converter, g_prog, params), nu_list


def apply_drift_noise(noise_model, weights, drift_noise_parameters, t_inference, key, op, *,
                      n_threads=None):
    """Drift programmed weights to ``t_inference`` and add read noise.

    As aihwkit, the weights are converted to conductances *again* (a new scale from their own
    abs-max); with the single-pair converter each weight then has one non-zero device, and
    slice k drifts with ``drift_noise_parameters[k]``.

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    weights : array_like of shape (out_size, in_size)
        Programmed weights (from :func:`apply_programming_noise`).
    drift_noise_parameters : sequence of arrays of shape (out_size, in_size)
        The ``nu_list`` of :func:`apply_programming_noise`, one per slice.
    t_inference : float
        Seconds since the end of programming, >= 0.
    key, op : int
        Philox key and operation counter (use a fresh ``op`` per call for fresh read noise).
    n_threads : int or None

    Returns
    -------
    ndarray of shape (out_size, in_size)
    """
    m = _check_model(noise_model)
    t = as_time("t_inference", t_inference)
    key, op = as_key_op(key, op)
    g_list, params = convert_to_conductances(m.g_converter, weights)
    if len(drift_noise_parameters) != len(g_list):
        raise ValueError(f"drift_noise_parameters must hold {len(g_list)} arrays (one per "
                         f"conductance slice), got {len(drift_noise_parameters)}.")
    out = []
    for k, (g, nu) in enumerate(zip(g_list, drift_noise_parameters)):
        nu_arr = as_matrix(f"drift_noise_parameters[{k}]", nu, dtype=g.dtype)
        if nu_arr.shape != g.shape:
            raise ValueError(f"drift_noise_parameters[{k}] must have the shape of weights, "
                             f"{g.shape}, got {nu_arr.shape}.")
        out.append(apply_drift_noise_to_conductance(m, g, nu_arr, t, key, op, sub=k,
                                                    n_threads=n_threads))
    return convert_back_to_weights(m.g_converter, out, params)


def apply_noise(noise_model, weights, t_inference, key, op, *, n_threads=None):
    """Programming noise, drift and read noise in one go (aihwkit's ``apply_noise``).

    Unlike :func:`apply_programming_noise` + :func:`apply_drift_noise`, the drift acts on the
    programmed conductances directly (no re-conversion), so the statistics differ slightly.
    aihwkit 1.1.0 fails for ``t_inference <= 0`` [bug?]; rpu returns the programmed weights
    there (no drift and no read noise).

    Parameters
    ----------
    noise_model : rpu.config.PCMLikeNoiseModel
    weights : array_like of shape (out_size, in_size)
    t_inference : float
        Seconds since the end of programming, >= 0.
    key, op : int
    n_threads : int or None

    Returns
    -------
    ndarray of shape (out_size, in_size)
    """
    m = _check_model(noise_model)
    t = as_time("t_inference", t_inference)
    key, op = as_key_op(key, op)
    g_list, params = convert_to_conductances(m.g_converter, weights)
    out = []
    for k, g in enumerate(g_list):
        g_prog = apply_programming_noise_to_conductance(m, g, key, op, sub=k, n_threads=n_threads)
        if t > 0:
            nu = generate_drift_coefficients(m, g, key, op, sub=k, n_threads=n_threads)
            g_prog = apply_drift_noise_to_conductance(m, g_prog, nu, t, key, op, sub=k,
                                                      n_threads=n_threads)
        out.append(g_prog)
    return convert_back_to_weights(m.g_converter, out, params)
