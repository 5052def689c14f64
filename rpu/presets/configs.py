"""RPU-configuration presets: a device (or compound) with the preset periphery and update.

Same names and values as aihwkit 1.1.0's ``aihwkit.simulator.presets.configs``. Every preset
uses :class:`~rpu.presets.PresetIOParameters` for forward and backward and
:class:`~rpu.presets.PresetUpdateParameters` for the update (some with another
``desired_bl``); they differ in the device and the training algorithm:

* ``<Device>Preset``: one preset device per cross-point (``SingleRPUConfig``);
  ``PCMPreset``: a PCM pair with refresh (``UnitCellRPUConfig``).
* ``<Device>2Preset`` / ``<Device>4Preset``: a ``VectorUnitCell`` of 2 / 4 devices, one of
  them (chosen at random) updated per sample.
* ``TikiTaka<Device>Preset``: Tiki-taka v1 (``TransferCompound``).
* ``TTv2<Device>Preset``, ``ChoppedTTv2<Device>Preset``: TTv2 and chopped TTv2
  (``ChoppedTransferCompound``).
* ``AGAD<Device>Preset``: AGAD (``DynamicTransferCompound``).
* ``MixedPrecision<Device>Preset``: mixed precision (``DigitalRankUpdateRPUConfig``).

The transfer compounds read with ``PresetIOParameters`` without noise and bound management;
TTv2, chopped TTv2 and AGAD write single pulses (``desired_bl=1``, no update management).
"""

from typing import Callable, Union

from rpu.config._base import config_class
from rpu.config.compounds import (
    ChoppedTransferCompound,
    DigitalRankUpdateCell,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    TransferCompound,
    UnitCell,
    VectorUnitCell,
)
from rpu.config.configs import DigitalRankUpdateRPUConfig, SingleRPUConfig, UnitCellRPUConfig
from rpu.config.devices import IdealDevice, PulsedDevice
from rpu.config.enums import BoundManagementType, NoiseManagementType, VectorUnitCellUpdatePolicy
from rpu.config.io import IOParameters
from rpu.config.update import UpdateParameters

from ._fields import like
from .compounds import PCMPresetUnitCell
from .devices import (
    CapacitorPresetDevice,
    EcRamMOPresetDevice,
    EcRamPresetDevice,
    GokmenVlasovPresetDevice,
    IdealizedPresetDevice,
    ReRamESPresetDevice,
    ReRamSBPresetDevice,
)
from .utils import PresetIOParameters, PresetUpdateParameters

__all__ = [
    "ReRamESPreset",
    "ReRamSBPreset",
    "CapacitorPreset",
    "EcRamPreset",
    "EcRamMOPreset",
    "IdealizedPreset",
    "GokmenVlasovPreset",
    "PCMPreset",
    "ReRamES2Preset",
    "ReRamSB2Preset",
    "Capacitor2Preset",
    "EcRam2Preset",
    "EcRamMO2Preset",
    "Idealized2Preset",
    "ReRamES4Preset",
    "ReRamSB4Preset",
    "Capacitor4Preset",
    "EcRam4Preset",
    "EcRamMO4Preset",
    "Idealized4Preset",
    "TikiTakaReRamESPreset",
    "TikiTakaReRamSBPreset",
    "TikiTakaCapacitorPreset",
    "TikiTakaEcRamPreset",
    "TikiTakaEcRamMOPreset",
    "TikiTakaIdealizedPreset",
    "TTv2ReRamESPreset",
    "TTv2ReRamSBPreset",
    "TTv2CapacitorPreset",
    "TTv2EcRamPreset",
    "TTv2EcRamMOPreset",
    "TTv2IdealizedPreset",
    "ChoppedTTv2ReRamESPreset",
    "ChoppedTTv2ReRamSBPreset",
    "ChoppedTTv2CapacitorPreset",
    "ChoppedTTv2EcRamPreset",
    "ChoppedTTv2EcRamMOPreset",
    "ChoppedTTv2IdealizedPreset",
    "AGADReRamESPreset",
    "AGADReRamSBPreset",
    "AGADCapacitorPreset",
    "AGADEcRamPreset",
    "AGADEcRamMOPreset",
    "AGADIdealizedPreset",
    "MixedPrecisionReRamESPreset",
    "MixedPrecisionReRamSBPreset",
    "MixedPrecisionCapacitorPreset",
    "MixedPrecisionEcRamPreset",
    "MixedPrecisionEcRamMOPreset",
    "MixedPrecisionIdealizedPreset",
    "MixedPrecisionGokmenVlasovPreset",
    "MixedPrecisionPCMPreset",]


