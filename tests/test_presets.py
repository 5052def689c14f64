"""Tests of rpu.presets: device, IO/update, RPU-configuration and inference presets.

The value tables were read from aihwkit 1.1.0 (``aihwkit.simulator.presets``; training.md section
5 lists the same values). ``test_presets_match_aihwkit`` compares every preset tree field by field
with a running aihwkit when ``AIHWKIT_PYTHON`` names its interpreter.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rpu
import rpu.config as C
import rpu.presets as P
import rpu.presets.web as W
from rpu.errors import ConfigError

from config_tree import assert_same_tree, needs_aihwkit, run_aihwkit, tree

# Device presets: (base class, the values aihwkit sets).
DEVICE_PRESETS = {
    "ReRamESPresetDevice": (C.ExpStepDevice, dict(
        dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0, a=-0.5, b=-0.5, gamma_up=5.0,
        gamma_down=5.0, A_up=-1.18445, A_down=-0.081404, dw_min_dtod=0.2, up_down_dtod=0.05,
        w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=5.0, write_noise_std=75.0)),
    "ReRamSBPresetDevice": (C.SoftBoundsReferenceDevice, dict(
        dw_min=0.002, up_down=0.0, w_max=1.25, w_min=-0.75, mult_noise=False, dw_min_dtod=0.3,
        up_down_dtod=0.01, w_max_dtod=0.3 / 1.25, w_min_dtod=0.3 / 0.75, dw_min_std=3.75,
        write_noise_std=56.0)),
    "CapacitorPresetDevice": (C.LinearStepDevice, dict(
        dw_min=0.005, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False, gamma_up=0.05,
        gamma_down=0.05, dw_min_dtod=0.1, up_down_dtod=0.06, w_max_dtod=0.07, w_min_dtod=0.07,
        gamma_up_dtod=0.01, gamma_down_dtod=0.01, dw_min_std=0.3, write_noise_std=0.0,
        mean_bound_reference=True, lifetime=1.0e6, lifetime_dtod=0.3)),
    "EcRamPresetDevice": (C.LinearStepDevice, dict(
        dw_min=0.002, up_down=0.0, w_max=1.1724, w_min=-0.8276, mult_noise=True, gamma_up=0.1153,
        gamma_down=0.5085, dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05,
        gamma_up_dtod=0.05, gamma_down_dtod=0.05, dw_min_std=0.3, write_noise_std=0.0,
        mean_bound_reference=True)),
    "EcRamMOPresetDevice": (C.LinearStepDevice, dict(
        dw_min=2.8214e-4, up_down=0.0, w_max=1.1714, w_min=-0.8286, mult_noise=True,
        gamma_up=0.4152, gamma_down=0.7342, dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05,
        w_min_dtod=0.05, gamma_up_dtod=0.05, gamma_down_dtod=0.05, dw_min_std=2.0,
        write_noise_std=0.0, mean_bound_reference=True)),
    "IdealizedPresetDevice": (C.ConstantStepDevice, dict(
        dw_min=0.0002, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0, up_down_dtod=0.0, w_max=1.0,
        w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)),
    "GokmenVlasovPresetDevice": (C.ConstantStepDevice, dict(
        dw_min=0.0016, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0, up_down_dtod=0.01,
        w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)),
    "PCMPresetDevice": (C.ExpStepDevice, dict(
        dw_min=0.01, up_down=0.0, w_max=2.0, w_min=0.0, a=-1.0, b=0.0, gamma_up=2.5,
        gamma_down=2.5, A_up=-27.235, A_down=-2.235, dw_min_dtod=0.2, up_down_dtod=0.05,
        w_max_dtod=0.1, w_min_dtod=0.0, dw_min_std=0.6, dw_min_std_add=0.042,
        dw_min_std_slope=0.108, write_noise_std=0.0, reset=0.01, reset_dtod=0.02)),
    "ReRamArrayOMPresetDevice": (C.SoftBoundsReferenceDevice, dict(
        enforce_consistency=True, dw_min_dtod_log_normal=True, dw_min=0.0949, up_down=0.0,
        w_max=1.0, w_min=-1.0, mult_noise=False, dw_min_dtod=0.7829, up_down_dtod=0.01,
        w_max_dtod=0.3499, w_min_dtod=0.5695, dw_min_std=0.4158, write_noise_std=1.4113,
        corrupt_devices_range=0.01, corrupt_devices_prob=0.0, subtract_symmetry_point=True,
        reference_std=0.05)),
    "ReRamArrayHfO2PresetDevice": (C.SoftBoundsReferenceDevice, dict(
        enforce_consistency=True, dw_min_dtod_log_normal=True, dw_min=0.4622, up_down=0.0,
        w_max=1.0, w_min=-1.0, mult_noise=False, dw_min_dtod=0.7125, up_down_dtod=0.01,
        w_max_dtod=0.4295, w_min_dtod=0.5990, dw_min_std=0.2174, write_noise_std=0.5841,
        corrupt_devices_range=0.01, corrupt_devices_prob=0.0, subtract_symmetry_point=True,
        reference_std=0.05)),
}

SHORT = {  # preset-name part -> device preset
    "ReRamES": P.ReRamESPresetDevice, "ReRamSB": P.ReRamSBPresetDevice,
    "Capacitor": P.CapacitorPresetDevice, "EcRam": P.EcRamPresetDevice,
    "EcRamMO": P.EcRamMOPresetDevice, "Idealized": P.IdealizedPresetDevice,
    "GokmenVlasov": P.GokmenVlasovPresetDevice,
}
SIX = ["ReRamES", "ReRamSB", "Capacitor", "EcRam", "EcRamMO", "Idealized"]

# name -> (fast_lr, auto_granularity, update desired_bl) / (in_chop_prob, fast_lr, ...) / ...
TTV2 = {"ReRamES": (0.5, 1000, 31), "ReRamSB": (0.5, 1000, 31), "Capacitor": (0.1, 1000, 31),
        "EcRam": (0.1, 500, 100), "EcRamMO": (0.1, 500, 100), "Idealized": (0.1, 500, 100)}
CHOPPED = {"ReRamES": (0.01, 0.5, 1000, 31), "ReRamSB": (0.01, 0.5, 1000, 31),
           "Capacitor": (0.01, 0.1, 1000, 31), "EcRam": (0.01, 1.0, 500, 100),
           "EcRamMO": (0.001, 0.1, 500, 100), "Idealized": (0.001, 0.1, 500, 100)}
AGAD = {"ReRamES": (0.5, 1000, 5.0, 0.02, 31), "ReRamSB": (0.5, 1000, 5.0, 0.02, 31),
        "Capacitor": (0.1, 1000, 20.0, 0.01, 31), "EcRam": (0.1, 750, 50.0, 0.005, 31),
        "EcRamMO": (0.1, 500, 50.0, 0.005, 100), "Idealized": (0.1, 500, 50.0, 0.005, 100)}

TRANSFER_IO = P.PresetIOParameters(noise_management="None", bound_management="None")
SINGLE_PULSE = P.PresetUpdateParameters(desired_bl=1, update_bl_management=False,
                                        update_management=False)

ALL_PRESETS = sorted(P.__all__) + sorted(W.__all__)


def _device(short):
    dev = SHORT[short]()
    if short == "ReRamSB":
        dev.subtract_symmetry_point = True
    return dev


# ----------------------------------------------------------------------------------------------
# every preset
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_every_preset_builds_and_round_trips(name):
    cls = getattr(P, name, None) or getattr(W, name)
    obj = cls()
    assert isinstance(obj, C.ConfigBase) and obj.validate() is obj
    assert repr(obj) == f"{name}()"
    back = C.from_json(obj.to_json())
    assert type(back) is cls and back == obj and back.to_dict() == obj.to_dict()
    assert cls.from_dict(json.loads(obj.to_json())) == obj
    if hasattr(obj, "check_ready"):
        obj.check_ready()
    # the preset names its parent's fields only (a preset changes defaults, never the schema)
    parent = next(b for b in cls.__mro__[1:] if b.__module__.startswith("rpu.config"))
    assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in dataclasses.fields(parent)]


def test_exports():
    expected_configs = (
        [f"{k}Preset" for k in list(SHORT) + ["PCM"]]
        + [f"{k}{n}Preset" for n in (2, 4) for k in SIX]
        + [f"{alg}{k}Preset" for alg in ("TikiTaka", "TTv2", "ChoppedTTv2", "AGAD") for k in SIX]
        + [f"MixedPrecision{k}Preset" for k in list(SHORT) + ["PCM"]]
    )
    others = ["StandardHWATrainingPreset", "PCMPresetUnitCell", "PresetIOParameters",
              "StandardIOParameters", "PresetUpdateParameters"] + list(DEVICE_PRESETS)
    assert sorted(P.__all__) == sorted(expected_configs + others)
    for name in P.__all__:
        assert name in C.registered_classes(), name
    for name in W.__all__:
        assert name in C.registered_classes() and name not in P.__all__


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEVICE_PRESETS))
def test_device_preset_values(name):
    base, values = DEVICE_PRESETS[name]
    dev = getattr(P, name)()
    assert type(dev).__mro__[1] is base
    for field, expected in values.items():
        got = getattr(dev, field)
        assert got == expected and type(got) is type(expected), (name, field, got)
    # every other field keeps the parent's default
    default = base()
    for fld in dataclasses.fields(base):
        if fld.name not in values:
            assert getattr(dev, fld.name) == getattr(default, fld.name), (name, fld.name)


def test_io_and_update_presets():
    io = P.PresetIOParameters()
    assert io == P.PresetIOParameters() and type(io) is not C.IOParameters
    assert (io.out_bound, io.out_noise, io.inp_res, io.out_res) == (20.0, 0.1, 1 / 126, 1 / 510)
    assert io.bound_management is C.BoundManagementType.ITERATIVE
    assert io.noise_management is C.NoiseManagementType.ABS_MAX
    assert io.w_noise == 0.0 and io.w_noise_type is C.WeightNoiseType.NONE
    std = P.StandardIOParameters()
    assert (std.out_bound, std.out_noise, std.inp_res, std.out_res) == (10.0, 0.04, 1 / 254, 1 / 254)
    assert tree(P.PresetUpdateParameters())[1] == tree(C.UpdateParameters())[1]
    assert P.PresetUpdateParameters(desired_bl=7).desired_bl == 7


def test_single_and_vector_presets():
    for short, dev_cls in SHORT.items():
        cfg = getattr(P, f"{short}Preset")()
        assert type(cfg).__mro__[1] is C.SingleRPUConfig and type(cfg.device) is dev_cls
        assert type(cfg.forward) is P.PresetIOParameters and cfg.backward == P.PresetIOParameters()
        assert cfg.update == P.PresetUpdateParameters()
    for short in SIX:
        for n in (2, 4):
            cell = getattr(P, f"{short}{n}Preset")().device
            assert type(cell) is C.VectorUnitCell
            assert cell.unit_cell_devices == [SHORT[short]()] * n
            assert cell.update_policy is C.VectorUnitCellUpdatePolicy.SINGLE_RANDOM
    pcm = P.PCMPreset()
    assert type(pcm.device) is P.PCMPresetUnitCell
    cell = pcm.device
    assert cell.unit_cell_devices == [P.PCMPresetDevice(), P.PCMPresetDevice()]
    assert (cell.refresh_every, cell.units_in_mbatch) == (1, True)
    assert cell.refresh_forward == P.PresetIOParameters()
    assert cell.refresh_update == P.PresetUpdateParameters(desired_bl=31)


@pytest.mark.parametrize("short", SIX)
def test_transfer_presets(short):
    tt = getattr(P, f"TikiTaka{short}Preset")()
    assert type(tt.device) is C.TransferCompound
    assert tt.device.unit_cell_devices == [_device(short)] * 2
    assert tt.device.transfer_forward == TRANSFER_IO
    assert tt.device.transfer_update == P.PresetUpdateParameters()
    assert tt.device.units_in_mbatch is True and tt.device.transfer_every == 1.0
    assert tt.update == P.PresetUpdateParameters()

    fast_lr, granularity, bl = TTV2[short]
    ttv2 = getattr(P, f"TTv2{short}Preset")()
    dev = ttv2.device
    assert type(dev) is C.ChoppedTransferCompound
    assert dev.unit_cell_devices == [_device(short)] * 2
    assert (dev.in_chop_prob, dev.fast_lr, dev.auto_granularity) == (0.0, fast_lr, granularity)
    assert dev.auto_scale is True and dev.units_in_mbatch is False
    assert dev.transfer_forward == TRANSFER_IO and dev.transfer_update == SINGLE_PULSE
    assert ttv2.update == P.PresetUpdateParameters(desired_bl=bl)

    chop, fast_lr, granularity, bl = CHOPPED[short]
    cttv2 = getattr(P, f"ChoppedTTv2{short}Preset")()
    dev = cttv2.device
    assert type(dev) is C.ChoppedTransferCompound
    assert (dev.in_chop_prob, dev.fast_lr, dev.auto_granularity) == (chop, fast_lr, granularity)
    assert dev.auto_scale is True and dev.in_chop_random is True
    assert dev.transfer_forward == TRANSFER_IO and dev.transfer_update == SINGLE_PULSE
    assert cttv2.update == P.PresetUpdateParameters(desired_bl=bl)

    fast_lr, granularity, tail, chop, bl = AGAD[short]
    agad = getattr(P, f"AGAD{short}Preset")()
    dev = agad.device
    assert type(dev) is C.DynamicTransferCompound
    assert dev.unit_cell_devices == [_device(short)] * 2
    assert (dev.fast_lr, dev.auto_granularity, dev.tail_weightening, dev.in_chop_prob) == (
        fast_lr, granularity, tail, chop)
    assert dev.auto_scale is True and dev.units_in_mbatch is False
    assert dev.transfer_forward == TRANSFER_IO and dev.transfer_update == SINGLE_PULSE
    assert agad.update == P.PresetUpdateParameters(desired_bl=bl)


def test_mixed_precision_presets():
    for short, dev_cls in list(SHORT.items()) + [("PCM", P.PCMPresetUnitCell)]:
        cfg = getattr(P, f"MixedPrecision{short}Preset")()
        assert type(cfg).__mro__[1] is C.DigitalRankUpdateRPUConfig
        assert type(cfg.device) is C.MixedPrecisionCompound
        assert cfg.device.device == dev_cls() and type(cfg.device.device) is dev_cls
        assert cfg.update == P.PresetUpdateParameters()


def test_standard_hwa_training_preset():
    cfg = P.StandardHWATrainingPreset()
    assert isinstance(cfg, C.InferenceRPUConfig)
    assert cfg.mapping == C.MappingParameter(
        weight_scaling_omega=1.0, weight_scaling_columnwise=True, max_input_size=512,
        max_output_size=0, digital_bias=True, learn_out_scaling=True, out_scaling_columnwise=True)
    assert cfg.forward == P.PresetIOParameters(
        inp_res=254.0, out_res=254.0, bound_management="None", noise_management="Constant",
        nm_thres=1.0, w_noise=0.0175, w_noise_type="PCMRead", ir_drop=1.0, out_noise=0.04,
        out_bound=10.0)
    assert cfg.remap == C.WeightRemapParameter(remapped_wmax=1.0, type="ChannelwiseSymmetric")
    assert cfg.clip == C.WeightClipParameter(type="FixedValue", fixed_value=1.0)
    assert cfg.pre_post.input_range == C.InputRangeParameter(enable=True)
    assert cfg.noise_model == C.PCMLikeNoiseModel()
    assert cfg.drift_compensation == C.GlobalDriftCompensation()
    assert cfg.backward == C.IOParameters(is_perfect=True) and cfg.device == C.IdealDevice()


def test_presets_keep_validation_and_accept_overrides():
    with pytest.raises(ConfigError, match=r"PresetIOParameters\.out_noise = -1\.0"):
        P.PresetIOParameters(out_noise=-1.0)
    with pytest.raises(ConfigError, match=r"ReRamESPresetDevice\.dw_min = 0\.0 .*> 0"):
        P.ReRamESPresetDevice(dw_min=0.0)
    with pytest.raises(ConfigError, match=r"ReRamSBPresetDevice\.w_min = 2\.0"):
        P.ReRamSBPresetDevice(w_min=2.0)
    with pytest.raises(ConfigError, match=r"PresetUpdateParameters\.desired_bl = 0"):
        P.PresetUpdateParameters(desired_bl=0)
    with pytest.raises(ConfigError, match=r"PCMPresetUnitCell\.unit_cell_devices"):
        P.PCMPresetUnitCell(unit_cell_devices=[P.PCMPresetDevice(), P.ReRamESPresetDevice()])
    with pytest.raises(ConfigError, match=r"TikiTakaEcRamPreset\.device = ConstantStepDevice"):
        P.TikiTakaEcRamPreset(device=C.ConstantStepDevice())
    cfg = P.ReRamSBPreset(device=P.ReRamSBPresetDevice(dw_min=0.001), forward=C.IOParameters())
    assert cfg.device.dw_min == 0.001 and type(cfg.forward) is C.IOParameters
    assert repr(cfg) == ("ReRamSBPreset(forward=IOParameters(), "
                         "device=ReRamSBPresetDevice(dw_min=0.001))")
    assert C.from_json(cfg.to_json()) == cfg
    # instances do not share nested objects
    a, b = P.AGADEcRamPreset(), P.AGADEcRamPreset()
    a.device.unit_cell_devices[0].dw_min = 0.5
    a.forward.out_noise = 0.0
    assert b.device.unit_cell_devices[0].dw_min == 0.002 and b.forward.out_noise == 0.1


def test_preset_json_in_a_fresh_process():
    text = P.TikiTakaReRamSBPreset().to_json()
    code = ("import sys, rpu.config as C; cfg = C.from_json(sys.stdin.read()); "
            "print(type(cfg).__name__, type(cfg.device.unit_cell_devices[0]).__name__)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["TikiTakaReRamSBPreset", "ReRamSBPresetDevice"]


# ----------------------------------------------------------------------------------------------
# optional: the running aihwkit 1.1.0
# ----------------------------------------------------------------------------------------------

AIHWKIT_EXPRESSIONS = [f"{name}()" for name in ALL_PRESETS]
AIHWKIT_NAMES = ("sorted(n for n, v in vars(__import__('aihwkit.simulator.presets', "
                 "fromlist=['configs'])).items() if isinstance(v, type))")


@pytest.fixture(scope="module")
def aihwkit_trees():
    return run_aihwkit(AIHWKIT_EXPRESSIONS + [AIHWKIT_NAMES])


@needs_aihwkit
@pytest.mark.parametrize("expr", AIHWKIT_EXPRESSIONS)
def test_presets_match_aihwkit(expr, aihwkit_trees):
    space = dict(vars(P))
    space.update(vars(W))
    assert_same_tree(tree(eval(expr, space)), aihwkit_trees[expr], expr)  # noqa: S307


@needs_aihwkit
def test_preset_names_match_aihwkit(aihwkit_trees):
    theirs = set(aihwkit_trees[AIHWKIT_NAMES])
    # FloatingPointPreset derives from aihwkit's torch-only TorchInferenceRPUConfig
    assert theirs - set(P.__all__) == {"FloatingPointPreset"}
    assert set(P.__all__) <= theirs


# ----------------------------------------------------------------------------------------------
# training presets on a tile
# ----------------------------------------------------------------------------------------------

TRAINING_PRESETS = [n for n in sorted(P.__all__)
                    if isinstance(getattr(P, n)(), rpu.AnalogTile.config_classes)]


@pytest.mark.parametrize("name", TRAINING_PRESETS)
def test_training_preset_hidden_parameters_round_trip(name):
    # A few updates, then set_hidden_parameters(get_hidden_parameters()): the hidden parameters
    # are kept exactly, and so are the weights, except that a single write-noise device shows its
    # persistent weights with fresh write noise (as after set_weights; see the docstring).
    config = getattr(P, name)()
    tile = rpu.AnalogTile(5, 12, config, seed=7)
    tile.set_learning_rate(0.05)
    rng = np.random.default_rng(1)
    for _ in range(3):
        tile.update(rng.uniform(-1, 1, (8, 12)).astype(np.float32),
                    rng.uniform(-1, 1, (8, 5)).astype(np.float32))
    weights, hidden = tile.get_weights(), tile.get_hidden_parameters()
    tile.set_hidden_parameters({k: v.copy() for k, v in hidden.items()})
    after = tile.get_hidden_parameters()
    assert after.keys() == hidden.keys()
    for k in hidden:
        np.testing.assert_array_equal(after[k], hidden[k], err_msg=k)
    if isinstance(config, C.SingleRPUConfig) and "persistent_weights" in hidden:
        assert np.abs(tile.get_weights() - hidden["persistent_weights"]).max() > 0
    else:
        np.testing.assert_array_equal(tile.get_weights(), weights)
