"""InferenceTile: the digital periphery around the crossbar, programming, drift and compensation.

Deterministic paths use a perfect forward (``is_perfect``) and are compared with a NumPy
reference of spec inference.md sections 0.1, 3.3 and 5.1 written here; the noisy paths are
checked statistically and, where aihwkit is installed, against it (the issue's acceptance
figure: the relative output error after programming and drift).
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import rpu
from rpu.serialization import from_bytes, to_bytes
from rpu.config import (InferenceRPUConfig, IOParameters, InputRangeParameter, MappingParameter,
                        PCMLikeNoiseModel, PrePostProcessingParameter,
                        PrePostProcessingParameterQuant, PeripheryQuantizationParameter,
                        WeightClipParameter, WeightClipType, WeightModifierParameter,
                        WeightModifierType, WeightRemapParameter, WeightRemapType)

from aihwkit_runner import AIHWKIT_PYTHON, run_worker


def perfect_config(**kwargs):
    cfg = InferenceRPUConfig(forward=IOParameters(is_perfect=True), **kwargs)
    return cfg


def input_range(**kwargs):
    return PrePostProcessingParameter(input_range=InputRangeParameter(enable=True, **kwargs))


def rand(shape, seed, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# ----- forward, backward and update against a NumPy reference of the periphery ---------------------

class PeripheryReference:
    """Spec 0.1 / 3.3 / 5.1 in float64: the layer as aihwkit's InferenceTile computes it with a
    perfect forward and backward and a floating-point update."""

    def __init__(self, w_tile, scales, out_scales, bias, r, irange):
        self.w, self.s, self.a, self.b, self.r, self.ir = w_tile, scales, out_scales, bias, r, irange

    def forward(self, x):
        z = x if self.r is None else np.clip(x, -abs(self.r), abs(self.r)) / self.r
        y = z @ self.w.T
        if self.r is not None:
            y = y * self.r
        if self.s is not None:
            y = y * self.s
        self.y_pre = y
        if self.a is not None:
            y = y * self.a
        return y if self.b is None else y + self.b

    def backward(self, x, d):
        dd = d if self.a is None else d * self.a
        if self.s is not None:
            dd = dd * self.s
        g = dd @ self.w
        grads = {}
        if self.b is not None:
            grads["bias"] = d.sum(0)
        if self.a is not None:
            ga = (d * self.y_pre).sum(0)
            grads["out"] = ga if self.a.size > 1 else ga.sum(keepdims=True)
        if self.r is not None:
            r, p = self.r, self.ir
            G = np.minimum(g[x >= r], 0).sum() - np.maximum(g[x <= -r], 0).sum()
            if p.gradient_relative:
                G *= r * p.gradient_scale
            if p.decay > 0 and np.mean(np.abs(x) < r) > p.input_min_percentage:
                G += p.decay * r
            grads["r"] = G
        return g, grads

    def update(self, x, d, grads, lr, lr_scale=1.0):
        z = x if self.r is None else np.clip(x, -abs(self.r), abs(self.r)) / self.r
        dd = d if self.a is None else d * self.a
        if self.s is not None:
            dd = dd / (self.s * lr_scale)
        self.w = self.w - lr * dd.T @ z
        if "r" in grads:
            self.r = abs(self.r - lr * grads["r"])
        if "out" in grads:
            self.a = self.a - lr * grads["out"]
        if "bias" in grads:
            self.b = self.b - lr * grads["bias"]


@pytest.mark.parametrize("columnwise", [False, True])
@pytest.mark.parametrize("learn_out", [False, True])
@pytest.mark.parametrize("with_range", [False, True])
def test_periphery_matches_reference_over_training_steps(columnwise, learn_out, with_range):
    out_size, in_size, batch, lr = 5, 7, 6, 0.05
    mapping = MappingParameter(weight_scaling_omega=0.8, weight_scaling_columnwise=columnwise,
                               learn_out_scaling=learn_out, out_scaling_columnwise=columnwise)
    pre_post = input_range(init_value=0.7, init_from_data=0, decay=0.01) if with_range else \
        PrePostProcessingParameter()
    cfg = perfect_config(mapping=mapping, pre_post=pre_post)
    tile = rpu.InferenceTile(out_size, in_size, cfg, bias=True, dtype=np.float64, seed=3)
    tile.set_learning_rate(lr)
    w = rand((out_size, in_size + 1), 1)
    tile.set_weights(w)
    np.testing.assert_allclose(tile.get_weights(), w, rtol=1e-12)
    w_in = w[:, :-1]
    m = np.max(np.abs(w_in), axis=1) if columnwise else np.array([np.max(np.abs(w_in))])
    np.testing.assert_allclose(tile.get_mapping_scales(), m / 0.8, rtol=1e-12)
    np.testing.assert_allclose(np.max(np.abs(tile.get_weights(apply_weight_scaling=False)[:, :-1])),
                               0.8, rtol=1e-12)
    out_scales = None
    if learn_out:
        out_scales = np.ones(out_size if columnwise else 1)
    ref = PeripheryReference(tile.get_weights(apply_weight_scaling=False)[:, :-1].copy(),
                             tile.get_mapping_scales(), out_scales, w[:, -1].copy(),
                             0.7 if with_range else None, cfg.pre_post.input_range)
    for step in range(4):
        x = rand((batch, in_size), 10 + step, -1.2, 1.2)
        d = rand((batch, out_size), 20 + step)
        y = tile.forward(x)
        np.testing.assert_allclose(y, ref.forward(x), rtol=1e-10, atol=1e-12)
        g = tile.backward(d)
        g_ref, grads = ref.backward(x, d)
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
        got = tile.get_periphery_gradients()
        assert set(got) == {"bias", *(["out_scaling_alpha"] if learn_out else []),
                            *(["input_range"] if with_range else [])}
        if with_range:
            assert got["input_range"] == pytest.approx(grads["r"], rel=1e-10, abs=1e-12)
        tile.update(x, d)
        ref.update(x, d, grads, lr)
        assert tile.get_periphery_gradients() == {}
        np.testing.assert_allclose(tile.get_weights(apply_weight_scaling=False)[:, :-1], ref.w,
                                   rtol=1e-10, atol=1e-12)
        if with_range:
            assert tile.get_input_range() == pytest.approx(ref.r, rel=1e-12)
        if learn_out:
            np.testing.assert_allclose(tile.get_learned_out_scales(), ref.a, rtol=1e-10)
        np.testing.assert_allclose(tile.get_weights()[:, -1], ref.b, rtol=1e-10, atol=1e-12)


def test_input_range_gradient_oracle_and_data_init():
    # aihwkit's test_iterative_linear: perfect, r = 1, the gradient of r is
    # sum_{x>=1} min(g, 0) - sum_{x<=-1} max(g, 0).
    cfg = perfect_config(pre_post=input_range(init_value=1.0, init_from_data=0, decay=0.0))
    tile = rpu.InferenceTile(3, 4, cfg, dtype=np.float64, seed=1)
    w = rand((3, 4), 2)
    tile.set_weights(w)
    x = rand((50, 4), 3, -2, 2)
    d = rand((50, 3), 4)
    tile.forward(x)
    g = tile.backward(d)
    np.testing.assert_allclose(g, d @ w, rtol=1e-12)  # straight through the clip, as RPUCuda
    expected = np.minimum(g[x >= 1], 0).sum() - np.maximum(g[x <= -1], 0).sum()
    assert tile.get_periphery_gradients()["input_range"] == pytest.approx(expected, rel=1e-12)
    # data initialisation: the first training batch sets r = init_std_alpha * std(x) ...
    cfg = perfect_config(pre_post=input_range(init_value=5.0, init_from_data=2, init_std_alpha=2.0))
    tile = rpu.InferenceTile(3, 4, cfg, dtype=np.float64, seed=1)
    x1, x2, x3 = rand((20, 4), 5), rand((20, 4), 6, -3, 3), rand((20, 4), 7, -9, 9)
    tile.forward(x1, is_test=True)
    assert tile.get_input_range() == 5.0          # ... not in evaluation mode
    tile.forward(x1)
    r1 = 2.0 * np.std(x1, ddof=1)
    assert tile.get_input_range() == pytest.approx(r1, rel=1e-12)
    tile.forward(x2)
    assert tile.get_input_range() == pytest.approx((r1 + 2.0 * np.std(x2, ddof=1)) / 2, rel=1e-12)
    before = tile.get_input_range()
    tile.forward(x3)                               # only init_from_data batches count
    assert tile.get_input_range() == before


@pytest.mark.parametrize("is_perfect", [False, True])
def test_output_bound_mask_zeroes_the_gradient_of_clipped_outputs(is_perfect):
    # aihwkit 1.1.0 masks by out_bound even where is_perfect leaves the outputs unclipped
    io = IOParameters(out_noise=0.0, inp_res=-1, out_res=-1, out_bound=1.0, is_perfect=is_perfect,
                      bound_management=rpu.config.BoundManagementType.NONE,
                      noise_management=rpu.config.NoiseManagementType.NONE)
    tile = rpu.InferenceTile(4, 6, InferenceRPUConfig(forward=io), dtype=np.float64, seed=2)
    w = rand((4, 6), 1, -0.6, 0.6)
    tile.set_weights(w)
    x = rand((30, 6), 2)
    d = rand((30, 4), 3)
    y = tile.forward(x)
    mask = np.abs(x @ w.T) >= 0.999
    assert 0 < mask.sum() < mask.size
    np.testing.assert_allclose(y, np.clip(x @ w.T, -1, 1) if not is_perfect else x @ w.T,
                               rtol=1e-12)
    np.testing.assert_allclose(tile.backward(d), np.where(mask, 0, d) @ w, rtol=1e-12)
    # the mask belongs to the training forward of the same batch only
    np.testing.assert_allclose(tile.backward(d[:5]), d[:5] @ w, rtol=1e-12)


def test_analog_bias_column_is_a_weight_driven_by_one():
    cfg = perfect_config(mapping=MappingParameter(digital_bias=False))
    tile = rpu.InferenceTile(3, 4, cfg, bias=True, dtype=np.float64, seed=1)
    assert tile.analog_bias and tile.get_x_size() == 5
    w = rand((3, 5), 1)
    tile.set_weights(w)
    x = rand((8, 4), 2)
    np.testing.assert_allclose(tile.forward(x), x @ w[:, :4].T + w[:, 4], rtol=1e-12)
    assert tile.get_hidden_parameter_names() == []


# ----- post_update_step: clip, remap, modifier --------------------------------------------------

def test_remap_oracles_of_aihwkit():
    # tests/test_inference_tiles.py: LAYERWISE -> W / 0.6 with scales [0.6, 0.6]
    w = np.array([[.1, .2, .3], [.4, .5, .6]])
    cfg = perfect_config(remap=WeightRemapParameter(type=WeightRemapType.LAYERWISE_SYMMETRIC))
    tile = rpu.InferenceTile(2, 3, cfg, dtype=np.float64, seed=1)
    tile.set_weights(w)
    tile.post_update_step()
    np.testing.assert_allclose(tile.get_weights(apply_weight_scaling=False), w / 0.6, rtol=1e-12)
    np.testing.assert_allclose(tile.get_scales(), [0.6, 0.6], rtol=1e-12)
    np.testing.assert_allclose(tile.get_weights(), w, rtol=1e-12)
    # CHANNELWISE, weights set without scaling -> W / [0.7, 0.6]
    w = np.array([[-.7, .2, .3], [.4, .5, .6]])
    cfg = perfect_config(remap=WeightRemapParameter(type=WeightRemapType.CHANNELWISE_SYMMETRIC))
    tile = rpu.InferenceTile(2, 3, cfg, dtype=np.float64, seed=1)
    tile.set_weights(w, apply_weight_scaling=False)
    tile.post_update_step()
    np.testing.assert_allclose(tile.get_weights(apply_weight_scaling=False),
                               w / np.array([[0.7], [0.6]]), rtol=1e-12)
    np.testing.assert_allclose(tile.get_scales(), [0.7, 0.6], rtol=1e-12)


@pytest.mark.parametrize("remap_type", [WeightRemapType.LAYERWISE_SYMMETRIC,
                                        WeightRemapType.CHANNELWISE_SYMMETRIC])
def test_remap_moves_negative_learned_scales_into_the_mapping_scales(remap_type):
    # Training can drive a learned output scale below 0; aihwkit 1.1.0 then remaps to negative
    # mapping scales and carries on (rpu refused them as "not positive", mid-step).
    cfg = perfect_config(remap=WeightRemapParameter(type=remap_type),
                         mapping=MappingParameter(learn_out_scaling=True,
                                                  out_scaling_columnwise=True))
    tile = rpu.InferenceTile(2, 3, cfg, dtype=np.float64, seed=1)
    w = np.array([[-.7, .2, .3], [.4, .5, .6]])
    tile.set_weights(w, apply_weight_scaling=False)
    learned = np.array([-2.6, 0.5])
    tile.set_learned_out_scales(learned)
    x = rand((5, 3), 4)
    y = tile.forward(x, is_test=True)
    np.testing.assert_allclose(y, (x @ w.T) * learned, rtol=1e-12)
    tile.post_update_step()
    m = np.abs(w).max() if remap_type == WeightRemapType.LAYERWISE_SYMMETRIC else \
        np.abs(w).max(axis=1)
    np.testing.assert_allclose(tile.get_mapping_scales(), learned * m, rtol=1e-12)
    np.testing.assert_allclose(tile.get_learned_out_scales(), [1.0, 1.0])
    np.testing.assert_allclose(tile.get_weights(apply_weight_scaling=False),
                               w / np.reshape(m, (-1, 1)), rtol=1e-12)
    np.testing.assert_allclose(tile.forward(x, is_test=True), y, rtol=1e-12)
    loaded = from_bytes(to_bytes(tile))
    np.testing.assert_array_equal(loaded.get_mapping_scales(), tile.get_mapping_scales())
    loaded.set_mapping_scales(loaded.get_mapping_scales())    # get -> set round trip
    # a learned scale of exactly 0 cannot be remapped: refused before anything moves
    tile.set_learned_out_scales([0.0, 1.0])
    before = to_bytes(tile)
    with pytest.raises(ValueError, match="a learned output scale is 0"):
        tile.post_update_step()
    assert to_bytes(tile) == before


def test_clip_in_post_update_step():
    cfg = perfect_config(clip=WeightClipParameter(type=WeightClipType.FIXED_VALUE, fixed_value=0.3))
    tile = rpu.InferenceTile(4, 5, cfg, bias=True, dtype=np.float64, seed=1)
    w = rand((4, 6), 1)
    tile.set_weights(w)
    tile.post_update_step()
    got = tile.get_weights()
    np.testing.assert_allclose(got[:, :5], np.clip(w[:, :5], -0.3, 0.3))
    np.testing.assert_allclose(got[:, 5], w[:, 5])   # a digital bias is not clipped


def test_modifier_acts_in_training_forward_only():
    # aihwkit's test_post_forward_modifier_types / test_inference_modifier, for ADD_NORMAL
    mod = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.1)
    tile = rpu.InferenceTile(6, 8, perfect_config(modifier=mod), dtype=np.float64, seed=1)
    w = rand((6, 8), 1, -0.5, 0.5)
    tile.set_weights(w)
    x = rand((5, 8), 2)
    before_train, before_test = tile.forward(x), tile.forward(x, is_test=True)
    np.testing.assert_allclose(before_train, x @ w.T)   # no post_update_step yet
    tile.post_update_step()
    w_fwd = tile.get_forward_weights()
    assert w_fwd is not None and not np.allclose(w_fwd, w)
    np.testing.assert_allclose(tile.forward(x), x @ w_fwd.T, rtol=1e-12)
    np.testing.assert_allclose(tile.forward(x, is_test=True), before_test)
    np.testing.assert_array_equal(tile.get_weights(), w)
    d = rand((5, 6), 3)
    np.testing.assert_allclose(tile.backward(d), d @ w_fwd, rtol=1e-12)
    tile.post_update_step()                              # fresh noise each mini-batch
    assert not np.allclose(tile.get_forward_weights(), w_fwd)


def test_per_batch_sample_modifier_draws_per_input_vector():
    mod = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.2,
                                  per_batch_sample=True)
    tile = rpu.InferenceTile(4, 6, perfect_config(modifier=mod), dtype=np.float64, seed=1)
    tile.set_weights(rand((4, 6), 1))
    x = np.repeat(rand((1, 6), 2), 3, axis=0)
    y = tile.forward(x)
    assert not np.allclose(y[0], y[1]) and not np.allclose(y[1], y[2])
    np.testing.assert_allclose(tile.forward(x, is_test=True), x @ tile.get_weights().T)


# ----- programming, drift and drift compensation -----------------------------------------------------

def test_drift_compensation_restores_the_undrifted_output():
    # aihwkit's test_drift_compensation: noise-free state-independent model, nu = 0.1 everywhere
    from rpu.config import StateIndependentNoiseModel
    model = StateIndependentNoiseModel(prog_noise_scale=0.0, read_noise_scale=0.0,
                                       drift_nu_std=0.0, drift_nu_mean=0.1)
    tile = rpu.InferenceTile(5, 6, perfect_config(noise_model=model), dtype=np.float64, seed=1)
    w = rand((5, 6), 1, -0.5, 0.5)
    tile.set_weights(w)
    x = rand((7, 6), 2)
    tile.drift_weights(1000.0)
    factor = ((1000.0 + 20.0) / 20.0) ** -0.1
    np.testing.assert_allclose(tile.get_weights(), w * factor, rtol=1e-6)
    assert tile.alpha == pytest.approx(1 / factor, rel=1e-6)
    np.testing.assert_allclose(tile.forward(x, is_test=True), x @ w.T, rtol=1e-6)
    np.testing.assert_allclose(tile.forward(x), x @ (w * factor).T, rtol=1e-6)
    # without compensation the drifted output stays drifted
    tile = rpu.InferenceTile(5, 6, perfect_config(noise_model=model, drift_compensation=None),
                             dtype=np.float64, seed=1)
    tile.set_weights(w)
    tile.drift_weights(1000.0)
    np.testing.assert_allclose(tile.forward(x, is_test=True), x @ (w * factor).T, rtol=1e-6)


def test_every_drift_starts_from_the_programmed_weights():
    tile = rpu.InferenceTile(16, 32, seed=4)
    w = rand((16, 32), 1, -0.5, 0.5).astype(np.float32)
    tile.set_weights(w)
    tile.program_weights()
    w_prog = tile.get_weights()
    assert 0.005 < np.std(w_prog - w) < 0.1           # programming noise moved the weights
    tile.drift_weights(3600.0)
    w_a = tile.get_weights()
    tile.drift_weights(3600.0)
    w_b = tile.get_weights()
    assert not np.array_equal(w_a, w_b)               # fresh read noise ...
    assert np.mean(np.abs(w_a)) == pytest.approx(np.mean(np.abs(w_b)), rel=0.02)  # ... same drift
    assert np.mean(np.abs(w_a)) < np.mean(np.abs(w_prog))
    tile.set_weights(w)                                # new weights: programming starts again
    assert tile.alpha == 1.0
    tile.drift_weights(0.0)
    assert np.std(tile.get_weights() - w) < 0.1


def test_programming_and_drift_do_not_depend_on_the_thread_count():
    def run(threads):
        with threadpool_limits(limits=threads, user_api="openmp"):
            tile = rpu.InferenceTile(64, 96, seed=11)
            tile.set_weights(rand((64, 96), 1, -0.5, 0.5))
            tile.program_weights()
            tile.drift_weights(86400.0)
            return tile.get_weights(), tile.alpha, tile.forward(rand((8, 96), 2), is_test=True)
    a, b = run(1), run(2)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    np.testing.assert_allclose(a[2], b[2], rtol=1e-6)


def test_save_and_load_continue_the_same_inference_state(tmp_path):
    mapping = MappingParameter(weight_scaling_omega=1.0, learn_out_scaling=True)
    cfg = InferenceRPUConfig(mapping=mapping, pre_post=input_range(init_from_data=1))
    tile = rpu.InferenceTile(8, 12, cfg, bias=True, seed=5)
    tile.set_weights(rand((8, 13), 1, -0.5, 0.5))
    x, d = rand((4, 12), 2), rand((4, 8), 3)
    tile.forward(x)
    tile.backward(d)
    tile.update(x, d)
    tile.program_weights()
    tile.drift_weights(60.0)
    rpu.save(tile, tmp_path / "t.npz")
    loaded = rpu.load(tmp_path / "t.npz")
    assert isinstance(loaded, rpu.InferenceTile)
    np.testing.assert_array_equal(loaded.get_weights(), tile.get_weights())
    assert loaded.get_input_range() == tile.get_input_range()
    assert loaded.alpha == tile.alpha
    for t in (tile, loaded):
        t.drift_weights(3600.0)
    np.testing.assert_array_equal(loaded.get_weights(), tile.get_weights())
    np.testing.assert_array_equal(loaded.forward(x, is_test=True), tile.forward(x, is_test=True))


# ----- periphery quantisation ---------------------------------------------------------------------

@pytest.mark.parametrize("n_bits", [4, 8])
def test_periphery_quantisation_of_per_channel_scales(n_bits):
    mapping = MappingParameter(weight_scaling_omega=1.0, weight_scaling_columnwise=True)
    quant = PrePostProcessingParameterQuant(
        periph_quant=PeripheryQuantizationParameter(n_bits=n_bits))
    w = rand((6, 5), 1)
    x = rand((4, 5), 2)
    plain = rpu.InferenceTile(6, 5, perfect_config(mapping=mapping), dtype=np.float64, seed=1)
    tile = rpu.InferenceTile(6, 5, perfect_config(mapping=mapping, pre_post=quant),
                             dtype=np.float64, seed=1)
    for t in (plain, tile):
        t.set_weights(w)
    s = plain.get_mapping_scales()
    step = s.max() / (2 ** n_bits - 1)            # unsigned grid: all scales are positive
    s_q = step * np.clip(np.rint(s / step), 0, 2 ** n_bits - 1)
    w_tile = tile.get_weights(apply_weight_scaling=False)
    np.testing.assert_allclose(tile.forward(x), (x @ w_tile.T) * s_q, rtol=1e-12)
    assert not np.allclose(tile.forward(x), plain.forward(x))
    # a single (layer-wise) scale is reproduced exactly
    mapping = MappingParameter(weight_scaling_omega=1.0)
    a = rpu.InferenceTile(6, 5, perfect_config(mapping=mapping), dtype=np.float64, seed=1)
    b = rpu.InferenceTile(6, 5, perfect_config(mapping=mapping, pre_post=quant), dtype=np.float64,
                          seed=1)
    for t in (a, b):
        t.set_weights(w)
    np.testing.assert_allclose(b.forward(x), a.forward(x), rtol=1e-12)


def test_periphery_quantisation_refuses_learned_ranges():
    quant = PrePostProcessingParameterQuant(
        periph_quant=PeripheryQuantizationParameter(n_bits=8, learn_quant_params=True))
    with pytest.raises(rpu.ConfigError, match="learn_quant_params"):
        rpu.InferenceTile(3, 4, perfect_config(pre_post=quant))


def test_manage_output_clipping_grows_the_input_range():
    # Outputs that clip at out_bound push r up by (1 - p_out) r when fewer than
    # output_min_percentage of them are unclipped (aihwkit's RPUCuda rule, with the fraction
    # taken over the outputs).
    io = IOParameters(out_noise=0.0, inp_res=-1, out_res=-1, out_bound=1.0,
                      bound_management=rpu.config.BoundManagementType.NONE,
                      noise_management=rpu.config.NoiseManagementType.NONE)
    irange = input_range(init_value=2.0, init_from_data=0, decay=0.0, manage_output_clipping=True,
                         gradient_relative=False)
    tile = rpu.InferenceTile(4, 6, InferenceRPUConfig(forward=io, pre_post=irange),
                             dtype=np.float64, seed=2)
    w = rand((4, 6), 1, -0.6, 0.6)
    tile.set_weights(w)
    x = rand((30, 6), 2, -3, 3)
    d = np.zeros((30, 4))
    tile.forward(x)
    tile.backward(d)
    z = np.clip(x, -2, 2) / 2
    p_out = 1 - np.mean(np.abs(z @ w.T) >= 0.999)
    assert p_out < 0.95
    assert tile.get_periphery_gradients()["input_range"] == pytest.approx(-(1 - p_out) * 2.0)


# ----- bad input --------------------------------------------------------------------------------------

def test_bad_input_is_refused_and_leaves_the_tile_unchanged():
    cfg = perfect_config(pre_post=input_range(), mapping=MappingParameter(learn_out_scaling=True))
    tile = rpu.InferenceTile(3, 4, cfg, bias=True, seed=1)
    w = tile.get_weights()
    with pytest.raises(ValueError, match="weights"):
        tile.set_weights(np.full((3, 5), np.nan))
    with pytest.raises(ValueError, match=r"\(out_size, in_size \+ 1\)"):
        tile.set_weights(np.zeros((3, 4)))
    np.testing.assert_array_equal(tile.get_weights(), w)
    with pytest.raises(ValueError, match="t_inference"):
        tile.drift_weights(-1.0)
    with pytest.raises(TypeError, match="noise_model"):
        tile.program_weights(noise_model="pcm")
    with pytest.raises(ValueError, match="training forward of the same batch"):
        tile.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="value must be non-zero"):
        tile.set_input_range(0.0)
    with pytest.raises(ValueError, match="scales"):
        tile.set_scales([1.0, 0.0, 1.0])   # (negative ones are allowed: remapping makes them)
    with pytest.raises(TypeError, match="InferenceRPUConfig"):
        rpu.InferenceTile(3, 4, rpu.config.SingleRPUConfig())
    np.testing.assert_array_equal(tile.get_weights(), w)
    plain = rpu.InferenceTile(3, 4, seed=1)
    with pytest.raises(ValueError, match="learn_out_scaling"):
        plain.set_learned_out_scales(2.0)
    with pytest.raises(ValueError, match="input_range.enable"):
        plain.set_input_range(2.0)


# ----- against aihwkit: the relative output error after programming and drift ------------------------

AIHWKIT_DRIFT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.simulator.configs import InferenceRPUConfig
torch.set_num_threads(1)
data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
W, x = data["W"], data["x"]
ref = x @ W.T
errors = []
for rep in range(spec["reps"]):
    layer = AnalogLinear(W.shape[1], W.shape[0], bias=False, rpu_config=InferenceRPUConfig())
    layer.set_weights(torch.tensor(W))
    layer.eval()
    layer.program_analog_weights()
    row = []
    for t in spec["times"]:
        layer.drift_analog_weights(t)
        y = layer(torch.tensor(x)).detach().numpy()
        row.append(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    errors.append(row)
np.savez(sys.argv[2], errors=np.array(errors))
"""

