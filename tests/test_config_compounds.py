"""Tests of the compound-device configurations (rpu.config.compounds) and their RPU configs.

Defaults and field order below were read from a running aihwkit 1.1.0 (dataclass introspection);
``test_compounds_match_aihwkit`` re-checks them, and a set of non-default constructions, against
aihwkit when ``AIHWKIT_PYTHON`` names its interpreter.
"""

import copy
import dataclasses
import json

import numpy as np
import pytest

import rpu.config as C
from rpu.errors import ConfigError

from config_tree import assert_same_tree, needs_aihwkit, run_aihwkit, tree

IO, UP = "<IOParameters>", "<UpdateParameters>"

_TRANSFER = {
    "unit_cell_devices": [], "construction_seed": 0, "gamma": 0.0, "gamma_vec": [],
    "transfer_every": 1.0, "no_self_transfer": True, "transfer_every_vec": [],
    "units_in_mbatch": True, "n_reads_per_transfer": 1, "transfer_columns": True,
    "with_reset_prob": 0.0, "random_selection": False, "fast_lr": 1.0, "transfer_lr": 1.0,
    "transfer_lr_vec": [], "scale_transfer_lr": True, "transfer_forward": IO,
    "transfer_update": UP,
}
_CHOPPED = dict(_TRANSFER, units_in_mbatch=False, **{
    "in_chop_prob": 0.1, "in_chop_random": True, "out_chop_prob": 0.0,
    "buffer_granularity": 1.0, "auto_granularity": 0.0, "step": 1.0, "momentum": 0.0,
    "forget_buffer": True, "no_buffer": False, "auto_scale": False, "auto_momentum": 0.99,
    "correct_gradient_magnitudes": False,
})
_ONESIDED = {
    "unit_cell_devices": [], "construction_seed": 0, "refresh_every": 0,
    "units_in_mbatch": True, "refresh_upper_thres": 0.75, "refresh_lower_thres": 0.25,
    "refresh_forward": IO, "refresh_update": UP, "copy_inverted": False,
}

DEFAULTS = {
    "UnitCell": {"unit_cell_devices": [], "construction_seed": 0},
    "VectorUnitCell": {"unit_cell_devices": [], "construction_seed": 0, "update_policy": "All",
                       "first_update_idx": 0, "gamma_vec": []},
    "ReferenceUnitCell": {"unit_cell_devices": [], "construction_seed": 0,
                          "update_policy": "SingleFixed", "first_update_idx": 0,
                          "gamma_vec": [1.0, -1.0]},
    "OneSidedUnitCell": _ONESIDED,
    "DifferenceUnitCell": _ONESIDED,
    "TransferCompound": _TRANSFER,
    "BufferedTransferCompound": dict(_TRANSFER, thres_scale=1.0, step=1.0, momentum=0.1,
                                     forget_buffer=True),
    "ChoppedTransferCompound": _CHOPPED,
    "DynamicTransferCompound": dict(_CHOPPED, in_chop_random=False,
                                    experimental_correct_accumulation=False, buffer_cap=0.0,
                                    tail_weightening=5.0),
    "DigitalRankUpdateCell": {"device": "<VectorUnitCell>", "construction_seed": 0},
    "MixedPrecisionCompound": {
        "device": "<VectorUnitCell>", "construction_seed": 0, "transfer_every": 1,
        "n_rows_per_transfer": -1, "random_row": False, "granularity": 0.0, "transfer_lr": 1.0,
        "n_x_bins": 0, "n_d_bins": 0, "stoc_round_x": True, "stoc_round_d": True,
    },
}

RPU_CONFIG_FIELDS = ["runtime", "pre_post", "mapping", "forward", "backward", "update", "device"]


def flat(value):
    if isinstance(value, C.ConfigBase):
        return f"<{type(value).__name__}>"
    if hasattr(value, "value") and not isinstance(value, (int, float)):
        return value.value
    return value


# ----------------------------------------------------------------------------------------------
# defaults
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_and_field_order(name):
    cls = getattr(C, name)
    obj = cls()
    assert [f.name for f in dataclasses.fields(cls)] == list(DEFAULTS[name])
    for field, expected in DEFAULTS[name].items():
        got = flat(getattr(obj, field))
        assert got == expected and type(got) is type(expected), (name, field, got)
    assert name in C.__all__


