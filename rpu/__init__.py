"""rpu: a fast, framework-free simulator of analog in-memory computing.

Tiles take and return NumPy arrays; configuration classes keep IBM aihwkit's names::

    import rpu
    from rpu.config import SingleRPUConfig, IOParameters
    tile = rpu.AnalogTile(64, 128, SingleRPUConfig(forward=IOParameters(out_noise=0.02)), seed=1)
    y = tile.forward(x)           # x: (..., 128) -> y: (..., 64)
    rpu.save(tile, "tile.npz"); tile = rpu.load("tile.npz")
"""
from rpu._version import __version__
from rpu import config
from rpu.errors import ConfigError, TileFileError, TileMemoryError
from rpu.tiles import AnalogTile, FloatingPointTile, InferenceTile, TileArray
from rpu.serialization import load, save
from rpu._info import show_config

__all__ = ["__version__", "config", "ConfigError", "TileFileError", "TileMemoryError", "AnalogTile",
           "InferenceTile", "FloatingPointTile", "TileArray", "save", "load", "show_config"]
