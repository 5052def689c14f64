"""Parameters of the inference noise models, conductance converters and drift compensations.

``InferenceRPUConfig.noise_model`` / ``.drift_compensation`` take these, named and
parameterised as in aihwkit 1.1.0 (``aihwkit.inference``; spec/inference.md sections 4.2-4.5).
They only carry parameters (``None`` arguments are resolved by the constructor and stored, as
aihwkit stores them); :mod:`rpu.inference` applies them:

* noise models: :class:`PCMLikeNoiseModel`, :class:`CustomDriftPCMLikeNoiseModel`,
  :class:`StateIndependentNoiseModel`, :class:`ReRamWan2022NoiseModel`,
  :class:`ReRamCMONoiseModel`, :class:`HermesNoiseModel`;
* converters: :class:`SinglePairConductanceConverter`, :class:`NPairConductanceConverter`,
  :class:`DualPairConductanceConverter`, :class:`CustomPairConductanceConverter`,
  :class:`SingleDeviceConductanceConverter` (aihwkit's ``FusionConductanceConverter`` needs
  scikit-learn and is not provided);
* drift compensations: :class:`GlobalDriftCompensation`,
  :class:`GlobalDriftCompensationWithExactReference`, :class:`PerColumnDriftCompensation`.
"""

import math
import numbers
from typing import Dict, List, Optional

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param

__all__ = [
    "BaseConductanceConverter",
    "SinglePairConductanceConverter",
    "NPairConductanceConverter",
    "DualPairConductanceConverter",
    "CustomPairConductanceConverter",
    "SingleDeviceConductanceConverter",
    "BaseNoiseModel",
    "PCMLikeNoiseModel",
    "CustomDriftPCMLikeNoiseModel",
    "StateIndependentNoiseModel",
    "ReRamWan2022NoiseModel",
    "ReRamCMONoiseModel",
    "HermesNoiseModel",
    "BaseDriftCompensation",
    "GlobalDriftCompensation",
    "GlobalDriftCompensationWithExactReference",
    "PerColumnDriftCompensation",
]

_PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)
_PCM_PROG_COEFF_G_MAX_REFERENCE = 25.0
_STATE_INDEPENDENT_PROG_COEFF = (0.2, 0.0, 0.0)
# ReRam (Wan et al. 2022) fits, c_0 first, per time after programming in seconds; fitted at 40 uS.
_RERAM_WAN_COEFF = {
    1.0: (0.348, 16.030, -43.853, 45.393, -16.815),
    86400.0: (0.701, 22.086, -50.773, 47.095, -16.458),
    172800.0: (0.782, 20.274, -43.507, 37.062, -11.934),
}
_RERAM_WAN_G_MAX_REFERENCE = 40.0
# ReRam CMO/HfOx fits: programming std c_0 + c_1 g per acceptance range (in %), the decay of the
# mean and the spread over ln t, and the read-noise constant.
_RERAM_CMO_COEFF = {0.2: (0.00081107, 0.00106879), 2.0: (0.0112185391, 0.01129027418)}
_RERAM_CMO_DECAY = {"mean": (-0.08900206,), "std": (0.04201137, 0.41183342)}
_RERAM_CMO_READ = {"K": 0.0277316483, "t_read": 1e-6}
# Hermes chip (PCM, 1 or 2 devices per unit cell): default prog_coeff, g_max (the largest
# characterised conductance) and t_0.
_HERMES = {
    1: ((0.15781817, 2.32443916, -2.16310839, 0.68841818), 10.35, 200.0),
    2: ((0.16603222, 4.71806468, -8.48101252, 4.68961419), 20.7, 300.0),
}


def _check_not_none(obj, path, names):
    for name in names:
        if getattr(obj, name) is None:  # only possible after a mutation
            raise ConfigError(
                f"{path}.{name} = None is not allowed after construction: expected a value "
                "(None is resolved only by the constructor)"
            )


def _check_g_range(obj, path):
    _check_not_none(obj, path, ("g_max", "g_min"))
    if not obj.g_min < obj.g_max:
        raise ConfigError(
            f"{path}.g_min = {obj.g_min!r} is not allowed: expected a value < g_max = "
            f"{obj.g_max!r}"
        )


def _check_coeff(path, coeff):
    if len(coeff) == 0:
        raise ConfigError(f"{path} = [] is not allowed: expected at least one coefficient")


@config_class
class BaseConductanceConverter(ConfigBase):
    """Base of the weight <-> conductance converters (parameters only)."""


