"""The list of bad inputs: every public entry point refuses them clearly and changes nothing.

Each case names the entry point, the bad argument, the error type, and a pattern that the
message must match (the argument's name, or for configs the dotted field path). For calls on an
existing tile, the tile's whole saved state (weights, hidden parameters, periphery draws, RNG
counter, learning rate) must be the same after the failed call as before it.
"""
import math

import numpy as np
import pytest

import rpu
from rpu import inference
from rpu.config import (ConstantStepDevice, FloatingPointRPUConfig, InferenceRPUConfig,
                        IOParameters, MappingParameter, PCMLikeNoiseModel, SingleRPUConfig,
                        SoftBoundsDevice, UpdateParameters)
from rpu.config import SinglePairConductanceConverter
from rpu.errors import ConfigError, TileFileError

NAN, INF = math.nan, math.inf


def _x(n, size, dtype=np.float32):
    return np.random.default_rng(3).uniform(-1, 1, size=(n, size)).astype(dtype)


def _analog():
    cfg = SingleRPUConfig(device=SoftBoundsDevice(), forward=IOParameters(out_noise=0.01))
    return rpu.AnalogTile(4, 3, cfg, seed=7)


def _analog_bias():
    return rpu.AnalogTile(4, 3, SingleRPUConfig(device=ConstantStepDevice()), bias=True, seed=8)


def _fp():
    return rpu.FloatingPointTile(4, 3, seed=9)


def _inference():
    cfg = InferenceRPUConfig()
    cfg.pre_post.input_range.enable = True
    return rpu.InferenceTile(4, 3, cfg, seed=10)


def _array():
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=2, max_output_size=3))
    return rpu.TileArray(4, 3, cfg, seed=11)


TILES = {"analog": _analog, "analog_bias": _analog_bias,
         "analog_trans": lambda: rpu.AnalogTile(4, 3, bias=True, in_trans=True, seed=12), "fp": _fp, "inference": _inference,
         "array": _array}


def _state(tile):
    """Everything rpu.save writes, as comparable Python/NumPy values."""
    import json
    arrays = {k: np.array(v, copy=True) for k, v in tile._state_arrays().items()}
    return json.dumps(tile._state_meta(), sort_keys=True, default=str), arrays


def _same_state(a, b):
    if a[0] != b[0] or a[1].keys() != b[1].keys():
        return False
    return all(np.array_equal(a[1][k], b[1][k], equal_nan=True) for k in a[1])