# --------------------------------------------------------------------------------------------
# building blocks (each call makes new objects)
# --------------------------------------------------------------------------------------------


def _update_bl31() -> PresetUpdateParameters:
    return PresetUpdateParameters(desired_bl=31)


def _update_bl100() -> PresetUpdateParameters:
    return PresetUpdateParameters(desired_bl=100)


def _transfer_io() -> PresetIOParameters:
    """Transfer reads: the preset periphery without noise and bound management."""
    return PresetIOParameters(
        noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
    )


def _single_pulse_update() -> PresetUpdateParameters:
    """Transfer writes of the buffered algorithms: one pulse, no update management."""
    return PresetUpdateParameters(
        desired_bl=1, update_bl_management=False, update_management=False
    )


def _sym_reram_sb() -> ReRamSBPresetDevice:
    return ReRamSBPresetDevice(subtract_symmetry_point=True)


def _vector(device: Callable[[], PulsedDevice], n: int) -> VectorUnitCell:
    return VectorUnitCell(
        unit_cell_devices=[device() for _ in range(n)],
        update_policy=VectorUnitCellUpdatePolicy.SINGLE_RANDOM,
    )


def _tiki_taka(device: Callable[[], PulsedDevice]) -> TransferCompound:
    return TransferCompound(
        unit_cell_devices=[device(), device()],
        transfer_forward=_transfer_io(),
        transfer_update=PresetUpdateParameters(),
        transfer_every=1.0,
        units_in_mbatch=True,
    )


def _chopped(device: Callable[[], PulsedDevice], *, in_chop_prob: float, fast_lr: float,
             auto_granularity: float) -> ChoppedTransferCompound:
    return ChoppedTransferCompound(
        unit_cell_devices=[device(), device()],
        transfer_forward=_transfer_io(),
        transfer_update=_single_pulse_update(),
        units_in_mbatch=False,
        in_chop_prob=in_chop_prob,
        fast_lr=fast_lr,
        auto_scale=True,
        auto_granularity=auto_granularity,
    )


def _agad(device: Callable[[], PulsedDevice], *, fast_lr: float, auto_granularity: float,
          tail_weightening: float, in_chop_prob: float) -> DynamicTransferCompound:
    return DynamicTransferCompound(
        unit_cell_devices=[device(), device()],
        transfer_forward=_transfer_io(),
        transfer_update=_single_pulse_update(),
        units_in_mbatch=False,
        fast_lr=fast_lr,
        auto_granularity=auto_granularity,
        tail_weightening=tail_weightening,
        in_chop_prob=in_chop_prob,
        auto_scale=True,
    )


def _mixed(device: Callable[[], Union[PulsedDevice, UnitCell]]) -> MixedPrecisionCompound:
    return MixedPrecisionCompound(device=device())


# --------------------------------------------------------------------------------------------
# single device
# --------------------------------------------------------------------------------------------


