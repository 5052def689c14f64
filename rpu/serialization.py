"""Saving and loading tiles in a safe, versioned, checksummed file format (no pickle, no code).

Format (version 2)
------------------
A tile file is a plain zip archive of ``.npy`` arrays, as written by :func:`numpy.savez`
(uncompressed), and is read with ``allow_pickle=False``: no entry can hold Python objects. It holds

* ``__rpu_meta__.npy``: a 0-d unicode array with one JSON object, the metadata:

  - ``format``: ``"rpu-tile"``; ``format_version``: 2; ``rpu_version``: the writer's version;
  - ``tile_class``: ``AnalogTile``, ``InferenceTile``, ``FloatingPointTile`` or ``TileArray``;
  - the tile's sizes, flags (``bias``, ``in_trans``, ``out_trans``), ``dtype``, ``seed`` and
    ``op_counter`` (the random stream's position; integers as decimal strings, since seeds
    exceed 64 bits), ``learning_rate``, and the class's own state (InferenceTile: scales,
    input range, programming state; TileArray: one such record per tile);
  - ``rpu_config``: the configuration as produced by ``config.to_dict()`` (plain JSON, read
    back by :func:`rpu.config.from_dict`, which only builds rpu's own config classes);
  - ``checksum``: ``{"algorithm": "sha256", "digest": <64 hex digits>}``, see below.

* one ``<name>.npy`` per state array, of a numeric or boolean dtype: ``weights`` (out_size,
  x_size); the devices' hidden parameters and counters (``hidden.*``, ``drift.*``, ``sub*``,
  ``extra.*``, ``counter.*``); the periphery's per-line draws ``fwd.<name>`` / ``bwd.<name>``
  and running noise-management values ``fwd.nm_state`` / ``bwd.nm_state``; the inference
  state (``inf.*``), including the periphery gradients of a ``backward`` whose ``update`` has
  not run yet (``inf.grad.*``; a TileArray's bias gradient ``bias_grad``); for a TileArray,
  each tile's arrays under ``tile.<i>.<o>.``.

  Not saved: the training forward's cache of its batch, including its output-bound mask (of an
  InferenceTile, or of each AnalogTile in a TileArray). A loaded InferenceTile that learns its
  input range or output scales needs the training ``forward`` of a batch again before that
  batch's ``backward`` (which otherwise raises a ValueError that says so); a loaded tile whose
  ``backward`` follows no forward of its batch does not mask the outputs at the bound.

The checksum is the SHA-256 of, in order: the metadata without its ``checksum`` entry as
canonical JSON (sorted keys, no spaces), then for each array in name order its name, dtype
(``dtype.str``, with byte order), shape and C-order bytes, each length-prefixed. It is checked
before anything in the file is used, so a flipped bit anywhere is refused; it guards against
corruption, not forgery (anyone may recompute it), and a forged file can still only hold
numbers and JSON, never code.

Version 1 files (before the checksum) load as before, without the integrity check. Newer
versions are refused with a message naming both versions.

A loaded tile continues the same random stream as the saved one: saving and loading between
two calls does not change any result (bit for bit). :func:`to_bytes` and :func:`from_bytes` give
the same container as bytes in memory (the framework adapters keep it in their state dicts).
"""
import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from rpu._files import move_into_place, replace_target
from rpu._version import __version__
from rpu.config import from_dict
from rpu.errors import ConfigError, TileFileError

FORMAT = "rpu-tile"
FORMAT_VERSION = 2
_ALGORITHM = "sha256"
# dtype kinds a tile file may hold: bool, integers, floats (no objects, strings, voids).
_ARRAY_KINDS = "biuf"
_META_KEY = "__rpu_meta__"


def _container(tile):
    """The arrays of a tile file: the tile's state plus the JSON metadata with its checksum."""
    from rpu.tiles import TILE_CLASSES

    if type(tile).__name__ not in TILE_CLASSES or not isinstance(tile, TILE_CLASSES[type(tile).__name__]):
        raise TypeError(f"tile must be an rpu tile ({', '.join(TILE_CLASSES)}), got {type(tile).__name__}.")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "rpu_version": __version__,
            "tile_class": type(tile).__name__, "rpu_config": tile.rpu_config.to_dict()}
    meta.update(tile._state_meta())
    # GPU tiles hold device arrays: bring each to the host
    arrays = {name: value.get() if hasattr(value, "__cuda_array_interface__") else np.asarray(value)
              for name, value in tile._state_arrays().items()}
    meta["checksum"] = {"algorithm": _ALGORITHM, "digest": _digest(meta, arrays)}
    arrays[_META_KEY] = np.array(json.dumps(meta))
    return arrays


