"""``rpu bench``: throughput of forward, backward and update, against the limit and aihwkit.

For each tile size ``n`` (square ``n x n`` tiles, batch ``b``) and each chosen device (a
``SingleRPUConfig`` with that device) or training algorithm (``build_config(algorithm,
SoftBoundsDevice)``, update only), it times rpu's ``forward``, ``backward`` and ``update`` and
compares them, in the same run and on the same arrays, with

* the limit: a bare NumPy GEMM of the same shape for forward (``x @ W.T``) and backward
  (``d @ W``), and the floating-point SGD step ``W -= lr d.T @ x`` for the update;
* aihwkit 1.1.0's CPU tile (its C++ calls), when ``--aihwkit-python`` or ``$AIHWKIT_PYTHON``
  names an interpreter with aihwkit; it runs in that interpreter's own process.

Both sides use the same number of threads (``--threads``, 2 by default). Before every update
call the weights are set back to the start, outside the timed region, so every call does the
same work. Medians of the timed calls are reported; the ratios are the figures to quote. The
scripts in ``benchmarks/`` measure the same things in more detail.
"""
import json
import math
import numbers
import os
import platform
import sys

import numpy as np

from rpu._bench import run_aihwkit_worker
from rpu._files import replace_target
from rpu._bench._timing import time_calls

__all__ = ["run_bench", "OPS"]

OPS = ("forward", "backward", "update")


def _data(n, batch, seed=0):
    rng = np.random.default_rng(seed + n)
    w = rng.uniform(-0.2, 0.2, (n, n)) * min(1.0, np.sqrt(256.0 / n))
    data = {"W": w, "x": rng.uniform(-1, 1, (batch, n)), "d": 0.1 * rng.uniform(-1, 1, (batch, n))}
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in data.items()}


def _cases(devices, algorithms):
    """[(label, kind, name)]: kind "device" (all ops) or "algorithm" (update only)."""
    from rpu import config as rc
    from rpu.config.build import ALGORITHMS as KNOWN

    cases = []
    for name in devices:
        cls = getattr(rc, name, None)
        if not (isinstance(cls, type) and issubclass(cls, (rc.PulsedDevice, rc.IdealDevice))):
            raise ValueError(f"unknown device {name!r}; use a single-device class of rpu.config "
                             f"(a PulsedDevice or IdealDevice), e.g. ConstantStepDevice or "
                             f"SoftBoundsDevice; compound devices are timed through --algorithms.")
        cases.append((name, "device", name))
    for name in algorithms:
        if name not in KNOWN:
            raise ValueError(f"unknown algorithm {name!r}; choose from {sorted(KNOWN)}.")
        cases.append((f"{name} (SoftBounds)", "algorithm", name))
    return cases


def _rpu_times(data, kind, name, ops, lr, repeats, max_seconds):
    import rpu
    from rpu import config as rc

    w = data["W"]
    cfg = (rc.SingleRPUConfig(device=getattr(rc, name)()) if kind == "device"
           else rc.build_config(name, rc.SoftBoundsDevice))
    tile = rpu.AnalogTile(w.shape[0], w.shape[1], cfg, seed=0)
    tile.set_weights(w)
    tile.set_learning_rate(lr)
    calls = {"forward": (lambda: tile.forward(data["x"]), None),
             "backward": (lambda: tile.backward(data["d"]), None),
             "update": (lambda: tile.update(data["x"], data["d"]), lambda: tile.set_weights(w))}
    return {op: time_calls(calls[op][0], repeats=repeats, max_seconds=max_seconds,
                           reset=calls[op][1])[0] for op in ops}


def _limit_times(data, lr, repeats, max_seconds):
    w, x, d = data["W"], data["x"], data["d"]
    w_sgd = w.copy()
    return {"forward": time_calls(lambda: x @ w.T, repeats=repeats, max_seconds=max_seconds)[0],
            "backward": time_calls(lambda: d @ w, repeats=repeats, max_seconds=max_seconds)[0],
            "update": time_calls(lambda: w_sgd.__isub__(lr * (d.T @ x)), repeats=repeats,
                                 max_seconds=max_seconds)[0]}


