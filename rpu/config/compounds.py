"""Compound devices: several devices per cross-point, and the training algorithms built on them.

The classes, fields, defaults and field order follow aihwkit 1.1.0
(``aihwkit.simulator.configs.compounds``):

* :class:`UnitCell` and its subclasses hold a list ``unit_cell_devices`` of pulsed devices
  (:class:`VectorUnitCell`, :class:`ReferenceUnitCell`, :class:`OneSidedUnitCell`) or implement
  a transfer-based algorithm on them (:class:`TransferCompound` = Tiki-taka v1,
  :class:`BufferedTransferCompound` = TTv2 buffer, :class:`ChoppedTransferCompound` =
  TTv2 / c-TTv2, :class:`DynamicTransferCompound` = AGAD). They go into
  ``UnitCellRPUConfig.device``.
* :class:`DigitalRankUpdateCell` and :class:`MixedPrecisionCompound` compute the rank update in
  digital and transfer it to one analog device; they go into
  ``DigitalRankUpdateRPUConfig.device``.

As in aihwkit, the compound's own ``construction_seed`` is the one used for the construction draws
of all its devices (each device draws its own stream from it, so no two are the same devices);
the devices' own seeds are not used. Where the compound's seed is 0 (aihwkit would seed from the
clock), rpu takes the first non-zero seed of its devices (``build_config("mp", ...,
construction_seed=s)`` puts ``s`` on the analog device), and the tile's seed where there is
none. ``diffusion`` and ``lifetime`` of the compound do not exist, each sub-device keeps its own.

Validation happens in two steps. Construction (and :meth:`~rpu.config.ConfigBase.validate`)
checks every field and every device list that is given; an *empty* ``unit_cell_devices`` list is
accepted there because it is aihwkit's default (``VectorUnitCell()`` is a valid object, and the
default device of ``DigitalRankUpdateRPUConfig``). :meth:`UnitCell.check_ready` (also on the RPU
configs) additionally refuses what cannot build a tile: an empty device list, a base class used as
a device, too few devices. Tiles call it before they allocate anything.

The algorithms themselves (update, transfer, choppers, refresh) are described in the spec
(training.md section 4) and implemented in the tiles and kernels.
"""

from typing import List, Optional, Union

from rpu.errors import ConfigError

from ._base import ConfigBase, config_class, param
from .devices import PulsedDevice
from .enums import VectorUnitCellUpdatePolicy
from .io import IOParameters
from .update import UpdateParameters

__all__ = [
    "UnitCell",
    "VectorUnitCell",
    "ReferenceUnitCell",
    "OneSidedUnitCell",
    "DifferenceUnitCell",
    "TransferCompound",
    "BufferedTransferCompound",
    "ChoppedTransferCompound",
    "DynamicTransferCompound",
    "DigitalRankUpdateCell",
    "MixedPrecisionCompound",
]

_SEED_MAX = 2**32 - 1


def _reject(path: str, name: str, value: object, expected: str) -> None:
    raise ConfigError(f"{path}.{name} = {value!r} is not allowed: expected {expected}")


class _Names(str):
    """Text shown as is (without quotes) in error messages."""

    def __repr__(self) -> str:
        return str(self)


def _device_names(devices: List[ConfigBase]) -> str:
    return _Names("[" + ", ".join(type(d).__name__ + "(...)" for d in devices) + "]")


def _transfer_update_bl1() -> UpdateParameters:
    return UpdateParameters(desired_bl=1, update_bl_management=False, update_management=False)


# --------------------------------------------------------------------------------------------
# unit cells
# --------------------------------------------------------------------------------------------


