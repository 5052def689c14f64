"""Runs IBM aihwkit (the reference simulator) for rpu's benchmarks and parity tests.

This script is executed by aihwkit's own interpreter (``$AIHWKIT_PYTHON``), never imported by rpu:
rpu's process must not load torch or aihwkit. Data go in and out through .npz files::

    $AIHWKIT_PYTHON _aihwkit_worker.py run   IN.npz OUT.npz
    $AIHWKIT_PYTHON _aihwkit_worker.py bench IN.npz OUT.npz
    $AIHWKIT_PYTHON _aihwkit_worker.py update IN.npz OUT.npz
    $AIHWKIT_PYTHON _aihwkit_worker.py compound IN.npz OUT.npz

IN.npz holds a JSON string ``spec`` and the arrays it names; OUT.npz receives the results and a
JSON string ``info`` (versions, thread count).

``spec["threads"]`` (default 2) sets ``torch.set_num_threads``; the caller should also set
``OMP_NUM_THREADS`` (and MKL/OpenBLAS counts) in the environment, since aihwkit's C++ core reads
them at load time.

Tile description (shared by both modes), every key optional except ``W``::

    {"config": "single" | "floating" | "inference",  # SingleRPUConfig(ConstantStepDevice()),
                                           # FloatingPointRPUConfig() or InferenceRPUConfig() (then
                                           # eval mode, programmed, drifted to 1 h)
     "forward": {io_field: value, ...},    # overrides of rpu_config.forward (IOParameters)
     "backward": {io_field: value, ...},   # overrides of rpu_config.backward
     "device": {field: value, ...},        # overrides of the device
     "device_class": "ConstantStepDevice", # or another class of aihwkit.simulator.configs.devices
     "update": {field: value, ...},        # overrides of rpu_config.update (UpdateParameters)
     "W": "array key"}                     # (out_size, in_size) weights

Enum-valued fields are given by member name ("ITERATIVE", "NONE", ...).

run mode: ``spec["jobs"]`` is a list of tile descriptions with ``"name"`` and optional ``"x"``
(forward input key) and ``"d"`` (backward input key). For each job OUT.npz gets ``<name>_W`` (the
weights actually held by the tile after ``set_weights``: ConstantStepDevice clips them to its
per-device bounds), ``<name>_y`` = forward(x) and ``<name>_dx`` = backward(d).

bench mode: ``spec["cases"]`` is a list of tile descriptions with ``"name"``, ``"ops"`` (a list of
``{"op": "forward"|"backward", "input": key, "label": str}``), and the timing settings
``"warmup"``, ``"repeats"``, ``"max_seconds"``, and ``"calls"``: a list of ``"tile"`` and/or
``"module"`` (default ``["tile"]``). OUT.npz gets ``timings`` (JSON:
``{name: {label: {call: median seconds per call}}}``) and ``counts`` (timed calls, same layout).

``"module"`` times the call a user makes, ``AnalogTile.forward(x)`` / ``.backward(d)`` (the torch
module: autograd function, pre/post-processing, then the simulator); ``"tile"`` times the simulator
itself, the C++ tile underneath (``AnalogTile.tile.forward(x)`` / ``.backward(d)``, same arguments
and results for these configs), which is aihwkit's fastest path and the fair counterpart of rpu's
NumPy tile. Inputs are CPU float32 tensors built once outside the timed region, under
``torch.no_grad()``.

update mode: ``spec["cases"]`` is a list of tile descriptions with ``"name"``, ``"x"`` (key of the
``(batch, in_size)`` inputs), ``"d"`` (key of the ``(batch, out_size)`` errors), ``"lr"`` (the
tile learning rate), the timing settings above and ``"calls"``. Before every call, timed or
warm-up, the weights are set back to ``W`` (outside the timed region), so that each call does the
same work on the same weights and the devices never drift into their bounds. ``"tile"`` times
``AnalogTile.tile.update(x, d, False)`` (the C++ simulator), ``"module"`` ``AnalogTile.update(x,
d)`` (adds ``pre_update``). OUT.npz gets ``timings`` and ``counts`` (JSON: ``{name: {call:
value}}``) and ``<name>_dW``: the weight change of one C++ update from ``W`` (a check that the
update did the expected amount of work).

compound mode: like update mode, but each case builds its tile with aihwkit's
``build_config(case["algorithm"], devices.<device_class>())`` (``"algorithm"``: "tiki-taka",
"c-ttv2", "agad", ...; ``"device_class"``, default "SoftBoundsDevice"; ``"device"``: overrides of
the device) and times only the C++ call ``AnalogTile.tile.update(x, d, False)``, with the weights
set back to ``W`` (``tile.set_weights``, outside the timed region) before every call. One call
from ``W`` comes first: OUT.npz gets its visible weight change ``<name>_dW`` and the change of
the first sub-device's weights ``<name>_dA`` (hidden parameter ``hidden_weights_0``, the fast
device), and its duration counts as the first timing sample when it is slow. The number of
calls adapts to ``"max_seconds"`` (the time budget of the case, see ``_timing.budget_calls``), at most
``"repeats"``, after ``"warmup"`` untimed calls when calls are fast. OUT.npz gets ``timings``
and ``counts`` (JSON: ``{name: value}``).
"""