class _RangedConverter(BaseConductanceConverter):
    """A converter with the conductance range ``g_min < g_max`` (uS; the fields are the
    subclasses', where aihwkit's argument order puts them). A bound left at None takes the
    class's default, ``_G_DEFAULTS = (g_max, g_min)``, at construction."""

    _G_DEFAULTS = (25.0, 0.0)

    def __post_init__(self) -> None:
        if self.g_max is None:
            self.g_max = self._G_DEFAULTS[0]
        if self.g_min is None:
            self.g_min = self._G_DEFAULTS[1]
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_g_range(self, path)


@config_class
class SinglePairConductanceConverter(_RangedConverter):
    """One pair of devices per weight: ``g+`` carries positive weights, ``g-`` negative ones.

    The weight abs-max maps to ``g_max``; zero maps to ``g_min`` on both devices.

    Parameters
    ----------
    g_max : float or None, default None -> 25.0
        Maximal conductance in uS (>= 0; must exceed ``g_min``).
    g_min : float or None, default None -> 0.0
        Minimal conductance in uS (>= 0).
    """

    g_max: Optional[float] = param(None, ge=0.0, note="in uS")
    g_min: Optional[float] = param(None, ge=0.0, note="in uS")


@config_class
class NPairConductanceConverter(_RangedConverter):
    """N pairs of devices per weight, pair k weighted by the factor ``f_lst[k]``.

    The weights are scaled so that the abs-max reaches ``sum(f_lst) * (g_max - g_min)`` uS; the
    pairs fill up in the order of ``f_lst`` (pair k takes over once pairs 0..k-1 are at
    ``g_max``), the device of the other sign stays at ``g_min``.

    Parameters
    ----------
    f_lst : list of float
        Weighting factors of the pairs, from the first-filled pair on (each > 0).
    g_max : float or None, default None -> 25.0
        Maximal conductance in uS (> g_min).
    g_min : float or None, default None -> 0.0
        Minimal conductance in uS (>= 0).

    Notes
    -----
    aihwkit only refuses ``f_lst`` whose largest factor is negative (a zero or negative factor
    elsewhere then divides by zero or inverts a pair); rpu requires every factor > 0.
    """

    f_lst: List[float] = param(gt=0.0)
    g_max: Optional[float] = param(None, ge=0.0, note="in uS")
    g_min: Optional[float] = param(None, ge=0.0, note="in uS")

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if len(self.f_lst) == 0:
            raise ConfigError(f"{path}.f_lst = [] is not allowed: expected at least one factor")


@config_class
class DualPairConductanceConverter(NPairConductanceConverter):
    """Two pairs of devices per weight (:class:`NPairConductanceConverter` with two factors).

    Parameters
    ----------
    f_lst : list of two floats
        Weighting factors of the two pairs (each > 0).
    g_max, g_min : float or None
        As in :class:`NPairConductanceConverter` (defaults 25 and 0 uS).
    """

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if len(self.f_lst) != 2:
            raise ConfigError(
                f"{path}.f_lst = {self.f_lst!r} is not allowed: expected exactly two factors"
            )


@config_class
class CustomPairConductanceConverter(_RangedConverter):
    """Pairs of devices whose conductances follow tabulated curves ``g(w)``.

    ``g_lst`` holds ``2 * len(f_lst)`` lists of K conductances, ``[g+_0, g-_0, g+_1, ...]``, at
    K weights equally spaced over the weight range; in between, conductances are linearly
    interpolated. Pair k is weighted by ``f_lst[k]``.

    Parameters
    ----------
    f_lst : list of float
        Weighting factors of the pairs.
    g_lst : list of lists of float
        Conductances in uS of each device at the K grid weights (K >= 2, equal for all).
    g_max : float or None, default None -> 25.0
        Maximal conductance in uS (only checked against ``g_min``, as in aihwkit).
    g_min : float or None, default None -> 0.0
        Minimal conductance in uS.
    invertibility_test : bool or None, default True
        Check at construction (and on :meth:`validate`) that converting
        ``linspace(-1, 1, 5)`` to conductances and back returns it within 1e-4; a table that
        does not raises :class:`rpu.errors.ConfigError` (aihwkit raises ``ArithmeticError``).
    """

    f_lst: List[float] = param()
    g_lst: List[List[float]] = param(note="in uS")
    g_max: Optional[float] = param(None, ge=0.0, note="in uS")
    g_min: Optional[float] = param(None, ge=0.0, note="in uS")
    invertibility_test: Optional[bool] = param(True)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if len(self.g_lst) == 0 or len(self.g_lst) % 2:
            raise ConfigError(
                f"{path}.g_lst has {len(self.g_lst)} lists, which is not allowed: expected a "
                "non-zero even number (one g+ and one g- list per pair)"
            )
        if 2 * len(self.f_lst) != len(self.g_lst):
            raise ConfigError(
                f"{path}.f_lst has {len(self.f_lst)} factors, which is not allowed: expected one "
                f"per pair of g_lst, {len(self.g_lst) // 2}"
            )
        n_points = {len(g) for g in self.g_lst}
        if len(n_points) != 1 or min(n_points) < 2:
            raise ConfigError(
                f"{path}.g_lst lists have lengths {sorted(n_points)}, which is not allowed: "
                "expected one common length >= 2"
            )
        if self.invertibility_test:
            # Imported here: the conversion lives in rpu.inference, which imports rpu.config.
            from rpu.inference.converters import invertibility_error

            err = invertibility_error(self)
            if err is not None:
                raise ConfigError(
                    f"{path}.g_lst is not allowed: the conversion weights -> conductances -> "
                    f"weights is not invertible ({err}); expected tables that map "
                    "linspace(-1, 1, 5) back onto itself within 1e-4"
                )


