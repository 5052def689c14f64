"""Device parameters: what a single cross-point does when it receives an update pulse.

``PulsedDevice`` holds the parameters every pulsed device shares (bounds, step size, their
device-to-device and cycle-to-cycle spreads, decay, diffusion, reset, drift); each subclass adds
the parameters of its pulse-response rule. ``IdealDevice`` and ``FloatingPointDevice`` update in
exact floating point. These classes only carry parameters, defaults and validation; the
construction (device-to-device draws) and update rules live in the tiles and kernels.

Notation in the docstrings: ``xi`` is a standard normal draw; "dtod" = device-to-device spread
(drawn once per cross-point at construction); "std" = cycle-to-cycle spread (drawn per pulse).
Weights are in the tile's normalised units.
"""

import math
from typing import List, Optional

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param
from .inference import DriftParameter, SimpleDriftParameter

__all__ = [
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
]

_SEED_MAX = 2**32 - 1


def _reject(path: str, name: str, value: object, expected: str) -> None:
    raise ConfigError(f"{path}.{name} = {value!r} is not allowed: expected {expected}")


@config_class
class FloatingPointDevice(ConfigBase):
    """Exact floating-point weights (the device of ``FloatingPointRPUConfig``).

    Parameters
    ----------
    diffusion : float, default 0.0
        Std of the Gaussian random walk added to every weight after each mini-batch (>= 0).
    lifetime : float, default 0.0
        Decay time constant in mini-batches: ``W *= 1 - 1/lifetime`` after each mini-batch
        (used when ``lifetime > 1``; <= 0 switches decay off).
    drift : SimpleDriftParameter
        Power-law drift applied by ``drift_weights``.
    """

    diffusion: float = param(0.0, ge=0.0, note="a standard deviation")
    lifetime: float = param(0.0, inf=True, note="<= 0 switches decay off")
    drift: SimpleDriftParameter = param(factory=SimpleDriftParameter)


@config_class
class IdealDevice(ConfigBase):
    """Exact floating-point update (a GEMM) on an analog tile; forward/backward keep their IO.

    Parameters
    ----------
    construction_seed : int, default 0
        Seed for the construction draws (0: draw one).
    diffusion : float, default 0.0
        Std of the per-mini-batch Gaussian random walk of every weight (>= 0).
    lifetime : float, default 0.0
        Decay time constant in mini-batches (<= 0: no decay).
    reset_std : float, default 0.01
        Std around 0 of a weight after a reset (>= 0).
    """

    construction_seed: int = param(0, ge=0, le=_SEED_MAX, note="0 draws a seed")
    diffusion: float = param(0.0, ge=0.0, note="a standard deviation")
    lifetime: float = param(0.0, inf=True, note="<= 0 switches decay off")
    reset_std: float = param(0.01, ge=0.0, note="a standard deviation")


