"""TileArray: a matrix split over a grid of tiles behaves as one layer (spec inference.md 3.4)."""
import numpy as np
import pytest

import rpu
from rpu.config import (IdealDevice, InferenceRPUConfig, IOParameters, MappingParameter,
                        SingleRPUConfig)
from rpu.tiles.tile_array import split_sizes
from cuda_host import backend, gpu_runtime  # noqa: F401  (fixtures)


def rand(shape, seed, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@pytest.mark.parametrize("size, max_size, expected", [
    (14, 10, [7, 7]), (5, 4, [3, 2]), (12, 10, [6, 6]), (13, 6, [5, 4, 4]), (512, 512, [512]),
    (7, 0, [7]), (1025, 512, [342, 342, 341])])
def test_split_sizes(size, max_size, expected):
    assert split_sizes(size, max_size) == expected
    assert sum(expected) == size


def perfect(max_in, max_out, **mapping):
    return InferenceRPUConfig(forward=IOParameters(is_perfect=True),
                              mapping=MappingParameter(max_input_size=max_in,
                                                       max_output_size=max_out, **mapping))


def test_array_equals_one_layer_over_training_steps():
    # aihwkit's MappedLayerLinearTest: 12 -> 13 with max sizes 10 / 6; an exact forward,
    # backward and update of the whole matrix, and a digital bias of the array.
    arr = rpu.TileArray(13, 12, perfect(10, 6), bias=True, dtype=np.float64, seed=4)
    assert arr.in_sizes == [6, 6] and arr.out_sizes == [5, 4, 4]
    assert len(arr.tiles) == 2 and len(arr.tiles[0]) == 3
    w = rand((13, 13), 1)
    arr.set_weights(w)
    np.testing.assert_array_equal(arr.get_weights(), w)
    arr.set_learning_rate(0.1)
    W, b = w[:, :-1].copy(), w[:, -1].copy()
    for step in range(3):
        x, d = rand((5, 12), 10 + step), rand((5, 13), 20 + step)
        np.testing.assert_allclose(arr.forward(x), x @ W.T + b, rtol=1e-12)
        np.testing.assert_allclose(arr.backward(d), d @ W, rtol=1e-12)
        arr.update(x, d)
        W -= 0.1 * d.T @ x
        b -= 0.1 * d.sum(0)
        np.testing.assert_allclose(arr.get_weights(), np.column_stack([W, b]), rtol=1e-12)


def test_every_tile_keeps_its_own_scales_and_stream(tmp_path):
    arr = rpu.TileArray(8, 10, perfect(5, 4, weight_scaling_omega=1.0), seed=2)
    w = rand((8, 10), 1)
    w[:4, :5] *= 0.1
    arr.set_weights(w)
    scales = [t.get_mapping_scales()[0] for column in arr.tiles for t in column]
    assert len(set(np.round(scales, 6))) == 4
    np.testing.assert_allclose(arr.tiles[0][0].get_mapping_scales(), np.max(np.abs(w[:4, :5])),
                               rtol=1e-6)
    seeds = {t.seed for column in arr.tiles for t in column}
    assert len(seeds) == 4
    np.testing.assert_allclose(arr.get_weights(), w, rtol=1e-6)


def test_program_drift_and_save_load(tmp_path):
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=64, max_output_size=32))
    arr = rpu.TileArray(48, 100, cfg, bias=True, seed=7)
    arr.set_weights(rand((48, 101), 1, -0.5, 0.5))
    arr.program_weights()
    arr.drift_weights(3600.0)
    alphas = [t.alpha for column in arr.tiles for t in column]
    assert all(a > 1 for a in alphas) and len(set(alphas)) == len(alphas)
    rpu.save(arr, tmp_path / "arr.npz")
    loaded = rpu.load(tmp_path / "arr.npz")
    assert isinstance(loaded, rpu.TileArray)
    np.testing.assert_array_equal(loaded.get_weights(), arr.get_weights())
    x = rand((4, 100), 2)
    for a in (arr, loaded):
        a.drift_weights(86400.0)
    np.testing.assert_array_equal(loaded.forward(x, is_test=True), arr.forward(x, is_test=True))