def test_nested_defaults():
    full = C.UpdateParameters()
    single = C.UpdateParameters(desired_bl=1, update_bl_management=False, update_management=False)
    assert C.TransferCompound().transfer_update == full
    for cls in (C.BufferedTransferCompound, C.ChoppedTransferCompound, C.DynamicTransferCompound):
        assert cls().transfer_update == single, cls
        assert cls().transfer_forward == C.IOParameters()
    assert C.OneSidedUnitCell().refresh_forward == C.IOParameters()
    assert C.OneSidedUnitCell().refresh_update == full
    assert C.MixedPrecisionCompound().device == C.VectorUnitCell()
    assert C.UnitCellRPUConfig().device == C.UnitCell()
    assert C.DigitalRankUpdateRPUConfig().device == C.DigitalRankUpdateCell()
    # default factories are not shared
    a, b = C.VectorUnitCell(), C.VectorUnitCell()
    a.gamma_vec.append(1.0)
    assert b.gamma_vec == [] and C.ReferenceUnitCell().gamma_vec == [1.0, -1.0]


@pytest.mark.parametrize("name", ["UnitCellRPUConfig", "DigitalRankUpdateRPUConfig"])
def test_rpu_config_fields(name):
    cls = getattr(C, name)
    assert [f.name for f in dataclasses.fields(cls)] == RPU_CONFIG_FIELDS
    cfg = cls()
    assert cfg.forward == C.IOParameters() and cfg.backward == C.IOParameters()
    assert cfg.update == C.UpdateParameters()
    assert issubclass(cls, C.IOManagedRPUConfig) and name in C.__all__


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

dev = C.ConstantStepDevice
nan, inf = float("nan"), float("inf")

