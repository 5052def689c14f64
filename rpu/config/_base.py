"""Machinery shared by every rpu configuration dataclass.

This module is the one place that knows how a configuration class is built, checked, printed and
serialised; the parameter modules only declare fields.

* :func:`config_class` turns a class into a (mutable) dataclass with rpu's ``repr``/``==``, and
  records it in the registry that :func:`from_dict` rebuilds from. Nothing outside that registry
  can ever be instantiated from a dict or JSON text.
* :func:`param` declares a field together with its allowed range (``ge``/``gt``/``le``/``lt``,
  whether ``inf`` is allowed, and a note that explains special values such as "<= 0 means off").
* :meth:`ConfigBase.validate` checks and normalises every field recursively (numpy scalars become
  Python numbers, enum names/values given as strings become enum members) and raises
  :class:`rpu.errors.ConfigError` with the dotted path of the field, the value and what is
  allowed. It runs in ``__post_init__``; call it again after mutating a config.
* :meth:`ConfigBase.to_dict` / :func:`from_dict` and :meth:`ConfigBase.to_json` /
  :func:`from_json` give a JSON-safe, class-tagged representation. Non-finite floats are written
  as ``{"__float__": "inf" | "-inf" | "nan"}`` so the JSON text stays standard (no ``Infinity``);
  dict fields (whose keys may be numbers) as ``{"__dict__": [[key, value], ...]}``.
"""

import copy as _copy
import dataclasses
import enum
import json
import math
import numbers
import types
import typing
from typing import Any, ClassVar, Dict, Optional, Type

from rpu.errors import ConfigError

__all__ = [
    "ConfigBase",
    "config_class",
    "param",
    "from_dict",
    "from_json",
    "registered_classes",
]

_CLASS_KEY = "__class__"
_FLOAT_KEY = "__float__"
_DICT_KEY = "__dict__"
_REGISTRY: Dict[str, type] = {}
_DEFAULT_CACHE: Dict[type, Any] = {}


# --------------------------------------------------------------------------------------------
# field declaration
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Check:
    """Allowed range of one numeric field (bounds are optional; ``inf`` must be allowed)."""

    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None
    inf: bool = False
    note: str = ""

    def describe(self, kind: str) -> str:
        parts = []
        if self.gt is not None:
            parts.append(f"> {self.gt:g}")
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.lt is not None:
            parts.append(f"< {self.lt:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        if kind == "int":
            text = "an integer"
        else:
            text = "a number (inf allowed)" if self.inf else "a finite number"
        if parts:
            text += " " + " and ".join(parts)
        if self.note:
            text += f" ({self.note})"
        return text

    def ok(self, value: float) -> bool:
        if self.ge is not None and not value >= self.ge:
            return False
        if self.gt is not None and not value > self.gt:
            return False
        if self.le is not None and not value <= self.le:
            return False
        if self.lt is not None and not value < self.lt:
            return False
        return True


_NO_CHECK = Check()


def param(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = dataclasses.MISSING,
    ge: Optional[float] = None,
    gt: Optional[float] = None,
    le: Optional[float] = None,
    lt: Optional[float] = None,
    inf: bool = False,
    note: str = "",
    init: bool = True,
    compare: bool = True,
) -> Any:
    """Declare a configuration field with its allowed range.

    Parameters
    ----------
    default, factory : object
        The default value, or a zero-argument callable that makes it (for mutable defaults).
    ge, gt, le, lt : float, optional
        Inclusive / exclusive lower and upper bounds for numeric fields.
    inf : bool
        Whether ``+inf``/``-inf`` are allowed (NaN never is).
    note : str
        A short explanation appended to error messages, e.g. the meaning of special values.
    init, compare : bool
        Passed on to :func:`dataclasses.field`.
    """
    meta = {"check": Check(ge=ge, gt=gt, le=le, lt=lt, inf=inf, note=note)}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta, init=init, compare=compare)
    return dataclasses.field(default=default, metadata=meta, init=init, compare=compare)


def config_class(cls: Optional[type] = None, *, register: bool = True) -> Any:
    """Class decorator: make ``cls`` an rpu configuration dataclass and register it.

    The dataclass is created with ``repr=False, eq=False`` so that :class:`ConfigBase` provides
    the minimal ``repr`` and the NaN-aware ``==``.
    """

    def wrap(klass: type) -> type:
        if not issubclass(klass, ConfigBase):
            raise TypeError(f"{klass.__name__} must derive from ConfigBase")
        klass = dataclasses.dataclass(repr=False, eq=False)(klass)
        if register:
            other = _REGISTRY.get(klass.__name__)
            if other is not None and other is not klass:
                raise TypeError(f"config class name {klass.__name__!r} registered twice")
            _REGISTRY[klass.__name__] = klass
        return klass

    return wrap(cls) if cls is not None else wrap


