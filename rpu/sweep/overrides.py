"""Config overrides by dotted path, and the base configuration of a sweep.

:func:`apply_overrides` sets fields of an RPU configuration by dotted paths such as
``"device.w_max"``, ``"forward.out_noise"`` or ``"device.unit_cell_devices.0.dw_min"`` (an
integer segment indexes a list), checks every value with the configuration's own validation and
returns a new configuration. :func:`make_base_config` builds the configuration a sweep starts
from: a preset by name, ``build_config(algorithm, device)``, or ``SingleRPUConfig()``.
"""

import copy
import re
from typing import Any, List, Mapping, Tuple

from rpu.config import ConfigBase, build_config, from_dict, registered_classes
from rpu.config.configs import RPUConfigBase, SingleRPUConfig
from rpu.config.devices import PulsedDevice
from rpu.errors import ConfigError

__all__ = ["apply_overrides", "make_base_config", "config_class_by_name"]


def config_class_by_name(name: Any, base: type, what: str) -> type:
    """Return the registered configuration class called ``name`` that derives from ``base``.

    rpu.presets is imported first so its classes (``ReRamSBPreset``, ``ReRamSBPresetDevice``,
    ...) are known. Raises :class:`~rpu.errors.ConfigError` naming ``what`` otherwise.
    """
    import rpu.presets  # noqa: F401  (registers the preset classes)

    classes = registered_classes()
    cls = classes.get(name) if isinstance(name, str) else None
    if cls is None or not issubclass(cls, base):
        valid = sorted(k for k, c in classes.items() if issubclass(c, base))
        shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise ConfigError(
            f"{what} = {name!r} is not allowed: expected the name of a {base.__name__} class "
            f"of rpu.config or rpu.presets ({len(valid)} known, e.g. {shown})"
        )
    return cls


def make_base_config(base: Mapping[str, Any]) -> RPUConfigBase:
    """Build the configuration a sweep starts from.

    Parameters
    ----------
    base : mapping
        The ``[config]`` table of a sweep file without its overrides:

        * ``{}``: ``SingleRPUConfig()``;
        * ``{"preset": NAME}``: the RPU configuration class ``NAME`` of :mod:`rpu.presets` or
          :mod:`rpu.config` (``"ReRamSBPreset"``, ``"InferenceRPUConfig"``, ...) with its
          defaults;
        * ``{"algorithm": ALG, "device": DEVICE}``, optionally with ``n_devices`` and
          ``construction_seed``: ``rpu.config.build_config(ALG, DEVICE_CLASS, ...)``, where
          DEVICE names a device class (``"SoftBoundsDevice"``, ``"ReRamSBPresetDevice"``, ...).

    Returns
    -------
    RPUConfigBase

    Raises
    ------
    rpu.errors.ConfigError
        For an unknown name, a missing ``device``, or ``preset`` together with ``algorithm``.
    """
    base = dict(base)
    preset = base.pop("preset", None)
    algorithm = base.pop("algorithm", None)
    device = base.pop("device", None)
    if preset is not None:
        if algorithm is not None or device is not None or base:
            extra = sorted({"algorithm", "device"} & {k for k, v in (("algorithm", algorithm),
                           ("device", device)) if v is not None} | set(base))
            raise ConfigError(
                f"config.preset = {preset!r} cannot be combined with {', '.join(extra)}: a "
                "preset is a whole configuration (change its fields with overrides)"
            )
        return config_class_by_name(preset, RPUConfigBase, "config.preset")()
    if algorithm is None:
        if device is not None or base:
            key = "device" if device is not None else sorted(base)[0]
            raise ConfigError(f"config.{key} needs config.algorithm (e.g. algorithm = \"sgd\")")
        return SingleRPUConfig()
    if device is None:
        raise ConfigError(
            f"config.algorithm = {algorithm!r} needs config.device, the name of a device class "
            "(e.g. device = \"SoftBoundsDevice\")"
        )
    device_cls = config_class_by_name(device, PulsedDevice, "config.device")
    for key in base:
        if key not in ("n_devices", "construction_seed"):
            raise ConfigError(f"config.{key} is not a key of [config]")
    try:
        return build_config(algorithm, device_cls, **base)
    except TypeError as exc:  # a bad keyword reaches build_config's own check
        raise ConfigError(f"config: {exc}") from None


def _split(path: Any) -> List[str]:
    if not isinstance(path, str) or not path or any(not seg for seg in path.split(".")):
        raise ConfigError(
            f"override path {path!r} is not allowed: expected a dotted path of field names "
            "such as 'device.w_max' or 'forward.out_noise'"
        )
    return path.split(".")


