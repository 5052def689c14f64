"""Compare rpu configuration trees with aihwkit 1.1.0's, through one subprocess per test module.

``AIHWKIT_SCRIPT`` runs in the interpreter named by ``AIHWKIT_PYTHON``: it evaluates a list of
Python expressions (written so that they mean the same with aihwkit's and rpu's names, e.g.
``build_config('ttv2', SoftBoundsDevice(dw_min=0.01))``) and prints each result as a tree.
:func:`tree` makes the same tree from an rpu object and :func:`assert_same_tree` compares them.

A tree is ``["ClassName", [[field, subtree], ...]]`` for a configuration dataclass (fields in
declaration order, aihwkit's torch-only ``tile_class``/``tile_array_class`` left out),
``"<ClassName>"`` for an aihwkit object that is not a dataclass (noise models, drift
compensation), a list of subtrees, an enum's value, ``"float:inf"`` etc. for non-finite floats,
or a plain JSON value.
"""

import dataclasses
import enum
import json
import math
import os
import subprocess

import pytest

AIHWKIT_PYTHON = os.environ.get("AIHWKIT_PYTHON")

needs_aihwkit = pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON not set")

SKIP_FIELDS = ("tile_class", "tile_array_class")

AIHWKIT_SCRIPT = r"""
import dataclasses, enum, json, math, sys, warnings
warnings.filterwarnings("ignore")
from aihwkit.simulator.configs import *            # noqa
from aihwkit.simulator.configs.compounds import UnitCell, DigitalRankUpdateCell  # noqa
from aihwkit.simulator.parameters import *          # noqa
from aihwkit.simulator.parameters.runtime import RuntimeParameter  # noqa
from aihwkit.simulator.presets import *             # noqa
from aihwkit.simulator.presets import web           # noqa
from aihwkit.simulator.presets.web import *         # noqa
SKIP = ("tile_class", "tile_array_class")

def tree(v):
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [type(v).__name__, [[f.name, tree(getattr(v, f.name))]
                                   for f in dataclasses.fields(v) if f.name not in SKIP]]
    if isinstance(v, (list, tuple)):
        return [tree(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "float:" + repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return "<%s>" % type(v).__name__

out = {}
for expr in json.loads(sys.stdin.read()):
    try:
        out[expr] = tree(eval(expr))
    except Exception as exc:  # reported, compared by the test
        out[expr] = "error:%s" % type(exc).__name__
print(json.dumps(out))
"""


def run_aihwkit(expressions):
    """Evaluate ``expressions`` in aihwkit's interpreter; return ``{expression: tree}``."""
    proc = subprocess.run([AIHWKIT_PYTHON, "-c", AIHWKIT_SCRIPT], input=json.dumps(expressions),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tree(value):
    """The tree of an rpu object, in the format of ``AIHWKIT_SCRIPT``."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, [[f.name, tree(getattr(value, f.name))]
                                       for f in dataclasses.fields(value)]]
    if isinstance(value, (list, tuple)):
        return [tree(x) for x in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "float:" + repr(value)
    return value


def _short(value):
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def assert_same_tree(mine, theirs, path="config"):
    """Assert that two trees agree: class names, field names and order, values (floats to 1e-12)."""
    if isinstance(theirs, str) and theirs.startswith("error:"):
        assert mine == theirs, f"{path}: aihwkit raised {theirs[6:]}, rpu gave {_short(mine)}"
        return
    if isinstance(theirs, str) and theirs.startswith("<") and theirs.endswith(">"):
        # an aihwkit object that is no dataclass: compare the class name only
        name = mine[0] if isinstance(mine, list) and len(mine) == 2 else mine
        assert f"<{name}>" == theirs, (path, mine, theirs)
        return
    if isinstance(theirs, list) and len(theirs) == 2 and isinstance(theirs[0], str) \
            and isinstance(theirs[1], list) and theirs[1] and isinstance(theirs[1][0], list) \
            and len(theirs[1][0]) == 2 and isinstance(theirs[1][0][0], str):
        assert isinstance(mine, list) and mine[0] == theirs[0], (path, mine[:1], theirs[0])
        my_fields = [name for name, _ in mine[1]]
        their_fields = [name for name, _ in theirs[1]]
        assert my_fields == their_fields, (path, theirs[0], my_fields, their_fields)
        for (name, a), (_, b) in zip(mine[1], theirs[1]):
            assert_same_tree(a, b, f"{path}.{name}")
        return
    if isinstance(theirs, list):
        assert isinstance(mine, list) and len(mine) == len(theirs), (path, _short(mine),
                                                                     _short(theirs))
        for i, (a, b) in enumerate(zip(mine, theirs)):
            assert_same_tree(a, b, f"{path}[{i}]")
        return
    if isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
        assert isinstance(mine, (int, float)) and not isinstance(mine, bool), (path, mine, theirs)
        assert mine == pytest.approx(theirs, rel=1e-12, abs=0.0), (path, mine, theirs)
        return
    assert mine == theirs and type(mine) is type(theirs), (path, _short(mine), _short(theirs))