@config_class
class UnitCell(ConfigBase):
    """Base of the compounds that hold several pulsed devices per cross-point.

    Not usable as a device by itself (aihwkit raises ``NotImplementedError`` when it builds a
    tile from it; :meth:`check_ready` raises :class:`~rpu.errors.ConfigError`). It is the
    default ``device`` of ``UnitCellRPUConfig``, which must therefore be replaced.

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        The devices of the cell, in order (their meaning depends on the subclass).
    construction_seed : int, default 0
        Seed of the construction draws of all the cell's devices; the devices' own
        ``construction_seed`` is not used. 0: the first non-zero seed of its devices, else the
        tile's seed.
    """

    unit_cell_devices: List[PulsedDevice] = param(factory=list)
    construction_seed: int = param(0, ge=0, le=_SEED_MAX, note="0 draws a seed")

    #: (min, max) number of devices this cell accepts in ``unit_cell_devices`` (max None: any).
    _n_devices_allowed = (1, None)

    def _n_used_devices(self) -> int:
        """Number of devices the tile will build from ``unit_cell_devices``."""
        return len(self.unit_cell_devices)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        n = len(self.unit_cell_devices)
        lo, hi = self._n_devices_allowed
        if n and (n < lo or (hi is not None and n > hi)):
            _reject(path, "unit_cell_devices", _device_names(self.unit_cell_devices),
                    self._count_text())

    def _count_text(self) -> str:
        lo, hi = self._n_devices_allowed
        if hi is None:
            what = f"at least {lo} device" + ("s" if lo > 1 else "")
        elif lo == hi:
            what = f"exactly {lo} devices"
        else:
            what = f"{lo} to {hi} devices"
        return f"a list of {what} for {type(self).__name__}"

    def check_ready(self, path: Optional[str] = None) -> "UnitCell":
        """Validate, then also refuse what cannot build a tile.

        Raises :class:`~rpu.errors.ConfigError` if the cell is the :class:`UnitCell` base
        class itself or if ``unit_cell_devices`` is empty.

        Returns
        -------
        self
        """
        path = path or type(self).__name__
        self.validate(_path=path)
        if type(self) is UnitCell:
            raise ConfigError(
                f"{path} = UnitCell(...) is not allowed: expected a concrete unit cell "
                "(VectorUnitCell, ReferenceUnitCell, OneSidedUnitCell, TransferCompound, "
                "BufferedTransferCompound, ChoppedTransferCompound or DynamicTransferCompound)"
            )
        if not self.unit_cell_devices:
            _reject(path, "unit_cell_devices", [], self._count_text())
        return self

    def requires_diffusion(self) -> bool:
        """Whether any device of the cell has diffusion switched on."""
        return any(dev.diffusion > 0 for dev in self.unit_cell_devices)

    def requires_decay(self) -> bool:
        """Whether any device of the cell has decay switched on (``lifetime > 0``)."""
        return any(dev.lifetime > 0 for dev in self.unit_cell_devices)


def _check_vector(cell: ConfigBase, path: str, n: int) -> None:
    """Checks of ``first_update_idx`` and ``gamma_vec`` against ``n`` used devices (0: unknown)."""
    if n and cell.first_update_idx >= n:  # type: ignore[attr-defined]
        _reject(path, "first_update_idx", cell.first_update_idx,  # type: ignore[attr-defined]
                f"an index < {n} (the number of devices)")
    gamma_vec = cell.gamma_vec  # type: ignore[attr-defined]
    if n and gamma_vec and len(gamma_vec) != n:
        _reject(path, "gamma_vec", gamma_vec,
                f"an empty list (1/n each) or one factor per device ({n})")


@config_class
class VectorUnitCell(UnitCell):
    """Several pulsed devices per cross-point whose weighted sum is the weight.

    The visible weight is ``W = sum_k gamma_k w_k``. Depending on ``update_policy``, every
    device (``ALL``: the same pulse coincidences for all, independent cycle-to-cycle noise) or
    one device per update receives the pulses. ``set_weights(W)`` writes ``W`` (not ``W/n``)
    into every device (only into the current one for ``SINGLE_FIXED``). The weight granularity
    of the cell, used by update management, is the mean of the devices' granularities.

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        The devices of the cell (at least one to build a tile).
    construction_seed : int, default 0
        Seed of the construction draws of all devices (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    update_policy : VectorUnitCellUpdatePolicy, default ALL
        Which device receives the pulses. The single policies choose the device per sample on
        the CPU (aihwkit's CPU path; its CUDA path chooses per mini-batch).
    first_update_idx : int, default 0
        Device that receives the first update (and, for ``SINGLE_FIXED``, all of them);
        ``0 <= first_update_idx < len(unit_cell_devices)``.
    gamma_vec : list of float, default []
        Weighting factors ``gamma_k``, one per device; empty gives ``1/n`` each.
    """

    update_policy: VectorUnitCellUpdatePolicy = param(VectorUnitCellUpdatePolicy.ALL)
    first_update_idx: int = param(0, ge=0)
    gamma_vec: List[float] = param(factory=list)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_vector(self, path, self._n_used_devices())