def registered_classes() -> Dict[str, type]:
    """Return a copy of the registry ``{class name: class}`` used by :func:`from_dict`."""
    return dict(_REGISTRY)


# --------------------------------------------------------------------------------------------
# type handling
# --------------------------------------------------------------------------------------------


def _is_numpy_bool(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool")


def _is_optional(tp: Any) -> typing.Tuple[bool, Any]:
    """Split ``Optional[X]`` / ``X | None`` into ``(True, X)``; other types give ``(False, tp)``."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        has_none = len(args) != len(typing.get_args(tp))
        inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]
        return has_none, inner
    return False, tp


def _union_members(tp: Any) -> typing.Tuple[type, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return tuple(typing.get_args(tp))
    return (tp,)


def _type_name(tp: Any) -> str:
    return " or ".join(getattr(t, "__name__", str(t)) for t in _union_members(tp))


def _fmt(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return repr(value.value)
    if isinstance(value, ConfigBase):
        return type(value).__name__ + "(...)"
    return repr(value)


def _fail(path: str, value: Any, expected: str) -> typing.NoReturn:
    raise ConfigError(f"{path} = {_fmt(value)} is not allowed: expected {expected}")


def _coerce_enum(path: str, value: Any, enum_cls: Type[enum.Enum]) -> enum.Enum:
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, enum.Enum):  # e.g. aihwkit's own enum member: match by value
        value = value.value
    if isinstance(value, str):
        for member in enum_cls:
            if value == member.value or value == member.name:
                return member
        low = value.lower()
        for member in enum_cls:
            if low == member.value.lower() or low == member.name.lower():
                return member
    valid = ", ".join(repr(m.value) for m in enum_cls)
    names = ", ".join(m.name for m in enum_cls)
    _fail(path, value, f"a {enum_cls.__name__}: one of the values {valid} (or the names {names})")


def _coerce_float(path: str, value: Any, check: Check) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(path, value, check.describe("float") + ", not " + type(value).__name__)
    try:
        out = float(value)
    except OverflowError:  # an integer past the float range
        _fail(path, value, check.describe("float"))
    if math.isnan(out) or (math.isinf(out) and not check.inf):
        _fail(path, out, check.describe("float"))
    if not check.ok(out):
        _fail(path, out, check.describe("float"))
    return out


def _coerce_int(path: str, value: Any, check: Check) -> int:
    if isinstance(value, bool):
        _fail(path, value, check.describe("int") + ", not bool")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        out = int(value)  # 31.0 -> 31 (aihwkit itself would refuse a float here)
    else:
        _fail(path, value, check.describe("int"))
    if not check.ok(out):
        _fail(path, out, check.describe("int"))
    return out


def _coerce(path: str, value: Any, tp: Any, check: Check) -> Any:
    optional, inner = _is_optional(tp)
    if value is None:
        if optional:
            return None
        _fail(path, value, f"a value of type {_type_name(inner)}, not None")
    tp = inner
    if tp is bool:
        if isinstance(value, bool):
            return value
        if _is_numpy_bool(value):
            return bool(value)
        _fail(path, value, "a bool (True or False)")
    if tp is float:
        return _coerce_float(path, value, check)
    if tp is int:
        return _coerce_int(path, value, check)
    if tp is str:
        if isinstance(value, str):
            return value
        _fail(path, value, "a string")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _coerce_enum(path, value, tp)
    origin = typing.get_origin(tp)
    if origin in (dict, typing.Dict):
        # Tables such as a noise model's {time in s: coefficients}; keys and values are
        # checked with their declared types (a float key 2 becomes 2.0).
        key_tp, value_tp = typing.get_args(tp) or (str, float)
        if not isinstance(value, dict):
            _fail(path, value, f"a dict of {_type_name(key_tp)} -> {_type_name(value_tp)}")
        return {
            _coerce(f"{path}[{k!r}] (key)", k, key_tp, _NO_CHECK): _coerce(
                f"{path}[{k!r}]", v, value_tp, check
            )
            for k, v in value.items()
        }
    if origin in (list, typing.List):
        (item_tp,) = typing.get_args(tp) or (float,)
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            _fail(path, value, f"a list of {_type_name(item_tp)}")
        return [_coerce(f"{path}[{i}]", v, item_tp, check) for i, v in enumerate(value)]
    members = _union_members(tp)
    if all(isinstance(m, type) and issubclass(m, ConfigBase) for m in members):
        if not isinstance(value, members):
            _fail(path, value, f"an instance of {_type_name(tp)}")
        value.validate(_path=path)
        return value
    raise TypeError(f"{path}: rpu.config cannot handle the field type {tp!r}")  # programming error


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, ConfigBase):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, str)):
        return value
    if _is_numpy_bool(value):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        out = float(value)
        if math.isfinite(out):
            return out
        return {_FLOAT_KEY: "nan" if math.isnan(out) else ("inf" if out > 0 else "-inf")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):  # keys may be numbers: stored as [key, value] pairs
        return {_DICT_KEY: [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise ConfigError(f"cannot serialise a value of type {type(value).__name__}: {value!r}")


def _decode(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        if _CLASS_KEY in value:
            return from_dict(value, _path=path)
        if set(value) == {_DICT_KEY}:
            items = value[_DICT_KEY]
            if not isinstance(items, list) or not all(
                isinstance(kv, list) and len(kv) == 2 for kv in items
            ):
                raise ConfigError(f"{path}: a {_DICT_KEY!r} value must be a list of [key, value] pairs")
            return {_decode(k, f"{path} (key)"): _decode(v, f"{path}[{k!r}]") for k, v in items}
        if set(value) == {_FLOAT_KEY}:
            text = value[_FLOAT_KEY]
            if text in ("inf", "-inf", "nan"):
                return float(text)
            raise ConfigError(f"{path}: unknown float encoding {text!r} (expected 'inf', '-inf' or 'nan')")
        raise ConfigError(f"{path}: a dict value needs a {_CLASS_KEY!r} key naming an rpu.config class")
    if isinstance(value, list):
        return [_decode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def from_dict(data: Dict[str, Any], *, _path: Optional[str] = None) -> "ConfigBase":
    """Rebuild a configuration object from the output of :meth:`ConfigBase.to_dict`.

    Only classes registered in ``rpu.config`` can be created; an unknown class name or an
    unknown field raises :class:`~rpu.errors.ConfigError`.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{_path or 'config'}: expected a dict, got {type(data).__name__}")
    name = data.get(_CLASS_KEY)
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(
            f"{_path or 'config'}: unknown config class {name!r}; known rpu.config classes: {known}"
        )
    cls = _REGISTRY[name]
    path = _path or name
    flds = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: Dict[str, Any] = {}
    late: Dict[str, Any] = {}
    for key, raw in data.items():
        if key == _CLASS_KEY:
            continue
        fld = flds.get(key)
        if fld is None:
            raise ConfigError(
                f"{path}.{key}: unknown field of {name}; known fields: {', '.join(flds)}"
            )
        value = _decode(raw, f"{path}.{key}")
        (kwargs if fld.init else late)[key] = value
    obj = cls(**kwargs)
    # The constructor resolves some fields from others (a noise model takes g_max from its
    # converter); a saved object may hold other values, set after construction, and comes
    # back as it was saved.
    changed = {key: value for key, value in kwargs.items()
               if not _values_equal(getattr(obj, key), value)}
    late.update(changed)
    if late:
        for key, value in late.items():
            setattr(obj, key, value)
        obj.validate()
    return obj


def from_json(text: str) -> "ConfigBase":
    """Rebuild a configuration object from the JSON text written by :meth:`ConfigBase.to_json`."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config JSON cannot be parsed: {exc}") from None
    return from_dict(data)


# --------------------------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------------------------


class ConfigBase:
    """Base of every rpu configuration dataclass (validation, repr, equality, JSON, copy)."""

    __hash__ = None  # type: ignore[assignment]  # mutable

    _field_types: ClassVar[Dict[type, Dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        self.validate()

    # ---- validation ------------------------------------------------------------------------

    @classmethod
    def _resolved_types(cls) -> Dict[str, Any]:
        cached = ConfigBase._field_types.get(cls)
        if cached is None:
            hints = typing.get_type_hints(cls)
            cached = {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}
            ConfigBase._field_types[cls] = cached
        return cached

    def validate(self, *, _path: Optional[str] = None) -> "ConfigBase":
        """Check every field (recursively) and normalise it in place.

        Numbers are converted to Python ``float``/``int``, strings naming an enum member (by
        value or name, case-insensitively) become that member, and nested configurations are
        validated with their dotted path.

        Returns
        -------
        self

        Raises
        ------
        rpu.errors.ConfigError
            If a field is of the wrong type or outside its allowed range, or if fields
            contradict each other. The message names the dotted field path, the value and what
            is allowed.
        """
        path = _path or type(self).__name__
        for fld in dataclasses.fields(self):
            self._validate_field(fld, path)
        self._check_consistency(path)
        return self

    def _validate_field(self, fld: Any, path: Optional[str] = None) -> None:
        """Check and normalise one field (a dataclass Field or its name) as ``validate`` does."""
        if isinstance(fld, str):
            fld = self.__dataclass_fields__[fld]
        path = path or type(self).__name__
        check = fld.metadata.get("check", _NO_CHECK)
        value = getattr(self, fld.name)
        new = _coerce(f"{path}.{fld.name}", value, self._resolved_types()[fld.name], check)
        if new is not value:
            object.__setattr__(self, fld.name, new)

    def _check_consistency(self, path: str) -> None:
        """Cross-field checks; subclasses extend this (call ``super()`` first)."""

    def check_representable(self, dtype_name: str, max_abs: float, *,
                            _path: Optional[str] = None) -> None:
        """Refuse finite float fields (recursively) that ``dtype_name`` cannot hold.

        A tile computes in its dtype; a finite value past ``max_abs`` (3.4e38 for float32)
        would become Inf there, and with it the draws and outputs that use it.

        Raises
        ------
        rpu.errors.ConfigError
            Naming the dotted field path, the value and the dtype.
        """
        path = _path or type(self).__name__
        for fld in dataclasses.fields(self):
            _check_value_representable(f"{path}.{fld.name}", getattr(self, fld.name),
                                       dtype_name, max_abs)

    # ---- repr / equality -------------------------------------------------------------------

    @classmethod
    def _default_instance(cls) -> "ConfigBase":
        obj = _DEFAULT_CACHE.get(cls)
        if obj is None:
            obj = cls()
            _DEFAULT_CACHE[cls] = obj
        return obj

    def non_default_fields(self) -> Dict[str, Any]:
        """Return ``{name: value}`` of the fields that differ from a default-constructed object."""
        # Fields without a default (e.g. a converter's f_lst) are always listed; the others are
        # compared with an object built from those required values alone.
        required = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.init and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        }
        default = type(self)(**_copy.deepcopy(required)) if required else self._default_instance()
        out = {}
        for fld in dataclasses.fields(self):
            value = getattr(self, fld.name)
            if fld.name in required:
                out[fld.name] = value
                continue
            if not _values_equal(value, getattr(default, fld.name)) or type(value) is not type(
                getattr(default, fld.name)
            ):
                out[fld.name] = value
        return out

    def __repr__(self) -> str:
        items = []
        for name, value in self.non_default_fields().items():
            items.append(f"{name}={_repr_value(value)}")
        return f"{type(self).__name__}({', '.join(items)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        for fld in dataclasses.fields(self):
            if fld.compare and not _values_equal(getattr(self, fld.name), getattr(other, fld.name)):
                return False
        return True

    # ---- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-safe dict of all fields, tagged with ``"__class__"``.

        Enums become their string values, nested configurations nested dicts, and non-finite
        floats ``{"__float__": "inf" | "-inf" | "nan"}``.
        """
        out: Dict[str, Any] = {_CLASS_KEY: type(self).__name__}
        for fld in dataclasses.fields(self):
            out[fld.name] = _encode(getattr(self, fld.name))
        return out

    def to_json(self, **kwargs: Any) -> str:
        """Return :meth:`to_dict` as standard JSON text (keyword arguments go to ``json.dumps``)."""
        kwargs.setdefault("allow_nan", False)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Any:
        """Rebuild an object of this class (or a subclass) from :meth:`to_dict` output."""
        obj = from_dict(data)
        if not isinstance(obj, cls):
            raise ConfigError(f"expected a {cls.__name__} config, got {type(obj).__name__}")
        return obj

    @classmethod
    def from_json(cls, text: str) -> Any:
        """Rebuild an object of this class (or a subclass) from :meth:`to_json` text."""
        obj = from_json(text)
        if not isinstance(obj, cls):
            raise ConfigError(f"expected a {cls.__name__} config, got {type(obj).__name__}")
        return obj

    def copy(self) -> Any:
        """Return a deep copy (nested configurations are copied too)."""
        return _copy.deepcopy(self)


def _check_value_representable(path: str, value: Any, dtype_name: str, max_abs: float) -> None:
    if isinstance(value, ConfigBase):
        value.check_representable(dtype_name, max_abs, _path=path)
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            _check_value_representable(f"{path}[{k}]", item, dtype_name, max_abs)
    elif isinstance(value, float) and math.isfinite(value) and abs(value) > max_abs:
        raise ConfigError(f"{path} = {value!r} is beyond the range of the tile's dtype "
                          f"{dtype_name} (|value| <= {max_abs:.4g}); use a smaller value, inf "
                          f"where the field allows it, or a float64 tile.")


def _repr_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, list):
        return "[" + ", ".join(_repr_value(v) for v in value) + "]"
    return repr(value)
