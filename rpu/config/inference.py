"""Inference-side parameters: device drift, weight modifiers, weight clipping and remapping.

* ``SimpleDriftParameter`` / ``DriftParameter``: the power-law drift a tile applies to its own
  weights when ``drift_weights`` is called (not the inference noise model's drift, see
  ``rpu.config.noise_models``).
* ``WeightModifierParameter``: weight perturbations for hardware-aware training.
* ``WeightClipParameter`` / ``WeightRemapParameter``: clipping and re-scaling applied after
  each mini-batch of an inference tile.

Defaults are aihwkit 1.1.0's Python defaults.
"""

from typing import List

from ._base import ConfigBase, config_class, param
from .enums import WeightClipType, WeightModifierType, WeightRemapType

__all__ = [
    "SimpleDriftParameter",
    "DriftParameter",
    "WeightModifierParameter",
    "WeightClipParameter",
    "WeightRemapParameter",
]


@config_class
class SimpleDriftParameter(ConfigBase):
    """Power-law weight drift with one exponent for all devices.

    Each call ``drift_weights(dt)`` advances the time by ``dt / t_0``; an element that has not
    been changed since its last drift call becomes ``w0 * (t / t_0)^(-nu)`` (time measured from
    the moment it was last changed, at least one ``t_0``).

    Parameters
    ----------
    nu : float, default 0.0
        Drift exponent. Pulsed devices create the drift only for ``nu > 0``.
    t_0 : float, default 1.0
        Time unit of ``dt`` (> 0).
    reset_tol : float, default 1e-7
        A weight that moved by more than this since the previous drift call (by an update,
        say) restarts its drift clock (>= 0).
    """

    nu: float = param(0.0, note="drift is off unless > 0 on pulsed devices")
    t_0: float = param(1.0, gt=0.0)
    reset_tol: float = param(1e-7, ge=0.0)


@config_class
class DriftParameter(SimpleDriftParameter):
    """Power-law drift with device-to-device spread and conductance dependence.

    The exponent of element ``ij`` is ``nu_ij = nu * (1 + nu_dtod * xi)`` (drawn once), plus
    per-call noise ``nu * nu_std * xi`` and the conductance term
    ``-nu_k * ln((w - w_offset) / wg_ratio + g_offset) + nu_k * log_g0``. aihwkit's CPU code
    uses the natural log there and its CUDA code log10; rpu uses the natural log.

    Parameters
    ----------
    nu, t_0, reset_tol : float
        As in :class:`SimpleDriftParameter`.
    nu_dtod : float, default 0.0
        Device-to-device spread of ``nu``, relative to ``nu`` (>= 0).
    nu_std : float, default 0.0
        Cycle-to-cycle (per call) spread of ``nu``, relative to ``nu`` (>= 0).
    wg_ratio : float, default 1.0
        ``(w_max - w_min) / (g_max - g_min)``: weight units per conductance unit (> 0).
    g_offset : float, default 0.0
        Conductance ``g_min`` that weight ``w_offset`` maps to.
    w_offset : float, default 0.0
        Weight value at ``g_min``.
    nu_k : float, default 0.0
        How strongly ``nu`` depends on the (log) conductance.
    log_g0 : float, default 0.0
        Natural log of the reference conductance ``G0``.
    w_noise_std : float, default 0.0
        Std of Gaussian read noise added after each drift call (>= 0).
    """

    nu_dtod: float = param(0.0, ge=0.0, note="a relative spread")
    nu_std: float = param(0.0, ge=0.0, note="a relative spread")
    wg_ratio: float = param(1.0, gt=0.0)
    g_offset: float = param(0.0)
    w_offset: float = param(0.0)
    nu_k: float = param(0.0)
    log_g0: float = param(0.0)
    w_noise_std: float = param(0.0, ge=0.0, note="a standard deviation")


