"""Compound presets: unit cells made of preset devices.

Same names and values as aihwkit 1.1.0's ``aihwkit.simulator.presets.compounds``.
"""

from rpu.config._base import config_class
from rpu.config.compounds import OneSidedUnitCell

from ._fields import defaults
from .devices import PCMPresetDevice
from .utils import PresetIOParameters, PresetUpdateParameters

__all__ = ["PCMPresetUnitCell"]


def _pcm_pair() -> list:
    return [PCMPresetDevice(), PCMPresetDevice()]


def _refresh_update() -> PresetUpdateParameters:
    return PresetUpdateParameters(desired_bl=31)


@config_class
@defaults(
    unit_cell_devices=_pcm_pair, refresh_every=1, units_in_mbatch=True,
    refresh_forward=PresetIOParameters, refresh_update=_refresh_update,
)
class PCMPresetUnitCell(OneSidedUnitCell):
    """Two uni-directional PCM devices of opposite sign, refreshed after every mini-batch.

    A :class:`~rpu.config.OneSidedUnitCell` of :class:`~rpu.presets.PCMPresetDevice` (as in
    aihwkit, two entries are listed and only the first is used, for both devices) with
    ``refresh_every=1`` mini-batch, refresh reads with
    :class:`~rpu.presets.PresetIOParameters` and refresh writes with
    ``PresetUpdateParameters(desired_bl=31)``.
    """