BAD = [
    (lambda: C.VectorUnitCell(unit_cell_devices=[dev(), C.IdealDevice()]),
     ["VectorUnitCell.unit_cell_devices[1]", "IdealDevice", "PulsedDevice"]),
    (lambda: C.VectorUnitCell(unit_cell_devices=dev()),
     ["VectorUnitCell.unit_cell_devices", "a list of PulsedDevice"]),
    (lambda: C.VectorUnitCell(unit_cell_devices=[C.IOParameters()]),
     ["VectorUnitCell.unit_cell_devices[0]", "IOParameters"]),
    (lambda: C.VectorUnitCell(unit_cell_devices=[C.VectorUnitCell()]),
     ["VectorUnitCell.unit_cell_devices[0]", "VectorUnitCell"]),
    (lambda: C.VectorUnitCell(update_policy="Random"),
     ["VectorUnitCell.update_policy", "'Random'", "SingleRandom"]),
    (lambda: C.VectorUnitCell(first_update_idx=-1), ["VectorUnitCell.first_update_idx", "-1"]),
    (lambda: C.VectorUnitCell(unit_cell_devices=[dev(), dev()], first_update_idx=2),
     ["VectorUnitCell.first_update_idx", "2", "< 2"]),
    (lambda: C.VectorUnitCell(unit_cell_devices=[dev(), dev()], gamma_vec=[1.0]),
     ["VectorUnitCell.gamma_vec", "[1.0]", "one factor per device (2)"]),
    (lambda: C.VectorUnitCell(gamma_vec=[1.0, nan]), ["VectorUnitCell.gamma_vec[1]", "nan"]),
    (lambda: C.VectorUnitCell(construction_seed=-3), ["VectorUnitCell.construction_seed", "-3"]),
    (lambda: C.ReferenceUnitCell(gamma_vec=[1.0, -1.0, 0.5]),
     ["ReferenceUnitCell.gamma_vec", "one factor per device (2)"]),
    (lambda: C.ReferenceUnitCell(first_update_idx=2), ["ReferenceUnitCell.first_update_idx", "2"]),
    (lambda: C.OneSidedUnitCell(unit_cell_devices=[dev(), dev(), dev()]),
     ["OneSidedUnitCell.unit_cell_devices", "1 to 2 devices"]),
    (lambda: C.OneSidedUnitCell(unit_cell_devices=[dev(), C.SoftBoundsDevice()]),
     ["OneSidedUnitCell.unit_cell_devices", "same class"]),
    (lambda: C.OneSidedUnitCell(refresh_upper_thres=nan), ["OneSidedUnitCell.refresh_upper_thres"]),
    (lambda: C.OneSidedUnitCell(refresh_forward=C.UpdateParameters()),
     ["OneSidedUnitCell.refresh_forward", "IOParameters"]),
    (lambda: C.OneSidedUnitCell(refresh_update=C.UpdateParameters(desired_bl=0)),
     ["UpdateParameters.desired_bl", "0"]),
    (lambda: C.TransferCompound(unit_cell_devices=[dev()]),
     ["TransferCompound.unit_cell_devices", "at least 2 devices"]),
    (lambda: C.TransferCompound(gamma=-0.5), ["TransferCompound.gamma", "-0.5", ">= 0"]),
    (lambda: C.TransferCompound(gamma=inf), ["TransferCompound.gamma", "inf"]),
    (lambda: C.TransferCompound(transfer_every=nan), ["TransferCompound.transfer_every", "nan"]),
    (lambda: C.TransferCompound(n_reads_per_transfer=0),
     ["TransferCompound.n_reads_per_transfer", "0", ">= 1"]),
    (lambda: C.TransferCompound(n_reads_per_transfer=1.5),
     ["TransferCompound.n_reads_per_transfer", "1.5", "integer"]),
    (lambda: C.TransferCompound(with_reset_prob=1.1), ["TransferCompound.with_reset_prob", "1.1"]),
    (lambda: C.TransferCompound(with_reset_prob=0.5, transfer_columns=False),
     ["TransferCompound.with_reset_prob", "0.5", "transfer_columns"]),
    (lambda: C.TransferCompound(transfer_lr=-1.0), ["TransferCompound.transfer_lr", "-1.0"]),
    (lambda: C.TransferCompound(transfer_lr_vec=[1.0, -0.1]),
     ["TransferCompound.transfer_lr_vec[1]", "-0.1"]),
    (lambda: C.TransferCompound(unit_cell_devices=[dev(), dev()], transfer_lr_vec=[1.0]),
     ["TransferCompound.transfer_lr_vec", "one value per device (2)"]),
    (lambda: C.TransferCompound(unit_cell_devices=[dev()] * 3, transfer_every_vec=[1.0, 2.0]),
     ["TransferCompound.transfer_every_vec", "(3)"]),
    (lambda: C.TransferCompound(gamma_vec=[0.5, 0.0]),
     ["TransferCompound.gamma_vec", "non-zero last factor"]),
    (lambda: C.TransferCompound(transfer_forward=None), ["TransferCompound.transfer_forward", "None"]),
    (lambda: C.TransferCompound(transfer_forward=C.IOParameters(inp_bound=2.0)),
     ["IOParameters.inp_bound", "2.0"]),
    (lambda: C.BufferedTransferCompound(thres_scale=0.0),
     ["BufferedTransferCompound.thres_scale", "0.0", "> 0"]),
    (lambda: C.BufferedTransferCompound(momentum=1.5), ["BufferedTransferCompound.momentum", "1.5"]),
    (lambda: C.ChoppedTransferCompound(unit_cell_devices=[dev()] * 3),
     ["ChoppedTransferCompound.unit_cell_devices", "exactly 2 devices"]),
    (lambda: C.ChoppedTransferCompound(in_chop_prob=1.5),
     ["ChoppedTransferCompound.in_chop_prob", "1.5", "<= 1"]),
    (lambda: C.ChoppedTransferCompound(in_chop_prob=-0.1), ["ChoppedTransferCompound.in_chop_prob"]),
    (lambda: C.ChoppedTransferCompound(out_chop_prob=2.0), ["ChoppedTransferCompound.out_chop_prob"]),
    (lambda: C.ChoppedTransferCompound(auto_momentum=1.2), ["ChoppedTransferCompound.auto_momentum"]),
    (lambda: C.ChoppedTransferCompound(momentum=-0.2), ["ChoppedTransferCompound.momentum"]),
    (lambda: C.ChoppedTransferCompound(n_reads_per_transfer=2),
     ["ChoppedTransferCompound.n_reads_per_transfer", "2", "1 for ChoppedTransferCompound"]),
    (lambda: C.ChoppedTransferCompound(random_selection=True),
     ["ChoppedTransferCompound.random_selection", "False"]),
    (lambda: C.ChoppedTransferCompound(with_reset_prob=0.1),
     ["ChoppedTransferCompound.with_reset_prob", "0.1"]),
    (lambda: C.ChoppedTransferCompound(auto_scale=1), ["ChoppedTransferCompound.auto_scale", "bool"]),
    (lambda: C.DynamicTransferCompound(unit_cell_devices=[dev()]),
     ["DynamicTransferCompound.unit_cell_devices", "exactly 2 devices"]),
    (lambda: C.DynamicTransferCompound(n_reads_per_transfer=3),
     ["DynamicTransferCompound.n_reads_per_transfer", "3"]),
    (lambda: C.DynamicTransferCompound(buffer_cap=-1.0), ["DynamicTransferCompound.buffer_cap"]),
    (lambda: C.DynamicTransferCompound(tail_weightening=-1.0),
     ["DynamicTransferCompound.tail_weightening"]),
    (lambda: C.DynamicTransferCompound(in_chop_prob=1.01), ["DynamicTransferCompound.in_chop_prob"]),
    (lambda: C.MixedPrecisionCompound(device=C.TransferCompound()),
     ["MixedPrecisionCompound.device", "TransferCompound", "PulsedDevice"]),
    (lambda: C.MixedPrecisionCompound(device=C.IdealDevice()), ["MixedPrecisionCompound.device"]),
    (lambda: C.MixedPrecisionCompound(n_x_bins=-1), ["MixedPrecisionCompound.n_x_bins", "-1"]),
    (lambda: C.MixedPrecisionCompound(transfer_every=0.5),
     ["MixedPrecisionCompound.transfer_every", "0.5"]),
    (lambda: C.MixedPrecisionCompound(device=C.VectorUnitCell(unit_cell_devices=[dev()] * 2,
                                                              gamma_vec=[1.0])),
     ["VectorUnitCell.gamma_vec"]),
    (lambda: C.UnitCellRPUConfig(device=C.ConstantStepDevice()),
     ["UnitCellRPUConfig.device", "ConstantStepDevice", "UnitCell"]),
    (lambda: C.UnitCellRPUConfig(device=C.MixedPrecisionCompound()),
     ["UnitCellRPUConfig.device", "MixedPrecisionCompound"]),
    (lambda: C.DigitalRankUpdateRPUConfig(device=C.VectorUnitCell()),
     ["DigitalRankUpdateRPUConfig.device", "VectorUnitCell", "DigitalRankUpdateCell"]),
    (lambda: C.SingleRPUConfig(device=C.TransferCompound()), ["SingleRPUConfig.device"]),
]


