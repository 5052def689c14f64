"""rpu.inference.converters: aihwkit 1.1.0's conductance converters (spec/inference.md 4.2, 8).

Every converter against a NumPy reference written here, round trips, aihwkit's own oracles
(g_max 3.123 / g_min 0.789; single device 88.19 / 9.0), dtypes, bad input; and, when
``AIHWKIT_PYTHON`` names aihwkit's interpreter, the conductances and back-converted weights of
aihwkit itself on the same weights.
"""
import numpy as np
import pytest

import rpu.inference as inf
from rpu.config import (
    CustomPairConductanceConverter,
    DualPairConductanceConverter,
    NPairConductanceConverter,
    SingleDeviceConductanceConverter,
    SinglePairConductanceConverter,
)
from rpu.errors import ConfigError
from rpu.inference import converters as cv

from aihwkit_runner import AIHWKIT_PYTHON, run_worker

G_MAX, G_MIN = 3.123, 0.789


def weights(shape=(13, 21), seed=0):
    return np.random.default_rng(seed).normal(0, 0.4, shape)


def linear_table(g_min, g_max, k=9):
    """A CustomPair table that is a linear, invertible map: g+ rises on w > 0, g- on w < 0."""
    half = np.linspace(g_min, g_max, (k + 1) // 2)
    gp = np.concatenate([np.full(k // 2, g_min), half]).tolist()
    return [gp, gp[::-1]]


# ----- NumPy references ---------------------------------------------------------------------

def ref_npair(w, f_lst, g_max, g_min):
    span = g_max - g_min
    s = sum(f_lst) * span / max(np.abs(w).max(), 1e-7)
    ws = s * w
    out, lower = [], 0.0
    for f in f_lst:
        out.append(np.clip((np.maximum(ws, 0) - lower) / f + g_min, g_min, g_max))
        out.append(np.clip((np.maximum(-ws, 0) - lower) / f + g_min, g_min, g_max))
        lower += f * span
    return out, s


def ref_custom(w, f_lst, g_lst):
    g_lst = np.asarray(g_lst, float)
    wu = sum(f * (g_lst[2 * k] - g_lst[2 * k + 1]) for k, f in enumerate(f_lst))
    s = np.abs(wu).max() / max(np.abs(w).max(), 1e-7)
    grid = np.linspace(-np.abs(wu).max(), np.abs(wu).max(), g_lst.shape[1]) / s
    return [np.interp(w, grid, t) for t in g_lst], s


# ----- formulas and round trips ---------------------------------------------------------------

@pytest.mark.parametrize("f_lst", [[1.0], [1.0, 3.0], [0.5, 2.0, 4.0]])
def test_npair_matches_reference_and_round_trips(f_lst):
    w = weights()
    conv = NPairConductanceConverter(f_lst, g_max=G_MAX, g_min=G_MIN)
    g, params = inf.convert_to_conductances(conv, w)
    g_ref, s = ref_npair(w, f_lst, G_MAX, G_MIN)
    assert len(g) == 2 * len(f_lst) == cv.n_slices(conv)
    assert params["scale_ratio"] == pytest.approx(s, rel=1e-14)
    assert params["f_lst"] == f_lst
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, g, params), w, atol=1e-12)
    # the low pair fills first: where |w s| < f_0 (g_max - g_min), the other pairs sit at g_min
    if len(f_lst) > 1:
        low = np.abs(w) * s < f_lst[0] * (G_MAX - G_MIN)
        assert low.any() and np.all(g[2][low] == G_MIN) and np.all(g[3][low] == G_MIN)


def test_dual_pair_is_npair_with_two_factors():
    w = weights()
    dual = DualPairConductanceConverter([1.0, 2.0], g_max=G_MAX, g_min=G_MIN)
    npair = NPairConductanceConverter([1.0, 2.0], g_max=G_MAX, g_min=G_MIN)
    for a, b in zip(inf.convert_to_conductances(dual, w)[0], inf.convert_to_conductances(npair, w)[0]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match=r"DualPairConductanceConverter.f_lst.*exactly two"):
        DualPairConductanceConverter([1.0, 2.0, 3.0])


def test_custom_pair_matches_reference_and_round_trips():
    w = weights()
    g_lst = linear_table(G_MIN, G_MAX) + linear_table(G_MIN, G_MAX)
    conv = CustomPairConductanceConverter([1.0, 2.0], g_lst, g_max=G_MAX, g_min=G_MIN)
    g, params = inf.convert_to_conductances(conv, w)
    g_ref, s = ref_custom(w, [1.0, 2.0], g_lst)
    assert params["scale_ratio"] == pytest.approx(s, rel=1e-14)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, g, params), w, atol=1e-12)


