"""FloatingPointTile: the exact SGD update and the floating-point device's decay, diffusion and
simple drift (aihwkit's tests/test_bindings_tiles.py oracles)."""
import numpy as np
import pytest

import rpu
from rpu.config import FloatingPointDevice, FloatingPointRPUConfig, SimpleDriftParameter


def tile_with(seed=1, **device):
    cfg = FloatingPointRPUConfig(device=FloatingPointDevice(**device))
    return rpu.FloatingPointTile(100, 122, cfg, dtype=np.float64, seed=seed)


def test_update_is_the_exact_sgd_step():
    tile = rpu.FloatingPointTile(5, 7, bias=True, dtype=np.float64, seed=1)
    tile.set_learning_rate(0.3)
    rng = np.random.default_rng(0)
    x, d = rng.normal(size=(4, 7)), rng.normal(size=(4, 5))
    w = tile.get_weights()
    tile.update(x, d)
    x1 = np.column_stack([x, np.ones(4)])
    np.testing.assert_allclose(tile.get_weights(), w - 0.3 * d.T @ x1, rtol=1e-12)


def test_simple_drift_decay_and_diffusion_oracles():
    tile = tile_with(drift=SimpleDriftParameter(nu=0.1, t_0=1.0))
    w0 = tile.get_weights()
    tile.drift_weights(2.0)
    np.testing.assert_allclose(tile.get_weights(), w0 * 2 ** -0.1, rtol=1e-6)
    # time accumulates: one more unit, counted from the first call's weights
    tile.drift_weights(1.0)
    np.testing.assert_allclose(tile.get_weights(), w0 * 3 ** -0.1, rtol=1e-6)
    # weights changed by the user restart the clock
    tile.set_weights(w0)
    tile.drift_weights(1.0)
    np.testing.assert_allclose(tile.get_weights(), w0, rtol=1e-6)

    tile = tile_with(lifetime=10.0)
    w0 = tile.get_weights()
    tile.post_update_step()
    np.testing.assert_allclose(tile.get_weights(), w0 * 0.9, rtol=1e-12)

    tile = tile_with(diffusion=0.1)
    w0 = tile.get_weights()
    tile.post_update_step()
    dw = tile.get_weights() - w0
    assert abs(np.std(dw) / 0.1 - 1) < 0.1
    assert abs(np.mean(dw)) < 4 * 0.1 / np.sqrt(dw.size)


def test_drift_state_survives_save_and_load(tmp_path):
    tile = tile_with(drift=SimpleDriftParameter(nu=0.2))
    tile.drift_weights(5.0)
    rpu.save(tile, tmp_path / "fp.npz")
    loaded = rpu.load(tmp_path / "fp.npz")
    for t in (tile, loaded):
        t.drift_weights(5.0)
    np.testing.assert_array_equal(loaded.get_weights(), tile.get_weights())
    with pytest.raises(ValueError, match="delta_t"):
        tile.drift_weights(-1.0)
