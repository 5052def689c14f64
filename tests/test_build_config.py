"""Tests of rpu.config.build_config: every algorithm name, the resulting config trees, errors.

The expected trees follow aihwkit 1.1.0's ``build_config`` (training.md section 4.9 and the seed
configs_build_config.txt); ``test_build_config_matches_aihwkit`` compares whole trees, field by
field, with a running aihwkit when ``AIHWKIT_PYTHON`` names its interpreter.
"""

import pytest

import rpu.config as C
from rpu.config import build_config
from rpu.errors import ConfigError

from config_tree import assert_same_tree, needs_aihwkit, run_aihwkit, tree

NONE_NM = C.NoiseManagementType.NONE
NONE_BM = C.BoundManagementType.NONE

# alias -> (RPU config class, compound class or None for a single device)
ALIASES = {
    "sgd": (C.SingleRPUConfig, None),
    "mp": (C.DigitalRankUpdateRPUConfig, C.MixedPrecisionCompound),
    "mixed-precision": (C.DigitalRankUpdateRPUConfig, C.MixedPrecisionCompound),
    "tiki-taka": (C.UnitCellRPUConfig, C.TransferCompound),
    "ttv1": (C.UnitCellRPUConfig, C.TransferCompound),
    "tt": (C.UnitCellRPUConfig, C.TransferCompound),
    "ttv2": (C.UnitCellRPUConfig, C.ChoppedTransferCompound),
    "chopped-ttv2": (C.UnitCellRPUConfig, C.ChoppedTransferCompound),
    "ttv3": (C.UnitCellRPUConfig, C.ChoppedTransferCompound),
    "c-ttv2": (C.UnitCellRPUConfig, C.ChoppedTransferCompound),
    "agad": (C.UnitCellRPUConfig, C.DynamicTransferCompound),
    "ttv4": (C.UnitCellRPUConfig, C.DynamicTransferCompound),
}

BL1_NO_UM = C.UpdateParameters(desired_bl=1, update_bl_management=False, update_management=False)


def test_alias_table_is_complete():
    assert set(C.build.ALGORITHMS) == set(ALIASES)
    assert "build_config" in C.__all__


@pytest.mark.parametrize("name", sorted(ALIASES))
@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.title])
def test_alias_maps_to_compound(name, spelling):
    device = C.SoftBoundsDevice(dw_min=0.01)
    cfg = build_config(spelling(name), device, construction_seed=9)
    cfg_cls, compound_cls = ALIASES[name]
    assert type(cfg) is cfg_cls
    assert cfg.forward == C.IOParameters() and cfg.backward == C.IOParameters()
    assert cfg.forward is not cfg.backward
    if compound_cls is None:
        assert cfg.device == C.SoftBoundsDevice(dw_min=0.01, construction_seed=9)
        assert cfg.device is not device and device.construction_seed == 0  # copied, not changed
        return
    assert type(cfg.device) is compound_cls
    if compound_cls is C.MixedPrecisionCompound:
        # as in aihwkit, the analog device gets the seed, the compound keeps 0
        assert cfg.device.construction_seed == 0
        assert cfg.device.device == C.SoftBoundsDevice(dw_min=0.01, construction_seed=9)
        assert cfg.update == C.UpdateParameters()
        return
    assert cfg.device.construction_seed == 9
    devices = cfg.device.unit_cell_devices
    assert devices == [C.SoftBoundsDevice(dw_min=0.01)] * 2  # sub-device seeds stay 0
    assert devices[0] is not devices[1] and devices[0] is not device
    assert cfg.check_ready() is cfg


def test_sgd_n_devices():
    cfg = build_config("sgd", C.LinearStepDevice, n_devices=3, construction_seed=4)
    assert type(cfg) is C.UnitCellRPUConfig and type(cfg.device) is C.VectorUnitCell
    assert cfg.device.unit_cell_devices == [C.LinearStepDevice()] * 3
    assert cfg.device.update_policy is C.VectorUnitCellUpdatePolicy.SINGLE_RANDOM
    assert cfg.device.construction_seed == 4 and cfg.device.gamma_vec == []
    assert cfg.update == C.UpdateParameters()
    single = build_config("sgd", C.LinearStepDevice, n_devices=1)
    assert type(single) is C.SingleRPUConfig and single.device == C.LinearStepDevice()
    # n_devices is ignored by the other algorithms (as in aihwkit), even invalid values
    assert len(build_config("tt", C.LinearStepDevice, n_devices=5).device.unit_cell_devices) == 2
    build_config("agad", C.LinearStepDevice, n_devices=0)


def test_tiki_taka_fields():
    cfg = build_config("tiki-taka", C.ConstantStepDevice)
    dev = cfg.device
    assert dev.transfer_forward == C.IOParameters(noise_management=NONE_NM, bound_management=NONE_BM)
    assert dev.transfer_update == C.UpdateParameters()  # the full default: BL 31, UBLM, UM
    assert dev.units_in_mbatch is True and dev.fast_lr == 1.0 and dev.gamma == 0.0
    assert cfg.update == C.UpdateParameters()


