"""Enumerations used by the configuration dataclasses.

Member names and string values are exactly those of ``aihwkit.simulator.parameters.enums``
(aihwkit 1.1.0), so code ported from aihwkit keeps working and configs compare by value. Unlike
aihwkit's plain ``Enum`` classes, these derive from ``str``: ``PulseType.NONE == "None"``.
Configuration fields also accept the value or the member name as a string (any case) and
convert it on validation.
"""

from enum import Enum

__all__ = [
    "RPUDataType",
    "BoundManagementType",
    "NoiseManagementType",
    "WeightNoiseType",
    "PulseType",
    "WeightModifierType",
    "WeightClipType",
    "WeightRemapType",
    "VectorUnitCellUpdatePolicy",
    "AnalogMVType",
    "CountLRFeedbackPolicy",
]


class RPUDataType(str, Enum):
    """Floating-point type a tile computes in.

    rpu tiles support ``FLOAT`` (float32, the default) and ``DOUBLE`` (float64). ``HALF`` exists
    for compatibility with aihwkit, where it also needs a special build.
    """

    FLOAT = "float"
    DOUBLE = "double"
    HALF = "half"


class BoundManagementType(str, Enum):
    """How the forward pass reacts when an output hits the ADC bound.

    Attributes
    ----------
    NONE
        Outputs are simply clipped at ``out_bound``.
    ITERATIVE
        Repeat the MVM with the input scaled down by 2, 4, 8, ... until no output clips or a
        stop criterion (``max_bm_factor``, ``max_bm_res``) is met.
    ITERATIVE_WORST_CASE
        Like ``ITERATIVE``, but from the second pass on the input scale is the worst-case
        ``AbsMaxNPSum`` noise-management factor. (aihwkit's docstring says "at most 2 passes";
        its CPU code keeps doubling after that, which rpu follows.)
    SHIFT
        Listed by aihwkit but implemented by none of its backends; rpu's configuration
        validation rejects it.

    Bound management acts in the forward pass only; the backward pass always uses ``NONE``.
    """

    NONE = "None"
    ITERATIVE = "Iterative"
    ITERATIVE_WORST_CASE = "IterativeWorstCase"
    SHIFT = "Shift"


class NoiseManagementType(str, Enum):
    """How each input vector is scaled before the DAC (factor ``nu``; output is rescaled by it).

    Attributes
    ----------
    NONE
        No scaling.
    ABS_MAX
        ``nu = max_j |x_j|`` (capped at ``nm_thres`` when that is > 0).
    ABS_MAX_NP_SUM
        Worst-case estimate from the positive and negative input sums, assuming every weight
        equals 0.6 (the C++ ``nm_assumed_wmax``), so that the output cannot clip.
    MAX
        ``nu = max_j x_j`` (signed; an all-negative input gives a zero output).
    CONSTANT
        ``nu = nm_thres`` (1 if ``nm_thres <= 0``).
    AVERAGE_ABS_MAX
        Running average of the abs-max (decay 1e-3). In aihwkit's CPU code the running value is
        updated per input vector, also in evaluation, and shared by forward and backward
        [bug?]; see the tile documentation for what rpu does.
    """

    NONE = "None"
    ABS_MAX = "AbsMax"
    ABS_MAX_NP_SUM = "AbsMaxNPSum"
    MAX = "Max"
    CONSTANT = "Constant"
    AVERAGE_ABS_MAX = "AverageAbsMax"


class WeightNoiseType(str, Enum):
    """Output-referred weight read noise added to each MVM output (strength ``w_noise``).

    Attributes
    ----------
    NONE
        Off.
    ADDITIVE_CONSTANT
        ``y_i += w_noise * ||u||_2 * xi``: every weight gets independent Gaussian noise of
        std ``w_noise``.
    PCM_READ
        ``y_i += w_noise * sqrt(sum_j |W_ij| u_j^2) * xi``: noise grows with the current.
    """

    NONE = "None"
    ADDITIVE_CONSTANT = "AdditiveConstant"
    PCM_READ = "PCMRead"


class PulseType(str, Enum):
    """How the update ``W -= lr * d x^T`` is turned into device pulses.

    Attributes
    ----------
    NONE
        Exact floating-point update; the device is replaced by a plain floating-point one.
    STOCHASTIC_COMPRESSED
        Stochastic pulse trains, both signs in one pass (aihwkit default).
    STOCHASTIC
        Stochastic pulse trains, positive and negative inputs in two passes (CPU only in
        aihwkit); statistically identical to ``STOCHASTIC_COMPRESSED``.
    NONE_WITH_DEVICE
        Exact floating-point update, then the weights are clipped to the device bounds. A
        VectorUnitCell or ReferenceUnitCell applies it to the devices its update policy
        selects; aihwkit 1.1.0 writes the step into the visible weights, which the clip then
        recomputes from the unchanged devices, so the step is lost [bug?]. Transfer compounds
        and one-sided cells refuse it (ConfigError).
    MEAN_COUNT
        Deterministic coincidence counts from the expected pulse numbers.
    DETERMINISTIC_IMPLICIT
        Deterministic coincidences ``rint(BL * x_q * d_q)`` from quantised inputs.
    """

    NONE = "None"
    STOCHASTIC_COMPRESSED = "StochasticCompressed"
    STOCHASTIC = "Stochastic"
    NONE_WITH_DEVICE = "NoneWithDevice"
    MEAN_COUNT = "MeanCount"
    DETERMINISTIC_IMPLICIT = "DeterministicImplicit"