@config_class
class SingleDeviceConductanceConverter(_RangedConverter):
    """One device per weight: ``[min W, max W]`` maps linearly onto ``[g_min, g_max]``.

    Parameters
    ----------
    g_max : float or None, default None -> 88.199997
        Maximal conductance in uS (> g_min).
    g_min : float or None, default None -> 9.0
        Minimal conductance in uS (>= 0).
    """

    g_max: Optional[float] = param(None, ge=0.0, note="in uS")
    g_min: Optional[float] = param(None, ge=0.0, note="in uS")

    _G_DEFAULTS = (88.199997, 9.0)


# ----- noise models --------------------------------------------------------------------------

def _refuse_non_finite(model, names):
    """Refuse NaN/Inf in fields read before validation (to build the converter, or to pick a
    table key), so that the error names the model's own field."""
    for name in names:
        value = getattr(model, name)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise ConfigError(f"{type(model).__name__}.{name} = {float(value)!r} is not allowed: "
                              "expected a finite number")


def _resolve_converter(model):
    """aihwkit's ``deepcopy(g_converter) or SinglePairConductanceConverter(g_max)``, then
    ``g_max`` taken from the converter. The default is built only when no converter is given,
    so a ``g_max`` that a given converter replaces is never checked (as in aihwkit)."""
    if model.g_converter is None:
        model._validate_field("g_max")   # (its own check, before the converter's)
        model.g_converter = SinglePairConductanceConverter(g_max=model.g_max)
    elif isinstance(model.g_converter, ConfigBase):
        model.g_converter = model.g_converter.copy()
    converter_g_max = getattr(model.g_converter, "g_max", None)
    if converter_g_max is not None:
        model.g_max = converter_g_max
    if model.g_max is None:
        raise ConfigError(
            f"{type(model).__name__}.g_max = None is not allowed: expected a conductance in uS "
            "(it cannot be taken from the converter)"
        )


def _resolve_prog_coeff(model, default_coeff, default_ref):
    """Default coefficients come with their fitting reference; given ones default to g_max."""
    if model.prog_coeff is None:
        model.prog_coeff = list(default_coeff)
        if model.prog_coeff_g_max_reference is None:
            model.prog_coeff_g_max_reference = default_ref
    elif model.prog_coeff_g_max_reference is None:
        model.prog_coeff_g_max_reference = model.g_max


@config_class
class BaseNoiseModel(ConfigBase):
    """Base of the statistical inference noise models (parameters only)."""


