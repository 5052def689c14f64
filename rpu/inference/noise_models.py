"""The statistical inference noise models of aihwkit 1.1.0 on NumPy arrays.

Spec: shared/spec/inference.md sections 4.1, 4.3 and 4.4. The parameters are the config
dataclasses of :mod:`rpu.config` (``PCMLikeNoiseModel``, ``CustomDriftPCMLikeNoiseModel``,
``StateIndependentNoiseModel``, ``ReRamWan2022NoiseModel``, ``ReRamCMONoiseModel``,
``HermesNoiseModel``); these functions apply them, with the method names of aihwkit's
``BaseNoiseModel`` (the config comes first) and any conductance converter of
:mod:`rpu.inference.converters`. The per-element math is in ``rpu/_kernels/pcm_noise.h`` and
``rpu/_kernels/noise_models.h`` (shared with the GPU module); the loops in ``rpu._core``; the
interpolation of CustomDriftPCMLike's table stays in NumPy.

Units: conductances in uS, times in seconds. ``t_inference`` counts from the end of
programming; for the PCM-type models the drift clock starts at ``t_0`` (20 s by default), so
``t_inference = 0`` means no drift (but read noise).

Randomness: every draw is Philox of ``(key, op, purpose, row, column)``, with purposes
``Purpose.INF_PROG_NOISE`` (programming), ``INF_DRIFT_NU`` (drift exponents),
``INF_READ_NOISE`` (read noise; ReRamWan2022's fresh sample at ``t_inference``) and
``INF_RELAXATION``
(ReRamCMO's relaxation) (rpu._rng), and the converter slice (0 for ``g+``, 1 for ``g-``, ...)
as the sub-stream. The same ``key``/``op`` give the same bits for any number of threads.
``key`` is a 64-bit Philox key (``rpu._rng.resolve_seed(seed)[1]``); ``op`` is the caller's
operation counter (a tile advances it once per call).

Backends: every function takes ``backend`` (None, ``"cpu"``, ``"cuda"`` or a
``rpu.gpu.CudaBackend``; see ``rpu.backends.backend_for``). None follows the arrays: NumPy
arrays run on the CPU core, CuPy arrays on the GPU kernels of ``rpu/gpu/`` (the same per-element
functions and draws), and the results are arrays of the same kind. An inference tile passes its
own backend.

Programming then drift, as aihwkit's inference tile does it::

    w_prog, nu = apply_programming_noise(model, w, key, op=0)
    w_t = apply_drift_noise(model, w_prog, nu, t_inference=3600.0, key=key, op=1)

The ReRam models keep the target conductances as their "drift parameters" (as aihwkit):
ReRamWan2022 samples the conductance at ``t_inference`` afresh around them, ReRamCMO ignores
them.
"""
import math

import numpy as np

from rpu import _core
from rpu._rng import Purpose
from rpu.backends import backend_for
from rpu.config.noise_models import (
    BaseNoiseModel,
    CustomDriftPCMLikeNoiseModel,
    HermesNoiseModel,
    PCMLikeNoiseModel,
    ReRamCMONoiseModel,
    ReRamWan2022NoiseModel,
    StateIndependentNoiseModel,
)

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

_PCM_TYPES = (PCMLikeNoiseModel, CustomDriftPCMLikeNoiseModel)
_DRIFT = _core.NOISE_DRIFT_MODELS
_POWER_LAW = (PCMLikeNoiseModel, CustomDriftPCMLikeNoiseModel, StateIndependentNoiseModel,
              HermesNoiseModel)
_RERAM = (ReRamWan2022NoiseModel, ReRamCMONoiseModel)
_MODELS = _POWER_LAW + _RERAM
#: Relative tolerance when ReRamWan2022NoiseModel looks up t_inference among its fitted times.
WAN_TIME_RTOL = 1e-6


def _check_model(noise_model):
    if not isinstance(noise_model, BaseNoiseModel):
        raise TypeError(f"noise_model must be a rpu.config noise model, got "
                        f"{type(noise_model).__name__}.")
    if not isinstance(noise_model, _MODELS):
        raise NotImplementedError(f"noise_model {type(noise_model).__name__} is not implemented; "
                                  f"rpu.inference knows "
                                  f"{', '.join(c.__name__ for c in _MODELS)}.")
    noise_model.validate()
    return noise_model


