"""Device presets: single pulsed devices fitted to published measurements.

Same names and values as aihwkit 1.1.0's ``aihwkit.simulator.presets.devices``. Each preset is a
subclass of an rpu device class that only changes defaults (the ``@defaults`` above the class
statement; see :func:`~rpu.presets._fields.defaults`); weights are in normalised units
(most presets use the range ``[-1, 1]``). Only the fields that differ from the parent's defaults
(or that aihwkit states explicitly) are listed in the docstrings; see the parent class for the
meaning of each field.
"""

from rpu.config._base import config_class
from rpu.config.devices import (
    ConstantStepDevice,
    ExpStepDevice,
    LinearStepDevice,
    SoftBoundsReferenceDevice,
)

from ._fields import defaults

__all__ = [
    "ReRamESPresetDevice",
    "ReRamSBPresetDevice",
    "CapacitorPresetDevice",
    "EcRamPresetDevice",
    "EcRamMOPresetDevice",
    "IdealizedPresetDevice",
    "GokmenVlasovPresetDevice",
    "PCMPresetDevice",
    "ReRamArrayOMPresetDevice",
    "ReRamArrayHfO2PresetDevice",
]


@config_class
@defaults(
    dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0,
    a=-0.5, b=-0.5, gamma_up=5.0, gamma_down=5.0, A_up=-1.18445, A_down=-0.081404,
    dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3,
    dw_min_std=5.0, write_noise_std=75.0,
)
class ReRamESPresetDevice(ExpStepDevice):
    """ReRAM, exponential-step fit to Gong et al., Nat. Commun. 2018.

    ``dw_min=0.00135``, ``up_down=0.259359``, ``w_max=1``, ``w_min=-1``, ``a=b=-0.5``,
    ``gamma_up=gamma_down=5``, ``A_up=-1.18445``, ``A_down=-0.081404``; device-to-device
    ``dw_min_dtod=0.2``, ``up_down_dtod=0.05``, ``w_max_dtod=w_min_dtod=0.3``; cycle-to-cycle
    ``dw_min_std=5.0`` (relative) and ``write_noise_std=75`` (in units of ``dw_min``).
    """


@config_class
@defaults(
    dw_min=0.002, up_down=0.0, w_max=1.25, w_min=-0.75, mult_noise=False,
    dw_min_dtod=0.3, up_down_dtod=0.01, w_max_dtod=0.3 / 1.25, w_min_dtod=0.3 / 0.75,
    dw_min_std=3.75, write_noise_std=56.0,
)
class ReRamSBPresetDevice(SoftBoundsReferenceDevice):
    """ReRAM, soft-bounds fit (loose) to Gong et al., Nat. Commun. 2018.

    Assumes the symmetry point has been calibrated away by a reference (not modelled).
    ``dw_min=0.002``, ``up_down=0``, ``w_max=1.25``, ``w_min=-0.75``, additive pulse noise
    (``mult_noise=False``); ``dw_min_dtod=0.3``, ``up_down_dtod=0.01``,
    ``w_max_dtod=0.3/1.25``, ``w_min_dtod=0.3/0.75``; ``dw_min_std=3.75``,
    ``write_noise_std=56`` (units of ``dw_min``; an int in aihwkit, 56.0 here).
    """


@config_class
@defaults(
    dw_min=0.005, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False,
    gamma_up=0.05, gamma_down=0.05,
    dw_min_dtod=0.1, up_down_dtod=0.06, w_max_dtod=0.07, w_min_dtod=0.07,
    gamma_up_dtod=0.01, gamma_down_dtod=0.01,
    dw_min_std=0.3, write_noise_std=0.0,
    mean_bound_reference=True, lifetime=1.0e6, lifetime_dtod=0.3,
)
class CapacitorPresetDevice(LinearStepDevice):
    """Capacitor cell, linear-step fit to Li et al., VLSI 2018, with leakage.

    ``dw_min=0.005``, ``up_down=0``, ``w_max=1``, ``w_min=-1``, additive pulse noise,
    ``gamma_up=gamma_down=0.05``; ``dw_min_dtod=0.1``, ``up_down_dtod=0.06``,
    ``w_max_dtod=w_min_dtod=0.07``, ``gamma_up_dtod=gamma_down_dtod=0.01``;
    ``dw_min_std=0.3``, no write noise, slopes from the mean bounds. Leakage: ``lifetime=1e6``
    mini-batches with ``lifetime_dtod=0.3``; decay is applied once per mini-batch, so adapt
    ``lifetime`` to the physical time a mini-batch takes.
    """


