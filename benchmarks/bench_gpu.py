"""Speed of the GPU backend: forward, backward and update on CuPy, against cuBLAS and the CPU.

    python -m benchmarks.bench_gpu [--sizes 1024 2048 4096] [--batches 1 100 1000]
                                   [--cpu-max-size 2048] [--json out.json]

For each square size n and batch b it reports the median milliseconds per call of
- rpu on the GPU: ``AnalogTile(n, n, backend="cuda")`` with the default SingleRPUConfig
  (ConstantStepDevice, default IOParameters: noise management, bound management, DAC/ADC
  quantisation and output noise) -- ``forward(x)``, ``backward(d)`` and ``update(x, d)`` at
  learning rate 0.01 on CuPy arrays already on the device;
- the limit: a bare cuBLAS GEMM of the same shapes (``cupy.matmul``, float32), for the update
  the rank-b product ``d.T @ x`` plus one pass over the weights;
- rpu on the CPU (``backend="cpu"``, all cores) for sizes up to ``--cpu-max-size``.

Every GPU call is followed by a device synchronisation inside the timed region, so the times
are wall-clock times of finished work. The figures to quote are the ratios rpu-GPU / GEMM (the
issue's targets: forward <= 2x, update <= 5x at 4096 x 4096, batch 1000) and CPU / GPU.
Without CuPy and a CUDA device the script says so and exits with status 2.
"""
import argparse
import json
import sys

import numpy as np

from rpu._bench._timing import time_calls


def _gpu_or_exit():
    from rpu import gpu
    if not gpu.is_available():
        print("bench_gpu: no CUDA device with CuPy here. " + gpu.INSTALL_HINT, file=sys.stderr)
        sys.exit(2)
    import cupy
    return cupy


def _synced(cupy, fn):
    def call():
        fn()
        cupy.cuda.Device().synchronize()
    return call


def bench_case(cupy, n, batch, with_cpu, repeats, max_seconds):
    """Median seconds of each operation for one (n, batch); see the module docstring."""
    import rpu

    rng = np.random.default_rng(0)
    x_h = rng.uniform(-1, 1, (batch, n)).astype(np.float32)
    d_h = (0.1 * rng.uniform(-1, 1, (batch, n))).astype(np.float32)
    x, d = cupy.asarray(x_h), cupy.asarray(d_h)
    w = cupy.asarray(rng.uniform(-0.5, 0.5, (n, n)).astype(np.float32))
    out = {}
    y = cupy.empty((batch, n), dtype=np.float32)
    out["gemm_forward"] = time_calls(_synced(cupy, lambda: cupy.matmul(x, w.T, out=y)),
                                     repeats=repeats, max_seconds=max_seconds)[0]
    out["gemm_backward"] = time_calls(_synced(cupy, lambda: cupy.matmul(d, w, out=y)),
                                      repeats=repeats, max_seconds=max_seconds)[0]

    def sgd():
        w[...] -= 0.01 * (d.T @ x)
    out["gemm_update"] = time_calls(_synced(cupy, sgd), repeats=repeats, max_seconds=max_seconds)[0]

    tile = rpu.AnalogTile(n, n, seed=1, backend="cuda")
    tile.set_learning_rate(0.01)
    w0 = tile.get_weights()
    out["gpu_forward"] = time_calls(_synced(cupy, lambda: tile.forward(x)), repeats=repeats,
                                    max_seconds=max_seconds)[0]
    out["gpu_backward"] = time_calls(_synced(cupy, lambda: tile.backward(d)), repeats=repeats,
                                     max_seconds=max_seconds)[0]
    out["gpu_update"] = time_calls(_synced(cupy, lambda: tile.update(x, d)), repeats=repeats,
                                   max_seconds=max_seconds, reset=lambda: tile.set_weights(w0))[0]
    if with_cpu:
        cpu = rpu.AnalogTile(n, n, seed=1, backend="cpu")
        cpu.set_learning_rate(0.01)
        c0 = cpu.get_weights()
        out["cpu_forward"] = time_calls(lambda: cpu.forward(x_h), repeats=repeats,
                                        max_seconds=max_seconds)[0]
        out["cpu_backward"] = time_calls(lambda: cpu.backward(d_h), repeats=repeats,
                                         max_seconds=max_seconds)[0]
        out["cpu_update"] = time_calls(lambda: cpu.update(x_h, d_h), repeats=repeats,
                                       max_seconds=max_seconds,
                                       reset=lambda: cpu.set_weights(c0))[0]
    return out


def _ms(v):
    return "-" if v is None else f"{1e3 * v:9.3f}"


def _ratio(a, b):
    return "-" if a is None or b is None or b <= 0 else f"{a / b:7.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--cpu-max-size", type=int, default=2048,
                        help="time the CPU backend only up to this size (it is slow at 4096)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=3.0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    cupy = _gpu_or_exit()
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    results = []
    for n in args.sizes:
        for b in args.batches:
            r = bench_case(cupy, n, b, n <= args.cpu_max_size, args.repeats, args.max_seconds)
            r.update(n=n, batch=b)
            results.append(r)
            print(f"[done] n={n} batch={b}", file=sys.stderr)
    print(f"GPU backend speed: median ms per call, default SingleRPUConfig (ConstantStep, default "
          f"IO), float32, lr 0.01; GPU: {name}; 'gemm' = bare cuBLAS (cupy.matmul)")
    for op in ("forward", "backward", "update"):
        print(f"\n{op}")
        print(f"{'n':>5} {'batch':>6} {'gemm':>9} {'rpu-gpu':>9} {'rpu-cpu':>9} {'gpu/gemm':>8} {'cpu/gpu':>8}")
        for r in results:
            g, t, c = r[f"gemm_{op}"], r[f"gpu_{op}"], r.get(f"cpu_{op}")
            print(f"{r['n']:5d} {r['batch']:6d} {_ms(g)} {_ms(t)} {_ms(c)} {_ratio(t, g):>8} "
                  f"{_ratio(c, t):>8}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