@pytest.mark.parametrize("factory, parts", BAD, ids=[str(i) for i in range(len(BAD))])
def test_validation_errors(factory, parts):
    with pytest.raises(ConfigError) as info:
        factory()
    msg = str(info.value)
    for part in parts:
        assert part in msg, (part, msg)


def test_accepted_values():
    # special meanings that aihwkit accepts must pass
    C.TransferCompound(transfer_every=0.0)  # no transfer
    C.TransferCompound(fast_lr=0.0, transfer_every=-1.0)  # fast_lr <= 0: the SGD learning rate
    C.ChoppedTransferCompound(transfer_every=-2.0)  # automatic period
    C.ChoppedTransferCompound(gamma=0.1, in_chop_prob=0.0, buffer_granularity=-1.0)
    C.DynamicTransferCompound(in_chop_prob=0.0, auto_momentum=0.0)  # only CUDA refuses these
    C.MixedPrecisionCompound(n_rows_per_transfer=0, transfer_every=0, granularity=-1.0)
    C.MixedPrecisionCompound(device=C.OneSidedUnitCell(unit_cell_devices=[dev()]))
    C.MixedPrecisionCompound(device=C.ReferenceUnitCell(unit_cell_devices=[dev()]))
    C.MixedPrecisionCompound(device=C.SoftBoundsPmaxDevice())
    C.OneSidedUnitCell(unit_cell_devices=[dev(), dev()], refresh_every=-1)
    C.ReferenceUnitCell(unit_cell_devices=[dev()] * 5, gamma_vec=[])  # extra devices ignored
    C.TransferCompound(unit_cell_devices=[dev(), C.SoftBoundsDevice(), C.ExpStepDevice()])
    C.VectorUnitCell(unit_cell_devices=[dev(), C.PiecewiseStepDevice()], gamma_vec=[0.5, 0.5],
                     update_policy="SingleFixed", first_update_idx=1)
    C.UnitCellRPUConfig(device=C.DifferenceUnitCell())


