"""RPU configurations: the complete description of one tile (IO, update, device, periphery).

The class names, field names and defaults follow aihwkit 1.1.0
(``aihwkit.simulator.configs``). The torch-specific fields ``tile_class`` and
``tile_array_class`` are left out: in rpu the tile class follows from the config type
(``SingleRPUConfig`` -> ``rpu.AnalogTile``, ``InferenceRPUConfig`` -> ``rpu.InferenceTile``,
``FloatingPointRPUConfig`` -> ``rpu.FloatingPointTile``).
"""

from typing import Optional, Union

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param
from .compounds import DigitalRankUpdateCell, UnitCell
from .devices import ConstantStepDevice, FloatingPointDevice, IdealDevice, PulsedDevice
from .enums import BoundManagementType, NoiseManagementType, PulseType, RPUDataType
from .inference import WeightClipParameter, WeightModifierParameter, WeightRemapParameter
from .io import IOParameters
from .mapping import MappingParameter
from .noise_models import (
    BaseDriftCompensation,
    BaseNoiseModel,
    GlobalDriftCompensation,
    PCMLikeNoiseModel,
)
from .pre_post import PrePostProcessingParameter
from .update import UpdateParameters

__all__ = [
    "RuntimeParameter",
    "RPUConfigBase",
    "PrePostProcessingRPU",
    "MappableRPU",
    "IOManagedRPUConfig",
    "SingleRPUConfig",
    "FloatingPointRPUConfig",
    "InferenceRPUConfig",
    "UnitCellRPUConfig",
    "DigitalRankUpdateRPUConfig",
]


@config_class
class RuntimeParameter(ConfigBase):
    """Simulation runtime options (not part of the hardware description; ignored by ``==``).

    Parameters
    ----------
    data_type : RPUDataType, default FLOAT
        Floating-point type of the tile (rpu tiles support ``FLOAT`` and ``DOUBLE``).
    on_the_fly_bindings : bool, default False
        aihwkit (torch) option, accepted for compatibility; rpu ignores it.
    offload_input : bool, default False
        aihwkit (torch) option, accepted for compatibility; rpu ignores it.
    offload_gradient : bool, default False
        aihwkit (torch) option, accepted for compatibility; rpu ignores it.
    """

    data_type: RPUDataType = param(RPUDataType.FLOAT)
    on_the_fly_bindings: bool = param(False)
    offload_input: bool = param(False)
    offload_gradient: bool = param(False)


@config_class
class RPUConfigBase(ConfigBase):
    """Base of all RPU configurations.

    Parameters
    ----------
    runtime : RuntimeParameter
        Runtime options; excluded from ``==`` as in aihwkit.
    """

    runtime: RuntimeParameter = param(factory=RuntimeParameter, compare=False)


@config_class
class PrePostProcessingRPU(RPUConfigBase):
    """RPU configuration with digital pre/post-processing.

    Parameters
    ----------
    runtime : RuntimeParameter
        Runtime options.
    pre_post : PrePostProcessingParameter
        Input-range learning and related digital processing.
    """

    pre_post: PrePostProcessingParameter = param(factory=PrePostProcessingParameter)


@config_class
class MappableRPU(PrePostProcessingRPU):
    """RPU configuration with a weight-mapping description.

    Parameters
    ----------
    runtime, pre_post
        See :class:`PrePostProcessingRPU`.
    mapping : MappingParameter
        Bias placement, weight scaling, output scales, tile-size limits.
    """

    mapping: MappingParameter = param(factory=MappingParameter)


@config_class
class IOManagedRPUConfig(MappableRPU):
    """RPU configuration of an analog tile with forward/backward IO and a pulsed update.

    Parameters
    ----------
    runtime, pre_post, mapping
        See :class:`MappableRPU`.
    forward : IOParameters
        Analog MVM of the forward pass.
    backward : IOParameters
        Analog MVM of the backward pass (bound management is always off there).
    update : UpdateParameters
        Pulsed-update settings.
    """

    forward: IOParameters = param(factory=IOParameters)
    backward: IOParameters = param(factory=IOParameters)
    update: UpdateParameters = param(factory=UpdateParameters)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        irange = self.pre_post.input_range
        if irange.enable and irange.manage_output_clipping:
            fwd = self.forward
            if (
                fwd.is_perfect
                or fwd.noise_management != NoiseManagementType.NONE
                or fwd.bound_management != BoundManagementType.NONE
            ):
                raise ConfigError(
                    f"{path}.pre_post.input_range.manage_output_clipping = True is not allowed: "
                    "expected a forward with is_perfect=False and noise_management and "
                    "bound_management 'None' (aihwkit raises the same ConfigError)"
                )


@config_class
class SingleRPUConfig(IOManagedRPUConfig):
    """Analog tile with one pulsed device per cross-point (``rpu.AnalogTile``).

    Parameters
    ----------
    runtime, pre_post, mapping, forward, backward, update
        See :class:`IOManagedRPUConfig`; all default-constructed.
    device : PulsedDevice or IdealDevice, default ConstantStepDevice()
        Device model of every cross-point.
    """

    device: Union[PulsedDevice, IdealDevice] = param(factory=ConstantStepDevice)


