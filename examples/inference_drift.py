"""Inference on drifting PCM: program a layer onto an InferenceTile and watch its error grow.

Programs a 128x256 weight matrix onto PCM with the default InferenceRPUConfig (PCM programming
noise, drift and 1/f read noise, aihwkit's default DAC/ADC), then reads it after 1 s, 1 h,
1 day and 1 year, with and without global drift compensation, and prints the relative output
error ||y - W x|| / ||W x|| (the figure aihwkit's InferenceTile gives for the same setting is in
the README).

    python examples/inference_drift.py
"""
import numpy as np

import rpu
from rpu.config import InferenceRPUConfig

TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 day": 86400.0, "1 year": 3.15e7}


def main():
    rng = np.random.default_rng(0)
    weights = rng.uniform(-0.5, 0.5, size=(128, 256)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(100, 256)).astype(np.float32)
    exact = x @ weights.T
    print(f"{'time':8s} {'with compensation':>18s} {'without':>10s}")
    tiles = {}
    for name, compensate in (("with", True), ("without", False)):
        cfg = InferenceRPUConfig()
        if not compensate:
            cfg.drift_compensation = None
        tiles[name] = rpu.InferenceTile(128, 256, cfg, seed=7)
        tiles[name].set_weights(weights)
        tiles[name].program_weights()
    for label, t in TIMES.items():
        errors = []
        for tile in tiles.values():
            tile.drift_weights(t)
            y = tile.forward(x, is_test=True)
            errors.append(np.linalg.norm(y - exact) / np.linalg.norm(exact))
        print(f"{label:8s} {errors[0]:18.4f} {errors[1]:10.4f}")
    print(f"drift compensation factor after a year: {tiles['with'].alpha:.3f}")


if __name__ == "__main__":
    main()
