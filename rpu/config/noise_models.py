"""Parameters of the inference noise model, conductance converter and drift compensation.

These are the defaults ``InferenceRPUConfig`` needs (``noise_model``, ``drift_compensation``),
named and parameterised as in aihwkit 1.1.0 (``aihwkit.inference``). They only carry
parameters; :mod:`rpu.inference` applies them (PCMLikeNoiseModel, SinglePairConductanceConverter
and GlobalDriftCompensation so far); further models derive from :class:`BaseNoiseModel` / :class:`BaseDriftCompensation` /
:class:`BaseConductanceConverter`.
"""

from typing import List, Optional

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param

__all__ = [
    "BaseConductanceConverter",
    "SinglePairConductanceConverter",
    "BaseNoiseModel",
    "PCMLikeNoiseModel",
    "BaseDriftCompensation",
    "GlobalDriftCompensation",
]

_PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)
_PCM_PROG_COEFF_G_MAX_REFERENCE = 25.0


@config_class
class BaseConductanceConverter(ConfigBase):
    """Base of the weight <-> conductance converters (parameters only)."""


@config_class
class SinglePairConductanceConverter(BaseConductanceConverter):
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

    def __post_init__(self) -> None:
        if self.g_max is None:
            self.g_max = 25.0
        if self.g_min is None:
            self.g_min = 0.0
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        for name in ("g_max", "g_min"):
            if getattr(self, name) is None:  # only possible after a mutation
                raise ConfigError(
                    f"{path}.{name} = None is not allowed after construction: expected a "
                    "conductance in uS"
                )
        if not self.g_min < self.g_max:
            raise ConfigError(
                f"{path}.g_min = {self.g_min!r} is not allowed: expected a value < g_max = "
                f"{self.g_max!r}"
            )


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
        if self.g_converter is None:
            self.g_converter = SinglePairConductanceConverter(g_max=self.g_max)
        elif isinstance(self.g_converter, ConfigBase):
            self.g_converter = self.g_converter.copy()
        converter_g_max = getattr(self.g_converter, "g_max", None)
        if converter_g_max is not None:
            self.g_max = converter_g_max
        if self.g_max is None:
            raise ConfigError(
                "PCMLikeNoiseModel.g_max = None is not allowed: expected a conductance in uS "
                "(it cannot be taken from the converter)"
            )
        if self.prog_coeff is None:
            self.prog_coeff = list(_PCM_PROG_COEFF)
            if self.prog_coeff_g_max_reference is None:
                self.prog_coeff_g_max_reference = _PCM_PROG_COEFF_G_MAX_REFERENCE
        elif self.prog_coeff_g_max_reference is None:
            self.prog_coeff_g_max_reference = self.g_max
        super().__post_init__()

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        for name in ("prog_coeff", "g_converter", "g_max", "prog_coeff_g_max_reference"):
            if getattr(self, name) is None:  # only possible after a mutation
                raise ConfigError(
                    f"{path}.{name} = None is not allowed after construction: expected a value "
                    "(None is resolved only by the constructor)"
                )
        if len(self.prog_coeff) == 0:
            raise ConfigError(
                f"{path}.prog_coeff = [] is not allowed: expected at least one coefficient"
            )


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
