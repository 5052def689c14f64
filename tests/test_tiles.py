"""The NumPy tile API: shapes, layouts, dtypes, bias, checks at the boundary, seeds, threads."""
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import rpu
from rpu.config import (ConstantStepDevice, FloatingPointRPUConfig, IdealDevice, IOParameters,
                        SingleRPUConfig)
from rpu.errors import ConfigError

RNG = np.random.default_rng(0)


def quiet_config(**fwd):
    """Analog config with every noise source off (exact up to quantisation), on ideal devices
    (no device bounds, so weights are stored as set)."""
    io = dict(out_noise=0.0, inp_res=-1, out_res=-1)
    io.update(fwd)
    return SingleRPUConfig(device=IdealDevice(), forward=IOParameters(**io), backward=IOParameters(**io))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_point_tile_is_exact_gemm(dtype):
    tile = rpu.FloatingPointTile(7, 5, dtype=dtype, seed=3)
    w = RNG.normal(size=(7, 5))
    tile.set_weights(w)
    x = RNG.normal(size=(4, 5))
    d = RNG.normal(size=(4, 7))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    y = tile.forward(x)
    assert y.dtype == dtype and y.shape == (4, 7)
    np.testing.assert_allclose(y, x @ w.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(tile.backward(d), d @ w, rtol=tol, atol=tol)


def test_default_weights_are_uniform_in_plus_minus_0_1():
    w = rpu.AnalogTile(200, 100, seed=1).get_weights()
    assert w.shape == (200, 100) and w.dtype == np.float32
    assert -0.1 <= w.min() < -0.099 and 0.099 < w.max() < 0.1
    assert abs(w.mean()) < 0.002


def test_leading_batch_dimensions_and_vectors():
    tile = rpu.AnalogTile(3, 4, quiet_config(), dtype=np.float64, seed=2)
    x = RNG.uniform(-1, 1, size=(2, 5, 4))
    y = tile.forward(x)
    assert y.shape == (2, 5, 3)
    np.testing.assert_allclose(y.reshape(-1, 3), tile.forward(x.reshape(-1, 4)))
    assert tile.forward(x[0, 0]).shape == (3,)
    assert tile.backward(RNG.normal(size=(2, 5, 3))).shape == (2, 5, 4)


def test_in_trans_and_out_trans_move_the_feature_axis():
    cfg = quiet_config()
    plain = rpu.AnalogTile(3, 4, cfg, dtype=np.float64, seed=5)
    trans = rpu.AnalogTile(3, 4, cfg, dtype=np.float64, seed=5, in_trans=True, out_trans=True)
    trans.set_weights(plain.get_weights())
    x = RNG.uniform(-1, 1, size=(6, 4))
    y = trans.forward(x.T)
    assert y.shape == (3, 6)
    np.testing.assert_allclose(y, plain.forward(x).T)
    d = RNG.uniform(-1, 1, size=(6, 3))
    np.testing.assert_allclose(trans.backward(d.T), plain.backward(d).T)
    with pytest.raises(ValueError, match=r"x must have shape \(4, \.\.\.\)"):
        trans.forward(x)


def test_analog_bias_column():
    tile = rpu.AnalogTile(3, 4, quiet_config(), bias=True, dtype=np.float64, seed=4)
    w = tile.get_weights()
    assert w.shape == (3, 5) and tile.get_x_size() == 5 and tile.get_d_size() == 3
    w = RNG.uniform(-0.5, 0.5, size=(3, 5))
    tile.set_weights(w)
    x = RNG.uniform(-0.5, 0.5, size=(8, 4))
    # the constant 1 goes through noise management with the other inputs: max|x| <= 1 here
    np.testing.assert_allclose(tile.forward(x), x @ w[:, :4].T + w[:, 4], rtol=1e-12, atol=1e-12)
    z = tile.backward(np.ones((8, 3)))
    assert z.shape == (8, 4)
    np.testing.assert_allclose(z, np.ones((8, 3)) @ w[:, :4], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(3, 5\).*bias"):
        tile.set_weights(np.zeros((3, 4)))


@pytest.mark.parametrize("bad, exc, words", [
    (np.zeros((2, 5), np.float32), ValueError, ["x", "(..., 4)", "(2, 5)"]),
    (np.float32(1.0), ValueError, ["x", "scalar"]),
    (np.zeros((2, 4), np.int64), TypeError, ["x", "int64"]),
    (np.zeros((2, 4), bool), TypeError, ["x", "bool"]),
    (np.zeros((2, 4), complex), TypeError, ["x", "complex"]),
    (np.array([[0, np.nan, 0, 0]], np.float32), ValueError, ["x", "NaN"]),
    (np.array([[0, np.inf, 0, 0]]), ValueError, ["x", "Inf"]),
    ("abc", TypeError, ["x"]),
])
def test_forward_rejects_bad_inputs_and_keeps_state(bad, exc, words):
    tile = rpu.AnalogTile(3, 4, seed=1)
    before = tile.get_weights()
    op_before = tile._op_counter
    with pytest.raises(exc) as info:
        tile.forward(bad)
    for w in words:
        assert w in str(info.value)
    assert np.array_equal(before, tile.get_weights()) and tile._op_counter == op_before


def test_backward_and_set_weights_checks():
    tile = rpu.AnalogTile(3, 4, seed=1)
    with pytest.raises(ValueError, match=r"d must have shape \(\.\.\., 3\)"):
        tile.backward(np.zeros((2, 4), np.float32))
    w = tile.get_weights()
    with pytest.raises(ValueError, match=r"weights must have shape \(3, 4\)"):
        tile.set_weights(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="weights contains NaN"):
        tile.set_weights(np.full((3, 4), np.nan))
    assert np.array_equal(w, tile.get_weights())


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(out_size=0, in_size=3), ValueError, "out_size"),
    (dict(out_size=3, in_size=2.5), ValueError, "in_size"),
    (dict(out_size=3, in_size=3, dtype=np.float16), TypeError, "dtype"),
    (dict(out_size=3, in_size=3, dtype=np.int32), TypeError, "dtype"),
    (dict(out_size=3, in_size=3, seed=-5), ValueError, "seed"),
    (dict(out_size=3, in_size=3, bias=1), TypeError, "bias"),
    (dict(out_size=3, in_size=3, backend="tpu"), ValueError, "backend"),
    (dict(out_size=3, in_size=3, backend="cuda"), RuntimeError, "cuda"),
    (dict(out_size=3, in_size=3, rpu_config=FloatingPointRPUConfig()), TypeError, "SingleRPUConfig"),
])
def test_constructor_checks(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        rpu.AnalogTile(**kwargs)


def test_invalid_io_configs_raise_config_error():
    with pytest.raises(ConfigError, match="inp_bound"):
        rpu.AnalogTile(3, 3, SingleRPUConfig(forward=IOParameters(inp_bound=2.0)))
    with pytest.raises(ConfigError, match="bound_management"):
        rpu.AnalogTile(3, 3, SingleRPUConfig(forward=IOParameters(bound_management="Shift")))
    cfg = SingleRPUConfig()
    cfg.forward.out_noise = -1.0  # mutated after construction: the tile re-validates
    with pytest.raises(ConfigError, match="out_noise"):
        rpu.AnalogTile(3, 3, cfg)


def test_tile_copies_its_config():
    cfg = SingleRPUConfig()
    tile = rpu.AnalogTile(3, 3, cfg, seed=0)
    cfg.forward.out_noise = 0.5
    assert tile.rpu_config.forward.out_noise == 0.06


def test_same_seed_same_draws_different_seed_different():
    x = RNG.uniform(-1, 1, size=(10, 16)).astype(np.float32)
    a, b, c = (rpu.AnalogTile(8, 16, seed=s) for s in (11, 11, 12))
    assert np.array_equal(a.get_weights(), b.get_weights())
    assert not np.array_equal(a.get_weights(), c.get_weights())
    ya, yb = a.forward(x), b.forward(x)
    assert np.array_equal(ya, yb)
    assert not np.array_equal(ya, a.forward(x))  # noise is redrawn on every call


def test_seed_none_is_recorded_and_replays():
    a = rpu.AnalogTile(4, 4)
    b = rpu.AnalogTile(4, 4, seed=a.seed)
    x = np.ones((3, 4), np.float32)
    assert a.seed != rpu.AnalogTile(4, 4).seed
    assert np.array_equal(a.forward(x), b.forward(x))


def test_pulsed_devices_clip_set_weights_to_their_bounds():
    tile = rpu.AnalogTile(30, 20, SingleRPUConfig(device=ConstantStepDevice()), seed=0)
    tile.set_weights(np.full((30, 20), 5.0))
    w = tile.get_weights()
    hidden = tile.get_hidden_parameters()
    np.testing.assert_array_equal(w, hidden["max_bound"])
    assert 0.2 < w.mean() < 1.0 and w.std() > 0.05  # w_max 0.6 with a 30 % device-to-device spread


def test_set_weights_uniform_random():
    tile = rpu.AnalogTile(50, 40, SingleRPUConfig(device=IdealDevice()), seed=0)
    tile.set_weights_uniform_random(-0.3, 0.7)
    w = tile.get_weights()
    assert w.min() >= -0.3 and w.max() < 0.7 and abs(w.mean() - 0.2) < 0.02
    with pytest.raises(ValueError, match="bmin"):
        tile.set_weights_uniform_random(1.0, 0.0)
    with pytest.raises(ValueError, match="bmax"):
        tile.set_weights_uniform_random(0.0, np.nan)


def test_learning_rate():
    tile = rpu.AnalogTile(2, 2)
    assert tile.get_learning_rate() == 0.1
    tile.set_learning_rate(0.01)
    assert tile.get_learning_rate() == 0.01
    with pytest.raises(ValueError, match="learning_rate"):
        tile.set_learning_rate(-1)


def test_brief_info():
    info = rpu.AnalogTile(3, 4, bias=True, seed=9).get_brief_info()
    for word in ("AnalogTile", "out_size=3", "in_size=4", "bias=True", "float32", "ConstantStepDevice", "seed=9"):
        assert word in info


def _run_with_threads(n, dtype):
    with threadpool_limits(limits=n, user_api="openmp"):
        cfg = SingleRPUConfig(forward=IOParameters(inp_noise=0.01, inp_sto_round=True, out_sto_round=True,
                                                   w_noise=0.01, w_noise_type="AdditiveConstant"))
        tile = rpu.AnalogTile(130, 70, cfg, dtype=dtype, seed=77)
        x = np.random.default_rng(1).uniform(-3, 3, size=(64, 70))
        d = np.random.default_rng(2).uniform(-1, 1, size=(64, 130))
        return tile.get_weights(), tile.forward(x), tile.backward(d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_the_thread_count(dtype):
    w1, y1, z1 = _run_with_threads(1, dtype)
    w2, y2, z2 = _run_with_threads(2, dtype)
    assert np.array_equal(w1, w2)
    # random draws are identical; BLAS may sum a split GEMM in another order, so outputs agree
    # to the last bits of the accumulation (and mostly exactly)
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(z1, z2, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_forward_parameters_get_and_set():
    cfg = SingleRPUConfig(forward=IOParameters(out_noise_std=1.0, inp_res=-1, out_res=-1))
    tile = rpu.AnalogTile(2, 3, cfg, dtype=np.float64, seed=1)
    params = tile.get_forward_parameters()
    assert params["out_noise_values"].shape == (2,)
    tile.set_forward_parameters({"out_noise_values": np.array([0.123, 0.0])})
    x = np.full((4000, 3), 1.0)  # max|x| = 1: no noise-management rescale of the noise
    y = tile.forward(x)
    assert np.all(y[:, 1] == y[0, 1])      # noise-free output line
    assert abs(np.std(y[:, 0]) - 0.123) < 0.123 * 5 / np.sqrt(2 * 4000)
    with pytest.raises(ValueError, match="shape"):
        tile.set_forward_parameters({"out_noise_values": np.zeros(3)})
    with pytest.raises(KeyError, match="unknown"):
        tile.set_forward_parameters({"bogus": np.zeros(2)})
    assert tile.get_backward_parameters()["out_nonlinearity_factor"] == 1.0


@pytest.mark.parametrize("field, edit", [
    ("mapping.weight_scaling_omega = 0.8", lambda c: setattr(c.mapping, "weight_scaling_omega", 0.8)),
    ("mapping.learn_out_scaling = True", lambda c: setattr(c.mapping, "learn_out_scaling", True)),
    ("pre_post.input_range.enable = True",
     lambda c: setattr(c.pre_post.input_range, "enable", True)),
    ("pre_post.periph_quant.n_bits = 4", lambda c: setattr(
        c, "pre_post", rpu.config.PrePostProcessingParameterQuant(
            periph_quant=rpu.config.PeripheryQuantizationParameter(n_bits=4)))),
])
@pytest.mark.parametrize("tile_class, config_class", [
    (rpu.AnalogTile, rpu.config.SingleRPUConfig),
    (rpu.FloatingPointTile, rpu.config.FloatingPointRPUConfig),
    (rpu.TileArray, rpu.config.SingleRPUConfig)])
def test_periphery_settings_a_tile_does_not_apply_are_refused(field, edit, tile_class,
                                                              config_class):
    # aihwkit applies them in its torch tile modules; rpu's AnalogTile (the bare C++ tile) and
    # FloatingPointTile ignored them silently
    cfg = config_class()
    edit(cfg)
    with pytest.raises(rpu.ConfigError, match=rf"^{config_class.__name__}\.{re.escape(field)} is "
                                              r"not supported by (AnalogTile|FloatingPointTile)"):
        tile_class(3, 4, cfg, seed=1)
    inference = rpu.config.InferenceRPUConfig()
    edit(inference)
    rpu.InferenceTile(3, 4, inference, seed=1)       # where they are implemented
