"""OneSidedUnitCell, BufferedTransferCompound and the Tiki-taka transfer options of rpu against
IBM aihwkit 1.1.0 (CPU).

Skipped unless ``AIHWKIT_PYTHON`` names an interpreter with aihwkit installed; aihwkit runs in a
worker process (tests/aihwkit_runner.py). aihwkit cannot be seeded, so stochastic results are
compared in distribution; deterministic set-ups (noise-free devices, dense pulse types,
perfect reads) must agree to float32 precision after every update call.

* hidden-parameter names of both cells, in order (spec §6.2);
* BufferedTransferCompound, deterministic set-ups (forgetting and keeping buffers, gamma,
  thres_scale, several pulses per write, several reads per transfer, row transfer): A, C, the
  buffer and W after each of 30 calls;
* TransferCompound (Tiki-taka) with a dense transfer write, deterministic: every read column
  reset (with_reset_prob = 1), row transfer with two rows per transfer, and chains of three
  devices (also of the buffered compound);
* OneSidedUnitCell without refresh, deterministic (MeanCount, DeterministicImplicit): g+, g-, W;
* the refresh: its period (refresh_every = 2 mini-batches) and the spec's example with the
  stochastic write, in distribution;
* the 4 x 16 regression task: rpu's final mse (mean over 5 seeds) at most 1.5 x aihwkit's.
"""
import json

import numpy as np
import pytest

import rpu
from aihwkit_runner import AIHWKIT_PYTHON, run_worker
from rpu.config import (BufferedTransferCompound, ChoppedTransferCompound, ConstantStepDevice,
                        DigitalRankUpdateRPUConfig, DynamicTransferCompound, IOParameters,
                        MixedPrecisionCompound, OneSidedUnitCell, PulseType, SoftBoundsDevice,
                        TransferCompound, UnitCellRPUConfig, UpdateParameters)

import test_onesided_buffered as tob

pytestmark = pytest.mark.skipif(
    not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit reference not available)"
)

NOISE_FREE = dict(dw_min_dtod=0.0, dw_min_std=0.0, up_down=0.0, up_down_dtod=0.0, w_max_dtod=0.0,
                  w_min_dtod=0.0, reset_std=0.0)
BL1 = dict(pulse_type="MEAN_COUNT", desired_bl=1, update_bl_management=False,
           update_management=False)
DENSE_TT = dict(pulse_type="MEAN_COUNT")  # Tiki-taka's transfer write, dense (deterministic)


def _transfer(kind, transfer_update=BL1, n_devices=2, **cell):
    """A transfer compound set-up on noise-free constant-step devices, A updated with dense
    pulses (BL 7), lr 0.02, weights from 0."""
    return dict(kind=kind, n_devices=n_devices,
                device=dict(cls="ConstantStep", dw_min=0.01, w_max=0.4, w_min=-0.4), cell=cell,
                transfer_update=transfer_update, update=dict(pulse_type="MEAN_COUNT", desired_bl=7),
                lr=0.02)