def test_coercion():
    cell = C.VectorUnitCell(unit_cell_devices=(dev(), dev()), update_policy="single_random",
                            gamma_vec=np.array([0.5, 0.5], dtype=np.float32),
                            first_update_idx=np.int64(1))
    assert type(cell.unit_cell_devices) is list
    assert cell.update_policy is C.VectorUnitCellUpdatePolicy.SINGLE_RANDOM
    assert cell.gamma_vec == [0.5, 0.5] and type(cell.gamma_vec[0]) is float
    assert type(cell.first_update_idx) is int
    tc = C.TransferCompound(n_reads_per_transfer=2.0, transfer_every=2)
    assert tc.n_reads_per_transfer == 2 and type(tc.transfer_every) is float
    # a mutation is re-checked by validate(), with the full path
    cfg = C.UnitCellRPUConfig(device=C.ChoppedTransferCompound(unit_cell_devices=[dev(), dev()]))
    cfg.device.unit_cell_devices[1].dw_min = -1.0
    with pytest.raises(ConfigError, match=r"^UnitCellRPUConfig\.device\.unit_cell_devices\[1\]"
                                          r"\.dw_min = -1\.0"):
        cfg.validate()
    cfg.device.unit_cell_devices[1].dw_min = 0.01
    cfg.device.unit_cell_devices.append(dev())
    with pytest.raises(ConfigError, match=r"UnitCellRPUConfig\.device\.unit_cell_devices = "):
        cfg.validate()


def test_check_ready():
    with pytest.raises(ConfigError, match=r"UnitCellRPUConfig\.device = UnitCell\(\.\.\.\) is not "
                                          r"allowed: expected a concrete unit cell"):
        C.UnitCellRPUConfig().check_ready()
    with pytest.raises(ConfigError, match=r"UnitCellRPUConfig\.device\.unit_cell_devices = \[\] "
                                          r"is not allowed: expected a list of at least 2 devices"):
        C.UnitCellRPUConfig(device=C.TransferCompound()).check_ready()
    with pytest.raises(ConfigError, match="exactly 2 devices"):
        C.ChoppedTransferCompound().check_ready()
    with pytest.raises(ConfigError, match=r"DigitalRankUpdateRPUConfig\.device = "
                                          r"DigitalRankUpdateCell"):
        C.DigitalRankUpdateRPUConfig().check_ready()
    with pytest.raises(ConfigError, match=r"DigitalRankUpdateRPUConfig\.device\.device\."
                                          r"unit_cell_devices = \[\]"):
        C.DigitalRankUpdateRPUConfig(device=C.MixedPrecisionCompound()).check_ready()
    ready = [
        C.UnitCellRPUConfig(device=C.VectorUnitCell(unit_cell_devices=[dev()])),
        C.UnitCellRPUConfig(device=C.ReferenceUnitCell(unit_cell_devices=[dev()])),
        C.UnitCellRPUConfig(device=C.OneSidedUnitCell(unit_cell_devices=[dev()])),
        C.UnitCellRPUConfig(device=C.TransferCompound(unit_cell_devices=[dev()] * 3)),
        C.UnitCellRPUConfig(device=C.DynamicTransferCompound(unit_cell_devices=[dev()] * 2)),
        C.DigitalRankUpdateRPUConfig(device=C.MixedPrecisionCompound(device=dev())),
    ]
    for cfg in ready:
        assert cfg.check_ready() is cfg
    assert C.VectorUnitCell(unit_cell_devices=[dev()]).check_ready("x").unit_cell_devices


def test_requires_diffusion_and_decay():
    cell = C.VectorUnitCell(unit_cell_devices=[dev(), dev(lifetime=100.0)])
    assert cell.requires_decay() and not cell.requires_diffusion()
    mp = C.MixedPrecisionCompound(device=dev(diffusion=0.01))
    assert mp.requires_diffusion() and not mp.requires_decay()
    assert C.MixedPrecisionCompound(device=cell).requires_decay()