import json
import os
import sys
import time

import numpy as np

from _timing import budget_calls, time_calls  # the worker runs as a script: its folder is on sys.path


def _enum_value(field_default, value):
    """Turns a member name into the enum of the field's default, leaves other values alone."""
    enum_cls = type(field_default)
    if isinstance(value, str) and hasattr(enum_cls, "__members__"):
        return enum_cls[value]
    return value


def _apply_overrides(obj, overrides, what):
    for key, value in (overrides or {}).items():
        if not hasattr(obj, key):
            raise KeyError(f"{what} has no field {key!r}")
        setattr(obj, key, _enum_value(getattr(obj, key), value))


def make_tile(desc, arrays):
    import torch
    from aihwkit.simulator.configs import FloatingPointRPUConfig, SingleRPUConfig
    from aihwkit.simulator.configs import devices

    kind = desc.get("config", "single")
    if kind == "single":
        device_name = desc.get("device_class", "ConstantStepDevice")
        device = getattr(devices, device_name)()
        _apply_overrides(device, desc.get("device"), device_name)
        rpu_config = SingleRPUConfig(device=device)
        _apply_overrides(rpu_config.forward, desc.get("forward"), "forward IOParameters")
        _apply_overrides(rpu_config.backward, desc.get("backward"), "backward IOParameters")
        _apply_overrides(rpu_config.update, desc.get("update"), "UpdateParameters")
    elif kind == "floating":
        rpu_config = FloatingPointRPUConfig()
    elif kind == "inference":
        from aihwkit.simulator.configs import InferenceRPUConfig
        rpu_config = InferenceRPUConfig()
        _apply_overrides(rpu_config.forward, desc.get("forward"), "forward IOParameters")
    else:
        raise ValueError(f"config must be 'single', 'floating' or 'inference', got {kind!r}")

    W = np.ascontiguousarray(arrays[desc["W"]], dtype=np.float32)
    out_size, in_size = W.shape
    tile = rpu_config.tile_class(out_size, in_size, rpu_config, bias=False)
    tile.set_weights(torch.from_numpy(W.copy()))
    if kind == "inference":
        # evaluation mode, programmed and drifted to one hour (drift compensation applies)
        tile.eval()
        tile.program_weights()
        tile.drift_weights(3600.0)
    return tile


def _tensor(arrays, key):
    import torch

    return torch.from_numpy(np.ascontiguousarray(arrays[key], dtype=np.float32).copy())


def run_jobs(spec, arrays):
    out = {}
    for job in spec["jobs"]:
        name = job["name"]
        tile = make_tile(job, arrays)
        out[f"{name}_W"] = tile.tile.get_weights().detach().cpu().numpy()
        if job.get("x"):
            out[f"{name}_y"] = tile.forward(_tensor(arrays, job["x"])).detach().cpu().numpy()
        if job.get("d"):
            out[f"{name}_dx"] = tile.backward(_tensor(arrays, job["d"])).detach().cpu().numpy()
    return out


