"""Periphery presets: the IO and update parameters shared by most presets.

Same names and values as aihwkit 1.1.0's ``aihwkit.simulator.presets.utils``.
"""

from rpu.config._base import config_class
from rpu.config.enums import BoundManagementType, NoiseManagementType, PulseType, WeightNoiseType
from rpu.config.io import IOParameters
from rpu.config.update import UpdateParameters

from ._fields import defaults

__all__ = ["PresetIOParameters", "PresetUpdateParameters", "StandardIOParameters"]

# aihwkit gives the web composer's forward periphery (rpu.presets.web.WebComposerIOParameters)
# the same values under its own class name; both classes take them from here.
PRESET_IO_DEFAULTS = dict(
    bound_management=BoundManagementType.ITERATIVE, noise_management=NoiseManagementType.ABS_MAX,
    inp_res=1.0 / (2**7 - 2), inp_sto_round=False, out_bound=20.0, out_noise=0.1,
    out_res=1.0 / (2**9 - 2), w_noise=0.0, w_noise_type=WeightNoiseType.NONE,
)


@config_class
@defaults(**PRESET_IO_DEFAULTS)
class PresetIOParameters(IOParameters):
    """Forward/backward periphery of most presets: 7-bit DAC, 9-bit ADC, output bound 20.

    Compared with :class:`~rpu.config.IOParameters` only ``out_bound`` (20 instead of 12:
    about 20 fully-on inputs on maximal weights saturate the ADC, for weights in ``[-1, 1]``)
    and ``out_noise`` (0.1, about one ADC step, instead of 0.06) differ. Noise management
    ``ABS_MAX`` and bound management ``ITERATIVE`` are on; there is no weight (read) noise.

    Parameters
    ----------
    bound_management : BoundManagementType, default ITERATIVE
    noise_management : NoiseManagementType, default ABS_MAX
    inp_res : float, default 1/126
        7-bit DAC (no stochastic rounding).
    inp_sto_round : bool, default False
    out_bound : float, default 20.0
        Output (ADC) range, in units of weight times input.
    out_noise : float, default 0.1
        Std of the additive output noise, same units.
    out_res : float, default 1/510
        9-bit ADC (sign included).
    w_noise : float, default 0.0
    w_noise_type : WeightNoiseType, default NONE
        Other fields: see :class:`~rpu.config.IOParameters`.
    """


@config_class
@defaults(desired_bl=31, pulse_type=PulseType.STOCHASTIC_COMPRESSED, update_bl_management=True,
          update_management=True)
class PresetUpdateParameters(UpdateParameters):
    """Update of most presets: stochastic compressed pulse trains of at most 31 pulses.

    The values equal :class:`~rpu.config.UpdateParameters`' defaults; the class exists so
    that presets (and code ported from aihwkit) can name it.

    Parameters
    ----------
    desired_bl : int, default 31
    pulse_type : PulseType, default STOCHASTIC_COMPRESSED
    update_bl_management : bool, default True
    update_management : bool, default True
        Other fields: see :class:`~rpu.config.UpdateParameters`.
    """


@config_class
@defaults(
    bound_management=BoundManagementType.ITERATIVE, noise_management=NoiseManagementType.ABS_MAX,
    inp_res=1.0 / (2**8 - 2), inp_sto_round=False, out_bound=10.0, out_noise=0.04,
    out_res=1.0 / (2**8 - 2), w_noise=0.0, w_noise_type=WeightNoiseType.NONE,
)
class StandardIOParameters(IOParameters):
    """Periphery close to the forward pass of :class:`~rpu.presets.StandardHWATrainingPreset`.

    8-bit DAC and ADC, output bound 10, output noise 0.04, but with noise management
    ``ABS_MAX`` and bound management ``ITERATIVE`` on, and no IR drop or weight noise.

    Parameters
    ----------
    bound_management : BoundManagementType, default ITERATIVE
    noise_management : NoiseManagementType, default ABS_MAX
    inp_res : float, default 1/254
        8-bit DAC.
    inp_sto_round : bool, default False
    out_bound : float, default 10.0
        Output (ADC) range, in units of weight times input.
    out_noise : float, default 0.04
        Std of the additive output noise, same units.
    out_res : float, default 1/254
        8-bit ADC.
    w_noise : float, default 0.0
    w_noise_type : WeightNoiseType, default NONE
        Other fields: see :class:`~rpu.config.IOParameters`.
    """