def test_custom_pair_invertibility_test():
    # g+ and g- both rise: the map is not invertible -> ConfigError naming the field
    bad = [[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0, 1.5, 2.0]]
    with pytest.raises(ConfigError, match=r"CustomPairConductanceConverter.g_lst.*not invertible"):
        CustomPairConductanceConverter([1.0], bad)
    conv = CustomPairConductanceConverter([1.0], bad, invertibility_test=False)  # allowed
    assert cv.invertibility_error(conv) is not None
    assert cv.invertibility_error(CustomPairConductanceConverter([1.0], linear_table(0, 25))) is None
    with pytest.raises(ConfigError, match="one per pair"):
        CustomPairConductanceConverter([1.0, 2.0], linear_table(0, 25))
    with pytest.raises(ConfigError, match="even number"):
        CustomPairConductanceConverter([1.0], [[0.0, 1.0]])
    with pytest.raises(ConfigError, match="common length"):
        CustomPairConductanceConverter([1.0], [[0.0, 1.0], [1.0, 0.5, 0.0]])
    with pytest.raises(ConfigError, match="no weight range"):
        CustomPairConductanceConverter([1.0], [[1.0, 1.0], [1.0, 1.0]])


def test_single_device_formula_and_constant_weights():
    w = weights()
    conv = SingleDeviceConductanceConverter()
    assert (conv.g_max, conv.g_min) == (88.199997, 9.0)
    (g,), params = inf.convert_to_conductances(conv, w)
    s = (88.199997 - 9.0) / (w.max() - w.min())
    np.testing.assert_allclose(g, (w - w.min()) * s + 9.0, rtol=1e-14)
    assert params["min"] == w.min() and params["scale_ratio"] == pytest.approx(s, rel=1e-14)
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, [g], params), w, atol=1e-13)
    np.testing.assert_allclose(inf.convert_back_to_weights(conv, g, params), w, atol=1e-13)
    # constant weights: aihwkit divides by zero; rpu floors the range, no NaN
    (g0,), p0 = inf.convert_to_conductances(conv, np.full((2, 3), 0.5))
    assert np.all(g0 == 9.0)
    np.testing.assert_array_equal(inf.convert_back_to_weights(conv, [g0], p0), 0.5)


# ----- aihwkit's oracles (tests/test_inference.py::ConductanceConverterTest) ------------------

ORACLES = [
    lambda: SinglePairConductanceConverter(g_max=G_MAX, g_min=G_MIN),
    lambda: DualPairConductanceConverter([1.0, 3.0], g_max=G_MAX, g_min=G_MIN),
    lambda: NPairConductanceConverter([0.5, 1.0, 4.0], g_max=G_MAX, g_min=G_MIN),
    lambda: CustomPairConductanceConverter([1.0, 2.0], linear_table(G_MIN, G_MAX, 7) * 2,
                                           g_max=G_MAX, g_min=G_MIN),
    lambda: SingleDeviceConductanceConverter(g_max=88.19, g_min=9.0),
]