def _aihwkit_times(python, all_data, cases, ops, lr, threads, repeats, max_seconds):
    """{(n, label, op): seconds} from one worker run per mode."""
    arrays, mvm, updates, compounds, keys = {}, [], [], [], {}
    for n, data in all_data.items():
        arrays.update({f"{k}_{n}": v for k, v in data.items()})
        for label, kind, name in cases:
            case = {"name": f"c{len(keys)}", "W": f"W_{n}", "x": f"x_{n}", "d": f"d_{n}",
                    "lr": lr, "repeats": repeats, "max_seconds": max_seconds, "calls": ["tile"]}
            keys[case["name"]] = (n, label)
            if kind == "device":
                case.update(config="single", device_class=name)
                mvm_ops = [{"op": op, "input": f"{'x' if op == 'forward' else 'd'}_{n}",
                            "label": op} for op in ops if op != "update"]
                if mvm_ops:
                    mvm.append(dict(case, ops=mvm_ops))
                if "update" in ops:
                    updates.append(case)
            elif "update" in ops:
                compounds.append(dict(case, algorithm=name, device_class="SoftBoundsDevice",
                                      max_seconds=max(max_seconds, 10.0)))
    out = {}
    if mvm:
        res = json.loads(str(run_aihwkit_worker(python, "bench", {"cases": mvm}, arrays,
                                                threads)["timings"]))
        for case_name, by_op in res.items():
            for op, by_call in by_op.items():
                out[keys[case_name] + (op,)] = by_call["tile"]
    if updates:
        res = json.loads(str(run_aihwkit_worker(python, "update", {"cases": updates}, arrays,
                                                threads)["timings"]))
        for case_name, by_call in res.items():
            out[keys[case_name] + ("update",)] = by_call["tile"]
    if compounds:
        res = json.loads(str(run_aihwkit_worker(python, "compound", {"cases": compounds}, arrays,
                                                threads, timeout=3600)["timings"]))
        for case_name, seconds in res.items():
            out[keys[case_name] + ("update",)] = seconds
    return out


def _ms(v):
    return f"{v * 1e3:10.3f}" if isinstance(v, float) else f"{'-':>10s}"


def _ratio(a, b):
    return f"{a / b:9.2f}" if isinstance(a, float) and isinstance(b, float) and b > 0 else f"{'-':>9s}"