def test_ttv2_fields():
    cfg = build_config("ttv2", C.ConstantStepDevice)
    dev = cfg.device
    assert dev.transfer_forward == C.IOParameters(noise_management=NONE_NM, bound_management=NONE_BM)
    assert dev.transfer_update == BL1_NO_UM
    assert dev.in_chop_prob == 0.0 and dev.units_in_mbatch is False and dev.auto_scale is False
    assert dev.fast_lr == 1.0
    assert cfg.update == C.UpdateParameters(desired_bl=5)


@pytest.mark.parametrize("name", ["chopped-ttv2", "ttv3", "c-ttv2"])
def test_chopped_fields(name):
    cfg = build_config(name, C.ConstantStepDevice)
    dev = cfg.device
    assert dev.transfer_forward == C.IOParameters(noise_management=NONE_NM, bound_management=NONE_BM)
    assert dev.transfer_update == BL1_NO_UM
    assert dev.in_chop_prob == 0.1 and dev.in_chop_random is True  # the class default
    assert dev.fast_lr == 0.1 and dev.auto_scale is True and dev.units_in_mbatch is False
    assert cfg.update == C.UpdateParameters(desired_bl=5)


@pytest.mark.parametrize("name", ["agad", "ttv4"])
def test_agad_fields(name):
    cfg = build_config(name, C.ConstantStepDevice)
    dev = cfg.device
    assert dev.transfer_forward == C.IOParameters()  # NM/BM not switched off here
    assert dev.transfer_update == C.UpdateParameters(desired_bl=1)  # with UBLM and UM
    assert dev.auto_scale is True and dev.fast_lr == 0.1 and dev.units_in_mbatch is False
    assert dev.in_chop_prob == 0.1 and dev.in_chop_random is False
    assert cfg.update == C.UpdateParameters(desired_bl=5)


def test_instances_are_copied_and_overridden():
    io = C.IOParameters(out_noise=0.2, inp_bound=2.0, noise_management="None")
    up = C.UpdateParameters(desired_bl=10, pulse_type="MeanCount")
    device = C.ExpStepDevice(A_up=0.1, construction_seed=3)
    cfg = build_config("ttv2", device, io, up, construction_seed=11)
    assert cfg.forward == io and cfg.forward is not io and cfg.backward is not cfg.forward
    tf = cfg.device.transfer_forward
    assert tf.out_noise == 0.2 and tf.inp_bound == 2.0 and tf.bound_management is NONE_BM
    assert cfg.update == C.UpdateParameters(desired_bl=5, pulse_type="MeanCount")
    assert cfg.device.transfer_update == C.UpdateParameters(
        desired_bl=1, pulse_type="MeanCount", update_bl_management=False, update_management=False)
    # the devices inside the compound are copies of the instance, seed included
    assert cfg.device.unit_cell_devices == [device, device]
    assert cfg.device.construction_seed == 11
    # the templates are untouched
    assert io == C.IOParameters(out_noise=0.2, inp_bound=2.0, noise_management="None")
    assert up == C.UpdateParameters(desired_bl=10, pulse_type="MeanCount")
    assert device.construction_seed == 3
    sgd = build_config("sgd", device, construction_seed=5)
    assert sgd.device.construction_seed == 5 and device.construction_seed == 3


def test_classes_and_callables():
    calls = []

    def make_device(**kwargs):
        calls.append(kwargs)
        return C.PowStepDevice(pow_gamma=2.0, **kwargs)

    cfg = build_config("mp", make_device, construction_seed=6)
    assert calls == [{"construction_seed": 6}]
    assert cfg.device.device == C.PowStepDevice(pow_gamma=2.0, construction_seed=6)
    calls.clear()
    cfg = build_config("tt", make_device,
                       io_parameters=lambda **kw: C.IOParameters(out_noise=0.0, **kw))
    assert calls == [{}, {}]
    assert cfg.device.transfer_forward.noise_management is NONE_NM
    assert cfg.forward.out_noise == 0.0
    # a preset IO class is just another class
    from rpu.presets import PresetIOParameters
    cfg = build_config("sgd", C.ConstantStepDevice, PresetIOParameters)
    assert type(cfg.forward) is PresetIOParameters


def test_kwargs_land_on_the_rpu_config():
    mapping = C.MappingParameter(max_input_size=256, digital_bias=False)
    runtime = C.RuntimeParameter(data_type="double")
    for name in ALIASES:
        cfg = build_config(name, C.ConstantStepDevice, mapping=mapping, runtime=runtime)
        assert cfg.mapping == mapping and cfg.runtime.data_type is C.RPUDataType.DOUBLE, name
    cfg = build_config("sgd", C.ConstantStepDevice, n_devices=2,
                       pre_post=C.PrePostProcessingParameter(C.InputRangeParameter(enable=True)))
    assert cfg.pre_post.input_range.enable is True


