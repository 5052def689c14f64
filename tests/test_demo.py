"""``rpu demo``: the main job runs end to end on the shipped digits and writes its outputs."""
import json

import numpy as np
import pytest

from rpu import cli
from rpu.data import load_digits
from rpu.demo import INFERENCE_TIMES, run_demo


def test_digits_are_shipped():
    images, labels = load_digits()
    assert images.shape == (1797, 64) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 1
    assert np.array_equal(np.bincount(labels) > 170, np.ones(10, bool))


def test_demo_end_to_end(tmp_path, capsys):
    results = run_demo(tmp_path, epochs=2, n_programmings=1, seed=1,
                       algorithms=["fp", "sgd", "tiki-taka"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["training_curves"] == results["training_curves"]
    curves = saved["training_curves"]
    assert set(curves) == {"fp", "sgd", "tiki-taka"} and all(len(c) == 2 for c in curves.values())
    assert curves["fp"][-1] > 0.9                 # floating point learns the digits
    assert curves["sgd"][-1] > 0.5                # analog SGD is well above chance (0.1)
    assert curves["tiki-taka"][-1] > 0.3
    acc = saved["inference_accuracy"]
    assert set(acc["compensated"]) == set(INFERENCE_TIMES)
    assert acc["compensated"]["1 s"][0] > 0.8
    # without compensation, a year of drift costs accuracy; compensation recovers most of it
    assert acc["compensated"]["1 year"][0] >= acc["uncompensated"]["1 year"][0] - 0.02
    out = capsys.readouterr().out
    assert "with drift compensation" in out and "results.json" in out
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_command_and_bad_arguments(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "1", "--programmings", "1"]) == 0
    assert (tmp_path / "results.json").exists()
    with pytest.raises(SystemExit):
        cli.main(["demo", "--out", str(tmp_path), "--epochs", "0"])
    assert "epochs must be a positive integer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown algorithm"):
        run_demo(tmp_path, epochs=1, algorithms=["adam"])
    # a folder that cannot be made: refused before the training, naming the folder
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--out", str(blocker / "out"), "--epochs", "1"])
    err = capsys.readouterr()
    assert "cannot be created" in err.err and str(blocker / "out") in err.err
    assert "Training" not in err.out


def test_info_command_reports_the_installation(capsys):
    from importlib import metadata

    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("rpu", "numpy", "openmp", "threads", "backends", "blas", "optional"):
        assert f"{key}:" in out
    assert "cpu" in out.split("backends:")[1].splitlines()[0]
    assert f"matplotlib {metadata.version('matplotlib')}" in out or "matplotlib" not in {
        d.metadata["Name"] for d in metadata.distributions()}
