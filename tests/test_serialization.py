"""rpu.save / rpu.load: a safe, versioned format that continues the same random stream."""
import json
import zipfile

import numpy as np
import pytest

import rpu
from rpu.config import IOParameters, NoiseManagementType, SingleRPUConfig
from rpu.errors import TileFileError


def _tile(**kwargs):
    cfg = SingleRPUConfig(forward=IOParameters(out_noise_std=0.3, v_offset_std=0.1,
                                               noise_management=NoiseManagementType.AVERAGE_ABS_MAX),
                          backward=IOParameters(out_noise=0.02))
    return rpu.AnalogTile(6, 5, cfg, seed=1234, **kwargs)


@pytest.mark.parametrize("kwargs", [{}, dict(bias=True, dtype=np.float64, in_trans=True)])
def test_round_trip_continues_the_same_stream(tmp_path, kwargs):
    tile = _tile(**kwargs)
    x = np.random.default_rng(0).uniform(-1, 1, size=(5, 9) if kwargs.get("in_trans") else (9, 5))
    tile.forward(x)  # advance the counter and the running AverageAbsMax value
    tile.set_learning_rate(0.03)
    path = tmp_path / "tile.rpu"
    rpu.save(tile, path)
    assert path.exists() and not list(tmp_path.glob(".rpu-save-*"))
    loaded = rpu.load(path)
    assert type(loaded) is type(tile) and loaded.seed == tile.seed
    assert loaded.rpu_config == tile.rpu_config
    assert loaded.get_learning_rate() == 0.03 and loaded.bias == tile.bias and loaded.dtype == tile.dtype
    assert np.array_equal(loaded.get_weights(), tile.get_weights())
    for key, value in tile.get_forward_parameters().items():
        assert np.array_equal(loaded.get_forward_parameters()[key], value)
    assert np.array_equal(loaded.forward(x), tile.forward(x))
    d = np.random.default_rng(1).uniform(-1, 1, size=(9, 6))  # out_trans is off in both cases
    assert np.array_equal(loaded.backward(d), tile.backward(d))


def test_floating_point_tile_round_trip(tmp_path):
    tile = rpu.FloatingPointTile(3, 4, seed=5)
    rpu.save(tile, tmp_path / "fp.npz")
    loaded = rpu.load(tmp_path / "fp.npz")
    assert isinstance(loaded, rpu.FloatingPointTile)
    assert np.array_equal(loaded.get_weights(), tile.get_weights())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        rpu.load(tmp_path / "nope.npz")


def test_truncated_file(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TileFileError, match="not a readable rpu tile file"):
        rpu.load(path)


def test_garbage_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(TileFileError):
        rpu.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(TileFileError, match="not an rpu tile file"):
        rpu.load(foreign)


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    meta = {"format": "rpu-tile", "format_version": 1}
    np.savez(path, __rpu_meta__=np.array(json.dumps(meta)), weights=np.array([object()], dtype=object))
    with pytest.raises(TileFileError):
        rpu.load(path)


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__rpu_meta__"]))
    change(meta)
    arrays["__rpu_meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(format_version=99), "format version 99"),
    (lambda m: m.update(tile_class="EvilTile"), "unknown tile class"),
    (lambda m: m["rpu_config"].update(__class__="os.system"), "inconsistent"),
    (lambda m: m.update(out_size=7), "inconsistent"),
    (lambda m: m.pop("op_counter"), "inconsistent"),
])
def test_inconsistent_metadata(tmp_path, change, words):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    _rewrite_meta(path, change)
    with pytest.raises(TileFileError, match=words):
        rpu.load(path)


def test_corrupted_array_values(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["weights"] = np.full_like(arrays["weights"], np.nan)
    np.savez(path, **arrays)
    with pytest.raises(TileFileError, match="NaN"):
        rpu.load(path)


def test_save_rejects_non_tiles(tmp_path):
    with pytest.raises(TypeError, match="tile"):
        rpu.save(object(), tmp_path / "x.npz")


def test_file_is_a_plain_zip_of_npy(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    names = zipfile.ZipFile(path).namelist()
    assert "__rpu_meta__.npy" in names and "weights.npy" in names