@config_class
class PCMLikeNoiseModel(BaseNoiseModel):
    """Statistical PCM model: programming noise, conductance-dependent drift, 1/f read noise.

    Parameters; :mod:`rpu.inference.noise_models` applies the noise. The constructor
    mirrors aihwkit's: ``None`` arguments are resolved in ``__post_init__`` and stored.

    Parameters
    ----------
    prog_coeff : list of float or None, default None
        Coefficients ``c_k`` of the programming-noise std ``sum_k c_k (g/g_max)^k`` in uS.
        ``None`` gives ``[0.26348, 1.9650, -1.1731]`` with reference ``g_max`` 25 uS.
    g_converter : BaseConductanceConverter or None, default None
        Weight-to-conductance converter; ``None`` gives
        ``SinglePairConductanceConverter(g_max=g_max)``. A given converter is copied.
    g_max : float or None, default None
        Maximal conductance in uS; always replaced by the converter's ``g_max`` (25 by default).
    t_read : float, default 250e-9
        Read duration in seconds in the 1/f read-noise formula (> 0).
    t_0 : float, default 20.0
        Time in seconds after programming at which drift starts; ``t_inference`` counts from
        there (> 0).
    prog_noise_scale : float, default 1.0
        Factor on the programming noise (>= 0).
    read_noise_scale : float, default 1.0
        Factor on the read noise (>= 0).
    drift_scale : float, default 1.0
        Factor on the drift exponents (>= 0).
    prog_coeff_g_max_reference : float or None, default None
        ``g_max`` the coefficients were fitted at; the programming noise is scaled by
        ``g_max / reference``. ``None`` gives 25 with the default coefficients and ``g_max``
        otherwise. aihwkit 1.1.0 never stores a reference given together with ``prog_coeff``
        (applying the model then fails) [bug?]; rpu stores it.
    """

    prog_coeff: Optional[List[float]] = param(None)
    g_converter: Optional[BaseConductanceConverter] = param(None)
    g_max: Optional[float] = param(None, gt=0.0, note="in uS")
    t_read: float = param(250.0e-9, gt=0.0, note="in seconds")
    t_0: float = param(20.0, gt=0.0, note="in seconds")
    prog_noise_scale: float = param(1.0, ge=0.0)
    read_noise_scale: float = param(1.0, ge=0.0)
    drift_scale: float = param(1.0, ge=0.0)
    prog_coeff_g_max_reference: Optional[float] = param(None, gt=0.0, note="in uS")

    def __post_init__(self) -> None:
        _refuse_non_finite(self, ("g_max",))
        _resolve_converter(self)
        _resolve_prog_coeff(self, _PCM_PROG_COEFF, _PCM_PROG_COEFF_G_MAX_REFERENCE)
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("prog_coeff", "g_converter", "g_max",
                                     "prog_coeff_g_max_reference"))
        _check_coeff(f"{path}.prog_coeff", self.prog_coeff)


_CUSTOM_DRIFT_KEYS = ("g_lst", "nu_mean_lst", "nu_std_lst")


def _converter_g_range(converter):
    """The conductance range a converter produces, in uS (CustomPair: its tables' range)."""
    if isinstance(converter, CustomPairConductanceConverter):
        return (min(min(g) for g in converter.g_lst), max(max(g) for g in converter.g_lst))
    g_min, g_max = getattr(converter, "g_min", None), getattr(converter, "g_max", None)
    if g_min is None or g_max is None:
        return None
    return g_min, g_max