def _file_path(path, name="path"):
    """``path`` as a str (bytes paths decoded as the file system does), or TypeError."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}.")
    return os.fsdecode(os.fspath(path))


def save(tile, path):
    """Write ``tile`` to ``path`` (the name is used as given; ``.npz`` is not appended).

    The file is written to a temporary name next to ``path`` and then moved into place, so an
    interrupted save never leaves a half-written file under ``path``. A symbolic link is
    followed (its target is replaced, the link stays); an existing file keeps its permissions.

    Raises
    ------
    TypeError
        ``tile`` is not an rpu tile, or ``path`` is not a path.
    FileNotFoundError
        The folder of ``path`` does not exist.
    PermissionError
        ``path`` is a file this process may not write.
    ValueError
        ``path`` names a folder or something other than a regular file (a device, a pipe):
        moving the file into place would replace it.
    """
    arrays = _container(tile)
    given = _file_path(path)
    target, existing = replace_target(given, f"cannot save to {given!r}")
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".rpu-save-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        move_into_place(tmp, target, existing)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_bytes(tile):
    """The tile file of :func:`save` as bytes (an ``.npz`` archive), for keeping in memory."""
    buffer = io.BytesIO()
    np.savez(buffer, **_container(tile))
    return buffer.getvalue()


def from_bytes(data, *, backend="auto"):
    """The tile held by ``data`` (bytes, bytearray or a 1-d uint8 array from :func:`to_bytes`).

    Raises rpu.errors.TileFileError as :func:`load` does.
    """
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise TypeError(f"data must be bytes or a 1-d uint8 array, got a {data.dtype} array "
                            f"of shape {data.shape}.")
        data = data.tobytes()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes or a 1-d uint8 array, got {type(data).__name__}.")
    source = io.BytesIO(bytes(data))
    if not zipfile.is_zipfile(source):
        raise TileFileError("the tile bytes are not a readable rpu tile file (an rpu tile file is "
                            "a zip archive of .npy arrays).")
    return _read(source, "the tile bytes", backend)


def load(path, *, backend="auto"):
    """Read a tile written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    rpu.errors.TileFileError
        The file is not an rpu tile file, is truncated or corrupted, comes from a newer format
        version, or holds inconsistent contents. Nothing in the file is ever executed.
    """
    path = _file_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no tile file at {path!r}.")
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise TileFileError(f"{path!r} is not a readable rpu tile file (a truncated or foreign "
                            f"file? an rpu tile file is a zip archive of .npy arrays).")
    return _read(path, repr(path), backend)


def _read(source, path, backend):
    """Load a tile from a file name or file object; ``path`` names it in error messages."""
    from rpu.tiles import TILE_CLASSES

    try:
        with np.load(source, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as exc:  # noqa: BLE001 -- whatever a damaged archive or .npy header raises
        # (BadZipFile, a CRC error, a header NumPy's parser chokes on, ...). allow_pickle=False
        # makes NumPy refuse object arrays and pickles with a ValueError before reading them.
        raise TileFileError(f"{path} is not a readable rpu tile file (a truncated or foreign "
                            f"file?): {type(exc).__name__}: {exc}") from exc
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # NumPy hands back other zip members as raw bytes
            raise TileFileError(f"{path}: member {name!r} is not a .npy array; a tile file holds "
                                f"only .npy arrays.")
    if _META_KEY not in arrays:
        raise TileFileError(f"{path} is an .npz archive but not an rpu tile file (no {_META_KEY}).")
    meta_array = arrays.pop(_META_KEY)
    if meta_array.dtype.kind != "U" or meta_array.ndim != 0:
        raise TileFileError(f"{path}: {_META_KEY} must be a 0-d unicode array, got dtype "
                            f"{meta_array.dtype} of shape {meta_array.shape}.")
    try:
        meta = json.loads(str(meta_array))
    except (ValueError, TypeError) as exc:
        raise TileFileError(f"{path}: the metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TileFileError(f"{path} is not an rpu tile file (format {meta.get('format') if isinstance(meta, dict) else None!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION or version < 1:
        raise TileFileError(f"{path} has tile format version {version!r}; this rpu "
                            f"({__version__}) reads versions 1 to {FORMAT_VERSION}.")
    for name, value in arrays.items():
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TileFileError(f"{path}: array {name!r} has dtype {value.dtype}; a tile file "
                                f"holds only numeric arrays.")
    if version >= 2:
        _verify(path, meta, arrays)
    cls = TILE_CLASSES.get(meta.get("tile_class")) if isinstance(meta.get("tile_class"), str) else None
    if cls is None:
        raise TileFileError(f"{path}: unknown tile class {meta.get('tile_class')!r}; known: "
                            f"{', '.join(TILE_CLASSES)}.")
    try:
        config = from_dict(meta["rpu_config"])
        # Built and filled on the CPU (the file's arrays are host arrays), then moved.
        tile = cls(meta["out_size"], meta["in_size"], config, bias=meta["bias"],
                   in_trans=meta["in_trans"], out_trans=meta["out_trans"],
                   dtype=np.dtype(meta["dtype"]), seed=int(meta["seed"]), backend="cpu")
        tile._load_state(meta, arrays)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise TileFileError(f"{path}: inconsistent tile file contents: {exc}") from exc
    return tile.to(backend)


def _digest(meta, arrays):
    """SHA-256 (hex) of the metadata (less ``checksum``) and the arrays: see the module docstring."""
    h = hashlib.sha256()

    def put(data):
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    body = {k: v for k, v in meta.items() if k != "checksum"}
    put(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        put(name.encode())
        put(a.dtype.str.encode())
        put(json.dumps(list(a.shape)).encode())
        put(a.tobytes(order="C"))
    return h.hexdigest()


def _verify(path, meta, arrays):
    checksum = meta.get("checksum")
    if not isinstance(checksum, dict) or checksum.get("algorithm") != _ALGORITHM \
            or not isinstance(checksum.get("digest"), str):
        raise TileFileError(f"{path}: format version {meta['format_version']} needs a checksum "
                            f"{{'algorithm': 'sha256', 'digest': ...}} in the metadata, got "
                            f"{checksum!r}.")
    if _digest(meta, arrays) != checksum["digest"]:
        raise TileFileError(f"{path}: checksum mismatch: the file was corrupted or edited after "
                            f"it was saved (SHA-256 of its metadata and arrays differs from the "
                            f"recorded one).")