@config_class
class WeightModifierParameter(ConfigBase):
    """Weight perturbation during hardware-aware training.

    The modified weights are used in the forward and backward passes of the next mini-batch;
    the update acts on the clean weights. ``amax`` below is ``max|W|`` if
    ``rel_to_actual_wmax`` else ``assumed_wmax``.

    Parameters
    ----------
    std_dev : float, default 0.0
        Noise strength (>= 0), relative to ``amax`` (meaning depends on ``type``).
    per_batch_sample : bool, default False
        Draw a new perturbation per sample of the batch (aihwkit: torch tiles only; its C++ tile
        refuses it with a modifier type other than ``NONE``/``COPY``; rpu accepts it).
    res : float, default 0.0
        Quantisation step for ``DISCRETIZE``, ``DOREFA`` and ``DISCRETIZE_ADD_NORMAL`` (relative
        to ``amax``; <= 0 switches it off). aihwkit 1.1.0's C++ tile, which rpu follows, takes it
        as the step even when > 1 (only its torch tile reads ``res > 1`` as ``1/res``): give
        ``1/n`` for ``n`` steps.
    sto_round : bool, default False
        Stochastic rounding when quantising.
    dorefa_clip : float, default 0.6
        Clip value of the DoReFa quantiser.
    pdrop : float, default 0.0
        Drop-connect probability in ``[0, 1]``, combinable with any type (aihwkit's C++ tile
        ignores it with ``NONE``; rpu applies it).
    enable_during_test : bool, default False
        Also use the modified weights in evaluation mode.
    rel_to_actual_wmax : bool, default True
        Scale by the actual ``max|W|`` instead of ``assumed_wmax``.
    assumed_wmax : float, default 1.0
        Assumed weight maximum (> 0).
    copy_last_column : bool, default False
        Leave the last column (an analog bias) unmodified.
    coeffs : list of float, default [0.0105392, 0.0768, -0.046925]
        Polynomial coefficients for ``POLY`` and ``PROG_NOISE`` (in units of ``amax``).
    type : WeightModifierType, default NONE
        Kind of modification.
    g_max : float, default 25.0
        Maximal conductance in uS for ``PROG_NOISE`` and ``PCM_NOISE`` (> 0).
    pcm_zero_thres : float, default 0.0
        ``PCM_NOISE``: weights below this (relative) value are treated as zero (>= 0).
    pcm_t_inference : float, default 0.0
        ``PCM_NOISE``: inference time in seconds the drift is evaluated at (>= 0).
    pcm_prob_at_reset : float, default 0.0
        ``PCM_NOISE``: probability that a device is stuck at reset.
    pcm_prob_at_gmax : float, default 0.0
        ``PCM_NOISE``: probability that a device is stuck at ``g_max``.
    pcm_prob_at_random : float, default 0.0
        ``PCM_NOISE``: probability that a device is stuck at a random conductance.
    pcm_t0 : float, default 20.0
        ``PCM_NOISE``: drift reference time in seconds (> 0).
    """

    std_dev: float = param(0.0, ge=0.0, note="a noise strength")
    per_batch_sample: bool = param(False)
    res: float = param(0.0, note="the step relative to amax; <= 0 switches the quantisation off")
    sto_round: bool = param(False)
    dorefa_clip: float = param(0.6)
    pdrop: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    enable_during_test: bool = param(False)
    rel_to_actual_wmax: bool = param(True)
    assumed_wmax: float = param(1.0, gt=0.0)
    copy_last_column: bool = param(False)
    coeffs: List[float] = param(factory=lambda: [0.0105392, 0.0768, -0.046925])
    type: WeightModifierType = param(WeightModifierType.NONE)
    g_max: float = param(25.0, gt=0.0, note="in uS")
    pcm_zero_thres: float = param(0.0, ge=0.0)
    pcm_t_inference: float = param(0.0, ge=0.0, note="in seconds")
    pcm_prob_at_reset: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    pcm_prob_at_gmax: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    pcm_prob_at_random: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    pcm_t0: float = param(20.0, gt=0.0, note="in seconds")


@config_class
class WeightClipParameter(ConfigBase):
    """Clipping of the weights to ``[-c, c]`` after each mini-batch.

    Parameters
    ----------
    fixed_value : float, default -1.0
        Clip value for ``FIXED_VALUE`` (``< 0``: no clipping; 0 sets every weight to 0), and an
        upper cap on ``c`` for the other types when ``> 0``. These are aihwkit's C++ rules;
        its torch tile clamps to ``[-fixed_value, fixed_value]`` without the guard, setting every
        weight to -1 by default [bug?].
    sigma : float, default 2.5
        Multiple of the weight std for ``LAYER_GAUSSIAN``.
    type : WeightClipType, default NONE
        How ``c`` is chosen; other fields are ignored while this is ``NONE``.
    """

    fixed_value: float = param(-1.0, note="< 0 means no fixed clip value")
    sigma: float = param(2.5)
    type: WeightClipType = param(WeightClipType.NONE)


@config_class
class WeightRemapParameter(ConfigBase):
    """Re-scaling of the weights into the conductance range after each mini-batch.

    The scale taken out of the weights moves into the tile's digital output scales, so the
    logical weights stay the same.

    Parameters
    ----------
    remapped_wmax : float, default 1.0
        Target abs-max of the weights after remapping (> 0).
    max_scale_range : float, default 0.0
        ``CHANNELWISE_SYMMETRIC`` only: cap on the ratio of the largest to the smallest output
        scale (off if <= 0; needs ``remapped_wmax == 1``).
    max_scale_ref : float, default 0.0
        Lower bound of the reference (smallest) scale used with ``max_scale_range``
        (ignored if 0).
    type : WeightRemapType, default NONE
        Layer-wise or channel-wise remapping.
    """

    remapped_wmax: float = param(1.0, gt=0.0)
    max_scale_range: float = param(0.0, note="<= 0 switches the cap off")
    max_scale_ref: float = param(0.0)
    type: WeightRemapType = param(WeightRemapType.NONE)
