"""Saving and loading tiles in a safe, versioned file format (no pickle, no code execution).

A tile file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) read with
``allow_pickle=False``. It holds:

* ``__rpu_meta__``: a 0-d unicode array with JSON metadata: ``format`` ("rpu-tile"),
  ``format_version``, ``rpu_version``, ``tile_class``, the tile's sizes, flags, dtype, seed and
  operation counter (integers as decimal strings, since seeds exceed 64 bits), the learning
  rate, and ``rpu_config`` as produced by ``config.to_dict()``;
* ``weights``: the (out_size, x_size) weights;
* per-direction periphery arrays, ``fwd.<name>`` / ``bwd.<name>``, and the noise-management
  running values ``fwd.nm_state`` / ``bwd.nm_state``.

A loaded tile continues the same random stream as the saved one. :func:`to_bytes` and
:func:`from_bytes` give the same container as bytes in memory (the framework adapters keep it
in their state dicts).
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from rpu._version import __version__
from rpu.config import from_dict
from rpu.errors import ConfigError, TileFileError

FORMAT = "rpu-tile"
FORMAT_VERSION = 1
_META_KEY = "__rpu_meta__"


def _container(tile):
    """The arrays of a tile file: the tile's state plus the JSON metadata."""
    from rpu.tiles import TILE_CLASSES

    if type(tile).__name__ not in TILE_CLASSES or not isinstance(tile, TILE_CLASSES[type(tile).__name__]):
        raise TypeError(f"tile must be an rpu tile ({', '.join(TILE_CLASSES)}), got {type(tile).__name__}.")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "rpu_version": __version__,
            "tile_class": type(tile).__name__, "rpu_config": tile.rpu_config.to_dict()}
    meta.update(tile._state_meta())
    arrays = {name: np.asarray(value) for name, value in tile._state_arrays().items()}
    arrays[_META_KEY] = np.array(json.dumps(meta))
    return arrays


def save(tile, path):
    """Write ``tile`` to ``path`` (the name is used as given; ``.npz`` is not appended).

    The file is written to a temporary name next to ``path`` and then moved into place, so an
    interrupted save never leaves a half-written file under ``path``.
    """
    path = os.fspath(path)
    arrays = _container(tile)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".rpu-save-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no tile file at {path!r}.")
    return _read(path, repr(path), backend)


def to_bytes(tile):
    """The tile file of :func:`save` as bytes (an ``.npz`` archive), for keeping in memory."""
    buffer = io.BytesIO()
    np.savez(buffer, **_container(tile))
    return buffer.getvalue()


def from_bytes(data, *, backend="auto"):
    """The tile held by ``data`` (bytes, bytearray or a uint8 array from :func:`to_bytes`).

    Raises rpu.errors.TileFileError as :func:`load` does.
    """
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise TypeError(f"data must be bytes or a 1-d uint8 array, got a {data.dtype} array "
                            f"of shape {data.shape}.")
        data = data.tobytes()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes or a 1-d uint8 array, got {type(data).__name__}.")
    return _read(io.BytesIO(bytes(data)), "the tile bytes", backend)


def _read(source, path, backend):
    """Load a tile from a file name or file object; ``path`` names it in error messages."""
    from rpu.tiles import TILE_CLASSES

    try:
        with np.load(source, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise TileFileError(f"{path} is not a readable rpu tile file (a truncated or foreign "
                            f"file?): {exc}") from exc
    if _META_KEY not in arrays:
        raise TileFileError(f"{path} is an .npz archive but not an rpu tile file (no {_META_KEY}).")
    try:
        meta = json.loads(str(arrays.pop(_META_KEY)))
    except (ValueError, TypeError) as exc:
        raise TileFileError(f"{path}: the metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TileFileError(f"{path} is not an rpu tile file (format {meta.get('format') if isinstance(meta, dict) else None!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise TileFileError(f"{path} has tile format version {version!r}; this rpu "
                            f"({__version__}) reads versions 1 to {FORMAT_VERSION}.")
    cls = TILE_CLASSES.get(meta.get("tile_class"))
    if cls is None:
        raise TileFileError(f"{path}: unknown tile class {meta.get('tile_class')!r}; known: "
                            f"{', '.join(TILE_CLASSES)}.")
    try:
        config = from_dict(meta["rpu_config"])
        tile = cls(meta["out_size"], meta["in_size"], config, bias=meta["bias"],
                   in_trans=meta["in_trans"], out_trans=meta["out_trans"],
                   dtype=np.dtype(meta["dtype"]), seed=int(meta["seed"]), backend=backend)
        tile._load_state(meta, arrays)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise TileFileError(f"{path}: inconsistent tile file contents: {exc}") from exc
    return tile
