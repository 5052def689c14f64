"""``build_config``: an RPU configuration for a training algorithm and a device, by name.

Mirrors aihwkit 1.1.0's ``aihwkit.simulator.configs.helpers.build_config`` (same names, same
aliases, same field values in the returned configurations). Differences: an unknown algorithm
raises :class:`~rpu.errors.ConfigError` (a ``ValueError``; aihwkit raises its
``ArgumentError``) listing the valid names, and every object that a device or parameter
*instance* is copied into is validated again after the overrides are applied (aihwkit writes
them into ``__dict__`` unchecked).
"""

import copy
import dataclasses
from typing import Any, Callable, Dict, Tuple, Type, Union

from rpu.errors import ConfigError

from ._base import ConfigBase
from .compounds import (
    ChoppedTransferCompound,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    TransferCompound,
    VectorUnitCell,
)
from .configs import DigitalRankUpdateRPUConfig, SingleRPUConfig, UnitCellRPUConfig
from .devices import PulsedDevice
from .enums import BoundManagementType, NoiseManagementType, VectorUnitCellUpdatePolicy
from .io import IOParameters
from .update import UpdateParameters

__all__ = ["build_config", "ALGORITHMS"]

#: Every accepted algorithm name (compared after ``str.lower()``, as aihwkit does), mapped to
#: the canonical name of its branch.
ALGORITHMS: Dict[str, str] = {
    "sgd": "sgd",
    "mp": "mixed-precision",
    "mixed-precision": "mixed-precision",
    "tiki-taka": "tiki-taka",
    "ttv1": "tiki-taka",
    "tt": "tiki-taka",
    "ttv2": "ttv2",
    "chopped-ttv2": "chopped-ttv2",
    "ttv3": "chopped-ttv2",
    "c-ttv2": "chopped-ttv2",
    "agad": "agad",
    "ttv4": "agad",
}

_NO_NM_BM = dict(
    noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
)
_BL1_NO_UM = dict(desired_bl=1, update_bl_management=False, update_management=False)


def _factory(arg: Any, name: str) -> Callable[..., Any]:
    """Turn a class, an instance or a callable into a ``make(**overrides)`` function.

    An instance is deep-copied at every call, the overrides are set as attributes and the copy
    is validated again (with ``name`` as the start of the error path).
    """
    if isinstance(arg, ConfigBase):
        template = arg

        def make(**overrides: Any) -> Any:
            obj = copy.deepcopy(template)
            fields = {f.name for f in dataclasses.fields(obj)}
            for key, value in overrides.items():
                if key not in fields:
                    raise ConfigError(
                        f"build_config: {name} = {type(obj).__name__}(...) has no field {key!r} "
                        f"that build_config needs to set"
                    )
                setattr(obj, key, value)
            return obj.validate(_path=name) if overrides else obj

        return make
    if callable(arg):
        return arg
    raise ConfigError(
        f"build_config: {name} = {arg!r} is not allowed: expected a configuration class, an "
        "instance of one, or a callable that returns one"
    )


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"build_config: {name} = {value!r} is not allowed: expected an integer >= {minimum}"
        )
    return value


def _make_rpu_config(cls: Type[ConfigBase], kwargs: Dict[str, Any], **fixed: Any) -> Any:
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in kwargs:
        if key in fixed:
            raise TypeError(
                f"build_config() got the keyword argument {key!r}, which build_config sets "
                f"itself for {cls.__name__} (pass io_parameters / up_parameters / device "
                "instead)"
            )
        if key not in fields:
            valid = ", ".join(sorted(fields - set(fixed)))
            raise TypeError(
                f"build_config() got an unexpected keyword argument {key!r} for "
                f"{cls.__name__}; valid ones: {valid}"
            )
    return cls(**fixed, **kwargs)


