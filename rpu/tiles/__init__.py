"""The NumPy tile API: analog, inference and floating-point crossbar tiles, and tile arrays."""
from rpu.tiles.analog import AnalogTile
from rpu.tiles.floating_point import FloatingPointTile
from rpu.tiles.inference import InferenceTile
from rpu.tiles.tile_array import TileArray

TILE_CLASSES = {cls.__name__: cls for cls in (AnalogTile, InferenceTile, FloatingPointTile, TileArray)}

__all__ = ["AnalogTile", "InferenceTile", "FloatingPointTile", "TileArray", "TILE_CLASSES"]
