"""Seeds and random-number purposes: the Python side of rpu/_kernels/philox.h and rng_ids.h.

A tile owns one 64-bit Philox key, derived from its seed, and one operation counter that every
random call advances. No generator state exists anywhere else, so a tile's random stream is
fixed by (seed, counter): saving both is enough to continue the same stream after loading.
"""
from enum import IntEnum
import numbers

import numpy as np


class Purpose(IntEnum):
    """Purpose ids of random draws; mirrors ``rpu_rng_purpose`` in rpu/_kernels/rng_ids.h."""

    WEIGHT_INIT = 1
    FB_CONSTRUCTION = 2
    INP_NOISE = 3
    INP_STO_ROUND = 4
    OUT_NOISE = 5
    OUT_STO_ROUND = 6
    W_NOISE = 7
    W_NOISE_NEG_PASS = 8
    X_TRAIN = 9
    D_TRAIN = 10
    X_PROB_ROUND = 11
    D_PROB_ROUND = 12
    PULSE_NOISE = 13
    WRITE_NOISE = 14
    DEVICE_CONSTRUCTION = 15
    DECAY_DIFFUSE = 16
    RESET = 17
    DRIFT = 18
    INF_PROG_NOISE = 19
    INF_DRIFT_NU = 20
    INF_READ_NOISE = 21
    MODIFIER_NOISE = 22
    MODIFIER_ROUND = 23
    DROP_CONNECT = 24
    MODIFIER_PCM_EVENTS = 25
    INF_RELAXATION = 26


def resolve_seed(seed):
    """Return ``(seed, key)`` for a user seed.

    Parameters
    ----------
    seed : int >= 0 or None
        None draws fresh entropy from the operating system; the drawn value is returned so that
        the run can be replayed by passing it back.

    Returns
    -------
    seed : int
        The seed as recorded on the tile.
    key : int
        The 64-bit Philox key, mixed from the seed by NumPy's ``SeedSequence``.
    """
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    elif isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r} "
                        f"of type {type(seed).__name__}.")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed}.")
    key = int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0])
    return seed, key
