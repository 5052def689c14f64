"""Inference preset: the hardware-aware training configuration of aihwkit 1.1.0.

Same name and values as ``aihwkit.simulator.presets.inference.StandardHWATrainingPreset``.
aihwkit's other preset there, ``FloatingPointPreset``, derives from its torch-only
``TorchInferenceRPUConfig``, which rpu does not have; it is left out.
"""

from rpu.config._base import config_class
from rpu.config.configs import InferenceRPUConfig
from rpu.config.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightClipType,
    WeightNoiseType,
    WeightRemapType,
)
from rpu.config.inference import WeightClipParameter, WeightRemapParameter
from rpu.config.mapping import MappingParameter
from rpu.config.noise_models import GlobalDriftCompensation, PCMLikeNoiseModel
from rpu.config.pre_post import InputRangeParameter, PrePostProcessingParameter

from ._fields import defaults
from .utils import PresetIOParameters

__all__ = ["StandardHWATrainingPreset"]


def _hwa_mapping() -> MappingParameter:
    return MappingParameter(
        weight_scaling_omega=1.0,
        weight_scaling_columnwise=True,
        max_input_size=512,
        max_output_size=0,
        digital_bias=True,
        learn_out_scaling=True,
        out_scaling_columnwise=True,
    )


def _hwa_forward() -> PresetIOParameters:
    return PresetIOParameters(
        inp_res=254.0,
        out_res=254.0,
        bound_management=BoundManagementType.NONE,
        noise_management=NoiseManagementType.CONSTANT,
        nm_thres=1.0,
        w_noise=0.0175,
        w_noise_type=WeightNoiseType.PCM_READ,
        ir_drop=1.0,
        out_noise=0.04,
        out_bound=10.0,
    )


def _hwa_remap() -> WeightRemapParameter:
    return WeightRemapParameter(remapped_wmax=1.0, type=WeightRemapType.CHANNELWISE_SYMMETRIC)


def _hwa_pre_post() -> PrePostProcessingParameter:
    return PrePostProcessingParameter(
        input_range=InputRangeParameter(
            enable=True,
            init_value=3.0,
            init_from_data=100,
            init_std_alpha=3.0,
            decay=0.001,
            input_min_percentage=0.95,
            output_min_percentage=0.95,
            manage_output_clipping=False,
            gradient_scale=1.0,
            gradient_relative=True,
        )
    )


def _hwa_clip() -> WeightClipParameter:
    return WeightClipParameter(type=WeightClipType.FIXED_VALUE, fixed_value=1.0)


@config_class
@defaults(
    mapping=_hwa_mapping, forward=_hwa_forward, remap=_hwa_remap, noise_model=PCMLikeNoiseModel,
    drift_compensation=GlobalDriftCompensation, pre_post=_hwa_pre_post, clip=_hwa_clip,
)
class StandardHWATrainingPreset(InferenceRPUConfig):
    """Hardware-aware training setting of Rasch et al., Nat. Commun. 2023 (aihwkit's preset).

    * ``mapping``: column-wise weight scaling to ``omega = 1`` with learned column-wise output
      scales, digital bias, inputs split at 512, outputs not split.
    * ``forward``: :class:`~rpu.presets.PresetIOParameters` with 8-bit DAC and ADC
      (``inp_res = out_res = 254`` steps), constant noise management (``nm_thres = 1``), no
      bound management, PCM read noise ``w_noise = 0.0175``, IR drop on (``ir_drop = 1``),
      ``out_noise = 0.04``, ``out_bound = 10``.
    * ``remap``: channel-wise symmetric remapping to ``remapped_wmax = 1``.
    * ``pre_post``: input-range learning on (initial range 3, initialised from 100 batches).
    * ``clip``: fixed clipping at 1.
    * ``noise_model``, ``drift_compensation``: PCM-like noise, global drift compensation
      (the defaults of :class:`~rpu.config.InferenceRPUConfig`).
    """