@config_class
class ReferenceUnitCell(UnitCell):
    """A device and a reference device per cross-point: ``W = w_0 - w_1``.

    Only device ``first_update_idx`` (0) is updated and written by ``set_weights``; the
    reference keeps its value (0 after construction). To program the reference, select it with
    the tile's ``set_hidden_update_index(1)`` before ``set_weights``. Exactly two devices are
    used: a single device is duplicated, devices after the second are ignored (as in aihwkit).

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        One or more devices (the first two are used; one is used twice).
    construction_seed : int, default 0
        Seed of the construction draws of both devices (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    update_policy : VectorUnitCellUpdatePolicy, default SINGLE_FIXED
        Keep ``SINGLE_FIXED`` for a reference cell.
    first_update_idx : int, default 0
        Device that receives the updates (0 or 1).
    gamma_vec : list of float, default [1.0, -1.0]
        Weighting of the two devices (two factors, or empty for 1/2 each).
    """

    update_policy: VectorUnitCellUpdatePolicy = param(VectorUnitCellUpdatePolicy.SINGLE_FIXED)
    first_update_idx: int = param(0, ge=0)
    gamma_vec: List[float] = param(factory=lambda: [1.0, -1.0])

    def _n_used_devices(self) -> int:
        return 2 if self.unit_cell_devices else 0

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_vector(self, path, 2)


@config_class
class OneSidedUnitCell(UnitCell):
    """A pair of devices that only ever move up, ``W = w_plus - w_minus``, with refresh.

    Device 0 (``g-``) receives the pulses that decrease ``W``, device 1 (``g+``) those that
    increase it, always as up pulses. ``set_weights(W)`` writes ``max(W, 0)`` to ``g+`` and
    ``max(-W, 0)`` to ``g-``. As in aihwkit's C++ code, only the *first* entry of
    ``unit_cell_devices`` is used, for both devices (a second entry must be of the same class
    and is ignored).

    Refresh (when ``refresh_every > 0``): every ``refresh_every`` vector updates (times the
    mini-batch size if ``units_in_mbatch``), each column of both devices is read with
    ``refresh_forward``; an element whose larger normalised read (``read / |w_max|``) exceeds
    ``refresh_upper_thres`` while the smaller one exceeds ``refresh_lower_thres`` has both
    devices reset and their difference re-written onto one of them with ``refresh_update``.
    aihwkit aborts a refresh for devices with ``write_noise_std > 0``.

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        One device (or two of the same class; the second is ignored).
    construction_seed : int, default 0
        Seed of the construction draws of both devices (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    refresh_every : int, default 0
        Refresh period in vector updates (or mini-batches); <= 0 switches refresh off.
    units_in_mbatch : bool, default True
        Count ``refresh_every`` in mini-batches instead of vector updates.
    refresh_upper_thres : float, default 0.75
        Upper threshold on the normalised larger read (dimensionless).
    refresh_lower_thres : float, default 0.25
        Lower threshold on the normalised smaller read (dimensionless).
    refresh_forward : IOParameters, default IOParameters()
        Periphery of the refresh reads (noise and bound management included).
    refresh_update : UpdateParameters, default UpdateParameters()
        Pulsed update used to re-write the refreshed weights.
    copy_inverted : bool, default False
        Mirror device 1 (g+): up and down exchanged, bounds negated. As aihwkit 1.1.0's code
        does it, device 1 keeps its own device-to-device draws for the step scales, bounds and
        references (exchanged, mirrored, negated) and takes device 0's slopes (linear step,
        soft bounds; negated) and gammas (power step), up and down exchanged; its
        documentation reads all of them as device 0's.
    """

    refresh_every: int = param(0, note="<= 0 switches refresh off")
    units_in_mbatch: bool = param(True)
    refresh_upper_thres: float = param(0.75, note="a fraction of |w_max|")
    refresh_lower_thres: float = param(0.25, note="a fraction of |w_max|")
    refresh_forward: IOParameters = param(factory=IOParameters)
    refresh_update: UpdateParameters = param(factory=UpdateParameters)
    copy_inverted: bool = param(False)

    _n_devices_allowed = (1, 2)

    def _n_used_devices(self) -> int:
        return 2 if self.unit_cell_devices else 0

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        devices = self.unit_cell_devices
        if len(devices) == 2 and type(devices[0]) is not type(devices[1]):
            _reject(path, "unit_cell_devices", _device_names(devices),
                    "two devices of the same class (only the first one is used, for both "
                    "the plus and the minus device)")


