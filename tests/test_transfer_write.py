"""A transfer's write from its pulse counts (``DeviceArray.write_counts``, ``_core.write_counts``).

The write stands for a pulsed update: sample k has x = the unit vector at column ``cols[k]`` and
d = -counts[:, k]. When every count fires with certainty (BL = 1), the CPU core applies the pulses
straight from the counts; otherwise ``write_counts`` builds that x and d and runs the general
update. Each case below runs both ways on the same device and compares weights, hidden
parameters and persistent weights bit for bit: the general path is forced by making the core's
entry decline.
"""
import numpy as np
import pytest

from rpu import _core
from rpu.backends import resolve_backend
from rpu.config import (ConstantStepDevice, PiecewiseStepDevice, SoftBoundsDevice,
                        UpdateParameters, build_config)
from rpu.tiles import AnalogTile
from rpu.tiles._device_array import DeviceArray

BL1 = dict(desired_bl=1, update_bl_management=False, update_management=False)


def _counts(rng, d, m, rows_on, max_n=1):
    """(d, m) int32 counts in -max_n..max_n on the rows `rows_on`; every sample has one."""
    counts = np.zeros((d, m), dtype=np.int32)
    counts[rows_on] = rng.integers(-max_n, max_n + 1, (len(rows_on), m))
    counts[rows_on[0], counts[rows_on].any(axis=0) == 0] = 1
    return counts


def _write(device, up, dtype, counts, cols, lr, monkeypatch, direct, d=12, x=10):
    arr = DeviceArray(device, up, d, x, dtype, resolve_backend("cpu")[1], 77, 2)
    weights = np.random.default_rng(3).uniform(-0.4, 0.4, (d, x)).astype(dtype)
    arr.on_set_weights(weights, 5, 0, 2)
    start = weights.copy()
    taken = []
    core_write = _core.write_counts

    def spy(*args, **kwargs):
        done = core_write(*args, **kwargs) if direct else False
        taken.append(done)
        return done

    with monkeypatch.context() as patch:
        patch.setattr(_core, "write_counts", spy)
        arr.write_counts(weights, cols, counts, lr, 11, 3, 2, up=up, noise_key=13)
    persistent = None if arr.persistent is None else arr.persistent.copy()
    return weights, arr.hidden.copy(), persistent, taken, start