@config_class
class PulsedDevice(ConfigBase):
    """Parameters shared by all pulsed devices.

    At construction every cross-point ``ij`` gets its own bounds ``b+ = w_max (1 +
    w_max_dtod xi)``, ``b- = w_min (1 + w_min_dtod xi)`` and step sizes
    ``s+ = dw_min (gain + r + min(up_down, 0))``, ``s- = dw_min (gain - r - max(up_down, 0))``
    with ``gain = 1 + dw_min_dtod xi`` (or ``exp(dw_min_dtod xi)``) and ``r = up_down_dtod xi``.
    aihwkit's docstring gives a different ``up_down`` formula; rpu follows its C++ code, as
    written here. Each pulse moves the weight by about one step, then clips it to ``[b-, b+]``.

    Parameters
    ----------
    construction_seed : int, default 0
        Seed of the construction draws (0: draw one). Only the top-level device's seed is used.
    corrupt_devices_prob : float, default 0.0
        Probability that a cross-point is stuck at a random value (in ``[0, 1]``).
    corrupt_devices_range : float, default 0.1
        Stuck values are drawn within ``[-range, range]`` intersected with the bounds (>= 0).
    diffusion : float, default 0.0
        Std of the per-mini-batch Gaussian random walk of the weights (>= 0).
    diffusion_dtod : float, default 0.0
        Relative device-to-device spread of ``diffusion`` (>= 0).
    drift : DriftParameter
        Power-law drift applied by ``drift_weights`` (off while ``drift.nu <= 0``).
    dw_min : float, default 0.001
        Mean step size of one pulse (> 0).
    dw_min_dtod : float, default 0.3
        Device-to-device spread of the step size, relative to ``dw_min`` (>= 0).
    dw_min_dtod_log_normal : bool, default False
        Draw the step-size spread log-normally (``exp(dw_min_dtod xi)``).
    dw_min_std : float, default 0.3
        Pulse-to-pulse spread of the step, relative to the step (>= 0).
    enforce_consistency : bool, default True
        After the draws, make step sizes positive and swap/flip bounds so that
        ``b- <= 0 <= b+``. If False, a cross-point whose drawn ``b- > b+`` is switched off
        (both bounds set to their mean).
    lifetime : float, default 0.0
        Decay time constant in mini-batches: ``w <- (w - b0)(1 - 1/lifetime) + b0`` after each
        mini-batch (<= 0: no decay).
    lifetime_dtod : float, default 0.0
        Relative device-to-device spread of ``lifetime`` (>= 0).
    perfect_bias : bool, default False
        The last column gets ideal steps (``dw_min``) and 100x wider bounds. aihwkit applies
        this to the last column even without an analog bias; so does rpu.
    reset : float, default 0.0
        Mean weight after a reset, also the point decay relaxes to (``b0``). aihwkit 1.1.0
        clamps a negative value to 0 at construction, and rpu follows 1.1.0 there.
    reset_dtod : float, default 0.0
        Absolute device-to-device spread of ``b0`` (>= 0; aihwkit calls it relative, its code
        adds it).
    reset_std : float, default 0.01
        Pulse-free cycle-to-cycle spread of a reset (>= 0).
    up_down : float, default 0.0
        Systematic up/down asymmetry: > 0 shrinks down steps by ``1 - up_down``, < 0 shrinks
        up steps by ``1 + up_down``.
    up_down_dtod : float, default 0.01
        Device-to-device spread of the up/down asymmetry, in units of ``dw_min`` (>= 0).
    w_max : float, default 0.6
        Mean upper bound (>= 0; inf allowed).
    w_max_dtod : float, default 0.3
        Relative device-to-device spread of ``w_max`` (>= 0).
    w_min : float, default -0.6
        Mean lower bound (<= 0 and < ``w_max``; -inf allowed). aihwkit stops with an error
        unless ``[w_min, w_max]`` contains 0; rpu also refuses ``w_min == w_max``.
    w_min_dtod : float, default 0.3
        Relative device-to-device spread of ``w_min`` (>= 0).
    count_pulses : bool, default False
        aihwkit counts the up and down pulses per cross-point on its CUDA tiles only (its CPU
        tile ignores the flag). rpu keeps no pulse counters: a tile refuses ``True`` with a
        :class:`~rpu.errors.ConfigError` rather than ignore the request.
    """

    construction_seed: int = param(0, ge=0, le=_SEED_MAX, note="0 draws a seed")
    corrupt_devices_prob: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    corrupt_devices_range: float = param(0.1, ge=0.0, inf=True)
    diffusion: float = param(0.0, ge=0.0, note="a standard deviation")
    diffusion_dtod: float = param(0.0, ge=0.0, note="a relative spread")
    drift: DriftParameter = param(factory=DriftParameter)
    dw_min: float = param(0.001, gt=0.0)
    dw_min_dtod: float = param(0.3, ge=0.0, note="a relative spread")
    dw_min_dtod_log_normal: bool = param(False)
    dw_min_std: float = param(0.3, ge=0.0, note="a relative spread")
    enforce_consistency: bool = param(True)
    lifetime: float = param(0.0, inf=True, note="<= 0 switches decay off")
    lifetime_dtod: float = param(0.0, ge=0.0, note="a relative spread")
    perfect_bias: bool = param(False)
    reset: float = param(0.0)
    reset_dtod: float = param(0.0, ge=0.0, note="a standard deviation")
    reset_std: float = param(0.01, ge=0.0, note="a standard deviation")
    up_down: float = param(0.0)
    up_down_dtod: float = param(0.01, ge=0.0, note="a standard deviation in units of dw_min")
    w_max: float = param(0.6, inf=True)
    w_max_dtod: float = param(0.3, ge=0.0, note="a relative spread")
    w_min: float = param(-0.6, inf=True)
    w_min_dtod: float = param(0.3, ge=0.0, note="a relative spread")
    count_pulses: bool = param(False)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        self._check_bounds(path, self.w_min, self.w_max, "w_min", "w_max")

    @staticmethod
    def _check_bounds(path: str, w_min: float, w_max: float, n_min: str, n_max: str) -> None:
        if w_min is None or w_max is None:
            return
        if not w_min < w_max:
            _reject(path, n_min, w_min, f"a value < {n_max} = {w_max!r}")
        if w_min > 0:
            _reject(path, n_min, w_min, "a value <= 0 ([w_min, w_max] must contain 0)")
        if w_max < 0:
            _reject(path, n_max, w_max, "a value >= 0 ([w_min, w_max] must contain 0)")

    def calc_weight_granularity(self) -> float:
        """Return the weight change of one typical pulse (``dw_min`` for this device type)."""
        return float(self.dw_min)