@config_class
class CustomDriftPCMLikeNoiseModel(BaseNoiseModel):
    """:class:`PCMLikeNoiseModel` with a drift exponent interpolated from a user table.

    ``nu = drift_scale |mu(g_T) + sigma(g_T) xi|`` with ``mu``, ``sigma`` linearly interpolated
    (``numpy.interp``) from the table at the target conductance clipped to the table's range.
    Programming and read noise are those of :class:`PCMLikeNoiseModel`.

    Parameters
    ----------
    custom_drift_model : dict
        ``{"g_lst": [...], "nu_mean_lst": [...], "nu_std_lst": [...]}``: conductances in uS
        (ascending, >= 0), mean and std (>= 0) of the drift exponent there; each list has the
        same length >= 2. The converter's conductance range must lie inside ``g_lst``'s.
    prog_coeff, g_converter, g_max, t_read, t_0, prog_noise_scale, read_noise_scale, \
drift_scale, prog_coeff_g_max_reference
        As in :class:`PCMLikeNoiseModel`.

    Notes
    -----
    In aihwkit this class derives from ``PCMLikeNoiseModel``; here it is a sibling (the
    dataclass field order must start with ``custom_drift_model``), applied by the same code.
    aihwkit clips the caller's target conductances in place when drawing ``nu``; rpu leaves its
    inputs unchanged. aihwkit checks the range of a ``CustomPairConductanceConverter`` against its
    ``g_min``/``g_max`` (the unused defaults 0 and 25) instead of its ``g_lst`` tables, as its
    code intends [bug?]; rpu checks the tables' range.
    """

    custom_drift_model: Dict[str, List[float]] = param()
    prog_coeff: Optional[List[float]] = param(None)
    g_converter: Optional[BaseConductanceConverter] = param(None)
    g_max: Optional[float] = param(None, gt=0.0, note="in uS")
    t_read: float = param(250.0e-9, gt=0.0, note="in seconds")
    t_0: float = param(20.0, gt=0.0, note="in seconds")
    prog_noise_scale: float = param(1.0, ge=0.0)
    read_noise_scale: float = param(1.0, ge=0.0)
    drift_scale: float = param(1.0, ge=0.0)
    prog_coeff_g_max_reference: Optional[float] = param(None, gt=0.0, note="in uS")

    def __post_init__(self) -> None:
        _refuse_non_finite(self, ("g_max",))
        _resolve_converter(self)
        _resolve_prog_coeff(self, _PCM_PROG_COEFF, _PCM_PROG_COEFF_G_MAX_REFERENCE)
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("prog_coeff", "g_converter", "g_max",
                                     "prog_coeff_g_max_reference"))
        _check_coeff(f"{path}.prog_coeff", self.prog_coeff)
        table = self.custom_drift_model
        where = f"{path}.custom_drift_model"
        if sorted(table) != sorted(_CUSTOM_DRIFT_KEYS):
            raise ConfigError(f"{where} has the keys {sorted(table)}, which is not allowed: "
                              f"expected exactly {list(_CUSTOM_DRIFT_KEYS)}")
        lengths = {len(v) for v in table.values()}
        if len(lengths) != 1 or min(lengths) < 2:
            raise ConfigError(f"{where} lists have lengths {sorted(lengths)}, which is not "
                              "allowed: expected one common length >= 2")
        g_lst = table["g_lst"]
        if any(b < a for a, b in zip(g_lst, g_lst[1:])) or g_lst[0] < 0:
            raise ConfigError(f"{where}['g_lst'] = {g_lst!r} is not allowed: expected "
                              "ascending conductances >= 0")
        if min(table["nu_std_lst"]) < 0:
            raise ConfigError(f"{where}['nu_std_lst'] = {table['nu_std_lst']!r} is not "
                              "allowed: expected values >= 0")
        g_range = _converter_g_range(self.g_converter)
        if g_range is None:
            raise ConfigError(f"{path}.g_converter = {type(self.g_converter).__name__} is not "
                              "allowed: expected a converter with a known conductance range")
        if g_range[0] < g_lst[0] or g_range[1] > g_lst[-1]:
            raise ConfigError(
                f"{where}['g_lst'] spans [{g_lst[0]!r}, {g_lst[-1]!r}] uS, which is not allowed: "
                f"expected it to contain the converter's range [{g_range[0]!r}, {g_range[1]!r}]"
            )


@config_class
class StateIndependentNoiseModel(BaseNoiseModel):
    """Programming noise from a polynomial, a conductance-independent drift exponent and read
    noise relative to ``g_max``.

    ``g_prog = max(0, g_T + prog_noise_scale sum_k c_k (g_T/g_max)^k xi)``;
    ``nu = drift_scale |drift_nu_mean + drift_nu_std xi|``; ``g_d = g_prog (t/t_0)^-nu``;
    ``g = max(0, g_d + |g_d/g_max| read_noise_scale sqrt(ln((t + t_read)/(2 t_read))) xi)``,
    with ``t = t_inference + t_0``.

    Parameters
    ----------
    g_converter : BaseConductanceConverter or None, default None
        ``None`` gives ``SinglePairConductanceConverter(g_max=g_max)``; a given one is copied.
    g_max : float or None, default None
        Maximal conductance in uS; replaced by the converter's (25 by default).
    prog_coeff : list of float or None, default None -> [0.2, 0.0, 0.0]
        Programming-noise polynomial in uS (no reference scaling).
    prog_noise_scale : float, default 1.0
    drift_nu_mean : float, default 0.1
        Mean of the drift exponent before folding.
    drift_nu_std : float, default 0.05
        Its device-to-device std (>= 0).
    drift_scale : float, default 1.0
    t_0 : float, default 20.0
        Seconds after programming at which drift starts (> 0).
    read_noise_scale : float, default 1.0
    t_read : float, default 250e-9
        Read duration in seconds (> 0).
    """

    g_converter: Optional[BaseConductanceConverter] = param(None)
    g_max: Optional[float] = param(None, gt=0.0, note="in uS")
    prog_coeff: Optional[List[float]] = param(None)
    prog_noise_scale: float = param(1.0, ge=0.0)
    drift_nu_mean: float = param(0.1)
    drift_nu_std: float = param(0.05, ge=0.0)
    drift_scale: float = param(1.0, ge=0.0)
    t_0: float = param(20.0, gt=0.0, note="in seconds")
    read_noise_scale: float = param(1.0, ge=0.0)
    t_read: float = param(250.0e-9, gt=0.0, note="in seconds")

    def __post_init__(self) -> None:
        _refuse_non_finite(self, ("g_max",))
        _resolve_converter(self)
        if self.prog_coeff is None:
            self.prog_coeff = list(_STATE_INDEPENDENT_PROG_COEFF)
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("prog_coeff", "g_converter", "g_max"))
        _check_coeff(f"{path}.prog_coeff", self.prog_coeff)


