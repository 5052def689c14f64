"""Compound devices and training algorithms of rpu against IBM aihwkit 1.1.0 (CPU).

Skipped unless ``AIHWKIT_PYTHON`` names an interpreter with aihwkit installed. aihwkit runs in a
subprocess (one worker run for the whole module; the worker is written to a temporary file);
torch and aihwkit are never imported in the test process. aihwkit's random numbers cannot be
seeded, so stochastic results are compared in distribution.

* hidden-parameter names of every ``build_config`` algorithm, in order (spec §6.2);
* the spec's run examples: TTv2 and mixed precision are deterministic there and must agree to
  float32 precision; the Tiki-taka transfer probability is compared in distribution;
* the 4 x 16 regression task (2000 samples, 5 epochs, batch 10, lr 0.05, weights from 0) with
  every algorithm on ``SoftBoundsDevice``: rpu's final mse, averaged over 10 seeds (data
  sets), is at most 1.5 x aihwkit's (same data).
"""
import json

import numpy as np
import pytest

import test_compounds as tc
from aihwkit_runner import AIHWKIT_PYTHON, run_worker


pytestmark = pytest.mark.skipif(
    not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit reference not available)"
)

# The final mse of one run scatters by about 35 % of its mean (aihwkit and rpu alike; measured
# over 30 seeds: Tiki-taka 0.0326 +- 0.0116 in aihwkit, 0.0352 +- 0.0142 in rpu). With 3 seeds the
# ratio of the means crosses 1.5 in about one run in ten per algorithm (aihwkit cannot be
# seeded). 10 seeds were not enough either: rpu's fixed draw of TTv2 over seeds 0-9 is high
# (0.0336; 0.0245-0.0334 over other tile seeds) and aihwkit's mean ranged 0.022-0.031 over four
# runs, so one run in several crossed 1.5 (1.52). 20 seeds halve the variance of both means.
SEEDS = tuple(range(20))
TT_ROWS, TT_REPS = 100, 1000