@config_class
class DifferenceUnitCell(OneSidedUnitCell):
    """Deprecated aihwkit alias of :class:`OneSidedUnitCell` (same fields and defaults).

    aihwkit meant to warn on its use, but its hook is misspelt and never runs; rpu does not
    warn either.
    """


# --------------------------------------------------------------------------------------------
# transfer compounds
# --------------------------------------------------------------------------------------------


@config_class
class TransferCompound(UnitCell):
    """Tiki-taka (version 1): SGD on a fast device, occasional transfer to slower devices.

    Device 0 (``A``, fast) receives the pulsed SGD update; every ``transfer_every`` updates,
    ``n_reads_per_transfer`` columns (or rows) of device ``k`` are read with
    ``transfer_forward`` (one-hot inputs; noise and bound management are forced off) and added to
    device ``k + 1`` by a pulsed update with ``transfer_update``. The visible weight is
    ``W = sum_k gamma_k w_k`` with ``gamma_k = gamma^(n-1-k)`` (``[gamma, 1]`` for two devices);
    with ``gamma = 0`` only the last device is visible. As in aihwkit, all devices after the
    first are built from the *second* entry of ``unit_cell_devices`` (further entries only
    count).

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        Fast device first, then the slow device(s); at least two to build a tile.
    construction_seed : int, default 0
        Seed of the construction draws of all devices (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    gamma : float, default 0.0
        Weight of the fast device(s) in the visible weight (>= 0; ignored if ``gamma_vec``
        is given).
    gamma_vec : list of float, default []
        Explicit weighting, one factor per device; the last one must not be 0.
    transfer_every : float, default 1.0
        Transfer period of device 0, in vector updates or (``units_in_mbatch``) in
        mini-batches; <= 0 means no transfer. Later devices transfer every
        ``transfer_every * (x_size / n_reads_per_transfer)^k`` unless ``transfer_every_vec``
        is given: aihwkit's documented rule. (aihwkit 1.1.0's code uses the output size, d_size
        for column transfer; pass ``transfer_every_vec`` to reproduce it.)
    no_self_transfer : bool, default True
        Set the period of the last device (a transfer onto itself) to 0.
    transfer_every_vec : list of float, default []
        Explicit transfer periods, one per device.
    units_in_mbatch : bool, default True
        Count ``transfer_every`` in mini-batches (``ceil(transfer_every * m_batch)`` vector
        updates) instead of vector updates.
    n_reads_per_transfer : int, default 1
        Consecutive columns (rows) read and written per transfer (>= 1; at most the input
        size is used).
    transfer_columns : bool, default True
        Transfer columns (read by forward passes); False transfers rows (backward passes,
        still with the ``transfer_forward`` parameters).
    with_reset_prob : float, default 0.0
        Probability of resetting the transferred columns of the source device after a read
        (in ``[0, 1]``; column transfer only): one coin per read, and each element of a
        column whose coin falls goes to ``reset_bias + reset_std xi`` (clipped). With
        ``n_reads_per_transfer > 1`` rpu resets the column just read, as documented;
        aihwkit 1.1.0 resets all the transfer's columns after each single read (so its later
        reads of that transfer can see reset columns).
    random_selection : bool, default False
        Start each transfer at a random column instead of the next one in turn.
    fast_lr : float, default 1.0
        Learning rate of the SGD update onto device 0. In aihwkit 1.1.0 a value > 0 is used
        as is, *not* scaled by the optimizer's learning rate; <= 0 uses the optimizer's.
    transfer_lr : float, default 1.0
        Learning rate of the transfer updates (>= 0; the sign is applied internally).
    transfer_lr_vec : list of float, default []
        Explicit transfer learning rates, one per device (>= 0 each).
    scale_transfer_lr : bool, default True
        Multiply the transfer learning rate by the optimizer's current learning rate.
    transfer_forward : IOParameters, default IOParameters()
        Periphery of the transfer reads.
    transfer_update : UpdateParameters, default UpdateParameters()
        Pulsed update of the transfer writes (the full default: BL 31 with update and bit-line
        management).
    """

    gamma: float = param(0.0, ge=0.0, note="a weighting factor")
    gamma_vec: List[float] = param(factory=list)
    transfer_every: float = param(1.0, note="<= 0 switches transfer off")
    no_self_transfer: bool = param(True)
    transfer_every_vec: List[float] = param(factory=list)
    units_in_mbatch: bool = param(True)
    n_reads_per_transfer: int = param(1, ge=1)
    transfer_columns: bool = param(True)
    with_reset_prob: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    random_selection: bool = param(False)
    fast_lr: float = param(1.0, note="<= 0 uses the optimizer's learning rate")
    transfer_lr: float = param(1.0, ge=0.0, note="a learning rate; the sign is applied internally")
    transfer_lr_vec: List[float] = param(factory=list, ge=0.0, note="learning rates")
    scale_transfer_lr: bool = param(True)
    transfer_forward: IOParameters = param(factory=IOParameters)
    transfer_update: UpdateParameters = param(factory=UpdateParameters)

    _n_devices_allowed = (2, None)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        n = len(self.unit_cell_devices)
        for name in ("gamma_vec", "transfer_every_vec", "transfer_lr_vec"):
            vec = getattr(self, name)
            if n and vec and len(vec) != n:
                _reject(path, name, vec, f"an empty list or one value per device ({n})")
        if self.gamma_vec and self.gamma_vec[-1] == 0.0:
            _reject(path, "gamma_vec", self.gamma_vec,
                    "a non-zero last factor (the last device must contribute to the weight)")
        if self.with_reset_prob > 0.0 and not self.transfer_columns:
            _reject(path, "with_reset_prob", self.with_reset_prob,
                    "0 when transfer_columns is False (reset is implemented for column "
                    "transfer only; aihwkit stops with the same error)")


