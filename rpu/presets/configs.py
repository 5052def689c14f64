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

Since the presets differ only in those few values, they are rows of the table ``_PRESETS``
below, from which :func:`~rpu.presets._fields.preset_class` makes ordinary registered
configuration classes (``ReRamSBPreset`` is a ``SingleRPUConfig`` subclass like any other).
Each docstring is assembled from the row's values, so it cannot drift from them.
"""

from functools import partial
from typing import Any, Callable, Dict, NamedTuple, Optional

from rpu.config.compounds import (
    ChoppedTransferCompound,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    TransferCompound,
    VectorUnitCell,
)
from rpu.config.configs import DigitalRankUpdateRPUConfig, SingleRPUConfig, UnitCellRPUConfig
from rpu.config.enums import BoundManagementType, NoiseManagementType, VectorUnitCellUpdatePolicy

from ._fields import preset_class
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

# --------------------------------------------------------------------------------------------
# what sits at a cross-point: a factory (each call makes new objects) and its description
# --------------------------------------------------------------------------------------------


class _Cell(NamedTuple):
    make: Callable[[], Any]
    doc: str  # summary line, optionally a blank line and details


# aihwkit subtracts the symmetry point of the soft-bounds ReRAM whenever it is used in a
# transfer compound; a partial keeps that visible in the table and in the docstrings.
_SYMMETRIC_RERAM_SB = partial(ReRamSBPresetDevice, subtract_symmetry_point=True)


def _values(settings: Dict[str, Any]) -> str:
    return ", ".join(f"``{key}={value!r}``" for key, value in settings.items())


def _ref(device: Callable[[], Any]) -> str:
    cls = device.func if isinstance(device, partial) else device
    return f":class:`~rpu.presets.{cls.__name__}`"


def _device_note(device: Callable[[], Any]) -> str:
    if isinstance(device, partial):
        return f"The devices have {_values(device.keywords)}.\n"
    return ""


def _single(device: type) -> _Cell:
    return _Cell(device, f"A single {_ref(device)} per cross-point.")


def _vector(device: type, n: int) -> _Cell:
    def make() -> VectorUnitCell:
        return VectorUnitCell(
            unit_cell_devices=[device() for _ in range(n)],
            update_policy=VectorUnitCellUpdatePolicy.SINGLE_RANDOM,
        )

    count = {2: "Two", 4: "Four"}[n]
    return _Cell(make, f"{count} {_ref(device)}, one updated at a time.\n\n"
                       "A ``VectorUnitCell`` with ``update_policy=SINGLE_RANDOM``.")


def _transfer_io() -> PresetIOParameters:
    """Transfer reads: the preset periphery without noise and bound management."""
    return PresetIOParameters(
        noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
    )


_TIKI_TAKA_TRANSFER = """\
Transfer reads with :class:`~rpu.presets.PresetIOParameters` without noise and bound
management, transfer writes with :class:`~rpu.presets.PresetUpdateParameters`,
``transfer_every`` in mini-batches."""


def _tiki_taka(device: Callable[[], Any]) -> _Cell:
    def make() -> TransferCompound:
        return TransferCompound(
            unit_cell_devices=[device(), device()],
            transfer_forward=_transfer_io(),
            transfer_update=PresetUpdateParameters(),
            transfer_every=1.0,
            units_in_mbatch=True,
        )

    return _Cell(make, f"Tiki-taka v1 on two {_ref(device)}.\n\n{_device_note(device)}"
                       f"{_TIKI_TAKA_TRANSFER}")



def _single_pulses(title: str, compound: type, device: Callable[[], Any],
                   **settings: Any) -> _Cell:
    """TTv2, chopped TTv2 and AGAD: a device pair whose transfers write single pulses."""

    def make() -> Any:
        return compound(
            unit_cell_devices=[device(), device()],
            transfer_forward=_transfer_io(),
            transfer_update=PresetUpdateParameters(
                desired_bl=1, update_bl_management=False, update_management=False
            ),
            units_in_mbatch=False,
            auto_scale=True,
            **settings,
        )

    return _Cell(make, f"{title} on two {_ref(device)}.\n\n{_device_note(device)}"
                       f"{_values(settings)}, ``auto_scale=True``.")


_ttv2 = partial(_single_pulses, "TTv2", ChoppedTransferCompound, in_chop_prob=0.0)
_chopped_ttv2 = partial(_single_pulses, "Chopped TTv2", ChoppedTransferCompound)
_agad = partial(_single_pulses, "AGAD", DynamicTransferCompound)


def _mixed(device: type) -> _Cell:
    return _Cell(lambda: MixedPrecisionCompound(device=device()),
                 f"Mixed precision (digital rank update) onto {_ref(device)}.")


# --------------------------------------------------------------------------------------------
# the presets
# --------------------------------------------------------------------------------------------


class _Row(NamedTuple):
    """One preset: its class name, the configuration class it extends, what sits at each
    cross-point, the ``desired_bl`` of its update where aihwkit sets one (else the
    :class:`~rpu.presets.PresetUpdateParameters` default, 31) and an optional remark."""

    name: str
    base: type
    cell: _Cell
    desired_bl: Optional[int] = None
    note: str = ""


_PRESETS = (
    # one device (or the PCM unit cell) per cross-point
    _Row("ReRamESPreset", SingleRPUConfig, _single(ReRamESPresetDevice)),
    _Row("ReRamSBPreset", SingleRPUConfig, _single(ReRamSBPresetDevice)),
    _Row("CapacitorPreset", SingleRPUConfig, _single(CapacitorPresetDevice)),
    _Row("EcRamPreset", SingleRPUConfig, _single(EcRamPresetDevice)),
    _Row("EcRamMOPreset", SingleRPUConfig, _single(EcRamMOPresetDevice)),
    _Row("IdealizedPreset", SingleRPUConfig, _single(IdealizedPresetDevice)),
    _Row("GokmenVlasovPreset", SingleRPUConfig, _single(GokmenVlasovPresetDevice)),
    _Row("PCMPreset", UnitCellRPUConfig,
         _Cell(PCMPresetUnitCell, "A :class:`~rpu.presets.PCMPresetUnitCell` (PCM pair with "
                                  "refresh) per cross-point.")),
    # 2 or 4 devices per cross-point, one updated at a time
    _Row("ReRamES2Preset", UnitCellRPUConfig, _vector(ReRamESPresetDevice, 2)),
    _Row("ReRamSB2Preset", UnitCellRPUConfig, _vector(ReRamSBPresetDevice, 2)),
    _Row("Capacitor2Preset", UnitCellRPUConfig, _vector(CapacitorPresetDevice, 2)),
    _Row("EcRam2Preset", UnitCellRPUConfig, _vector(EcRamPresetDevice, 2)),
    _Row("EcRamMO2Preset", UnitCellRPUConfig, _vector(EcRamMOPresetDevice, 2)),
    _Row("Idealized2Preset", UnitCellRPUConfig, _vector(IdealizedPresetDevice, 2)),
    _Row("ReRamES4Preset", UnitCellRPUConfig, _vector(ReRamESPresetDevice, 4)),
    _Row("ReRamSB4Preset", UnitCellRPUConfig, _vector(ReRamSBPresetDevice, 4)),
    _Row("Capacitor4Preset", UnitCellRPUConfig, _vector(CapacitorPresetDevice, 4)),
    _Row("EcRam4Preset", UnitCellRPUConfig, _vector(EcRamPresetDevice, 4)),
    _Row("EcRamMO4Preset", UnitCellRPUConfig, _vector(EcRamMOPresetDevice, 4)),
    _Row("Idealized4Preset", UnitCellRPUConfig, _vector(IdealizedPresetDevice, 4)),
    # Tiki-taka v1 (TransferCompound)
    _Row("TikiTakaReRamESPreset", UnitCellRPUConfig, _tiki_taka(ReRamESPresetDevice)),
    _Row("TikiTakaReRamSBPreset", UnitCellRPUConfig, _tiki_taka(_SYMMETRIC_RERAM_SB)),
    _Row("TikiTakaCapacitorPreset", UnitCellRPUConfig, _tiki_taka(CapacitorPresetDevice)),
    _Row("TikiTakaEcRamPreset", UnitCellRPUConfig, _tiki_taka(EcRamPresetDevice)),
    _Row("TikiTakaEcRamMOPreset", UnitCellRPUConfig, _tiki_taka(EcRamMOPresetDevice)),
    _Row("TikiTakaIdealizedPreset", UnitCellRPUConfig, _tiki_taka(IdealizedPresetDevice)),
    # TTv2 (ChoppedTransferCompound without choppers)
    _Row("TTv2ReRamESPreset", UnitCellRPUConfig,
         _ttv2(ReRamESPresetDevice, fast_lr=0.5, auto_granularity=1000), 31),
    _Row("TTv2ReRamSBPreset", UnitCellRPUConfig,
         _ttv2(_SYMMETRIC_RERAM_SB, fast_lr=0.5, auto_granularity=1000), 31),
    _Row("TTv2CapacitorPreset", UnitCellRPUConfig,
         _ttv2(CapacitorPresetDevice, fast_lr=0.1, auto_granularity=1000), 31),
    _Row("TTv2EcRamPreset", UnitCellRPUConfig,
         _ttv2(EcRamPresetDevice, fast_lr=0.1, auto_granularity=500), 100),
    _Row("TTv2EcRamMOPreset", UnitCellRPUConfig,
         _ttv2(EcRamMOPresetDevice, fast_lr=0.1, auto_granularity=500), 100),
    _Row("TTv2IdealizedPreset", UnitCellRPUConfig,
         _ttv2(IdealizedPresetDevice, fast_lr=0.1, auto_granularity=500), 100),
    # chopped TTv2 (ChoppedTransferCompound)
    _Row("ChoppedTTv2ReRamESPreset", UnitCellRPUConfig,
         _chopped_ttv2(ReRamESPresetDevice, in_chop_prob=0.01, fast_lr=0.5,
                       auto_granularity=1000), 31),
    _Row("ChoppedTTv2ReRamSBPreset", UnitCellRPUConfig,
         _chopped_ttv2(_SYMMETRIC_RERAM_SB, in_chop_prob=0.01, fast_lr=0.5,
                       auto_granularity=1000), 31),
    _Row("ChoppedTTv2CapacitorPreset", UnitCellRPUConfig,
         _chopped_ttv2(CapacitorPresetDevice, in_chop_prob=0.01, fast_lr=0.1,
                       auto_granularity=1000), 31),
    _Row("ChoppedTTv2EcRamPreset", UnitCellRPUConfig,
         _chopped_ttv2(EcRamPresetDevice, in_chop_prob=0.01, fast_lr=1.0,
                       auto_granularity=500), 100,
         "aihwkit leaves ``fast_lr`` at its default, 1.0, here."),
    _Row("ChoppedTTv2EcRamMOPreset", UnitCellRPUConfig,
         _chopped_ttv2(EcRamMOPresetDevice, in_chop_prob=0.001, fast_lr=0.1,
                       auto_granularity=500), 100),
    _Row("ChoppedTTv2IdealizedPreset", UnitCellRPUConfig,
         _chopped_ttv2(IdealizedPresetDevice, in_chop_prob=0.001, fast_lr=0.1,
                       auto_granularity=500), 100),
    # AGAD (DynamicTransferCompound)
    _Row("AGADReRamESPreset", UnitCellRPUConfig,
         _agad(ReRamESPresetDevice, fast_lr=0.5, auto_granularity=1000, tail_weightening=5.0,
               in_chop_prob=0.02), 31),
    _Row("AGADReRamSBPreset", UnitCellRPUConfig,
         _agad(_SYMMETRIC_RERAM_SB, fast_lr=0.5, auto_granularity=1000, tail_weightening=5.0,
               in_chop_prob=0.02), 31),
    _Row("AGADCapacitorPreset", UnitCellRPUConfig,
         _agad(CapacitorPresetDevice, fast_lr=0.1, auto_granularity=1000, tail_weightening=20.0,
               in_chop_prob=0.01), 31),
    _Row("AGADEcRamPreset", UnitCellRPUConfig,
         _agad(EcRamPresetDevice, fast_lr=0.1, auto_granularity=750, tail_weightening=50.0,
               in_chop_prob=0.005), 31),
    _Row("AGADEcRamMOPreset", UnitCellRPUConfig,
         _agad(EcRamMOPresetDevice, fast_lr=0.1, auto_granularity=500, tail_weightening=50.0,
               in_chop_prob=0.005), 100),
    _Row("AGADIdealizedPreset", UnitCellRPUConfig,
         _agad(IdealizedPresetDevice, fast_lr=0.1, auto_granularity=500, tail_weightening=50.0,
               in_chop_prob=0.005), 100),
    # mixed precision (MixedPrecisionCompound)
    _Row("MixedPrecisionReRamESPreset", DigitalRankUpdateRPUConfig, _mixed(ReRamESPresetDevice)),
    _Row("MixedPrecisionReRamSBPreset", DigitalRankUpdateRPUConfig, _mixed(ReRamSBPresetDevice)),
    _Row("MixedPrecisionCapacitorPreset", DigitalRankUpdateRPUConfig,
         _mixed(CapacitorPresetDevice)),
    _Row("MixedPrecisionEcRamPreset", DigitalRankUpdateRPUConfig, _mixed(EcRamPresetDevice)),
    _Row("MixedPrecisionEcRamMOPreset", DigitalRankUpdateRPUConfig, _mixed(EcRamMOPresetDevice)),
    _Row("MixedPrecisionIdealizedPreset", DigitalRankUpdateRPUConfig,
         _mixed(IdealizedPresetDevice)),
    _Row("MixedPrecisionGokmenVlasovPreset", DigitalRankUpdateRPUConfig,
         _mixed(GokmenVlasovPresetDevice)),
    _Row("MixedPrecisionPCMPreset", DigitalRankUpdateRPUConfig, _mixed(PCMPresetUnitCell)),
)


def _preset(row: _Row) -> type:
    """The configuration class of ``row``: the preset periphery and update, the row's device."""
    update: Callable[[], PresetUpdateParameters] = PresetUpdateParameters
    doc = row.cell.doc
    if row.desired_bl is not None:
        update = partial(PresetUpdateParameters, desired_bl=row.desired_bl)
        doc += f"\nMain update ``desired_bl={row.desired_bl}``."
    if row.note:
        doc += f"\n({row.note})"
    return preset_class(row.name, row.base, doc, __name__, device=row.cell.make,
                        forward=PresetIOParameters, backward=PresetIOParameters, update=update)


__all__ = [row.name for row in _PRESETS]
# Each class is bound to its own name here, where imports, pickle and the docs look it up.
globals().update((row.name, _preset(row)) for row in _PRESETS)