def _child(obj: Any, seg: str, done: str, path: str) -> Any:
    """``obj``'s field (or list item) ``seg``; ``done`` is the path walked so far."""
    if isinstance(obj, ConfigBase):
        fields = type(obj)._resolved_types()
        if seg not in fields:
            # 'unit_cell_devices[1]' is the spelling users try first for a list item
            indexed = re.fullmatch(r"(\w+)\[(\d+)\]", seg)
            hint = (f" (a list item is a path segment of its own: '{indexed[1]}.{indexed[2]}')"
                    if indexed and indexed[1] in fields else "")
            raise ConfigError(
                f"override {path!r}: {done or 'the config'} ({type(obj).__name__}) has no field "
                f"{seg!r}{hint}; its fields: {', '.join(fields)}"
            )
        return getattr(obj, seg)
    if isinstance(obj, list):
        if not seg.isdigit() or int(seg) >= len(obj):
            raise ConfigError(
                f"override {path!r}: {done} is a list of {len(obj)} items: expected an index "
                f"0..{len(obj) - 1}, got {seg!r}"
            )
        return obj[int(seg)]
    raise ConfigError(
        f"override {path!r}: {done} is a {type(obj).__name__} ({obj!r}), which has no field {seg!r}"
    )


def _new_value(current: Any, value: Any, path: str) -> Any:
    """The object to store for ``value`` where ``current`` is now.

    For a configuration-valued field a string names a class (made with its defaults), a dict
    with ``"__class__"`` is a full :meth:`~ConfigBase.to_dict` form, and any other dict sets
    fields of a copy of the current object.
    """
    if not isinstance(current, ConfigBase):
        return copy.deepcopy(value)
    if isinstance(value, ConfigBase):
        return copy.deepcopy(value)
    if isinstance(value, str):  # whether the field accepts that class, validation tells
        return config_class_by_name(value, ConfigBase, path)()
    if isinstance(value, dict):
        if "__class__" in value:
            return from_dict(value, _path=path)
        return apply_overrides(current, {k: v for k, v in value.items()}, _prefix=path)
    raise ConfigError(
        f"override {path!r} = {value!r} is not allowed: {path} holds a "
        f"{type(current).__name__}; give a class name, a table of its fields, or a "
        "{'__class__': ...} dict"
    )


def apply_overrides(
    config: ConfigBase, overrides: Mapping[str, Any], *, _prefix: str = ""
) -> Any:
    """Return a copy of ``config`` with fields set by dotted paths, each value validated.

    Parameters
    ----------
    config : ConfigBase
        Any rpu configuration (an RPU config, a device, IOParameters, ...). It is not changed.
    overrides : mapping of str to object
        ``{"device.w_max": 0.6, "forward.out_noise": 0.0, "update.pulse_type":
        "StochasticCompressed", "device": "SoftBoundsDevice"}``. A path walks fields (and list
        items by integer index: ``"device.unit_cell_devices.1.dw_min"``). Enums accept their
        value or name as a string; a field that holds a configuration accepts a class name
        (``"device" = "SoftBoundsDevice"``), a dict of its fields, or a ``to_dict()`` form.
        Shorter paths are applied first, so ``"device"`` is replaced before ``"device.w_max"``
        is set, whatever the order given.

    Returns
    -------
    ConfigBase
        A new, validated configuration.

    Raises
    ------
    rpu.errors.ConfigError
        For a path that names no field (the message lists the fields there), a value of the
        wrong type or outside its range (the message names the dotted path and the allowed
        range), or fields that contradict each other after all overrides.
    """
    if not isinstance(config, ConfigBase):
        raise ConfigError(
            f"apply_overrides: config must be an rpu configuration object, got "
            f"{type(config).__name__}"
        )
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            f"apply_overrides: overrides must be a mapping of dotted paths to values, got "
            f"{type(overrides).__name__}"
        )
    out = copy.deepcopy(config)
    items: List[Tuple[List[str], str, Any]] = []
    for key, value in overrides.items():
        segs = _split(key)
        full = f"{_prefix}.{key}" if _prefix else key
        items.append((segs, full, value))
    items.sort(key=lambda item: len(item[0]))  # parents before their fields; stable otherwise
    for segs, full, value in items:
        chain: List[Tuple[Any, str]] = []  # (object, its path) from the root down to the parent
        obj, done = out, _prefix
        for seg in segs[:-1]:
            chain.append((obj, done))
            nxt = _child(obj, seg, done, full)
            done = f"{done}.{seg}" if done else seg
            obj = nxt
        last = segs[-1]
        current = _child(obj, last, done, full)
        new = _new_value(current, value, full)
        if isinstance(obj, list):
            obj[int(last)] = new
        else:
            setattr(obj, last, new)
        # Validate from the nearest configuration object outwards, so the message carries the
        # path of the field; the root's own cross-field checks run last.
        owners = [(obj, done)] + chain[::-1]
        for owner, owner_path in owners:
            if isinstance(owner, ConfigBase):
                owner.validate(_path=owner_path or type(owner).__name__)
                break
    out.validate(_path=_prefix or None)
    return out
