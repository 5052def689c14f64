"""Speed of the pulsed update, against the limit and aihwkit.

    python -m benchmarks.bench_update [--sizes 512 1024] [--batch 100]
                                      [--devices constantstep softbounds] [--lr 0.01]
                                      [--d-scale 0.1] [--json out.json] [--aihwkit-python PATH]

For each size n (square n x n tiles), device and learning rate it reports the median seconds per
``tile.update(x, d)`` call (batch b) of
- rpu's AnalogTile with ``SingleRPUConfig(device=ConstantStepDevice())`` (resp.
  ``SoftBoundsDevice()``), default UpdateParameters (StochasticCompressed pulses, BL 31, update
  management and BL management on);
- the same config on aihwkit's CPU tile, in a subprocess of aihwkit's own interpreter
  (``--aihwkit-python`` or ``$AIHWKIT_PYTHON``), in the same run, on the same arrays;
- the limit (DESIGN.md section 5: one pass over the weights per batch), in bare NumPy: the
  floating-point SGD step ``W -= lr * (d.T @ x)`` (a GEMM plus a pass) and one pass
  ``W += 0`` over the weights alone.

Before every call, timed or not, the weights are set back to the same start (outside the timed
region), so every call does the same work and the devices never drift into their bounds.

The work of a stochastic pulsed update grows with the number of coincidences of x- and d-pulses
(aihwkit's time does: ~10x from lr 0.001 to 0.01), so the table states the expected number per
weight per sample, ``lr E|x_j||d_i| / dw_min``, and the mean bit length BL management picks,
``min(31, ceil(lr max|x| max|d| / dw_min))`` per sample. As a check that both simulators did the
same update, it also reports the mean |dW| of one update from the start weights (and, for
reference, the mean |lr d.T x| of the exact update) and the correlation of dW with that exact
update.

Both sides run with 2 threads (see bench_mvm). The ratios (rpu / limit, aihwkit / rpu) are the
figures to quote; absolute times depend on the machine.
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

# command-line name -> config class name (the same in rpu.config and aihwkit's devices)
DEVICES = {"constantstep": "ConstantStepDevice", "softbounds": "SoftBoundsDevice"}
W_START = 0.2  # start weights U(-W_START, W_START): well inside the default bounds (+-0.6)


def make_data(n, batch, d_scale, seed=0):
    """Start weights U(-0.2, 0.2), inputs x ~ U(-1, 1) and errors d ~ d_scale * U(-1, 1), all
    float32 (d is (batch, out_size), x (batch, in_size); the tiles are square)."""
    rng = np.random.default_rng(seed + n)
    data = {
        "W": rng.uniform(-W_START, W_START, (n, n)),
        "x": rng.uniform(-1.0, 1.0, (batch, n)),
        "d": d_scale * rng.uniform(-1.0, 1.0, (batch, n)),
    }
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in data.items()}


def pulse_stats(x, d, lr, dw_min, desired_bl=31):
    """Expected coincidences per weight per sample ``lr E|x_j||d_i| / dw_min`` (averaged over
    the weights and samples of this batch) and the mean BL of BL management."""
    ax = np.abs(x.astype(np.float64))
    ad = np.abs(d.astype(np.float64))
    coinc = lr / dw_min * float(np.mean(ax.mean(axis=1) * ad.mean(axis=1)))
    need = lr * ax.max(axis=1) * ad.max(axis=1) / dw_min
    bl = np.clip(np.ceil(need), 1, desired_bl)
    return {"coincidences_per_weight_sample": coinc, "mean_bl": float(bl.mean()),
            "max_bl": int(bl.max()), "bl_saturated_share": float(np.mean(need > desired_bl))}


def dw_check(dW, x, d, lr):
    """Mean |dW| and the correlation of dW with the exact step -lr d.T x."""
    exact = -lr * (d.astype(np.float64).T @ x.astype(np.float64))
    dW = dW.astype(np.float64)
    corr = float(np.corrcoef(dW.ravel(), exact.ravel())[0, 1]) if dW.std() > 0 else 0.0
    return {"mean_abs_dW": float(np.abs(dW).mean()), "corr_exact": corr,
            "mean_abs_exact": float(np.abs(exact).mean())}


# ---------------------------------------------------------------------------------------------
# limit and rpu side


def bench_limit(data, lr, repeats, max_seconds):
    W0, x, d = data["W"], data["x"], data["d"]
    W = W0.copy()

    def sgd():
        W.__isub__(lr * (d.T @ x))

    def one_pass():
        np.add(W, 0.0, out=W)

    return {
        "sgd": time_calls(sgd, repeats=repeats, max_seconds=max_seconds)[0],
        "pass": time_calls(one_pass, repeats=repeats, max_seconds=max_seconds)[0],
    }


def rpu_dw_min(device):
    from rpu import config as rc

    return float(getattr(rc, DEVICES[device])().dw_min)


def bench_rpu(data, device, lr, warmup, repeats, max_seconds):
    """(seconds, dW of one update) or (error string, None)."""
    try:
        import rpu
        from rpu import config as rc

        n_out, n_in = data["W"].shape
        cfg = rc.SingleRPUConfig(device=getattr(rc, DEVICES[device])())
        tile = rpu.AnalogTile(n_out, n_in, rpu_config=cfg, dtype=np.float32, seed=0)
        tile.set_learning_rate(lr)
        W0, x, d = data["W"], data["x"], data["d"]
        tile.set_weights(W0)
        held = tile.get_weights()  # after the device's clipping to its bounds
        tile.update(x, d)
        dW = tile.get_weights() - held
        seconds = time_calls(lambda: tile.update(x, d), warmup, repeats, max_seconds,
                             reset=lambda: tile.set_weights(W0))[0]
        return seconds, dW
    except Exception as exc:  # report and go on with the other rows
        return f"{type(exc).__name__}: {exc}", None


# ---------------------------------------------------------------------------------------------
# aihwkit side (a subprocess of aihwkit's interpreter)


def bench_aihwkit(python, all_data, devices, lrs, warmup, repeats, max_seconds):
    """{(n, device, lr): {"tile": s, "module": s, "dW": array}}, info. One subprocess for all."""
    arrays, cases, keys = {}, [], {}
    for n, data in all_data.items():
        for key, arr in data.items():
            arrays[f"{key}_{n}"] = arr
        for device in devices:
            for i, lr in enumerate(lrs):
                name = f"c{len(cases)}"
                keys[name] = (n, device, lr)
                cases.append({
                    "name": name, "config": "single", "device_class": DEVICES[device],
                    "W": f"W_{n}", "x": f"x_{n}", "d": f"d_{n}", "lr": lr,
                    "warmup": warmup, "repeats": repeats, "max_seconds": max_seconds,
                    "calls": ["tile", "module"],
                })
    res = run_aihwkit_worker(python, "update", {"cases": cases}, arrays)
    timings = json.loads(str(res["timings"]))
    out = {}
    for name, key in keys.items():
        out[key] = dict(timings[name], dW=res[f"{name}_dW"])
    return out, json.loads(str(res["info"]))


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_update",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="tile sizes n (n x n)")
    ap.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    ap.add_argument("--devices", nargs="+", default=list(DEVICES), choices=list(DEVICES),
                    help="devices (default: all)")
    ap.add_argument("--lr", type=float, nargs="+", default=[0.01],
                    help="learning rates (default 0.01)")
    ap.add_argument("--d-scale", type=float, default=0.1,
                    help="errors d ~ d_scale * U(-1, 1) (default 0.1; inputs x ~ U(-1, 1))")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    add_common_args(ap, repeats=20, max_seconds=3.0, rounds=3)
    args = ap.parse_args(argv)

    threads = os.environ.get("OMP_NUM_THREADS")
    meta = {
        "batch": args.batch, "sizes": args.sizes, "devices": args.devices, "lrs": args.lr,
        "d_scale": args.d_scale, "w_start": W_START, "warmup": args.warmup,
        "repeats": args.repeats, "rounds": args.rounds,
        **machine_meta(),
    }
    all_data = {n: make_data(n, args.batch, args.d_scale) for n in args.sizes}

    rpu_error, aih_error = check_sides(meta, args.aihwkit_python)
    dw_min = {dev: 0.001 for dev in args.devices}  # the default of both devices
    if rpu_error is None:
        try:
            dw_min = {dev: rpu_dw_min(dev) for dev in args.devices}
        except Exception as exc:
            rpu_error = f"{type(exc).__name__}: {exc}"

    # Rounds: limit + rpu here, then aihwkit in its subprocess (never concurrently: same cores);
    # each figure is the smallest of its per-round medians.
    limit, rpu_t, aih, rpu_dw, aih_dw = {}, {}, {}, {}, {}
    for _ in range(args.rounds):
        for n, data in all_data.items():
            for lr in args.lr:
                for kind, v in bench_limit(data, lr, args.repeats, args.max_seconds).items():
                    keep_min(limit, (n, lr, kind), v)
                if rpu_error is None:
                    for dev in args.devices:
                        v, dW = bench_rpu(data, dev, lr, args.warmup, args.repeats,
                                          args.max_seconds)
                        keep_min(rpu_t, (n, dev, lr), v)
                        if dW is not None:
                            rpu_dw.setdefault((n, dev, lr), dW)
        if aih_error is None:
            try:
                res, meta["aihwkit"] = bench_aihwkit(args.aihwkit_python, all_data, args.devices,
                                                     args.lr, args.warmup, args.repeats,
                                                     args.max_seconds)
            except Exception as exc:
                aih_error = f"{type(exc).__name__}: {exc}"
            else:
                for key, by_call in res.items():
                    aih_dw.setdefault(key, by_call.pop("dW"))
                    for call, v in by_call.items():
                        keep_min(aih, key + (call,), v)

    # after the rounds, so that rpu's own BLAS / OpenMP libraries are loaded and listed
    meta["threadpools"] = threadpools()

    print(f"Pulsed update speed: median ms per update(x, d) call (best of {args.rounds} rounds), "
          f"batch {args.batch}, x ~ U(-1,1), d ~ {args.d_scale:g} U(-1,1), "
          f"OMP_NUM_THREADS={threads}, {os.cpu_count()} CPUs")
    print_versions(meta, rpu_error, aih_error,
                   "; 'aihwkit' = its C++ tile call, 'aih mod' = the torch module call")
    print("limit: 'SGD' = NumPy W -= lr * (d.T @ x) (GEMM + pass), 'pass' = NumPy W += 0; "
          "'coinc' = expected coincidences per weight per sample, 'BL' = mean BL of BL management")
    head = (f"{'n':>5s} {'device':12s} {'lr':>7s} {'coinc':>6s} {'BL':>5s} {'SGD':>9s} "
            f"{'pass':>9s} {'rpu':>9s} {'rpu/SGD':>8s} {'rpu/pass':>8s} {'aihwkit':>9s} "
            f"{'aih/rpu':>8s} {'aih mod':>9s}")
    print(head)
    print("-" * len(head))
    results, errors, checks = [], [], []
    for n in args.sizes:
        data = all_data[n]
        for dev in args.devices:
            for lr in args.lr:
                st = pulse_stats(data["x"], data["d"], lr, dw_min[dev])
                sgd, one = limit[n, lr, "sgd"], limit[n, lr, "pass"]
                r = rpu_t.get((n, dev, lr))
                a = aih.get((n, dev, lr, "tile"))
                am = aih.get((n, dev, lr, "module"))
                if isinstance(r, str):
                    errors.append(f"rpu {dev} n={n} lr={lr:g}: {r}")
                print(f"{n:5d} {dev:12s} {lr:7.3g} {st['coincidences_per_weight_sample']:6.3f} "
                      f"{st['mean_bl']:5.2f} {fmt_time(sgd)} {fmt_time(one)} {fmt_time(r)} "
                      f"{fmt_ratio(r, sgd)} {fmt_ratio(r, one)} {fmt_time(a)} "
                      f"{fmt_ratio(a, r)} {fmt_time(am)}")
                chk = {}
                for side, store in (("rpu", rpu_dw), ("aihwkit", aih_dw)):
                    if (n, dev, lr) in store:
                        chk[side] = dw_check(store[n, dev, lr], data["x"], data["d"], lr)
                checks.append(((n, dev, lr), chk))
                results.append(dict(
                    {"n": n, "batch": args.batch, "device": dev, "lr": lr,
                     "dw_min": dw_min[dev], "sgd_s": sgd, "pass_s": one,
                     "rpu_s": r if not isinstance(r, str) else None,
                     "rpu_error": r if isinstance(r, str) else None,
                     "aihwkit_s": a, "aihwkit_module_s": am,
                     "rpu_over_sgd": ratio(r, sgd), "rpu_over_pass": ratio(r, one),
                     "aihwkit_over_rpu": ratio(a, r), "aihwkit_over_sgd": ratio(a, sgd),
                     "dw_check": chk},
                    **st))
    print("check, one update from the start weights: mean |dW| (exact |lr d.T x|), "
          "correlation of dW with the exact step")
    for (n, dev, lr), chk in checks:
        parts = [f"{side} {c['mean_abs_dW']:.3e} corr {c['corr_exact']:.3f}"
                 for side, c in chk.items()]
        exact = next(iter(chk.values()))["mean_abs_exact"] if chk else float("nan")
        print(f"  n={n} {dev} lr={lr:g}: " + "; ".join(parts) + f" (exact {exact:.3e})")
    finish(errors, args.json, meta, rpu_error, aih_error, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
