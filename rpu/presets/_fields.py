"""One helper for the presets: give an inherited configuration field a new default.

A preset is a subclass of a configuration class that only changes defaults. Re-declaring a
dataclass field replaces its metadata, which holds rpu's range check, so each preset field is
declared with :func:`like`, which keeps the parent's check (and ``init``/``compare`` flags) and
changes only the default.
"""

import dataclasses
from typing import Any

__all__ = ["like"]


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