# (id, tile kind, call(tile), error type, message pattern)
TILE_CASES = [
    # forward / backward
    ("forward-wrong-size", "analog", lambda t: t.forward(_x(2, 4)), ValueError, r"^x must have shape"),
    ("forward-nan", "analog", lambda t: t.forward(np.full((2, 3), NAN)), ValueError, r"^x contains NaN"),
    ("forward-inf", "fp", lambda t: t.forward(np.full((2, 3), INF)), ValueError, r"^x contains NaN or Inf"),
    ("forward-int-dtype", "analog", lambda t: t.forward(np.ones((2, 3), dtype=np.int64)), TypeError, r"^x must be a floating"),
    ("forward-bool-dtype", "fp", lambda t: t.forward(np.ones((2, 3), dtype=bool)), TypeError, r"^x must be a real floating"),
    ("forward-complex", "analog", lambda t: t.forward(np.ones((2, 3), dtype=complex)), TypeError, r"^x must be a real floating"),
    ("forward-strings", "analog", lambda t: t.forward([["a", "b", "c"]]), TypeError, r"^x must be a real floating"),
    ("forward-scalar", "analog", lambda t: t.forward(1.0), ValueError, r"^x must have at least one dimension"),
    ("forward-ragged", "fp", lambda t: t.forward([[1.0, 2.0, 3.0], [1.0]]), TypeError, r"^x must be an array"),
    ("forward-overflow-f32", "analog", lambda t: t.forward(np.full((1, 3), 1e300)), ValueError, r"^x has values beyond"),
    ("forward-in-trans-axis", "analog_trans", lambda t: t.forward(_x(2, 3)),
     ValueError, r"^x must have shape \(3, \.\.\.\)"),
    ("inference-forward-nan", "inference", lambda t: t.forward(np.full((2, 3), NAN), is_test=True), ValueError, r"^x contains NaN"),
    ("backward-wrong-size", "analog", lambda t: t.backward(_x(2, 3)), ValueError, r"^d must have shape"),
    ("backward-nan", "analog_bias", lambda t: t.backward(np.full((2, 4), NAN)), ValueError, r"^d contains NaN"),
    ("backward-int", "inference", lambda t: t.backward(np.ones((2, 4), dtype=np.int32)), TypeError, r"^d must be a floating"),
    ("array-forward-wrong-size", "array", lambda t: t.forward(_x(2, 5)), ValueError, r"^x must have shape"),
    ("array-backward-nan", "array", lambda t: t.backward(np.full((2, 4), NAN)), ValueError, r"^d contains NaN"),
    # update
    ("update-rows-mismatch", "analog", lambda t: t.update(_x(2, 3), _x(3, 4)), ValueError, r"x and d must hold the same number"),
    ("update-x-nan", "analog", lambda t: t.update(np.full((2, 3), NAN), _x(2, 4)), ValueError, r"^x contains NaN"),
    ("update-d-inf", "analog_bias", lambda t: t.update(_x(2, 3), np.full((2, 4), -INF)), ValueError, r"^d contains NaN or Inf"),
    ("update-d-wrong-size", "fp", lambda t: t.update(_x(2, 3), _x(2, 3)), ValueError, r"^d must have shape"),
    ("update-x-nan-late-row", "analog", lambda t: t.update(np.vstack([_x(5, 3), [[0, NAN, 0]]]), _x(6, 4)),
     ValueError, r"^x contains NaN"),
    ("inference-update-nan", "inference", lambda t: t.update(np.full((2, 3), NAN), _x(2, 4)), ValueError, r"^x contains NaN"),
    ("array-update-d-nan", "array", lambda t: t.update(_x(2, 3), np.full((2, 4), NAN)), ValueError, r"^d contains NaN"),
    ("update-indexed-bad-indices", "analog", lambda t: t.update_indexed(_x(2, 5), _x(2, 4).reshape(2, 1, 4), np.array([[0, 1, 9]])),
     ValueError, r"^indices must lie in"),
    ("update-indexed-float-indices", "analog", lambda t: t.update_indexed(_x(2, 5), _x(2, 4).reshape(2, 1, 4), np.array([[0.0, 1.0, 2.0]])),
     ValueError, r"^indices must be an integer array"),
    ("update-indexed-d-shape", "analog", lambda t: t.update_indexed(_x(2, 5), _x(2, 4), np.array([[0, 1, 2]])),
     ValueError, r"^d_input must have shape"),
    # weights
    ("set-weights-shape", "analog", lambda t: t.set_weights(np.zeros((3, 4))), ValueError, r"^weights must have shape \(4, 3\)"),
    ("set-weights-bias-shape", "analog_bias", lambda t: t.set_weights(np.zeros((4, 3))), ValueError, r"^weights must have shape \(4, 4\)"),
    # (a finite float64 past float32's range said "contains NaN or Inf", with a RuntimeWarning)
    ("set-weights-beyond-f32", "analog", lambda t: t.set_weights(np.full((4, 3), 1e300)), ValueError,
     r"^weights has values beyond the range of the tile's dtype float32"),
    ("set-weights-nan", "fp", lambda t: t.set_weights(np.full((4, 3), NAN)), ValueError, r"^weights contains NaN"),
    ("set-weights-strings", "analog", lambda t: t.set_weights(np.full((4, 3), "w")), TypeError, r"^weights must be a real numeric"),
    ("inference-set-weights-inf", "inference", lambda t: t.set_weights(np.full((4, 3), INF)), ValueError, r"^weights contains NaN"),
    ("inference-set-weights-omega-nan", "inference", lambda t: t.set_weights(np.ones((4, 3)), weight_scaling_omega=NAN),
     ValueError, r"^weight_scaling_omega must be a finite"),
    ("array-set-weights-shape", "array", lambda t: t.set_weights(np.zeros((4, 4))), ValueError, r"^weights must have shape"),
    ("uniform-random-reversed", "analog", lambda t: t.set_weights_uniform_random(1.0, -1.0), ValueError, r"^bmin must not exceed bmax"),
    ("uniform-random-nan", "fp", lambda t: t.set_weights_uniform_random(NAN, 1.0), ValueError, r"^bmin must be a finite"),
    # beyond float32 the draw became Inf - Inf = NaN weights (or a numpy TypeError for a big int)
    ("uniform-random-range-f32", "fp", lambda t: t.set_weights_uniform_random(-1e300, 1e300), ValueError,
     r"^bmin and bmax must span a range the tile's float32 weights can hold"),
    ("uniform-random-width-f32", "analog", lambda t: t.set_weights_uniform_random(-3e38, 3e38), ValueError,
     r"^bmin and bmax must span a range"),
    ("uniform-random-huge-int", "analog", lambda t: t.set_weights_uniform_random(-1, 10 ** 400), ValueError,
     r"^bmax must be a finite number"),
    ("hidden-missing-names", "analog", lambda t: t.set_hidden_parameters({"max_bound": np.ones((4, 3))}), KeyError, r"hidden parameter names"),
    ("hidden-nan", "analog", lambda t: t.set_hidden_parameters({k: (np.full_like(v, NAN) if k == "max_bound" else v)
                                                                  for k, v in t.get_hidden_parameters().items()}),
     ValueError, r"hidden parameter 'max_bound' contains NaN"),
    ("hidden-not-dict", "analog", lambda t: t.set_hidden_parameters([1, 2]), TypeError, r"^params must be a dict"),
    ("forward-params-nan", "analog", lambda t: t.set_forward_parameters({"out_nonlinearity_factor": np.array(NAN)}),
     ValueError, r"^forward parameter 'out_nonlinearity_factor' contains NaN"),
    ("inference-set-scales-inf", "inference", lambda t: t.set_scales(np.full(4, INF)), ValueError, r"^scales must be non-zero finite"),
    ("forward-params-unknown-key", "analog", lambda t: t.set_forward_parameters({"bogus": np.ones(4)}), KeyError, r"bogus"),
    # scalars
    ("lr-negative", "analog", lambda t: t.set_learning_rate(-0.1), ValueError, r"^learning_rate must be >= 0"),
    ("lr-nan", "fp", lambda t: t.set_learning_rate(NAN), ValueError, r"^learning_rate must be a finite"),
    ("lr-string", "analog", lambda t: t.set_learning_rate("0.1"), ValueError, r"^learning_rate must be a finite"),
    ("array-lr-inf", "array", lambda t: t.set_learning_rate(INF), ValueError, r"^learning_rate must be a finite"),
    ("drift-negative", "analog", lambda t: t.drift_weights(-1.0), ValueError, r"^delta_t must be >= 0"),
    ("decay-nan", "analog", lambda t: t.decay_weights(NAN), ValueError, r"^alpha must be a finite"),
    ("reset-prob", "analog", lambda t: t.reset_columns(0, 1, reset_prob=2.0), ValueError, r"^reset_prob must be in"),
    ("reset-num-columns", "analog", lambda t: t.reset_columns(0, 10), ValueError, r"^num_columns must be in"),
    ("inference-drift-negative", "inference", lambda t: t.drift_weights(-5.0), ValueError, r"^t_inference must be >= 0"),
    ("inference-drift-nan", "inference", lambda t: t.drift_weights(NAN), ValueError, r"^t_inference must be a finite"),
    ("array-drift-inf", "array", lambda t: t.drift_weights(INF), ValueError, r"^t_inference must be a finite"),
    ("inference-program-bad-model", "inference", lambda t: t.program_weights(noise_model="pcm"), TypeError, r"^noise_model must be"),
    ("inference-program-invalid-model", "inference", lambda t: t.program_weights(noise_model=_broken_pcm()),
     ConfigError, r"g_max"),
    ("inference-scales-zero", "inference", lambda t: t.set_mapping_scales([0.0]), ValueError, r"^scales must be non-zero"),
    ("inference-scales-size", "inference", lambda t: t.set_mapping_scales(np.ones(3)), ValueError, r"^scales must be non-zero"),
    ("inference-input-range-zero", "inference", lambda t: t.set_input_range(0.0), ValueError, r"^value must be non-zero"),
    ("inference-learned-scales-off", "inference", lambda t: t.set_learned_out_scales(1.0), ValueError, r"learn_out_scaling"),
]


