"""Property-based tests (hypothesis) over the tile API's array boundary.

For random sizes (1x1 tiles included), batches (empty ones included, and 0 to 2 leading batch
dimensions), input dtypes, memory layouts (C, Fortran, negative strides, non-contiguous views),
``in_trans`` / ``out_trans`` and bias:

* a perfect-IO FloatingPointTile, AnalogTile or InferenceTile computes forward and backward as
  the NumPy reference does;
* noisy tiles give outputs of the right shape and dtype, all finite;
* the update of an IdealDevice tile is the NumPy SGD step;
* inputs of the wrong shape raise the rpu error and change nothing;
* random IO configs are accepted when in range (and then give finite outputs) and refused with
  a ConfigError naming the field otherwise; random pulsed-device configs with at most one fault
  are refused naming the broken field, or train with finite weights inside the device bounds.

Each test is bounded (``max_examples``), derandomized (the same examples on every run) and
without deadline, so the file runs in a few seconds.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import rpu  # noqa: E402
from rpu.config import (FloatingPointRPUConfig, IdealDevice, InferenceRPUConfig,  # noqa: E402
                        IOParameters, SingleRPUConfig)
from rpu.errors import ConfigError  # noqa: E402

SETTINGS = dict(max_examples=40, deadline=None, derandomize=True)

LAYOUTS = ["C", "F", "negative", "strided"]


@st.composite
def problems(draw):
    """A tile description and the input layout of one call."""
    return dict(
        out_size=draw(st.integers(1, 7)),
        in_size=draw(st.integers(1, 7)),
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        in_trans=draw(st.booleans()),
        out_trans=draw(st.booleans()),
        lead=tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2))),
        input_dtype=draw(st.sampled_from([np.float32, np.float64])),
        layout=draw(st.sampled_from(LAYOUTS)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _laid_out(values, layout):
    """``values`` (any shape) with the same contents in the given memory layout."""
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "negative":
        out = np.flip(np.flip(values).copy())
        assert values.ndim == 0 or values.size == 0 or any(s < 0 for s in out.strides)
        return out
    if layout == "strided":
        buf = np.zeros(values.shape[:-1] + (2 * values.shape[-1],), dtype=values.dtype)
        buf[..., ::2] = values
        return buf[..., ::2]
    return np.ascontiguousarray(values)


def _input(p, size, trans, rng):
    """Feature-last values (lead + (size,)) and the argument as the tile takes it."""
    values = rng.uniform(-1, 1, size=p["lead"] + (size,)).astype(p["input_dtype"])
    arg = np.moveaxis(values, -1, 0) if trans else values
    return values, _laid_out(arg, p["layout"])


def _as_feature_last(out, trans):
    return np.moveaxis(out, 0, -1) if trans else out


def _tile(kind, p):
    common = dict(bias=p["bias"], dtype=p["dtype"], in_trans=p["in_trans"],
                  out_trans=p["out_trans"], seed=p["seed"])
    o, i = p["out_size"], p["in_size"]
    perfect = IOParameters(is_perfect=True)
    if kind == "fp":
        return rpu.FloatingPointTile(o, i, FloatingPointRPUConfig(), **common)
    if kind == "analog-perfect":
        return rpu.AnalogTile(o, i, SingleRPUConfig(forward=perfect, backward=perfect), **common)
    if kind == "inference-perfect":
        return rpu.InferenceTile(o, i, InferenceRPUConfig(forward=perfect), **common)
    if kind == "analog-noisy":
        return rpu.AnalogTile(o, i, SingleRPUConfig(forward=IOParameters(out_noise=0.1, w_noise=0.01)), **common)
    if kind == "inference-noisy":
        return rpu.InferenceTile(o, i, InferenceRPUConfig(), **common)
    if kind == "ideal":
        return rpu.AnalogTile(o, i, SingleRPUConfig(device=IdealDevice()), **common)
    raise AssertionError(kind)


def _tol(p):
    return dict(rtol=1e-5, atol=1e-5) if p["dtype"] == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["fp", "analog-perfect", "inference-perfect"])
@settings(**SETTINGS)
@given(p=problems())
def test_perfect_forward_and_backward_match_numpy(kind, p):
    tile = _tile(kind, p)
    rng = np.random.default_rng(p["seed"])
    w = tile.get_weights().astype(np.float64)  # (out, in [+ 1]): the bias is the last column
    w_in, bias = (w[:, :-1], w[:, -1]) if p["bias"] else (w, 0.0)

    x, x_arg = _input(p, p["in_size"], p["in_trans"], rng)
    y = tile.forward(x_arg)
    assert y.dtype == p["dtype"]
    assert y.shape == ((p["out_size"],) + p["lead"] if p["out_trans"] else p["lead"] + (p["out_size"],))
    expected = x.astype(p["dtype"]).astype(np.float64) @ w_in.T + bias
    np.testing.assert_allclose(_as_feature_last(y, p["out_trans"]), expected, **_tol(p))

    d, d_arg = _input(p, p["out_size"], p["out_trans"], rng)
    z = tile.backward(d_arg)
    assert z.dtype == p["dtype"]
    assert z.shape == ((p["in_size"],) + p["lead"] if p["in_trans"] else p["lead"] + (p["in_size"],))
    np.testing.assert_allclose(_as_feature_last(z, p["in_trans"]),
                               d.astype(p["dtype"]).astype(np.float64) @ w_in, **_tol(p))


@pytest.mark.parametrize("kind", ["analog-noisy", "inference-noisy"])
@settings(**SETTINGS)
@given(p=problems())
def test_noisy_outputs_have_the_right_shape_and_are_finite(kind, p):
    tile = _tile(kind, p)
    rng = np.random.default_rng(p["seed"])
    _, x_arg = _input(p, p["in_size"], p["in_trans"], rng)
    _, d_arg = _input(p, p["out_size"], p["out_trans"], rng)
    y = tile.forward(x_arg)
    z = tile.backward(d_arg)
    assert y.dtype == z.dtype == p["dtype"]
    assert y.shape == ((p["out_size"],) + p["lead"] if p["out_trans"] else p["lead"] + (p["out_size"],))
    assert z.shape == ((p["in_size"],) + p["lead"] if p["in_trans"] else p["lead"] + (p["in_size"],))
    assert np.isfinite(y).all() and np.isfinite(z).all()
    tile.update(x_arg, d_arg)
    assert np.isfinite(tile.get_weights()).all()


@settings(**SETTINGS)
@given(p=problems(), lr=st.floats(0.0, 2.0))
def test_ideal_device_update_is_the_sgd_step(p, lr):
    tile = _tile("ideal", p)
    tile.set_learning_rate(lr)
    rng = np.random.default_rng(p["seed"])
    w0 = tile.get_weights().astype(np.float64)
    x, x_arg = _input(p, p["in_size"], p["in_trans"], rng)
    d, d_arg = _input(p, p["out_size"], p["out_trans"], rng)
    tile.update(x_arg, d_arg)
    xr = x.reshape(-1, p["in_size"]).astype(p["dtype"]).astype(np.float64)
    dr = d.reshape(-1, p["out_size"]).astype(p["dtype"]).astype(np.float64)
    if p["bias"]:
        xr = np.concatenate([xr, np.ones((xr.shape[0], 1))], axis=1)
    np.testing.assert_allclose(tile.get_weights(), w0 - lr * dr.T @ xr, **_tol(p))


@pytest.mark.parametrize("kind", ["fp", "analog-noisy", "inference-noisy"])
@settings(**SETTINGS)
@given(p=problems(), wrong=st.integers(1, 9), method=st.sampled_from(["forward", "backward", "update"]))
def test_wrong_sizes_raise_and_change_nothing(kind, p, wrong, method):
    tile = _tile(kind, p)
    size = p["in_size"] if method in ("forward", "update") else p["out_size"]
    hypothesis.assume(wrong != size)
    rng = np.random.default_rng(p["seed"])
    trans = p["in_trans"] if method in ("forward", "update") else p["out_trans"]
    _, bad = _input(p, wrong, trans, rng)
    before = tile.get_weights(), dict(tile._state_meta())
    name = "d" if method == "backward" else "x"
    with pytest.raises(ValueError, match=rf"^{name} must have shape"):
        if method == "update":
            _, d_arg = _input(p, p["out_size"], p["out_trans"], rng)
            tile.update(bad, d_arg)
        else:
            getattr(tile, method)(bad)
    assert np.array_equal(before[0], tile.get_weights()) and before[1] == tile._state_meta()


IO_FIELDS = {"out_noise": (0.0, None), "inp_noise": (0.0, None), "w_noise": (0.0, None),
             "inp_res": (None, None), "out_res": (None, None), "out_bound": (None, None),
             "v_offset_std": (0.0, None), "max_bm_res": (0.0, None)}


@settings(**SETTINGS)
@given(field=st.sampled_from(sorted(IO_FIELDS)),
       value=st.one_of(st.floats(-2.0, 2.0), st.just(float("nan")), st.just(-1e-3)),
       seed=st.integers(0, 1000))
def test_random_io_configs_are_accepted_or_refused_clearly(field, value, seed):
    low = IO_FIELDS[field][0]
    allowed = value == value and (low is None or value >= low)  # NaN is never allowed
    try:
        io = IOParameters(**{field: value})
    except ConfigError as exc:
        assert not allowed and f"IOParameters.{field} = " in str(exc)
        return
    assert allowed
    tile = rpu.AnalogTile(3, 4, SingleRPUConfig(forward=io), seed=seed)
    y = tile.forward(np.random.default_rng(seed).uniform(-1, 1, size=(5, 4)))
    assert y.shape == (5, 3) and np.isfinite(y).all()


DEVICES = ["ConstantStepDevice", "SoftBoundsDevice", "LinearStepDevice", "ExpStepDevice", "PowStepDevice"]

# One fault at a time: (field it breaks, how), or None for a valid config.
FAULTS = [None, None, None, ("dw_min", lambda f: 0.0), ("dw_min", lambda f: -f["dw_min"]),
          ("dw_min", lambda f: float("nan")), ("w_min", lambda f: 0.5 * f["w_max"] + 0.01),
          ("w_max", lambda f: float("nan")), ("dw_min_dtod", lambda f: -0.1),
          ("up_down", lambda f: float("inf"))]


@settings(**SETTINGS)
@given(device=st.sampled_from(DEVICES), dw_min=st.floats(1e-4, 0.1),
       w_min=st.floats(-2.0, -0.01), w_max=st.floats(0.01, 2.0),
       dw_min_dtod=st.floats(0.0, 1.0), up_down=st.floats(-0.5, 0.5),
       fault=st.sampled_from(FAULTS),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_random_device_configs_are_refused_clearly_or_train_within_bounds(
        device, dw_min, w_min, w_max, dw_min_dtod, up_down, fault, dtype, seed):
    import rpu.config as config
    fields = dict(dw_min=dw_min, w_min=w_min, w_max=w_max, dw_min_dtod=dw_min_dtod, up_down=up_down)
    if fault is not None:
        fields[fault[0]] = fault[1](fields)
        with pytest.raises(ConfigError, match=rf"{device}\.{fault[0]} = "):
            getattr(config, device)(**fields)
        return
    tile = rpu.AnalogTile(3, 4, SingleRPUConfig(device=getattr(config, device)(**fields)),
                          dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        tile.update(rng.uniform(-1, 1, size=(5, 4)), rng.uniform(-1, 1, size=(5, 3)))
    w = tile.get_weights()
    hidden = tile.get_hidden_parameters()
    assert w.dtype == dtype and np.isfinite(w).all()
    assert np.all(w <= hidden["max_bound"]) and np.all(w >= hidden["min_bound"])
