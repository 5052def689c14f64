"""Speed of the compound (transfer) updates, against the limit and aihwkit.

    python -m benchmarks.bench_compounds [--sizes 256 1024] [--batch 100]
                                         [--algorithms tiki-taka c-ttv2 agad]
                                         [--device softbounds|constantstep] [--lr 0.01]
                                         [--json out.json] [--aihwkit-python PATH]

For each size n (square n x n tiles) and training algorithm it reports the median seconds per
``tile.update(x, d)`` call (batch b) of
- rpu's ``AnalogTile(n, n, build_config(algorithm, SoftBoundsDevice))`` (resp.
  ``ConstantStepDevice``), i.e. a two-device transfer compound (Tiki-taka: TransferCompound;
  c-TTv2: ChoppedTransferCompound; AGAD: DynamicTransferCompound) with build_config's update
  settings; one call updates the fast device sample by sample and runs the transfers that fall
  due within the batch;
- the same ``build_config(algorithm, device)`` on aihwkit's CPU tile (its C++ call
  ``AnalogTile.tile.update(x, d, False)``), in a subprocess of aihwkit's own interpreter
  (``--aihwkit-python`` or ``$AIHWKIT_PYTHON``), in the same run, on the same arrays;
- the limit: the floating-point SGD step ``W -= lr * (d.T @ x)`` in bare NumPy (a GEMM plus a
  pass over the weights; see bench_update).

Before every call, timed or not, the visible weights are set back to the same start
(``set_weights``, outside the timed region; on both sides it also zeroes the fast device and
restarts the transfer column, while buffers and choppers carry on).
Compound updates can be slow (aihwkit's Tiki-taka takes ~20 s per call at 1024 x 1024), so the
number of calls adapts to a time budget per case and side (``--max-seconds``, default 20 s):
the first call from the start weights (the one of the check below) is timed; if it took more
than a quarter of the budget it is a sample, and more calls follow while the total stays within
the budget (1-3 calls for calls of seconds); otherwise ``time_calls`` runs a warm-up call and up
to ``--repeats`` calls within the budget. The table gives the number of timed calls per side.

As a check that both simulators did the same thing, it reports for that first update from the
start weights the mean |dW| of the visible weights and the mean |dA| of the fast device's weights
(hidden parameter ``hidden_weights_0``) on each side. The visible weights change only through
transfers (AGAD transfers nothing within one batch of 100 with the defaults: dW = 0 on both
sides).

Both sides run with 2 threads (see bench_mvm). The ratios (aihwkit / rpu, rpu / SGD) are the
figures to quote; absolute times depend on the machine.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from rpu._bench._timing import budget_calls, time_calls  # noqa: E402
from rpu._bench import run_aihwkit_worker  # noqa: E402
from benchmarks._common import (  # noqa: E402
    add_common_args,
    check_sides,
    finish,
    fmt_ratio,
    fmt_time,
    machine_meta,
    print_versions,
    ratio,
    threadpools,
)
from benchmarks.bench_update import make_data  # noqa: E402

# command-line name -> config class name (the same in rpu.config and aihwkit's devices)
DEVICES = {"softbounds": "SoftBoundsDevice", "constantstep": "ConstantStepDevice"}
ALGORITHMS = ["tiki-taka", "c-ttv2", "agad"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def mean_abs(a):
    return float(np.abs(np.asarray(a, dtype=np.float64)).mean())


# ---------------------------------------------------------------------------------------------
# limit and rpu side


def bench_limit(data, lr, repeats, max_seconds):
    W0, x, d = data["W"], data["x"], data["d"]
    W = W0.copy()

    def sgd():
        W.__isub__(lr * (d.T @ x))

    return time_calls(sgd, repeats=repeats, max_seconds=max_seconds)[0]


def bench_rpu(data, algorithm, device, lr, warmup, repeats, budget):
    """{"s": seconds, "calls": n, "dW": mean |dW|, "dA": mean |dA|} or an error string."""
    try:
        from rpu import config as rc
        from rpu.tiles import AnalogTile

        n_out, n_in = data["W"].shape
        cfg = rc.build_config(algorithm, getattr(rc, DEVICES[device]))
        tile = AnalogTile(n_out, n_in, rpu_config=cfg, dtype=np.float32, seed=0)
        tile.set_learning_rate(lr)
        W0, x, d = data["W"], data["x"], data["d"]

        def reset():
            tile.set_weights(W0)

        def fast_weights():
            return tile.get_hidden_parameters().get("hidden_weights_0")

        reset()
        held, A0 = tile.get_weights(), fast_weights()  # after the device's clipping
        t0 = time.perf_counter()
        tile.update(x, d)
        first = time.perf_counter() - t0
        A1 = fast_weights()
        out = {"dW": mean_abs(tile.get_weights() - held),
               "dA": mean_abs(A1 - A0) if A0 is not None else None}
        out["s"], out["calls"] = budget_calls(lambda: tile.update(x, d), reset, first, budget,
                                              repeats, warmup)
        return out
    except Exception as exc:  # report and go on with the other rows
        return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# aihwkit side (a subprocess of aihwkit's interpreter)


def bench_aihwkit(python, all_data, algorithms, device, lr, warmup, repeats, budget):
    """{(n, algorithm): {"s", "calls", "dW", "dA"}}, info. One subprocess for all cases."""
    arrays, cases, keys = {}, [], {}
    for n, data in all_data.items():
        for key, arr in data.items():
            arrays[f"{key}_{n}"] = arr
        for alg in algorithms:
            name = f"n{n}_{alg}"
            keys[name] = (n, alg)
            cases.append({
                "name": name, "algorithm": alg, "device_class": DEVICES[device],
                "W": f"W_{n}", "x": f"x_{n}", "d": f"d_{n}", "lr": lr,
                "warmup": warmup, "repeats": repeats, "max_seconds": budget,
            })
    res = run_aihwkit_worker(python, "compound", {"cases": cases}, arrays, timeout=7200,
                             live_stderr=True)
    timings = json.loads(str(res["timings"]))
    counts = json.loads(str(res["counts"]))
    out = {}
    for name, key in keys.items():
        dA = res.get(f"{name}_dA")
        out[key] = {"s": timings[name], "calls": counts[name], "dW": mean_abs(res[f"{name}_dW"]),
                    "dA": mean_abs(dA) if dA is not None else None}
    return out, json.loads(str(res["info"]))


# ---------------------------------------------------------------------------------------------


def _fmt_calls(v):
    return f"{v['calls']:>5d}" if isinstance(v, dict) else f"{'-':>5s}"


def _fmt_check(v, key):
    if isinstance(v, dict) and v.get(key) is not None:
        return f"{v[key]:9.3e}"
    return f"{'-':>9s}"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_compounds",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024],
                    help="tile sizes n (n x n)")
    ap.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    ap.add_argument("--algorithms", nargs="+", default=ALGORITHMS,
                    help="build_config algorithm names (default: tiki-taka c-ttv2 agad)")
    ap.add_argument("--device", default="softbounds", choices=list(DEVICES),
                    help="device of both sub-devices (default softbounds)")
    ap.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    ap.add_argument("--d-scale", type=float, default=0.1,
                    help="errors d ~ d_scale * U(-1, 1) (default 0.1; inputs x ~ U(-1, 1))")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed calls before timing fast calls (default 1)")
    add_common_args(ap, repeats=20, max_seconds=20.0, rounds=1,
                    repeats_help="at most this many timed calls",
                    max_seconds_help="time budget per case and side, in seconds (default 20)")
    args = ap.parse_args(argv)

    threads = os.environ.get("OMP_NUM_THREADS")
    meta = {
        "batch": args.batch, "sizes": args.sizes, "algorithms": args.algorithms,
        "device": args.device, "lr": args.lr, "d_scale": args.d_scale,
        "warmup": args.warmup, "repeats": args.repeats, "max_seconds": args.max_seconds,
        "rounds": args.rounds,
        **machine_meta(),
    }
    all_data = {n: make_data(n, args.batch, args.d_scale) for n in args.sizes}

    rpu_error, aih_error = check_sides(meta, args.aihwkit_python)

    def keep_best(store, key, value):
        """Keeps the smallest time (with its check figures); an error only if no time came."""
        old = store.get(key)
        if isinstance(value, str):
            store.setdefault(key, value)
        elif not isinstance(old, dict) or value["s"] < old["s"]:
            store[key] = value

    # Rounds: limit + rpu here, then aihwkit in its subprocess (never concurrently: same cores).
    limit, rpu_t, aih = {}, {}, {}
    for rnd in range(args.rounds):
        for n, data in all_data.items():
            v = bench_limit(data, args.lr, 20, 3.0)
            limit[n] = min(v, limit.get(n, v))
            if rpu_error is None:
                for alg in args.algorithms:
                    v = bench_rpu(data, alg, args.device, args.lr, args.warmup, args.repeats,
                                  args.max_seconds)
                    keep_best(rpu_t, (n, alg), v)
                    log(f"[rpu] round {rnd + 1} n={n} {alg}: "
                        + (v if isinstance(v, str)
                           else f"{v['s'] * 1e3:.1f} ms ({v['calls']} calls)"))
        if aih_error is None:
            try:
                res, meta["aihwkit"] = bench_aihwkit(
                    args.aihwkit_python, all_data, args.algorithms, args.device, args.lr,
                    args.warmup, args.repeats, args.max_seconds)
            except Exception as exc:
                aih_error = f"{type(exc).__name__}: {exc}"
            else:
                for key, v in res.items():
                    keep_best(aih, key, v)

    # after the rounds, so that rpu's own BLAS / OpenMP libraries are loaded and listed
    meta["threadpools"] = threadpools()

    print(f"Compound update speed: median ms per update(x, d) call (best of {args.rounds} "
          f"round(s)), {DEVICES[args.device]}, lr {args.lr:g}, batch {args.batch}, "
          f"x ~ U(-1,1), d ~ {args.d_scale:g} U(-1,1), OMP_NUM_THREADS={threads}, "
          f"{os.cpu_count()} CPUs; budget {args.max_seconds:g} s per case and side")
    print_versions(meta, rpu_error, aih_error, ", its C++ call tile.update(x, d, False)")
    print("limit: 'SGD' = NumPy W -= lr * (d.T @ x); '#r', '#a' = timed calls of rpu, aihwkit")
    head = (f"{'n':>5s} {'algorithm':10s} {'SGD':>9s} {'rpu':>9s} {'#r':>5s} {'aihwkit':>9s} "
            f"{'#a':>5s} {'aih/rpu':>8s} {'rpu/SGD':>8s}")
    print(head)
    print("-" * len(head))
    results, errors = [], []
    for n in args.sizes:
        for alg in args.algorithms:
            sgd = limit[n]
            r, a = rpu_t.get((n, alg)), aih.get((n, alg))
            rs = r["s"] if isinstance(r, dict) else None
            as_ = a["s"] if isinstance(a, dict) else None
            if isinstance(r, str):
                errors.append(f"rpu {alg} n={n}: {r}")
            print(f"{n:5d} {alg:10s} {fmt_time(sgd)} {fmt_time(rs)} {_fmt_calls(r)} "
                  f"{fmt_time(as_)} {_fmt_calls(a)} {fmt_ratio(as_, rs)} {fmt_ratio(rs, sgd)}")
            chk = {side: {"mean_abs_dW": v["dW"], "mean_abs_dA": v["dA"]}
                   for side, v in (("rpu", r), ("aihwkit", a)) if isinstance(v, dict)}
            results.append({
                "n": n, "batch": args.batch, "algorithm": alg, "device": args.device,
                "lr": args.lr, "sgd_s": sgd,
                "rpu_s": rs, "rpu_calls": r["calls"] if isinstance(r, dict) else None,
                "rpu_error": r if isinstance(r, str) else None,
                "aihwkit_s": as_, "aihwkit_calls": a["calls"] if isinstance(a, dict) else None,
                "aihwkit_over_rpu": ratio(as_, rs), "rpu_over_sgd": ratio(rs, sgd),
                "aihwkit_over_sgd": ratio(as_, sgd), "check": chk,
            })
    print("check, one update from the start weights: mean |dW| of the visible weights, "
          "mean |dA| of the fast device (hidden_weights_0)")
    head = (f"{'n':>5s} {'algorithm':10s} {'rpu dW':>9s} {'aih dW':>9s} {'rpu dA':>9s} "
            f"{'aih dA':>9s}")
    print(head)
    print("-" * len(head))
    for n in args.sizes:
        for alg in args.algorithms:
            r, a = rpu_t.get((n, alg)), aih.get((n, alg))
            print(f"{n:5d} {alg:10s} {_fmt_check(r, 'dW')} {_fmt_check(a, 'dW')} "
                  f"{_fmt_check(r, 'dA')} {_fmt_check(a, 'dA')}")
    finish(errors, args.json, meta, rpu_error, aih_error, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