class WeightModifierType(str, Enum):
    """Weight perturbation used for hardware-aware training (see ``WeightModifierParameter``).

    Attributes
    ----------
    NONE
        No modification; ``pdrop`` still applies in rpu (aihwkit's C++ tile skips the modifier
        for ``NONE``, ignoring ``pdrop`` [bug?]).
    DISCRETIZE
        Quantise the weights to ``res``.
    MULT_NORMAL
        Multiplicative Gaussian noise.
    ADD_NORMAL
        Additive Gaussian noise.
    DISCRETIZE_ADD_NORMAL
        Quantise, then additive Gaussian noise.
    DOREFA
        DoReFa quantisation.
    POLY
        Gaussian noise whose std is a polynomial (``coeffs``) of the normalised weight.
    PCM_NOISE
        PCM programming/drift noise model (aihwkit: CUDA only; rpu: every backend).
    PROG_NOISE
        Like ``POLY`` but the noise never flips a weight's sign.
    DROP_CONNECT
        Only drop-connect with probability ``pdrop``.
    COPY
        Legacy: no modification, ``pdrop`` honoured.
    """

    NONE = "None"
    DISCRETIZE = "Discretize"
    MULT_NORMAL = "MultNormal"
    ADD_NORMAL = "AddNormal"
    DISCRETIZE_ADD_NORMAL = "DiscretizeAddNormal"
    DOREFA = "DoReFa"
    POLY = "Poly"
    PCM_NOISE = "PCMNoise"
    PROG_NOISE = "ProgNoise"
    DROP_CONNECT = "DropConnect"
    COPY = "Copy"


class WeightClipType(str, Enum):
    """How the clip value ``c`` of ``WeightClipParameter`` is chosen (weights -> ``[-c, c]``).

    Attributes
    ----------
    NONE
        No clipping.
    FIXED_VALUE
        ``c = fixed_value`` (no clipping if ``fixed_value < 0``; 0 clips every weight to 0).
    LAYER_GAUSSIAN
        ``c = sigma * std(W)`` (unbiased std), capped by ``fixed_value`` if that is > 0.
    AVERAGE_CHANNEL_MAX
        ``c`` = mean over output rows of the row abs-max, capped by ``fixed_value`` if > 0.
    """

    NONE = "None"
    FIXED_VALUE = "FixedValue"
    LAYER_GAUSSIAN = "LayerGaussian"
    AVERAGE_CHANNEL_MAX = "AverageChannelMax"


class WeightRemapType(str, Enum):
    """How weights are re-scaled into the conductance range (``WeightRemapParameter``).

    Attributes
    ----------
    NONE
        No remapping.
    LAYERWISE_SYMMETRIC
        One scale for the whole matrix, from its abs-max.
    CHANNELWISE_SYMMETRIC
        One scale per output row, from the row abs-max.
    """

    NONE = "None"
    LAYERWISE_SYMMETRIC = "LayerwiseSymmetric"
    CHANNELWISE_SYMMETRIC = "ChannelwiseSymmetric"


class VectorUnitCellUpdatePolicy(str, Enum):
    """Which sub-device of a vector unit cell receives the pulses of an update.

    Attributes
    ----------
    ALL
        All sub-devices get the same coincidences.
    SINGLE_FIXED
        Only the current device (set by the user) is updated.
    SINGLE_SEQUENTIAL
        One device at a time, in turn.
    SINGLE_RANDOM
        One device at a time, chosen at random (aihwkit's CPU code picks per sample, its CUDA
        code per batch).
    """

    ALL = "All"
    SINGLE_FIXED = "SingleFixed"
    SINGLE_SEQUENTIAL = "SingleSequential"
    SINGLE_RANDOM = "SingleRandom"


class AnalogMVType(str, Enum):
    """How the analog matrix-vector product is computed.

    Attributes
    ----------
    IDEAL
        Exact product, same as ``is_perfect=True``.
    ONE_PASS
        Positive and negative inputs in one pass through the array.
    POS_NEG_SEPARATE
        Two passes (negative then positive inputs), summed in analog, one ADC conversion.
    POS_NEG_SEPARATE_DIGITAL_SUM
        Two passes, each through the ADC, summed digitally.
    SPLIT_MODE, BIT_WISE
        PWM variants of aihwkit's torch-only time-dependent IR-drop tile; not available in the
        C++ path, and rejected by rpu's ``IOParameters`` validation.
    """

    IDEAL = "Ideal"
    ONE_PASS = "OnePass"
    POS_NEG_SEPARATE = "PosNegSeparate"
    POS_NEG_SEPARATE_DIGITAL_SUM = "PosNegSeparateDigitalSum"
    SPLIT_MODE = "SplitMode"
    BIT_WISE = "BitWise"


class CountLRFeedbackPolicy(str, Enum):
    """Legacy enum kept by aihwkit for old configurations (deprecated there, unused by rpu)."""

    NONE = "None"
    PAST_MOMENTUM = "PastMomentum"
    EXTERN = "Extern"