def _broken_pcm():
    model = PCMLikeNoiseModel()
    model.g_max = NAN  # mutated after construction: program_weights validates again
    return model


@pytest.mark.parametrize("case", TILE_CASES, ids=[c[0] for c in TILE_CASES])
def test_tile_call_refused_and_tile_unchanged(case):
    _, kind, call, error, pattern = case
    tile = TILES[kind]()
    before = _state(tile)
    with pytest.raises(error, match=pattern):
        call(tile)
    assert _same_state(before, _state(tile)), "a refused call changed the tile"


# (id, call, error type, message pattern): constructors, configs, files, rpu.inference
def _w(shape=(4, 3), fill=None):
    w = np.random.default_rng(5).uniform(-1, 1, size=shape)
    if fill is not None:
        w.flat[0] = fill
    return w


OTHER_CASES = [
    ("tile-out-size-zero", lambda: rpu.AnalogTile(0, 3), ValueError, r"^out_size must be a positive integer"),
    ("tile-in-size-float", lambda: rpu.FloatingPointTile(3, 2.5), ValueError, r"^in_size must be a positive integer"),
    ("tile-in-size-bool", lambda: rpu.InferenceTile(3, True), ValueError, r"^in_size must be a positive integer"),
    ("tile-dtype-int", lambda: rpu.AnalogTile(3, 3, dtype=np.int32), TypeError, r"^dtype must be numpy.float32"),
    ("tile-dtype-float16", lambda: rpu.FloatingPointTile(3, 3, dtype=np.float16), TypeError, r"^dtype must be numpy.float32"),
    ("tile-bias-string", lambda: rpu.AnalogTile(3, 3, bias="yes"), TypeError, r"^bias must be True or False"),
    ("tile-out-trans-int", lambda: rpu.TileArray(3, 3, out_trans=1), TypeError, r"^out_trans must be True or False"),
    ("tile-wrong-config", lambda: rpu.AnalogTile(3, 3, FloatingPointRPUConfig()), TypeError, r"^rpu_config of AnalogTile must be .* got FloatingPointRPUConfig \(a config for FloatingPointTile\)\.$"),
    ("fp-wrong-config", lambda: rpu.FloatingPointTile(3, 3, SingleRPUConfig()), TypeError, r"^rpu_config of FloatingPointTile .* \(a config for AnalogTile\)\.$"),
    ("array-wrong-config", lambda: rpu.TileArray(3, 3, rpu_config=object()), TypeError, r"^rpu_config must be an rpu config"),
    ("tile-backend", lambda: rpu.AnalogTile(3, 3, backend="tpu"), ValueError, r"^backend must be one of"),
    ("tile-seed-negative", lambda: rpu.AnalogTile(3, 3, seed=-1), ValueError, r"^seed must be a non-negative"),
    ("tile-seed-float", lambda: rpu.FloatingPointTile(3, 3, seed=1.5), TypeError, r"^seed must be a non-negative"),
    ("tile-too-large", lambda: rpu.AnalogTile(10**6, 10**6), rpu.TileMemoryError, r"^AnalogTile\(1000000, 1000000\) needs about"),
    # (a size past the float range was an OverflowError from the memory message's arithmetic)
    ("tile-size-past-blas", lambda: rpu.InferenceTile(10**400, 3), ValueError, r"^out_size must be at most 2147483647"),
    ("array-size-past-blas", lambda: rpu.TileArray(3, 2**31), ValueError, r"^in_size must be at most 2147483647"),
    # configs: NaN, negative, out of range, unknown names
    ("config-dw-min-nan", lambda: ConstantStepDevice(dw_min=NAN), ConfigError, r"ConstantStepDevice\.dw_min = nan"),
    ("config-dw-min-negative", lambda: SoftBoundsDevice(dw_min=-0.01), ConfigError, r"SoftBoundsDevice\.dw_min"),
    ("config-bounds-reversed", lambda: ConstantStepDevice(w_min=1.0, w_max=-1.0), ConfigError, r"w_min|w_max"),
    ("config-io-nan", lambda: IOParameters(inp_bound=NAN), ConfigError, r"IOParameters\.inp_bound = nan"),
    ("config-io-noise-negative", lambda: IOParameters(out_noise=-0.1), ConfigError, r"IOParameters\.out_noise"),
    ("config-enum-unknown", lambda: IOParameters(noise_management="bogus"), ConfigError, r"IOParameters\.noise_management = 'bogus'"),
    ("config-update-bl-zero", lambda: UpdateParameters(desired_bl=0), ConfigError, r"UpdateParameters\.desired_bl"),
    ("config-update-bl-past-max", lambda: UpdateParameters(desired_bl=65537), ConfigError,
     r"UpdateParameters\.desired_bl = 65537 is not allowed: expected an integer >= 1 and <= 65536"),
    # (an integer past the float range was a bare OverflowError)
    ("config-float-huge-int", lambda: SoftBoundsDevice(dw_min=10**400), ConfigError, r"SoftBoundsDevice\.dw_min = 1000"),
    ("config-nested-nan", lambda: SingleRPUConfig(forward=IOParameters(out_res=NAN)), ConfigError, r"out_res = nan"),
    ("config-noise-model-nan", lambda: PCMLikeNoiseModel(prog_noise_scale=NAN), ConfigError, r"prog_noise_scale = nan"),
    ("config-mutated-nan", lambda: rpu.AnalogTile(3, 3, _mutated_config()), ConfigError, r"dw_min = nan"),
    # finite, but Inf in the tile's float32 (they passed, and later draws or outputs were Inf)
    ("config-beyond-f32", lambda: rpu.AnalogTile(3, 3, SingleRPUConfig(device=SoftBoundsDevice(w_max=1e300))),
     ConfigError, r"^SingleRPUConfig\.device\.w_max = 1e\+300 is beyond the range of the tile's dtype float32"),
    ("config-beyond-f32-nested", lambda: rpu.InferenceTile(3, 3, InferenceRPUConfig(forward=IOParameters(out_scale=1e39))),
     ConfigError, r"^InferenceRPUConfig\.forward\.out_scale = 1e\+39 is beyond"),
    ("config-wrong-type", lambda: SingleRPUConfig(device=IOParameters()), ConfigError, r"SingleRPUConfig\.device"),
    # files
    ("save-not-a-tile", lambda: rpu.save(object(), "/tmp/never.npz"), TypeError, r"^tile must be an rpu tile"),
    ("load-missing", lambda: rpu.load("/nonexistent/dir/tile.npz"), FileNotFoundError, r"no tile file at"),
    ("load-directory", lambda: rpu.load("/"), TileFileError, r"not a readable rpu tile file"),
    # rpu.inference functions
    ("inference-weights-nan", lambda: inference.apply_programming_noise(PCMLikeNoiseModel(), _w(fill=NAN), 1, 1),
     ValueError, r"weights must be finite"),
    ("inference-weights-1d", lambda: inference.apply_programming_noise(PCMLikeNoiseModel(), np.ones(3), 1, 1),
     ValueError, r"weights must be a 2-D array"),
    ("inference-key-negative", lambda: inference.apply_programming_noise(PCMLikeNoiseModel(), _w(), -1, 1),
     ValueError, r"^key must be in"),
    ("inference-op-float", lambda: inference.apply_programming_noise(PCMLikeNoiseModel(), _w(), 1, 0.5),
     TypeError, r"^op must be a non-negative integer"),
    ("inference-t-negative", lambda: inference.apply_drift_noise(PCMLikeNoiseModel(), _w(), [np.zeros((4, 3))] * 2, -1.0, 1, 1),
     ValueError, r"t_inference must be"),
    ("inference-model-type", lambda: inference.apply_noise("pcm", _w(), 1.0, 1, 1), TypeError, r"noise_model"),
    ("converter-weights-nan", lambda: inference.convert_to_conductances(SinglePairConductanceConverter(), _w(fill=INF)),
     ValueError, r"weights must be finite"),
]


def test_config_values_beyond_float32_are_fine_for_float64_tiles():
    tile = rpu.AnalogTile(3, 3, SingleRPUConfig(device=SoftBoundsDevice(w_max=1e300)), dtype=np.float64)
    assert float(tile.get_hidden_parameters()["max_bound"].min()) > 1e299


def _mutated_config():
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    cfg.device.dw_min = NAN  # mutated after construction: the tile validates its copy
    return cfg


@pytest.mark.parametrize("case", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_call_refused(case):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern):
        call()


def test_the_list_is_long_enough():
    assert len(TILE_CASES) + len(OTHER_CASES) >= 40
    assert len({c[0] for c in TILE_CASES + OTHER_CASES}) == len(TILE_CASES) + len(OTHER_CASES)
