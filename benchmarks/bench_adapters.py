"""What the PyTorch adapter costs: one training step through it against the same tile from NumPy.

    python -m benchmarks.bench_adapters [--size 512] [--batch 100] [--rounds 3] [--json out.json]

One training step of an ``n x n`` analog layer (no bias) with ``SingleRPUConfig(device=
ConstantStepDevice())`` on a batch of b input vectors:

- **NumPy**: ``tile.forward(x)``, ``tile.backward(d)``, ``tile.update(x, d)``,
  ``tile.post_update_step()`` on an ``rpu.AnalogTile``;
- **torch adapter**: ``opt.zero_grad()``, ``y = layer(x)``, ``y.backward(d)``, ``opt.step()`` with
  ``rpu.adapters.torch.AnalogLinear`` and ``AnalogSGD`` (the same calls happen inside, plus
  autograd, the DLPack views and the recording of x and d).

Both tiles have the same seed and config; before every step the weights are set back (untimed),
so every step does the same work. Both run with 2 threads, in the same process, alternating over
``--rounds`` rounds (the best median of each side is kept). The figure to quote is the ratio
adapter / NumPy (target: at most 1.2).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rpu  # noqa: E402
from rpu._bench._timing import time_calls  # noqa: E402
from rpu.adapters import torch as rpu_torch  # noqa: E402
from rpu.config import ConstantStepDevice, SingleRPUConfig  # noqa: E402


def bench(n, batch, lr, rounds, repeats, max_seconds, seed=0):
    """Median seconds per training step: {"numpy": s, "torch": s, "ratio": torch / numpy}."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, n)).astype(np.float32)
    d = (0.1 * rng.standard_normal((batch, n))).astype(np.float32)
    w0 = rng.uniform(-0.2, 0.2, (n, n)).astype(np.float32)
    cfg = SingleRPUConfig(device=ConstantStepDevice())

    tile = rpu.AnalogTile(n, n, cfg, seed=seed + 1)
    tile.set_learning_rate(lr)

    def numpy_step():
        tile.forward(x)
        tile.backward(d)
        tile.update(x, d)
        tile.post_update_step()

    layer = rpu_torch.AnalogLinear(n, n, bias=False, rpu_config=cfg, seed=seed + 1)
    opt = rpu_torch.AnalogSGD(layer.parameters(), lr=lr)
    xt, dt = torch.from_numpy(x), torch.from_numpy(d)

    def torch_step():
        opt.zero_grad()
        layer(xt).backward(dt)
        opt.step()

    best = {"numpy": np.inf, "torch": np.inf}
    for _ in range(rounds):
        for name, fn, t in (("numpy", numpy_step, tile), ("torch", torch_step, layer.tile)):
            sec, _ = time_calls(fn, warmup=2, repeats=repeats, max_seconds=max_seconds,
                                reset=lambda t=t: t.set_weights(w0))
            best[name] = min(best[name], sec)
    best["ratio"] = best["torch"] / best["numpy"]
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=5.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    res = bench(args.size, args.batch, args.lr, args.rounds, args.repeats, args.max_seconds)
    print(f"training step, {args.size}x{args.size}, batch {args.batch}, lr {args.lr}, "
          f"{os.environ['OMP_NUM_THREADS']} threads")
    print(f"  NumPy tile      {1e3 * res['numpy']:8.2f} ms")
    print(f"  torch adapter   {1e3 * res['torch']:8.2f} ms")
    print(f"  adapter / NumPy {res['ratio']:8.3f}   (target <= 1.2)")
    if args.json:
        info = {"machine": platform.machine(), "python": platform.python_version(),
                "torch": torch.__version__, "rpu": rpu.__version__,
                "threads": os.environ["OMP_NUM_THREADS"]}
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "result": res, "info": info}, f, indent=1)
    return res


if __name__ == "__main__":
    main()