def test_unknown_algorithm():
    for bad in ("adam", "tt-v2", " sgd", "", "tikitaka"):
        with pytest.raises(ConfigError) as info:
            build_config(bad, C.ConstantStepDevice)
        msg = str(info.value)
        assert f"algorithm = {bad!r} is not known" in msg
        for name in ALIASES:
            assert repr(name) in msg
    with pytest.raises(ConfigError, match="algorithm = None is not known"):
        build_config(None, C.ConstantStepDevice)
    assert isinstance(ConfigError("x"), ValueError)


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="n_devices = 0 is not allowed"):
        build_config("sgd", C.ConstantStepDevice, n_devices=0)
    with pytest.raises(ConfigError, match="n_devices = 2.5"):
        build_config("sgd", C.ConstantStepDevice, n_devices=2.5)
    with pytest.raises(ConfigError, match="device = 3 is not allowed"):
        build_config("sgd", 3)
    with pytest.raises(ConfigError, match="io_parameters = 'fast' is not allowed"):
        build_config("sgd", C.ConstantStepDevice, io_parameters="fast")
    with pytest.raises(ConfigError, match=r"construction_seed = -1"):
        build_config("ttv2", C.ConstantStepDevice, construction_seed=-1)
    with pytest.raises(ConfigError, match=r"unit_cell_devices\[0\] = IdealDevice"):
        build_config("tt", C.IdealDevice)
    with pytest.raises(ConfigError, match=r"SingleRPUConfig\.forward = UpdateParameters"):
        build_config("sgd", C.ConstantStepDevice, io_parameters=C.UpdateParameters())
    with pytest.raises(ConfigError, match=r"io_parameters.*no field 'noise_management'"):
        build_config("tt", C.ConstantStepDevice, io_parameters=C.UpdateParameters())
    with pytest.raises(TypeError, match="unexpected keyword argument 'mapp'.*valid ones: mapping"):
        build_config("tt", C.ConstantStepDevice, mapp=C.MappingParameter())
    with pytest.raises(TypeError, match="'update', which build_config sets itself"):
        build_config("agad", C.ConstantStepDevice, update=C.UpdateParameters())


# ----------------------------------------------------------------------------------------------
# optional: the running aihwkit 1.1.0
# ----------------------------------------------------------------------------------------------

AIHWKIT_EXPRESSIONS = [
    f"build_config({name!r}, SoftBoundsDevice(dw_min=0.01), construction_seed=7)"
    for name in list(ALIASES) + ["SGD", "TTv2", "AGAD", "C-TTv2"]
] + [
    f"build_config({name!r}, ConstantStepDevice)" for name in ALIASES
] + [
    "build_config('sgd', ConstantStepDevice, n_devices=3, construction_seed=2, "
    "mapping=MappingParameter(max_input_size=256))",
    "build_config('sgd', LinearStepDevice(gamma_up=0.2), IOParameters(out_noise=0.0), "
    "UpdateParameters(desired_bl=9), n_devices=2)",
    "build_config('ttv2', ReRamESPresetDevice, PresetIOParameters, PresetUpdateParameters)",
    "build_config('c-ttv2', ReRamSBPresetDevice(subtract_symmetry_point=True), "
    "PresetIOParameters(out_noise=0.0), PresetUpdateParameters(desired_bl=20))",
    "build_config('agad', LinearStepDevice(gamma_up=0.1), IOParameters(out_noise=0.2), "
    "UpdateParameters(desired_bl=10))",
    "build_config('tt', ExpStepDevice, IOParameters(inp_bound=2.0, "
    "noise_management=NoiseManagementType.NONE), runtime=RuntimeParameter())",
    "build_config('mp', PowStepDevice(pow_gamma=2.0), up_parameters=UpdateParameters(res=0.1), "
    "construction_seed=3)",
]


UNKNOWN = "build_config('adam', ConstantStepDevice)"


@pytest.fixture(scope="module")
def aihwkit_trees():
    return run_aihwkit(AIHWKIT_EXPRESSIONS + [UNKNOWN])


def _namespace():
    import rpu.presets as P

    space = dict(vars(C))
    space.update({name: getattr(P, name) for name in P.__all__})
    return space


@needs_aihwkit
@pytest.mark.parametrize("expr", AIHWKIT_EXPRESSIONS)
def test_build_config_matches_aihwkit(expr, aihwkit_trees):
    mine = eval(expr, _namespace())  # noqa: S307
    assert_same_tree(tree(mine), aihwkit_trees[expr], expr)


@needs_aihwkit
def test_unknown_algorithm_fails_in_aihwkit_too(aihwkit_trees):
    assert aihwkit_trees[UNKNOWN] == "error:ArgumentError"
    with pytest.raises(ConfigError):
        eval(UNKNOWN, _namespace())  # noqa: S307