@config_class
class ReRamESPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.ReRamESPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=ReRamESPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class ReRamSBPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.ReRamSBPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=ReRamSBPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class CapacitorPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.CapacitorPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=CapacitorPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRamPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.EcRamPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=EcRamPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRamMOPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.EcRamMOPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=EcRamMOPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class IdealizedPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.IdealizedPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=IdealizedPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class GokmenVlasovPreset(SingleRPUConfig):
    """A single :class:`~rpu.presets.GokmenVlasovPresetDevice` per cross-point."""

    device: Union[PulsedDevice, IdealDevice] = like(
        SingleRPUConfig, "device",
        factory=GokmenVlasovPresetDevice,
    )
    forward: IOParameters = like(SingleRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(SingleRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(SingleRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class PCMPreset(UnitCellRPUConfig):
    """A :class:`~rpu.presets.PCMPresetUnitCell` (PCM pair with refresh) per cross-point."""

    device: UnitCell = like(UnitCellRPUConfig, "device", factory=PCMPresetUnitCell)
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


# --------------------------------------------------------------------------------------------
# 2 devices per cross-point, one updated at a time
# --------------------------------------------------------------------------------------------


@config_class
class ReRamES2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.ReRamESPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(ReRamESPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class ReRamSB2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.ReRamSBPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(ReRamSBPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class Capacitor2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.CapacitorPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(CapacitorPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRam2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.EcRamPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(EcRamPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRamMO2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.EcRamMOPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(EcRamMOPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class Idealized2Preset(UnitCellRPUConfig):
    """Two :class:`~rpu.presets.IdealizedPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(IdealizedPresetDevice, 2)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


# --------------------------------------------------------------------------------------------
# 4 devices per cross-point, one updated at a time
# --------------------------------------------------------------------------------------------


@config_class
class ReRamES4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.ReRamESPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(ReRamESPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class ReRamSB4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.ReRamSBPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(ReRamSBPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class Capacitor4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.CapacitorPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(CapacitorPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRam4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.EcRamPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(EcRamPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class EcRamMO4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.EcRamMOPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(EcRamMOPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class Idealized4Preset(UnitCellRPUConfig):
    """Four :class:`~rpu.presets.IdealizedPresetDevice`, one updated at a time.

    A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device", factory=lambda: _vector(IdealizedPresetDevice, 4)
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


# --------------------------------------------------------------------------------------------
# Tiki-taka (TransferCompound)
# --------------------------------------------------------------------------------------------


@config_class
class TikiTakaReRamESPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.ReRamESPresetDevice`.

    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _tiki_taka(ReRamESPresetDevice),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class TikiTakaReRamSBPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.ReRamSBPresetDevice`.

    The devices have ``subtract_symmetry_point=True``.
    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(UnitCellRPUConfig, "device", factory=lambda: _tiki_taka(_sym_reram_sb))
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class TikiTakaCapacitorPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.CapacitorPresetDevice`.

    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _tiki_taka(CapacitorPresetDevice),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class TikiTakaEcRamPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.EcRamPresetDevice`.

    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _tiki_taka(EcRamPresetDevice),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class TikiTakaEcRamMOPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.EcRamMOPresetDevice`.

    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _tiki_taka(EcRamMOPresetDevice),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


@config_class
class TikiTakaIdealizedPreset(UnitCellRPUConfig):
    """Tiki-taka v1 on two :class:`~rpu.presets.IdealizedPresetDevice`.

    Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
    management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
    ``transfer_every`` in mini-batches.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _tiki_taka(IdealizedPresetDevice),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=PresetUpdateParameters)


# --------------------------------------------------------------------------------------------
# TTv2 (ChoppedTransferCompound without choppers)
# --------------------------------------------------------------------------------------------


@config_class
class TTv2ReRamESPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.ReRamESPresetDevice`.

    ``in_chop_prob=0``, ``fast_lr=0.5``, ``auto_scale=True``, ``auto_granularity=1000``;
    main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            ReRamESPresetDevice, in_chop_prob=0.0, fast_lr=0.5, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class TTv2ReRamSBPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.ReRamSBPresetDevice`.

    The devices have ``subtract_symmetry_point=True``.
    ``in_chop_prob=0``, ``fast_lr=0.5``, ``auto_scale=True``, ``auto_granularity=1000``;
    main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            _sym_reram_sb, in_chop_prob=0.0, fast_lr=0.5, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class TTv2CapacitorPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.CapacitorPresetDevice`.

    ``in_chop_prob=0``, ``fast_lr=0.1``, ``auto_scale=True``, ``auto_granularity=1000``;
    main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            CapacitorPresetDevice, in_chop_prob=0.0, fast_lr=0.1, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class TTv2EcRamPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.EcRamPresetDevice`.

    ``in_chop_prob=0``, ``fast_lr=0.1``, ``auto_scale=True``, ``auto_granularity=500``;
    main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            EcRamPresetDevice, in_chop_prob=0.0, fast_lr=0.1, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


@config_class
class TTv2EcRamMOPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.EcRamMOPresetDevice`.

    ``in_chop_prob=0``, ``fast_lr=0.1``, ``auto_scale=True``, ``auto_granularity=500``;
    main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            EcRamMOPresetDevice, in_chop_prob=0.0, fast_lr=0.1, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


@config_class
class TTv2IdealizedPreset(UnitCellRPUConfig):
    """TTv2 on two :class:`~rpu.presets.IdealizedPresetDevice`.

    ``in_chop_prob=0``, ``fast_lr=0.1``, ``auto_scale=True``, ``auto_granularity=500``;
    main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            IdealizedPresetDevice, in_chop_prob=0.0, fast_lr=0.1, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


# --------------------------------------------------------------------------------------------
# chopped TTv2 (ChoppedTransferCompound)
# --------------------------------------------------------------------------------------------


@config_class
class ChoppedTTv2ReRamESPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.ReRamESPresetDevice`.

    ``in_chop_prob=0.01``, ``fast_lr=0.5``, ``auto_scale=True``,
    ``auto_granularity=1000``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            ReRamESPresetDevice, in_chop_prob=0.01, fast_lr=0.5, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class ChoppedTTv2ReRamSBPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.ReRamSBPresetDevice`.

    The devices have ``subtract_symmetry_point=True``.
    ``in_chop_prob=0.01``, ``fast_lr=0.5``, ``auto_scale=True``,
    ``auto_granularity=1000``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            _sym_reram_sb, in_chop_prob=0.01, fast_lr=0.5, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class ChoppedTTv2CapacitorPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.CapacitorPresetDevice`.

    ``in_chop_prob=0.01``, ``fast_lr=0.1``, ``auto_scale=True``,
    ``auto_granularity=1000``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            CapacitorPresetDevice, in_chop_prob=0.01, fast_lr=0.1, auto_granularity=1000
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class ChoppedTTv2EcRamPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.EcRamPresetDevice`.

    ``in_chop_prob=0.01``, ``fast_lr=1.0``, ``auto_scale=True``,
    ``auto_granularity=500``; main update ``desired_bl=100``.
    (aihwkit leaves ``fast_lr`` at its default, 1.0, here.)
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            EcRamPresetDevice, in_chop_prob=0.01, fast_lr=1.0, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


@config_class
class ChoppedTTv2EcRamMOPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.EcRamMOPresetDevice`.

    ``in_chop_prob=0.001``, ``fast_lr=0.1``, ``auto_scale=True``,
    ``auto_granularity=500``; main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            EcRamMOPresetDevice, in_chop_prob=0.001, fast_lr=0.1, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


@config_class
class ChoppedTTv2IdealizedPreset(UnitCellRPUConfig):
    """Chopped TTv2 on two :class:`~rpu.presets.IdealizedPresetDevice`.

    ``in_chop_prob=0.001``, ``fast_lr=0.1``, ``auto_scale=True``,
    ``auto_granularity=500``; main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _chopped(
            IdealizedPresetDevice, in_chop_prob=0.001, fast_lr=0.1, auto_granularity=500
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


# --------------------------------------------------------------------------------------------
# AGAD (DynamicTransferCompound)
# --------------------------------------------------------------------------------------------


@config_class
class AGADReRamESPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.ReRamESPresetDevice`.

    ``fast_lr=0.5``, ``auto_granularity=1000``, ``tail_weightening=5.0``,
    ``in_chop_prob=0.02``, ``auto_scale=True``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            ReRamESPresetDevice, fast_lr=0.5, auto_granularity=1000, tail_weightening=5.0,
            in_chop_prob=0.02
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class AGADReRamSBPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.ReRamSBPresetDevice`.

    The devices have ``subtract_symmetry_point=True``.
    ``fast_lr=0.5``, ``auto_granularity=1000``, ``tail_weightening=5.0``,
    ``in_chop_prob=0.02``, ``auto_scale=True``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            _sym_reram_sb, fast_lr=0.5, auto_granularity=1000, tail_weightening=5.0,
            in_chop_prob=0.02
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class AGADCapacitorPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.CapacitorPresetDevice`.

    ``fast_lr=0.1``, ``auto_granularity=1000``, ``tail_weightening=20.0``,
    ``in_chop_prob=0.01``, ``auto_scale=True``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            CapacitorPresetDevice, fast_lr=0.1, auto_granularity=1000, tail_weightening=20.0,
            in_chop_prob=0.01
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class AGADEcRamPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.EcRamPresetDevice`.

    ``fast_lr=0.1``, ``auto_granularity=750``, ``tail_weightening=50.0``,
    ``in_chop_prob=0.005``, ``auto_scale=True``; main update ``desired_bl=31``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            EcRamPresetDevice, fast_lr=0.1, auto_granularity=750, tail_weightening=50.0,
            in_chop_prob=0.005
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl31)


@config_class
class AGADEcRamMOPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.EcRamMOPresetDevice`.

    ``fast_lr=0.1``, ``auto_granularity=500``, ``tail_weightening=50.0``,
    ``in_chop_prob=0.005``, ``auto_scale=True``; main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            EcRamMOPresetDevice, fast_lr=0.1, auto_granularity=500, tail_weightening=50.0,
            in_chop_prob=0.005
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


@config_class
class AGADIdealizedPreset(UnitCellRPUConfig):
    """AGAD on two :class:`~rpu.presets.IdealizedPresetDevice`.

    ``fast_lr=0.1``, ``auto_granularity=500``, ``tail_weightening=50.0``,
    ``in_chop_prob=0.005``, ``auto_scale=True``; main update ``desired_bl=100``.
    """

    device: UnitCell = like(
        UnitCellRPUConfig, "device",
        factory=lambda: _agad(
            IdealizedPresetDevice, fast_lr=0.1, auto_granularity=500, tail_weightening=50.0,
            in_chop_prob=0.005
        ),
    )
    forward: IOParameters = like(UnitCellRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(UnitCellRPUConfig, "backward", factory=PresetIOParameters)
    update: UpdateParameters = like(UnitCellRPUConfig, "update", factory=_update_bl100)


# --------------------------------------------------------------------------------------------
# mixed precision (MixedPrecisionCompound)
# --------------------------------------------------------------------------------------------


@config_class
class MixedPrecisionReRamESPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.ReRamESPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(ReRamESPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionReRamSBPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.ReRamSBPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(ReRamSBPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionCapacitorPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.CapacitorPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(CapacitorPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionEcRamPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.EcRamPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(EcRamPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionEcRamMOPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.EcRamMOPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(EcRamMOPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionIdealizedPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.IdealizedPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(IdealizedPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionGokmenVlasovPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto :class:`~rpu.presets.GokmenVlasovPresetDevice`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(GokmenVlasovPresetDevice),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )


@config_class
class MixedPrecisionPCMPreset(DigitalRankUpdateRPUConfig):
    """Mixed precision (digital rank update) onto a :class:`~rpu.presets.PCMPresetUnitCell`."""

    device: DigitalRankUpdateCell = like(
        DigitalRankUpdateRPUConfig, "device",
        factory=lambda: _mixed(PCMPresetUnitCell),
    )
    forward: IOParameters = like(DigitalRankUpdateRPUConfig, "forward", factory=PresetIOParameters)
    backward: IOParameters = like(
        DigitalRankUpdateRPUConfig, "backward",
        factory=PresetIOParameters,
    )
    update: UpdateParameters = like(
        DigitalRankUpdateRPUConfig, "update",
        factory=PresetUpdateParameters,
    )