def _check_coeff_table(path, table):
    if len(table) == 0:
        raise ConfigError(f"{path} = {{}} is not allowed: expected at least one entry")
    for key, coeff in table.items():
        if not math.isfinite(key):
            raise ConfigError(f"{path} key {key!r} is not allowed: expected a finite number")
        _check_coeff(f"{path}[{key!r}]", coeff)


@config_class
class ReRamWan2022NoiseModel(BaseNoiseModel):
    """ReRAM model fitted to Wan et al., Nature 2022: polynomial spreads at fixed times.

    Programming: ``g = max(0, g_T + noise_scale P_t0(g_T/g_max) (g_max/reference) xi)`` with the
    polynomial ``P`` of the smallest time key. At ``t_inference`` (which must be one of the keys)
    the conductance is a fresh sample ``max(0, g_T + noise_scale P_t(...) ... xi)`` around the
    *target* ``g_T``; the programmed value is not used (ReRAM does not drift as a power law).

    Parameters
    ----------
    coeff_dic : dict of float -> list of float, or None
        ``{time in s: [c_0, c_1, ...]}`` in uS. ``None`` gives the published fits at 1 s, 1 day
        and 2 days, fitted at ``g_max`` 40 uS.
    g_converter : BaseConductanceConverter or None, default None
        ``None`` gives ``SinglePairConductanceConverter(g_max=g_max)``; a given one is copied.
    g_max : float or None, default None
        Maximal conductance in uS; replaced by the converter's (25 by default).
    noise_scale : float, default 1.0
        Factor on every spread (>= 0).
    coeff_g_max_reference : float or None, default None
        ``g_max`` the coefficients were fitted at; spreads are scaled by ``g_max / reference``.
        ``None`` gives 40 with the default ``coeff_dic`` and ``g_max`` otherwise.

    Notes
    -----
    aihwkit 1.1.0 stores its 40 uS reference of the default fits under another attribute
    (``prog_coeff_g_max_reference``), so it always scales by ``g_max / g_max = 1``, and it never
    stores a reference that is given [bug?]. rpu applies the reference as documented: pass
    ``coeff_g_max_reference=g_max`` to get aihwkit's numbers.
    """

    coeff_dic: Optional[Dict[float, List[float]]] = param(None)
    g_converter: Optional[BaseConductanceConverter] = param(None)
    g_max: Optional[float] = param(None, gt=0.0, note="in uS")
    noise_scale: float = param(1.0, ge=0.0)
    coeff_g_max_reference: Optional[float] = param(None, gt=0.0, note="in uS")

    def __post_init__(self) -> None:
        _refuse_non_finite(self, ("g_max",))
        _resolve_converter(self)
        if self.coeff_dic is None:
            self.coeff_dic = {k: list(v) for k, v in _RERAM_WAN_COEFF.items()}
            if self.coeff_g_max_reference is None:
                self.coeff_g_max_reference = _RERAM_WAN_G_MAX_REFERENCE
        elif self.coeff_g_max_reference is None:
            self.coeff_g_max_reference = self.g_max
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("coeff_dic", "g_converter", "g_max",
                                     "coeff_g_max_reference"))
        _check_coeff_table(f"{path}.coeff_dic", self.coeff_dic)
        for key in self.coeff_dic:
            if not key > 0:
                raise ConfigError(f"{path}.coeff_dic key {key!r} is not allowed: expected a "
                                  "time in seconds > 0")