def _as_coeff(values, name, dtype, xp=np):
    coeff = np.ascontiguousarray(values, dtype=dtype)
    if coeff.ndim != 1 or not np.all(np.isfinite(coeff)):
        raise ValueError(f"{name} must be a list of finite numbers, got {values!r}.")
    return coeff if xp is np else xp.asarray(coeff)


def _prog_poly(m):
    """(coefficients, name, g_norm, g_ref, scale, clip_zero) of a model's programming noise:
    sigma = (sum_k c_k (g/g_norm)^k) g_norm/g_ref, g_prog = g + scale sigma xi."""
    if isinstance(m, (PCMLikeNoiseModel, CustomDriftPCMLikeNoiseModel, HermesNoiseModel)):
        return (m.prog_coeff, "prog_coeff", m.g_max, m.prog_coeff_g_max_reference,
                m.prog_noise_scale, True)
    if isinstance(m, StateIndependentNoiseModel):
        return m.prog_coeff, "prog_coeff", m.g_max, m.g_max, m.prog_noise_scale, True
    if isinstance(m, ReRamWan2022NoiseModel):
        t0 = min(m.coeff_dic)
        return (m.coeff_dic[t0], f"coeff_dic[{t0!r}]", m.g_max, m.coeff_g_max_reference,
                m.noise_scale, True)
    # ReRamCMO: a polynomial in uS (not normalised), no reference scaling, no clipping
    return (m.coeff_dict[m.acceptance_range], f"coeff_dict[{m.acceptance_range!r}]", 1.0, 1.0,
            m.prog_noise_scale, False)


def _wan_coeff(m, t):
    """The fit of ReRamWan2022NoiseModel at t_inference (a key of coeff_dic, up to rounding)."""
    for key, coeff in m.coeff_dic.items():
        if math.isclose(t, key, rel_tol=WAN_TIME_RTOL):
            return coeff, f"coeff_dic[{key!r}]"
    raise ValueError(f"t_inference = {t!r} s is not allowed for ReRamWan2022NoiseModel: expected "
                     f"one of the times of its coeff_dic, {sorted(m.coeff_dic)} s.")


def _nu_model(m):
    """(model code, num_devices) of the passes whose formulas depend on the model
    (nu_moments, drift_nu, read_std): Hermes, else the PCMLike formulas."""
    if isinstance(m, HermesNoiseModel):
        return _DRIFT["hermes"], int(m.num_devices)
    return _DRIFT["pcm"], 0


def _no_drift_exponent(m, what):
    return ValueError(f"{what} is not defined for {type(m).__name__}: it has no power-law drift "
                      "exponent (its drift parameters are the target conductances).")


# ----- per conductance slice ---------------------------------------------------------------------

def programming_noise_std(noise_model, g_target, *, n_threads=None, backend=None):
    """Std of the programming noise before ``prog_noise_scale`` (deterministic), in uS.

    * PCMLike, CustomDriftPCMLike, Hermes: ``(sum_k c_k (g/g_max)^k) g_max /
      prog_coeff_g_max_reference``;
    * StateIndependent: ``sum_k c_k (g/g_max)^k``;
    * ReRamWan2022: the polynomial of the smallest time of ``coeff_dic``, times
      ``g_max / coeff_g_max_reference``;
    * ReRamCMO: ``c_0 + c_1 g`` (g in uS) of the acceptance range.

    Parameters
    ----------
    noise_model : rpu.config noise model
    g_target : array_like of shape (rows, cols)
        Target conductances in uS.
    n_threads : int or None
        OpenMP threads (None: the OpenMP default); results do not depend on it.

    Returns
    -------
    ndarray of shape (rows, cols), in g_target's dtype (float32 unless float64).
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_target)
    g = as_matrix("g_target", g_target, xp=xp)
    coeff, name, g_norm, g_ref, _, _ = _prog_poly(m)
    out = xp.empty_like(g)
    be.pcm_prog_std(g, out, _as_coeff(coeff, f"noise_model.{name}", g.dtype, xp), float(g_norm),
                    float(g_ref), n_threads_of(n_threads))
    return out


def apply_programming_noise_to_conductance(noise_model, g_target, key, op, *, sub=0,
                                           n_threads=None, backend=None):
    """Programmed conductances: ``g_target + scale * programming_noise_std(g_target) * xi``.

    Clipped at 0 for every model but ReRamCMO; ``scale`` is ``prog_noise_scale``
    (``noise_scale`` for ReRamWan2022).

    Parameters
    ----------
    noise_model : rpu.config noise model
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
        Programmed conductances in uS.
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_target)
    g = as_matrix("g_target", g_target, xp=xp)
    key, op = as_key_op(key, op)
    out = xp.empty_like(g)
    coeff, name, g_norm, g_ref, scale, clip_zero = _prog_poly(m)
    be.noise_program(g, out, _as_coeff(coeff, f"noise_model.{name}", g.dtype, xp), float(g_norm),
                     float(g_ref), float(scale), clip_zero, key, op,
                     int(Purpose.INF_PROG_NOISE), int(sub), n_threads_of(n_threads))
    return out


