"""rpu.save / rpu.load: a safe, versioned format that continues the same random stream."""
import json
import os
import stat
import zipfile

import numpy as np
import pytest

import rpu
from rpu import serialization
from rpu.config import (InferenceRPUConfig, IOParameters, MappingParameter, NoiseManagementType,
                        SingleRPUConfig, SoftBoundsDevice, build_config)
from rpu.serialization import from_bytes, to_bytes
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


def _resign(meta, arrays):
    """Recompute the checksum after an edit, as a forger would: the deeper checks must hold."""
    if "checksum" in meta:
        body = {k: v for k, v in arrays.items() if k != "__rpu_meta__"}
        meta["checksum"]["digest"] = serialization._digest(meta, body)


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__rpu_meta__"]))
    change(meta)
    _resign(meta, arrays)
    arrays["__rpu_meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(format_version=99), "format version 99"),
    (lambda m: m.update(tile_class="EvilTile"), "unknown tile class"),
    (lambda m: m["rpu_config"].update(__class__="os.system"), "inconsistent"),
    (lambda m: m.update(out_size=7), "inconsistent"),
    (lambda m: m.pop("op_counter"), "inconsistent"),
    # (these loaded: an unhashable class name raised a TypeError, a negative op counter an
    # OverflowError at the first random draw, a NaN learning rate NaN weights)
    (lambda m: m.update(tile_class=[]), "unknown tile class"),
    (lambda m: m.update(op_counter="-5"), r"op_counter must be an integer in \[1, 2\^64\)"),
    (lambda m: m.update(op_counter=1.5), r"op_counter must be an integer"),
    (lambda m: m.update(learning_rate=float("nan")), r"learning_rate must be a finite number"),
    (lambda m: m.update(learning_rate=-1.0), r"learning_rate must be >= 0"),
])
def test_inconsistent_metadata(tmp_path, change, words):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    _rewrite_meta(path, change)
    with pytest.raises(TileFileError, match=words):
        rpu.load(path)


def _rewrite_arrays(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    meta = json.loads(str(arrays["__rpu_meta__"]))
    _resign(meta, arrays)
    arrays["__rpu_meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("algorithm, name, value, words", [
    ("mp", "counter.n_transfers", np.int64(-1), r"counter n_transfers must be one integer >= 0"),
    ("mp", "counter.row", np.int64(4), r"counter row must be one integer >= 0 and < 4"),
    ("tiki-taka", "counter.slice", np.int64(3), r"counter slice must be one integer >= 0 and < 3"),
    ("tiki-taka", "counter.count", np.float64(2.0), r"counter count must be one integer"),
    ("c-ttv2", "counter.m_x", np.float64(np.nan), r"counter m_x must be one finite number"),
])
def test_forged_compound_counters_are_refused(tmp_path, algorithm, name, value, words):
    """Counters out of range loaded and failed later (a negative transfer count raised an
    OverflowError at the next transfer's random draws)."""
    tile = rpu.AnalogTile(4, 3, build_config(algorithm, SoftBoundsDevice()), seed=3)
    tile.update(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    path = tmp_path / "t.npz"
    rpu.save(tile, path)
    _rewrite_arrays(path, lambda arrays: arrays.__setitem__(name, np.asarray(value)))
    with pytest.raises(TileFileError, match=words):
        rpu.load(path)


def test_corrupted_array_values(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["weights"] = np.full_like(arrays["weights"], np.nan)
    meta = json.loads(str(arrays["__rpu_meta__"]))
    _resign(meta, arrays)  # a consistent checksum: the NaN check must still refuse the file
    arrays["__rpu_meta__"] = np.array(json.dumps(meta))
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


# ----- format version 2: checksum, version 1 compatibility, hostile files ----------------------

def _state(tile):
    arrays = {k: np.array(v, copy=True) for k, v in tile._state_arrays().items()}
    return json.dumps(tile._state_meta(), sort_keys=True), arrays


def _assert_same_state(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        assert a[1][k].dtype == b[1][k].dtype and a[1][k].shape == b[1][k].shape, k
        assert a[1][k].tobytes() == b[1][k].tobytes(), k  # bit-exact, NaN patterns included


def _write_version_1(tile, path):
    """A file written the way rpu wrote them before the checksum (format version 1)."""
    meta = {"format": "rpu-tile", "format_version": 1, "rpu_version": "0.1.0",
            "tile_class": type(tile).__name__, "rpu_config": tile.rpu_config.to_dict()}
    meta.update(tile._state_meta())
    arrays = {name: np.asarray(v) for name, v in tile._state_arrays().items()}
    arrays["__rpu_meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_version_2_records_a_sha256_checksum(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__rpu_meta__"]))
        arrays = {k: data[k] for k in data.files if k != "__rpu_meta__"}
    assert meta["format_version"] == 2 == serialization.FORMAT_VERSION
    assert meta["checksum"]["algorithm"] == "sha256" and len(meta["checksum"]["digest"]) == 64
    # An independent recomputation of the documented digest.
    import hashlib
    h = hashlib.sha256()

    def put(b):
        h.update(len(b).to_bytes(8, "little") + b)

    put(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True,
                   separators=(",", ":")).encode())
    for name in sorted(arrays):
        put(name.encode())
        put(arrays[name].dtype.str.encode())
        put(json.dumps(list(arrays[name].shape)).encode())
        put(arrays[name].tobytes())
    assert h.hexdigest() == meta["checksum"]["digest"]