@config_class
class ReRamCMONoiseModel(BaseNoiseModel):
    """ReRAM model of CMO/HfOx devices (IBM Research Zurich): one device per weight.

    Programming: ``g = g_T + prog_noise_scale (c_0 + c_1 g_T) xi`` (g in uS, no clipping), with
    the coefficients of the acceptance range. At ``t_inference = t > 0``:
    ``g_d = g_prog + mean_0 ln(t) drift_scale + (std_0 ln(t) + std_1) drift_scale xi_1``, then
    ``g = clip(g_d + K log10(g_d) sqrt(ln((t + t_read)/(2 t_read))) read_noise_scale xi_2,
    g_min, g_max)``; at ``t = 0`` the programmed conductances are returned.

    Parameters
    ----------
    coeff_dict : dict of float -> list of float, or None
        ``{acceptance range in %: [c_0, c_1]}`` in uS; ``None`` gives the fits at 0.2 % and 2 %.
    g_max, g_min : float or None
        Conductance range in uS of the :class:`SingleDeviceConductanceConverter` (defaults
        88.199997 and 9.0), which the model always uses (``g_converter`` is derived, not a
        constructor argument, as in aihwkit).
    prog_noise_scale, read_noise_scale, drift_scale : float, default 1.0
    decay_dict : dict of str -> list of float, or None
        ``{"mean": [mean_0], "std": [std_0, std_1]}`` in uS; ``None`` gives the fits.
    read_dict : dict of str -> float, or None
        ``{"K": K, "t_read": t_read}`` (t_read in s, > 0); ``None`` gives K = 0.0277316483,
        t_read = 1e-6.
    acceptance_range : float, default 0.02
        Key of ``coeff_dict`` to program with; a value that is not a key is replaced by the
        smallest key, as in aihwkit. The default 0.02 is not a key of the default table (whose
        keys are in %), so it becomes 0.2, as in aihwkit.

    Notes
    -----
    For ``g_d <= 0`` aihwkit's ``log10`` gives NaN weights; rpu uses read-noise std 0 there.
    """

    coeff_dict: Optional[Dict[float, List[float]]] = param(None)
    g_max: Optional[float] = param(None, ge=0.0, note="in uS")
    g_min: Optional[float] = param(None, ge=0.0, note="in uS")
    prog_noise_scale: float = param(1.0, ge=0.0)
    read_noise_scale: float = param(1.0, ge=0.0)
    drift_scale: float = param(1.0, ge=0.0)
    decay_dict: Optional[Dict[str, List[float]]] = param(None)
    read_dict: Optional[Dict[str, float]] = param(None)
    acceptance_range: float = param(2e-2)
    g_converter: Optional[BaseConductanceConverter] = param(None, init=False)

    def __post_init__(self) -> None:
        _refuse_non_finite(self, ("g_max", "g_min", "acceptance_range"))
        self.g_converter = SingleDeviceConductanceConverter(g_max=self.g_max, g_min=self.g_min)
        self.g_max, self.g_min = self.g_converter.g_max, self.g_converter.g_min
        if self.coeff_dict is None:
            self.coeff_dict = {k: list(v) for k, v in _RERAM_CMO_COEFF.items()}
        if self.decay_dict is None:
            self.decay_dict = {k: list(v) for k, v in _RERAM_CMO_DECAY.items()}
        if self.read_dict is None:
            self.read_dict = dict(_RERAM_CMO_READ)
        if self.acceptance_range not in self.coeff_dict and len(self.coeff_dict):
            self.acceptance_range = float(min(self.coeff_dict))
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("coeff_dict", "g_max", "g_min", "decay_dict", "read_dict",
                                     "g_converter"))
        _check_g_range(self, path)
        if not isinstance(self.g_converter, SingleDeviceConductanceConverter) or (
                self.g_converter.g_max, self.g_converter.g_min) != (self.g_max, self.g_min):
            raise ConfigError(f"{path}.g_converter = {self.g_converter!r} is not allowed: "
                              "expected SingleDeviceConductanceConverter(g_max, g_min) with the "
                              "model's g_max and g_min")
        _check_coeff_table(f"{path}.coeff_dict", self.coeff_dict)
        if self.acceptance_range not in self.coeff_dict:
            raise ConfigError(f"{path}.acceptance_range = {self.acceptance_range!r} is not "
                              f"allowed: expected a key of coeff_dict, {sorted(self.coeff_dict)}")
        for key, n in (("mean", 1), ("std", 2)):
            if len(self.decay_dict.get(key, ())) < n:
                raise ConfigError(f"{path}.decay_dict[{key!r}] is missing or too short: "
                                  f"expected at least {n} coefficient(s)")
        if "K" not in self.read_dict or not self.read_dict.get("t_read", 0.0) > 0:
            raise ConfigError(f"{path}.read_dict = {self.read_dict!r} is not allowed: expected "
                              "the keys 'K' and 't_read' (> 0 s)")


