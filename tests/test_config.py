"""Tests of rpu.config: defaults, validation, repr, JSON round trip, aihwkit parity of fields.

The defaults table below was written from aihwkit 1.1.0's parameter classes (and checked against
the spec, training.md §1.1/§2.1/§3.1 and inference.md §1-§5); ``test_fields_match_aihwkit``
re-checks it against a running aihwkit when ``AIHWKIT_PYTHON`` names its interpreter.
"""

import copy
import dataclasses
import enum
import json
import os
import subprocess

import numpy as np
import pytest

import rpu.config as C
from rpu.errors import ConfigError

# Field order and default of every class, as in aihwkit 1.1.0. Nested configurations are given
# as "<ClassName>"; enums by their string value. aihwkit's torch-only ``tile_class`` and
# ``tile_array_class`` are left out of rpu's RPU configs.
DEFAULTS = {
    'IOParameters': {
        'is_perfect': False,
        'mv_type': 'OnePass',
        'inp_bound': 1.0,
        'inp_noise': 0.0,
        'inp_res': 0.007936507936507936,
        'inp_sto_round': False,
        'inp_asymmetry': 0.0,
        'out_bound': 12.0,
        'out_noise': 0.06,
        'out_noise_std': 0.0,
        'out_res': 0.00196078431372549,
        'out_sto_round': False,
        'out_scale': 1.0,
        'out_asymmetry': 0.0,
        'bound_management': 'Iterative',
        'noise_management': 'AbsMax',
        'w_noise': 0.0,
        'w_noise_type': 'None',
        'ir_drop': 0.0,
        'ir_drop_g_ratio': 571428.5714285714,
        'out_nonlinearity': 0.0,
        'out_nonlinearity_std': 0.0,
        'slope_calibration': 0.0,
        'v_offset_std': 0.0,
        'v_offset_w_min': -1.0,
        'r_series': 0.0,
        'w_read_asymmetry_dtod': 0.0,
        'max_bm_factor': 1000,
        'max_bm_res': 0.25,
        'bm_test_negative_bound': True,
        'nm_thres': 0.0,
    },
    'UpdateParameters': {
        'desired_bl': 31,
        'fixed_bl': True,
        'pulse_type': 'StochasticCompressed',
        'res': 0,
        'x_res_implicit': 0,
        'd_res_implicit': 0,
        'd_sparsity': False,
        'sto_round': False,
        'update_bl_management': True,
        'update_management': True,
        'um_grad_scale': 1.0,
    },
    'SimpleDriftParameter': {
        'nu': 0.0,
        't_0': 1.0,
        'reset_tol': 1e-07,
    },
    'DriftParameter': {
        'nu': 0.0,
        't_0': 1.0,
        'reset_tol': 1e-07,
        'nu_dtod': 0.0,
        'nu_std': 0.0,
        'wg_ratio': 1.0,
        'g_offset': 0.0,
        'w_offset': 0.0,
        'nu_k': 0.0,
        'log_g0': 0.0,
        'w_noise_std': 0.0,
    },
    'WeightModifierParameter': {
        'std_dev': 0.0,
        'per_batch_sample': False,
        'res': 0.0,
        'sto_round': False,
        'dorefa_clip': 0.6,
        'pdrop': 0.0,
        'enable_during_test': False,
        'rel_to_actual_wmax': True,
        'assumed_wmax': 1.0,
        'copy_last_column': False,
        'coeffs': [0.0105392, 0.0768, -0.046925],
        'type': 'None',
        'g_max': 25.0,
        'pcm_zero_thres': 0.0,
        'pcm_t_inference': 0.0,
        'pcm_prob_at_reset': 0.0,
        'pcm_prob_at_gmax': 0.0,
        'pcm_prob_at_random': 0.0,
        'pcm_t0': 20.0,
    },
    'WeightClipParameter': {
        'fixed_value': -1.0,
        'sigma': 2.5,
        'type': 'None',
    },
    'WeightRemapParameter': {
        'remapped_wmax': 1.0,
        'max_scale_range': 0.0,
        'max_scale_ref': 0.0,
        'type': 'None',
    },
    'MappingParameter': {
        'digital_bias': True,
        'weight_scaling_omega': 0.0,
        'weight_scaling_columnwise': False,
        'weight_scaling_lr_compensation': False,
        'learn_out_scaling': False,
        'out_scaling_columnwise': False,
        'max_input_size': 512,
        'max_output_size': 512,
    },
    'InputRangeParameter': {
        'enable': False,
        'learn_input_range': True,
        'init_value': 3.0,
        'init_from_data': 100,
        'init_std_alpha': 3.0,
        'decay': 0.001,
        'input_min_percentage': 0.95,
        'manage_output_clipping': False,
        'output_min_percentage': 0.95,
        'gradient_scale': 1.0,
        'gradient_relative': True,
        'calibration_info': None,
    },
    'PeripheryQuantizationParameter': {
        'n_bits': 0,
        'symmetric': True,
        'learn_quant_params': False,
        'init_learning_after': 100,
    },
    'PrePostProcessingParameter': {
        'input_range': '<InputRangeParameter>',
    },
    'PrePostProcessingParameterQuant': {
        'input_range': '<InputRangeParameter>',
        'periph_quant': '<PeripheryQuantizationParameter>',
    },
    'RuntimeParameter': {
        'data_type': 'float',
        'on_the_fly_bindings': False,
        'offload_input': False,
        'offload_gradient': False,
    },
    'FloatingPointDevice': {
        'diffusion': 0.0,
        'lifetime': 0.0,
        'drift': '<SimpleDriftParameter>',
    },
    'IdealDevice': {
        'construction_seed': 0,
        'diffusion': 0.0,
        'lifetime': 0.0,
        'reset_std': 0.01,
    },
    'PulsedDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
    },
    'ConstantStepDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
    },
    'LinearStepDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'gamma_up': 0.0,
        'gamma_down': 0.0,
        'gamma_up_dtod': 0.05,
        'gamma_down_dtod': 0.05,
        'allow_increasing': False,
        'mean_bound_reference': True,
        'mult_noise': True,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
        'reverse_up': False,
        'reverse_down': False,
        'reverse_offset': 0.01,
    },
    'SoftBoundsDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'mult_noise': True,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
        'reverse_up': False,
        'reverse_down': False,
        'reverse_offset': 0.01,
    },
    'SoftBoundsPmaxDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': None,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': None,
        'up_down_dtod': 0.01,
        'w_max': None,
        'w_max_dtod': 0.3,
        'w_min': None,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'mult_noise': True,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
        'reverse_up': False,
        'reverse_down': False,
        'reverse_offset': 0.01,
        'p_max': 1000,
        'alpha': 0.0005,
        'range_min': -1.0,
        'range_max': 1.0,
    },
    'SoftBoundsReferenceDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'mult_noise': False,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
        'slope_up_dtod': 0.0,
        'slope_down_dtod': 0.0,
        'reference_mean': 0.0,
        'reference_std': 0.0,
        'subtract_symmetry_point': False,
    },
    'ExpStepDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'A_up': 0.00081,
        'A_down': 0.36833,
        'gamma_up': 12.44625,
        'gamma_down': 12.78785,
        'a': 0.244,
        'b': 0.2425,
        'dw_min_std_add': 0.0,
        'dw_min_std_slope': 0.0,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
    },
    'PowStepDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'pow_gamma': 1.0,
        'pow_gamma_dtod': 0.1,
        'pow_up_down': 0.0,
        'pow_up_down_dtod': 0.0,
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
    },
    'PowStepReferenceDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'pow_gamma': 1.0,
        'pow_gamma_dtod': 0.1,
        'pow_up_down': 0.0,
        'pow_up_down_dtod': 0.0,
        'subtract_symmetry_point': False,
        'n_estimation_steps': -1,
        'reference_mean': 0.0,
        'reference_std': 0.0,
    },
    'PiecewiseStepDevice': {
        'construction_seed': 0,
        'corrupt_devices_prob': 0.0,
        'corrupt_devices_range': 0.1,
        'diffusion': 0.0,
        'diffusion_dtod': 0.0,
        'drift': '<DriftParameter>',
        'dw_min': 0.001,
        'dw_min_dtod': 0.3,
        'dw_min_dtod_log_normal': False,
        'dw_min_std': 0.3,
        'enforce_consistency': True,
        'lifetime': 0.0,
        'lifetime_dtod': 0.0,
        'perfect_bias': False,
        'reset': 0.0,
        'reset_dtod': 0.0,
        'reset_std': 0.01,
        'up_down': 0.0,
        'up_down_dtod': 0.01,
        'w_max': 0.6,
        'w_max_dtod': 0.3,
        'w_min': -0.6,
        'w_min_dtod': 0.3,
        'count_pulses': False,
        'piecewise_up': [1],
        'piecewise_down': [1],
        'write_noise_std': 0.0,
        'apply_write_noise_on_set': True,
    },
    'SingleRPUConfig': {
        'runtime': '<RuntimeParameter>',
        'pre_post': '<PrePostProcessingParameter>',
        'mapping': '<MappingParameter>',
        'forward': '<IOParameters>',
        'backward': '<IOParameters>',
        'update': '<UpdateParameters>',
        'device': '<ConstantStepDevice>',
    },
    'FloatingPointRPUConfig': {
        'runtime': '<RuntimeParameter>',
        'pre_post': '<PrePostProcessingParameter>',
        'mapping': '<MappingParameter>',
        'device': '<FloatingPointDevice>',
    },
    'InferenceRPUConfig': {
        'runtime': '<RuntimeParameter>',
        'pre_post': '<PrePostProcessingParameter>',
        'mapping': '<MappingParameter>',
        'forward': '<IOParameters>',
        'backward': '<IOParameters>',
        'update': '<UpdateParameters>',
        'noise_model': '<PCMLikeNoiseModel>',
        'drift_compensation': '<GlobalDriftCompensation>',
        'clip': '<WeightClipParameter>',
        'remap': '<WeightRemapParameter>',
        'modifier': '<WeightModifierParameter>',
        'device': '<IdealDevice>',
    },
}

