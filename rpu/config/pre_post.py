"""Digital pre- and post-processing around the tile: input-range learning and periphery
quantisation.

``PrePostProcessingParameter`` is the ``pre_post`` field of every RPU config;
``PrePostProcessingParameterQuant`` adds the periphery quantisation used by aihwkit's quantised
torch inference tile.
"""

from typing import Optional

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param

__all__ = [
    "InputRangeParameter",
    "PeripheryQuantizationParameter",
    "PrePostProcessingParameter",
    "PrePostProcessingParameterQuant",
]


@config_class
class InputRangeParameter(ConfigBase):
    """Learned (or calibrated) static input range ``r`` that replaces noise management.

    When enabled, the input is clipped to ``[-r, r]`` and divided by ``r`` before the tile; the
    output is multiplied by ``r``. The tile's ``inp_bound`` is then assumed to be 1; noise and
    bound management are usually set to ``NONE`` (not enforced, except for
    ``manage_output_clipping``).

    Parameters
    ----------
    enable : bool, default False
        Use an input range at all (if False nothing is clipped).
    learn_input_range : bool, default True
        Learn ``r`` by gradient descent (otherwise it stays at its initial/calibrated value).
    init_value : float, default 3.0
        Initial ``r`` (> 0).
    init_from_data : int, default 100
        Number of training batches over which ``r`` is initialised from the data as a running
        average of ``init_std_alpha * std(x)`` (0 switches this off).
    init_std_alpha : float, default 3.0
        Multiple of the input std used by the data initialisation (>= 0).
    decay : float, default 0.001
        Strength of the term that shrinks ``r`` while few inputs clip (>= 0).
    input_min_percentage : float, default 0.95
        ``r`` shrinks only while the fraction of unclipped inputs is above this (in ``[0, 1]``).
    manage_output_clipping : bool, default False
        Grow ``r`` when outputs clip. Needs a non-perfect forward with noise and bound
        management ``NONE`` (checked by the RPU config).
    output_min_percentage : float, default 0.95
        ``r`` grows while the fraction of unclipped outputs is below this (in ``[0, 1]``).
    gradient_scale : float, default 1.0
        Factor on the gradient of ``r`` (applied only when ``gradient_relative``).
    gradient_relative : bool, default True
        Make the gradient of ``r`` relative to ``r``.
    calibration_info : str or None, default None
        Free text describing how ``r`` was calibrated (informational).
    """

    enable: bool = param(False)
    learn_input_range: bool = param(True)
    init_value: float = param(3.0, gt=0.0)
    init_from_data: int = param(100, ge=0, note="0 switches the data initialisation off")
    init_std_alpha: float = param(3.0, ge=0.0)
    decay: float = param(0.001, ge=0.0)
    input_min_percentage: float = param(0.95, ge=0.0, le=1.0, note="a fraction")
    manage_output_clipping: bool = param(False)
    output_min_percentage: float = param(0.95, ge=0.0, le=1.0, note="a fraction")
    gradient_scale: float = param(1.0)
    gradient_relative: bool = param(True)
    calibration_info: Optional[str] = param(None)


@config_class
class PeripheryQuantizationParameter(ConfigBase):
    """Quantisation of the digital output scales and of the digital bias.

    Parameters
    ----------
    n_bits : int, default 0
        Number of bits (<= 0: no quantisation).
    symmetric : bool, default True
        Symmetric instead of asymmetric (zero-point) quantisation.
    learn_quant_params : bool, default False
        Learn the quantisation step (and zero point) after ``init_learning_after`` batches.
    init_learning_after : int, default 100
        Number of batches during which the range is estimated before learning starts (must be
        >= 1 when ``learn_quant_params``).
    """

    n_bits: int = param(0, note="<= 0 switches the quantisation off")
    symmetric: bool = param(True)
    learn_quant_params: bool = param(False)
    init_learning_after: int = param(100)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if self.learn_quant_params and self.init_learning_after < 1:
            raise ConfigError(
                f"{path}.init_learning_after = {self.init_learning_after!r} is not allowed: "
                "expected an integer >= 1 when learn_quant_params is True"
            )


@config_class
class PrePostProcessingParameter(ConfigBase):
    """Digital processing before and after the tile.

    Parameters
    ----------
    input_range : InputRangeParameter
        Input-range learning (off by default).
    """

    input_range: InputRangeParameter = param(factory=InputRangeParameter)


@config_class
class PrePostProcessingParameterQuant(PrePostProcessingParameter):
    """Digital processing with periphery quantisation.

    Parameters
    ----------
    input_range : InputRangeParameter
        Input-range learning (off by default).
    periph_quant : PeripheryQuantizationParameter
        Quantisation of output scales and bias (off by default).
    """

    periph_quant: PeripheryQuantizationParameter = param(factory=PeripheryQuantizationParameter)