def _check_reverse(dev: ConfigBase, path: str) -> None:
    if (dev.reverse_up or dev.reverse_down) and not dev.mult_noise:  # type: ignore[attr-defined]
        _reject(
            path,
            "mult_noise",
            False,
            "True when reverse_up or reverse_down is set (aihwkit stops with the same error)",
        )


@config_class
class ConstantStepDevice(PulsedDevice):
    """Constant step: each pulse moves the weight by ``s+`` or ``s-`` times ``(1 + dw_min_std
    xi)``, then clips. All parameters are those of :class:`PulsedDevice`.
    """


@config_class
class LinearStepDevice(PulsedDevice):
    """Step size that changes linearly with the weight.

    With slopes ``k+ = -gamma_up s+ / w_max`` and ``k- = -gamma_down s- / w_min`` (per device),
    an up pulse adds ``(k+ w + s+)`` and a down pulse subtracts ``(k- w + s-)``, each times
    ``(1 + dw_min_std xi)`` (multiplicative noise) or with the noise on the constant part only.
    ``gamma = 1`` and no spread gives soft bounds. Parameters of :class:`PulsedDevice`, plus:

    Parameters
    ----------
    gamma_up : float, default 0.0
        Relative reduction of the up step at the upper bound (0.1: 10 % smaller there).
    gamma_down : float, default 0.0
        Relative reduction of the down step at the lower bound.
    gamma_up_dtod : float, default 0.05
        Device-to-device spread of ``gamma_up`` (absolute, >= 0).
    gamma_down_dtod : float, default 0.05
        Device-to-device spread of ``gamma_down`` (absolute, >= 0).
    allow_increasing : bool, default False
        Allow drawn gammas to be negative (steps growing towards the bounds); otherwise their
        absolute value is used.
    mean_bound_reference : bool, default True
        Compute the slopes from the mean bounds ``w_max``/``w_min`` instead of each device's
        drawn bounds.
    mult_noise : bool, default True
        Multiplicative (whole step) instead of additive (constant part) pulse noise.
    write_noise_std : float, default 0.0
        Std, in units of ``dw_min``, of noise between the stored weight and the weight that is
        read; redrawn after each change (>= 0; 0 is off).
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.
    reverse_up : bool, default False
        Reference the up slope to ``w_min - reverse_offset`` (steps grow towards the upper
        bound). Needs ``mult_noise``.
    reverse_down : bool, default False
        Reference the down slope to ``w_max + reverse_offset``. Needs ``mult_noise``.
    reverse_offset : float, default 0.01
        Offset used by the reverse modes.
    """

    gamma_up: float = param(0.0)
    gamma_down: float = param(0.0)
    gamma_up_dtod: float = param(0.05, ge=0.0, note="a standard deviation")
    gamma_down_dtod: float = param(0.05, ge=0.0, note="a standard deviation")
    allow_increasing: bool = param(False)
    mean_bound_reference: bool = param(True)
    mult_noise: bool = param(True)
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)
    reverse_up: bool = param(False)
    reverse_down: bool = param(False)
    reverse_offset: float = param(0.01)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_reverse(self, path)


@config_class
class SoftBoundsDevice(PulsedDevice):
    """Soft bounds: the step shrinks linearly to zero at the bounds.

    Up step ``s+ (1 - w / b+)``, down step ``s- (1 - w / b-)`` (a :class:`LinearStepDevice`
    with gammas 1, no gamma spread, per-device bound reference). Parameters of
    :class:`PulsedDevice`, plus:

    Parameters
    ----------
    mult_noise : bool, default True
        Multiplicative instead of additive pulse noise.
    write_noise_std : float, default 0.0
        Write-noise std in units of ``dw_min`` (>= 0), see :class:`LinearStepDevice`.
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.
    reverse_up, reverse_down : bool, default False
        Reverse the up / down slope reference (see :class:`LinearStepDevice`); needs
        ``mult_noise``.
    reverse_offset : float, default 0.01
        Offset used by the reverse modes.
    """

    mult_noise: bool = param(True)
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)
    reverse_up: bool = param(False)
    reverse_down: bool = param(False)
    reverse_offset: float = param(0.01)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_reverse(self, path)