def bench_cases(spec, arrays):
    timings, counts = {}, {}
    for case in spec["cases"]:
        tile = make_tile(case, arrays)
        res, cnt = {}, {}
        for op in case["ops"]:
            inp = _tensor(arrays, op["input"])
            res[op["label"]], cnt[op["label"]] = {}, {}
            for call in case.get("calls", ["tile"]):
                target = tile.tile if call == "tile" else tile
                fn = getattr(target, op["op"])
                res[op["label"]][call], cnt[op["label"]][call] = time_calls(
                    lambda: fn(inp),
                    case.get("warmup", 3),
                    case.get("repeats", 30),
                    case.get("max_seconds", 3.0),
                )
        timings[case["name"]] = res
        counts[case["name"]] = cnt
    return {"timings": json.dumps(timings), "counts": json.dumps(counts)}


def bench_updates(spec, arrays):
    timings, counts, out = {}, {}, {}
    for case in spec["cases"]:
        name = case["name"]
        tile = make_tile(case, arrays)
        tile.set_learning_rate(float(case["lr"]))
        W0 = _tensor(arrays, case["W"])
        x, d = _tensor(arrays, case["x"]), _tensor(arrays, case["d"])
        sim = tile.tile

        def reset():
            sim.set_weights(W0)

        reset()
        held = sim.get_weights().clone()  # set_weights clips to the device bounds
        sim.update(x, d, False)
        out[f"{name}_dW"] = (sim.get_weights() - held).numpy()
        calls = {
            "tile": lambda: sim.update(x, d, False),
            "module": lambda: tile.update(x, d),
        }
        timings[name], counts[name] = {}, {}
        for call in case.get("calls", ["tile"]):
            timings[name][call], counts[name][call] = time_calls(
                calls[call], case.get("warmup", 2), case.get("repeats", 20),
                case.get("max_seconds", 3.0), reset=reset,
            )
    out["timings"] = json.dumps(timings)
    out["counts"] = json.dumps(counts)
    return out


def bench_compound_updates(spec, arrays):
    import torch  # noqa: F401  (loaded by main already)
    from aihwkit.simulator.configs import build_config
    from aihwkit.simulator.configs import devices

    timings, counts, out = {}, {}, {}
    for case in spec["cases"]:
        name = case["name"]
        device_name = case.get("device_class", "SoftBoundsDevice")
        device = getattr(devices, device_name)()
        _apply_overrides(device, case.get("device"), device_name)
        rpu_config = build_config(case["algorithm"], device)
        W0 = _tensor(arrays, case["W"])
        out_size, in_size = W0.shape
        tile = rpu_config.tile_class(out_size, in_size, rpu_config, bias=False)
        tile.set_learning_rate(float(case["lr"]))
        x, d = _tensor(arrays, case["x"]), _tensor(arrays, case["d"])
        sim = tile.tile
        names = list(sim.get_hidden_parameter_names())
        fast = names.index("hidden_weights_0") if "hidden_weights_0" in names else None

        def reset():
            sim.set_weights(W0)

        reset()
        held = sim.get_weights().clone()  # set_weights clips to the device bounds
        hidden = sim.get_hidden_parameters()[fast].clone() if fast is not None else None
        t0 = time.perf_counter()
        sim.update(x, d, False)
        first = time.perf_counter() - t0
        out[f"{name}_dW"] = (sim.get_weights() - held).numpy()
        if fast is not None:
            out[f"{name}_dA"] = (sim.get_hidden_parameters()[fast] - hidden).numpy()
        timings[name], counts[name] = budget_calls(
            lambda: sim.update(x, d, False), reset, first, case.get("max_seconds", 20.0),
            case.get("repeats", 20), case.get("warmup", 1),
        )
        print(f"[aihwkit] {name}: {timings[name] * 1e3:.1f} ms ({counts[name]} calls)",
              file=sys.stderr, flush=True)
    out["timings"] = json.dumps(timings)
    out["counts"] = json.dumps(counts)
    return out


MODES = {"run": run_jobs, "bench": bench_cases, "update": bench_updates,
         "compound": bench_compound_updates}


def main(argv):
    if len(argv) != 4 or argv[1] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    mode, in_path, out_path = argv[1:]
    with np.load(in_path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    spec = json.loads(str(arrays.pop("spec")))

    import torch

    threads = int(spec.get("threads", 2))
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    import aihwkit

    out = MODES[mode](spec, arrays)
    out["info"] = json.dumps(
        {
            "aihwkit": aihwkit.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "python": sys.version.split()[0],
        }
    )
    np.savez(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