def _custom_drift_moments(m, g, xp=np):
    # numpy.interp on the table, the target clipped to the table's range first (aihwkit clips
    # the caller's array in place; rpu works on a copy). cupy.interp on the GPU.
    table = m.custom_drift_model
    g_lst = np.asarray(table["g_lst"], dtype=np.float64)
    g_c = xp.clip(g, g_lst[0], g_lst[-1])
    if xp is np:
        mu = np.interp(g_c, g_lst, table["nu_mean_lst"]).astype(g.dtype)
        sigma = np.interp(g_c, g_lst, table["nu_std_lst"]).astype(g.dtype)
        return mu, sigma
    x_lst = xp.asarray(g_lst)
    mu = xp.interp(g_c, x_lst, xp.asarray(np.asarray(table["nu_mean_lst"], dtype=np.float64)))
    sigma = xp.interp(g_c, x_lst, xp.asarray(np.asarray(table["nu_std_lst"], dtype=np.float64)))
    return mu.astype(g.dtype), sigma.astype(g.dtype)


def drift_nu_moments(noise_model, g_target, *, n_threads=None, backend=None):
    """Mean and std of the drift exponent before folding (deterministic, dimensionless).

    * PCMLike: with ``gr = max(|g/g_max|, 1e-7)``, ``mu = clip(-0.0155 ln gr + 0.0244, 0.049,
      0.1)``, ``sigma = clip(-0.0125 ln gr - 0.0059, 0.008, 0.045)``;
    * CustomDriftPCMLike: ``numpy.interp`` of the table at g clipped to the table's range;
    * StateIndependent: ``drift_nu_mean`` and ``drift_nu_std`` everywhere;
    * Hermes: the piecewise fits of spec 4.4 (they depend on ``num_devices``).

    The ReRam models have no drift exponent (ValueError).

    Returns
    -------
    mu, sigma : ndarrays of shape (rows, cols)
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_target)
    g = as_matrix("g_target", g_target, xp=xp)
    if isinstance(m, _RERAM):
        raise _no_drift_exponent(m, "drift_nu_moments")
    if isinstance(m, CustomDriftPCMLikeNoiseModel):
        return _custom_drift_moments(m, g, xp)
    if isinstance(m, StateIndependentNoiseModel):
        return (xp.full_like(g, m.drift_nu_mean), xp.full_like(g, m.drift_nu_std))
    mu, sigma = xp.empty_like(g), xp.empty_like(g)
    model, num_devices = _nu_model(m)
    be.nu_moments(g, mu, sigma, model, float(m.g_max), num_devices, n_threads_of(n_threads))
    return mu, sigma


def generate_drift_coefficients(noise_model, g_target, key, op, *, sub=0, n_threads=None,
                                backend=None):
    """The drift parameters of each device, drawn from its *target* conductance.

    For the power-law models, drift exponents ``drift_scale * |mu + sigma xi|`` with ``mu``
    and ``sigma`` as in :func:`drift_nu_moments` and ``xi`` the normal of
    ``(key, op, Purpose.INF_DRIFT_NU, row, col)`` on sub-stream ``sub``. The ReRam models
    return (a copy of) the target conductances, as aihwkit does.

    Parameters
    ----------
    noise_model : rpu.config noise model
    g_target : array_like of shape (rows, cols)
        Target conductances in uS (aihwkit draws nu from the target, not the programmed value).
    key, op, sub, n_threads
        As in :func:`apply_programming_noise_to_conductance`.

    Returns
    -------
    ndarray of shape (rows, cols)
        Drift exponents nu >= 0 (dimensionless), or target conductances in uS (ReRam).
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_target)
    g = as_matrix("g_target", g_target, xp=xp)
    key, op = as_key_op(key, op)
    nt = n_threads_of(n_threads)
    if isinstance(m, _RERAM):
        return g.copy()
    out = xp.empty_like(g)
    if isinstance(m, (PCMLikeNoiseModel, HermesNoiseModel)):
        model, num_devices = _nu_model(m)
        be.drift_nu(g, out, model, float(m.g_max), num_devices, float(m.drift_scale), key, op,
                    int(sub), nt)
        return out
    if isinstance(m, StateIndependentNoiseModel):
        mu, sigma = xp.full_like(g, m.drift_nu_mean), xp.full_like(g, m.drift_nu_std)
    else:  # CustomDriftPCMLike
        mu, sigma = _custom_drift_moments(m, g, xp)
    be.nu_draw(mu, sigma, out, float(m.drift_scale), key, op, int(sub), nt)
    return out


