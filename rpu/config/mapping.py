"""``MappingParameter``: how logical layer weights are mapped onto tiles.

Covers digital vs analog bias, weight scaling into the tile range (with the scale moved to the
digital output), learned output scales, and the maximal tile size used to split large layers.
"""

from ._base import ConfigBase, config_class, param

__all__ = ["MappingParameter"]


@config_class
class MappingParameter(ConfigBase):
    """Mapping of logical weights to tile weights and of layers to tiles.

    Parameters
    ----------
    digital_bias : bool, default True
        Keep a bias in digital, added after the output scaling. If False the bias is an extra
        tile column driven by a constant input 1 ("analog bias").
    weight_scaling_omega : float, default 0.0
        If > 0, ``set_weights`` divides the weights by ``alpha = max|W| / omega`` (so their
        abs-max becomes ``omega``) and multiplies the outputs by ``alpha`` (off if <= 0).
    weight_scaling_columnwise : bool, default False
        One ``alpha`` per output row instead of one for the whole matrix.
    weight_scaling_lr_compensation : bool, default False
        Scale the learning rate by ``1 / mean(alpha)`` to compensate the weight scaling.
    learn_out_scaling : bool, default False
        Add a learnable output scale (initialised to 1).
    out_scaling_columnwise : bool, default False
        The learnable output scale has one value per output instead of one.
    max_input_size : int, default 512
        Largest tile input size; larger layers are split (0: never split).
    max_output_size : int, default 512
        Largest tile output size; larger layers are split (0: never split).
    """

    digital_bias: bool = param(True)
    weight_scaling_omega: float = param(0.0, note="<= 0 switches weight scaling off")
    weight_scaling_columnwise: bool = param(False)
    weight_scaling_lr_compensation: bool = param(False)
    learn_out_scaling: bool = param(False)
    out_scaling_columnwise: bool = param(False)
    max_input_size: int = param(512, ge=0, note="0 means no split")
    max_output_size: int = param(512, ge=0, note="0 means no split")