# Spec cross-check of a few literal values (training.md §1.1, inference.md §6.1).
assert DEFAULTS["IOParameters"]["inp_res"] == 1 / 126
assert DEFAULTS["IOParameters"]["out_res"] == 1 / 510
assert DEFAULTS["IOParameters"]["ir_drop_g_ratio"] == 1 / 0.35 / 5e-6

ENUMS = {
    "RPUDataType": {"FLOAT": "float", "DOUBLE": "double", "HALF": "half"},
    "BoundManagementType": {
        "NONE": "None", "ITERATIVE": "Iterative",
        "ITERATIVE_WORST_CASE": "IterativeWorstCase", "SHIFT": "Shift",
    },
    "NoiseManagementType": {
        "NONE": "None", "ABS_MAX": "AbsMax", "ABS_MAX_NP_SUM": "AbsMaxNPSum", "MAX": "Max",
        "CONSTANT": "Constant", "AVERAGE_ABS_MAX": "AverageAbsMax",
    },
    "WeightNoiseType": {"NONE": "None", "ADDITIVE_CONSTANT": "AdditiveConstant", "PCM_READ": "PCMRead"},
    "PulseType": {
        "NONE": "None", "STOCHASTIC_COMPRESSED": "StochasticCompressed",
        "STOCHASTIC": "Stochastic", "NONE_WITH_DEVICE": "NoneWithDevice",
        "MEAN_COUNT": "MeanCount", "DETERMINISTIC_IMPLICIT": "DeterministicImplicit",
    },
    "WeightModifierType": {
        "NONE": "None", "DISCRETIZE": "Discretize", "MULT_NORMAL": "MultNormal",
        "ADD_NORMAL": "AddNormal", "DISCRETIZE_ADD_NORMAL": "DiscretizeAddNormal",
        "DOREFA": "DoReFa", "POLY": "Poly", "PCM_NOISE": "PCMNoise", "PROG_NOISE": "ProgNoise",
        "DROP_CONNECT": "DropConnect", "COPY": "Copy",
    },
    "WeightClipType": {
        "NONE": "None", "FIXED_VALUE": "FixedValue", "LAYER_GAUSSIAN": "LayerGaussian",
        "AVERAGE_CHANNEL_MAX": "AverageChannelMax",
    },
    "WeightRemapType": {
        "NONE": "None", "LAYERWISE_SYMMETRIC": "LayerwiseSymmetric",
        "CHANNELWISE_SYMMETRIC": "ChannelwiseSymmetric",
    },
    "VectorUnitCellUpdatePolicy": {
        "ALL": "All", "SINGLE_FIXED": "SingleFixed", "SINGLE_SEQUENTIAL": "SingleSequential",
        "SINGLE_RANDOM": "SingleRandom",
    },
    "AnalogMVType": {
        "IDEAL": "Ideal", "ONE_PASS": "OnePass", "POS_NEG_SEPARATE": "PosNegSeparate",
        "POS_NEG_SEPARATE_DIGITAL_SUM": "PosNegSeparateDigitalSum", "SPLIT_MODE": "SplitMode",
        "BIT_WISE": "BitWise",
    },
    "CountLRFeedbackPolicy": {"NONE": "None", "PAST_MOMENTUM": "PastMomentum", "EXTERN": "Extern"},
}

