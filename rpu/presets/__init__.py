"""Configuration presets: devices fitted to measurements and ready-made RPU configurations.

Mirrors ``aihwkit.simulator.presets`` of aihwkit 1.1.0 (same names, same values), so that
``from aihwkit.simulator.presets import TikiTakaReRamSBPreset`` becomes
``from rpu.presets import TikiTakaReRamSBPreset``. Every preset is an ordinary rpu
configuration class whose defaults are the preset's values; keyword arguments override them::

    from rpu.presets import ReRamSBPreset, ReRamSBPresetDevice
    cfg = ReRamSBPreset(device=ReRamSBPresetDevice(dw_min=0.001))

Modules: :mod:`.devices` (device presets), :mod:`.compounds` (``PCMPresetUnitCell``),
:mod:`.utils` (IO and update presets), :mod:`.configs` (RPU-configuration presets),
:mod:`.inference` (``StandardHWATrainingPreset``) and :mod:`.web` (the web composer's presets,
not exported here, as in aihwkit). aihwkit's ``FloatingPointPreset`` is left out: it derives
from the torch-only ``TorchInferenceRPUConfig``, which rpu does not have.
"""

# Each module lists its public names in __all__; the package re-exports exactly those.
from . import compounds, configs, devices, inference, utils
from . import web  # noqa: F401  (registers the web composer's classes for from_dict)
from .compounds import *  # noqa: F401,F403
from .configs import *  # noqa: F401,F403
from .devices import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

__all__: list = []
__all__ += configs.__all__
__all__ += inference.__all__
__all__ += devices.__all__
__all__ += compounds.__all__
__all__ += utils.__all__