# ----------------------------------------------------------------------------------------------
# repr, copy, JSON
# ----------------------------------------------------------------------------------------------


def _nested_configs():
    return [
        C.UnitCellRPUConfig(device=C.TransferCompound(
            unit_cell_devices=[C.SoftBoundsDevice(w_max=inf, dw_min=0.01),
                               C.PiecewiseStepDevice(piecewise_up=[1, 0.5], piecewise_down=[0.5, 1])],
            gamma=0.1, transfer_every_vec=[2.0, 0.0], transfer_lr_vec=[0.5, 1.0],
            transfer_forward=C.IOParameters(out_noise=0.0, noise_management="None",
                                            bound_management="None"),
            transfer_update=C.UpdateParameters(desired_bl=7), construction_seed=12)),
        C.UnitCellRPUConfig(device=C.ChoppedTransferCompound(
            unit_cell_devices=[C.LinearStepDevice(gamma_up=0.2), C.ExpStepDevice(A_up=0.1)],
            in_chop_prob=0.05, auto_scale=True, fast_lr=0.1, transfer_every=-1.0)),
        C.UnitCellRPUConfig(device=C.DynamicTransferCompound(
            unit_cell_devices=[dev(), C.SoftBoundsReferenceDevice(reference_std=0.05)],
            tail_weightening=20.0, buffer_cap=10.0, forget_buffer=False)),
        C.UnitCellRPUConfig(device=C.BufferedTransferCompound(
            unit_cell_devices=[dev()] * 3, momentum=0.0, thres_scale=2.0)),
        C.UnitCellRPUConfig(device=C.OneSidedUnitCell(
            unit_cell_devices=[C.ExpStepDevice(w_min=0.0, w_max=2.0)], refresh_every=2,
            refresh_forward=C.IOParameters(out_bound=inf), copy_inverted=True)),
        C.UnitCellRPUConfig(device=C.ReferenceUnitCell(unit_cell_devices=[dev(), dev(dw_min=0.1)])),
        C.UnitCellRPUConfig(device=C.VectorUnitCell(
            unit_cell_devices=[dev(), C.PowStepDevice(), C.SoftBoundsPmaxDevice(p_max=300)],
            update_policy="SingleSequential", gamma_vec=[0.2, 0.3, 0.5])),
        C.DigitalRankUpdateRPUConfig(device=C.MixedPrecisionCompound(
            device=C.VectorUnitCell(unit_cell_devices=[dev(), dev()]), n_x_bins=5, n_d_bins=7,
            granularity=0.002, construction_seed=4)),
        C.DigitalRankUpdateRPUConfig(device=C.MixedPrecisionCompound(
            device=C.OneSidedUnitCell(unit_cell_devices=[dev()]))),
        C.MixedPrecisionCompound(device=C.SoftBoundsDevice(reset=-0.1)),
        C.DifferenceUnitCell(unit_cell_devices=[dev()]),
    ]


@pytest.mark.parametrize("obj", _nested_configs(), ids=lambda o: type(o).__name__)
def test_json_round_trip_nested(obj):
    text = obj.to_json()
    assert "Infinity" not in text and "NaN" not in text
    back = C.from_json(text)
    assert type(back) is type(obj) and back == obj
    assert repr(back) == repr(obj) and back.to_dict() == obj.to_dict()
    assert type(obj).from_dict(json.loads(text)) == obj
    assert eval(repr(obj), vars(C)) == obj  # noqa: S307  (the repr is valid Python)
    # the nested device lists are rebuilt as lists of the right classes
    dev_of = getattr(obj, "device", obj)
    inner = getattr(dev_of, "unit_cell_devices", None) or [getattr(dev_of, "device", None)]
    mirror = getattr(back, "device", back)
    mirror_inner = getattr(mirror, "unit_cell_devices", None) or [getattr(mirror, "device", None)]
    assert [type(d) for d in mirror_inner] == [type(d) for d in inner]


@pytest.mark.parametrize("name", sorted(DEFAULTS) + ["UnitCellRPUConfig", "DigitalRankUpdateRPUConfig"])
def test_json_round_trip_defaults(name):
    obj = getattr(C, name)()
    assert C.from_json(obj.to_json()) == obj
    assert repr(obj) == f"{name}()"