def test_analog_training_tiles_and_bad_input():
    arr = rpu.TileArray(6, 9, SingleRPUConfig(mapping=MappingParameter(max_input_size=4)), seed=1)
    assert isinstance(arr.tiles[0][0], rpu.AnalogTile) and arr.in_sizes == [3, 3, 3]
    assert arr.forward(rand((2, 9), 1)).shape == (2, 6)
    w = arr.get_weights()
    with pytest.raises(ValueError, match="weights"):
        arr.set_weights(np.zeros((6, 8)))
    with pytest.raises(ValueError, match="same number of vectors"):
        arr.update(np.zeros((2, 9)), np.zeros((3, 6)))
    with pytest.raises(ValueError, match="x"):
        arr.forward(np.zeros((2, 8)))
    np.testing.assert_array_equal(arr.get_weights(), w)


def test_array_of_analog_tiles_masks_each_tiles_outputs_at_the_bound():
    # aihwkit's array of AnalogTile modules: each tile zeroes the gradient of its own outputs
    # (partial sums over its input block) at 0.999 * out_bound, before its backward; the
    # update's d is not masked. (An InferenceTile masks its own; rpu's bare AnalogTile does not.)
    io = IOParameters(is_perfect=True, out_bound=1.0)
    cfg = SingleRPUConfig(device=IdealDevice(), forward=io, backward=IOParameters(is_perfect=True),
                          mapping=MappingParameter(max_input_size=3, max_output_size=2))
    array = rpu.TileArray(5, 7, cfg, dtype=np.float64, seed=3)
    rng = np.random.default_rng(8)
    w = rng.uniform(-0.6, 0.6, (5, 7))
    x, d = 2 * rng.uniform(-1, 1, (9, 7)), rng.uniform(-1, 1, (9, 5))
    array.set_weights(w)
    np.testing.assert_allclose(array.forward(x), x @ w.T, rtol=1e-12)
    expected = np.zeros_like(x)
    in_edges, out_edges = np.cumsum([0] + array.in_sizes), np.cumsum([0] + array.out_sizes)
    n_masked = 0
    for i in range(len(array.in_sizes)):
        cols = slice(in_edges[i], in_edges[i + 1])
        for o in range(len(array.out_sizes)):
            rows = slice(out_edges[o], out_edges[o + 1])
            mask = np.abs(x[:, cols] @ w[rows, cols].T) >= 0.999
            n_masked += mask.sum()
            expected[:, cols] += np.where(mask, 0, d[:, rows]) @ w[rows, cols]
    assert 0 < n_masked
    np.testing.assert_allclose(array.backward(d), expected, rtol=1e-12)
    # the mask belongs to the forward of the same batch: another batch size is not masked
    np.testing.assert_allclose(array.backward(d[:4]), d[:4] @ w, rtol=1e-12)


def test_output_masks_move_with_the_array(backend):
    # a backward after tile.to(...) masks as it would have in place (``backend``: the GPU
    # backend on tests/cuda_host.py's emulation, and on a CUDA device where there is one)
    io = IOParameters(is_perfect=True, out_bound=0.2)
    cfg = SingleRPUConfig(forward=io, backward=io, mapping=MappingParameter(max_input_size=4,
                                                                            max_output_size=3))
    rng = np.random.default_rng(0)
    x, d = rng.uniform(-1, 1, (4, 8)), rng.uniform(-1, 1, (4, 5))

    def backward_after(move):
        array = rpu.TileArray(5, 8, cfg, seed=3, backend="cpu")
        array.set_weights(np.full((5, 8), 0.25))
        array.forward(x)
        dx = move(array).backward(d)
        return dx.get() if hasattr(dx, "get") else dx

    in_place = backward_after(lambda a: a)
    assert not np.allclose(in_place, d @ np.full((5, 8), 0.25, np.float32))
    np.testing.assert_array_equal(backward_after(lambda a: a.to(backend)), in_place)
    np.testing.assert_array_equal(backward_after(lambda a: a.to(backend).to("cpu")), in_place)
