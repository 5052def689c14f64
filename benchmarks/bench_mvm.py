"""Speed of the analog matrix-vector products (forward / backward), against the limit and aihwkit.

    python -m benchmarks.bench_mvm [--sizes 512 1024] [--batch 100] [--repeats 30]
                                   [--json out.json] [--aihwkit-python PATH]

For each size n (square n x n tiles) and batch b it reports the median seconds per call of
- the limit: a bare float32 GEMM of the same shape in NumPy (``x @ W.T`` forward, ``d @ W``
  backward), i.e. what an ideal analog simulator costs at least;
- rpu's FloatingPointTile forward/backward;
- rpu's AnalogTile (SingleRPUConfig with ConstantStepDevice, default IOParameters) forward and
  backward, plus two forward variants: inputs scaled by 10, and data that make ~40 % of the samples
  overflow out_bound so that iterative bound management recomputes them;
- rpu's InferenceTile (default InferenceRPUConfig) evaluation forward after programming and one
  hour of drift (PCM noise model, global drift compensation);
- the same calls on aihwkit's CPU tiles, in a subprocess of aihwkit's own interpreter
  (``--aihwkit-python`` or ``$AIHWKIT_PYTHON``), in the same run, on the same arrays.

Both sides run with 2 threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS are set to 2
here before NumPy is imported (unless already set), and the aihwkit worker calls
``torch.set_num_threads(2)``. The ratios (rpu / GEMM, aihwkit / rpu) are the figures to quote;
absolute times depend on the machine.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from rpu._bench import run_aihwkit_worker  # noqa: E402
from rpu._bench._timing import time_calls  # noqa: E402
from benchmarks._common import (  # noqa: E402
    add_common_args,
    check_sides,
    finish,
    fmt_ratio,
    fmt_time,
    keep_min,
    machine_meta,
    print_versions,
    ratio,
    threadpools,
)

OUT_BOUND = 12.0  # IOParameters.out_bound default

# (tile, op, variant): what each row measures; the GEMM reference is the plain op of the same shape.
ROWS = [
    ("floating", "forward", ""),
    ("floating", "backward", ""),
    ("analog", "forward", ""),
    ("analog", "backward", ""),
    ("analog", "forward", "inputs x10"),
    ("analog", "forward", "overflow, BM on"),
    ("inference", "forward", "eval, drift 1 h"),
]


def make_data(n, batch, seed=0):
    """Weights and inputs for one size. `W`, `x`, `d`: plain, U(-a, a) weights with a = 0.3 at n = 256
    and ~1/sqrt(n) (so that no output comes near the bound), U(-1, 1) inputs; `x10`: x * 10;
    `W_ovf`, `x_ovf`: positive weights ~24/n and inputs u**p (p spread over [0.5, 2]) so that
    the ideal outputs, after ABS_MAX noise management, exceed out_bound for ~40 % of the samples."""
    rng = np.random.default_rng(seed + n)
    data = {
        # |y| / max|x| has std ~1.6 whatever n: outputs stay > 7 sigma below out_bound
        "W": rng.uniform(-1.0, 1.0, (n, n)) * (0.3 * np.sqrt(256.0 / n)),
        "x": rng.uniform(-1.0, 1.0, (batch, n)),
        "d": rng.uniform(-1.0, 1.0, (batch, n)),
    }
    data["x10"] = 10.0 * data["x"]
    m = 24.0 / n
    data["W_ovf"] = m + rng.uniform(-m / 2, m / 2, (n, n))
    p = rng.permutation(np.linspace(0.5, 2.0, batch))[:, None]  # batch 1: p = 0.5, overflows
    data["x_ovf"] = rng.uniform(0.0, 1.0, (batch, n)) ** p
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in data.items()}


def overflow_share(W, x):
    y = (x.astype(np.float64) @ W.T.astype(np.float64)) / np.abs(x).max(axis=1, keepdims=True)
    return float(np.mean(np.abs(y).max(axis=1) > OUT_BOUND))


def _row_inputs(op, variant):
    """(weights key, input key) of a row."""
    if variant == "inputs x10":
        return "W", "x10"
    if variant.startswith("overflow"):
        return "W_ovf", "x_ovf"
    return "W", "x" if op == "forward" else "d"


# ---------------------------------------------------------------------------------------------
# rpu side


def bench_rpu(data, repeats, max_seconds):
    """{(tile, op, variant): seconds or error string}."""
    import rpu
    from rpu import config as rc

    def analog_tile(W):
        device_cls = getattr(rc, "ConstantStepDevice", None)
        cfg = rc.SingleRPUConfig(device=device_cls()) if device_cls else rc.SingleRPUConfig()
        tile = rpu.AnalogTile(W.shape[0], W.shape[1], rpu_config=cfg, dtype=np.float32, seed=0)
        tile.set_weights(W)
        return tile

    def inference_tile(W):
        # Default InferenceRPUConfig (PCM noise model, global drift compensation), programmed
        # and drifted to one hour: the evaluation forward then applies the compensation factor.
        tile = rpu.InferenceTile(W.shape[0], W.shape[1], dtype=np.float32, seed=0)
        tile.set_weights(W)
        tile.program_weights()
        tile.drift_weights(3600.0)
        return tile

    def floating_tile(W):
        tile = rpu.FloatingPointTile(W.shape[0], W.shape[1])
        tile.set_weights(W)
        return tile

    tiles = {}
    out = {}
    for tile_kind, op, variant in ROWS:
        wkey, ikey = _row_inputs(op, variant)
        try:
            if (tile_kind, wkey) not in tiles:
                maker = {"analog": analog_tile, "inference": inference_tile,
                         "floating": floating_tile}[tile_kind]
                tiles[tile_kind, wkey] = maker(data[wkey])
            fn = getattr(tiles[tile_kind, wkey], op)
            inp = data[ikey]
            kwargs = {"is_test": True} if tile_kind == "inference" else {}
            out[tile_kind, op, variant] = time_calls(
                lambda: fn(inp, **kwargs), repeats=repeats, max_seconds=max_seconds
            )[0]
        except Exception as exc:  # report and go on with the other rows
            out[tile_kind, op, variant] = f"{type(exc).__name__}: {exc}"
    return out


def bench_gemm(data, repeats, max_seconds):
    W, x, d = data["W"], data["x"], data["d"]
    return {
        "forward": time_calls(lambda: x @ W.T, repeats=repeats, max_seconds=max_seconds)[0],
        "backward": time_calls(lambda: d @ W, repeats=repeats, max_seconds=max_seconds)[0],
    }


# ---------------------------------------------------------------------------------------------
# aihwkit side (a subprocess of aihwkit's interpreter)


def bench_aihwkit(python, all_data, repeats, max_seconds):
    """{(n, tile, op, variant): {"tile": s, "module": s}}, info dict. One subprocess, all sizes.
    "tile" is aihwkit's C++ simulator call, "module" the torch module call around it."""
    arrays, cases = {}, []
    for n, data in all_data.items():
        for key, arr in data.items():
            arrays[f"{key}_{n}"] = arr
        groups = {}
        for tile_kind, op, variant in ROWS:
            wkey, ikey = _row_inputs(op, variant)
            groups.setdefault((tile_kind, wkey), []).append(
                {"op": op, "input": f"{ikey}_{n}", "label": f"{op}|{variant}"}
            )
        for (tile_kind, wkey), ops in groups.items():
            cases.append({
                "name": f"{n}|{tile_kind}|{wkey}",
                "config": {"analog": "single", "inference": "inference"}.get(tile_kind, "floating"),
                "W": f"{wkey}_{n}",
                "ops": ops,
                "warmup": 3,
                "repeats": repeats,
                "max_seconds": max_seconds,
                "calls": ["tile", "module"],
            })
    res = run_aihwkit_worker(python, "bench", {"cases": cases}, arrays)
    timings = json.loads(str(res["timings"]))
    out = {}
    for name, labels in timings.items():
        n, tile_kind, _ = name.split("|")
        for label, by_call in labels.items():
            op, variant = label.split("|")
            out[int(n), tile_kind, op, variant] = by_call
    return out, json.loads(str(res["info"]))


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_mvm", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="tile sizes n (n x n)")
    ap.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    add_common_args(ap, repeats=30, max_seconds=2.0, rounds=3)
    args = ap.parse_args(argv)

    threads = os.environ.get("OMP_NUM_THREADS")
    meta = {
        "batch": args.batch,
        "sizes": args.sizes,
        "repeats": args.repeats,
        "rounds": args.rounds,
        **machine_meta(),
    }

    all_data = {n: make_data(n, args.batch) for n in args.sizes}
    for n, data in all_data.items():
        meta[f"overflow_share_{n}"] = overflow_share(data["W_ovf"], data["x_ovf"])
        meta[f"plain_overflow_share_{n}"] = overflow_share(data["W"], data["x"])

    # Rounds: GEMM + rpu here, then aihwkit in its subprocess (never concurrently: same cores).
    # Each figure is the smallest of its per-round medians, which discounts transient load from
    # other processes on the machine.
    gemm, rpu_t, aih = {}, {}, {}
    rpu_error, aih_error = check_sides(meta, args.aihwkit_python)

    for _ in range(args.rounds):
        for n, data in all_data.items():
            for op, v in bench_gemm(data, args.repeats, args.max_seconds).items():
                keep_min(gemm, (n, op), v)
            if rpu_error is None:
                for key, v in bench_rpu(data, args.repeats, args.max_seconds).items():
                    keep_min(rpu_t, (n,) + key, v)
        if aih_error is None:
            try:
                res, meta["aihwkit"] = bench_aihwkit(args.aihwkit_python, all_data, args.repeats,
                                                     args.max_seconds)
            except Exception as exc:
                aih_error = f"{type(exc).__name__}: {exc}"
            else:
                for key, by_call in res.items():
                    for call, v in by_call.items():
                        keep_min(aih, key + (call,), v)

    # after the rounds, so that rpu's own BLAS / OpenMP libraries are loaded and listed
    meta["threadpools"] = threadpools()

    # table
    print(f"MVM speed: median ms per call (best of {args.rounds} rounds), batch {args.batch}, "
          f"OMP_NUM_THREADS={threads}, {os.cpu_count()} CPUs")
    print_versions(meta, rpu_error, aih_error,
                   "; 'aihwkit' = its C++ tile call, 'aih mod' = the torch module call")
    head = (f"{'n':>5s} {'tile':9s} {'op':8s} {'variant':15s} {'GEMM':>9s} {'rpu':>9s} "
            f"{'rpu/GEMM':>8s} {'aihwkit':>9s} {'aih/rpu':>8s} {'aih/GEMM':>8s} {'aih mod':>9s}")
    print(head)
    print("-" * len(head))
    results, errors = [], []
    for n in args.sizes:
        for tile_kind, op, variant in ROWS:
            g = gemm[n, op]
            r = rpu_t.get((n, tile_kind, op, variant))
            a = aih.get((n, tile_kind, op, variant, "tile"))
            am = aih.get((n, tile_kind, op, variant, "module"))
            if isinstance(r, str):
                errors.append(f"rpu {tile_kind} {op} {variant} n={n}: {r}")
            print(f"{n:5d} {tile_kind:9s} {op:8s} {variant:15s} {fmt_time(g)} {fmt_time(r)} "
                  f"{fmt_ratio(r, g)} {fmt_time(a)} {fmt_ratio(a, r)} {fmt_ratio(a, g)} "
                  f"{fmt_time(am)}")
            results.append({
                "n": n, "batch": args.batch, "tile": tile_kind, "op": op, "variant": variant,
                "gemm_s": g,
                "rpu_s": r if not isinstance(r, str) else None,
                "rpu_error": r if isinstance(r, str) else None,
                "aihwkit_s": a,
                "aihwkit_module_s": am,
                "rpu_over_gemm": ratio(r, g),
                "aihwkit_over_rpu": ratio(a, r),
                "aihwkit_over_gemm": ratio(a, g),
            })
    for n in args.sizes:
        print(f"n={n}: {meta[f'overflow_share_{n}']:.0%} of the samples exceed out_bound="
              f"{OUT_BOUND:g} in the overflow rows, {meta[f'plain_overflow_share_{n}']:.0%} in the "
              f"others (ideal outputs after noise management)")
    finish(errors, args.json, meta, rpu_error, aih_error, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