CASES = {
    "buffered-plain": _transfer("buffered", fast_lr=0.05, transfer_every=2.0,
                                units_in_mbatch=False, transfer_lr=40.0),
    "buffered-keep-gamma": _transfer("buffered", fast_lr=0.05, transfer_every=0.5, transfer_lr=30.0,
                                     forget_buffer=False, momentum=0.3, gamma=0.3, thres_scale=2.0),
    "buffered-several-pulses": _transfer("buffered", dict(BL1, desired_bl=3), fast_lr=0.05,
                                         transfer_every=1.0, units_in_mbatch=False,
                                         transfer_lr=60.0, thres_scale=0.5, momentum=0.05),
    # several columns per transfer (wrapping around the 4 columns), and row transfer
    "buffered-three-reads": _transfer("buffered", fast_lr=0.05, transfer_every=2.0,
                                      units_in_mbatch=False, transfer_lr=40.0,
                                      n_reads_per_transfer=3),
    "buffered-rows": _transfer("buffered", fast_lr=0.05, transfer_every=2.0, units_in_mbatch=False,
                               transfer_lr=40.0, transfer_columns=False, n_reads_per_transfer=2,
                               momentum=0.2),
    "buffered-rows-several-pulses": _transfer("buffered", dict(BL1, desired_bl=3), fast_lr=0.05,
                                              transfer_every=1.0, units_in_mbatch=False,
                                              transfer_lr=60.0, thres_scale=0.5, momentum=0.05,
                                              transfer_columns=False),
    # Tiki-taka: every read column of A reset (to the reset value 0) after its read; two rows
    # per transfer
    "tt-reset": _transfer("tt", DENSE_TT, fast_lr=0.2, transfer_every=2.0, units_in_mbatch=False,
                          transfer_lr=6.3, with_reset_prob=1.0),
    "tt-rows": _transfer("tt", DENSE_TT, fast_lr=0.2, transfer_every=2.0, units_in_mbatch=False,
                         transfer_lr=6.3, transfer_columns=False, n_reads_per_transfer=2),
    # transfer chains of three devices (explicit periods: aihwkit's default for the later
    # devices uses d_size where its documentation, and rpu, use x_size)
    "tt-three-devices": _transfer("tt", DENSE_TT, 3, fast_lr=0.2,
                                  transfer_every_vec=[1.0, 3.0, 0.0], units_in_mbatch=False,
                                  transfer_lr_vec=[6.3, 30.3, 1.0], gamma=0.5),
    "buffered-three-devices": _transfer("buffered", BL1, 3, fast_lr=0.05,
                                        transfer_every_vec=[1.0, 2.0, 0.0], units_in_mbatch=False,
                                        transfer_lr_vec=[40.0, 60.0, 1.0], momentum=0.1,
                                        gamma=0.2),
    # the chopped compounds with periodic choppers: columns, and row transfer (the input
    # choppers on the rows, the buffers along them)
    "c-ttv2-columns": _transfer("chopped", in_chop_prob=0.5, in_chop_random=False, fast_lr=0.1,
                                auto_scale=True, momentum=0.2, transfer_lr=40.0,
                                out_chop_prob=1.0),
    "c-ttv2-rows": _transfer("chopped", in_chop_prob=0.5, in_chop_random=False, fast_lr=0.1,
                             auto_scale=True, momentum=0.2, transfer_lr=40.0, out_chop_prob=1.0,
                             transfer_columns=False),
    "agad-rows": _transfer("dynamic", in_chop_prob=0.25, in_chop_random=False, fast_lr=0.1,
                           auto_scale=True, transfer_lr=40.0, forget_buffer=False, momentum=0.1,
                           transfer_columns=False),
    "onesided-mean-count": dict(
        kind="onesided", device=dict(cls="SoftBounds", dw_min=0.01, w_max=0.4, w_min=-0.2),
        cell=dict(), update=dict(pulse_type="MEAN_COUNT", desired_bl=7), lr=0.02, w0=True),
    # g+ mirrored from g- (asymmetric steps and bounds): aihwkit's code swaps g+'s own step
    # scales, mirrors its own bounds and takes g-'s slopes
    "onesided-copy-inverted": dict(
        kind="onesided",
        device=dict(cls="SoftBounds", dw_min=0.01, w_max=0.4, w_min=-0.2, up_down=0.3),
        cell=dict(copy_inverted=True), update=dict(pulse_type="MEAN_COUNT", desired_bl=7),
        lr=0.02, w0=True),
    # a OneSidedUnitCell as the analog device of a MixedPrecisionCompound (as in the PCM
    # preset), its writes the transfers' rows. (BL 31: with BL 7 the writes' counts of whole
    # steps, BL |n| / max|n|, often land on rounding ties, which the last bit decides.)
    "mp-onesided": dict(
        kind="mp-onesided", device=dict(cls="ConstantStep", dw_min=0.01, w_max=0.4, w_min=-0.2),
        cell=dict(), update=dict(pulse_type="MEAN_COUNT", desired_bl=31), lr=0.2, w0=True),
    # transfer_lr * lr = 40 * 0.01 in float32 (0.39999998, not 0.4): with reads and buffers on
    # the grid of dw_min, a buffer's trunc(h / threshold) often lands on a whole number, where
    # the last bit of the transfer's learning rate decides the count
    "buffered-float32-lr": dict(
        _transfer("buffered", dict(BL1, desired_bl=3), fast_lr=0.5, transfer_every=2.0,
                  units_in_mbatch=False, transfer_lr=40.0, momentum=0.5),
        device=dict(cls="ConstantStep", dw_min=0.02, w_max=0.9, w_min=-0.4), lr=0.01, w0=True),
    "onesided-implicit": dict(
        kind="onesided", device=dict(cls="SoftBounds", dw_min=0.01, w_max=0.4, w_min=-0.2),
        cell=dict(), update=dict(pulse_type="DETERMINISTIC_IMPLICIT", desired_bl=7), lr=0.02,
        w0=True),
}
D_SIZE, X_SIZE, N_CALLS = 5, 4, 30
REFRESH_ROWS = 3000
SEEDS = tuple(range(5))