EXTRA_CLASSES = [  # rpu classes without an entry in DEFAULTS (no/unusual dataclass in aihwkit)
    "SinglePairConductanceConverter", "PCMLikeNoiseModel", "GlobalDriftCompensation",
    "BaseConductanceConverter", "BaseNoiseModel", "BaseDriftCompensation",
    "RPUConfigBase", "PrePostProcessingRPU", "MappableRPU", "IOManagedRPUConfig",
]


def flat(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, C.ConfigBase):
        return f"<{type(value).__name__}>"
    return value


# ----------------------------------------------------------------------------------------------
# defaults
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_and_field_order(name):
    cls = getattr(C, name)
    obj = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == list(DEFAULTS[name]), name
    for field, expected in DEFAULTS[name].items():
        got = flat(getattr(obj, field))
        assert got == expected and type(got) is not bool or got is expected, (name, field, got)
        if isinstance(expected, float):
            assert isinstance(got, float), (name, field)


def test_nested_defaults():
    inf_cfg = C.InferenceRPUConfig()
    assert inf_cfg.backward == C.IOParameters(is_perfect=True)
    assert inf_cfg.update == C.UpdateParameters(pulse_type=C.PulseType.NONE)
    assert inf_cfg.device == C.IdealDevice()
    assert inf_cfg.forward == C.IOParameters()
    assert isinstance(inf_cfg.drift_compensation, C.GlobalDriftCompensation)
    for fld in ("backward", "update", "device"):  # not constructor arguments, as in aihwkit
        with pytest.raises(TypeError):
            C.InferenceRPUConfig(**{fld: getattr(inf_cfg, fld)})
    single = C.SingleRPUConfig()
    assert single.backward == C.IOParameters() and single.device == C.ConstantStepDevice()
    assert C.PulsedDevice().drift == C.DriftParameter()
    assert C.FloatingPointDevice().drift == C.SimpleDriftParameter()
    assert C.PrePostProcessingParameterQuant().periph_quant == C.PeripheryQuantizationParameter()


def test_pcm_noise_model_defaults():
    model = C.InferenceRPUConfig().noise_model
    assert isinstance(model, C.PCMLikeNoiseModel)
    assert model.prog_coeff == [0.26348, 1.9650, -1.1731]
    assert model.g_max == 25.0 and model.prog_coeff_g_max_reference == 25.0
    assert model.t_read == 250e-9 and model.t_0 == 20.0
    assert (model.prog_noise_scale, model.read_noise_scale, model.drift_scale) == (1.0, 1.0, 1.0)
    assert model.g_converter == C.SinglePairConductanceConverter(g_max=25.0, g_min=0.0)
    # g_max given -> converter built with it; explicit coefficients -> reference = g_max
    m2 = C.PCMLikeNoiseModel(g_max=40.0, prog_coeff=[0.1, 0.2])
    assert m2.g_converter.g_max == 40.0 and m2.g_max == 40.0
    assert m2.prog_coeff_g_max_reference == 40.0
    # a given converter wins over g_max, and is copied
    conv = C.SinglePairConductanceConverter(g_max=10.0)
    m3 = C.PCMLikeNoiseModel(g_converter=conv, g_max=99.0)
    assert m3.g_max == 10.0 and m3.g_converter == conv and m3.g_converter is not conv
    # rpu stores an explicit reference (aihwkit 1.1.0 drops it, a [bug?] in the spec)
    assert C.PCMLikeNoiseModel(prog_coeff=[1.0], prog_coeff_g_max_reference=30.0).prog_coeff_g_max_reference == 30.0