@config_class
class HermesNoiseModel(BaseNoiseModel):
    """PCM model of IBM's HERMES chip (Le Gallo et al. 2023), 1 or 2 devices per unit cell.

    As :class:`PCMLikeNoiseModel` with the chip's fits: a cubic programming-noise polynomial,
    piecewise drift-exponent moments and a piecewise read-noise ``Q_s`` (spec 4.4).

    Parameters
    ----------
    prog_coeff : list of float or None, default None
        ``None`` gives the chip's fit for ``num_devices`` (reference g_max 20.7 or 10.35 uS).
    g_converter : BaseConductanceConverter or None, default None
        ``None`` gives ``SinglePairConductanceConverter(g_max=g_max)``; a given one is copied.
    num_devices : int, default 2
        Devices per unit cell, 1 or 2.
    g_max : float or None, default None
        Maximal conductance in uS: 20.7 (2 devices) or 10.35 (1 device) by default, and at most
        that (also when taken from a given converter).
    t_read : float, default 512e-9
        Read duration in seconds (> 0).
    t_0 : float or None, default None
        Drift start in seconds: 300 (2 devices) or 200 (1 device) by default.
    prog_noise_scale, read_noise_scale, drift_scale : float, default 1.0
    prog_coeff_g_max_reference : float or None, default None
        As in :class:`PCMLikeNoiseModel`.

    Notes
    -----
    aihwkit checks the ``g_max`` limit only on the argument, not on a converter's ``g_max``, and
    never stores a ``prog_coeff_g_max_reference`` that is given [bug?]; rpu checks the
    resolved ``g_max`` and stores the reference.
    """

    prog_coeff: Optional[List[float]] = param(None)
    g_converter: Optional[BaseConductanceConverter] = param(None)
    num_devices: int = param(2, ge=1, le=2)
    g_max: Optional[float] = param(None, gt=0.0, note="in uS")
    t_read: float = param(512.0e-9, gt=0.0, note="in seconds")
    t_0: Optional[float] = param(None, gt=0.0, note="in seconds")
    prog_noise_scale: float = param(1.0, ge=0.0)
    read_noise_scale: float = param(1.0, ge=0.0)
    drift_scale: float = param(1.0, ge=0.0)
    prog_coeff_g_max_reference: Optional[float] = param(None, gt=0.0, note="in uS")

    def __post_init__(self) -> None:
        if self.num_devices not in _HERMES:
            raise ConfigError(f"HermesNoiseModel.num_devices = {self.num_devices!r} is not "
                              "allowed: expected 1 or 2")
        coeff, g_max, t_0 = _HERMES[self.num_devices]
        if self.t_0 is None:
            self.t_0 = t_0
        if self.g_max is None:
            self.g_max = g_max
        _refuse_non_finite(self, ("g_max",))
        _resolve_converter(self)
        _resolve_prog_coeff(self, coeff, g_max)
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_not_none(self, path, ("prog_coeff", "g_converter", "g_max", "t_0",
                                     "prog_coeff_g_max_reference"))
        _check_coeff(f"{path}.prog_coeff", self.prog_coeff)
        limit = _HERMES[self.num_devices][1]
        if self.g_max > limit:
            raise ConfigError(f"{path}.g_max = {self.g_max!r} is not allowed: expected at most "
                              f"{limit} uS, the largest conductance characterised with "
                              f"num_devices = {self.num_devices}")


# ----- drift compensation --------------------------------------------------------------------

@config_class
class BaseDriftCompensation(ConfigBase):
    """Base of the drift-compensation methods (parameters only)."""


@config_class
class GlobalDriftCompensation(BaseDriftCompensation):
    """One global output factor that undoes the mean conductance drift.

    After programming, the tile reads the one-hot inputs (``eye(in_size)``) through its full
    forward model and stores ``max(mean|Y|, 1e-4)``; after drift the same read-out gives the
    factor ``reference / now`` applied to the outputs. No parameters; applied by
    :mod:`rpu.inference.compensation`.
    """


@config_class
class GlobalDriftCompensationWithExactReference(GlobalDriftCompensation):
    """:class:`GlobalDriftCompensation` whose reference is read out exactly.

    The baseline is ``max(mean|eye @ W_ref.T|, 1e-4)`` from the target weights, without the
    forward's IO non-idealities; the read-outs after drift still go through the full forward.
    """


@config_class
class PerColumnDriftCompensation(BaseDriftCompensation):
    """One factor per output: ``max(mean over read-out rows |Y|, 1e-4)``, a vector (out_size,).

    The baseline and the factors ``reference / now`` are vectors of the tile's output size.
    """