WORKER_SOURCE = r'''
import json, sys
import numpy as np
import torch
from aihwkit.simulator.tiles import AnalogTile
from aihwkit.simulator.configs import (build_config, UnitCellRPUConfig,
                                       DigitalRankUpdateRPUConfig)
from aihwkit.simulator.configs.devices import SoftBoundsDevice, ConstantStepDevice
from aihwkit.simulator.configs.compounds import (TransferCompound, ChoppedTransferCompound,
                                                 MixedPrecisionCompound)
from aihwkit.simulator.parameters import IOParameters

NOISE_FREE = dict(dw_min_dtod=0.0, dw_min_std=0.0, up_down=0.0, up_down_dtod=0.0,
                  w_max_dtod=0.0, w_min_dtod=0.0)


def t32(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32).copy())


def build(alg):
    if alg == "sgd2":
        return build_config("sgd", SoftBoundsDevice, n_devices=2)
    return build_config(alg, SoftBoundsDevice)


def hidden(tile):
    names = list(tile.tile.get_hidden_parameter_names())
    values = tile.tile.get_hidden_parameters().detach().cpu().numpy()
    return dict(zip(names, values))


def main(in_path, out_path):
    data = np.load(in_path)
    spec = json.loads(str(data["spec"]))
    out = {}
    for alg in spec["algorithms"]:
        out["names_" + alg] = np.array(json.dumps(list(
            AnalogTile(4, 3, build(alg)).tile.get_hidden_parameter_names())))
        for seed in spec["seeds"]:
            X, Y = t32(data[f"X{seed}"]), t32(data[f"Y{seed}"])
            tile = AnalogTile(4, 16, build(alg))
            tile.set_weights(torch.zeros(4, 16))
            tile.set_learning_rate(0.05)
            mse0 = float(((tile.tile.forward(X, False, False, False) - Y) ** 2).mean())
            for _ in range(5):
                for b in range(0, X.shape[0], 10):
                    x = X[b:b + 10]
                    y = tile.tile.forward(x, False, False, False)
                    tile.tile.update(x, y - Y[b:b + 10], False)
            mse = float(((tile.tile.forward(X, False, False, False) - Y) ** 2).mean())
            out[f"mse_{alg}_{seed}"] = np.array([mse0, mse])

    perfect = IOParameters(is_perfect=True)
    # Tiki-taka example (spec 4.4)
    rows, reps = spec["tt_rows"], spec["tt_reps"]
    cell = TransferCompound(unit_cell_devices=[ConstantStepDevice(**NOISE_FREE),
                                               ConstantStepDevice(**NOISE_FREE)],
                            gamma=0.0, transfer_every=1.0, units_in_mbatch=False,
                            transfer_forward=perfect)
    tile = AnalogTile(rows, 2, UnitCellRPUConfig(device=cell))
    tile.tile.set_learning_rate(0.01)
    frac, a00 = [], []
    for _ in range(reps):
        tile.tile.set_weights(torch.zeros(rows, 2))
        tile.tile.update(t32([[1.0, 0.0]]), t32(np.full((1, rows), 0.5)), False)
        h = hidden(tile)
        frac.append(np.mean(np.rint(h["hidden_weights_1"][:, 0] / 0.001) == -1))
        a00.append(h["hidden_weights_0"][0, 0])
    out["tt_frac"] = np.array(frac)
    out["tt_a00"] = np.array(a00)
    # TTv2 example (spec 4.6)
    cell = ChoppedTransferCompound(unit_cell_devices=[ConstantStepDevice(**NOISE_FREE),
                                                      ConstantStepDevice(**NOISE_FREE)],
                                   in_chop_prob=0.0, transfer_forward=perfect)
    tile = AnalogTile(50, 2, UnitCellRPUConfig(device=cell))
    tile.tile.set_weights(torch.zeros(50, 2))
    tile.tile.set_learning_rate(0.1)
    tile.tile.update(t32([[1.0, 0.0]]), t32(np.full((1, 50), 0.5)), False)
    h = hidden(tile)
    for k in ("hidden_weights_0", "hidden_weights_1", "buffered_FP_weight_0"):
        out["ttv2_" + k] = h[k]
    out["ttv2_W"] = tile.tile.get_weights().numpy()
    # mixed-precision example (spec 4.8)
    cfg = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(
        device=ConstantStepDevice(**NOISE_FREE)))
    tile = AnalogTile(1, 1, cfg)
    tile.tile.set_weights(torch.zeros(1, 1))
    tile.tile.set_learning_rate(0.01)
    for call in range(2):
        tile.tile.update(t32(np.ones((4, 1))), t32(np.full((4, 1), 0.5)), False)
        out[f"mp_W{call}"] = tile.tile.get_weights().numpy()
        out[f"mp_chi{call}"] = hidden(tile)["hidden_weights_chi"]
    # transfers of 2 of 5 rows, before and after set_weights (which restarts at row 0)
    cfg = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(
        device=ConstantStepDevice(**dict(NOISE_FREE, dw_min=0.01, w_max=5.0, w_min=-5.0)),
        n_rows_per_transfer=2, transfer_every=1))
    tile = AnalogTile(5, 3, cfg)
    tile.tile.set_learning_rate(0.1)
    for phase in range(2):
        tile.tile.set_weights(torch.zeros(5, 3))
        for call in range(3 - phase):
            tile.tile.update(t32(np.ones((2, 3))), t32(np.ones((2, 5))), False)
        out[f"mp_rows_W{phase}"] = tile.tile.get_weights().numpy()
    # a vector cell of two devices with different steps: its granularity (0.02 + 0.005) / 2 in
    # float32, and the BL = ceil(lr / g) of a grown train from it
    from aihwkit.simulator.configs.compounds import VectorUnitCell
    from aihwkit.simulator.parameters import UpdateParameters
    from aihwkit.simulator.parameters.enums import PulseType
    devs = [ConstantStepDevice(**dict(NOISE_FREE, dw_min=g, w_max=5.0, w_min=-5.0))
            for g in (0.02, 0.005)]
    cfg = UnitCellRPUConfig(device=VectorUnitCell(unit_cell_devices=devs),
                            update=UpdateParameters(pulse_type=PulseType.MEAN_COUNT, desired_bl=3,
                                                    update_bl_management=False,
                                                    update_management=False, fixed_bl=False))
    tile = AnalogTile(2, 3, cfg)
    tile.tile.set_weights(torch.zeros(2, 3))
    tile.tile.set_learning_rate(0.2)
    tile.tile.update(t32(np.ones((1, 3))), t32(-np.ones((1, 2))), False)
    h = hidden(tile)
    out["vector_g_w0"], out["vector_g_w1"] = h["hidden_weights_0"], h["hidden_weights_1"]
    np.savez(out_path, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''


def run_aihwkit(spec, arrays):
    """Run this module's worker in aihwkit's interpreter; return its output arrays."""
    return run_worker(WORKER_SOURCE, spec, arrays, prefix="rpu-aihwkit-compounds-")


@pytest.fixture(scope="module")
def aihwkit():
    arrays = {}
    for seed in SEEDS:
        X, Y = tc.regression_task(seed)
        arrays[f"X{seed}"], arrays[f"Y{seed}"] = X, Y
    spec = {"algorithms": tc.ALGORITHMS + ["sgd"], "seeds": list(SEEDS), "tt_rows": TT_ROWS,
            "tt_reps": TT_REPS}
    return run_aihwkit(spec, arrays)


@pytest.mark.parametrize("alg", tc.ALGORITHMS)
def test_hidden_parameter_names_match_aihwkit(aihwkit, alg):
    import rpu

    names = json.loads(str(aihwkit["names_" + alg]))
    assert names == tc.EXPECTED_NAMES[alg]
    assert rpu.AnalogTile(4, 3, tc.build(alg), seed=1).get_hidden_parameter_names() == names


@pytest.mark.parametrize("alg", ["sgd"] + tc.ALGORITHMS)
def test_regression_is_no_worse_than_aihwkit(aihwkit, alg):
    ours = np.array([tc.train_regression(alg, seed) for seed in SEEDS])
    theirs = np.array([aihwkit[f"mse_{alg}_{seed}"] for seed in SEEDS])
    # the same data and the same zero start: the same initial error up to float32 and the
    # forward noise
    np.testing.assert_allclose(ours[:, 0], theirs[:, 0], rtol=0.05)
    assert ours[:, 1].mean() <= 1.5 * theirs[:, 1].mean(), (ours[:, 1], theirs[:, 1])


def test_tiki_taka_example_matches_aihwkit(aihwkit):
    """The fraction of rows written per repetition (0 or about sqrt(0.31), spec §4.4): same
    probability of any write and the same mean in both simulators."""
    import rpu
    from rpu.config import TransferCompound, UnitCellRPUConfig

    cell = TransferCompound(unit_cell_devices=[tc.noise_free(), tc.noise_free()], gamma=0.0,
                            transfer_every=1.0, units_in_mbatch=False,
                            transfer_forward=tc._perfect())
    tile = rpu.AnalogTile(TT_ROWS, 2, UnitCellRPUConfig(device=cell), seed=3)
    tile.set_learning_rate(0.01)
    ours = np.empty(TT_REPS)
    for r in range(TT_REPS):
        tile.set_weights(np.zeros((TT_ROWS, 2)))
        tile.update(np.array([[1.0, 0.0]]), np.full((1, TT_ROWS), 0.5))
        ours[r] = np.mean(np.rint(tile.get_hidden_parameters()["hidden_weights_1"][:, 0]
                                  / 0.001) == -1)
    theirs = aihwkit["tt_frac"]
    np.testing.assert_allclose(aihwkit["tt_a00"], -0.031, atol=1e-6)
    for stat in (lambda f: f > 0, lambda f: f):
        a, b = stat(ours).astype(float), stat(theirs).astype(float)
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4.5 * se, (a.mean(), b.mean())


def test_ttv2_example_matches_aihwkit(aihwkit):
    import rpu
    from rpu.config import ChoppedTransferCompound, UnitCellRPUConfig

    cell = ChoppedTransferCompound(unit_cell_devices=[tc.noise_free(), tc.noise_free()],
                                   in_chop_prob=0.0, transfer_forward=tc._perfect())
    tile = rpu.AnalogTile(50, 2, UnitCellRPUConfig(device=cell), seed=4)
    tile.set_weights(np.zeros((50, 2)))
    tile.set_learning_rate(0.1)
    tile.update(np.array([[1.0, 0.0]]), np.full((1, 50), 0.5))
    h = tile.get_hidden_parameters()
    for k in ("hidden_weights_0", "hidden_weights_1", "buffered_FP_weight_0"):
        np.testing.assert_allclose(h[k], aihwkit["ttv2_" + k], atol=1e-7, err_msg=k)
    np.testing.assert_allclose(tile.get_weights(), aihwkit["ttv2_W"], atol=1e-7)


def test_mixed_precision_example_matches_aihwkit(aihwkit):
    import rpu
    from rpu.config import DigitalRankUpdateRPUConfig, MixedPrecisionCompound

    cfg = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=tc.noise_free()))
    tile = rpu.AnalogTile(1, 1, cfg, seed=3)
    tile.set_weights(np.zeros((1, 1)))
    tile.set_learning_rate(0.01)
    for call in range(2):
        tile.update(np.ones((4, 1)), np.full((4, 1), 0.5))
        np.testing.assert_allclose(tile.get_weights(), aihwkit[f"mp_W{call}"], atol=1e-6)
        np.testing.assert_allclose(tile.get_hidden_parameters()["hidden_weights_chi"],
                                   aihwkit[f"mp_chi{call}"], atol=1e-6)


def test_mixed_precision_rows_restart_on_set_weights_as_in_aihwkit(aihwkit):
    """Transfers of 2 of 5 rows continue from row to row across updates, and set_weights
    restarts them at row 0 (aihwkit's onSetWeights)."""
    import rpu
    from rpu.config import DigitalRankUpdateRPUConfig, MixedPrecisionCompound

    cfg = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(
        device=tc.noise_free(dw_min=0.01, w_max=5.0, w_min=-5.0), n_rows_per_transfer=2,
        transfer_every=1))
    tile = rpu.AnalogTile(5, 3, cfg, seed=3)
    tile.set_learning_rate(0.1)
    for phase in range(2):
        tile.set_weights(np.zeros((5, 3)))
        for call in range(3 - phase):
            tile.update(np.ones((2, 3)), np.ones((2, 5)))
        np.testing.assert_allclose(tile.get_weights(), aihwkit[f"mp_rows_W{phase}"], atol=1e-6)


def test_vector_cell_granularity_is_the_float32_mean_as_in_aihwkit(aihwkit):
    """(0.02 + 0.005) / 2 in float32 is 0.0124999993: a grown train at lr 0.2 has BL =
    ceil(0.2 / g) = 17 slots (16 with the mean rounded from double), one pulse per slot here."""
    import rpu
    from rpu.config import (PulseType, UnitCellRPUConfig, UpdateParameters, VectorUnitCell)

    devs = [tc.noise_free(dw_min=g, w_max=5.0, w_min=-5.0) for g in (0.02, 0.005)]
    cfg = UnitCellRPUConfig(device=VectorUnitCell(unit_cell_devices=devs),
                            update=UpdateParameters(pulse_type=PulseType.MEAN_COUNT, desired_bl=3,
                                                    update_bl_management=False,
                                                    update_management=False, fixed_bl=False))
    tile = rpu.AnalogTile(2, 3, cfg, seed=1)
    tile.set_weights(np.zeros((2, 3)))
    tile.set_learning_rate(0.2)
    tile.update(np.ones((1, 3)), -np.ones((1, 2)))
    h = tile.get_hidden_parameters()
    np.testing.assert_allclose(h["hidden_weights_0"], aihwkit["vector_g_w0"], atol=1e-6)
    np.testing.assert_allclose(h["hidden_weights_1"], aihwkit["vector_g_w1"], atol=1e-6)