def test_soft_bounds_pmax_derived():
    dev = C.SoftBoundsPmaxDevice()
    derived = dev.derived_parameters()
    # training.md §3.5: B = 5.0830, w_max = 4.0830, dw_min = 0.0025415, up_down = 0.6065
    assert derived["w_min"] == -1.0
    assert derived["w_max"] == pytest.approx(4.0830, abs=1e-4)
    assert derived["dw_min"] == pytest.approx(0.0025415, abs=1e-7)
    assert derived["up_down"] == pytest.approx(0.6065, abs=1e-4)
    sb = dev.to_soft_bounds()
    assert type(sb) is C.SoftBoundsDevice and sb.dw_min == derived["dw_min"]
    assert dev.calc_weight_granularity() == pytest.approx(0.0025415, abs=1e-7)


def test_weight_granularity():
    # training.md §7 oracle values
    assert C.ConstantStepDevice().calc_weight_granularity() == 0.001
    assert C.PowStepDevice().calc_weight_granularity() == pytest.approx(0.0005)
    assert C.PiecewiseStepDevice(piecewise_up=[2, 1, 3], piecewise_down=[1, 1, 1]).calc_weight_granularity() == 0.001


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enum_members(name):
    cls = getattr(C, name)
    assert issubclass(cls, str) and issubclass(cls, enum.Enum)
    assert {m.name: m.value for m in cls} == ENUMS[name]
    for member in cls:
        assert member == member.value  # str-valued


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

nan, inf = float("nan"), float("inf")