@config_class
class SoftBoundsPmaxDevice(SoftBoundsDevice):
    """Soft bounds parameterised by a pulse experiment.

    ``p_max`` up pulses from ``range_min`` reach ``range_max``. With
    ``B = (range_max - range_min) / (1 - exp(-p_max alpha))`` the equivalent
    :class:`SoftBoundsDevice` has ``w_min = range_min``, ``w_max = range_min + B``,
    ``dw_min = B alpha`` and ``up_down = 1 + 2 range_min / B`` (see
    :meth:`to_soft_bounds`). Parameters of :class:`SoftBoundsDevice`, plus:

    Parameters
    ----------
    p_max : int, default 1000
        Number of up pulses from ``range_min`` to ``range_max`` (>= 1).
    alpha : float, default 0.0005
        Relative step slope (> 0).
    range_min : float, default -1.0
        Weight at the start of the pulse experiment (<= 0).
    range_max : float, default 1.0
        Weight after ``p_max`` up pulses (> ``range_min``).
    w_min, w_max, dw_min, up_down : None
        Derived from the four parameters above; values given here are ignored (overwritten),
        as in aihwkit.
    """

    p_max: int = param(1000, ge=1)
    alpha: float = param(0.001 / 2, gt=0.0)
    range_min: float = param(-1.0)
    range_max: float = param(1.0)
    w_min: Optional[float] = param(None, inf=True, note="derived from range_min; ignored")
    w_max: Optional[float] = param(None, inf=True, note="derived from range_min and alpha; ignored")
    dw_min: Optional[float] = param(None, gt=0.0, note="derived from alpha; ignored")
    up_down: Optional[float] = param(None, note="derived; ignored")

    def derived_parameters(self) -> dict:
        """Return ``{"w_min", "w_max", "dw_min", "up_down"}`` of the equivalent soft-bounds device."""
        b_factor = (self.range_max - self.range_min) / (1.0 - math.exp(-self.p_max * self.alpha))
        return {
            "w_min": self.range_min,
            "w_max": self.range_min + b_factor,
            "dw_min": b_factor * self.alpha,
            "up_down": 1.0 + 2.0 * self.range_min / b_factor,
        }

    def to_soft_bounds(self) -> SoftBoundsDevice:
        """Return the equivalent :class:`SoftBoundsDevice` (all other fields copied)."""
        values = {
            name: getattr(self, name)
            for name in SoftBoundsDevice.__dataclass_fields__  # type: ignore[attr-defined]
        }
        values.update(self.derived_parameters())
        values["drift"] = self.drift.copy()
        return SoftBoundsDevice(**values)

    def calc_weight_granularity(self) -> float:
        """Return the derived ``dw_min``: the step of one pulse at the symmetry point."""
        return float(self.derived_parameters()["dw_min"])

    def _check_consistency(self, path: str) -> None:
        ConfigBase._check_consistency(self, path)
        if not self.range_min < self.range_max:
            _reject(path, "range_min", self.range_min, f"a value < range_max = {self.range_max!r}")
        if self.range_min > 0:
            _reject(path, "range_min", self.range_min, "a value <= 0 (the weight range must contain 0)")
        _check_reverse(self, path)


@config_class
class SoftBoundsReferenceDevice(PulsedDevice):
    """Soft bounds around a per-device reference (symmetry point) that is subtracted.

    The device state is ``v = w + ref``; the soft-bounds rule acts on ``v`` and the visible
    weight is ``v - ref``. Parameters of :class:`PulsedDevice`, plus:

    Parameters
    ----------
    mult_noise : bool, default False
        Multiplicative instead of additive pulse noise.
    write_noise_std : float, default 0.0
        Write-noise std in units of ``dw_min`` (>= 0).
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.
    slope_up_dtod : float, default 0.0
        Relative device-to-device spread of the up slope (>= 0); absorbed into the bound.
    slope_down_dtod : float, default 0.0
        Relative device-to-device spread of the down slope (>= 0).
    reference_mean : float, default 0.0
        Mean of the reference offset.
    reference_std : float, default 0.0
        Device-to-device std of the reference offset (>= 0).
    subtract_symmetry_point : bool, default False
        Add each device's symmetry point to its reference (and reset bias).
    """

    mult_noise: bool = param(False)
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)
    slope_up_dtod: float = param(0.0, ge=0.0, note="a relative spread")
    slope_down_dtod: float = param(0.0, ge=0.0, note="a relative spread")
    reference_mean: float = param(0.0)
    reference_std: float = param(0.0, ge=0.0, note="a standard deviation")
    subtract_symmetry_point: bool = param(False)


