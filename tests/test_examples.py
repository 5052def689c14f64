"""The scripts in examples/ run to the end and reach what they claim (a few seconds each).

Each runs as a user would start it, ``python examples/NAME.py``, in a fresh interpreter and an
empty working directory (they write their outputs there). The PyTorch and JAX examples are
skipped where those packages are missing.
"""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def _run(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _final_accuracy(out):
    found = re.findall(r"test accuracy ([0-9.]+) %", out)
    assert found, out
    return float(found[-1])


def test_quickstart(tmp_path):
    out = _run("quickstart.py", tmp_path)
    assert "the reloaded tile continues the same random stream: True" in out


def test_inference_drift(tmp_path):
    out = _run("inference_drift.py", tmp_path)
    factor = float(re.search(r"drift compensation factor after a year: ([0-9.]+)", out).group(1))
    assert factor > 1.0  # the weights drifted down, the compensation scales them back up


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_analog_dense(tmp_path):
    assert _final_accuracy(_run("jax_analog_dense.py", tmp_path)) > 80.0


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_port_from_aihwkit_torch(tmp_path):
    out = _run("port_from_aihwkit_torch.py", tmp_path)
    assert _final_accuracy(out) > 80.0
    assert (tmp_path / "analog_digits.pt").is_file()
