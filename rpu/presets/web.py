"""Presets of IBM's web composer (``aihwkit.simulator.presets.web`` in aihwkit 1.1.0).

Not exported by ``rpu.presets`` (aihwkit does not export them either); import them from here.
"""

from typing import Optional

from rpu.config._base import config_class
from rpu.config.configs import InferenceRPUConfig
from rpu.config.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightClipType,
    WeightModifierType,
    WeightNoiseType,
)
from rpu.config.inference import WeightClipParameter, WeightModifierParameter
from rpu.config.io import IOParameters
from rpu.config.mapping import MappingParameter
from rpu.config.noise_models import (
    BaseDriftCompensation,
    BaseNoiseModel,
    GlobalDriftCompensation,
    PCMLikeNoiseModel,
)

from ._fields import like

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
class WebComposerIOParameters(IOParameters):
    """Forward periphery of the web composer (the values of
    :class:`~rpu.presets.PresetIOParameters`: 7-bit DAC, 9-bit ADC, ``out_bound=20``,
    ``out_noise=0.1``)."""

    bound_management: BoundManagementType = like(IOParameters, "bound_management",
                                                 BoundManagementType.ITERATIVE)
    noise_management: NoiseManagementType = like(IOParameters, "noise_management",
                                                 NoiseManagementType.ABS_MAX)
    inp_res: float = like(IOParameters, "inp_res", 1.0 / (2**7 - 2))
    inp_sto_round: bool = like(IOParameters, "inp_sto_round", False)
    out_bound: float = like(IOParameters, "out_bound", 20.0)
    out_noise: float = like(IOParameters, "out_noise", 0.1)
    out_res: float = like(IOParameters, "out_res", 1.0 / (2**9 - 2))
    w_noise: float = like(IOParameters, "w_noise", 0.0)
    w_noise_type: WeightNoiseType = like(IOParameters, "w_noise_type", WeightNoiseType.NONE)


@config_class
class WebComposerWeightModifierParameter(WeightModifierParameter):
    """Additive Gaussian weight noise, std 0.1 (relative to the maximal weight), in training."""

    type: WeightModifierType = like(WeightModifierParameter, "type", WeightModifierType.ADD_NORMAL)
    std_dev: float = like(WeightModifierParameter, "std_dev", 0.1)


@config_class
class WebComposerWeightClipParameter(WeightClipParameter):
    """Weights clipped at the fixed value 1."""

    fixed_value: float = like(WeightClipParameter, "fixed_value", 1.0)
    type: WeightClipType = like(WeightClipParameter, "type", WeightClipType.FIXED_VALUE)


@config_class
class WebComposerMappingParameter(MappingParameter):
    """Column-wise weight scaling to 1 with learned (per-tile) output scales, 512x512 tiles."""

    digital_bias: bool = like(MappingParameter, "digital_bias", True)
    weight_scaling_omega: float = like(MappingParameter, "weight_scaling_omega", 1.0)
    weight_scaling_columnwise: bool = like(MappingParameter, "weight_scaling_columnwise", True)
    learn_out_scaling: bool = like(MappingParameter, "learn_out_scaling", True)
    out_scaling_columnwise: bool = like(MappingParameter, "out_scaling_columnwise", False)
    max_input_size: int = like(MappingParameter, "max_input_size", 512)
    max_output_size: int = like(MappingParameter, "max_output_size", 512)


@config_class
class WebComposerInferenceRPUConfig(InferenceRPUConfig):
    """Inference configuration of the web composer: the ``WebComposer*`` parameters above with
    PCM-like noise and global drift compensation."""

    forward: IOParameters = like(InferenceRPUConfig, "forward", factory=WebComposerIOParameters)
    noise_model: BaseNoiseModel = like(InferenceRPUConfig, "noise_model",
                                       factory=PCMLikeNoiseModel)
    drift_compensation: Optional[BaseDriftCompensation] = like(
        InferenceRPUConfig, "drift_compensation", factory=GlobalDriftCompensation
    )
    clip: WeightClipParameter = like(InferenceRPUConfig, "clip",
                                     factory=WebComposerWeightClipParameter)
    modifier: WeightModifierParameter = like(InferenceRPUConfig, "modifier",
                                             factory=WebComposerWeightModifierParameter)
    mapping: MappingParameter = like(InferenceRPUConfig, "mapping",
                                     factory=WebComposerMappingParameter)


@config_class
class OldWebComposerMappingParameter(WebComposerMappingParameter):
    """Mapping of the earlier web composer: no digital bias, no learned output scales, no
    tile splitting."""

    digital_bias: bool = like(MappingParameter, "digital_bias", False)
    weight_scaling_omega: float = like(MappingParameter, "weight_scaling_omega", 1.0)
    weight_scaling_columnwise: bool = like(MappingParameter, "weight_scaling_columnwise", True)
    learn_out_scaling: bool = like(MappingParameter, "learn_out_scaling", False)
    out_scaling_columnwise: bool = like(MappingParameter, "out_scaling_columnwise", False)
    max_input_size: int = like(MappingParameter, "max_input_size", 0)
    max_output_size: int = like(MappingParameter, "max_output_size", 0)


@config_class
class OldWebComposerInferenceRPUConfig(WebComposerInferenceRPUConfig):
    """:class:`WebComposerInferenceRPUConfig` with :class:`OldWebComposerMappingParameter`."""

    mapping: MappingParameter = like(InferenceRPUConfig, "mapping",
                                     factory=OldWebComposerMappingParameter)
