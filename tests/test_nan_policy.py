"""The NaN/Inf policy (rpu.tiles._checks): non-finite inputs raise, weights stay finite.

* every array argument of forward / backward / update / set_weights with a NaN, +Inf or -Inf
  raises ValueError naming the argument, and the tile is unchanged;
* a pulsed tile's weights stay finite under any finite inputs and learning rate, however large;
* an exact (floating-point) step that would overflow the dtype is refused, tile unchanged;
* every float field of every config class refuses NaN with a ConfigError naming the field.
"""
import dataclasses
import math
import typing

import numpy as np
import pytest

import rpu
import rpu.config as config
from rpu.config import (ConstantStepDevice, ExpStepDevice, FloatingPointRPUConfig, IdealDevice,
                        InferenceRPUConfig, LinearStepDevice, MappingParameter, PowStepDevice,
                        PulseType, SingleRPUConfig, SoftBoundsDevice, UpdateParameters)
from rpu.errors import ConfigError

BAD = [math.nan, math.inf, -math.inf]


def _tiles():
    small = MappingParameter(max_input_size=2, max_output_size=2)
    return {
        "analog": lambda: rpu.AnalogTile(3, 4, SingleRPUConfig(device=ConstantStepDevice()), seed=1),
        "analog-bias-f64": lambda: rpu.AnalogTile(3, 4, bias=True, dtype=np.float64, seed=2),
        "fp": lambda: rpu.FloatingPointTile(3, 4, seed=3),
        "inference": lambda: rpu.InferenceTile(3, 4, bias=True, seed=4),
        "array": lambda: rpu.TileArray(3, 4, InferenceRPUConfig(mapping=small), bias=True, seed=5),
    }


def _snapshot(tile):
    return tile.get_weights(), repr(sorted(tile._state_meta().items()))


def _poisoned(shape, value, seed):
    a = np.random.default_rng(seed).uniform(-1, 1, size=shape)
    a[tuple(s - 1 for s in shape)] = value  # the very last element: a check must see all of it
    return a


@pytest.mark.parametrize("value", BAD, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("kind", list(_tiles()))
@pytest.mark.parametrize("method", ["forward", "backward", "update-x", "update-d", "set_weights"])
def test_non_finite_arguments_raise_and_change_nothing(kind, method, value):
    tile = _tiles()[kind]()
    w_cols = tile.get_weights().shape[1]
    before = _snapshot(tile)
    calls = {
        "forward": ("x", lambda: tile.forward(_poisoned((5, 4), value, 0))),
        "backward": ("d", lambda: tile.backward(_poisoned((5, 3), value, 1))),
        "update-x": ("x", lambda: tile.update(_poisoned((5, 4), value, 2), np.ones((5, 3)))),
        "update-d": ("d", lambda: tile.update(np.ones((5, 4)), _poisoned((5, 3), value, 3))),
        "set_weights": ("weights", lambda: tile.set_weights(_poisoned((3, w_cols), value, 4))),
    }
    name, call = calls[method]
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or Inf"):
        call()
    after = _snapshot(tile)
    assert np.array_equal(before[0], after[0]) and before[1] == after[1]


# Update management overflows in float64 for such values (aihwkit's formulas, kept as they are);
# what matters is that the weights do not.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("device", [ConstantStepDevice(), SoftBoundsDevice(), LinearStepDevice(),
                                    ExpStepDevice(), PowStepDevice()],
                         ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pulsed_weights_stay_finite_under_extreme_finite_inputs(device, dtype):
    tile = rpu.AnalogTile(5, 6, SingleRPUConfig(device=device), dtype=dtype, seed=11)
    big = float(np.finfo(dtype).max) / 4
    rng = np.random.default_rng(12)
    for lr in (1e-30, 1.0, 1e30, big):
        tile.set_learning_rate(lr)
        x = rng.uniform(-1, 1, size=(7, 6)) * big
        d = rng.uniform(-1, 1, size=(7, 5)) * big
        d[0] = np.finfo(dtype).tiny  # subnormal-sized gradients next to huge ones
        tile.update(x.astype(dtype), d.astype(dtype))
        w = tile.get_weights()
        assert np.isfinite(w).all()
        hidden = tile.get_hidden_parameters()
        assert np.all(w <= hidden["max_bound"]) and np.all(w >= hidden["min_bound"])
        y = tile.forward(x.astype(dtype))
        assert np.isfinite(y).all()