def test_json_nested_errors():
    data = _nested_configs()[0].to_dict()
    data["device"]["unit_cell_devices"][1]["__class__"] = "os.system"
    with pytest.raises(ConfigError, match="unknown config class 'os.system'"):
        C.from_dict(data)
    data = _nested_configs()[0].to_dict()
    data["device"]["unit_cell_devices"][0]["dw_min"] = -1.0
    with pytest.raises(ConfigError, match=r"dw_min = -1\.0"):
        C.from_dict(data)
    data = _nested_configs()[0].to_dict()
    data["device"]["unit_cell_devices"][0] = {"dw_min": 0.1}
    with pytest.raises(ConfigError, match=r"unit_cell_devices\[0\]: a dict value needs"):
        C.from_dict(data)
    data = _nested_configs()[1].to_dict()
    data["device"]["unit_cell_devices"].append(data["device"]["unit_cell_devices"][0])
    with pytest.raises(ConfigError, match="exactly 2 devices"):
        C.from_dict(data)
    data = C.UnitCellRPUConfig(device=C.VectorUnitCell()).to_dict()
    data["device"]["unit_cell_devices"] = [C.IOParameters().to_dict()]
    with pytest.raises(ConfigError, match=r"unit_cell_devices\[0\] = IOParameters"):
        C.from_dict(data)


def test_repr_and_copy():
    cell = C.TransferCompound(unit_cell_devices=[dev(dw_min=0.01), dev()], gamma=0.1)
    assert repr(cell) == ("TransferCompound(unit_cell_devices=[ConstantStepDevice(dw_min=0.01), "
                          "ConstantStepDevice()], gamma=0.1)")
    for dup in (cell.copy(), copy.deepcopy(cell)):
        assert dup == cell
        dup.unit_cell_devices[0].dw_min = 0.5
        dup.transfer_forward.out_noise = 0.0
        assert cell.unit_cell_devices[0].dw_min == 0.01 and cell.transfer_forward.out_noise == 0.06
    assert C.TransferCompound() != C.BufferedTransferCompound()
    assert C.OneSidedUnitCell() != C.DifferenceUnitCell()


# ----------------------------------------------------------------------------------------------
# optional: the running aihwkit 1.1.0
# ----------------------------------------------------------------------------------------------

AIHWKIT_EXPRESSIONS = [f"{name}()" for name in sorted(DEFAULTS)] + [
    "UnitCellRPUConfig()",
    "DigitalRankUpdateRPUConfig()",
    "VectorUnitCell(unit_cell_devices=[ConstantStepDevice(), SoftBoundsDevice(dw_min=0.01)], "
    "update_policy=VectorUnitCellUpdatePolicy.SINGLE_RANDOM, gamma_vec=[0.5, 0.5])",
    "ReferenceUnitCell(unit_cell_devices=[LinearStepDevice()])",
    "OneSidedUnitCell(unit_cell_devices=[ExpStepDevice()], refresh_every=3)",
    "UnitCellRPUConfig(device=TransferCompound(unit_cell_devices=[ConstantStepDevice(), "
    "PowStepDevice()], gamma=0.1, transfer_every=2.0))",
    "UnitCellRPUConfig(device=ChoppedTransferCompound(unit_cell_devices=[ConstantStepDevice(), "
    "ConstantStepDevice()], in_chop_prob=0.05, auto_scale=True))",
    "UnitCellRPUConfig(device=DynamicTransferCompound(unit_cell_devices=[SoftBoundsDevice(), "
    "SoftBoundsDevice()], tail_weightening=10.0))",
    "DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=SoftBoundsDevice(), "
    "n_x_bins=5, n_d_bins=5))",
]


@pytest.fixture(scope="module")
def aihwkit_trees():
    return run_aihwkit(AIHWKIT_EXPRESSIONS)


@needs_aihwkit
@pytest.mark.parametrize("expr", AIHWKIT_EXPRESSIONS)
def test_compounds_match_aihwkit(expr, aihwkit_trees):
    assert_same_tree(tree(eval(expr, vars(C))), aihwkit_trees[expr], expr)  # noqa: S307