@config_class
class ExpStepDevice(PulsedDevice):
    """Step size that depends exponentially on the weight.

    With ``z = 2 a w / (b+ - b-) + b``: up step ``s+ max(1 - A_up exp(gamma_up z), 0)``,
    down step ``s- max(1 - A_down exp(-gamma_down z), 0)``. Parameters of
    :class:`PulsedDevice`, plus:

    Parameters
    ----------
    A_up, A_down : float, default 0.00081, 0.36833
        Amplitudes of the exponential step reduction.
    gamma_up, gamma_down : float, default 12.44625, 12.78785
        Exponents of the step reduction.
    a, b : float, default 0.244, 0.2425
        Scale and offset of the normalised weight ``z``.
    dw_min_std_add : float, default 0.0
        Additive pulse-noise term (>= 0), in weight units.
    dw_min_std_slope : float, default 0.0
        Pulse-noise term proportional to ``|w|`` (>= 0).
    write_noise_std : float, default 0.0
        Write-noise std in units of ``dw_min`` (>= 0).
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.

    Notes
    -----
    The weight granularity (used by update management) is the mean of the up and down steps at
    ``w = 0``, as aihwkit's documentation intends. aihwkit's code averages the down step with
    itself [bug?]: 0.00098342 there against 0.00098343 here for the defaults.
    """

    A_up: float = param(0.00081)
    A_down: float = param(0.36833)
    gamma_up: float = param(12.44625)
    gamma_down: float = param(12.78785)
    a: float = param(0.244)
    b: float = param(0.2425)
    dw_min_std_add: float = param(0.0, ge=0.0)
    dw_min_std_slope: float = param(0.0, ge=0.0)
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)

    @staticmethod
    def _step_factor(A: float, exponent: float) -> float:
        """``max(1 - A exp(exponent), 0)``; an exponent past the float range gives 0 for A > 0
        and inf for A < 0, as the float arithmetic of the pulse rule does."""
        if A == 0:
            return 1.0
        try:
            e = math.exp(exponent)
        except OverflowError:
            e = math.inf
        return max(1 - A * e, 0.0)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        # at w = 0 (z = b) the steps must be finite: update management scales by them
        for name, A, exponent in (("A_up", self.A_up, self.gamma_up * self.b),
                                  ("A_down", self.A_down, -self.gamma_down * self.b)):
            if not math.isfinite(self._step_factor(A, exponent)):
                _reject(path, name, A, f"a value >= 0 here: with exp({exponent!r}) past the "
                                       "float range, the step at w = 0, 1 - A exp(...), is infinite")

    def calc_weight_granularity(self) -> float:
        """Mean of the up and down step sizes at w = 0 (dw_min if both vanish)."""
        z = self.b
        up_bias = min(self.up_down, 0.0)
        down_bias = -self.up_down if self.up_down > 0 else 0.0
        dw_up = (1 + up_bias) * self.dw_min * self._step_factor(self.A_up, self.gamma_up * z)
        dw_down = (1 + down_bias) * self.dw_min * self._step_factor(self.A_down,
                                                                    -self.gamma_down * z)
        g = max((dw_up + dw_down) / 2, 0.0)
        return g if g > 0 else self.dw_min


@config_class
class PowStepDevice(PulsedDevice):
    """Step size that follows a power of the distance to the bound.

    With ``R = b+ - b-``: up step ``s+ ((b+ - w) / R)^gamma+``, down step
    ``s- ((w - b-) / R)^gamma-``. Parameters of :class:`PulsedDevice`, plus:

    Parameters
    ----------
    pow_gamma : float, default 1.0
        Mean exponent (>= 0).
    pow_gamma_dtod : float, default 0.1
        Relative device-to-device spread of the exponent (>= 0).
    pow_up_down : float, default 0.0
        Up/down asymmetry of the exponent (like ``up_down`` for the steps).
    pow_up_down_dtod : float, default 0.0
        Device-to-device spread of that asymmetry (>= 0).
    write_noise_std : float, default 0.0
        Write-noise std in units of ``dw_min`` (>= 0).
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.
    """

    pow_gamma: float = param(1.0, ge=0.0)
    pow_gamma_dtod: float = param(0.1, ge=0.0, note="a relative spread")
    pow_up_down: float = param(0.0)
    pow_up_down_dtod: float = param(0.0, ge=0.0, note="a standard deviation")
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)

    def calc_weight_granularity(self) -> float:
        """Return ``dw_min 0.5^pow_gamma``: the step of one pulse at mid-range, as aihwkit
        computes it. (The tile uses the same product in its dtype.)"""
        return float(self.dw_min * 0.5**self.pow_gamma)