@config_class
class FloatingPointRPUConfig(MappableRPU):
    """Exact floating-point tile (``rpu.FloatingPointTile``): no IO, no pulses.

    Parameters
    ----------
    runtime, pre_post, mapping
        See :class:`MappableRPU`.
    device : FloatingPointDevice
        Decay, diffusion and drift of the floating-point weights (all off by default).
    """

    device: FloatingPointDevice = param(factory=FloatingPointDevice)


def _perfect_io() -> IOParameters:
    return IOParameters(is_perfect=True)


def _fp_update() -> UpdateParameters:
    return UpdateParameters(pulse_type=PulseType.NONE)


@config_class
class InferenceRPUConfig(IOManagedRPUConfig):
    """Inference tile (``rpu.InferenceTile``) for hardware-aware training and noisy inference.

    Training uses the non-ideal forward pass only; backward and update are exact. As in
    aihwkit, ``backward``, ``update`` and ``device`` are not constructor arguments (they are
    fixed to a perfect backward, a floating-point update and an ideal device) but remain
    ordinary attributes afterwards.

    Parameters
    ----------
    runtime, pre_post, mapping
        See :class:`MappableRPU`.
    forward : IOParameters
        Analog MVM of the forward pass, used in training and inference alike.
    noise_model : BaseNoiseModel, default PCMLikeNoiseModel()
        Statistical programming/drift/read-noise model applied by ``program_weights`` and
        ``drift_weights``.
    drift_compensation : BaseDriftCompensation or None, default GlobalDriftCompensation()
        Output re-scaling that compensates drift during inference (None: off).
    clip : WeightClipParameter
        Weight clipping after each mini-batch (off by default).
    remap : WeightRemapParameter
        Weight remapping after each mini-batch (off by default).
    modifier : WeightModifierParameter
        Weight perturbation for hardware-aware training (off by default).
    backward : IOParameters, default IOParameters(is_perfect=True)
        Not a constructor argument.
    update : UpdateParameters, default UpdateParameters(pulse_type=PulseType.NONE)
        Not a constructor argument.
    device : IdealDevice, default IdealDevice()
        Not a constructor argument.
    """

    forward: IOParameters = param(factory=IOParameters)
    backward: IOParameters = param(factory=_perfect_io, init=False)
    update: UpdateParameters = param(factory=_fp_update, init=False)
    noise_model: BaseNoiseModel = param(factory=PCMLikeNoiseModel)
    drift_compensation: Optional[BaseDriftCompensation] = param(factory=GlobalDriftCompensation)
    clip: WeightClipParameter = param(factory=WeightClipParameter)
    remap: WeightRemapParameter = param(factory=WeightRemapParameter)
    modifier: WeightModifierParameter = param(factory=WeightModifierParameter)
    device: IdealDevice = param(factory=IdealDevice, init=False)


@config_class
class UnitCellRPUConfig(IOManagedRPUConfig):
    """Analog tile with a compound device per cross-point (unit cells, Tiki-taka, TTv2, AGAD).

    Parameters
    ----------
    runtime, pre_post, mapping, forward, backward, update
        See :class:`IOManagedRPUConfig`; all default-constructed.
    device : UnitCell, default UnitCell()
        The compound of every cross-point (:class:`~rpu.config.VectorUnitCell`,
        :class:`~rpu.config.TransferCompound`, ...). The default, the abstract base, is
        aihwkit's and must be replaced before a tile is built (see :meth:`check_ready`).
    """

    device: UnitCell = param(factory=UnitCell)

    def check_ready(self, path: Optional[str] = None) -> "UnitCellRPUConfig":
        """Validate, then refuse a device that cannot build a tile (the ``UnitCell`` base
        class, an empty ``unit_cell_devices`` list); raises :class:`~rpu.errors.ConfigError`.
        """
        path = path or type(self).__name__
        self.validate(_path=path)
        self.device.check_ready(f"{path}.device")
        return self


@config_class
class DigitalRankUpdateRPUConfig(IOManagedRPUConfig):
    """Analog tile whose rank update is computed in digital (mixed precision).

    Forward and backward are analog as in :class:`SingleRPUConfig`; the update goes through
    the digital cell in ``device``, which occasionally transfers to the analog device.

    Parameters
    ----------
    runtime, pre_post, mapping, forward, backward
        See :class:`IOManagedRPUConfig`; all default-constructed.
    update : UpdateParameters
        Pulsed-update settings of the transfers onto the analog device.
    device : DigitalRankUpdateCell, default DigitalRankUpdateCell()
        The digital rank-update cell (:class:`~rpu.config.MixedPrecisionCompound`). The default,
        the abstract base, is aihwkit's and must be replaced before a tile is built.
    """

    device: DigitalRankUpdateCell = param(factory=DigitalRankUpdateCell)

    def check_ready(self, path: Optional[str] = None) -> "DigitalRankUpdateRPUConfig":
        """Validate, then refuse a device that cannot build a tile (the base cell, an analog
        unit cell without devices); raises :class:`~rpu.errors.ConfigError`.
        """
        path = path or type(self).__name__
        self.validate(_path=path)
        self.device.check_ready(f"{path}.device")
        return self