DRIFT_TIMES = [0.0, 60.0, 3600.0, 86400.0, 31536000.0]


def relative_errors(w, x, reps):
    ref = x @ w.T
    errors = []
    for rep in range(reps):
        tile = rpu.InferenceTile(w.shape[0], w.shape[1], seed=100 + rep)
        tile.set_weights(w)
        tile.program_weights()
        row = []
        for t in DRIFT_TIMES:
            tile.drift_weights(t)
            y = tile.forward(x, is_test=True)
            row.append(np.linalg.norm(y - ref) / np.linalg.norm(ref))
        errors.append(row)
    return np.array(errors)


def test_relative_error_grows_with_drift_time():
    w = rand((64, 128), 1, -0.5, 0.5).astype(np.float32)
    x = rand((50, 128), 2).astype(np.float32)
    err = relative_errors(w, x, reps=2).mean(axis=0)
    assert np.all(np.diff(err) > 0), err
    assert 0.03 < err[0] < 0.2 and err[-1] < 0.4, err


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_relative_error_after_drift_matches_aihwkit():
    # The acceptance check: default InferenceRPUConfig, 128 x 256 weights U(-0.5, 0.5),
    # 10 programmings; ||y - Wx|| / ||Wx|| at each time within 15 % of aihwkit's.
    w = rand((128, 256), 1, -0.5, 0.5).astype(np.float32)
    x = rand((100, 256), 2).astype(np.float32)
    theirs = run_worker(AIHWKIT_DRIFT_WORKER, {"reps": 10, "times": DRIFT_TIMES},
                        {"W": w, "x": x})["errors"].mean(axis=0)
    ours = relative_errors(w, x, reps=10).mean(axis=0)
    np.testing.assert_allclose(ours, theirs, rtol=0.15)
