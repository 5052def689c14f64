"""rpu.plotting and ``rpu plot``: pulse responses, step statistics, drift figures, names."""
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import rpu
from aihwkit_runner import AIHWKIT_PYTHON, run_worker
from rpu import cli, plotting
from rpu import config as rc
from rpu import presets

pytest.importorskip("matplotlib")

# Small, fast figures for the all-names sweeps.
FAST = dict(n_pulses=12, n_cycles=1, n_devices=2, n_bins=6, figsize=(4.0, 3.2), dpi=40)


def _no_dtod(cls, **kw):
    """A device without device-to-device spread (and without step noise unless given)."""
    base = dict(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0,
                dw_min_std=0.0)
    base.update(kw)
    return cls(**base)


# ----- import hygiene -----------------------------------------------------------------------

def test_import_rpu_does_not_import_matplotlib():
    code = ("import sys, rpu, rpu.plotting, rpu.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- pulse responses against NumPy references ---------------------------------------------

def _constant_step_reference(dirs, w0, dw_min, up_down, w_min, w_max):
    # training.md 3.2 / 3.5: s+ = (min(up_down, 0) + 1) dw_min, s- = (1 - max(up_down, 0)) dw_min
    s_up = (1.0 + min(up_down, 0.0)) * dw_min
    s_down = (1.0 - max(up_down, 0.0)) * dw_min
    w, out = w0, []
    for d in dirs:
        w = min(max(w + (s_up if d > 0 else -s_down), w_min), w_max)
        out.append(w)
    return np.array(out)


def _soft_bounds_reference(dirs, w0, dw_min, w_min, w_max):
    # up: w += dw_min (1 - w / w_max); down: w -= dw_min (1 - w / w_min); then clip
    w, out = w0, []
    for d in dirs:
        w = w + dw_min * (1 - w / w_max) if d > 0 else w - dw_min * (1 - w / w_min)
        w = min(max(w, w_min), w_max)
        out.append(w)
    return np.array(out)


def test_pulse_response_constant_step_is_one_pulse_per_call():
    dev = _no_dtod(rc.ConstantStepDevice, dw_min=0.05, up_down=0.2, w_min=-0.6, w_max=0.6)
    trace = plotting.pulse_response(dev, n_pulses=40, n_devices=3, n_cycles=2,
                                    dtype=np.float64, seed=3)
    dirs = plotting.pulse_directions(40, 2)
    assert trace.shape == (160, 3)
    ref = _constant_step_reference(dirs, -0.6, 0.05, 0.2, -0.6, 0.6)
    for i in range(3):
        np.testing.assert_allclose(trace[:, i], ref, rtol=0, atol=1e-12)
    # the trace reaches both bounds, so the clipping is exercised too
    assert trace.max() == pytest.approx(0.6) and trace.min() == pytest.approx(-0.6)


def test_pulse_response_soft_bounds_and_explicit_directions():
    dev = _no_dtod(rc.SoftBoundsDevice, dw_min=0.03, w_min=-0.8, w_max=1.0)
    rng = np.random.default_rng(5)
    dirs = np.where(rng.random(300) < 0.6, 1.0, -1.0)
    trace = plotting.pulse_response(dev, directions=dirs, n_devices=2, w_init=0.1,
                                    dtype=np.float64)
    ref = _soft_bounds_reference(dirs, 0.1, 0.03, -0.8, 1.0)
    np.testing.assert_allclose(trace, np.column_stack([ref, ref]), rtol=1e-10, atol=1e-12)


AIHWKIT_PULSE_WORKER = """
import json, sys
import numpy as np
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs import devices
from aihwkit.utils.visualization import compute_pulse_response, get_tile_for_plotting

data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
out = {}
for name, (cls, kwargs) in spec["devices"].items():
    config = SingleRPUConfig(device=getattr(devices, cls)(**kwargs))
    tile = get_tile_for_plotting(config, spec["n_devices"], noise_free=True)
    out[name] = compute_pulse_response(tile, data["directions"])[:, :, 0]
np.savez(sys.argv[2], **out)
"""


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_pulse_response_matches_aihwkit_compute_pulse_response():
    # noise-free devices: aihwkit's own plotting trace, pulse by pulse, up to float32 rounding
    kw = dict(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0,
              dw_min_std=0.0)
    spec = {"n_devices": 2, "devices": {
        "cs": ["ConstantStepDevice", dict(dw_min=0.05, up_down=0.2, w_min=-0.6, w_max=0.6, **kw)],
        "sb": ["SoftBoundsDevice", dict(dw_min=0.03, up_down=-0.1, w_min=-0.8, w_max=1.0, **kw)],
        "es": ["ExpStepDevice", dict(dw_min=0.03, w_min=-1.0, w_max=1.0, **kw)]}}
    dirs = np.concatenate([np.ones(40), -np.ones(40), np.ones(10)])
    ref = run_worker(AIHWKIT_PULSE_WORKER, spec, {"directions": dirs})
    for name, (cls, kwargs) in spec["devices"].items():
        ours = plotting.pulse_response(getattr(rc, cls)(**kwargs), directions=dirs,
                                       n_devices=2)
        np.testing.assert_allclose(ours, ref[name], rtol=0, atol=1e-6, err_msg=name)


def test_pulse_response_float32_default_and_device_weights():
    dev = _no_dtod(rc.SoftBoundsDevice, dw_min=0.02, w_min=-1.0, w_max=1.0,
                   write_noise_std=3.0)
    dirs = plotting.pulse_directions(100)
    read = plotting.pulse_response(dev, n_pulses=100, n_devices=4)
    state = plotting.pulse_response(dev, n_pulses=100, n_devices=4, device_weights=True)
    assert read.dtype == np.float32 and read.shape == (200, 4)
    np.testing.assert_allclose(state, np.column_stack([_soft_bounds_reference(
        dirs, -1.0, 0.02, -1.0, 1.0)] * 4), rtol=1e-4, atol=1e-5)
    # the read weights carry write noise of std write_noise_std * dw_min = 0.06 around them
    resid = (read - state).ravel()
    assert 0.05 < resid.std() < 0.07 and abs(resid.mean()) < 0.01


def test_pulse_response_noisy_steps_statistics():
    # ConstantStep with sigma = 0.3: steps away from the bounds are dw_min (1 + 0.3 xi)
    dev = _no_dtod(rc.ConstantStepDevice, dw_min=0.001, dw_min_std=0.3, w_min=-1.0, w_max=1.0)
    trace = plotting.pulse_response(dev, n_pulses=400, n_devices=50, dtype=np.float64, seed=11)
    steps = np.diff(trace, axis=0)[:399]  # up pulses 2..400, far from the upper bound
    n = steps.size
    assert abs(steps.mean() - 0.001) < 5 * 0.0003 / np.sqrt(n)
    assert steps.std() == pytest.approx(0.0003, rel=0.05)


def test_pulse_response_seeded_and_thread_invariant():
    dev = presets.ReRamESPresetDevice()
    n = plotting.SMALL_TILE  # from this size on the tile uses the OpenMP threads it is given
    with threadpool_limits(limits=1, user_api="openmp"):
        one = plotting.pulse_response(dev, n_pulses=30, n_devices=n, seed=7)
    with threadpool_limits(limits=2, user_api="openmp"):
        two = plotting.pulse_response(dev, n_pulses=30, n_devices=n, seed=7)
    np.testing.assert_array_equal(one, two)
    small = plotting.pulse_response(dev, n_pulses=30, n_devices=5, seed=7)
    assert np.array_equal(small, plotting.pulse_response(dev, n_pulses=30, n_devices=5, seed=7))
    assert not np.array_equal(small, plotting.pulse_response(dev, n_pulses=30, n_devices=5,
                                                             seed=8))


def test_pulse_response_ideal_device_exact_steps():
    trace = plotting.pulse_response("IdealDevice", n_pulses=8, n_devices=1, dtype=np.float64)
    expected = np.concatenate([-1 + 0.25 * np.arange(1, 9), 1 - 0.25 * np.arange(1, 9)])
    np.testing.assert_allclose(trace[:, 0], expected, atol=1e-12)


def test_pulse_response_bad_input():
    with pytest.raises(ValueError, match="n_pulses must be an integer >= 1"):
        plotting.pulse_response("ConstantStepDevice", n_pulses=0)
    with pytest.raises(ValueError, match="n_devices must be an integer >= 1"):
        plotting.pulse_response("ConstantStepDevice", n_pulses=3, n_devices=1.5)
    with pytest.raises(ValueError, match="directions must be"):
        plotting.pulse_response("ConstantStepDevice", directions=[1, 0, -1])


def test_estimate_n_pulses():
    dev = rc.ConstantStepDevice(dw_min=0.004, w_min=-0.6, w_max=0.6)
    assert plotting.estimate_n_pulses(dev) == 300
    assert plotting.estimate_n_pulses(rc.ConstantStepDevice(dw_min=0.5)) == plotting.MIN_PULSES
    assert plotting.estimate_n_pulses(presets.IdealizedPresetDevice()) == 10000


# ----- step statistics ----------------------------------------------------------------------

def test_step_statistics_against_direct_binning():
    rng = np.random.default_rng(2)
    w = np.cumsum(rng.normal(0, 0.1, size=(500, 2)), axis=0)
    dirs = np.where(rng.random(500) < 0.5, 1.0, -1.0)
    centres, up_m, up_s, dn_m, dn_s = plotting.step_statistics(w, dirs, n_bins=7)
    edges = np.linspace(w.min(), w.max(), 8)
    np.testing.assert_allclose(centres, 0.5 * (edges[1:] + edges[:-1]))
    for i in range(2):
        before, step, d = w[:-1, i], np.diff(w[:, i]), dirs[1:]
        b = np.clip(np.digitize(before, edges) - 1, 0, 6)
        for k in range(7):
            for sign, mean, std in ((1, up_m, up_s), (-1, dn_m, dn_s)):
                sel = step[(b == k) & (d == sign)]
                if sel.size >= 1:
                    assert mean[k, i] == pytest.approx(sel.mean(), abs=1e-12)
                else:
                    assert np.isnan(mean[k, i])
                if sel.size >= 2:
                    assert std[k, i] == pytest.approx(sel.std(ddof=1), abs=1e-12)
                else:
                    assert np.isnan(std[k, i])


def test_step_statistics_with_w_init_counts_the_first_pulse():
    w = np.array([[0.1], [0.2], [0.3]])
    centres, up_m, _, _, _ = plotting.step_statistics(w, [1, 1, 1], w_init=0.0, n_bins=1,
                                                      w_range=(0.0, 0.3))
    assert up_m[0, 0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="directions"):
        plotting.step_statistics(w, [1, 1])


# ----- names and parameters -----------------------------------------------------------------

DEVICE_CLASSES = [n for n in rc.__all__ if isinstance(getattr(rc, n), type)
                  and issubclass(getattr(rc, n), (rc.PulsedDevice, rc.IdealDevice,
                                                  rc.FloatingPointDevice))]
COMPOUND_CLASSES = [n for n in rc.__all__ if isinstance(getattr(rc, n), type)
                    and issubclass(getattr(rc, n), (rc.UnitCell, rc.DigitalRankUpdateCell))]
# device presets first, then the RPU-config presets
PRESETS = sorted((n for n in presets.__all__ if n in plotting.device_names()),
                 key=lambda n: issubclass(getattr(presets, n), rc.RPUConfigBase))


def test_name_lists_cover_devices_and_presets():
    names = plotting.device_names()
    assert set(DEVICE_CLASSES) | set(COMPOUND_CLASSES) <= set(names)
    # every device preset and every RPU-config preset (all have a device) is drawable
    for n in ("ReRamESPresetDevice", "PCMPresetUnitCell", "TikiTakaReRamSBPreset",
              "MixedPrecisionPCMPreset", "StandardHWATrainingPreset"):
        assert n in PRESETS
    assert "PresetIOParameters" not in names
    drawable = plotting.device_names(drawable_only=True)
    assert set(drawable) == set(names) - set(COMPOUND_CLASSES) - {
        "PulsedDevice", "UnitCellRPUConfig", "DigitalRankUpdateRPUConfig"}
    assert {"InferenceRPUConfig", "StandardHWATrainingPreset",
            "PCMLikeNoiseModel"} <= set(plotting.inference_config_names())


def test_resolve_device_compounds_and_params():
    dev, label = plotting.resolve_device("TikiTakaReRamSBPreset")
    assert isinstance(dev, presets.ReRamSBPresetDevice) and "unit cell device 0" in label
    cell = rc.VectorUnitCell(unit_cell_devices=[rc.ConstantStepDevice(),
                                                rc.SoftBoundsDevice(dw_min=0.01)])
    dev, label = plotting.resolve_device(cell, {"w_max": 0.8}, unit_cell=1)
    assert isinstance(dev, rc.SoftBoundsDevice) and dev.w_max == 0.8 and dev.dw_min == 0.01
    assert cell.unit_cell_devices[1].w_max != 0.8  # the caller's object is untouched
    dev, _ = plotting.resolve_device("MixedPrecisionPCMPreset")
    assert isinstance(dev, presets.PCMPresetDevice)
    dev, _ = plotting.resolve_device("reramespresetdevice", {"drift.nu": 0.1})
    assert isinstance(dev, presets.ReRamESPresetDevice) and dev.drift.nu == 0.1
    dev, _ = plotting.resolve_device("FloatingPointDevice")
    assert isinstance(dev, rc.IdealDevice)


def test_name_and_param_errors():
    with pytest.raises(rpu.ConfigError, match="unknown device or preset name 'SoftBoundDevice'"
                                              ".*SoftBoundsDevice"):
        plotting.resolve_device("SoftBoundDevice")
    with pytest.raises(rpu.ConfigError, match="has no field 'dw_mn'.*dw_min"):
        plotting.resolve_device("ConstantStepDevice", {"dw_mn": 0.1})
    with pytest.raises(rpu.ConfigError, match=r"ConstantStepDevice.dw_min = -1.0 .*> 0"):
        plotting.resolve_device("ConstantStepDevice", {"dw_min": -1})
    with pytest.raises(rpu.ConfigError, match="drift has no field 'mu'"):
        plotting.resolve_device("ConstantStepDevice", {"drift.mu": 1})
    with pytest.raises(rpu.ConfigError, match=r"unit_cell must be an integer in \[0, 1\]"):
        plotting.resolve_device("TikiTakaReRamSBPreset", unit_cell=2)
    with pytest.raises(rpu.ConfigError, match="unknown inference configuration name"):
        plotting.resolve_noise_model("SoftBoundsDevice")
    with pytest.raises(TypeError, match="device_or_name must be"):
        plotting.resolve_device(rc.IOParameters())
    with pytest.raises(rpu.ConfigError, match="--param must be key=value"):
        plotting.parse_params(["dw_min"])


def test_parse_params():
    assert plotting.parse_params(["dw_min=1e-3", "mult_noise=false", "w_max=2",
                                 "pulse_type=STOCHASTIC", "nodes=[1, 0.5]", "w=-inf"]) == {
        "dw_min": 1e-3, "mult_noise": False, "w_max": 2, "pulse_type": "STOCHASTIC",
        "nodes": [1, 0.5], "w": -np.inf}


# ----- figures for every device and preset --------------------------------------------------

def _check_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", [n for n in DEVICE_CLASSES if n != "PulsedDevice"])
def test_plot_device_every_device_class(name, tmp_path):
    fig = plotting.plot_device(name, **FAST)
    fig.savefig(tmp_path / "a.png")
    fig.savefig(tmp_path / "a.svg")
    _check_png(tmp_path / "a.png")
    assert b"<svg" in (tmp_path / "a.svg").read_bytes()[:2000]
    trace, up, down = fig.axes[:3]
    assert trace.get_xlabel() and trace.get_ylabel() and up.get_xlabel() and down.get_ylabel()
    assert len(trace.get_lines()) == 2


def _first_of_each_device(names):
    """Split preset names into those whose drawn device is new and those that repeat one
    (the RPU-config presets share a few preset devices): the repeats draw the same figure
    with another title, so they are built but not rendered again, to keep the suite fast."""
    seen, first, repeat = [], [], []
    for name in names:
        dev = plotting.resolve_device(name)[0]
        (repeat if any(dev == other for other in seen) else first).append(name)
        seen.append(dev)
    return first, repeat


PRESETS_RENDERED, PRESETS_BUILT = _first_of_each_device(PRESETS)


@pytest.mark.parametrize("name", PRESETS_RENDERED)
def test_plot_device_every_preset(name, tmp_path):
    fig = plotting.plot_device(name, **FAST)
    fig.savefig(tmp_path / "p.png")
    _check_png(tmp_path / "p.png")
    assert fig.get_suptitle().startswith(name)


@pytest.mark.parametrize("name", PRESETS_BUILT)
def test_plot_device_every_preset_sharing_a_device(name):
    fig = plotting.plot_device(name, **FAST)
    assert fig.get_suptitle().startswith(name)
    trace = fig.axes[0]
    assert len(trace.get_lines()) == 2 and trace.get_lines()[0].get_ydata().shape == (24,)
    assert np.all(np.isfinite(trace.get_lines()[0].get_ydata()))


def test_presets_split():
    assert sorted(PRESETS_RENDERED + PRESETS_BUILT) == sorted(PRESETS)
    assert len(PRESETS_RENDERED) >= 10  # every device preset at least once


def test_not_drawable_devices_raise_clear_errors():
    with pytest.raises(rpu.ConfigError, match="PulsedDevice is not a single pulsed device"):
        plotting.plot_device("PulsedDevice", **FAST)
    for name in COMPOUND_CLASSES:  # default-constructed compounds hold no devices
        with pytest.raises(rpu.ConfigError, match=f"{name} has no unit cell devices"):
            plotting.resolve_device(name)


def test_plot_device_steps_show_the_device_rule():
    # noise-free constant step: the up/down lines are +s_up / -s_down wherever there is data
    dev = _no_dtod(rc.ConstantStepDevice, dw_min=0.05, up_down=0.2, w_min=-1.0, w_max=1.0)
    fig = plotting.plot_device(dev, n_pulses=30, n_cycles=1, n_devices=1, n_bins=5)
    up_line = fig.axes[1].get_lines()[0].get_ydata()
    down_line = fig.axes[2].get_lines()[0].get_ydata()
    np.testing.assert_allclose(up_line[np.isfinite(up_line)], 0.05, rtol=1e-5)
    np.testing.assert_allclose(down_line[np.isfinite(down_line)], -0.04, rtol=1e-5)


# ----- drift --------------------------------------------------------------------------------

def test_plot_drift_png_with_labelled_axes(tmp_path):
    fig = plotting.plot_drift(n_devices=20, times=[1.0, 1e3, 1e6], figsize=(6, 3), dpi=50)
    fig.savefig(tmp_path / "d.png")
    _check_png(tmp_path / "d.png")
    assert len(fig.axes) == 2  # InferenceRPUConfig has a GlobalDriftCompensation
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_xscale() == "log" and ax.get_title()
        assert len(ax.get_lines()) == 9
    assert fig.axes[0].get_ylabel()
    # without compensation the extreme levels shrink towards 0 with time (drift)
    top = fig.axes[0].get_lines()[0]  # drawn first: the highest level, +1
    assert top.get_label() == "+1.00"
    assert top.get_ydata()[-1] < top.get_ydata()[0] - 0.1


def test_plot_drift_without_noise_keeps_the_levels():
    noiseless = {"prog_noise_scale": 0.0, "read_noise_scale": 0.0, "drift_scale": 0.0}
    levels = [-0.5, 0.25, 1.0]
    fig = plotting.plot_drift("PCMLikeNoiseModel", params=noiseless, levels=levels,
                              n_devices=4, times=[10.0, 1e5])
    assert len(fig.axes) == 1  # a bare noise model has no drift compensation
    lines = fig.axes[0].get_lines()
    got = sorted(float(line.get_ydata()[-1]) for line in lines)
    np.testing.assert_allclose(got, levels, atol=1e-6)


def test_plot_drift_of_a_model_known_at_a_few_times():
    # ReRamWan2022 knows only its table's times (the default log grid was refused); the levels'
    # x data are those times
    model = rc.ReRamWan2022NoiseModel()
    fig = plotting.plot_drift("ReRamWan2022NoiseModel", n_devices=4)
    expected = sorted(float(k) for k in model.coeff_dic)
    for line in fig.axes[0].get_lines():
        np.testing.assert_array_equal(line.get_xdata(), expected)


def test_plot_drift_refuses_more_devices_than_memory_holds(tmp_path, capsys):
    # (10**8 devices per level were killed by the system for want of memory)
    with pytest.raises(rpu.TileMemoryError, match="use fewer devices per level"):
        plotting.plot_drift(n_devices=10**10)
    assert cli.main(["plot", "drift", "--devices", str(10**10), "-o",
                     str(tmp_path / "d.png")]) == 2
    assert "needs about" in capsys.readouterr().err and not (tmp_path / "d.png").exists()


def test_plot_drift_bad_input():
    with pytest.raises(ValueError, match="times must be > 0"):
        plotting.plot_drift(times=[0.0, 1.0])
    with pytest.raises(rpu.ConfigError, match="PCMLikeNoiseModel has no field 'g_mx'"):
        plotting.plot_drift(params={"g_mx": 1.0})
    with pytest.raises(TypeError, match="config must be"):
        plotting.plot_drift(rc.SingleRPUConfig())


# ----- command line -------------------------------------------------------------------------

def test_cli_plot_device_and_drift(tmp_path, capsys):
    out = tmp_path / "c.svg"
    assert cli.main(["plot", "device", "SoftBoundsDevice", "--pulses", "10", "--cycles", "1",
                     "--devices", "2", "--param", "dw_min=0.01", "-o", str(out)]) == 0
    assert b"<svg" in out.read_bytes()[:2000]
    out = tmp_path / "d.png"
    assert cli.main(["plot", "drift", "--config", "StandardHWATrainingPreset", "--devices",
                     "5", "-o", str(out)]) == 0
    _check_png(out)
    assert cli.main(["plot", "list"]) == 0
    assert "ReRamESPresetDevice" in capsys.readouterr().out


def test_cli_plot_errors(tmp_path, capsys):
    assert cli.main(["plot", "device", "SoftBoundsDevice", "-o", str(tmp_path / "x.pdf")]) == 2
    assert "must end in .png or .svg" in capsys.readouterr().err
    assert cli.main(["plot", "device", "NoSuchDevice", "-o", str(tmp_path / "x.png")]) == 2
    assert "unknown device or preset name" in capsys.readouterr().err
    assert cli.main(["plot", "device", "ConstantStepDevice", "--param", "w_max=abc",
                     "-o", str(tmp_path / "x.png")]) == 2
    assert "ConstantStepDevice.w_max" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_without_matplotlib(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert cli.main(["plot", "drift", "-o", str(tmp_path / "d.png")]) == 1
    assert 'pip install "rpu[plot]"' in capsys.readouterr().err