@config_class
@defaults(
    dw_min=0.002, up_down=0.0, w_max=1.1724, w_min=-0.8276, mult_noise=True,
    gamma_up=0.1153, gamma_down=0.5085,
    dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05,
    gamma_up_dtod=0.05, gamma_down_dtod=0.05,
    dw_min_std=0.3, write_noise_std=0.0,
    mean_bound_reference=True,
)
class EcRamPresetDevice(LinearStepDevice):
    """Lithium-based ECRAM, linear-step fit to Tang et al., IEDM 2018.

    The range is shifted so that the symmetry point is at 0. ``dw_min=0.002``, ``up_down=0``,
    ``w_max=1.1724``, ``w_min=-0.8276``, multiplicative pulse noise, ``gamma_up=0.1153``,
    ``gamma_down=0.5085``; ``dw_min_dtod=0.1``, ``up_down_dtod=0.01``,
    ``w_max_dtod=w_min_dtod=0.05``, ``gamma_up_dtod=gamma_down_dtod=0.05``;
    ``dw_min_std=0.3``, no write noise, slopes from the mean bounds.
    """


@config_class
@defaults(
    dw_min=2.8214e-4, up_down=0.0, w_max=1.1714, w_min=-0.8286, mult_noise=True,
    gamma_up=0.4152, gamma_down=0.7342,
    dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05,
    gamma_up_dtod=0.05, gamma_down_dtod=0.05,
    dw_min_std=2.0, write_noise_std=0.0,
    mean_bound_reference=True,
)
class EcRamMOPresetDevice(LinearStepDevice):
    """Metal-oxide ECRAM, linear-step model from data of Kim et al., IEDM 2019.

    ``dw_min=2.8214e-4``, ``up_down=0``, ``w_max=1.1714``, ``w_min=-0.8286``, multiplicative
    pulse noise, ``gamma_up=0.4152``, ``gamma_down=0.7342``; ``dw_min_dtod=0.1``,
    ``up_down_dtod=0.01``, ``w_max_dtod=w_min_dtod=0.05``,
    ``gamma_up_dtod=gamma_down_dtod=0.05``; ``dw_min_std=2.0``, no write noise, slopes from
    the mean bounds.
    """


@config_class
@defaults(
    dw_min=0.0002, up_down=0.0, w_max=1.0, w_min=-1.0,
    dw_min_dtod=0.3, up_down_dtod=0.0, w_max_dtod=0.3, w_min_dtod=0.3,
    dw_min_std=0.3,
)
class IdealizedPresetDevice(ConstantStepDevice):
    """Idealised constant-step device: symmetric on average, about 10000 states.

    The variations of Gokmen & Vlasov 2016 with the device-to-device up/down asymmetry set to 0
    and 8 times more states (also used by Rasch, Gokmen & Haensch 2019): ``dw_min=0.0002``,
    ``dw_min_dtod=0.3``, ``dw_min_std=0.3``, ``up_down=0``, ``up_down_dtod=0``, ``w_max=1``,
    ``w_min=-1``, ``w_max_dtod=w_min_dtod=0.3``.
    """


@config_class
@defaults(
    dw_min=0.0016, up_down=0.0, w_max=1.0, w_min=-1.0,
    dw_min_dtod=0.3, up_down_dtod=0.01, w_max_dtod=0.3, w_min_dtod=0.3,
    dw_min_std=0.3,
)
class GokmenVlasovPresetDevice(ConstantStepDevice):
    """Constant-step device of Gokmen & Vlasov, Front. Neurosci. 2016, scaled to ``[-1, 1]``.

    About 1200 states: ``dw_min=0.0016``, ``dw_min_dtod=0.3``, ``dw_min_std=0.3``,
    ``up_down=0``, ``up_down_dtod=0.01``, ``w_max=1``, ``w_min=-1``,
    ``w_max_dtod=w_min_dtod=0.3``.
    """