@pytest.mark.parametrize("make", ORACLES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aihwkit_oracles(make, dtype):
    conv = make()
    lo, hi = (9.0, 88.19) if isinstance(conv, SingleDeviceConductanceConverter) else (G_MIN, G_MAX)
    w = np.random.default_rng(1).uniform(-0.5, 0.5, (10, 30)).astype(dtype)
    g, params = inf.convert_to_conductances(conv, w)
    tol = 1e-6 if dtype == np.float64 else 1e-4
    for x in g:
        assert x.dtype == dtype
        assert x.min() >= lo - tol and x.max() <= hi + tol
    assert max(x.max() for x in g) == pytest.approx(hi, abs=tol)
    back = inf.convert_back_to_weights(conv, g, params)
    assert back.dtype == dtype
    np.testing.assert_allclose(back, w, atol=1e-12 if dtype == np.float64 else 2e-6)


# ----- bad input ------------------------------------------------------------------------------

def test_bad_input_names_the_argument():
    conv = NPairConductanceConverter([1.0, 2.0])
    w = weights()
    g, params = inf.convert_to_conductances(conv, w)
    with pytest.raises(ValueError, match="conductances must hold 4 arrays"):
        inf.convert_back_to_weights(conv, g[:2], params)
    with pytest.raises(ValueError, match="f_lst"):
        inf.convert_back_to_weights(conv, g, {"scale_ratio": params["scale_ratio"]})
    with pytest.raises(ValueError, match="scale_ratio"):
        inf.convert_back_to_weights(conv, g, {"f_lst": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"conductances\[2\] must have the shape"):
        inf.convert_back_to_weights(conv, [g[0], g[1], g[2][:, :3], g[3]], params)
    with pytest.raises(ValueError, match="'min'"):
        inf.convert_back_to_weights(SingleDeviceConductanceConverter(), [w],
                                    {"scale_ratio": 1.0})
    with pytest.raises(ValueError, match="weights must be finite"):
        inf.convert_to_conductances(conv, np.array([[np.inf]]))
    with pytest.raises(TypeError, match="converter"):
        inf.convert_to_conductances("SinglePair", w)
    with pytest.raises(ConfigError, match=r"NPairConductanceConverter.f_lst\[1\]"):
        NPairConductanceConverter([1.0, -2.0])
    with pytest.raises(ConfigError, match=r"NPairConductanceConverter.f_lst = \[\]"):
        NPairConductanceConverter([])
    with pytest.raises(ConfigError, match="SingleDeviceConductanceConverter.g_min"):
        SingleDeviceConductanceConverter(g_max=5.0, g_min=9.0)
    with pytest.raises(TypeError):
        NPairConductanceConverter()  # f_lst is required, as in aihwkit


def test_configs_round_trip_through_json():
    from rpu.config import from_json
    for make in ORACLES:
        conv = make()
        assert from_json(conv.to_json()) == conv
        assert "f_lst" in repr(conv) or "g_max" in repr(conv)


# ----- aihwkit 1.1.0 itself (optional) --------------------------------------------------------

AIHWKIT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.inference.converter import conductance as C
data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
out = {}
for i, (name, kwargs) in enumerate(spec):
    conv = getattr(C, name)(**kwargs)
    for dt in ("float64", "float32"):
        w = torch.from_numpy(data[dt])
        g, params = conv.convert_to_conductances(w)
        g = list(g) if isinstance(g, list) else [g]
        for k, x in enumerate(g):
            out[f"{i}_{dt}_g{k}"] = x.numpy()
        out[f"{i}_{dt}_back"] = conv.convert_back_to_weights(
            g if len(g) > 1 or name != "SingleDeviceConductanceConverter" else g[0], params).numpy()
np.savez(sys.argv[2], **out)
"""


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_matches_aihwkit_exactly():
    convs = [make() for make in ORACLES]
    spec = []
    for conv in convs:
        kwargs = {k: v for k, v in conv.to_dict().items() if k != "__class__"}
        spec.append([type(conv).__name__, kwargs])
    w64 = np.random.default_rng(2).normal(0, 0.3, (12, 17))
    ref = run_worker(AIHWKIT_WORKER, spec, {"float64": w64, "float32": w64.astype(np.float32)},
                     prefix="rpu-aihwkit-conv-")
    for i, conv in enumerate(convs):
        for dt, rtol in (("float64", 1e-12), ("float32", 2e-6)):
            if isinstance(conv, CustomPairConductanceConverter):
                rtol = 2e-6  # aihwkit builds the tables and the grid in float32 (torch default)
            w = w64.astype(dt)
            g, params = inf.convert_to_conductances(conv, w)
            scale = max(abs(conv.g_max), 1.0)
            for k, x in enumerate(g):
                np.testing.assert_allclose(x, ref[f"{i}_{dt}_g{k}"], rtol=rtol, atol=rtol * scale,
                                           err_msg=f"{type(conv).__name__} {dt} slice {k}")
            assert f"{i}_{dt}_g{len(g)}" not in ref
            np.testing.assert_allclose(inf.convert_back_to_weights(conv, g, params),
                                       ref[f"{i}_{dt}_back"], rtol=rtol, atol=rtol)