# The case's configuration, built from the same text in aihwkit's worker (with aihwkit's
# classes) and in this process (with rpu's, which keep aihwkit's names): both sides get one config.
CONFIG_SOURCE = r'''
def device(spec):
    spec = dict(spec)
    return CLASSES[spec.pop("cls")](**{**NOISE_FREE, **spec})


def update(spec):
    spec = dict(spec)
    if "pulse_type" in spec:
        spec["pulse_type"] = PulseType[spec["pulse_type"]]
    return UpdateParameters(**spec)


def build(case):
    dev = device(case["device"])
    if case["kind"] in ("buffered", "tt", "chopped", "dynamic"):
        cls = {"buffered": BufferedTransferCompound, "tt": TransferCompound,
               "chopped": ChoppedTransferCompound,
               "dynamic": DynamicTransferCompound}[case["kind"]]
        cell = cls(unit_cell_devices=[dev] * case.get("n_devices", 2),
                   transfer_forward=IOParameters(is_perfect=True),
                   transfer_update=update(case["transfer_update"]), **case["cell"])
    else:
        cell = OneSidedUnitCell(unit_cell_devices=[dev], **case["cell"])
    if case["kind"] == "mp-onesided":
        return DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=cell),
                                          update=update(case["update"]))
    return UnitCellRPUConfig(device=cell, update=update(case["update"]))
'''

