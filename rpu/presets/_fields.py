"""Helpers for the presets: configuration classes that only change inherited defaults.

A preset is a subclass of a configuration class that keeps the parent's fields (names, order,
types, range checks) and gives some of them new defaults. Re-declaring a dataclass field
replaces its metadata, which holds rpu's range check, so every preset field is declared with
:func:`like`, which keeps the parent's check (and ``init``/``compare`` flags) and changes only
the default. :func:`defaults` does that for a whole class statement, and :func:`preset_class`
builds such a class from a row of a table (see :mod:`rpu.presets.configs`).
"""

import dataclasses
import inspect
import types
import typing
from typing import Any, Callable

from rpu.config._base import config_class

__all__ = ["like", "defaults", "preset_class"]


def like(base: type, name: str, default: Any = dataclasses.MISSING, *,
         factory: Any = dataclasses.MISSING) -> Any:
    """Return the field ``name`` of the configuration class ``base`` with a new default.

    Parameters
    ----------
    base : type
        The configuration class whose field is redeclared (a parent of the preset).
    name : str
        Field name; it must exist in ``base``.
    default, factory : object
        The new default value, or a zero-argument callable making it (for nested
        configurations and lists).
    """
    parent = base.__dataclass_fields__[name]  # KeyError: a typo in a preset, caught by tests
    kwargs = dict(metadata=parent.metadata, init=parent.init, compare=parent.compare)
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, **kwargs)
    return dataclasses.field(default=default, **kwargs)


def defaults(**values: Any) -> Callable[[type], type]:
    """Class decorator: give inherited fields of a configuration class new defaults.

    Put it below :func:`~rpu.config._base.config_class`, which then makes the dataclass::

        @config_class
        @defaults(dw_min=0.002, w_max=1.25, mult_noise=False)
        class MyDevice(SoftBoundsReferenceDevice):
            "A soft-bounds device with a finer step."

    Each keyword names a field of the parent class; the field keeps its type annotation, range
    check, position and flags (see :func:`like`). A callable value (a class, a function, a
    :func:`functools.partial`) is a factory, called for every new object, as nested
    configurations and lists must be; any other value is the default itself. (Configuration
    values are numbers, strings, enums, nested configurations and lists, never callables, so
    the rule is unambiguous.)
    """

    def wrap(cls: type) -> type:
        parent = cls.__mro__[1]
        hints = typing.get_type_hints(parent)
        annotations = dict(inspect.get_annotations(cls))
        for name, value in values.items():
            if callable(value):
                setattr(cls, name, like(parent, name, factory=value))
            else:
                setattr(cls, name, like(parent, name, value))
            annotations[name] = hints[name]
        cls.__annotations__ = annotations
        return cls

    return wrap


def preset_class(name: str, base: type, doc: str, module: str, **values: Any) -> type:
    """Build and register the configuration class ``name``: ``base`` with new defaults.

    The result is the class that ``@config_class @defaults(**values) class name(base)`` with
    the docstring ``doc`` would give in ``module``: a dataclass registered for
    :func:`~rpu.config.from_dict` under ``name``, with ``__module__`` ``module`` and
    ``__qualname__`` ``name`` (the caller binds it to that module-level name).
    """

    def body(namespace: dict) -> None:
        namespace.update(__module__=module, __qualname__=name, __doc__=doc)

    return config_class(defaults(**values)(types.new_class(name, (base,), exec_body=body)))