def drift_factor(noise_model, nu, t_inference, *, backend=None):
    """The drift power law ``((t_inference + t_0)/t_0)^(-nu)`` (1 at ``t_inference = 0``).

    Defined for the power-law models (PCMLike, CustomDriftPCMLike, StateIndependent, Hermes).

    Parameters
    ----------
    noise_model : rpu.config noise model
    nu : array_like
        Drift exponents.
    t_inference : float
        Seconds since the end of programming (>= 0).

    Returns
    -------
    ndarray of nu's shape
    """
    m = _check_model(noise_model)
    if isinstance(m, _RERAM):
        raise _no_drift_exponent(m, "drift_factor")
    t = as_time("t_inference", t_inference)
    _, xp = backend_for(backend, nu)
    nu = nu if xp is not np and isinstance(nu, xp.ndarray) else xp.asarray(np.asarray(nu))
    nu = nu.astype(nu.dtype if nu.dtype in (np.float32, np.float64) else np.float64)
    ratio = (t + m.t_0) / m.t_0
    if ratio <= 1.0:
        return xp.ones_like(nu)
    return xp.power(nu.dtype.type(ratio), -nu)


def read_noise_std(noise_model, g_prog, t_inference, *, n_threads=None, backend=None):
    """Std of the 1/f read noise relative to the drifted conductance (deterministic).

    The read noise added to a drifted conductance ``g_d`` has std ``read_noise_scale * |g_d|
    *`` this value, with ``tf = sqrt(ln((t + t_read)/(2 t_read)))`` and
    ``t = t_inference + t_0``:

    * PCMLike, CustomDriftPCMLike: ``Q_s tf``, ``Q_s = min(0.0088 / max((|g_prog|/g_max)^0.65,
      1e-3), 0.2)``;
    * Hermes: its piecewise ``Q_s(|g_prog|/g_max)`` times ``tf``;
    * StateIndependent: ``tf / g_max`` (per uS; independent of g_prog).

    The ReRam models' read noise is not relative to ``|g_d|`` (ValueError).

    Returns
    -------
    ndarray of shape (rows, cols)
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_prog)
    g = as_matrix("g_prog", g_prog, xp=xp)
    t = as_time("t_inference", t_inference)
    if isinstance(m, _RERAM):
        raise ValueError(f"read_noise_std is not defined for {type(m).__name__}: its read "
                         "noise is not relative to the drifted conductance.")
    out = xp.empty_like(g)
    if isinstance(m, StateIndependentNoiseModel):
        tt = t + m.t_0
        out[...] = math.sqrt(math.log((tt + m.t_read) / (2 * m.t_read))) / m.g_max
    else:
        model, num_devices = _nu_model(m)
        be.read_std(g, out, model, float(m.g_max), num_devices, t, float(m.t_0),
                    float(m.t_read), n_threads_of(n_threads))
    return out


def apply_drift_noise_to_conductance(noise_model, g_prog, nu, t_inference, key, op, *, sub=0,
                                     n_threads=None, backend=None):
    """Conductances at ``t_inference``: drift, then read noise.

    * PCMLike, CustomDriftPCMLike, Hermes: ``g_d = g_prog (t/t_0)^(-nu)`` for ``t =
      t_inference + t_0 > t_0``, else ``g_prog``; then ``max(0, g_d + |g_d| read_noise_scale
      read_noise_std(g_prog) xi)``. Read noise is applied at every ``t_inference``, 0 included
      (as in aihwkit).
    * StateIndependent: the same drift, then ``max(0, g_d + |g_d/g_max| read_noise_scale tf
      xi)``.
    * ReRamWan2022: a fresh sample ``max(0, g_T + noise_scale sigma_t(g_T) xi)`` around the
      target conductances ``g_T`` (passed as ``nu``), with the fit of the time ``t_inference``;
      ``g_prog`` is not used. ``t_inference`` must be one of the times of ``coeff_dic``; aihwkit
      1.1.0 requires an exact dict key and raises ``ArgumentError`` otherwise [bug?]; rpu
      matches within a relative 1e-6 and raises a ValueError listing the times.
    * ReRamCMO: ``g_prog`` at ``t_inference = 0``; else relaxation and read noise (spec 4.4,
      ``xi_1`` of ``Purpose.INF_RELAXATION``), clipped to ``[g_min, g_max]``; ``nu`` is not used.

    ``xi`` is the normal of ``(key, op, Purpose.INF_READ_NOISE, row, col)`` on sub-stream
    ``sub``.

    Parameters
    ----------
    noise_model : rpu.config noise model
    g_prog : array_like of shape (rows, cols)
        Programmed conductances in uS.
    nu : array_like of shape (rows, cols)
        Drift parameters from :func:`generate_drift_coefficients`, finite.
    t_inference : float
        Seconds since the end of programming, >= 0.
    key, op, sub, n_threads
        As in :func:`apply_programming_noise_to_conductance`.

    Returns
    -------
    ndarray of shape (rows, cols), in uS.
    """
    m = _check_model(noise_model)
    be, xp = backend_for(backend, g_prog, nu)
    g = as_matrix("g_prog", g_prog, xp=xp)
    nu_arr = as_matrix("nu", nu, dtype=g.dtype, xp=xp)
    if nu_arr.shape != g.shape:
        raise ValueError(f"nu must have the shape of g_prog, {g.shape}, got {nu_arr.shape}.")
    t = as_time("t_inference", t_inference)
    key, op = as_key_op(key, op)
    nt = n_threads_of(n_threads)
    out = xp.empty_like(g)
    if isinstance(m, ReRamWan2022NoiseModel):
        coeff, name = _wan_coeff(m, t)
        be.noise_program(nu_arr, out, _as_coeff(coeff, f"noise_model.{name}", g.dtype, xp),
                         float(m.g_max), float(m.coeff_g_max_reference),
                         float(m.noise_scale), True, key, op, int(Purpose.INF_READ_NOISE),
                         int(sub), nt)
        return out
    # The model code and scalars of rpu_noise_drift_read (rpu/_kernels/noise_models.h).
    scalars = {"mean_shift": 0.0, "relax_std": 0.0, "read_k": 0.0, "g_min": 0.0,
               "num_devices": 0}
    if isinstance(m, _PCM_TYPES):
        model, t_0, t_read = _DRIFT["pcm"], float(m.t_0), float(m.t_read)
    elif isinstance(m, HermesNoiseModel):
        model, t_0, t_read = _DRIFT["hermes"], float(m.t_0), float(m.t_read)
        scalars["num_devices"] = int(m.num_devices)
    elif isinstance(m, StateIndependentNoiseModel):
        model, t_0, t_read = _DRIFT["state_independent"], float(m.t_0), float(m.t_read)
    else:  # ReRamCMO: no drift before t > 0; time counts from programming (t_0 = 0)
        if t == 0:
            return g.copy()
        log_t = math.log(t)
        mean, std = m.decay_dict["mean"], m.decay_dict["std"]
        model, t_0, t_read = _DRIFT["reram_cmo"], 0.0, float(m.read_dict["t_read"])
        scalars.update(mean_shift=mean[0] * log_t * m.drift_scale,
                       relax_std=(std[0] * log_t + std[1]) * m.drift_scale,
                       read_k=float(m.read_dict["K"]), g_min=float(m.g_min))
        nu_arr = g
    be.noise_drift(g, nu_arr, out, model, scalars["num_devices"], t, t_0, t_read,
                   float(m.read_noise_scale), float(m.g_max), scalars["mean_shift"],
                   scalars["relax_std"], scalars["read_k"], scalars["g_min"], key, op,
                   int(sub), nt)
    return out


# ----- on weights (BaseNoiseModel API) -----------------------------------------------------------

def apply_programming_noise(noise_model, weights, key, op, *, n_threads=None, backend=None):
    """Program weights: convert to conductances, add programming noise, convert back.

    The drift exponents are drawn from the *target* conductances of each slice (aihwkit's
    ``BaseNoiseModel.apply_programming_noise``). Both devices of a pair are programmed, the
    one at ``g_min`` included.

    Parameters
    ----------
    noise_model : rpu.config noise model
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
        Drift parameters (exponents nu; target conductances for the ReRam models), one array
        per conductance slice (``[nu_plus, nu_minus]`` for a single pair).
    """
    m = _check_model(noise_model)
    key, op = as_key_op(key, op)
    be, _ = backend_for(backend, weights)
    g_list, params = convert_to_conductances(m.g_converter, weights, backend=be)
    g_prog, nu_list = [], []
    for k, g in enumerate(g_list):
        g_prog.append(apply_programming_noise_to_conductance(m, g, key, op, sub=k,
                                                             n_threads=n_threads, backend=be))
        nu_list.append(generate_drift_coefficients(m, g, key, op, sub=k, n_threads=n_threads,
                                                   backend=be))
    return convert_back_to_weights(m.g_converter, g_prog, params, backend=be), nu_list


def apply_drift_noise(noise_model, weights, drift_noise_parameters, t_inference, key, op, *,
                      n_threads=None, backend=None):
    """Drift programmed weights to ``t_inference`` and add read noise.

    As aihwkit, the weights are converted to conductances *again* (a new scale from their own
    abs-max); with the single-pair converter each weight then has one non-zero device, and
    slice k drifts with ``drift_noise_parameters[k]``.

    Parameters
    ----------
    noise_model : rpu.config noise model
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
    be, xp = backend_for(backend, weights, *drift_noise_parameters)
    g_list, params = convert_to_conductances(m.g_converter, weights, backend=be)
    if len(drift_noise_parameters) != len(g_list):
        raise ValueError(f"drift_noise_parameters must hold {len(g_list)} arrays (one per "
                         f"conductance slice), got {len(drift_noise_parameters)}.")
    out = []
    for k, (g, nu) in enumerate(zip(g_list, drift_noise_parameters)):
        nu_arr = as_matrix(f"drift_noise_parameters[{k}]", nu, dtype=g.dtype, xp=xp)
        if nu_arr.shape != g.shape:
            raise ValueError(f"drift_noise_parameters[{k}] must have the shape of weights, "
                             f"{g.shape}, got {nu_arr.shape}.")
        out.append(apply_drift_noise_to_conductance(m, g, nu_arr, t, key, op, sub=k,
                                                    n_threads=n_threads, backend=be))
    return convert_back_to_weights(m.g_converter, out, params, backend=be)