WORKER_SOURCE = r'''
import json, sys
import numpy as np
import torch
from aihwkit.simulator.tiles import AnalogTile
from aihwkit.simulator.configs import UnitCellRPUConfig, DigitalRankUpdateRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice, SoftBoundsDevice
from aihwkit.simulator.configs.compounds import (OneSidedUnitCell, BufferedTransferCompound,
                                                 TransferCompound, MixedPrecisionCompound,
                                                 ChoppedTransferCompound,
                                                 DynamicTransferCompound)
from aihwkit.simulator.parameters import IOParameters, UpdateParameters
from aihwkit.simulator.parameters.enums import (PulseType, NoiseManagementType,
                                                BoundManagementType)

NOISE_FREE = {}  # filled from the spec
CLASSES = {"ConstantStep": ConstantStepDevice, "SoftBounds": SoftBoundsDevice}


def t32(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32).copy())


''' + CONFIG_SOURCE + r'''

def hidden(tile):
    names = list(tile.tile.get_hidden_parameter_names())
    values = tile.tile.get_hidden_parameters().detach().cpu().numpy()
    return dict(zip(names, values))


def regression_config(name):
    if name == "onesided":
        return UnitCellRPUConfig(device=OneSidedUnitCell(unit_cell_devices=[SoftBoundsDevice()],
                                                         refresh_every=1))
    return UnitCellRPUConfig(device=BufferedTransferCompound(
        unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()],
        transfer_forward=IOParameters(noise_management=NoiseManagementType.NONE,
                                      bound_management=BoundManagementType.NONE)))


def main(in_path, out_path):
    data = np.load(in_path)
    spec = json.loads(str(data["spec"]))
    NOISE_FREE.update(spec["noise_free"])
    out = {}
    for name in ("onesided", "buffered"):
        cfg = regression_config(name)
        tile = AnalogTile(4, 3, UnitCellRPUConfig(device=type(cfg.device)(
            unit_cell_devices=[ConstantStepDevice()] * len(cfg.device.unit_cell_devices))))
        out["names_" + name] = np.array(json.dumps(list(tile.tile.get_hidden_parameter_names())))
    for key, case in spec["cases"].items():
        tile = AnalogTile(spec["d"], spec["x"], build(case))
        tile.tile.set_weights(t32(data[f"{key}_W0"]))
        tile.tile.set_learning_rate(case["lr"])
        for call in range(spec["calls"]):
            tile.tile.update(t32(data[f"{key}_X{call}"]), t32(data[f"{key}_D{call}"]), False)
            h = hidden(tile)
            for k in h:
                if k.startswith(("hidden_weights_", "buffered_FP_weight", "running_mean_weight",
                                 "past_mean_weight")):
                    out[f"{key}_{k}_{call}"] = h[k]
            out[f"{key}_W_{call}"] = tile.tile.get_weights().numpy()
    # the refresh: period (2 mini-batches of 2) and the spec's example, stochastic write
    rows = spec["refresh_rows"]
    dev = device(dict(cls="ConstantStep", dw_min=0.01, w_max=1.0, w_min=-1.0))
    cell = OneSidedUnitCell(unit_cell_devices=[dev], refresh_every=2, units_in_mbatch=True,
                            refresh_forward=IOParameters(is_perfect=True),
                            refresh_update=UpdateParameters(desired_bl=100,
                                                            update_bl_management=False,
                                                            update_management=False))
    tile = AnalogTile(rows, 1, UnitCellRPUConfig(device=cell))
    tile.tile.set_weights(torch.zeros(rows, 1))
    names = list(tile.tile.get_hidden_parameter_names())
    hp = tile.tile.get_hidden_parameters()
    hp[names.index("hidden_weights_1")] = t32(data["refresh_gp"])
    hp[names.index("hidden_weights_0")] = t32(data["refresh_gm"])
    tile.tile.set_hidden_parameters(hp)
    tile.tile.set_learning_rate(0.01)
    for call in range(2):
        tile.tile.update(torch.zeros(2, 1), torch.zeros(2, rows), False)
        h = hidden(tile)
        out[f"refresh_gp_{call}"] = h["hidden_weights_1"]
        out[f"refresh_gm_{call}"] = h["hidden_weights_0"]
    # regression
    for name in ("onesided", "buffered"):
        for seed in spec["seeds"]:
            X, Y = t32(data[f"X{seed}"]), t32(data[f"Y{seed}"])
            tile = AnalogTile(4, 16, regression_config(name))
            tile.tile.set_weights(torch.zeros(4, 16))
            tile.tile.set_learning_rate(0.05)
            mse0 = float(((tile.tile.forward(X, False, False, False) - Y) ** 2).mean())
            for _ in range(5):
                for b in range(0, X.shape[0], 10):
                    x = X[b:b + 10]
                    y = tile.tile.forward(x, False, False, False)
                    tile.tile.update(x, y - Y[b:b + 10], False)
            mse = float(((tile.tile.forward(X, False, False, False) - Y) ** 2).mean())
            out[f"mse_{name}_{seed}"] = np.array([mse0, mse])
    np.savez(out_path, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''


def _rpu_config(case):
    # this module imports rpu's classes under aihwkit's names (and NOISE_FREE)
    namespace = dict(globals(), CLASSES={"ConstantStep": ConstantStepDevice,
                                         "SoftBounds": SoftBoundsDevice})
    exec(CONFIG_SOURCE, namespace)
    return namespace["build"](case)


def _refresh_pairs():
    return (np.tile([0.8, 0.6, 0.3], REFRESH_ROWS // 3).reshape(-1, 1).astype(np.float32),
            np.tile([0.4, 0.3, 0.8], REFRESH_ROWS // 3).reshape(-1, 1).astype(np.float32))


@pytest.fixture(scope="module")
def data():
    arrays = {}
    rng = np.random.default_rng(3)
    for key, case in CASES.items():
        w0 = rng.uniform(-0.3, 0.3, (D_SIZE, X_SIZE))
        arrays[f"{key}_W0"] = (w0 if case.get("w0") else 0 * w0).astype(np.float32)
        for call in range(N_CALLS):
            m = int(rng.integers(1, 7))
            arrays[f"{key}_X{call}"] = rng.uniform(-1, 1, (m, X_SIZE)).astype(np.float32)
            arrays[f"{key}_D{call}"] = rng.uniform(-1, 1, (m, D_SIZE)).astype(np.float32)
    arrays["refresh_gp"], arrays["refresh_gm"] = _refresh_pairs()
    for seed in SEEDS:
        arrays[f"X{seed}"], arrays[f"Y{seed}"] = tob.regression_task(seed)
    return arrays


@pytest.fixture(scope="module")
def aihwkit(data):
    spec = {"cases": CASES, "d": D_SIZE, "x": X_SIZE, "calls": N_CALLS,
            "refresh_rows": REFRESH_ROWS, "seeds": list(SEEDS), "noise_free": NOISE_FREE}
    return run_worker(WORKER_SOURCE, spec, data, prefix="rpu-aihwkit-onesided-")


@pytest.mark.parametrize("name", ["onesided", "buffered"])
def test_hidden_parameter_names_match_aihwkit(aihwkit, name):
    make = tob.onesided_config if name == "onesided" else tob.buffered_config
    tile = rpu.AnalogTile(4, 3, make(device=ConstantStepDevice), seed=1)
    ours = tile.get_hidden_parameter_names()
    assert ours == json.loads(str(aihwkit["names_" + name]))


@pytest.mark.parametrize("key", list(CASES))
def test_deterministic_runs_match_aihwkit(aihwkit, data, key):
    case = CASES[key]
    tile = rpu.AnalogTile(D_SIZE, X_SIZE, _rpu_config(case), seed=1)
    tile.set_weights(data[f"{key}_W0"])
    tile.set_learning_rate(case["lr"])
    for call in range(N_CALLS):
        tile.update(data[f"{key}_X{call}"], data[f"{key}_D{call}"])
        h = tile.get_hidden_parameters()
        for k in h:
            if k.startswith(("hidden_weights_", "buffered_FP_weight", "running_mean_weight",
                             "past_mean_weight")):
                np.testing.assert_allclose(h[k], aihwkit[f"{key}_{k}_{call}"], atol=1e-6,
                                           err_msg=f"{k} after call {call}")
        np.testing.assert_allclose(tile.get_weights(), aihwkit[f"{key}_W_{call}"], atol=2e-6)
    if case["kind"] in ("buffered", "tt", "chopped", "dynamic"):
        assert np.count_nonzero(h["hidden_weights_1"]) >= 10
        # the last device of a chain was written too
        n = case.get("n_devices", 2)
        assert np.count_nonzero(h[f"hidden_weights_{n - 1}"]) >= 3


def test_refresh_matches_aihwkit_in_distribution(aihwkit):
    """refresh_every = 2 mini-batches of 2: nothing after the first call; after the second,
    the example (0.8, 0.4) -> (~0.4, 0), (0.6, 0.3) kept, (0.3, 0.8) -> (0, ~0.5), with
    Binomial(100, q) pulses of 0.01 in both simulators."""
    gp, gm = _refresh_pairs()
    dev = ConstantStepDevice(**NOISE_FREE, dw_min=0.01, w_max=1.0, w_min=-1.0)
    cell = OneSidedUnitCell(unit_cell_devices=[dev], refresh_every=2, units_in_mbatch=True,
                            refresh_forward=IOParameters(is_perfect=True),
                            refresh_update=UpdateParameters(desired_bl=100,
                                                            update_bl_management=False,
                                                            update_management=False))
    tile = rpu.AnalogTile(REFRESH_ROWS, 1, UnitCellRPUConfig(device=cell), seed=4)
    tile.set_weights(np.zeros((REFRESH_ROWS, 1)))
    h = tile.get_hidden_parameters()
    h["hidden_weights_1"], h["hidden_weights_0"] = gp, gm
    tile.set_hidden_parameters(h)
    tile.set_learning_rate(0.01)
    for call in range(2):
        tile.update(np.zeros((2, 1)), np.zeros((2, REFRESH_ROWS)))
        h = tile.get_hidden_parameters()
        ours = (h["hidden_weights_1"].ravel(), h["hidden_weights_0"].ravel())
        theirs = (aihwkit[f"refresh_gp_{call}"].ravel(), aihwkit[f"refresh_gm_{call}"].ravel())
        if call == 0:
            for a, b, start in zip(ours, theirs, (gp, gm)):
                np.testing.assert_array_equal(a, start.ravel())
                np.testing.assert_array_equal(b, start.ravel())
            continue
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a[1::3], b[1::3], atol=1e-6)  # kept
        for a, b in ((ours[1][0::3], theirs[1][0::3]), (ours[0][2::3], theirs[0][2::3])):
            np.testing.assert_array_equal(a, 0)  # reset (reset = 0, reset_std = 0)
            np.testing.assert_array_equal(b, 0)
        for a, b in ((ours[0][0::3], theirs[0][0::3]), (ours[1][2::3], theirs[1][2::3])):
            se = np.sqrt(a.var() / a.size + b.var() / b.size)
            assert abs(a.mean() - b.mean()) < 4.5 * se, (a.mean(), b.mean())
            assert 0.75 < a.var() / b.var() < 1.33  # 1000 rows each: about 4.5 sd of ln F


@pytest.mark.parametrize("name", ["onesided", "buffered"])
def test_regression_is_no_worse_than_aihwkit(aihwkit, name):
    make = tob.LEARN[name][0]
    ours = np.array([tob.train_regression(make, seed) for seed in SEEDS])
    theirs = np.array([aihwkit[f"mse_{name}_{seed}"] for seed in SEEDS])
    np.testing.assert_allclose(ours[:, 0], theirs[:, 0], rtol=0.05)
    assert ours[:, 1].mean() <= 1.5 * theirs[:, 1].mean(), (ours[:, 1], theirs[:, 1])