BAD = [
    # (factory, expected substrings in the message)
    (lambda: C.IOParameters(out_res=nan), ["IOParameters.out_res", "nan", "finite"]),
    (lambda: C.IOParameters(out_noise=-0.1), ["IOParameters.out_noise", "-0.1", ">= 0"]),
    (lambda: C.IOParameters(inp_noise=inf), ["IOParameters.inp_noise", "inf"]),
    (lambda: C.IOParameters(inp_noise=True), ["IOParameters.inp_noise", "True", "bool"]),
    (lambda: C.IOParameters(inp_noise="0.1"), ["IOParameters.inp_noise", "'0.1'"]),
    (lambda: C.IOParameters(inp_bound=2.0), ["IOParameters.inp_bound", "2.0", "noise_management"]),
    (lambda: C.IOParameters(bound_management="Shift"), ["IOParameters.bound_management", "Shift"]),
    (lambda: C.IOParameters(mv_type=C.AnalogMVType.SPLIT_MODE), ["IOParameters.mv_type", "SplitMode"]),
    (lambda: C.IOParameters(noise_management="AbsMaxx"), ["IOParameters.noise_management", "AbsMaxx", "'AbsMax'", "ABS_MAX_NP_SUM"]),
    (lambda: C.IOParameters(max_bm_factor=2.5), ["IOParameters.max_bm_factor", "2.5", "integer"]),
    (lambda: C.IOParameters(max_bm_factor=-1), ["IOParameters.max_bm_factor", "-1"]),
    (lambda: C.IOParameters(is_perfect=1), ["IOParameters.is_perfect", "1", "bool"]),
    (lambda: C.IOParameters(ir_drop_g_ratio=0.0), ["IOParameters.ir_drop_g_ratio", "0.0", "> 0"]),
    (lambda: C.UpdateParameters(desired_bl=0), ["UpdateParameters.desired_bl", "0", ">= 1"]),
    (lambda: C.UpdateParameters(pulse_type="Deterministic"), ["UpdateParameters.pulse_type", "'Deterministic'"]),
    (lambda: C.UpdateParameters(um_grad_scale=0.0), ["UpdateParameters.um_grad_scale", "> 0"]),
    (lambda: C.ConstantStepDevice(w_min=0.6, w_max=0.6), ["ConstantStepDevice.w_min", "0.6", "< w_max"]),
    (lambda: C.ConstantStepDevice(w_min=0.5, w_max=-0.5), ["ConstantStepDevice.w_min", "0.5"]),
    (lambda: C.ConstantStepDevice(w_min=0.1), ["ConstantStepDevice.w_min", "0.1", "contain 0"]),
    (lambda: C.ConstantStepDevice(w_max=-0.1), ["ConstantStepDevice.w_max", "-0.1", "contain 0"]),
    (lambda: C.ConstantStepDevice(dw_min=0.0), ["ConstantStepDevice.dw_min", "0.0", "> 0"]),
    (lambda: C.ConstantStepDevice(dw_min=-0.01), ["ConstantStepDevice.dw_min", "-0.01"]),
    (lambda: C.ConstantStepDevice(dw_min_std=-0.1), ["ConstantStepDevice.dw_min_std", "-0.1"]),
    (lambda: C.ConstantStepDevice(dw_min_dtod=-0.1), ["ConstantStepDevice.dw_min_dtod", "-0.1"]),
    (lambda: C.ConstantStepDevice(w_max_dtod=-0.1), ["ConstantStepDevice.w_max_dtod"]),
    (lambda: C.ConstantStepDevice(up_down_dtod=-0.1), ["ConstantStepDevice.up_down_dtod"]),
    (lambda: C.ConstantStepDevice(reset_std=-0.1), ["ConstantStepDevice.reset_std"]),
    (lambda: C.ConstantStepDevice(corrupt_devices_prob=1.5), ["ConstantStepDevice.corrupt_devices_prob", "1.5", "<= 1"]),
    (lambda: C.ConstantStepDevice(construction_seed=-1), ["ConstantStepDevice.construction_seed", "-1"]),
    (lambda: C.ConstantStepDevice(drift=C.DriftParameter(t_0=0.0)), ["DriftParameter.t_0", "0.0"]),
    (lambda: C.ConstantStepDevice(drift=C.SimpleDriftParameter()), ["ConstantStepDevice.drift", "DriftParameter"]),
    (lambda: C.LinearStepDevice(reverse_up=True, mult_noise=False), ["LinearStepDevice.mult_noise", "reverse_up"]),
    (lambda: C.SoftBoundsDevice(reverse_down=True, mult_noise=False), ["SoftBoundsDevice.mult_noise"]),
    (lambda: C.PiecewiseStepDevice(piecewise_up=[1, 2], piecewise_down=[1]), ["PiecewiseStepDevice.piecewise_down", "same length"]),
    (lambda: C.PiecewiseStepDevice(piecewise_up=[], piecewise_down=[]), ["PiecewiseStepDevice.piecewise_up", "non-empty"]),
    (lambda: C.PiecewiseStepDevice(piecewise_up=[1, nan], piecewise_down=[1, 1]), ["PiecewiseStepDevice.piecewise_up[1]", "nan"]),
    (lambda: C.SoftBoundsPmaxDevice(alpha=0.0), ["SoftBoundsPmaxDevice.alpha", "0.0", "> 0"]),
    (lambda: C.ExpStepDevice(A_up=-0.5, gamma_up=200.0, b=5.0), ["ExpStepDevice.A_up", "-0.5", "exp(1000.0)", "infinite"]),
    (lambda: C.ExpStepDevice(A_down=-0.5, gamma_down=200.0, b=-5.0), ["ExpStepDevice.A_down", "-0.5", "infinite"]),
    (lambda: C.SoftBoundsPmaxDevice(range_min=1.0, range_max=-1.0), ["SoftBoundsPmaxDevice.range_min", "1.0"]),
    (lambda: C.IdealDevice(diffusion=-1.0), ["IdealDevice.diffusion", "-1.0"]),
    (lambda: C.WeightModifierParameter(pdrop=2.0), ["WeightModifierParameter.pdrop", "2.0"]),
    (lambda: C.WeightModifierParameter(type="gaussian"), ["WeightModifierParameter.type", "'gaussian'"]),
    (lambda: C.WeightModifierParameter(coeffs=[0.1, "x"]), ["WeightModifierParameter.coeffs[1]", "'x'"]),
    (lambda: C.WeightRemapParameter(remapped_wmax=0.0), ["WeightRemapParameter.remapped_wmax"]),
    (lambda: C.MappingParameter(max_input_size=-1), ["MappingParameter.max_input_size", "-1"]),
    (lambda: C.InputRangeParameter(input_min_percentage=1.5), ["InputRangeParameter.input_min_percentage", "1.5"]),
    (lambda: C.InputRangeParameter(calibration_info=3), ["InputRangeParameter.calibration_info", "3", "string"]),
    (lambda: C.PeripheryQuantizationParameter(learn_quant_params=True, init_learning_after=0), ["PeripheryQuantizationParameter.init_learning_after", "0"]),
    (lambda: C.SinglePairConductanceConverter(g_max=1.0, g_min=2.0), ["SinglePairConductanceConverter.g_min", "2.0"]),
    (lambda: C.PCMLikeNoiseModel(t_read=0.0), ["PCMLikeNoiseModel.t_read", "0.0"]),
    (lambda: C.SingleRPUConfig(forward=C.IOParameters(), device=C.FloatingPointDevice()), ["SingleRPUConfig.device", "FloatingPointDevice"]),
    (lambda: C.SingleRPUConfig(forward=None), ["SingleRPUConfig.forward", "None"]),
    (lambda: C.FloatingPointRPUConfig(device=C.ConstantStepDevice()), ["FloatingPointRPUConfig.device"]),
    (lambda: C.InferenceRPUConfig(noise_model=C.IOParameters()), ["InferenceRPUConfig.noise_model"]),
    (lambda: C.RuntimeParameter(data_type="float16"), ["RuntimeParameter.data_type", "'float16'"]),
    (
        lambda: C.SingleRPUConfig(pre_post=C.PrePostProcessingParameter(
            input_range=C.InputRangeParameter(enable=True, manage_output_clipping=True))),
        ["SingleRPUConfig.pre_post.input_range.manage_output_clipping", "noise_management"],
    ),
]


