"""Exception types raised by rpu.

Every error that rpu raises on purpose derives from one of the standard Python exceptions, so
callers that already catch ``ValueError`` or ``TypeError`` keep working, while callers that want to
tell rpu's checks apart can catch these classes.
"""


class ConfigError(ValueError):
    """An RPU configuration holds a value outside its allowed range or of the wrong kind.

    The message names the field (with its dotted path inside the config, e.g.
    ``forward.out_res``), the value that came, and what is allowed.
    """


class TileFileError(ValueError):
    """A saved tile file is truncated, corrupted, of a foreign format or of an unknown version."""
