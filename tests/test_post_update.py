"""rpu.tiles.post_update: weight clipping and remapping with aihwkit 1.1.0's C++ semantics
(spec/inference.md sections 3.1, 3.2 and the oracles of section 8).

Each clip type and remap type is checked against a NumPy reference written here, and against
aihwkit's own reference tests (tests/test_inference_tiles.py). ``test_matches_aihwkit`` compares
with aihwkit's C++ tile and runs only when ``AIHWKIT_PYTHON`` names its interpreter.
"""
import numpy as np
import pytest

from rpu import ConfigError
from rpu.config import (WeightClipParameter, WeightClipType as CT, WeightRemapParameter,
                        WeightRemapType as RT)
from rpu.tiles.post_update import clip_value, clip_weights, remap_weights

from aihwkit_runner import AIHWKIT_PYTHON, run_worker

DTYPES = [np.float32, np.float64]


def weights(shape=(7, 11), dtype=np.float64, seed=0, scale=0.8):
    return np.random.default_rng(seed).normal(0, scale, shape).astype(dtype)


# ----- clipping ---------------------------------------------------------------------------------

def ref_clip_value(p, w):
    w = w.astype(np.float64)
    if p.type == CT.NONE:
        return None
    if p.type == CT.FIXED_VALUE:
        # aihwkit's C++ device clip: any fixed_value >= 0 clips, 0 included
        return p.fixed_value if p.fixed_value >= 0 else None
    else:
        if p.type == CT.LAYER_GAUSSIAN:
            mean = w.sum() / w.size
            c = p.sigma * np.sqrt(((w - mean) ** 2).sum() / (w.size - 1))
        else:
            c = sum(max(abs(v) for v in row) for row in w) / w.shape[0]
        if p.fixed_value > 0:
            c = min(c, p.fixed_value)
    return c if c > 0 else None


CLIP_CASES = [
    dict(type=CT.NONE, fixed_value=0.1),
    dict(type=CT.FIXED_VALUE, fixed_value=0.3),
    dict(type=CT.FIXED_VALUE),  # fixed_value = -1: no clipping (C++; torch sets all to -1)
    dict(type=CT.FIXED_VALUE, fixed_value=0.0),  # every weight to 0 (aihwkit 1.1.0)
    dict(type=CT.LAYER_GAUSSIAN, sigma=1.5),
    dict(type=CT.LAYER_GAUSSIAN, sigma=1.5, fixed_value=0.2),
    dict(type=CT.LAYER_GAUSSIAN, sigma=-1.0),
    dict(type=CT.AVERAGE_CHANNEL_MAX),
    dict(type=CT.AVERAGE_CHANNEL_MAX, fixed_value=0.5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CLIP_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_clip_matches_reference(case, dtype):
    p = WeightClipParameter(**case)
    w = weights(dtype=dtype)
    w_in = w.copy()
    c_ref = ref_clip_value(p, w)
    c = clip_value(p, w)
    if c_ref is None:
        assert c is None
    else:
        assert c == pytest.approx(c_ref, rel=1e-12)
    out = clip_weights(p, w)
    np.testing.assert_array_equal(w, w_in)
    assert out.dtype == w.dtype and out is not w
    if c_ref is None:
        np.testing.assert_array_equal(out, w)
    else:
        cc = dtype(c_ref)
        np.testing.assert_array_equal(out, np.minimum(np.maximum(w, -cc), cc))
        assert np.abs(out).max() == cc  # every case here clips something


def test_clip_aihwkit_oracle_fixed_value():
    # test_post_update_step_clip: FIXED_VALUE 0.3 -> max|W| = 0.3 (the bias column included)
    w = weights((5, 4), np.float32, seed=1) * 3
    out = clip_weights(WeightClipParameter(type=CT.FIXED_VALUE, fixed_value=0.3), w)
    assert np.abs(out).max() == np.float32(0.3)
    np.testing.assert_array_equal(out[:, -1], np.clip(w[:, -1], np.float32(-0.3), np.float32(0.3)))


def test_layer_gaussian_without_spread_does_not_clip():
    p = WeightClipParameter(type=CT.LAYER_GAUSSIAN)
    assert clip_value(p, np.full((3, 4), 0.5)) is None
    assert clip_value(p, np.array([[0.5]])) is None


# ----- remapping --------------------------------------------------------------------------------

def ref_remap(p, w, s):
    w, s = w.astype(np.float64), np.asarray(s, dtype=np.float64)
    if p.type == RT.NONE:
        return w, s
    if p.type == RT.LAYERWISE_SYMMETRIC:
        m = np.abs(w).max() / p.remapped_wmax
        return (w / m, s * m) if m > 0 else (w, s)
    new_w, new_s = w.copy(), s.copy()
    s_min = None
    if p.max_scale_range > 0:
        s_min = max(s.min(), 0.0)
        if s_min > 0 and p.max_scale_ref != 0:
            s_min = max(s_min, p.max_scale_ref)
    for i in range(w.shape[0]):
        m = np.abs(w[i]).max() / p.remapped_wmax
        if p.max_scale_range <= 0:
            m = m if m > 0 else 1.0
            new_w[i], new_s[i] = w[i] / m, s[i] * m
        else:
            sn = m * s[i] if m > 0 else s[i]
            if s_min > 0 and sn / s_min > p.max_scale_range:
                sn = s_min * p.max_scale_range
            new_w[i], new_s[i] = w[i] * s[i] / sn, sn
    return new_w, new_s


def test_remap_aihwkit_oracles():
    # tests/test_inference_tiles.py::test_post_update_step_remap_layer / _column
    w = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], dtype=np.float32)
    new_w, s = remap_weights(WeightRemapParameter(type=RT.LAYERWISE_SYMMETRIC), w, np.ones(2))
    np.testing.assert_allclose(new_w, w / 0.6, rtol=1e-6)
    np.testing.assert_allclose(s, [0.6, 0.6], rtol=1e-6)
    w = np.array([[-0.7, 0.2, 0.3], [0.4, 0.5, 0.6]], dtype=np.float32)
    new_w, s = remap_weights(WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC), w, np.ones(2))
    np.testing.assert_allclose(new_w, w / np.array([[0.7], [0.6]]), rtol=1e-6)
    np.testing.assert_allclose(s, [0.7, 0.6], rtol=1e-6)
    assert s.dtype == np.float64 and new_w.dtype == np.float32


