"""Presets of IBM's web composer (``aihwkit.simulator.presets.web`` in aihwkit 1.1.0).

Not exported by ``rpu.presets`` (aihwkit does not export them either); import them from here.
"""

from rpu.config._base import config_class
from rpu.config.configs import InferenceRPUConfig
from rpu.config.enums import WeightClipType, WeightModifierType
from rpu.config.inference import WeightClipParameter, WeightModifierParameter
from rpu.config.io import IOParameters
from rpu.config.mapping import MappingParameter
from rpu.config.noise_models import GlobalDriftCompensation, PCMLikeNoiseModel

from ._fields import defaults
from .utils import PRESET_IO_DEFAULTS

__all__ = [
    "WebComposerIOParameters",
    "WebComposerWeightModifierParameter",
    "WebComposerWeightClipParameter",
    "WebComposerMappingParameter",
    "WebComposerInferenceRPUConfig",
    "OldWebComposerMappingParameter",
    "OldWebComposerInferenceRPUConfig",
]


@config_class
@defaults(**PRESET_IO_DEFAULTS)
class WebComposerIOParameters(IOParameters):
    """Forward periphery of the web composer (the values of
    :class:`~rpu.presets.PresetIOParameters`: 7-bit DAC, 9-bit ADC, ``out_bound=20``,
    ``out_noise=0.1``)."""


@config_class
@defaults(type=WeightModifierType.ADD_NORMAL, std_dev=0.1)
class WebComposerWeightModifierParameter(WeightModifierParameter):
    """Additive Gaussian weight noise, std 0.1 (relative to the maximal weight), in training."""


@config_class
@defaults(fixed_value=1.0, type=WeightClipType.FIXED_VALUE)
class WebComposerWeightClipParameter(WeightClipParameter):
    """Weights clipped at the fixed value 1."""


@config_class
@defaults(
    digital_bias=True, weight_scaling_omega=1.0, weight_scaling_columnwise=True,
    learn_out_scaling=True, out_scaling_columnwise=False, max_input_size=512, max_output_size=512,
)
class WebComposerMappingParameter(MappingParameter):
    """Column-wise weight scaling to 1 with learned (per-tile) output scales, 512x512 tiles."""


@config_class
@defaults(
    forward=WebComposerIOParameters, noise_model=PCMLikeNoiseModel,
    drift_compensation=GlobalDriftCompensation, clip=WebComposerWeightClipParameter,
    modifier=WebComposerWeightModifierParameter, mapping=WebComposerMappingParameter,
)
class WebComposerInferenceRPUConfig(InferenceRPUConfig):
    """Inference configuration of the web composer: the ``WebComposer*`` parameters above with
    PCM-like noise and global drift compensation."""


@config_class
@defaults(
    digital_bias=False, weight_scaling_omega=1.0, weight_scaling_columnwise=True,
    learn_out_scaling=False, out_scaling_columnwise=False, max_input_size=0, max_output_size=0,
)
class OldWebComposerMappingParameter(WebComposerMappingParameter):
    """Mapping of the earlier web composer: no digital bias, no learned output scales, no
    tile splitting."""


@config_class
@defaults(mapping=OldWebComposerMappingParameter)
class OldWebComposerInferenceRPUConfig(WebComposerInferenceRPUConfig):
    """:class:`WebComposerInferenceRPUConfig` with :class:`OldWebComposerMappingParameter`."""