CASES = {
    # name: (device, update parameters, dtype, rows that pulse, max |n|, step, expected direct)
    "soft bounds, every row": (SoftBoundsDevice(dw_min=0.01), UpdateParameters(**BL1),
                               np.float32, range(12), 1, 1.0, True),
    "soft bounds, three rows": (SoftBoundsDevice(dw_min=0.01), UpdateParameters(**BL1),
                                np.float32, [1, 6, 10], 1, 1.0, True),
    "float64, five rows": (SoftBoundsDevice(dw_min=0.01), UpdateParameters(**BL1), np.float64,
                           [0, 2, 3, 7, 11], 1, 1.0, True),
    "write noise": (SoftBoundsDevice(dw_min=0.01, write_noise_std=0.5), UpdateParameters(**BL1),
                    np.float32, range(12), 1, 1.0, True),
    "constant step": (ConstantStepDevice(dw_min=0.02, dw_min_std=0.5), UpdateParameters(**BL1),
                      np.float64, range(12), 1, 1.0, True),
    "piecewise step": (PiecewiseStepDevice(dw_min=0.02, piecewise_up=[1.0, 0.5, 0.2],
                                           piecewise_down=[0.3, 0.8, 1.0]),
                       UpdateParameters(**BL1), np.float32, range(12), 1, 1.0, True),
    "managed (AGAD's write)": (SoftBoundsDevice(dw_min=0.01),
                               UpdateParameters(desired_bl=1, update_bl_management=True,
                                                update_management=True),
                               np.float32, range(12), 1, 1.0, True),
    "negative learning rate": (SoftBoundsDevice(dw_min=0.01), UpdateParameters(**BL1),
                               np.float32, range(12), 1, -1.0, True),
    "probabilities below one": (SoftBoundsDevice(dw_min=0.01), UpdateParameters(**BL1),
                                np.float32, range(12), 1, 0.5, False),
    "several pulses a sample": (SoftBoundsDevice(dw_min=0.01),
                                UpdateParameters(desired_bl=3, update_bl_management=False,
                                                 update_management=False),
                                np.float32, range(12), 3, 1.0, False),
    "stochastic rounding": (SoftBoundsDevice(dw_min=0.01),
                            UpdateParameters(res=0.3, sto_round=True, **BL1),
                            np.float32, range(12), 1, 1.0, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_write_from_counts_is_the_pulsed_update_it_stands_for(case, monkeypatch):
    device, up, dtype, rows_on, max_n, step, direct = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    m = 15
    counts = _counts(rng, 12, m, list(rows_on), max_n)
    cols = rng.integers(0, 10, m).astype(np.int32)
    arr = DeviceArray(device, up, 12, 10, dtype, resolve_backend("cpu")[1], 77, 2)
    lr = step * arr.granularity
    fast = _write(device, up, dtype, counts, cols, lr, monkeypatch, direct=True)
    general = _write(device, up, dtype, counts, cols, lr, monkeypatch, direct=False)
    assert fast[3] == [direct], f"{case}: the core's write path was taken: {fast[3]}"
    assert general[3] == [False]
    for got, expected, what in zip(fast[:3], general[:3], ("weights", "hidden", "persistent")):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, expected, err_msg=f"{case}: {what}")
    # the pulses moved exactly the written rows' weights in the written columns
    moved = fast[0] != fast[4]
    assert moved.any()
    written = np.zeros((12, 10), dtype=bool)
    for k in range(m):
        written[counts[:, k] != 0, cols[k]] = True
    assert not (moved & ~written).any()


def test_write_counts_refuses_inconsistent_arguments():
    d, x, m = 3, 4, 2
    stored = np.zeros((d, x), np.float32)
    hidden = np.zeros((4, d, x), np.float32)
    idx = (0, 1, 2, 3, -1, -1, -1, -1, -1)
    up = {"mode": 0, "x_res": 0.0, "d_res": 0.0, "sto_round": 0, "lr_sign": 1}
    ok = dict(cols=np.array([0, 1], np.int32), counts=np.ones((d, m), np.int32),
              row_index=np.arange(d, dtype=np.int32), BL=np.ones(m, np.int32), A=np.ones(m),
              B=np.ones(m))
    for name, bad in (("counts", np.ones((d + 1, m), np.int32)),
                      ("row_index", np.arange(d - 1, dtype=np.int32)),
                      ("BL", np.ones(m + 1, np.int32)),
                      ("cols", np.array([0, x], np.int32))):
        args = dict(ok, **{name: bad})
        with pytest.raises(ValueError, match="write_counts"):
            _core.write_counts(stored, stored, hidden, idx, args["cols"], args["counts"],
                               args["row_index"], args["BL"], args["A"], args["B"], up, {}, 1, 0,
                               1)
    assert not stored.any()


@pytest.mark.parametrize("alg", ["c-ttv2", "agad"])
def test_compound_training_is_the_same_through_either_write(alg, monkeypatch):
    """A chopped compound's transfers end to end, with the core's write path and without."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 16)).astype(np.float32)
    D = rng.uniform(-0.2, 0.2, (200, 8)).astype(np.float32)
    states = []
    for direct in (True, False):
        with monkeypatch.context() as patch:
            if not direct:
                patch.setattr(_core, "write_counts", lambda *args, **kwargs: False)
            tile = AnalogTile(8, 16, build_config(alg, SoftBoundsDevice), seed=4)
            tile.set_learning_rate(0.5)
            for s in range(0, 200, 10):
                tile.update(X[s:s + 10], D[s:s + 10])
            states.append((tile.get_weights(), tile.get_hidden_parameters()))
    (w_fast, h_fast), (w_general, h_general) = states
    np.testing.assert_array_equal(w_fast, w_general)
    for name in h_general:
        np.testing.assert_array_equal(h_fast[name], h_general[name], err_msg=name)
    assert np.abs(h_fast["hidden_weights_1"]).max() > 0, "no transfer reached C"