REMAP_CASES = [
    (dict(type=RT.NONE), [1.0, 2.0, 3.0, 0.5]),
    (dict(type=RT.LAYERWISE_SYMMETRIC), [1.0, 2.0, 3.0, 0.5]),
    (dict(type=RT.LAYERWISE_SYMMETRIC, remapped_wmax=0.5), [1.0, 1.0, 1.0, 1.0]),
    (dict(type=RT.CHANNELWISE_SYMMETRIC), [1.0, 2.0, 3.0, 0.5]),
    (dict(type=RT.CHANNELWISE_SYMMETRIC, remapped_wmax=0.7, max_scale_range=-1.0),
     [1.0, 2.0, 3.0, 0.5]),
    (dict(type=RT.CHANNELWISE_SYMMETRIC, max_scale_range=2.0), [1.0, 2.0, 3.0, 0.5]),
    (dict(type=RT.CHANNELWISE_SYMMETRIC, max_scale_range=1.5, max_scale_ref=0.8),
     [0.1, 2.0, 3.0, 1.0]),
    (dict(type=RT.CHANNELWISE_SYMMETRIC, max_scale_range=2.0), [-1.0, 2.0, 3.0, 1.0]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case,scales", REMAP_CASES, ids=lambda c: str(c))
def test_remap_matches_reference(case, scales, dtype):
    p = WeightRemapParameter(**case)
    w = weights((4, 6), dtype, seed=2)
    w[1] *= 4
    w_in, s_in = w.copy(), np.array(scales)
    new_w, new_s = remap_weights(p, w, s_in)
    ref_w, ref_s = ref_remap(p, w, scales)
    np.testing.assert_array_equal(w, w_in)
    np.testing.assert_array_equal(s_in, scales)
    assert new_w.dtype == w.dtype and new_s.dtype == np.float64
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(new_w, ref_w, rtol=rtol)
    np.testing.assert_allclose(new_s, ref_s, rtol=1e-14)
    # the logical weights W s stay the same
    np.testing.assert_allclose(new_w * new_s[:, None], w * np.array(scales)[:, None], rtol=rtol)


def test_max_scale_range_caps_the_scale_ratio():
    w = weights((6, 5), np.float64, seed=3)
    w[0] *= 100  # one row would need a far larger scale
    p = WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC, max_scale_range=3.0)
    new_w, s = remap_weights(p, w, np.ones(6))
    s_min = 1.0  # the smallest input scale
    assert s.max() == pytest.approx(3.0 * s_min)
    assert s[0] == pytest.approx(3.0)
    # the capped row keeps its logical weights, so it exceeds remapped_wmax
    assert np.abs(new_w[0]).max() > 1
    np.testing.assert_allclose(np.abs(new_w[1:]).max(axis=1), 1.0, rtol=1e-14)
    # without the cap every row is normalised
    _, s_free = remap_weights(WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC), w, np.ones(6))
    assert s_free[0] > 3.0 * s_free[1:].min()


def test_zero_rows_and_zero_weights():
    w = np.zeros((3, 4))
    w[1] = [0.1, -0.5, 0.2, 0.0]
    new_w, s = remap_weights(WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC), w, [1, 2, 3])
    np.testing.assert_allclose(s, [1, 1.0, 3])
    new_w, s = remap_weights(WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC,
                                                  max_scale_range=2.0), w, [1, 2, 3])
    np.testing.assert_allclose(s, [1, 1.0, 2])  # aihwkit: zero rows keep s, then the cap
    new_w, s = remap_weights(WeightRemapParameter(type=RT.LAYERWISE_SYMMETRIC), 0 * w, [1, 2, 3])
    np.testing.assert_array_equal(new_w, 0 * w)
    np.testing.assert_array_equal(s, [1, 2, 3])