def _training_presets():
    import rpu.presets as presets

    names = []
    for name in sorted(presets.__all__):
        cfg = getattr(presets, name)
        if isinstance(cfg, type) and issubclass(cfg, (SingleRPUConfig, config.UnitCellRPUConfig,
                                                      config.DigitalRankUpdateRPUConfig)):
            names.append(name)
    return names


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", _training_presets())
def test_training_presets_stay_finite_under_extreme_finite_inputs(name):
    """Every training preset, every hidden parameter: huge finite inputs either train with finite
    state or are refused with the tile unchanged. (A mixed-precision preset's digital
    accumulator chi became NaN from inputs of 1e20.)"""
    import rpu.presets as presets

    tile = rpu.AnalogTile(5, 6, getattr(presets, name)(), seed=13)
    rng = np.random.default_rng(14)
    for scale, lr in ((1.0, 0.1), (1e20, 0.1), (1e30, 10.0), (1e-30, 10.0)):
        tile.set_learning_rate(lr)
        x = (rng.uniform(-1, 1, size=(4, 6)) * scale).astype(np.float32)
        d = (rng.uniform(-1, 1, size=(4, 5)) * scale).astype(np.float32)
        before = _snapshot(tile), tile.get_hidden_parameters()
        try:
            tile.update(x, d)
        except ValueError as exc:
            assert "overflow" in str(exc)
            assert np.array_equal(before[0][0], tile.get_weights())
            assert before[0][1] == _snapshot(tile)[1]
            for key, value in tile.get_hidden_parameters().items():
                np.testing.assert_array_equal(value, before[1][key], err_msg=key)
        assert np.isfinite(tile.get_weights()).all()
        for key, value in tile.get_hidden_parameters().items():
            assert np.isfinite(value).all(), f"{name}: {key} after inputs of {scale:g}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("columnwise", [False, True])
