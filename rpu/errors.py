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


class TileMemoryError(MemoryError):
    """A tile would not fit in the memory available to this process.

    Raised up front, before any large array is allocated, instead of letting the operating
    system kill the process when the pages are first touched. The message gives the tile's
    sizes, the estimated bytes and the bytes available; set ``RPU_SKIP_MEMORY_CHECK=1`` to skip
    the check (for example where ``/proc/meminfo`` under-reports what a job may use).
    """