def test_bad_input_raises():
    w = weights()
    p = WeightRemapParameter(type=RT.LAYERWISE_SYMMETRIC)
    with pytest.raises(ValueError, match=r"scales must have shape \(7,\)"):
        remap_weights(p, w, np.ones(3))
    with pytest.raises(ValueError, match="scales must be finite"):
        remap_weights(p, w, np.full(7, np.nan))
    with pytest.raises(TypeError, match="scales"):
        remap_weights(p, w, np.array(["a"] * 7))
    bad = w.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="weights must be finite"):
        remap_weights(p, bad, np.ones(7))
    with pytest.raises(ValueError, match="weights must be finite"):
        clip_weights(WeightClipParameter(type=CT.FIXED_VALUE, fixed_value=1.0), bad)
    with pytest.raises(TypeError, match="clip must be"):
        clip_value(p, w)
    with pytest.raises(TypeError, match="remap must be"):
        remap_weights(WeightClipParameter(), w, np.ones(7))
    with pytest.raises(ConfigError, match="remapped_wmax"):
        remap_weights(WeightRemapParameter(type=RT.CHANNELWISE_SYMMETRIC, max_scale_range=2.0,
                                           remapped_wmax=0.5), w, np.ones(7))
    p = WeightRemapParameter(type=RT.LAYERWISE_SYMMETRIC)
    p.remapped_wmax = 0.0
    with pytest.raises(ConfigError, match="remapped_wmax"):
        remap_weights(p, w, np.ones(7))


# ----- aihwkit 1.1.0 itself (optional) ------------------------------------------------------------

AIHWKIT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.simulator.configs import InferenceRPUConfig
from aihwkit.simulator.parameters.inference import WeightClipParameter, WeightRemapParameter
from aihwkit.simulator.parameters.enums import WeightClipType, WeightRemapType
from aihwkit.simulator.parameters.helpers import parameters_to_bindings
from aihwkit.simulator.tiles.inference import InferenceTile

data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
w = torch.tensor(data["w"])
tile = InferenceTile(w.shape[0], w.shape[1], InferenceRPUConfig())
out = {}
for i, case in enumerate(spec["clip"]):
    tile.tile.set_weights(w)
    p = WeightClipParameter(**dict(case, type=WeightClipType(case["type"])))
    tile.tile.clip_weights(parameters_to_bindings(p, tile.get_data_type()))
    out[f"clip{i}"] = tile.tile.get_weights().numpy()
for i, (case, scales) in enumerate(spec["remap"]):
    tile.tile.set_weights(w)
    p = WeightRemapParameter(**dict(case, type=WeightRemapType(case["type"])))
    s = tile.tile.remap_weights(parameters_to_bindings(p, tile.get_data_type()),
                                torch.tensor(scales, dtype=torch.float32))
    out[f"remap_w{i}"] = tile.tile.get_weights().numpy()
    out[f"remap_s{i}"] = s.numpy()
np.savez(sys.argv[2], **out)
"""


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_matches_aihwkit():
    w = weights((6, 9), np.float32, seed=4)
    w[2] *= 5
    w[4] = 0
    clip = [dict(type="FixedValue", fixed_value=0.3), dict(type="FixedValue"),
            dict(type="FixedValue", fixed_value=0.0),
            dict(type="LayerGaussian", sigma=1.0), dict(type="LayerGaussian", fixed_value=0.2),
            dict(type="AverageChannelMax"), dict(type="AverageChannelMax", fixed_value=0.4)]
    ones, spread = [1.0] * 6, [0.2, 1.0, 2.0, 0.5, 3.0, 1.5]
    remap = [(dict(type="LayerwiseSymmetric"), spread),
             (dict(type="LayerwiseSymmetric", remapped_wmax=0.5), ones),
             (dict(type="ChannelwiseSymmetric"), spread),
             (dict(type="ChannelwiseSymmetric", remapped_wmax=0.8), ones),
             (dict(type="ChannelwiseSymmetric", max_scale_range=2.0), spread),
             (dict(type="ChannelwiseSymmetric", max_scale_range=3.0, max_scale_ref=0.7), spread)]
    got = run_worker(AIHWKIT_WORKER, {"clip": clip, "remap": remap}, {"w": w},
                     prefix="rpu-aihwkit-post-")
    for i, case in enumerate(clip):
        ours = clip_weights(WeightClipParameter(**case), w)
        np.testing.assert_allclose(ours, got[f"clip{i}"], rtol=1e-6, atol=1e-7, err_msg=str(case))
    for i, (case, scales) in enumerate(remap):
        new_w, new_s = remap_weights(WeightRemapParameter(**case), w, scales)
        np.testing.assert_allclose(new_w, got[f"remap_w{i}"], rtol=1e-6, atol=1e-7,
                                   err_msg=str(case))
        np.testing.assert_allclose(new_s, got[f"remap_s{i}"], rtol=1e-6, err_msg=str(case))