def apply_noise(noise_model, weights, t_inference, key, op, *, n_threads=None, backend=None):
    """Programming noise, drift and read noise in one go (aihwkit's ``apply_noise``).

    Unlike :func:`apply_programming_noise` + :func:`apply_drift_noise`, the drift acts on the
    programmed conductances directly (no re-conversion), so the statistics differ slightly.
    aihwkit 1.1.0 fails for ``t_inference <= 0`` [bug?]; rpu returns the programmed weights
    there (no drift and no read noise).

    Parameters
    ----------
    noise_model : rpu.config noise model
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
    be, _ = backend_for(backend, weights)
    g_list, params = convert_to_conductances(m.g_converter, weights, backend=be)
    out = []
    for k, g in enumerate(g_list):
        g_prog = apply_programming_noise_to_conductance(m, g, key, op, sub=k, n_threads=n_threads,
                                                        backend=be)
        if t > 0:
            nu = generate_drift_coefficients(m, g, key, op, sub=k, n_threads=n_threads,
                                             backend=be)
            g_prog = apply_drift_noise_to_conductance(m, g_prog, nu, t, key, op, sub=k,
                                                      n_threads=n_threads, backend=be)
        out.append(g_prog)
    return convert_back_to_weights(m.g_converter, out, params, backend=be)
