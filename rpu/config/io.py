"""``IOParameters``: the analog matrix-vector product and its DAC/ADC periphery.

One instance describes one direction (forward or backward) of a tile: input scaling (noise and
bound management), DAC quantisation and noise, the analog non-idealities of the array, and the ADC
(output noise, quantisation, clipping). Defaults are aihwkit 1.1.0's Python defaults.
"""

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param
from .enums import AnalogMVType, BoundManagementType, NoiseManagementType, WeightNoiseType

__all__ = ["IOParameters"]


@config_class
class IOParameters(ConfigBase):
    """Analog MVM (forward or backward pass) and its periphery.

    Units: inputs are normalised to ``[-inp_bound, inp_bound]`` after noise management; outputs
    are in units of "weight times input", before the digital rescaling.

    Parameters
    ----------
    is_perfect : bool, default False
        Exact product ``y = out_scale * W x``; every other setting is ignored (weight modifiers
        and inference noise models still apply).
    mv_type : AnalogMVType, default ONE_PASS
        Kind of analog product. ``IDEAL`` is the same as ``is_perfect``. ``SPLIT_MODE`` and
        ``BIT_WISE`` belong to aihwkit's torch IR-drop tile only and are rejected.
    inp_bound : float, default 1.0
        DAC range ``[-inp_bound, inp_bound]``; ``<= 0`` means unbounded. Must be exactly 1 while
        noise management is on (aihwkit's C++ code stops with an error otherwise).
    inp_noise : float, default 0.0
        Std of Gaussian noise added to each DAC output (>= 0). aihwkit's CPU path adds it after
        the clip, its CUDA path before.
    inp_res : float, default 1/126
        DAC resolution as a fraction of the half range: the step is ``inp_res * 2 * inp_bound``.
        ``> 1`` is read as a number of steps (``1/inp_res``); ``<= 0`` turns quantisation off.
        The default gives 127 levels on ``[-1, 1]`` (7 bits).
    inp_sto_round : bool, default False
        Stochastic instead of round-half-even rounding in the DAC.
    inp_asymmetry : float, default 0.0
        Negative DAC outputs are multiplied by ``1 - inp_asymmetry``.
    out_bound : float, default 12.0
        ADC range ``[-out_bound, out_bound]``; ``<= 0`` (or inf) means unbounded.
    out_noise : float, default 0.06
        Std of Gaussian noise added to each analog output before the ADC (>= 0).
    out_noise_std : float, default 0.0
        Relative output-to-output spread of ``out_noise``, drawn once at tile construction
        (>= 0); not the noise std itself.
    out_res : float, default 1/510
        ADC resolution as a fraction of the half range (step ``out_res * 2 * out_bound``);
        ``> 1`` is a number of steps, ``<= 0`` turns quantisation off (511 levels by default).
    out_sto_round : bool, default False
        Stochastic rounding in the ADC.
    out_scale : float, default 1.0
        Fixed digital factor applied to the final output.
    out_asymmetry : float, default 0.0
        Negative analog outputs are multiplied by ``1 - out_asymmetry`` (only if > 0).
    bound_management : BoundManagementType, default ITERATIVE
        Reaction to clipped outputs (forward only; ``SHIFT`` is rejected, no backend has it).
    noise_management : NoiseManagementType, default ABS_MAX
        Per-vector input scaling before the DAC.
    w_noise : float, default 0.0
        Strength of the output-referred weight noise (>= 0), see ``w_noise_type``.
    w_noise_type : WeightNoiseType, default NONE
        Kind of output-referred weight noise.
    ir_drop : float, default 0.0
        Scale of the IR-drop model along the inputs (>= 0; 0 is off).
    ir_drop_g_ratio : float, default 1/0.35/5e-6
        Wire conductance between neighbouring cells divided by the device's maximal conductance
        (> 0); the default assumes 0.35 Ohm wires and 5 uS devices.
    out_nonlinearity : float, default 0.0
        Strength of the S-shaped output non-linearity ``y / (1 + n_i |y|)`` (off if <= 0).
    out_nonlinearity_std : float, default 0.0
        Relative output-to-output spread of ``out_nonlinearity`` (>= 0).
    slope_calibration : float, default 0.0
        Point of the output range (relative) where the non-linearity is calibrated to slope 1
        (off if <= 0).
    v_offset_std : float, default 0.0
        Std of the per-output voltage offset factor (>= 0). aihwkit draws ``max(std*xi, 0)``,
        so offsets are never negative.
    v_offset_w_min : float, default -1.0
        Weight value of the implicit reference device used with voltage offsets.
    r_series : float, default 0.0
        Series resistance as a fraction of the total output current (off if <= 0).
    w_read_asymmetry_dtod : float, default 0.0
        Device-to-device std of the read asymmetry seen by negative inputs (>= 0; only in the
        ``POS_NEG_SEPARATE*`` modes).
    max_bm_factor : int, default 1000
        Bound management stops once the input down-scaling factor exceeds this (>= 0).
    max_bm_res : float, default 0.25
        Bound management also stops once the down-scaling factor exceeds
        ``max_bm_res / DAC step`` (16 passes' worth by default: 5 passes).
    bm_test_negative_bound : bool, default True
        Whether outputs clipping at ``-out_bound`` trigger bound management too. With False,
        aihwkit's C++ code assigns instead of AND-ing the pass flag, so the result depends on
        the output order [bug?]; rpu follows the same order (see the tile documentation).
    nm_thres : float, default 0.0
        For ``CONSTANT`` noise management the constant; for ``ABS_MAX``, ``MAX`` and
        ``ABS_MAX_NP_SUM`` an upper cap on the factor (no cap if <= 0). ``AVERAGE_ABS_MAX``
        ignores it, as aihwkit's C++ code does (its running average is never capped).
    """

    is_perfect: bool = param(False)
    mv_type: AnalogMVType = param(AnalogMVType.ONE_PASS)
    inp_bound: float = param(1.0, inf=True, note="<= 0 means unbounded")
    inp_noise: float = param(0.0, ge=0.0, note="a standard deviation")
    inp_res: float = param(
        1.0 / (2**7 - 2), note="<= 0 switches the DAC quantisation off, > 1 is a number of steps"
    )
    inp_sto_round: bool = param(False)
    inp_asymmetry: float = param(0.0)
    out_bound: float = param(12.0, inf=True, note="<= 0 means unbounded")
    out_noise: float = param(0.06, ge=0.0, note="a standard deviation")
    out_noise_std: float = param(0.0, ge=0.0, note="a relative spread")
    out_res: float = param(
        1.0 / (2**9 - 2), note="<= 0 switches the ADC quantisation off, > 1 is a number of steps"
    )
    out_sto_round: bool = param(False)
    out_scale: float = param(1.0)
    out_asymmetry: float = param(0.0)
    bound_management: BoundManagementType = param(BoundManagementType.ITERATIVE)
    noise_management: NoiseManagementType = param(NoiseManagementType.ABS_MAX)
    w_noise: float = param(0.0, ge=0.0, note="a noise strength")
    w_noise_type: WeightNoiseType = param(WeightNoiseType.NONE)
    ir_drop: float = param(0.0, ge=0.0, note="0 switches IR drop off")
    ir_drop_g_ratio: float = param(1.0 / 0.35 / 5e-6, gt=0.0)
    out_nonlinearity: float = param(0.0, note="<= 0 switches it off")
    out_nonlinearity_std: float = param(0.0, ge=0.0, note="a relative spread")
    slope_calibration: float = param(0.0, note="<= 0 switches it off")
    v_offset_std: float = param(0.0, ge=0.0, note="a standard deviation")
    v_offset_w_min: float = param(-1.0)
    r_series: float = param(0.0, note="<= 0 switches it off")
    w_read_asymmetry_dtod: float = param(0.0, ge=0.0, note="a standard deviation")
    max_bm_factor: int = param(1000, ge=0)
    max_bm_res: float = param(0.25, ge=0.0)
    bm_test_negative_bound: bool = param(True)
    nm_thres: float = param(0.0, note="<= 0 means no cap")

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if self.mv_type in (AnalogMVType.SPLIT_MODE, AnalogMVType.BIT_WISE):
            raise ConfigError(
                f"{path}.mv_type = {self.mv_type.value!r} is not allowed: expected one of "
                "'Ideal', 'OnePass', 'PosNegSeparate', 'PosNegSeparateDigitalSum' "
                "(split-mode and bit-wise PWM exist only in aihwkit's torch IR-drop tile)"
            )
        if self.bound_management == BoundManagementType.SHIFT:
            raise ConfigError(
                f"{path}.bound_management = 'Shift' is not allowed: expected 'None', 'Iterative' "
                "or 'IterativeWorstCase' (shift bound management is not implemented, neither in "
                "aihwkit nor in rpu)"
            )
        perfect = self.is_perfect or self.mv_type == AnalogMVType.IDEAL
        if (
            not perfect
            and self.noise_management != NoiseManagementType.NONE
            and self.inp_bound != 1.0
        ):
            raise ConfigError(
                f"{path}.inp_bound = {self.inp_bound!r} is not allowed: expected 1.0 while "
                f"noise_management is {self.noise_management.value!r} (set noise_management to "
                "'None' to use another input bound; aihwkit stops with the same error)"
            )