@config_class
@defaults(
    dw_min=0.01, up_down=0.0, w_max=2.0, w_min=0.0,
    a=-1.0, b=0.0, gamma_up=2.5, gamma_down=2.5, A_up=-27.235, A_down=-2.235,
    dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.1, w_min_dtod=0.0,
    dw_min_std=0.6, dw_min_std_add=0.042, dw_min_std_slope=0.108, write_noise_std=0.0,
    reset=0.01, reset_dtod=0.02,
)
class PCMPresetDevice(ExpStepDevice):
    """Phase-change memory (GST), exponential-step model of Nandakumar et al. 2020.

    Uni-directional (weights in ``[0, 2]``): use it in pairs with refresh, see
    :class:`~rpu.presets.PCMPresetUnitCell`. ``dw_min=0.01``, ``up_down=0``, ``w_max=2``,
    ``w_min=0``, ``a=-1``, ``b=0``, ``gamma_up=gamma_down=2.5``, ``A_up=-27.235``,
    ``A_down=-2.235``; ``dw_min_dtod=0.2``, ``up_down_dtod=0.05``, ``w_max_dtod=0.1``,
    ``w_min_dtod=0``; pulse noise ``dw_min_std=0.6`` (relative), ``dw_min_std_add=0.042`` and
    ``dw_min_std_slope=0.108`` (weight units), no write noise; reset to ``0.01`` with
    device-to-device spread ``0.02``.
    """


@config_class
@defaults(
    enforce_consistency=True, dw_min_dtod_log_normal=True,
    dw_min=0.0949, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False,
    dw_min_dtod=0.7829, up_down_dtod=0.01, w_max_dtod=0.3499, w_min_dtod=0.5695,
    dw_min_std=0.4158, write_noise_std=1.4113,
    corrupt_devices_range=0.01, corrupt_devices_prob=0.0, subtract_symmetry_point=True,
    reference_std=0.05,
)
class ReRamArrayOMPresetDevice(SoftBoundsReferenceDevice):
    """ReRAM array, "optimized material", fit of Gong & Rasch et al., IEDM 2022.

    Soft bounds around a subtracted symmetry point (5 % reference error by default), log-normal
    step spread: ``dw_min=0.0949``, ``up_down=0``, ``w_max=1``, ``w_min=-1`` (compliance
    adjusted), additive pulse noise; ``dw_min_dtod=0.7829``, ``up_down_dtod=0.01``,
    ``w_max_dtod=0.3499``, ``w_min_dtod=0.5695``; ``dw_min_std=0.4158``,
    ``write_noise_std=1.4113``; ``corrupt_devices_range=0.01`` with
    ``corrupt_devices_prob=0`` (13.5 % in the measured array);
    ``subtract_symmetry_point=True``, ``reference_std=0.05``.
    """


@config_class
@defaults(
    enforce_consistency=True, dw_min_dtod_log_normal=True,
    dw_min=0.4622, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False,
    dw_min_dtod=0.7125, up_down_dtod=0.01, w_max_dtod=0.4295, w_min_dtod=0.5990,
    dw_min_std=0.2174, write_noise_std=0.5841,
    corrupt_devices_range=0.01, corrupt_devices_prob=0.0, subtract_symmetry_point=True,
    reference_std=0.05,
)
class ReRamArrayHfO2PresetDevice(SoftBoundsReferenceDevice):
    """ReRAM array, "baseline HfO2", fit of Gong & Rasch et al., IEDM 2022.

    As :class:`ReRamArrayOMPresetDevice` with ``dw_min=0.4622``, ``dw_min_dtod=0.7125``,
    ``w_max_dtod=0.4295``, ``w_min_dtod=0.5990``, ``dw_min_std=0.2174``,
    ``write_noise_std=0.5841`` (``corrupt_devices_prob=0``; 10 % in the measured array).
    """
