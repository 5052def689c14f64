"""``rpu bench``: the table and JSON of the throughput benchmark (not its speed: benchmarks judge
speed, tests only that the command measures what it says)."""
import json

import pytest

from rpu import cli
from rpu.bench import run_bench

from aihwkit_runner import AIHWKIT_PYTHON


def test_bench_rows_and_json(tmp_path, capsys):
    path = tmp_path / "b.json"
    rows = run_bench(sizes=[16, 24], batch=4, devices=["ConstantStepDevice"],
                     algorithms=["tiki-taka"], repeats=3, max_seconds=0.05, json_path=str(path))
    saved = json.loads(path.read_text())
    assert saved["rows"] == rows
    keys = {(r["n"], r["config"], r["op"]) for r in rows}
    assert keys == {(n, c, op) for n in (16, 24)
                    for c, op in [("ConstantStepDevice", "forward"), ("ConstantStepDevice", "backward"),
                                  ("ConstantStepDevice", "update"),
                                  ("tiki-taka (SoftBounds)", "update")]}
    assert all(r["rpu_s"] > 0 and r["limit_s"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "rpu/limit" in out and "not compared" in out


def test_bench_command_refuses_unknown_names(capsys):
    for argv, message in ((["bench", "--devices", "FlashDevice"], "unknown device 'FlashDevice'"),
                          (["bench", "--algorithms", "adam"], "unknown algorithm 'adam'"),
                          (["bench", "--sizes", "0"], "must be positive")):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert message in capsys.readouterr().err


@pytest.mark.skipif(not AIHWKIT_PYTHON, reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_bench_against_aihwkit():
    rows = run_bench(sizes=[32], batch=8, devices=["SoftBoundsDevice"], algorithms=["c-ttv2"],
                     repeats=3, max_seconds=0.05, aihwkit_python=AIHWKIT_PYTHON)
    assert all(isinstance(r["aihwkit_s"], float) and r["aihwkit_s"] > 0 for r in rows)


@pytest.mark.parametrize("kwargs, message", [
    ({"repeats": 0}, "repeats must be an integer >= 1"),
    ({"repeats": 2.5}, "repeats must be an integer >= 1"),
    ({"max_seconds": -1.0}, "max_seconds must be a finite number"),
    ({"max_seconds": float("nan")}, "max_seconds must be a finite number"),
    ({"devices": [], "algorithms": []}, "nothing to measure"),
    ({"devices": ["IOParameters"]}, "unknown device 'IOParameters'"),
    ({"devices": ["TransferCompound"]}, "compound devices are timed through --algorithms"),
])
def test_bench_refuses_bad_settings_before_measuring(kwargs, message, capsys):
    args = dict(sizes=[8], batch=2, repeats=3, max_seconds=0.01)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        run_bench(**args)
    assert capsys.readouterr().out == ""  # refused before the table began


def test_bench_refuses_a_json_path_in_a_missing_folder(tmp_path, capsys):
    path = tmp_path / "missing" / "b.json"
    with pytest.raises(SystemExit):
        cli.main(["bench", "--sizes", "8", "--batch", "2", "--json", str(path)])
    err = capsys.readouterr()
    assert "does not exist" in err.err and str(tmp_path / "missing") in err.err
    assert err.out == "" and not path.parent.exists()
