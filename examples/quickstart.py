"""Quickstart: an analog tile next to its floating-point twin.

Builds a 256x512 analog tile with aihwkit's default IO settings, runs forward and backward on a
batch, and reports how far the analog results are from the exact products (the DAC/ADC
quantisation and output noise at work), then saves and reloads the tile.

    python examples/quickstart.py
"""
import os
import tempfile

import numpy as np

import rpu
from rpu.config import IOParameters, SingleRPUConfig


def main():
    rng = np.random.default_rng(0)
    out_size, in_size, batch = 256, 512, 100
    weights = rng.uniform(-0.1, 0.1, size=(out_size, in_size)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(batch, in_size)).astype(np.float32)
    d = rng.uniform(-1, 1, size=(batch, out_size)).astype(np.float32)

    exact = rpu.FloatingPointTile(out_size, in_size, seed=0)
    exact.set_weights(weights)
    print(exact.get_brief_info())

    print(f"\n{'config':<34} {'forward residual std':>21} {'backward residual std':>22}")
    configs = {
        "default IOParameters": SingleRPUConfig(),
        "out_noise=0.0 (quantisation only)": SingleRPUConfig(
            forward=IOParameters(out_noise=0.0), backward=IOParameters(out_noise=0.0)),
        "is_perfect=True": SingleRPUConfig(
            forward=IOParameters(is_perfect=True), backward=IOParameters(is_perfect=True)),
    }
    for name, cfg in configs.items():
        tile = rpu.AnalogTile(out_size, in_size, cfg, seed=42)
        tile.set_weights(weights)
        fwd = np.std(tile.forward(x) - exact.forward(x))
        bwd = np.std(tile.backward(d) - exact.backward(d))
        print(f"{name:<34} {fwd:>21.5f} {bwd:>22.5f}")

    tile = rpu.AnalogTile(out_size, in_size, seed=42)
    tile.set_weights(weights)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tile.npz")
        rpu.save(tile, path)
        again = rpu.load(path)
    same = np.array_equal(again.forward(x), tile.forward(x))
    print(f"\nsaved and reloaded {tile.get_brief_info()}")
    print(f"the reloaded tile continues the same random stream: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