@config_class
class BufferedTransferCompound(TransferCompound):
    """TTv2 without choppers: transfer reads go to a digital buffer, which writes single pulses.

    As :class:`TransferCompound`, but each read of device ``k`` (times the transfer learning
    rate, and ``gamma_k / gamma_{k+1}`` when both are > 0) is added to a floating-point buffer
    ``H``; where ``|H| >= thres_scale * g`` (``g``: granularity of the receiving device),
    ``n = trunc(H / threshold)`` pulses (at most ``transfer_update.desired_bl``) are written
    with learning rate ``step * g`` and the buffer is reduced (see ``forget_buffer``).

    Parameters
    ----------
    unit_cell_devices, construction_seed, gamma, gamma_vec, transfer_every, no_self_transfer, \
transfer_every_vec, units_in_mbatch, n_reads_per_transfer, transfer_columns, with_reset_prob, \
random_selection, fast_lr, transfer_lr, transfer_lr_vec, scale_transfer_lr, transfer_forward
        See :class:`TransferCompound`.
    transfer_update : UpdateParameters, default UpdateParameters(desired_bl=1, \
update_bl_management=False, update_management=False)
        Pulsed update of the buffer writes; ``desired_bl`` caps the pulses per write.
    thres_scale : float, default 1.0
        Buffer threshold in units of the receiving device's granularity (> 0).
    step : float, default 1.0
        Size of a written step in units of that granularity.
    momentum : float, default 0.1
        Fraction of the buffer that is kept after a write (in ``[0, 1]``).
    forget_buffer : bool, default True
        After a write, set the buffer to ``momentum * H`` (True) or subtract
        ``(1 - momentum) * n * threshold`` (False).
    """

    transfer_update: UpdateParameters = param(factory=_transfer_update_bl1)
    thres_scale: float = param(1.0, gt=0.0, note="in units of the device granularity")
    step: float = param(1.0, note="in units of the device granularity")
    momentum: float = param(0.1, ge=0.0, le=1.0, note="a fraction")
    forget_buffer: bool = param(True)


