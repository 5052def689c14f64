"""The JAX adapter: analog_dense under jit, grad and vmap against a NumPy reference, the explicit
update, training on digits, and bad input. Skips where JAX is not installed."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import rpu  # noqa: E402
from rpu.adapters.jax import analog_dense, apply_update  # noqa: E402
from rpu.config import ConstantStepDevice, InferenceRPUConfig, SingleRPUConfig  # noqa: E402
from rpu.data import load_digits  # noqa: E402


def exact_pair(seed=1):
    return (rpu.FloatingPointTile(6, 5, bias=True, seed=seed),
            rpu.FloatingPointTile(3, 6, seed=seed + 1))


def test_forward_gradients_and_update_match_numpy_under_jit():
    t1, t2 = exact_pair()
    l1, l2 = analog_dense(t1), analog_dense(t2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    target = rng.standard_normal((4, 3)).astype(np.float32)

    def loss_fn(probes, x):
        h = jnp.tanh(l1(x, probes[0]))
        return jnp.sum((l2(h, probes[1]) - target) ** 2), h

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    (loss, h), (d1, d2) = step([jnp.zeros((4, 6)), jnp.zeros((4, 3))], x)
    # NumPy reference, by hand.
    w1, w2 = t1.get_weights().astype(np.float64), t2.get_weights().astype(np.float64)
    h_ref = np.tanh(x @ w1[:, :5].T + w1[:, 5])
    out = h_ref @ w2.T
    d2_ref = 2 * (out - target)
    d1_ref = (d2_ref @ w2) * (1 - h_ref ** 2)
    np.testing.assert_allclose(float(loss), np.sum((out - target) ** 2), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(h), h_ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(d2), d2_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(d1), d1_ref, atol=1e-5)
    dx = jax.jit(jax.grad(lambda x: jnp.sum(l1(x) * 2.0)))(x)
    np.testing.assert_allclose(np.asarray(dx), 2 * np.ones((4, 6)) @ w1[:, :5], atol=1e-5)
    apply_update(t1, x, d1, 0.1)
    apply_update(t2, h, d2, 0.1)
    np.testing.assert_allclose(t1.get_weights(), w1 - 0.1 * np.concatenate(
        [d1_ref.T @ x, d1_ref.sum(0)[:, None]], axis=1), atol=1e-5)
    np.testing.assert_allclose(t2.get_weights(), w2 - 0.1 * d2_ref.T @ h_ref, atol=1e-5)


def test_vmap_and_leading_dimensions():
    t1, _ = exact_pair()
    dense = analog_dense(t1)
    x = np.random.default_rng(1).standard_normal((3, 2, 5)).astype(np.float32)
    w = t1.get_weights()
    expected = x @ w[:, :5].T + w[:, 5]
    np.testing.assert_allclose(np.asarray(jax.vmap(dense)(x)), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(dense)(x)), expected, atol=1e-6)


def test_inference_tile_evaluation_forward():
    cfg = InferenceRPUConfig()
    tile = rpu.InferenceTile(4, 8, cfg, bias=True, seed=3)
    twin = rpu.serialization.from_bytes(rpu.serialization.to_bytes(tile))
    x = np.random.default_rng(2).uniform(-1, 1, (5, 8)).astype(np.float32)
    y = jax.jit(analog_dense(tile, is_test=True))(x)
    np.testing.assert_array_equal(np.asarray(y), twin.forward(x, is_test=True))


def test_mlp_trains_on_digits_under_jit():
    images, labels = load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    t1, t2 = rpu.AnalogTile(32, 64, cfg, bias=True, seed=1), rpu.AnalogTile(10, 32, cfg, bias=True, seed=2)
    rng = np.random.default_rng(3)
    for t in (t1, t2):
        t.set_weights(rng.uniform(-1, 1, (t.out_size, t.in_size + 1)) / np.sqrt(t.in_size))
    l1, l2 = analog_dense(t1), analog_dense(t2)

    def loss_fn(probes, x, y):
        h = jax.nn.sigmoid(l1(x, probes[0]))
        logits = l2(h, probes[1])
        return -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(y.shape[0]), y]), h

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    probes = [jnp.zeros((10, 32)), jnp.zeros((10, 10))]
    for epoch in range(3):
        for start in range(0, 1400, 10):
            x, y = images[start:start + 10], labels[start:start + 10]
            (_, h), (d1, d2) = step(probes, x, y)
            apply_update(t2, h, d2, 0.05)
            apply_update(t1, x, d1, 0.05)
    logits = jax.jit(lambda x: l2(jax.nn.sigmoid(l1(x))))(images[1400:])
    accuracy = float(np.mean(np.argmax(np.asarray(logits), axis=1) == labels[1400:]))
    assert accuracy > 0.85, accuracy


def test_bad_input_raises():
    t1, _ = exact_pair()
    dense = analog_dense(t1)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 5\)"):
        dense(jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="probe must have the output's shape"):
        dense(jnp.ones((2, 5)), jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="x and d must hold the same number"):
        apply_update(t1, jnp.ones((2, 5)), jnp.ones((3, 6)), 0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        apply_update(t1, jnp.ones((2, 5)), jnp.ones((2, 6)), -1.0)
    # refused while tracing or before the host call, with rpu's messages (they surfaced as an
    # XlaRuntimeError from inside the callback, or an AttributeError / a DLPack error)
    with pytest.raises(TypeError, match="x must be a floating-point array, got dtype int32"):
        jax.jit(dense)(jnp.ones((2, 5), dtype=jnp.int32))
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        dense(jnp.full((2, 5), jnp.nan))
    with pytest.raises(TypeError, match="tile must be an rpu tile"):
        analog_dense(object())
    w = t1.get_weights()
    with pytest.raises(TypeError, match="call it outside jax.jit"):
        jax.jit(lambda x: apply_update(t1, x, jnp.ones((2, 6)), 0.1))(jnp.ones((2, 5)))
    np.testing.assert_array_equal(t1.get_weights(), w)


def test_bfloat16_goes_over_as_float32():
    """NumPy has no bfloat16: the layer's inputs and the update's arrays are widened to float32
    (exactly), so the results equal those of the float32 values, and x's gradient comes back
    in bfloat16."""
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (4, 5)), dtype=jnp.bfloat16)
    results = []
    for xin in (x, x.astype(jnp.float32)):
        t1, _ = exact_pair()
        dense = analog_dense(t1)
        y, vjp = jax.vjp(dense, xin)
        (gx,) = vjp(jnp.ones_like(y))
        assert y.dtype == jnp.float32 and gx.dtype == xin.dtype
        apply_update(t1, xin, jnp.ones((4, 6), dtype=xin.dtype), 0.1)
        results.append((np.asarray(y), np.asarray(gx.astype(jnp.float32)), t1.get_weights()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], np.asarray(jnp.asarray(results[1][1]).astype(
        jnp.bfloat16).astype(jnp.float32)))
    np.testing.assert_array_equal(results[0][2], results[1][2])


@pytest.mark.parametrize("max_in", [0, 3])
def test_input_gradient_masks_outputs_at_the_bound(max_in):
    # as the torch adapter (and aihwkit's AnalogTile module): d is zeroed where an AnalogTile's
    # output reached 0.999 out_bound, before its backward; a TileArray masks per tile itself
    from rpu.config import IdealDevice, IOParameters, MappingParameter

    cfg = SingleRPUConfig(device=IdealDevice(), forward=IOParameters(is_perfect=True, out_bound=1.0),
                          backward=IOParameters(is_perfect=True),
                          mapping=MappingParameter(max_input_size=max_in, max_output_size=0))
    make = rpu.TileArray if max_in else rpu.AnalogTile
    tile = make(3, 7, cfg, seed=1)
    rng = np.random.default_rng(5)
    w = rng.uniform(-0.6, 0.6, (3, 7)).astype(np.float32)
    x = (3 * rng.uniform(-1, 1, (6, 7))).astype(np.float32)
    g = rng.uniform(-1, 1, (6, 3)).astype(np.float32)
    tile.set_weights(w)
    dense = analog_dense(tile)
    _, vjp = jax.vjp(dense, jnp.asarray(x))
    dx, = vjp(jnp.asarray(g))
    edges = np.cumsum([0] + (tile.in_sizes if max_in else [7]))
    expected = np.zeros_like(x)
    for i in range(len(edges) - 1):
        cols = slice(edges[i], edges[i + 1])
        mask = np.abs(x[:, cols] @ w[:, cols].T) >= 0.999
        assert mask.any()
        expected[:, cols] = np.where(mask, 0, g) @ w[:, cols]
    np.testing.assert_allclose(np.asarray(dx), expected, rtol=1e-5, atol=1e-6)