def test_inference_periphery_step_that_overflows_is_refused(columnwise):
    """Learned output scales, input range and digital bias step with the gradients of the last
    backward; from inputs of 1e20 the output-scale gradient is infinite, and the scales became
    Inf (so did the weights read through them). Now the update is refused before anything
    moves, and the tile trains on."""
    from rpu.config import InputRangeParameter, PrePostProcessingParameter

    cfg = config.InferenceRPUConfig(
        mapping=MappingParameter(learn_out_scaling=True, out_scaling_columnwise=columnwise,
                                 weight_scaling_omega=1.0),
        pre_post=PrePostProcessingParameter(input_range=InputRangeParameter(enable=True)))
    tile = rpu.InferenceTile(5, 6, cfg, bias=True, seed=1)
    tile.set_learning_rate(0.1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
    d = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    tile.forward(x), tile.backward(d), tile.update(x, d)
    tile.forward(x * 1e20), tile.backward(d * 1e20)
    before = _snapshot(tile), tile.get_learned_out_scales(), tile.get_periphery_gradients()
    with pytest.raises(ValueError, match="out_scaling_alpha overflows float32.*unchanged"):
        tile.update(x * 1e20, d * 1e20)
    assert np.array_equal(before[0][0], tile.get_weights()) and before[0][1] == _snapshot(tile)[1]
    np.testing.assert_array_equal(before[1], tile.get_learned_out_scales())
    assert tile.get_periphery_gradients().keys() == before[2].keys()
    tile.forward(x), tile.backward(d), tile.update(x, d)
    assert np.isfinite(tile.get_weights()).all() and np.isfinite(tile.get_learned_out_scales()).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_tile_array_bias_step_that_overflows_is_refused():
    """The digital bias of a TileArray steps with the summed errors of the last backward; from
    errors near float32's limit the step passed it, and the bias became Inf (with a
    RuntimeWarning from the cast). Now the update is refused before any tile moves."""
    array = rpu.TileArray(5, 7, InferenceRPUConfig(mapping=MappingParameter(max_input_size=3)),
                          bias=True, seed=2)
    array.set_learning_rate(1.0)
    x = np.ones((2, 7), np.float32)
    huge = np.full((2, 5), 3e38, np.float32)
    array.forward(x), array.backward(huge)
    before = array.get_weights()
    with pytest.raises(ValueError, match="the update of the bias overflows float32.*unchanged"):
        array.update(x, huge)
    np.testing.assert_array_equal(before, array.get_weights())
    d = np.ones((2, 5), np.float32)
    array.forward(x), array.backward(d), array.update(x, d)
    assert np.isfinite(array.get_weights()).all()


def _mixed_precision_array():
    from rpu.presets import MixedPrecisionReRamSBPreset

    cfg = MixedPrecisionReRamSBPreset()
    cfg.mapping = MappingParameter(max_input_size=3, max_output_size=0)
    return rpu.TileArray(5, 6, cfg, seed=1)


def _inference_array():
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=3, max_output_size=0,
                                                      learn_out_scaling=True))
    return rpu.TileArray(5, 6, cfg, seed=2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("make", [_mixed_precision_array, _inference_array],
                         ids=["mixed-precision", "inference-out-scaling"])
def test_tile_array_refused_in_a_later_tile_leaves_every_tile_as_it_was(make):
    """Only the second input block is huge, so the first tile steps before the second refuses
    (its digital state would overflow). The array is put back whole: it then trains on exactly
    as a twin that never saw the refused update. (The first tile of a mixed-precision array
    kept its step.)"""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
    d = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    huge_x = x.copy()
    huge_x[:, 3:] *= 1e20
    arrays = [make(), make()]
    for array in arrays:
        array.set_learning_rate(0.1)
        array.forward(x), array.backward(d), array.update(x, d)
    array, twin = arrays
    for a in arrays:  # (the same random draws on both)
        a.forward(huge_x), a.backward(d * 1e20)
    with pytest.raises(ValueError, match="overflow"):
        array.update(huge_x, d * 1e20)
    for a in arrays:
        a.forward(x), a.backward(d), a.update(x, d)
    np.testing.assert_array_equal(array.get_weights(), twin.get_weights())
    for col_a, col_t in zip(array.tiles, twin.tiles):
        for tile_a, tile_t in zip(col_a, col_t):
            h_a, h_t = tile_a.get_hidden_parameters(), tile_t.get_hidden_parameters()
            for key in h_t:
                np.testing.assert_array_equal(h_a[key], h_t[key], err_msg=key)
            assert _snapshot(tile_a)[1] == _snapshot(tile_t)[1]


@pytest.mark.parametrize("make", [
    lambda: rpu.FloatingPointTile(3, 4, seed=1),
    lambda: rpu.AnalogTile(3, 4, SingleRPUConfig(device=IdealDevice()), seed=2),
    lambda: rpu.InferenceTile(3, 4, seed=3),
    lambda: rpu.TileArray(3, 4, FloatingPointRPUConfig(mapping=MappingParameter(max_input_size=2)), seed=4),
], ids=["fp", "ideal", "inference", "array"])
def test_exact_step_that_overflows_is_refused(make):
    tile = make()
    tile.set_learning_rate(1.0)
    x = np.full((2, 4), 1e30, dtype=np.float32)
    x[:, :2] = 1e-10  # the first block of a TileArray steps finitely before the second overflows
    d = np.full((2, 3), 1e30, dtype=np.float32)
    before = _snapshot(tile)
    with pytest.raises(ValueError, match="overflows float32.*learning_rate"):
        tile.update(x, d)
    after = _snapshot(tile)
    assert np.array_equal(before[0], after[0]) and before[1] == after[1]
    tile.set_learning_rate(0.1)
    tile.update(np.ones((2, 4)), np.ones((2, 3)))  # still usable, and finite
    assert np.isfinite(tile.get_weights()).all()


def _none_with_device_array():
    cfg = SingleRPUConfig(device=ConstantStepDevice(w_max_dtod=0, w_min_dtod=0),
                          update=UpdateParameters(pulse_type=PulseType.NONE_WITH_DEVICE),
                          mapping=MappingParameter(max_output_size=2, max_input_size=0))
    return rpu.TileArray(4, 3, cfg, seed=5)


@pytest.mark.parametrize("make", [
    lambda: rpu.AnalogTile(4, 3, SingleRPUConfig(
        device=ConstantStepDevice(w_max_dtod=0, w_min_dtod=0),
        update=UpdateParameters(pulse_type=PulseType.NONE_WITH_DEVICE)),
        seed=1),
    _none_with_device_array], ids=["tile", "array"])
def test_none_with_device_step_with_infinite_lr_d_is_refused(make):
    """NONE_WITH_DEVICE clips each exact step to the device bounds, so a huge step saturates;
    but where -lr d itself overflowed, a zero input gave inf * 0 = NaN, which the CPU core's
    clip put on a bound and the GPU backend's kept as a NaN weight. Now it is refused (for an
    array: the second output block's, after the first has stepped; the array is put back)."""
    tile = make()
    tile.set_learning_rate(1e37)
    x = np.array([[1.0, 0.0, -0.5]], np.float32)
    d = np.array([[0.001, 0.001, 100.0, -100.0]], np.float32)
    before = _snapshot(tile)
    with pytest.raises(ValueError, match="learning_rate \\* d overflows float32.*unchanged"):
        tile.update(x, d)
    after = _snapshot(tile)
    assert np.array_equal(before[0], after[0]) and before[1] == after[1]
    tile.update(x, d * 1e-6)          # a finite lr d that saturates at the bounds is taken
    w = tile.get_weights()
    assert np.isfinite(w).all() and np.abs(w).max() <= 0.6 + 1e-6   # at the bounds
    assert (np.abs(w) > 0.6 - 1e-6).sum() >= 4


def _float_fields():
    from rpu.config._base import ConfigBase
    cases = []
    for name in sorted(config.__all__):
        cls = getattr(config, name)
        if not (isinstance(cls, type) and issubclass(cls, ConfigBase) and dataclasses.is_dataclass(cls)):
            continue
        try:
            cls()
        except Exception:  # classes that need arguments are covered through their users
            continue
        hints = typing.get_type_hints(cls)
        for fld in dataclasses.fields(cls):
            tp = hints.get(fld.name)
            if tp is float or tp == typing.Optional[float]:
                cases.append((cls, fld.name))
    return cases


FLOAT_FIELDS = _float_fields()


def test_there_are_many_float_fields():
    assert len(FLOAT_FIELDS) > 100
    assert len({cls for cls, _ in FLOAT_FIELDS}) > 20


@pytest.mark.parametrize("cls, field", FLOAT_FIELDS, ids=[f"{c.__name__}.{f}" for c, f in FLOAT_FIELDS])
def test_config_float_field_refuses_nan(cls, field):
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.{field} = nan is not allowed"):
        cls(**{field: math.nan})
    obj = cls()  # a NaN written after construction is caught by validate()
    object.__setattr__(obj, field, math.nan)
    with pytest.raises(ConfigError, match=rf"\.{field} = nan"):
        obj.validate()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("algorithm", ["ttv2", "c-ttv2", "agad"])
def test_transfer_buffer_step_past_the_dtype_is_refused(algorithm):
    """A huge learning rate scales the transfer's reads into the buffer past float32: the
    buffer held Inf and NaN after an accepted update, and the saved tile could not be loaded
    (TileFileError). Now the update is refused before anything moves."""
    from rpu.serialization import from_bytes, to_bytes

    tile = rpu.AnalogTile(3, 5, config.build_config(algorithm, SoftBoundsDevice), seed=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    d = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    tile.set_learning_rate(1e37)
    before = to_bytes(tile)
    with pytest.raises(ValueError, match="buffer scaled by .* past what float32 holds.*unchanged"):
        tile.update(x, d)
    assert to_bytes(tile) == before
    tile.set_learning_rate(0.1)
    tile.update(x, d)
    assert all(np.isfinite(v).all() for v in tile.get_hidden_parameters().values())
    from_bytes(to_bytes(tile))
