"""``UpdateParameters``: how an SGD update is turned into pulse trains on a pulsed device.

Defaults are aihwkit 1.1.0's. The update math itself lives in the tiles and kernels.
"""

from ._base import ConfigBase, config_class, param
from .enums import PulseType

__all__ = ["UpdateParameters"]

# The longest pulse train rpu simulates, in slots. A train is packed into ceil(BL / 64) words
# per line and sample, and each slot costs time on every weight, so a longer one would take
# gigabytes and hours for one batch; aihwkit's trains use 31 to a few hundred slots.
MAX_BL = 65536


@config_class
class UpdateParameters(ConfigBase):
    """Pulsed-update settings (bit length, update management, pulse type).

    Notation: ``BL`` is the number of time slots of a pulse train, ``g`` the weight granularity
    of the device (about ``dw_min``), ``lr`` the tile learning rate. The probabilities of an
    input / error pulse in a slot are ``B |x_j|`` and ``A |d_i|``.

    Parameters
    ----------
    desired_bl : int, default 31
        Pulse-train length; with ``update_bl_management`` the maximal one (1 to 65536, rpu's
        ``MAX_BL``).
    fixed_bl : bool, default True
        Always use ``BL = desired_bl`` and ``A = B = sqrt(lr / (g * BL))``. If False (and
        ``update_bl_management`` off), ``BL`` grows to ``ceil(lr / g)`` when ``g * desired_bl``
        is smaller than ``lr``, with ``A = B = 1``; an update whose ``lr / g`` asks for more than
        65536 slots raises ValueError and changes nothing.
    pulse_type : PulseType, default STOCHASTIC_COMPRESSED
        How pulses are generated; ``NONE`` gives an exact floating-point update. As in
        aihwkit, a tile's ``NONE`` replaces its device, a compound cell included, by one
        floating-point device: no bounds, no sub-devices, no transfers, no hidden
        parameters.
    res : float, default 0
        Resolution (bin width in ``0..1``) of the pulse probabilities; ``<= 0`` is continuous.
        aihwkit's documentation allows ``> 1`` as a number of steps, but aihwkit 1.1.0 uses
        the raw value, so ``res > 1`` rounds every probability to 0 and no pulse is ever
        applied [bug]. rpu reads ``res > 1`` as a number of steps (``1 / res``), as documented.
    x_res_implicit : float, default 0
        Quantisation step of the inputs ``x`` for ``DETERMINISTIC_IMPLICIT`` (<= 0: off).
    d_res_implicit : float, default 0
        Quantisation step of the errors ``d`` for ``DETERMINISTIC_IMPLICIT`` (<= 0: off).
    d_sparsity : bool, default False
        aihwkit records the share of zero errors in a ChoppedTransferCompound's state, and its
        CPU tile uses it for nothing else. rpu accepts the flag and does not record that share;
        no pulse depends on it.
    sto_round : bool, default False
        Stochastic rounding of the probabilities (only when ``res > 0``).
    update_bl_management : bool, default True
        Per sample, shorten ``BL`` to the expected number of pulses
        ``ceil(lr * max|x| * max|d| / g)`` (at most ``desired_bl``). Turns
        ``update_management`` on as well.
    update_management : bool, default True
        Balance ``A`` and ``B`` by ``sqrt(max|x| / (um_grad_scale * max|d|))`` so that both
        sides use the probability range equally.
    um_grad_scale : float, default 1.0
        Factor on ``max|d|`` in the balancing (> 0); below 1 the error side saturates earlier
        when the learning rate asks for more than ``desired_bl`` pulses.
    """

    desired_bl: int = param(31, ge=1, le=MAX_BL)
    fixed_bl: bool = param(True)
    pulse_type: PulseType = param(PulseType.STOCHASTIC_COMPRESSED)
    res: float = param(0.0, note="<= 0 is continuous, > 1 is a number of steps")
    x_res_implicit: float = param(0.0, note="<= 0 switches the quantisation off")
    d_res_implicit: float = param(0.0, note="<= 0 switches the quantisation off")
    d_sparsity: bool = param(False)
    sto_round: bool = param(False)
    update_bl_management: bool = param(True)
    update_management: bool = param(True)
    um_grad_scale: float = param(1.0, gt=0.0)
