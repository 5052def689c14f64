"""The chopper schedule of the chopped transfer compounds (TTv2, c-TTv2, AGAD) against an
event-by-event reference of spec training.md §4.6/§4.7."""
import itertools
import math
import zlib

import numpy as np
import pytest

from rpu.config import SoftBoundsDevice, build_config
from rpu.tiles import AnalogTile


def chopper_schedule_loop(state, m, events, cols, op):
    """Spec §4.6/§4.7 chopper switching, event by event, as aihwkit's C++ loop does it; returns
    what TransferCell._chopper_schedule returns and the switched flags and counter."""
    cell = state.cell
    d, x = state.shape
    c_in, c_out, switched = state.in_chopper.copy(), state.out_chopper.copy(), state.in_switched.copy()
    sx = np.empty((m, x), dtype=state.dtype)
    sd = np.empty((m, d), dtype=state.dtype)
    ev_in = np.zeros(events.size, dtype=bool)
    ev_out = np.zeros((events.size, d), dtype=bool)
    ev_switched = np.zeros(events.size, dtype=bool)
    coin = state.chop_draws.uniform(max(events.size, 1), op)
    n_period = max(int(math.ceil(1.0 / cell.in_chop_prob)) if cell.in_chop_prob > 0 else 2, 2)
    counter = state.transfer_counter
    prev = 0
    for e, (b, j) in enumerate(zip(events, cols)):
        sx[prev:b + 1] = np.where(c_in, -1, 1)
        sd[prev:b + 1] = np.where(c_out, -1, 1)
        prev = b + 1
        ev_in[e], ev_out[e], ev_switched[e] = c_in[j], c_out, switched[j]
        switched[j] = False
        if state.dynamic:
            cur = counter % n_period + 1
            flip = cur == n_period or (cell.in_chop_random and coin[e] < cell.in_chop_prob)
            if flip:
                c_in[j] = not c_in[j]
                switched[j] = True
        elif cell.in_chop_prob > 0:
            if cell.in_chop_random:
                flip = coin[e] < cell.in_chop_prob
            else:
                flip = counter % n_period + 1 == n_period
            if flip:
                c_in[j] = not c_in[j]
        if j == x - 1:
            if cell.out_chop_prob > 0 and not state.dynamic:
                u = state.chop_draws.uniform(d, op, sub=1 + e)
                c_out = np.where(u < cell.out_chop_prob, ~c_out, c_out)
            counter += 1
    sx[prev:] = np.where(c_in, -1, 1)
    sd[prev:] = np.where(c_out, -1, 1)
    return sx, sd, ev_in, ev_out, (c_in, c_out, switched), ev_switched, counter


CASES = list(itertools.product(["c-ttv2", "agad"], [1, 3, 7, 9], [2, 5], [1, 4, 25], [0.0, 0.1, 0.5],
                               [True, False], [0.0, 0.3]))


@pytest.mark.parametrize("alg,x,d,m,in_prob,in_random,out_prob", CASES)
def test_schedule_matches_event_by_event_reference(alg, x, d, m, in_prob, in_random, out_prob):
    rng = np.random.default_rng(zlib.crc32(repr((alg, x, d, m, in_prob, in_random, out_prob)).encode()))
    cfg = build_config(alg, SoftBoundsDevice)
    cfg.device.in_chop_prob = in_prob
    cfg.device.in_chop_random = in_random
    cfg.device.out_chop_prob = out_prob
    cell = AnalogTile(d, x, cfg, seed=3)._devices
    cell.slice = int(rng.integers(0, x))
    cell.in_chopper = rng.random(x) < 0.5
    cell.out_chopper = rng.random(d) < 0.5
    cell.in_switched = rng.random(x) < 0.5
    cell.transfer_counter = int(rng.integers(0, 30))
    every = int(rng.integers(1, 4))
    events = np.flatnonzero(np.arange(1, m + 1) % every == 0)
    cols = (cell.slice + np.arange(events.size)) % x
    got = cell._chopper_schedule(m, events, cols, 5)
    want = chopper_schedule_loop(cell, m, events, cols, 5)
    for name, g, w in zip(("sx", "sd", "ev_in", "ev_out"), got[:4], want[:4]):
        np.testing.assert_array_equal(g, w, err_msg=name)
    for name, g, w in zip(("in_chopper", "out_chopper", "in_switched"), got[4], want[4]):
        np.testing.assert_array_equal(g, w, err_msg=name)
    np.testing.assert_array_equal(cell._ev_switched, want[5])
    assert cell.transfer_counter_next == want[6]