def _check_chopped(cell: "ChoppedTransferCompound", path: str) -> None:
    name = type(cell).__name__
    if cell.n_reads_per_transfer != 1:
        _reject(path, "n_reads_per_transfer", cell.n_reads_per_transfer,
                f"1 for {name} (aihwkit stops at the first transfer otherwise)")
    if cell.random_selection:
        _reject(path, "random_selection", True,
                f"False for {name} (the choppers assume sequential columns; aihwkit's C++ "
                "code refuses it)")
    if cell.with_reset_prob > 0.0:
        _reject(path, "with_reset_prob", cell.with_reset_prob,
                f"0 for {name} (not implemented with choppers; aihwkit's C++ code refuses it)")


@config_class
class ChoppedTransferCompound(TransferCompound):
    """TTv2 / chopped TTv2 (c-TTv2, TTv3): two devices, a digital buffer and sign choppers.

    The SGD update onto the fast device ``A`` is multiplied by the chopper signs
    ``c_in[j] * c_out[i]`` (random sign flips that average out device bias); after each read of
    column ``j`` of ``A`` (signs restored) the buffer ``H`` accumulates ``read * |lr_t| / bg``,
    with ``lr_t = transfer_lr`` (times the SGD learning rate if ``scale_transfer_lr``) and
    ``bg = buffer_granularity * g_A`` (times ``auto_granularity / (in_size * |transfer_every|)``
    when ``auto_granularity > 0``); ``|H| >= 1`` writes ``trunc(H)`` pulses (at most
    ``transfer_update.desired_bl``) onto ``C`` with learning rate ``step * g_C``. Only two
    devices, one read per transfer, sequential columns and no reset are supported. With the default ``gamma = 0`` the visible weight is ``C``; for
    ``gamma != 0`` aihwkit 1.1.0's CPU path shows ``gamma * A + C`` (no sign restoring) and its
    CUDA path refuses it.

    Parameters
    ----------
    unit_cell_devices : list of PulsedDevice, default []
        Exactly two devices: the fast ``A`` and the slow ``C``.
    construction_seed, gamma, gamma_vec, no_self_transfer, transfer_every_vec, \
transfer_columns, transfer_lr, transfer_lr_vec, scale_transfer_lr, transfer_forward
        See :class:`TransferCompound`.
    transfer_every : float, default 1.0
        Transfer period (one column per transfer), in vector updates or mini-batches;
        ``< 0`` sets it automatically to ``|transfer_every| * n_states(A) / in_size`` vector
        updates; 0 switches transfer off.
    units_in_mbatch : bool, default False
        Count ``transfer_every`` in mini-batches.
    n_reads_per_transfer : int, default 1
        Must be 1.
    with_reset_prob : float, default 0.0
        Must be 0.
    random_selection : bool, default False
        Must be False.
    fast_lr : float, default 1.0
        Learning rate of the update onto ``A`` (used as is, not scaled by the optimizer's
        learning rate). With ``auto_scale`` the pulse-count learning rate becomes
        ``fast_lr * desired_bl * g_A / (m_x * m_d)``.
    transfer_update : UpdateParameters, default UpdateParameters(desired_bl=1, \
update_bl_management=False, update_management=False)
        Pulsed update of the buffer writes.
    in_chop_prob : float, default 0.1
        Probability (or, if not ``in_chop_random``, frequency) of flipping a column's input
        chopper after its read (in ``[0, 1]``; 0: no chopping, i.e. TTv2).
    in_chop_random : bool, default True
        Flip the input choppers at random (True) or regularly every
        ``max(ceil(1 / in_chop_prob), 2)`` reads.
    out_chop_prob : float, default 0.0
        Probability of flipping each output chopper after a full pass over the columns (in
        ``[0, 1]``).
    buffer_granularity : float, default 1.0
        Buffer threshold in units of ``g_A`` (<= 0 is read as 1).
    auto_granularity : float, default 0.0
        If > 0, scales the threshold by ``auto_granularity / (in_size * |transfer_every|)``
        (typical value 1000).
    step : float, default 1.0
        Size of a written step in units of ``g_C``.
    momentum : float, default 0.0
        Fraction of the buffer kept after a write (in ``[0, 1]``).
    forget_buffer : bool, default True
        After a write, set the buffer to ``momentum * H`` (True) or subtract
        ``(1 - momentum) * n`` (False).
    no_buffer : bool, default False
        Do not accumulate across reads (Tiki-taka v1 with ``gamma = 0``).
    auto_scale : bool, default False
        Scale the update onto ``A`` by running averages ``m_x``, ``m_d`` of ``max|x|`` and
        ``max|d|``.
    auto_momentum : float, default 0.99
        Momentum of those running averages (in ``[0, 1]``).
    correct_gradient_magnitudes : bool, default False
        Scale the buffer so that the transferred gradient has the correct magnitude
        (``auto_granularity`` then has no effect).
    """

    units_in_mbatch: bool = param(False)
    transfer_every: float = param(1.0, note="0 switches transfer off, < 0 chooses it automatically")
    transfer_update: UpdateParameters = param(factory=_transfer_update_bl1)
    in_chop_prob: float = param(0.1, ge=0.0, le=1.0, note="a probability")
    in_chop_random: bool = param(True)
    out_chop_prob: float = param(0.0, ge=0.0, le=1.0, note="a probability")
    buffer_granularity: float = param(1.0, note="<= 0 is read as 1")
    auto_granularity: float = param(0.0, note="<= 0 switches it off")
    step: float = param(1.0, note="in units of the device granularity")
    momentum: float = param(0.0, ge=0.0, le=1.0, note="a fraction")
    forget_buffer: bool = param(True)
    no_buffer: bool = param(False)
    auto_scale: bool = param(False)
    auto_momentum: float = param(0.99, ge=0.0, le=1.0, note="a momentum")
    correct_gradient_magnitudes: bool = param(False)

    _n_devices_allowed = (2, 2)

    def _check_consistency(self, path: str) -> None:
        super()._check_consistency(path)
        _check_chopped(self, path)


