"""Configuration of rpu tiles: dataclasses and enums named as in aihwkit 1.1.0.

Code written for aihwkit ports by changing the imports, e.g.::

    from rpu.config import SingleRPUConfig, IOParameters, ConstantStepDevice, NoiseManagementType

    cfg = SingleRPUConfig(device=ConstantStepDevice(dw_min=0.01),
                          forward=IOParameters(noise_management=NoiseManagementType.NONE))

Every configuration object validates itself on construction (``cfg.validate()`` re-checks it
after a change and raises :class:`rpu.errors.ConfigError`), prints only its non-default fields,
and serialises to JSON-safe dicts (``cfg.to_dict()`` / :func:`from_dict`,
``cfg.to_json()`` / :func:`from_json`).
"""

from . import compounds as _compounds
from ._base import ConfigBase, from_dict, from_json, registered_classes
from .build import build_config
from .compounds import (
    BufferedTransferCompound,
    ChoppedTransferCompound,
    DifferenceUnitCell,
    DigitalRankUpdateCell,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    OneSidedUnitCell,
    ReferenceUnitCell,
    TransferCompound,
    UnitCell,
    VectorUnitCell,
)
from .configs import (
    DigitalRankUpdateRPUConfig,
    FloatingPointRPUConfig,
    InferenceRPUConfig,
    IOManagedRPUConfig,
    MappableRPU,
    PrePostProcessingRPU,
    RPUConfigBase,
    RuntimeParameter,
    SingleRPUConfig,
    UnitCellRPUConfig,
)
from .devices import (
    ConstantStepDevice,
    ExpStepDevice,
    FloatingPointDevice,
    IdealDevice,
    LinearStepDevice,
    PiecewiseStepDevice,
    PowStepDevice,
    PowStepReferenceDevice,
    PulsedDevice,
    SoftBoundsDevice,
    SoftBoundsPmaxDevice,
    SoftBoundsReferenceDevice,
)
from .enums import (
    AnalogMVType,
    BoundManagementType,
    CountLRFeedbackPolicy,
    NoiseManagementType,
    PulseType,
    RPUDataType,
    VectorUnitCellUpdatePolicy,
    WeightClipType,
    WeightModifierType,
    WeightNoiseType,
    WeightRemapType,
)
from .inference import (
    DriftParameter,
    SimpleDriftParameter,
    WeightClipParameter,
    WeightModifierParameter,
    WeightRemapParameter,
)
from .io import IOParameters
from .mapping import MappingParameter
from .noise_models import (
    BaseConductanceConverter,
    BaseDriftCompensation,
    BaseNoiseModel,
    CustomDriftPCMLikeNoiseModel,
    CustomPairConductanceConverter,
    DualPairConductanceConverter,
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    HermesNoiseModel,
    NPairConductanceConverter,
    PCMLikeNoiseModel,
    PerColumnDriftCompensation,
    ReRamCMONoiseModel,
    ReRamWan2022NoiseModel,
    SingleDeviceConductanceConverter,
    SinglePairConductanceConverter,
    StateIndependentNoiseModel,
)
from .pre_post import (
    InputRangeParameter,
    PeripheryQuantizationParameter,
    PrePostProcessingParameter,
    PrePostProcessingParameterQuant,
)
from .update import UpdateParameters

__all__ = [
    # machinery
    "ConfigBase",
    "from_dict",
    "from_json",
    "registered_classes",
    # enums
    "RPUDataType",
    "BoundManagementType",
    "NoiseManagementType",
    "WeightNoiseType",
    "PulseType",
    "WeightModifierType",
    "WeightClipType",
    "WeightRemapType",
    "VectorUnitCellUpdatePolicy",
    "AnalogMVType",
    "CountLRFeedbackPolicy",
    # parameters
    "IOParameters",
    "UpdateParameters",
    "SimpleDriftParameter",
    "DriftParameter",
    "WeightModifierParameter",
    "WeightClipParameter",
    "WeightRemapParameter",
    "MappingParameter",
    "InputRangeParameter",
    "PeripheryQuantizationParameter",
    "PrePostProcessingParameter",
    "PrePostProcessingParameterQuant",
    "RuntimeParameter",
    # devices
    "FloatingPointDevice",
    "IdealDevice",
    "PulsedDevice",
    "ConstantStepDevice",
    "LinearStepDevice",
    "SoftBoundsDevice",
    "SoftBoundsPmaxDevice",
    "SoftBoundsReferenceDevice",
    "ExpStepDevice",
    "PowStepDevice",
    "PowStepReferenceDevice",
    "PiecewiseStepDevice",
    # compound devices
    *_compounds.__all__,
    # inference noise parameters
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
    # RPU configs
    "RPUConfigBase",
    "PrePostProcessingRPU",
    "MappableRPU",
    "IOManagedRPUConfig",
    "SingleRPUConfig",
    "FloatingPointRPUConfig",
    "InferenceRPUConfig",
    "UnitCellRPUConfig",
    "DigitalRankUpdateRPUConfig",
    # helpers
    "build_config",
]

# The presets (rpu.presets) are configuration classes too; importing them here registers them,
# so that from_dict / from_json can rebuild a saved preset configuration in a fresh process.
from rpu import presets as _presets  # noqa: E402,F401  (after every name above is defined)
