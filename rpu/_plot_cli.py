"""The ``rpu plot`` subcommand (figures of :mod:`rpu.plotting`).

    rpu plot device NAME [--param KEY=VALUE ...] [--pulses N] [--cycles N] [--devices N]
                         [--unit-cell K] [--seed S] [-o OUT.png|OUT.svg]
    rpu plot drift [--config NAME] [--param KEY=VALUE ...] [--devices N] [--seed S] [-o OUT]
    rpu plot list

Registered in :mod:`rpu.cli` by :func:`add_parser`; :func:`run` executes it. Importing this
module does not import matplotlib.
"""
import sys

from rpu.errors import TileMemoryError

FORMATS = (".png", ".svg")


def add_parser(subparsers):
    """Add ``plot`` (with ``device``, ``drift`` and ``list``) to the ``rpu`` subparsers."""
    plot = subparsers.add_parser(
        "plot", help="draw device pulse responses or inference weight drift (PNG or SVG)",
        description="Figures of device behaviour; needs matplotlib (pip install \"rpu[plot]\").")
    plot.set_defaults(func=run)
    kinds = plot.add_subparsers(dest="plot_kind", metavar="KIND")

    dev = kinds.add_parser(
        "device", help="pulse response and step statistics of a device or preset",
        description="Pulse response (up, then down pulses) and step size against weight of a "
                    "device class (rpu.config) or preset (rpu.presets). Compounds draw one of "
                    "their unit cell devices (--unit-cell).")
    dev.add_argument("name", help="device, compound or RPU-config preset name, e.g. "
                                  "SoftBoundsDevice, ReRamESPresetDevice, TikiTakaReRamSBPreset")
    dev.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="override a field of the drawn device (repeatable), e.g. dw_min=0.01")
    dev.add_argument("--pulses", type=int, default=None, metavar="N",
                     help="pulses per direction (default: enough to cross the weight range)")
    dev.add_argument("--cycles", type=int, default=2, metavar="N",
                     help="up/down cycles (default 2)")
    dev.add_argument("--devices", type=int, default=3, metavar="N",
                     help="devices drawn, each with its own device-to-device draws (default 3)")
    dev.add_argument("--unit-cell", type=int, default=0, metavar="K",
                     help="for compounds: which unit cell device to draw (default 0)")
    dev.add_argument("--seed", type=int, default=0, help="tile seed (default 0)")
    dev.add_argument("-o", "--output", default=None, metavar="FILE",
                     help="output .png or .svg (default NAME.png)")

    drift = kinds.add_parser(
        "drift", help="programmed weight levels drifting with time (PCM noise model)",
        description="Mean and spread of programmed weight levels against time after "
                    "programming, for an inference configuration's PCM noise model.")
    drift.add_argument("--config", default="InferenceRPUConfig", metavar="NAME",
                       help="inference configuration or noise model name "
                            "(default InferenceRPUConfig)")
    drift.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="override a field of the noise model (repeatable), e.g. "
                            "drift_scale=2")
    drift.add_argument("--devices", type=int, default=200, metavar="N",
                       help="devices per weight level (default 200)")
    drift.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    drift.add_argument("-o", "--output", default="drift.png", metavar="FILE",
                       help="output .png or .svg (default drift.png)")

    kinds.add_parser("list", help="list the names `rpu plot device` and `rpu plot drift` take")
    return plot


def _output_path(path):
    from pathlib import Path
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"output must end in .png or .svg, got {str(out)!r}")
    return out


def run(args):
    """Execute ``rpu plot``; returns the exit code (0 done, 1 missing matplotlib, 2 bad input)."""
    from rpu import plotting
    kind = getattr(args, "plot_kind", None)
    if kind == "list":
        print("devices and presets (rpu plot device NAME):")
        print("  " + "\n  ".join(plotting.device_names(drawable_only=True)))
        print("inference configurations (rpu plot drift --config NAME):")
        print("  " + "\n  ".join(plotting.inference_config_names()))
        return 0
    if kind not in ("device", "drift"):
        print("usage: rpu plot {device,drift,list} ... (see rpu plot -h)", file=sys.stderr)
        return 2
    try:
        params = plotting.parse_params(args.param)
        if kind == "device":
            out = _output_path(args.output or f"{args.name}.png")
            fig = plotting.plot_device(args.name, params=params, unit_cell=args.unit_cell,
                                       n_pulses=args.pulses, n_cycles=args.cycles,
                                       n_devices=args.devices, seed=args.seed)
        else:
            out = _output_path(args.output)
            fig = plotting.plot_drift(args.config, params=params, n_devices=args.devices,
                                      seed=args.seed)
        fig.savefig(out)
    except ImportError as exc:
        print(f"rpu plot: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, TileMemoryError) as exc:  # (ConfigError: a ValueError)
        print(f"rpu plot: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