@config_class
class DynamicTransferCompound(ChoppedTransferCompound):
    """AGAD (TTv4): chopped transfer against a dynamically estimated reference.

    As :class:`ChoppedTransferCompound`, but the choppers switch regularly (every
    ``N = max(ceil(1 / in_chop_prob), 2)`` reads of a column) and what enters the buffer is the
    difference between the current read and the mean read of the previous chopper period
    (a running mean weighted towards the period's tail by ``tail_weightening``). Output choppers
    are not used.

    Parameters
    ----------
    unit_cell_devices, construction_seed, gamma, gamma_vec, transfer_every, no_self_transfer, \
transfer_every_vec, units_in_mbatch, n_reads_per_transfer, transfer_columns, with_reset_prob, \
random_selection, fast_lr, transfer_lr, transfer_lr_vec, scale_transfer_lr, transfer_forward, \
transfer_update, out_chop_prob, buffer_granularity, auto_granularity, step, momentum, \
forget_buffer, no_buffer, auto_scale, auto_momentum, correct_gradient_magnitudes
        See :class:`ChoppedTransferCompound`.
    in_chop_prob : float, default 0.1
        Chopper switching frequency per read (in ``[0, 1]``; aihwkit's CUDA path requires
        > 0, its CPU path reads 0 as a period of 2).
    in_chop_random : bool, default False
        Additionally switch at random with probability ``in_chop_prob``.
    experimental_correct_accumulation : bool, default False
        Correct the accumulation for the number of reads in the current chopper period.
    buffer_cap : float, default 0.0
        Buffer capacity in units of ``transfer_update.desired_bl`` (>= 0; 0: no cap); only
        with ``forget_buffer=False``.
    tail_weightening : float, default 5.0
        Weight of the tail of a chopper period in the running mean (>= 0; > 1 down-weights
        the transient at the period's start).
    """

    in_chop_random: bool = param(False)
    experimental_correct_accumulation: bool = param(False)
    buffer_cap: float = param(0.0, ge=0.0, note="0 means no cap")
    tail_weightening: float = param(5.0, ge=0.0)


# --------------------------------------------------------------------------------------------
# digital rank update
# --------------------------------------------------------------------------------------------