@pytest.mark.parametrize("factory, parts", BAD, ids=[str(i) for i in range(len(BAD))])
def test_validation_errors(factory, parts):
    with pytest.raises(ConfigError) as info:
        factory()
    msg = str(info.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert isinstance(info.value, ValueError)


def test_nested_path_after_mutation():
    cfg = C.SingleRPUConfig()
    cfg.forward.out_res = nan
    with pytest.raises(ConfigError, match=r"^SingleRPUConfig\.forward\.out_res = nan is not allowed"):
        cfg.validate()
    cfg.forward.out_res = 0.0
    cfg.device.drift.nu_std = -1.0
    with pytest.raises(ConfigError, match=r"SingleRPUConfig\.device\.drift\.nu_std = -1\.0"):
        cfg.validate()
    cfg.device.drift.nu_std = 0.0
    assert cfg.validate() is cfg
    inf_cfg = C.InferenceRPUConfig()
    inf_cfg.noise_model.g_converter = None
    with pytest.raises(ConfigError, match=r"InferenceRPUConfig\.noise_model\.g_converter = None"):
        inf_cfg.validate()


GOOD = [
    # values aihwkit legitimately accepts (special meanings) must pass
    dict(inp_res=0.0), dict(inp_res=-1.0), dict(inp_res=254.0), dict(out_res=-1.0),
    dict(out_res=255.0), dict(out_bound=0.0), dict(out_bound=-1.0), dict(out_bound=inf),
    dict(noise_management="None", inp_bound=2.0), dict(noise_management="None", inp_bound=inf),
    dict(noise_management="None", inp_bound=0.0), dict(is_perfect=True, inp_bound=2.0),
    dict(mv_type="Ideal", inp_bound=2.0), dict(nm_thres=-1.0), dict(out_scale=-1.0),
    dict(max_bm_factor=0), dict(max_bm_res=0.0), dict(inp_asymmetry=0.2),
    dict(mv_type="PosNegSeparateDigitalSum", w_read_asymmetry_dtod=0.1),
]


@pytest.mark.parametrize("kwargs", GOOD, ids=[str(g) for g in GOOD])
def test_accepted_io_values(kwargs):
    C.IOParameters(**kwargs)


def test_accepted_other_values():
    C.UpdateParameters(res=-1.0)
    C.UpdateParameters(res=31.0)
    C.UpdateParameters(desired_bl=1000)
    C.ConstantStepDevice(w_max=inf, w_min=-inf, lifetime=inf, reset=-0.3, up_down=-0.5)
    C.ConstantStepDevice(w_min=0.0, w_max=0.5)
    C.ConstantStepDevice(lifetime=-1.0)  # <= 0 switches decay off
    C.WeightClipParameter(fixed_value=-1.0)
    C.SoftBoundsPmaxDevice(w_min=3.0)  # derived field: ignored, as in aihwkit
    C.InferenceRPUConfig(drift_compensation=None)
    C.PowStepReferenceDevice(n_estimation_steps=-1)


def test_coercion():
    io = C.IOParameters(noise_management="none", bound_management="ITERATIVE_WORST_CASE",
                        out_noise=np.float32(0.25), max_bm_factor=np.int64(10), inp_bound=1)
    assert io.noise_management is C.NoiseManagementType.NONE
    assert io.bound_management is C.BoundManagementType.ITERATIVE_WORST_CASE
    assert type(io.out_noise) is float and io.out_noise == 0.25
    assert type(io.max_bm_factor) is int and io.max_bm_factor == 10
    assert type(io.inp_bound) is float
    assert C.IOParameters(is_perfect=np.bool_(True)).is_perfect is True
    assert C.UpdateParameters(desired_bl=31.0).desired_bl == 31
    pw = C.PiecewiseStepDevice(piecewise_up=np.array([1, 2]), piecewise_down=(1, 1))
    assert pw.piecewise_up == [1.0, 2.0] and pw.piecewise_down == [1.0, 1.0]
    assert type(pw.piecewise_up) is list
    # string enums given later are converted by validate()
    cfg = C.SingleRPUConfig()
    cfg.update.pulse_type = "MeanCount"
    cfg.validate()
    assert cfg.update.pulse_type is C.PulseType.MEAN_COUNT


# ----------------------------------------------------------------------------------------------
# repr
# ----------------------------------------------------------------------------------------------


def test_repr_minimal():
    assert repr(C.IOParameters()) == "IOParameters()"
    assert repr(C.IOParameters(out_noise=0.1)) == "IOParameters(out_noise=0.1)"
    assert repr(C.SingleRPUConfig()) == "SingleRPUConfig()"
    assert repr(C.InferenceRPUConfig()) == "InferenceRPUConfig()"
    cfg = C.SingleRPUConfig(forward=C.IOParameters(out_noise=0.0, noise_management="None"),
                            device=C.LinearStepDevice(gamma_up=0.1))
    assert repr(cfg) == ("SingleRPUConfig(forward=IOParameters(out_noise=0.0, "
                         "noise_management=NoiseManagementType.NONE), "
                         "device=LinearStepDevice(gamma_up=0.1))")
    inf_cfg = C.InferenceRPUConfig()
    inf_cfg.backward = C.IOParameters(is_perfect=True, out_noise=0.2)
    assert repr(inf_cfg) == "InferenceRPUConfig(backward=IOParameters(is_perfect=True, out_noise=0.2))"
    assert repr(C.IOParameters(out_bound=inf)) == "IOParameters(out_bound=float('inf'))"
    # the repr is valid Python given rpu.config's names
    assert eval(repr(cfg), vars(C)) == cfg  # noqa: S307
    assert str(cfg) == repr(cfg)


# ----------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------

ALL_CLASSES = sorted(set(DEFAULTS) | set(EXTRA_CLASSES))


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_round_trip_defaults(name):
    obj = getattr(C, name)()
    data = obj.to_dict()
    assert data["__class__"] == name
    text = json.dumps(data, allow_nan=False)  # JSON-safe
    back = C.from_dict(json.loads(text))
    assert type(back) is type(obj) and back == obj
    assert C.from_json(obj.to_json()) == obj
    assert getattr(C, name).from_dict(data) == obj


def _non_default_configs():
    return [
        C.IOParameters(out_noise=0.1, out_bound=inf, inp_bound=-1.0, noise_management="None",
                       w_noise_type="PCMRead", w_noise=0.02, max_bm_factor=7),
        C.UpdateParameters(desired_bl=7, pulse_type="DeterministicImplicit", res=-1.0),
        C.DriftParameter(nu=0.1, nu_dtod=0.2, log_g0=-1.5),
        C.WeightModifierParameter(type="PCMNoise", coeffs=[0.5, -0.25], pdrop=0.1),
        C.PiecewiseStepDevice(piecewise_up=[1, 0.5, 0.25], piecewise_down=[0.25, 0.5, 1],
                              w_max=inf, drift=C.DriftParameter(nu=0.05)),
        C.SoftBoundsPmaxDevice(p_max=500, range_min=-0.5),
        C.PCMLikeNoiseModel(g_max=30.0, prog_coeff=[0.1, 0.2, 0.3], t_0=5.0),
        C.SingleRPUConfig(
            forward=C.IOParameters(out_noise=0.0, out_res=-1.0),
            backward=C.IOParameters(noise_management="Max"),
            update=C.UpdateParameters(pulse_type="MeanCount"),
            device=C.ExpStepDevice(A_up=0.1, lifetime=inf, reset=-0.1),
            mapping=C.MappingParameter(weight_scaling_omega=0.6, digital_bias=False),
            pre_post=C.PrePostProcessingParameter(C.InputRangeParameter(enable=True, calibration_info="x")),
            runtime=C.RuntimeParameter(data_type="double"),
        ),
        C.SingleRPUConfig(device=C.IdealDevice(diffusion=0.1)),
        C.FloatingPointRPUConfig(device=C.FloatingPointDevice(lifetime=100.0, drift=C.SimpleDriftParameter(nu=0.1))),
        C.InferenceRPUConfig(
            forward=C.IOParameters(w_noise=0.1, w_noise_type="AdditiveConstant"),
            noise_model=C.PCMLikeNoiseModel(g_converter=C.SinglePairConductanceConverter(g_max=40.0, g_min=1.0), drift_scale=0.5),
            drift_compensation=None,
            clip=C.WeightClipParameter(type="FixedValue", fixed_value=1.5),
            remap=C.WeightRemapParameter(type="ChannelwiseSymmetric"),
            modifier=C.WeightModifierParameter(type="AddNormal", std_dev=0.05),
        ),
    ]


@pytest.mark.parametrize("obj", _non_default_configs(), ids=lambda o: type(o).__name__)
def test_round_trip_non_default(obj):
    text = obj.to_json()
    assert "Infinity" not in text and "NaN" not in text
    back = C.from_json(text)
    assert back == obj and repr(back) == repr(obj)
    assert back.to_dict() == obj.to_dict()


def test_round_trip_non_init_fields_and_runtime():
    cfg = C.InferenceRPUConfig()
    cfg.backward = C.IOParameters(out_noise=0.01)
    cfg.update = C.UpdateParameters(pulse_type="StochasticCompressed")
    cfg.device = C.IdealDevice(lifetime=10.0)
    cfg.runtime.data_type = C.RPUDataType.DOUBLE
    back = C.from_json(cfg.to_json())
    assert back == cfg
    assert back.backward.out_noise == 0.01 and back.device.lifetime == 10.0
    assert back.runtime.data_type is C.RPUDataType.DOUBLE  # runtime is excluded from ==, check it


@pytest.mark.parametrize("model", ["PCMLikeNoiseModel", "ReRamWan2022NoiseModel", "HermesNoiseModel"])
def test_round_trip_keeps_fields_the_constructor_resolves(model):
    """A noise model's constructor takes g_max from its converter (as aihwkit's does); a g_max
    changed afterwards (as an aihwkit script may do) came back as the converter's after
    to_json / from_json, and with it a saved tile's noise scale."""
    cfg = C.InferenceRPUConfig(noise_model=getattr(C, model)())
    cfg.noise_model.g_max = 15.0  # (Hermes allows at most 20.7 uS)
    cfg.validate()
    back = C.from_json(cfg.to_json())
    assert back == cfg
    assert back.noise_model.g_max == 15.0 and back.noise_model.g_converter.g_max != 15.0


def test_encoding_details():
    data = C.IOParameters(out_bound=inf, inp_bound=-inf, noise_management="None").to_dict()
    assert data["out_bound"] == {"__float__": "inf"} and data["inp_bound"] == {"__float__": "-inf"}
    assert data["noise_management"] == "None" and data["bound_management"] == "Iterative"
    nested = C.SingleRPUConfig().to_dict()
    assert nested["device"]["__class__"] == "ConstantStepDevice"
    assert nested["device"]["drift"]["__class__"] == "DriftParameter"
    # a NaN value (possible after a mutation without validate) still encodes and decodes
    io = C.IOParameters()
    io.out_res = nan
    enc = io.to_dict()
    assert enc["out_res"] == {"__float__": "nan"}
    with pytest.raises(ConfigError, match="out_res"):
        C.from_dict(enc)  # decoding validates


def test_nan_aware_equality():
    a, b = C.IOParameters(), C.IOParameters()
    a.out_res = float("nan")
    b.out_res = float("nan")
    assert a == b
    assert C.IOParameters() != C.IOParameters(out_noise=0.1)
    assert C.ConstantStepDevice() != C.LinearStepDevice()
    assert (C.IOParameters() == "IOParameters()") is False


def test_unknown_class_and_field_rejected():
    with pytest.raises(ConfigError, match="unknown config class 'os.system'"):
        C.from_dict({"__class__": "os.system"})
    with pytest.raises(ConfigError, match="unknown config class 'Nope'; known rpu.config classes: "):
        C.from_dict({"__class__": "Nope"})
    with pytest.raises(ConfigError, match="unknown config class '__builtins__'"):
        C.from_dict({"__class__": "__builtins__"})
    with pytest.raises(ConfigError, match="unknown config class None"):
        C.from_dict({"out_noise": 0.1})
    with pytest.raises(ConfigError, match=r"IOParameters\.out_nois: unknown field"):
        C.from_dict({"__class__": "IOParameters", "out_nois": 0.1})
    bad_nested = C.SingleRPUConfig().to_dict()
    bad_nested["forward"]["bogus"] = 1
    with pytest.raises(ConfigError, match=r"SingleRPUConfig\.forward\.bogus: unknown field"):
        C.from_dict(bad_nested)
    bad_nested = C.SingleRPUConfig().to_dict()
    bad_nested["device"]["__class__"] = "subprocess.Popen"
    with pytest.raises(ConfigError, match="unknown config class 'subprocess.Popen'"):
        C.from_dict(bad_nested)
    with pytest.raises(ConfigError, match="__class__"):
        C.from_dict({"__class__": "SingleRPUConfig", "forward": {"out_noise": 0.1}})
    with pytest.raises(ConfigError, match="float encoding"):
        C.from_dict({"__class__": "IOParameters", "out_bound": {"__float__": "1e999"}})
    with pytest.raises(ConfigError):
        C.from_json("{not json")
    with pytest.raises(ConfigError, match="expected a IOParameters"):
        C.IOParameters.from_dict(C.UpdateParameters().to_dict())
    assert set(ALL_CLASSES) <= set(C.registered_classes())


def test_copy_is_deep():
    cfg = C.SingleRPUConfig(device=C.PiecewiseStepDevice(piecewise_up=[1, 2], piecewise_down=[1, 2]))
    for dup in (cfg.copy(), copy.deepcopy(cfg), copy.copy(cfg).copy()):
        assert dup == cfg and dup is not cfg
        dup.forward.out_noise = 0.5
        dup.device.piecewise_up[0] = 9.0
        assert cfg.forward.out_noise == 0.06 and cfg.device.piecewise_up == [1.0, 2.0]
    # default factories are not shared between instances
    a, b = C.WeightModifierParameter(), C.WeightModifierParameter()
    a.coeffs.append(1.0)
    assert b.coeffs == [0.0105392, 0.0768, -0.046925]


def test_public_names():
    for name in C.__all__:
        assert hasattr(C, name), name
    for name in list(DEFAULTS) + list(ENUMS) + EXTRA_CLASSES:
        assert name in C.__all__, name


# ----------------------------------------------------------------------------------------------
# optional: the running aihwkit 1.1.0
# ----------------------------------------------------------------------------------------------

_AIHWKIT_SCRIPT = r"""
import dataclasses, enum, json, math, sys, warnings
warnings.filterwarnings("ignore")
from aihwkit.simulator import parameters as P
from aihwkit.simulator.parameters.pre_post import PeripheryQuantizationParameter
from aihwkit.simulator.parameters.runtime import RuntimeParameter
from aihwkit.simulator.parameters import enums as E
from aihwkit.simulator import configs as CF
from aihwkit.simulator.configs import devices as D
names = json.loads(sys.argv[1])
def find(name):
    for mod in (P, D, CF):
        if hasattr(mod, name):
            return getattr(mod, name)
    return {"PeripheryQuantizationParameter": PeripheryQuantizationParameter,
            "RuntimeParameter": RuntimeParameter}[name]
def flat(v):
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) or type(v).__module__.startswith("aihwkit"):
        return "<%s>" % type(v).__name__
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v
out = {"classes": {}, "enums": {}, "noise": {}}
for name in names:
    cls = find(name)
    obj = cls()
    out["classes"][name] = [[f.name, flat(getattr(obj, f.name))] for f in dataclasses.fields(cls)
                            if f.name not in ("tile_class", "tile_array_class")]
for name in dir(E):
    obj = getattr(E, name)
    if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj is not enum.Enum:
        out["enums"][name] = {m.name: m.value for m in obj}
model = CF.InferenceRPUConfig().noise_model
out["noise"] = {k: (v if not hasattr(v, "__dict__") else vars(v)) for k, v in vars(model).items()}
print(json.dumps(out))
"""


@pytest.mark.skipif(not os.environ.get("AIHWKIT_PYTHON"), reason="AIHWKIT_PYTHON not set")
def test_fields_match_aihwkit():
    names = sorted(DEFAULTS)
    proc = subprocess.run([os.environ["AIHWKIT_PYTHON"], "-c", _AIHWKIT_SCRIPT, json.dumps(names)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in names:
        cls = getattr(C, name)
        mine = [[f.name, flat(getattr(cls(), f.name))] for f in dataclasses.fields(cls)]
        theirs = ref["classes"][name]
        assert [n for n, _ in mine] == [n for n, _ in theirs], name
        for (field, a), (_, b) in zip(mine, theirs):
            if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
                assert a == pytest.approx(b, rel=1e-12, abs=0.0), (name, field)
            else:
                assert a == b, (name, field, a, b)
    # every enum of aihwkit.simulator.parameters.enums, with the same members
    assert set(ref["enums"]) == set(ENUMS)
    for name, members in ref["enums"].items():
        assert {m.name: m.value for m in getattr(C, name)} == members, name
    noise = ref["noise"]
    model = C.PCMLikeNoiseModel()
    for key in ("g_max", "prog_coeff_g_max_reference", "prog_coeff", "t_0", "t_read",
                "prog_noise_scale", "read_noise_scale", "drift_scale"):
        assert getattr(model, key) == noise[key], key
    assert model.g_converter.g_max == noise["g_converter"]["g_max"]
    assert model.g_converter.g_min == noise["g_converter"]["g_min"]