def test_version_1_files_still_load(tmp_path):
    tile = _tile(bias=True)
    tile.forward(np.ones((3, 5)))
    _write_version_1(tile, tmp_path / "v1.npz")
    loaded = rpu.load(tmp_path / "v1.npz")
    _assert_same_state(_state(tile), _state(loaded))
    x = np.random.default_rng(2).uniform(-1, 1, size=(4, 5))
    assert np.array_equal(tile.forward(x), loaded.forward(x))


def test_version_2_without_checksum_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    _rewrite_meta(path, lambda m: m.pop("checksum"))
    with pytest.raises(TileFileError, match="needs a checksum"):
        rpu.load(path)


@pytest.mark.parametrize("edit", ["weights", "hidden", "meta"])
def test_edited_contents_fail_the_checksum(tmp_path, edit):
    path = tmp_path / "t.npz"
    rpu.save(rpu.AnalogTile(3, 4, seed=3), path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if edit == "weights":
        arrays["weights"] = arrays["weights"].copy()
        arrays["weights"].view(np.uint32)[0, 0] ^= 1  # one bit of one weight
    elif edit == "hidden":
        name = next(k for k in arrays if k.startswith("hidden"))
        arrays[name] = arrays[name] * 2
    else:
        meta = json.loads(str(arrays["__rpu_meta__"]))
        meta["learning_rate"] = 0.5
        arrays["__rpu_meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(TileFileError, match="checksum mismatch"):
        rpu.load(path)


class _Trap:
    """Unpickling this would create ``marker``: a stand-in for code hidden in a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_file_never_runs(tmp_path):
    import pickle
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weights": _Trap(marker)}))
    with pytest.raises(TileFileError):
        rpu.load(path)
    assert not marker.exists()


def test_an_npz_with_an_object_array_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npz"
    rpu.save(_tile(), path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["weights"] = np.array([_Trap(marker)], dtype=object)
    np.savez(path, **arrays)  # np.savez pickles the object array
    with pytest.raises(TileFileError, match="pickle|readable"):
        rpu.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("what", ["npy", "random", "empty", "string-array", "meta-not-0d", "extra-member"])
def test_foreign_contents_are_refused(tmp_path, what):
    path = tmp_path / "f.npz"
    if what == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros((3, 4)))
    elif what == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "extra-member":
        rpu.save(_tile(), path)
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("payload.py", b"import os")
    else:
        rpu.save(_tile(), path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if what == "string-array":
            arrays["weights"] = np.array(["0.1"] * 30).reshape(6, 5)
        else:
            arrays["__rpu_meta__"] = np.array([str(arrays["__rpu_meta__"])])
        np.savez(path, **arrays)
    with pytest.raises(TileFileError):
        rpu.load(path)


def test_every_npy_header_length_off_by_one_is_refused(tmp_path):
    """A .npy header length one too long makes NumPy's header parser read a byte of the data:
    for some members its parser then raised tokenize.TokenError, which escaped rpu.load."""
    path = tmp_path / "t.npz"
    rpu.save(rpu.AnalogTile(3, 2, bias=True, seed=1), path)
    good = path.read_bytes()
    starts = [i for i in range(len(good)) if good.startswith(b"\x93NUMPY\x01\x00", i)]
    assert len(starts) > 5
    for start in starts:
        data = bytearray(good)
        data[start + 8] += 1
        path.write_bytes(bytes(data))
        with pytest.raises(TileFileError):
            rpu.load(path)


def test_flipped_bytes_are_refused_or_harmless(tmp_path):
    """Flip one byte at 150 places: every load either refuses the file or (a flip in a zip
    field nothing reads, such as a time stamp) gives back exactly the saved tile."""
    tile = _tile(bias=True)
    path = tmp_path / "t.npz"
    rpu.save(tile, path)
    good = path.read_bytes()
    expected = _state(tile)
    positions = np.random.default_rng(4).choice(len(good), size=150, replace=False)
    refused = 0
    for pos in positions:
        data = bytearray(good)
        data[pos] ^= 0xFF
        path.write_bytes(bytes(data))
        try:
            loaded = rpu.load(path)
        except TileFileError:
            refused += 1
            continue
        _assert_same_state(expected, _state(loaded))
    assert refused > 100


def test_truncated_anywhere_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    rpu.save(_tile(), path)
    good = path.read_bytes()
    for cut in np.linspace(1, len(good) - 1, 40).astype(int):
        path.write_bytes(good[:cut])
        with pytest.raises(TileFileError):
            rpu.load(path)


# ----- bit-exact round trips for every tile type ----------------------------------------------

def _round_trip_cases():
    from rpu.config import (FloatingPointRPUConfig, InferenceRPUConfig, LinearStepDevice,
                            MappingParameter, SingleRPUConfig, SoftBoundsDevice,
                            WeightModifierParameter, WeightModifierType, build_config)
    from rpu.config import FloatingPointDevice
    return {
        "analog-softbounds": lambda: rpu.AnalogTile(5, 4, SingleRPUConfig(device=SoftBoundsDevice()), seed=1),
        "analog-write-noise-f64": lambda: rpu.AnalogTile(
            5, 4, SingleRPUConfig(device=LinearStepDevice(write_noise_std=0.5)), bias=True,
            dtype=np.float64, seed=2),
        "tiki-taka": lambda: rpu.AnalogTile(5, 4, build_config("tiki-taka", SoftBoundsDevice()), seed=3),
        "c-ttv2": lambda: rpu.AnalogTile(5, 4, build_config("c-ttv2", SoftBoundsDevice()), seed=4),
        "agad": lambda: rpu.AnalogTile(5, 4, build_config("agad", SoftBoundsDevice()), seed=5),
        "mixed-precision": lambda: rpu.AnalogTile(5, 4, build_config("mixed-precision", SoftBoundsDevice()), seed=6),
        "floating-point": lambda: rpu.FloatingPointTile(
            5, 4, FloatingPointRPUConfig(device=FloatingPointDevice(lifetime=50.0, diffusion=0.01)), seed=7),
        "inference": lambda: rpu.InferenceTile(5, 4, InferenceRPUConfig(
            mapping=MappingParameter(weight_scaling_omega=1.0, learn_out_scaling=True),
            modifier=WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.05)),
            bias=True, seed=8),
        "tile-array": lambda: rpu.TileArray(5, 4, InferenceRPUConfig(
            mapping=MappingParameter(max_input_size=3, max_output_size=2)), bias=True, seed=9),
    }


ROUND_TRIP = _round_trip_cases()


def _use(tile, step):
    rng = np.random.default_rng(100 + step)
    x, d = rng.uniform(-1, 1, size=(6, 4)), rng.uniform(-1, 1, size=(6, 5))
    y = tile.forward(x)
    z = tile.backward(d)
    tile.update(x, d)
    tile.post_update_step()
    out = [y, z]
    if hasattr(tile, "program_weights"):
        if step == 0:
            tile.program_weights()
        tile.drift_weights(100.0 * (step + 1))
        out.append(tile.forward(x, is_test=True))
    return out


@pytest.mark.parametrize("kind", list(ROUND_TRIP))
def test_round_trip_is_bit_exact_and_continues_identically(tmp_path, kind):
    tile = ROUND_TRIP[kind]()
    _use(tile, 0)
    path = tmp_path / f"{kind}.npz"
    rpu.save(tile, path)
    loaded = rpu.load(path)
    assert type(loaded) is type(tile)
    _assert_same_state(_state(tile), _state(loaded))
    if hasattr(tile, "get_hidden_parameters"):
        for name, value in tile.get_hidden_parameters().items():
            assert value.tobytes() == loaded.get_hidden_parameters()[name].tobytes(), name
    for step in (1, 2):  # the same random stream and state afterwards, call for call
        for a, b in zip(_use(tile, step), _use(loaded, step)):
            assert a.tobytes() == b.tobytes()
    _assert_same_state(_state(tile), _state(loaded))


@pytest.mark.parametrize("kind", ["inference-learned", "tile-array-bias"])
def test_a_save_between_backward_and_update_keeps_the_pending_periphery_gradients(tmp_path, kind):
    """The gradients of the input range, the learned output scales and the digital bias that
    ``backward`` computes are applied by the next ``update``. They were not saved, so a tile
    saved between the two made a different update after loading (and said nothing)."""
    from rpu.config import InferenceRPUConfig, MappingParameter
    if kind == "inference-learned":
        cfg = InferenceRPUConfig(mapping=MappingParameter(learn_out_scaling=True,
                                                          out_scaling_columnwise=True))
        cfg.pre_post.input_range.enable = True
        tile = rpu.InferenceTile(5, 4, cfg, bias=True, seed=11, dtype=np.float64)
    else:
        tile = rpu.TileArray(5, 4, InferenceRPUConfig(mapping=MappingParameter(
            max_input_size=3, learn_out_scaling=True)), bias=True, seed=12)
    rng = np.random.default_rng(5)
    x, d = rng.uniform(-1, 1, size=(6, 4)), rng.uniform(-1, 1, size=(6, 5))
    tile.forward(x)
    tile.backward(d)
    if kind == "inference-learned":
        pending = tile.get_periphery_gradients()
        assert sorted(pending) == ["bias", "input_range", "out_scaling_alpha"]
        assert all(np.any(np.asarray(v) != 0) for v in pending.values())
    path = tmp_path / "t.npz"
    rpu.save(tile, path)
    loaded = rpu.load(path)
    if kind == "inference-learned":
        assert loaded.get_periphery_gradients().keys() == pending.keys()
    for t in (tile, loaded):
        t.update(x, d)
    _assert_same_state(_state(tile), _state(loaded))
    assert tile.forward(x).tobytes() == loaded.forward(x).tobytes()


def test_a_noise_model_g_max_set_after_construction_survives_saving(tmp_path):
    """The loaded tile programmed and drifted with the converter's g_max, not the one set."""
    from rpu.config import InferenceRPUConfig
    cfg = InferenceRPUConfig()
    cfg.noise_model.g_max = 50.0  # the converter keeps 25: noise and mapping use different ones
    tile = rpu.InferenceTile(6, 5, cfg, seed=3)
    tile.set_weights(np.random.default_rng(0).uniform(-0.5, 0.5, (6, 5)))
    path = tmp_path / "t.npz"
    rpu.save(tile, path)
    loaded = rpu.load(path)
    assert loaded.rpu_config.noise_model.g_max == 50.0
    x = np.random.default_rng(1).uniform(-1, 1, (4, 5)).astype(np.float32)
    for t in (tile, loaded):
        t.program_weights()
        t.drift_weights(100.0)
    assert tile.forward(x, is_test=True).tobytes() == loaded.forward(x, is_test=True).tobytes()


def _small_tile():
    return rpu.AnalogTile(4, 3, seed=1)


def test_save_refuses_paths_it_would_destroy_or_cannot_use(tmp_path):
    """A save moves a finished file into place: onto a folder, a device or a pipe that would
    replace what is there (as root, saving to /dev/null replaced the device node)."""
    tile = _small_tile()
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="it is a folder"):
        rpu.save(tile, tmp_path / "folder")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(ValueError, match="not a regular file"):
            rpu.save(tile, tmp_path / "pipe")
        assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    with pytest.raises(FileNotFoundError, match=r"the folder .*missing.* does not exist"):
        rpu.save(tile, tmp_path / "missing" / "t.npz")
    for bad in (None, 3):
        with pytest.raises(TypeError, match="path must be a file path"):
            rpu.save(tile, bad)
        with pytest.raises(TypeError, match="path must be a file path"):
            rpu.load(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["folder"] + (["pipe"] if hasattr(os, "mkfifo") else []))


def test_save_follows_links_and_keeps_permissions(tmp_path):
    tile = _small_tile()
    real, link = tmp_path / "real.npz", tmp_path / "link.npz"
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link.symlink_to(real)
    rpu.save(tile, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    np.testing.assert_array_equal(rpu.load(real).get_weights(), tile.get_weights())
    # a new file gets the umask's permissions, not the private ones of the temporary file
    rpu.save(tile, tmp_path / "new.npz")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o666 & ~umask
    # bytes paths work as str paths do
    rpu.save(tile, os.fsencode(tmp_path / "b.npz"))
    np.testing.assert_array_equal(rpu.load(os.fsencode(tmp_path / "b.npz")).get_weights(),
                                  tile.get_weights())


def test_save_refuses_a_read_only_file(tmp_path, monkeypatch):
    path = tmp_path / "ro.npz"
    path.write_bytes(b"keep")
    os.chmod(path, 0o444)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root may write any file: let the check see what another user would
        real_access = os.access
        monkeypatch.setattr(serialization.os, "access", lambda p, mode: (
            False if mode == os.W_OK and os.fspath(p) == str(path) else real_access(p, mode)))
    with pytest.raises(PermissionError, match="read-only"):
        rpu.save(_small_tile(), path)
    assert path.read_bytes() == b"keep"


@pytest.mark.parametrize("omega, change", [
    (0.0, lambda t: t.set_mapping_scales(1.5)),
    (0.0, lambda t: t.set_scales(np.array([1.5, 0.5, -2.0, 1.0]))),
    (0.0, lambda t: t.set_weights(np.full((4, 3), 0.2, np.float32), weight_scaling_omega=1.0)),
    (1.0, lambda t: t.set_mapping_scales(None)),
], ids=["set_mapping_scales", "set_scales", "set_weights-omega", "cleared"])
def test_mapping_scales_set_against_the_config_round_trip(omega, change):
    # The setters take scales whatever mapping.weight_scaling_omega says (as in aihwkit); such a
    # tile was saved, and then refused by rpu.load ("do not match the tile's mapping config").
    cfg = InferenceRPUConfig(forward=IOParameters(is_perfect=True),
                             mapping=MappingParameter(weight_scaling_omega=omega))
    tile = rpu.InferenceTile(4, 3, cfg, seed=1)
    change(tile)
    loaded = from_bytes(to_bytes(tile))
    scales = tile.get_mapping_scales()
    if scales is None:
        assert loaded.get_mapping_scales() is None
    else:
        np.testing.assert_array_equal(loaded.get_mapping_scales(), scales)
    x = np.random.default_rng(1).uniform(-1, 1, (5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x, is_test=True), tile.forward(x, is_test=True))