@config_class
class DigitalRankUpdateCell(ConfigBase):
    """Base of the compounds that compute the rank update in digital.

    Not usable by itself (see :class:`MixedPrecisionCompound`); it is the default ``device`` of
    ``DigitalRankUpdateRPUConfig``, which must therefore be replaced.

    Parameters
    ----------
    device : PulsedDevice, VectorUnitCell, ReferenceUnitCell or OneSidedUnitCell, \
default VectorUnitCell()
        The analog device used for forward and backward (and receiving the transfers). The
        default (an empty vector cell) must be replaced before a tile is built.
    construction_seed : int, default 0
        Seed of the construction draws of ``device`` (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    """

    device: Union[PulsedDevice, OneSidedUnitCell, VectorUnitCell, ReferenceUnitCell] = param(
        factory=VectorUnitCell
    )
    construction_seed: int = param(0, ge=0, le=_SEED_MAX, note="0 draws a seed")

    def check_ready(self, path: Optional[str] = None) -> "DigitalRankUpdateCell":
        """Validate, then also refuse what cannot build a tile (the base class itself, an
        analog unit cell without devices).

        Returns
        -------
        self
        """
        path = path or type(self).__name__
        self.validate(_path=path)
        if type(self) is DigitalRankUpdateCell:
            raise ConfigError(
                f"{path} = DigitalRankUpdateCell(...) is not allowed: expected a concrete "
                "digital rank-update cell (MixedPrecisionCompound)"
            )
        if isinstance(self.device, UnitCell):
            self.device.check_ready(f"{path}.device")
        return self

    def requires_diffusion(self) -> bool:
        """Whether the analog device has diffusion switched on."""
        dev = self.device
        return dev.requires_diffusion() if isinstance(dev, UnitCell) else dev.diffusion > 0

    def requires_decay(self) -> bool:
        """Whether the analog device has decay switched on (``lifetime > 0``)."""
        dev = self.device
        return dev.requires_decay() if isinstance(dev, UnitCell) else dev.lifetime > 0


@config_class
class MixedPrecisionCompound(DigitalRankUpdateCell):
    """Mixed precision (Nandakumar et al. 2020): digital outer product, pulsed transfer.

    Each sample adds ``lr * d x^T`` (optionally with ``x`` and ``d`` quantised to
    ``n_x_bins`` / ``n_d_bins`` levels) to a floating-point matrix ``chi``; every
    ``transfer_every`` mini-batches, ``n_rows_per_transfer`` rows of ``chi`` are transferred:
    ``n = trunc(chi / g)`` pulses are written onto the analog device (with the tile's update
    parameters, update and bit-line management on) and ``n * g`` is subtracted from ``chi``.

    Parameters
    ----------
    device : PulsedDevice, VectorUnitCell, ReferenceUnitCell or OneSidedUnitCell, \
default VectorUnitCell()
        The analog device (the default must be replaced).
    construction_seed : int, default 0
        Seed of the construction draws of ``device`` (0: the first non-zero seed of
        the devices, else the tile's seed; see the module notes).
    transfer_every : int, default 1
        Transfer period in mini-batches (<= 0: no transfer).
    n_rows_per_transfer : int, default -1
        Rows transferred per transfer event, continuing where the last one stopped, wrapping
        around (< 0: all rows; 0: no transfer). Setting the weights restarts at row 0.
    random_row : bool, default False
        Start each transfer at row ``min(floor(U d), d - 1)`` for a uniform U drawn per
        transfer from the tile's seed (only if fewer than all rows are transferred).
    granularity : float, default 0.0
        Weight change ``g`` of one transferred pulse (<= 0: the device's weight granularity).
    transfer_lr : float, default 1.0
        Scale of the transfer: a transfer writes ``n * g * transfer_lr``.
    n_x_bins : int, default 0
        Number of quantisation levels of ``x``, symmetric around 0 and scaled by ``max|x|``
        (0: no quantisation).
    n_d_bins : int, default 0
        Number of quantisation levels of ``d`` (0: no quantisation). aihwkit's CPU code
        mis-indexes ``d`` when exactly one of ``n_x_bins``/``n_d_bins`` is > 0 [bug].
    stoc_round_x : bool, default True
        Stochastic rounding in the quantisation of ``x``.
    stoc_round_d : bool, default True
        Stochastic rounding in the quantisation of ``d``.
    """

    transfer_every: int = param(1, note="<= 0 switches transfer off")
    n_rows_per_transfer: int = param(-1, note="< 0 means all rows, 0 no transfer")
    random_row: bool = param(False)
    granularity: float = param(0.0, note="<= 0 uses the device's weight granularity")
    transfer_lr: float = param(1.0)
    n_x_bins: int = param(0, ge=0, note="0 switches the quantisation off")
    n_d_bins: int = param(0, ge=0, note="0 switches the quantisation off")
    stoc_round_x: bool = param(True)
    stoc_round_d: bool = param(True)
