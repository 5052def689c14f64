"""The NumPy tile API: analog and floating-point crossbar tiles."""
from rpu.tiles.analog import AnalogTile
from rpu.tiles.floating_point import FloatingPointTile

TILE_CLASSES = {cls.__name__: cls for cls in (AnalogTile, FloatingPointTile)}

__all__ = ["AnalogTile", "FloatingPointTile", "TILE_CLASSES"]