@config_class
class PowStepReferenceDevice(PulsedDevice):
    """:class:`PowStepDevice` rule around a subtracted per-device reference.

    Parameters of :class:`PulsedDevice`, plus:

    Parameters
    ----------
    pow_gamma, pow_gamma_dtod, pow_up_down, pow_up_down_dtod : float
        As in :class:`PowStepDevice`.
    subtract_symmetry_point : bool, default False
        Estimate each device's symmetry point (by simulated up/down pulse pairs) and add it to
        the reference and reset bias.
    n_estimation_steps : int, default -1
        Number of pulse pairs of that estimate (<= 0: chosen automatically, at most 10000).
    reference_mean : float, default 0.0
        Mean of the reference offset.
    reference_std : float, default 0.0
        Device-to-device std of the reference offset (>= 0).

    Notes
    -----
    A pulse moves ``v = w + reference`` by the PowStep rule; the distance to the bound it moves
    towards counts as 0 where ``v`` is at or past that bound, so the step vanishes there.
    aihwkit 1.1.0 (a [bug?] rpu does not reproduce): a device on its bound stores
    ``w = b+ - reference``, and in float32 ``w + reference`` can come back one rounding step
    past ``b+`` (for about 4 % of random bounds and references). aihwkit then takes ``powf``
    of the negative distance, gets NaN, and its clip puts the device on the opposite bound
    ``b-``.
    """

    pow_gamma: float = param(1.0, ge=0.0)
    pow_gamma_dtod: float = param(0.1, ge=0.0, note="a relative spread")
    pow_up_down: float = param(0.0)
    pow_up_down_dtod: float = param(0.0, ge=0.0, note="a standard deviation")
    subtract_symmetry_point: bool = param(False)
    n_estimation_steps: int = param(-1, note="<= 0 chooses automatically")
    reference_mean: float = param(0.0)
    reference_std: float = param(0.0, ge=0.0, note="a standard deviation")

    def calc_weight_granularity(self) -> float:
        """Return ``dw_min 0.5^pow_gamma``: the step of one pulse at mid-range, as aihwkit
        computes it. (The tile uses the same product in its dtype.)"""
        return float(self.dw_min * 0.5**self.pow_gamma)


@config_class
class PiecewiseStepDevice(PulsedDevice):
    """Step size interpolated between nodes spread evenly over ``[b-, b+]``.

    ``piecewise_up[k]`` / ``piecewise_down[k]`` are step sizes relative to the device's step at
    node ``k`` (first node at ``b-``, last at ``b+``); between nodes the step is interpolated
    linearly. Parameters of :class:`PulsedDevice`, plus:

    Parameters
    ----------
    piecewise_up : list of float, default [1]
        Relative up-step sizes at the nodes (at least one; same length as ``piecewise_down``).
    piecewise_down : list of float, default [1]
        Relative down-step sizes at the nodes.
    write_noise_std : float, default 0.0
        Write-noise std in units of ``dw_min`` (>= 0).
    apply_write_noise_on_set : bool, default True
        Also add the write noise when weights are set.
    """

    piecewise_up: List[float] = param(factory=lambda: [1.0])
    piecewise_down: List[float] = param(factory=lambda: [1.0])
    write_noise_std: float = param(0.0, ge=0.0, note="a standard deviation in units of dw_min")
    apply_write_noise_on_set: bool = param(True)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        if len(self.piecewise_up) == 0:
            _reject(path, "piecewise_up", self.piecewise_up, "a non-empty list of step sizes")
        if len(self.piecewise_down) != len(self.piecewise_up):
            _reject(
                path,
                "piecewise_down",
                self.piecewise_down,
                f"a list of the same length as piecewise_up ({len(self.piecewise_up)})",
            )

    def calc_weight_granularity(self) -> float:
        """Return ``dw_min`` times the middle node of ``piecewise_up`` (the step at mid-range),
        as aihwkit computes it. (The tile uses the same product in its dtype.)"""
        return float(self.dw_min * self.piecewise_up[len(self.piecewise_up) // 2])