def run_bench(sizes=(256, 512), batch=100, devices=("ConstantStepDevice",), algorithms=(),
              ops=OPS, lr=0.01, threads=2, repeats=20, max_seconds=2.0, aihwkit_python=None,
              json_path=None, stream=None):
    """Measure and print the table; returns the rows (dicts) that ``json_path`` also receives.

    Parameters
    ----------
    sizes : sequence of int
        Square tile sizes n.
    batch : int
        Input vectors per call.
    devices : sequence of str
        Device classes of :mod:`rpu.config` (a SingleRPUConfig each).
    algorithms : sequence of str
        ``build_config`` names (``"tiki-taka"``, ``"c-ttv2"``, ...); timed for the update only.
    ops : sequence of {"forward", "backward", "update"}
    lr : float
        Learning rate of the updates.
    threads : int
        OpenMP and BLAS threads of both simulators.
    repeats, max_seconds
        Timed calls per measurement (the median is kept) and the time budget of one measurement.
    aihwkit_python : str, optional
        Interpreter with aihwkit 1.1.0 installed; None skips the comparison.
    json_path : str, optional
        Also write the rows and the machine description as JSON.
    stream : file, optional
        Where the table goes (standard output by default).
    """
    from threadpoolctl import threadpool_limits

    stream = sys.stdout if stream is None else stream
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 1 or int(batch) < 1 or int(threads) < 1:
        raise ValueError(f"sizes, batch and threads must be positive, got sizes={sizes}, "
                         f"batch={batch}, threads={threads}.")
    bad = [op for op in ops if op not in OPS]
    if bad:
        raise ValueError(f"unknown op(s) {bad}; choose from {list(OPS)}.")
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1 (timed calls per measurement), got "
                         f"{repeats!r}.")
    if not (isinstance(max_seconds, numbers.Real) and math.isfinite(max_seconds)
            and max_seconds >= 0):
        raise ValueError(f"max_seconds must be a finite number of seconds >= 0 (0: the minimum "
                         f"of 3 timed calls), got {max_seconds!r}.")
    cases = _cases(devices, algorithms)
    if not cases:
        raise ValueError("nothing to measure: give at least one device (--devices) or algorithm "
                         "(--algorithms).")
    if json_path:
        # refused before any measurement: the table would otherwise be lost after a long run
        replace_target(os.fspath(json_path), f"json_path {os.fspath(json_path)!r}")
    all_data = {n: _data(n, int(batch)) for n in sizes}
    rows, limit = [], {}
    with threadpool_limits(limits=int(threads)):
        for n, data in all_data.items():
            limit[n] = _limit_times(data, lr, repeats, max_seconds)
            for label, kind, name in cases:
                case_ops = [op for op in ops if kind == "device" or op == "update"]
                for op, seconds in _rpu_times(data, kind, name, case_ops, lr, repeats,
                                              max_seconds).items():
                    rows.append({"n": n, "config": label, "op": op, "rpu_s": seconds,
                                 "limit_s": limit[n][op]})
    aihwkit_note = "not compared (set AIHWKIT_PYTHON or pass --aihwkit-python)"
    if aihwkit_python:
        try:
            theirs = _aihwkit_times(aihwkit_python, all_data, cases, ops, lr, int(threads),
                                    repeats, max_seconds)
        except Exception as exc:  # the rpu figures stand on their own
            aihwkit_note = f"failed: {type(exc).__name__}: {exc}"
        else:
            aihwkit_note = f"aihwkit's C++ tile calls, via {aihwkit_python}"
            for row in rows:
                row["aihwkit_s"] = theirs.get((row["n"], row["config"], row["op"]))

    print(f"rpu bench: median ms per call, batch {batch}, {threads} threads each; limit = bare "
          f"GEMM (forward/backward) or SGD step (update)", file=stream)
    print(f"aihwkit: {aihwkit_note}", file=stream)
    head = (f"{'n':>5s}  {'config':26s} {'op':8s} {'limit':>10s} {'rpu':>10s} {'rpu/limit':>9s} "
            f"{'aihwkit':>10s} {'aih/rpu':>9s}")
    print(head + "\n" + "-" * len(head), file=stream)
    for r in rows:
        a = r.get("aihwkit_s")
        print(f"{r['n']:5d}  {r['config']:26s} {r['op']:8s} {_ms(r['limit_s'])} {_ms(r['rpu_s'])} "
              f"{_ratio(r['rpu_s'], r['limit_s'])} {_ms(a)} {_ratio(a, r['rpu_s'])}", file=stream)
    if json_path:
        import rpu
        meta = {"batch": batch, "threads": threads, "lr": lr, "rpu": rpu.__version__,
                "numpy": np.__version__, "python": platform.python_version(),
                "machine": platform.machine(), "cpu_count": os.cpu_count(),
                "aihwkit": aihwkit_note}
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        print(f"wrote {json_path}", file=stream)
    return rows


def add_parser(subparsers):
    """Register ``rpu bench`` on the ``rpu`` command's subparsers."""
    p = subparsers.add_parser("bench", help="throughput against a bare GEMM and aihwkit")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="tile sizes n (n x n)")
    p.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    p.add_argument("--devices", nargs="*", default=["ConstantStepDevice"],
                   help="device classes of rpu.config (default ConstantStepDevice)")
    p.add_argument("--algorithms", nargs="*", default=[],
                   help="build_config names to time the update of (e.g. tiki-taka c-ttv2 agad)")
    p.add_argument("--ops", nargs="+", default=list(OPS), choices=list(OPS))
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--threads", type=int, default=2, help="threads of each simulator (default 2)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    p.add_argument("--max-seconds", type=float, default=2.0, help="budget per measurement")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--aihwkit-python", metavar="PATH", default=os.environ.get("AIHWKIT_PYTHON"),
                   help="interpreter with aihwkit 1.1.0 (default: $AIHWKIT_PYTHON)")
    return p


def run(args):
    """Run ``rpu bench`` from parsed arguments; returns the exit code."""
    run_bench(args.sizes, args.batch, args.devices, args.algorithms, args.ops, args.lr,
              args.threads, args.repeats, args.max_seconds, args.aihwkit_python, args.json)
    return 0