def build_config(
    algorithm: str,
    device: Union[Type[PulsedDevice], PulsedDevice, Callable[..., Any]],
    io_parameters: Union[Type[IOParameters], IOParameters, Callable[..., Any]] = IOParameters,
    up_parameters: Union[
        Type[UpdateParameters], UpdateParameters, Callable[..., Any]
    ] = UpdateParameters,
    n_devices: int = 1,
    construction_seed: int = 0,
    **kwargs: Any,
) -> Union[SingleRPUConfig, UnitCellRPUConfig, DigitalRankUpdateRPUConfig]:
    """Build the RPU configuration of a training algorithm on a given device model.

    Parameters
    ----------
    algorithm : str
        Training algorithm, case-insensitive:

        * ``"sgd"``: plain stochastic pulsed SGD (Gokmen & Vlasov 2016). ``SingleRPUConfig``,
          or with ``n_devices > 1`` a ``UnitCellRPUConfig`` with a :class:`VectorUnitCell` of
          ``n_devices`` devices updated one at a time (``SINGLE_RANDOM``).
        * ``"mp"``, ``"mixed-precision"``: digital rank update with pulsed transfer
          (Nandakumar et al. 2020). ``DigitalRankUpdateRPUConfig`` with a
          :class:`MixedPrecisionCompound`.
        * ``"tiki-taka"``, ``"ttv1"``, ``"tt"``: Tiki-taka v1 (Gokmen & Haensch 2020), a
          :class:`TransferCompound` of two devices; the transfer reads have noise and bound
          management off, the transfer update is ``up_parameters()`` unchanged.
        * ``"ttv2"``: TTv2 (Gokmen 2021), a :class:`ChoppedTransferCompound` with
          ``in_chop_prob=0`` and ``auto_scale=False``; main update ``desired_bl=5``.
        * ``"chopped-ttv2"``, ``"ttv3"``, ``"c-ttv2"``: chopped TTv2 (Rasch et al. 2023), a
          :class:`ChoppedTransferCompound` with the default choppers, ``fast_lr=0.1`` and
          ``auto_scale=True``; main update ``desired_bl=5``.
        * ``"agad"``, ``"ttv4"``: AGAD (Rasch et al. 2023), a :class:`DynamicTransferCompound`
          with ``fast_lr=0.1``, ``auto_scale=True``, transfer update ``desired_bl=1`` with
          update and bit-line management on; main update ``desired_bl=5``.

        In every transfer compound ``units_in_mbatch`` is set explicitly (True for Tiki-taka,
        False otherwise) and the transfer writes of TTv2 / c-TTv2 use ``desired_bl=1``
        without update management, as in aihwkit.
    device : PulsedDevice class, instance, or callable
        The device of every cross-point. A class (or callable) is called, an instance is
        deep-copied, once per device; ``device(construction_seed=...)`` for ``"sgd"`` with one
        device and for mixed precision, ``device()`` inside compounds (whose own
        ``construction_seed`` is set instead).
    io_parameters : IOParameters class, instance, or callable, default IOParameters
        Used for forward, backward and (with noise and bound management switched off, except
        for AGAD) the transfer reads.
    up_parameters : UpdateParameters class, instance, or callable, default UpdateParameters
        Used for the update and the transfer updates, with the overrides listed above.
    n_devices : int, default 1
        Number of devices per cross-point, for ``"sgd"`` only (>= 1; ignored otherwise).
    construction_seed : int, default 0
        Seed of the construction draws (0: draw one).
    **kwargs
        Further fields of the returned RPU configuration (``mapping``, ``pre_post``,
        ``runtime``).

    Returns
    -------
    SingleRPUConfig, UnitCellRPUConfig or DigitalRankUpdateRPUConfig

    Raises
    ------
    rpu.errors.ConfigError
        For an unknown algorithm name (the message lists the valid ones), a ``device`` /
        ``io_parameters`` / ``up_parameters`` that is neither a class, an instance nor a
        callable, ``n_devices < 1`` for ``"sgd"``, or any invalid resulting field.
    TypeError
        For a keyword argument that is not a field of the returned configuration, or one that
        build_config sets itself (``forward``, ``backward``, ``update``, ``device``).
    """
    if not isinstance(algorithm, str) or algorithm.lower() not in ALGORITHMS:
        valid = ", ".join(repr(name) for name in ALGORITHMS)
        raise ConfigError(
            f"build_config: algorithm = {algorithm!r} is not known: expected one of {valid} "
            "(case-insensitive)"
        )
    branch = ALGORITHMS[algorithm.lower()]
    make_dev = _factory(device, "device")
    make_io = _factory(io_parameters, "io_parameters")
    make_up = _factory(up_parameters, "up_parameters")

    if branch == "sgd":
        n = _check_int("n_devices", n_devices, 1)
        if n == 1:
            return _make_rpu_config(
                SingleRPUConfig, kwargs,
                device=make_dev(construction_seed=construction_seed),
                forward=make_io(), backward=make_io(), update=make_up(),
            )
        cell = VectorUnitCell(
            unit_cell_devices=[make_dev() for _ in range(n)],
            update_policy=VectorUnitCellUpdatePolicy.SINGLE_RANDOM,
            construction_seed=construction_seed,
        )
        return _make_rpu_config(
            UnitCellRPUConfig, kwargs,
            device=cell, forward=make_io(), backward=make_io(), update=make_up(),
        )

    if branch == "mixed-precision":
        compound = MixedPrecisionCompound(device=make_dev(construction_seed=construction_seed))
        return _make_rpu_config(
            DigitalRankUpdateRPUConfig, kwargs,
            device=compound, forward=make_io(), backward=make_io(), update=make_up(),
        )

    devices = [make_dev(), make_dev()]
    compound_args: Tuple[type, Dict[str, Any]]
    if branch == "tiki-taka":
        compound_args = (TransferCompound, dict(
            transfer_forward=make_io(**_NO_NM_BM),
            transfer_update=make_up(),
            units_in_mbatch=True,
        ))
        update = make_up()
    elif branch == "ttv2":
        compound_args = (ChoppedTransferCompound, dict(
            transfer_forward=make_io(**_NO_NM_BM),
            transfer_update=make_up(**_BL1_NO_UM),
            in_chop_prob=0.0,
            units_in_mbatch=False,
            auto_scale=False,
        ))
        update = make_up(desired_bl=5)
    elif branch == "chopped-ttv2":
        compound_args = (ChoppedTransferCompound, dict(
            transfer_forward=make_io(**_NO_NM_BM),
            transfer_update=make_up(**_BL1_NO_UM),
            units_in_mbatch=False,
            fast_lr=0.1,
            auto_scale=True,
        ))
        update = make_up(desired_bl=5)
    else:  # agad
        compound_args = (DynamicTransferCompound, dict(
            transfer_forward=make_io(),
            transfer_update=make_up(desired_bl=1, update_bl_management=True,
                                    update_management=True),
            auto_scale=True,
            fast_lr=0.1,
            units_in_mbatch=False,
        ))
        update = make_up(desired_bl=5)
    cls, args = compound_args
    compound = cls(unit_cell_devices=devices, construction_seed=construction_seed, **args)
    return _make_rpu_config(
        UnitCellRPUConfig, kwargs,
        device=compound, forward=make_io(), backward=make_io(), update=update,
    )
