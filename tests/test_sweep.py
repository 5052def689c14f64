"""rpu.sweep: sweep files, grid expansion, config overrides, the results tables, and real sweeps
on a 2-worker Dask LocalCluster (a failing point, resume, an interrupted run, --retry-failed).

Spec and override tests need neither Dask nor pandas; the table tests skip without pandas and
the cluster tests without dask.distributed.
"""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import rpu
from rpu.config import (
    IOParameters,
    PulseType,
    SingleRPUConfig,
    SoftBoundsDevice,
    UpdateParameters,
    build_config,
)
from rpu.sweep import (
    SweepSpecError,
    apply_overrides,
    load_spec,
    make_base_config,
    run_point,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The experiment used by the cluster tests: it echoes what it received, so the table can be
# checked against the grid, and raises for exactly one point.
EXPERIMENT = '''
import os
import time

def experiment(config, seed, *, k, scale=10, delay=0.0, gate=""):
    time.sleep(delay)
    # while the gate file exists, points of seed 1 wait (at most 30 s): an interruptible sweep
    deadline = time.monotonic() + 30
    while gate and seed == 1 and os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    if (config.device.w_max, config.forward.out_noise, k, seed) == (1.0, 0.1, 2, 1):
        raise ValueError("bad point: k=2, seed=1")
    return {"w_max_seen": config.device.w_max, "out_noise_seen": config.forward.out_noise,
            "bl_seen": config.update.desired_bl, "value": scale * k + seed}
'''

SPEC = '''
[sweep]
function = "exp.py:experiment"
seeds = [0, 1]
output = "{output}"

[params]
delay = {delay}
gate = "{gate}"

[config]
algorithm = "sgd"
device = "SoftBoundsDevice"

[config.overrides]
"update.desired_bl" = 7

[grid]
"device.w_max" = [0.6, 1.0]
"forward.out_noise" = [0.0, 0.1]
"params.k" = [1, 2]

[cluster]
workers = 2
'''

# every (w_max, out_noise, k, seed) of SPEC, and the one that raises
ALL_POINTS = {(w, n, k, s) for w in (0.6, 1.0) for n in (0.0, 0.1) for k in (1, 2) for s in (0, 1)}
BAD_POINT = (1.0, 0.1, 2, 1)


def write_sweep(folder, output="out.csv", delay=0.0, gate="", spec=SPEC):
    """Write exp.py and sweep.toml into ``folder``; return the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exp.py").write_text(EXPERIMENT)
    path = folder / "sweep.toml"
    path.write_text(spec.format(output=output, delay=delay, gate=gate))
    return str(path)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def key_of(row):
    return (float(row["device.w_max"]), float(row["forward.out_noise"]), int(row["params.k"]),
            int(row["seed"]))


# ----- spec parsing and grid expansion ----------------------------------------------------------

def test_spec_parsing_and_grid_expansion(tmp_path):
    spec = load_spec(write_sweep(tmp_path))
    assert spec.name == "sweep"
    assert spec.function == "exp.py:experiment"
    assert spec.seeds == [0, 1]
    assert spec.params == {"delay": 0.0, "gate": ""}
    assert spec.config == {"algorithm": "sgd", "device": "SoftBoundsDevice"}
    assert spec.overrides == {"update.desired_bl": 7}
    assert spec.output == str(tmp_path / "out.csv")
    assert spec.cluster == {"kind": "local", "workers": 2}
    points = spec.points()
    assert spec.n_points == len(points) == 16
    # order: grid keys in file order, the last fastest, seeds innermost
    expected = []
    for w in (0.6, 1.0):
        for n in (0.0, 0.1):
            for k in (1, 2):
                for s in (0, 1):
                    expected.append((w, n, k, s))
    got = [(p.axes["device.w_max"], p.axes["forward.out_noise"], p.axes["params.k"], p.seed)
           for p in points]
    assert got == expected
    assert [p.index for p in points] == list(range(16))
    p = points[5]  # w 0.6, noise 0.1, k 1, seed 1
    assert p.overrides == {"update.desired_bl": 7, "device.w_max": 0.6, "forward.out_noise": 0.1}
    assert p.params == {"delay": 0.0, "gate": "", "k": 1}
    assert p.columns() == {"point_id": p.point_id, "device.w_max": 0.6,
                           "forward.out_noise": 0.1, "params.k": 1, "seed": 1}
    ids = [p.point_id for p in points]
    assert len(set(ids)) == 16 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_point_ids_are_stable_and_follow_the_content(tmp_path):
    ids = {p.point_id for p in load_spec(write_sweep(tmp_path / "a")).points()}
    assert ids == {p.point_id for p in load_spec(write_sweep(tmp_path / "b")).points()}
    # grid order does not define a point, its values do
    swapped = SPEC.replace('"device.w_max" = [0.6, 1.0]\n"forward.out_noise" = [0.0, 0.1]',
                           '"forward.out_noise" = [0.1, 0.0]\n"device.w_max" = [1.0, 0.6]')
    assert swapped != SPEC
    assert ids == {p.point_id for p in load_spec(write_sweep(tmp_path / "c", spec=swapped)).points()}
    # a fixed parameter or override is part of every point
    for old, new in (("delay = {delay}", "delay = 0.5"), ('= 7', '= 8'),
                     ('seeds = [0, 1]', 'seeds = [0, 2]')):
        other = {p.point_id for p in load_spec(
            write_sweep(tmp_path / new.replace(" ", ""), spec=SPEC.replace(old, new))).points()}
        assert len(other) == 16 and len(other & ids) == (8 if "seeds" in old else 0)


def test_seed_count_defaults_and_preset(tmp_path):
    (tmp_path / "s.toml").write_text(textwrap.dedent('''
        [sweep]
        function = "rpu.sweep.examples:train_regression"
        seeds = 3
        [config]
        preset = "ReRamSBPreset"
        [grid]
        "device.dw_min" = [0.001, 0.002]
    '''))
    spec = load_spec(tmp_path / "s.toml")
    assert spec.seeds == [0, 1, 2] and spec.n_points == 6
    assert spec.output is None and spec.default_output() == str(tmp_path / "s.results.csv")
    (tmp_path / "d.toml").write_text('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n')
    spec = load_spec(tmp_path / "d.toml")
    assert spec.seeds == [0] and spec.n_points == 1 and spec.points()[0].axes == {}


def test_grid_over_the_base_config(tmp_path):
    (tmp_path / "s.toml").write_text(textwrap.dedent('''
        [sweep]
        function = "rpu.sweep.examples:train_regression"
        [config]
        device = "SoftBoundsDevice"
        [grid]
        "config.algorithm" = ["sgd", "c-ttv2"]
        "update.desired_bl" = [5, 10]
    '''))
    points = load_spec(tmp_path / "s.toml").points()
    assert [(p.base, p.overrides) for p in points] == [
        ({"device": "SoftBoundsDevice", "algorithm": a}, {"update.desired_bl": bl})
        for a in ("sgd", "c-ttv2") for bl in (5, 10)]
    assert len({p.point_id for p in points}) == 4
    assert points[0].columns()["config.algorithm"] == "sgd"
    assert make_base_config(points[2].base) == build_config("c-ttv2", SoftBoundsDevice)
    # an override path that one of the base configs lacks is reported with that base
    (tmp_path / "b.toml").write_text((tmp_path / "s.toml").read_text().replace(
        '"update.desired_bl" = [5, 10]', '"device.w_max" = [0.5]'))
    with pytest.raises(SweepSpecError,
                       match=r"grid.\"device.w_max\" = 0.5 on \[config\], grid.\"config.algorithm\""
                             r" = 'c-ttv2'.*has no field 'w_max'"):
        load_spec(tmp_path / "b.toml")
    for grid, match in (('"config.device" = ["ConstantStepDevice"]', "not also fixed in \\[config\\]"),
                        ('"config.overrides" = [1]', "config.NAME with NAME one of"),
                        ('"config.algorithm" = ["sgd", "nope"]', "'nope' is not known")):
        (tmp_path / "c.toml").write_text((tmp_path / "s.toml").read_text().replace(
            '"config.algorithm" = ["sgd", "c-ttv2"]', grid))
        with pytest.raises(SweepSpecError, match=match):
            load_spec(tmp_path / "c.toml")


def test_example_spec_loads():
    spec = load_spec(os.path.join(ROOT, "examples", "sweep_device.toml"))
    assert spec.n_points >= 8
    assert spec.function == "rpu.sweep.examples:train_regression"


BAD_SPECS = [
    ("this is = = not toml", "not valid TOML"),
    ('[params]\nx = 1\n', r"\[sweep\]"),
    ('[sweep]\nseeds = 2\n', "sweep.function"),
    ('[sweep]\nfunction = "no_colon"\n', "sweep.function.*module:function"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grdi]\n"a" = [1]\n',
     "grdi.*one of the tables"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\nseed = 1\n',
     "sweep.seed.*no such key"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\nseeds = [1, -2]\n',
     "sweep.seeds.*non-negative"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\nseeds = "3"\n',
     "sweep.seeds"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\noutput = "r.xlsx"\n',
     r"sweep.output.*\.csv, \.parquet"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"device.w_max" = 0.6\n',
     'grid."device.w_max".*non-empty list'),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"device.w_max" = []\n',
     'grid."device.w_max".*non-empty list'),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\ndevice.w_max = [1]\n',
     "grid.device.*quote dotted keys"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"device.w_maxx" = [1.0]\n',
     r"grid.\"device.w_maxx\".*has no field 'w_maxx'.*w_max"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"forward.out_noise" = ["a"]\n',
     r"grid.\"forward.out_noise\".*forward.out_noise = 'a' is not allowed.*number"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"forward.out_noise" = [0.5, -2.0]\n',
     "grid.\"forward.out_noise\" = -2.0.*>= 0"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"params.lr" = [0.1, 0.1]\n',
     "distinct values"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[params]\nlr = 0.1\n[grid]\n"params.lr" = [0.2]\n',
     "also fixed in \\[params\\]"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[grid]\n"params.nope" = [1]\n',
     "cannot be called as.*nope"),
    ('[sweep]\nfunction = "rpu.sweep.no_such_module:f"\n', "sweep.function.*no_such_module"),
    ('[sweep]\nfunction = "rpu.sweep.examples:nothing"\n', "has no attribute 'nothing'"),
    ('[sweep]\nfunction = "missing.py:f"\n', "no file"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[config]\npreset = "Nope"\n',
     r"\[config\].*config.preset = 'Nope'"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[config]\nalgorithm = "sgd"\n',
     "needs config.device"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[config]\nalgo = "sgd"\n',
     "config.algo.*no such key"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[config.overrides]\n"device.x" = 1\n',
     r"\[config.overrides\].*no field 'x'"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[cluster]\nkind = "k8s"\n',
     "cluster.kind.*'slurm'"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[cluster]\nworkers = 0\n',
     "cluster.workers.*>= 1"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[cluster]\nkind = "slurm"\nworkers = 2\n',
     "cluster.workers.*jobs = N"),
    ('[sweep]\nfunction = "rpu.sweep.examples:train_regression"\n[cluster]\ncores = 2\n',
     "cluster.cores.*only workers"),
]


@pytest.mark.parametrize("text, match", BAD_SPECS)
def test_bad_spec_raises_naming_the_key(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SweepSpecError, match=match) as info:
        load_spec(path)
    assert "bad.toml" in str(info.value)
    assert isinstance(info.value, rpu.ConfigError)


def test_unreadable_spec(tmp_path):
    with pytest.raises(SweepSpecError, match="cannot be read"):
        load_spec(tmp_path / "nowhere.toml")


# ----- overrides and the base config ------------------------------------------------------------

def test_apply_overrides_sets_fields_and_copies():
    base = build_config("sgd", SoftBoundsDevice)
    out = apply_overrides(base, {"device.w_max": 0.6, "forward.out_noise": 0.0,
                                 "update.pulse_type": "DeterministicImplicit",
                                 "update.desired_bl": 5})
    expected = build_config("sgd", SoftBoundsDevice(w_max=0.6),
                            io_parameters=IOParameters(out_noise=0.0),
                            up_parameters=UpdateParameters(
                                pulse_type=PulseType.DETERMINISTIC_IMPLICIT, desired_bl=5))
    expected.backward = IOParameters()
    assert out == expected
    assert out.update.pulse_type is PulseType.DETERMINISTIC_IMPLICIT
    assert base == build_config("sgd", SoftBoundsDevice)  # the input is untouched
    # a class by name, replaced before its field is set whatever the order given
    out = apply_overrides(SingleRPUConfig(), {"device.dw_min": 0.01, "device": "SoftBoundsDevice"})
    assert out.device == SoftBoundsDevice(dw_min=0.01)
    # a table of fields, a to_dict() form, a list index
    out = apply_overrides(SingleRPUConfig(), {"forward": {"out_noise": 0.0, "inp_res": 0.01}})
    assert out.forward == IOParameters(out_noise=0.0, inp_res=0.01)
    out = apply_overrides(SingleRPUConfig(), {"device": SoftBoundsDevice(w_max=2.0).to_dict()})
    assert out.device == SoftBoundsDevice(w_max=2.0)
    cttv2 = build_config("c-ttv2", SoftBoundsDevice)
    out = apply_overrides(cttv2, {"device.unit_cell_devices.1.dw_min": 0.005})
    assert out.device.unit_cell_devices[1].dw_min == 0.005
    assert out.device.unit_cell_devices[0].dw_min == cttv2.device.unit_cell_devices[0].dw_min
    assert apply_overrides(SoftBoundsDevice(), {"w_max": 0.5}) == SoftBoundsDevice(w_max=0.5)


@pytest.mark.parametrize("overrides, match", [
    ({"device.w_maxx": 1.0}, r"'device.w_maxx'.*has no field 'w_maxx'; its fields:.*w_max"),
    ({"devices.w_max": 1.0}, r"has no field 'devices'"),
    ({"device.w_max": "big"}, r"device.w_max = 'big' is not allowed: expected a number"),
    ({"forward.out_noise": -3.0}, r"forward.out_noise = -3.0 is not allowed"),
    ({"device.w_min": 2.0}, r"device.w_min = 2.0 is not allowed.*w_max"),
    ({"update.pulse_type": "Sometimes"}, r"update.pulse_type = 'Sometimes'.*PulseType"),
    ({"forward.out_noise.x": 1}, r"forward.out_noise is a float.*no field 'x'"),
    ({"device..w_max": 1}, r"dotted path"),
    ({"device": "IOParameters"}, r"device = IOParameters\(...\) is not allowed"),
    ({"device": "NoSuchDevice"}, r"device = 'NoSuchDevice'.*expected the name"),
    ({"device": 3}, r"device.*holds a ConstantStepDevice"),
])
def test_apply_overrides_errors(overrides, match):
    base = SingleRPUConfig()
    with pytest.raises(rpu.ConfigError, match=match):
        apply_overrides(base, overrides)
    assert base == SingleRPUConfig()


def test_apply_overrides_bracket_index_names_the_dotted_form():
    base = build_config("c-ttv2", SoftBoundsDevice)
    with pytest.raises(rpu.ConfigError, match=r"has no field 'unit_cell_devices\[0\]' \(a list "
                       r"item is a path segment of its own: 'unit_cell_devices.0'\)"):
        apply_overrides(base, {"device.unit_cell_devices[0].w_max": 0.6})
    # no hint where the name before the brackets is not a field either
    with pytest.raises(rpu.ConfigError, match=r"has no field 'devices\[0\]'; its fields"):
        apply_overrides(base, {"device.devices[0].w_max": 0.6})


def test_apply_overrides_list_index_and_argument_errors():
    cttv2 = build_config("c-ttv2", SoftBoundsDevice)
    with pytest.raises(rpu.ConfigError, match=r"list of 2 items: expected an index 0..1, got '2'"):
        apply_overrides(cttv2, {"device.unit_cell_devices.2.dw_min": 0.1})
    with pytest.raises(rpu.ConfigError, match="must be an rpu configuration"):
        apply_overrides({"device": 1}, {"device.w_max": 1.0})
    with pytest.raises(rpu.ConfigError, match="must be a mapping"):
        apply_overrides(SingleRPUConfig(), [("device.w_max", 1.0)])


def test_make_base_config():
    from rpu.presets import ReRamSBPreset, ReRamSBPresetDevice

    assert make_base_config({}) == SingleRPUConfig()
    assert make_base_config({"preset": "ReRamSBPreset"}) == ReRamSBPreset()
    assert (make_base_config({"algorithm": "tt", "device": "ReRamSBPresetDevice",
                              "construction_seed": 3})
            == build_config("tt", ReRamSBPresetDevice, construction_seed=3))
    assert (make_base_config({"algorithm": "sgd", "device": "SoftBoundsDevice", "n_devices": 2})
            == build_config("sgd", SoftBoundsDevice, n_devices=2))
    for bad, match in (({"preset": "ReRamSBPreset", "device": "SoftBoundsDevice"}, "cannot be combined"),
                       ({"preset": "SoftBoundsDevice"}, "RPUConfigBase"),
                       ({"algorithm": "sgd", "device": "SingleRPUConfig"}, "PulsedDevice"),
                       ({"device": "SoftBoundsDevice"}, "needs config.algorithm"),
                       ({"algorithm": "zz", "device": "SoftBoundsDevice"}, "'zz' is not known")):
        with pytest.raises(rpu.ConfigError, match=match):
            make_base_config(bad)


# ----- the task -----------------------------------------------------------------------------------

def test_run_point_returns_metrics_or_the_traceback(tmp_path):
    spec = load_spec(write_sweep(tmp_path))
    by_key = {(p.axes["device.w_max"], p.axes["forward.out_noise"], p.axes["params.k"], p.seed): p
              for p in spec.points()}
    good = run_point(by_key[(0.6, 0.1, 2, 1)].to_dict())
    assert good["ok"] and good["elapsed_s"] >= 0 and good["worker"].endswith(f":{os.getpid()}")
    assert good["metrics"] == {"w_max_seen": 0.6, "out_noise_seen": 0.1, "bl_seen": 7,
                               "value": 21}
    bad = run_point(by_key[BAD_POINT].to_dict())
    assert not bad["ok"] and bad["error"] == "ValueError: bad point: k=2, seed=1"
    assert "exp.py" in bad["traceback"] and 'raise ValueError("bad point' in bad["traceback"]


@pytest.mark.parametrize("body, ok, match", [
    ("return {'a': np.float32(0.5), 'b': np.int64(3), 'c': True, 'd': 'x', 'e': None}", True, None),
    ("return [1.0]", False, "returned a list: expected a dict"),
    ("return {'m': np.zeros(3)}", False, "metric 'm' is a ndarray"),
    ("return {'seed': 1.0}", False, "metric name 'seed' is also a column"),
    ("return {'device.w_max': 1.0}", False, "metric name 'device.w_max'"),
    ("raise SystemExit(3)", False, "SystemExit: 3"),
])
def test_run_point_checks_the_metrics(tmp_path, body, ok, match):
    (tmp_path / "m.py").write_text(f"import numpy as np\ndef f(config, seed):\n    {body}\n")
    point = {"point_id": "0" * 16, "function": "m.py:f", "base_dir": str(tmp_path), "base": {},
             "overrides": {}, "params": {}, "seed": 0, "axes": {"device.w_max": 0.6}}
    out = run_point(point)
    assert out["ok"] is ok
    if ok:
        assert out["metrics"] == {"a": 0.5, "b": 3, "c": True, "d": "x", "e": None}
        assert type(out["metrics"]["a"]) is float and type(out["metrics"]["b"]) is int
    else:
        assert match in out["error"]


def test_example_experiment_learns():
    from rpu.sweep.examples import train_regression

    cfg = build_config("sgd", SoftBoundsDevice)
    a = train_regression(cfg, 3, n_steps=60)
    assert a == train_regression(cfg, 3, n_steps=60)  # seeded: reproducible
    assert a["mse"] < 0.3 * a["mse_start"]
    assert set(a) == {"mse", "mse_start", "weight_rmse"}


@pytest.mark.parametrize("kwargs, name", [(dict(n_steps=-5), "n_steps"), (dict(batch_size=0), "batch_size"),
                                          (dict(in_size=2.5), "in_size"), (dict(n_test=True), "n_test")])
def test_example_experiment_refuses_bad_sizes(kwargs, name):
    """n_steps = -5 ran no step and reported the untrained tile as a result."""
    from rpu.sweep.examples import train_regression

    with pytest.raises(ValueError, match=rf"^{name} must be an integer >= [01], got"):
        train_regression(build_config("sgd", SoftBoundsDevice), 0, **kwargs)


# ----- the tables --------------------------------------------------------------------------------

def test_results_table_appends_atomically_and_reloads(tmp_path):
    pytest.importorskip("pandas")
    from rpu.sweep.results import ResultsTable, failures_path

    path = str(tmp_path / "r.csv")
    table = ResultsTable(path, flush_every=3600)
    table.add_result({"point_id": "a1", "x": 1.0, "seed": 0, "mse": 0.5})  # first: flushed
    table.add_result({"point_id": "b2", "x": 2.0, "seed": 0, "mse": 0.25})  # buffered
    assert [r["point_id"] for r in read_csv(path)] == ["a1"]
    table.add_failure({"point_id": "c3", "x": 3.0, "seed": 0, "error": "E: x",
                       "traceback": "Traceback\n  line\nE: x\n"})
    table.flush()
    assert [r["point_id"] for r in read_csv(path)] == ["a1", "b2"]
    fails = read_csv(failures_path(path))
    assert fails[0]["traceback"] == "Traceback\n  line\nE: x\n"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    again = ResultsTable(path)
    assert again.done_ids == {"a1", "b2"} and again.failed_ids == {"c3"}
    again.add_result({"point_id": "c3", "x": 3.0, "seed": 0, "mse": 0.1, "extra": 7})
    again.flush()
    rows = read_csv(path)
    assert [r["point_id"] for r in rows] == ["a1", "b2", "c3"]
    assert float(rows[2]["extra"]) == 7 and rows[0]["extra"] == ""  # a new column: blank before
    assert read_csv(failures_path(path)) == []  # the retried point is no longer a failure


def test_results_table_refuses_to_overwrite_a_table_it_cannot_read(tmp_path):
    pytest.importorskip("pandas")
    from rpu.sweep.results import ResultsTable

    path = tmp_path / "r.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises((RuntimeError, ImportError), match="parquet"):
        ResultsTable(str(path))
    assert path.read_bytes() == b"PAR1 this is not parquet"
    with pytest.raises(ValueError, match=r"\.csv, \.parquet"):
        ResultsTable(str(tmp_path / "r.xlsx"))


def test_results_table_follows_a_link_and_keeps_the_files_permissions(tmp_path):
    pytest.importorskip("pandas")
    import stat

    from rpu.sweep.results import ResultsTable

    real, link = tmp_path / "real.csv", tmp_path / "r.csv"
    link.symlink_to(real)
    ResultsTable(str(link), flush_every=0).add_result({"point_id": "a1", "seed": 0, "mse": 0.5})
    assert link.is_symlink() and [r["point_id"] for r in read_csv(str(real))] == ["a1"]
    # a new table gets the umask's permissions (its temporary file was private: 0600)
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o666 & ~umask
    os.chmod(real, 0o640)
    ResultsTable(str(link), flush_every=0).add_result({"point_id": "b2", "seed": 0, "mse": 0.1})
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert [r["point_id"] for r in read_csv(str(real))] == ["a1", "b2"]
    # a folder under the table's name is refused (it cannot be read as a table), not replaced
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(RuntimeError, match="cannot be read"):
        ResultsTable(str(tmp_path / "d.csv"), flush_every=0)
    assert (tmp_path / "d.csv").is_dir()


def test_results_table_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    from rpu.sweep.results import ResultsTable

    path = str(tmp_path / "r.parquet")
    table = ResultsTable(path, flush_every=0)
    for i in range(3):
        table.add_result({"point_id": f"p{i}", "seed": i, "mse": i / 4})
    frame = ResultsTable(path).results()
    assert list(frame["point_id"]) == ["p0", "p1", "p2"] and list(frame["mse"]) == [0, 0.25, 0.5]


# ----- import hygiene and the command without Dask --------------------------------------------

def test_import_rpu_does_not_import_dask():
    code = ("import sys, rpu, rpu.sweep, rpu.cli, rpu.sweep.cli\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pandas')]\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sweep_without_dask_says_what_to_install(tmp_path, monkeypatch, capsys):
    from rpu.cli import main

    spec = write_sweep(tmp_path)
    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    assert main(["sweep", spec]) == 2
    err = capsys.readouterr().err
    assert 'pip install "rpu[hpc]"' in err and "Dask" in err
    assert not os.path.exists(tmp_path / "out.csv")


def test_sweep_without_pandas_says_what_to_install(tmp_path, monkeypatch, capsys):
    pytest.importorskip("dask.distributed")
    from rpu.cli import main

    spec = write_sweep(tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert main(["sweep", spec]) == 2
    err = capsys.readouterr().err
    assert 'pip install "rpu[hpc]"' in err and "pandas" in err


def test_cli_bad_spec_exit_code(tmp_path, capsys):
    from rpu.cli import main

    (tmp_path / "bad.toml").write_text('[sweep]\nfunction = "x"\n')
    assert main(["sweep", str(tmp_path / "bad.toml")]) == 2
    assert "sweep.function" in capsys.readouterr().err


# ----- real sweeps on Dask ------------------------------------------------------------------------

def check_table(path, expect):
    """The results CSV holds exactly the points ``expect``, one row each, with tidy columns."""
    rows = read_csv(path)
    assert list(rows[0]) == ["point_id", "device.w_max", "forward.out_noise", "params.k", "seed",
                             "w_max_seen", "out_noise_seen", "bl_seen", "value", "elapsed_s",
                             "worker"]
    keys = [key_of(r) for r in rows]
    assert sorted(keys) == sorted(expect)
    for r in rows:  # each row's metrics were computed from that row's config and seed
        w, n, k, s = key_of(r)
        assert float(r["w_max_seen"]) == w and float(r["out_noise_seen"]) == n
        assert int(r["bl_seen"]) == 7 and int(r["value"]) == 10 * k + s
    return rows


def test_cli_sweep_on_a_2_worker_local_cluster(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    pytest.importorskip("pandas")
    from rpu.cli import main

    spec = write_sweep(tmp_path, delay=0.05)
    assert main(["sweep", spec, "--workers", "2"]) == 1  # one point failed
    err = capsys.readouterr().err
    rows = check_table(tmp_path / "out.csv", ALL_POINTS - {BAD_POINT})
    assert len({r["worker"] for r in rows}) == 2  # both workers ran points
    fails = read_csv(tmp_path / "out.failures.csv")
    assert len(fails) == 1 and key_of(fails[0]) == BAD_POINT
    assert fails[0]["error"] == "ValueError: bad point: k=2, seed=1"
    assert "Traceback" in fails[0]["traceback"] and "exp.py" in fails[0]["traceback"]
    # reported on stderr with its traceback, and the progress line counted it
    assert "failed on" in err and 'raise ValueError("bad point' in err
    assert "16/16 finished (15 done, 1 failed), 0 to go" in err
    # the dry run shows the state of every point
    assert main(["sweep", spec, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("\tdone") == 15 and out.count("\tfailed") == 1 and "to run" not in out


@pytest.fixture(scope="module")
def scheduler():
    """A 2-worker LocalCluster shared by the resume tests (reached through --scheduler)."""
    distributed = pytest.importorskip("dask.distributed")
    pytest.importorskip("pandas")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_resume_skips_finished_and_failed_points(tmp_path, scheduler, capsys):
    from rpu.sweep import run_sweep

    spec = write_sweep(tmp_path)
    # an earlier, interrupted run left 5 finished points (and a stray column) in the table
    points = {(p.axes["device.w_max"], p.axes["forward.out_noise"], p.axes["params.k"], p.seed): p
              for p in load_spec(spec).points()}
    first = sorted(ALL_POINTS - {BAD_POINT})[:5]
    with open(tmp_path / "out.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["point_id", "device.w_max", "forward.out_noise", "params.k", "seed",
                         "w_max_seen", "out_noise_seen", "bl_seen", "value", "elapsed_s",
                         "worker"])
        for key in first:
            w, n, k, s = key
            writer.writerow([points[key].point_id, w, n, k, s, w, n, 7, 10 * k + s, 0.0, "old"])
    report = run_sweep(spec, scheduler=scheduler)
    assert (report.skipped_done, report.done, report.failed) == (5, 10, 1)
    rows = check_table(tmp_path / "out.csv", ALL_POINTS - {BAD_POINT})
    assert sum(r["worker"] == "old" for r in rows) == 5  # the old rows were kept, not re-run
    # a second run has nothing to do: the failure is skipped too
    capsys.readouterr()
    report = run_sweep(spec, scheduler=scheduler)
    assert (report.skipped_done, report.skipped_failed, report.done, report.failed) == (15, 1, 0, 0)
    assert "15 done earlier, 1 failed earlier" in capsys.readouterr().err
    assert len(read_csv(tmp_path / "out.csv")) == 15
    # --retry-failed runs it again; it still fails and stays one row of the failures table
    report = run_sweep(spec, scheduler=scheduler, retry_failed=True)
    assert (report.done, report.failed) == (0, 1) and not report.complete
    assert len(read_csv(tmp_path / "out.failures.csv")) == 1
    # after a fix, --retry-failed completes the sweep and empties the failures table
    exp = tmp_path / "exp.py"
    exp.write_text(EXPERIMENT.replace("raise ValueError", "pass  #"))
    os.utime(exp, ns=(time.time_ns(), time.time_ns() + 10**9))
    report = run_sweep(spec, scheduler=scheduler, retry_failed=True)
    assert (report.done, report.failed) == (1, 0) and report.complete
    check_table(tmp_path / "out.csv", ALL_POINTS)
    assert read_csv(tmp_path / "out.failures.csv") == []


def test_interrupted_sweep_resumes(tmp_path, scheduler):
    from rpu.sweep import run_sweep

    gate = tmp_path / "gate"
    gate.write_text("points of seed 1 wait while this file exists")
    spec = write_sweep(tmp_path, gate=str(gate))
    out = tmp_path / "out.csv"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rpu.cli", "sweep", spec, "--scheduler", scheduler,
         "--flush-every", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(read_csv(out)) >= 1:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # Ctrl-C while the sweep waits for points of seed 1
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        gate.unlink()  # frees the workers' waiting points
    assert proc.returncode == 130, err
    assert "interrupted: run the same command again to resume" in err
    rows = read_csv(out)  # a complete table, not a torn one
    n_first = len(rows)
    assert 1 <= n_first <= 8 and all(r["seed"] == "0" for r in rows)
    report = run_sweep(spec, scheduler=scheduler, progress=None)
    assert report.skipped_done == n_first
    assert (report.done, report.failed) == (15 - n_first, 1)
    check_table(out, ALL_POINTS - {BAD_POINT})


def test_job_queue_cluster_from_the_file():
    pytest.importorskip("dask.distributed")
    pytest.importorskip("dask_jobqueue")
    from rpu.sweep import make_cluster

    cluster = make_cluster({"kind": "slurm", "jobs": 3, "cores": 2, "memory": "2GB",
                            "queue": "short", "walltime": "00:05:00",
                            "scheduler_options": {"host": "127.0.0.1"}})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert type(cluster).__name__ == "SLURMCluster"
    assert "#SBATCH -p short" in script and "#SBATCH -t 00:05:00" in script
    assert "--cpus-per-task=2" in script
    with pytest.raises(SweepSpecError, match="PBSCluster refused.*bogus"):
        make_cluster({"kind": "pbs", "cores": 1, "memory": "1GB", "bogus": 1,
                      "scheduler_options": {"host": "127.0.0.1"}})


def test_progress_line_on_a_terminal_and_in_a_log():
    import io

    from rpu.sweep.runner import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = _Progress(term, 12)
    bar.update(3, 1)
    bar.update(9, 1)
    bar.message("a failure")
    bar.update(11, 1, final=True)
    text = term.getvalue()
    assert text.startswith("\rrpu sweep: 4/12 finished (3 done, 1 failed), 8 to go, 0:00:0")
    assert "\rrpu sweep: 10/12 finished (9 done, 1 failed), 2 to go" in text
    assert "\na failure\n\rrpu sweep: 12/12 finished (11 done, 1 failed), 0 to go" in text
    assert text.endswith(" elapsed\n")
    log = io.StringIO()
    bar = _Progress(log, 12, every=3600)
    for i in range(12):
        bar.update(i, 0)
    bar.update(12, 0, final=True)
    lines = log.getvalue().splitlines()  # the first line, then only the final one
    assert len(lines) == 2 and "0/12 finished" in lines[0] and "12/12 finished" in lines[1]
