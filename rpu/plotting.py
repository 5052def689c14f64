"""Figures of device behaviour: pulse responses, step-size statistics and PCM weight drift.

The counterpart of aihwkit's ``aihwkit.utils.visualization`` (``plot_device``,
``plot_weight_drift``), on rpu's NumPy tiles:

* :func:`pulse_response` drives an :class:`rpu.AnalogTile` of ``n_devices`` devices (one input
  column) with single up pulses, then single down pulses, and records the weights after each;
* :func:`step_statistics` bins the steps of such a trace by the weight before the pulse;
* :func:`plot_device` draws both as one figure; :func:`plot_drift` draws the mean and spread of
  programmed weight levels against time for an inference configuration's PCM noise model.

Devices and configurations can be named as strings (``"SoftBoundsDevice"``,
``"ReRamESPresetDevice"``, ``"TikiTakaReRamSBPreset"``, ...) with field overrides
``params={"dw_min": 0.01}``; see :func:`resolve_device` and :func:`resolve_noise_model`.

matplotlib (the ``plot`` extra: ``pip install "rpu[plot]"``) is imported only inside the
functions that draw, so ``import rpu`` and the array functions work without it. Figures are
plain :class:`matplotlib.figure.Figure` objects on the non-interactive Agg canvas (no pyplot
state); save them with ``fig.savefig("out.png")`` or ``.svg``.
"""
import ast
import copy
import dataclasses
import difflib
import numbers

import numpy as np

from rpu.errors import ConfigError
from rpu.tiles._checks import check_memory

__all__ = [
    "device_names",
    "inference_config_names",
    "resolve_device",
    "resolve_noise_model",
    "estimate_n_pulses",
    "pulse_directions",
    "pulse_response",
    "step_statistics",
    "plot_device",
    "plot_drift",
]

_INSTALL_HINT = 'matplotlib is needed for plotting; install it with: pip install "rpu[plot]"'

#: Bounds of the default number of pulses per direction (aihwkit's estimate, clipped).
MIN_PULSES, MAX_PULSES = 100, 10000
#: Below this many devices the pulse runs use one OpenMP thread.
SMALL_TILE = 1024


def _require_matplotlib():
    """Import matplotlib (Agg) or raise ImportError with the install hint."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return Figure, FigureCanvasAgg


def _new_figure(figsize, dpi):
    Figure, FigureCanvasAgg = _require_matplotlib()
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: savefig works without a display or pyplot
    return fig


# ----- names ------------------------------------------------------------------------------------

def _public_classes():
    from rpu import config, presets
    out = {}
    for module in (config, presets):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type):
                out[name] = obj
    return out


def _device_like(cls):
    from rpu.config import (DigitalRankUpdateCell, FloatingPointDevice, IdealDevice, PulsedDevice,
                            RPUConfigBase, UnitCell)
    if issubclass(cls, (PulsedDevice, IdealDevice, FloatingPointDevice, UnitCell,
                        DigitalRankUpdateCell)):
        return True
    return issubclass(cls, RPUConfigBase) and "device" in {f.name for f in dataclasses.fields(cls)}


def _inference_like(cls):
    from rpu.config import BaseNoiseModel, InferenceRPUConfig
    return issubclass(cls, (InferenceRPUConfig, BaseNoiseModel)) and cls is not BaseNoiseModel


def device_names(drawable_only=False):
    """Names :func:`resolve_device` accepts: device classes and compounds of :mod:`rpu.config`,
    device presets of :mod:`rpu.presets`, and RPU configurations (and presets) with a device.

    With ``drawable_only``, only those whose default-constructed object holds a device rpu can
    pulse (not the abstract ``PulsedDevice``, nor compounds without unit cell devices).
    """
    names = sorted(n for n, c in _public_classes().items() if _device_like(c))
    if drawable_only:
        names = [n for n in names if _drawable(n)]
    return names


def _drawable(name):
    from rpu.tiles._devices import kind_of
    try:
        device, _ = resolve_device(name)
        if _is_pulsed(device):
            kind_of(device)
    except ConfigError:
        return False
    return True


def inference_config_names():
    """Names :func:`resolve_noise_model` accepts: inference configurations (and presets) and
    noise models."""
    return sorted(n for n, c in _public_classes().items() if _inference_like(c))


def _lookup(name, names, what):
    classes = _public_classes()
    if name in names:
        return classes[name]
    folded = {n.lower(): n for n in names}
    if name.lower() in folded:
        return classes[folded[name.lower()]]
    close = [folded[n] for n in difflib.get_close_matches(name.lower(), list(folded), n=5,
                                                          cutoff=0.6)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown {what} name {name!r}{hint} (list them with `rpu plot list`)")


# ----- parameter overrides ----------------------------------------------------------------------

def _parse_value(text):
    """A command-line value: a Python literal (1e-3, 2, True, [1, 0.5]), a boolean or none in
    any case, inf/nan, or else the text itself (an enum name)."""
    stripped = text.strip()
    low = stripped.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if low in ("inf", "+inf", "-inf", "nan"):
        return float(low)
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        return stripped


def parse_params(items):
    """``["key=value", ...]`` (the ``--param`` options) -> ``{key: value}``, values parsed."""
    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param must be key=value, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def _apply_params(obj, params, label):
    """Set ``params`` (dotted field paths allowed) on ``obj`` and validate it; nothing is set
    on the caller's object (``obj`` is a copy)."""
    if not params:
        return obj
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict field -> value, got {type(params).__name__}")
    for key, value in params.items():
        target, parts = obj, str(key).split(".")
        for depth, part in enumerate(parts):
            names = [f.name for f in dataclasses.fields(target)] \
                if dataclasses.is_dataclass(target) else []
            if part not in names:
                where = ".".join([label] + parts[:depth])
                close = difflib.get_close_matches(part, names, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(f"{where} has no field {part!r}{hint} (its fields: "
                                  f"{', '.join(names) or 'none'})")
            if depth < len(parts) - 1:
                target = getattr(target, part)
            else:
                setattr(target, part, value)
    obj.validate()
    return obj


# ----- devices ----------------------------------------------------------------------------------

def _sub_devices(device):
    """The single devices inside a compound, depth first (aihwkit's unit_cell_devices order)."""
    from rpu.config import DigitalRankUpdateCell, UnitCell
    if isinstance(device, UnitCell):
        return [leaf for sub in device.unit_cell_devices for leaf in _sub_devices(sub)]
    if isinstance(device, DigitalRankUpdateCell):
        return _sub_devices(device.device)
    return [device]


def resolve_device(device_or_name, params=None, *, unit_cell=0):
    """The single device whose pulse response is drawn, and a label for it.

    Parameters
    ----------
    device_or_name : str or device or RPU configuration
        A class name of :func:`device_names` (case-insensitive), or an instance: a device, a
        compound, or an RPU configuration (its ``device`` is used).
    params : dict, optional
        Field overrides of the *drawn* device, ``{"dw_min": 0.01, "w_max": 0.8}``; dotted
        paths reach nested fields (``"drift.nu"``). Unknown fields and invalid values raise
        :class:`rpu.ConfigError` naming the field.
    unit_cell : int, default 0
        For compounds (unit cells, transfer compounds, mixed precision): which of the single
        devices inside it is drawn, depth first (0 is the first of ``unit_cell_devices``; for
        ``MixedPrecisionCompound`` its analog ``device``). rpu draws one sub-device rather than
        the compound's visible weight because a single pulse sequence does not exercise the
        compound's own dynamics (transfers, refresh, the digital accumulator).

    Returns
    -------
    device : rpu.config device
        A validated copy (FloatingPointDevice becomes the equivalent exact-update IdealDevice).
    label : str
        What is drawn, e.g. ``"TikiTakaReRamSBPreset: unit cell device 0 (ReRamSBPresetDevice)"``.
    """
    from rpu.config import FloatingPointDevice, IdealDevice, RPUConfigBase
    if isinstance(device_or_name, str):
        cls = _lookup(device_or_name, device_names(), "device or preset")
        obj, label = cls(), cls.__name__
    else:
        obj, label = copy.deepcopy(device_or_name), type(device_or_name).__name__
        if not _device_like(type(obj)):
            raise TypeError(f"device_or_name must be a device, compound, RPU configuration or "
                            f"one of their names, got {type(device_or_name).__name__}")
    if isinstance(obj, RPUConfigBase):
        obj = obj.device
    leaves = _sub_devices(obj)
    if leaves != [obj]:
        if not leaves:
            raise ConfigError(f"{label} has no unit cell devices to draw; name a preset "
                              f"(e.g. TikiTakaReRamSBPreset) or a single device")
        if isinstance(unit_cell, bool) or not isinstance(unit_cell, numbers.Integral) \
                or not 0 <= unit_cell < len(leaves):
            raise ConfigError(f"unit_cell must be an integer in [0, {len(leaves) - 1}] "
                              f"({label} holds {len(leaves)} devices), got {unit_cell!r}")
        obj = leaves[int(unit_cell)]
        label = f"{label}: unit cell device {int(unit_cell)} ({type(obj).__name__})"
    elif type(obj).__name__ not in label:
        label = f"{label} ({type(obj).__name__})"
    if isinstance(obj, FloatingPointDevice):
        # Both update exactly; IdealDevice is the one an AnalogTile accepts.
        obj = IdealDevice(diffusion=obj.diffusion, lifetime=obj.lifetime)
    obj = _apply_params(obj, params, type(obj).__name__)
    return obj, label


def _is_pulsed(device):
    from rpu.config import PulsedDevice
    return isinstance(device, PulsedDevice)


def _bounds(device):
    """Nominal (w_min, w_max) of a pulsed device (SoftBoundsPmax: of its soft-bounds form)."""
    from rpu.tiles._devices import as_simulated
    simulated = as_simulated(device)
    return float(simulated.w_min), float(simulated.w_max)


def estimate_n_pulses(device):
    """Pulses per direction to cross the weight range: ``round((w_max - w_min) / g)`` with the
    device's weight granularity ``g`` (aihwkit's estimate), clipped to [100, 10000].

    Soft-bounded devices need more pulses than this to saturate; pass ``n_pulses`` to see it.
    Devices without pulses (IdealDevice) get 100.
    """
    if not _is_pulsed(device):
        return 100
    from rpu.tiles._devices import granularity
    w_min, w_max = _bounds(device)
    n = int(np.round((w_max - w_min) / granularity(device)))
    return int(np.clip(n, MIN_PULSES, MAX_PULSES))


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def pulse_directions(n_pulses, n_cycles=1):
    """``n_pulses`` up pulses (+1) then ``n_pulses`` down pulses (-1), ``n_cycles`` times.

    Returns
    -------
    ndarray of shape (2 * n_cycles * n_pulses,), float64
    """
    n = _check_count("n_pulses", n_pulses)
    cycles = _check_count("n_cycles", n_cycles)
    return np.tile(np.concatenate([np.ones(n), -np.ones(n)]), cycles)


def _pulse_tile(device, n_devices, n_pulses, w_init, seed, dtype, hidden=None):
    """An AnalogTile of n_devices x 1 devices at w_init whose every update is one pulse
    (with the given hidden parameters, if any)."""
    from rpu import AnalogTile
    from rpu.config import PulseType, SingleRPUConfig, UpdateParameters
    from rpu.tiles._devices import granularity
    # One slot (BL = 1) and no update management, so a pulse fires with probability
    # min(1, sqrt(lr / g) |x|) = 1 on each side when lr >= g: lr = 4 g gives exactly one
    # coincidence per call, whatever rounding.
    single = UpdateParameters(desired_bl=1, fixed_bl=True, update_bl_management=False,
                              update_management=False, res=0.0, sto_round=False,
                              pulse_type=PulseType.STOCHASTIC_COMPRESSED)
    tile = AnalogTile(n_devices, 1, SingleRPUConfig(device=device, update=single),
                      dtype=dtype, seed=seed)
    if hidden:
        tile.set_hidden_parameters(hidden)
    if _is_pulsed(device):
        lr = 4.0 * granularity(device)
        start = _bounds(device)[0] if w_init is None else w_init
    else:
        # No pulses: an exact step that crosses [-1, 1] in n_pulses steps.
        lr = 2.0 / n_pulses
        start = -1.0 if w_init is None else w_init
    tile.set_learning_rate(lr)
    # set_weights clips to each device's own bounds (aihwkit starts from w_min the same way).
    tile.set_weights(np.broadcast_to(np.asarray(start, dtype=np.float64), (n_devices, 1)))
    return tile


def _run_pulses(device, directions, n_devices, w_init, seed, dtype, n_pulses, hidden=None):
    """Weights after each pulse (as read), the device states (without write noise), the
    start weights and the tile's hidden parameters."""
    from threadpoolctl import threadpool_limits
    # A few devices are far below the size where an OpenMP team pays off, and starting one per
    # call costs milliseconds on a busy machine; the numbers do not depend on the thread count.
    if n_devices < SMALL_TILE:
        with threadpool_limits(limits=1, user_api="openmp"):
            return _run_pulses_here(device, directions, n_devices, w_init, seed, dtype,
                                    n_pulses, hidden)
    return _run_pulses_here(device, directions, n_devices, w_init, seed, dtype, n_pulses, hidden)


def _run_pulses_here(device, directions, n_devices, w_init, seed, dtype, n_pulses, hidden):
    tile = _pulse_tile(device, n_devices, n_pulses, w_init, seed, dtype, hidden)
    start = tile.get_weights()[:, 0].copy()
    initial_hidden = tile.get_hidden_parameters()
    persistent = "persistent_weights" in tile.get_hidden_parameter_names()
    weights = np.empty((len(directions), n_devices), dtype=tile.dtype)
    states = np.empty_like(weights) if persistent else weights
    x = np.array([[-1.0]], dtype=tile.dtype)  # W -= lr d x: a d of +1 steps the weight up
    ones = np.ones((1, n_devices), dtype=tile.dtype)
    for k, direction in enumerate(directions):
        tile.update(x, ones if direction > 0 else -ones)
        weights[k] = tile.get_weights()[:, 0]
        if persistent:
            states[k] = tile.get_hidden_parameters()["persistent_weights"][:, 0]
    return weights, states, start, initial_hidden


def _without_pulse_noise(device):
    """A copy of ``device`` without cycle-to-cycle step noise (``dw_min_std = 0``)."""
    if not _is_pulsed(device):
        return device
    clean = copy.deepcopy(device)
    clean.dw_min_std = 0.0
    return clean.validate()


def _directions_of(directions, n_pulses, n_cycles, device):
    """The pulse sequence and the pulses per direction (sets the exact step of IdealDevice)."""
    n = estimate_n_pulses(device) if n_pulses is None else _check_count("n_pulses", n_pulses)
    if directions is None:
        return pulse_directions(n, n_cycles), n
    d = np.asarray(directions, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isin(d, (-1.0, 1.0))):
        raise ValueError(f"directions must be a non-empty 1-D sequence of +1 (up) and -1 "
                         f"(down), got an array of shape {d.shape}")
    return d, n


def pulse_response(device, n_pulses=None, n_devices=3, *, n_cycles=1, directions=None,
                   w_init=None, seed=0, dtype=np.float32, params=None, unit_cell=0,
                   device_weights=False):
    """Weights of ``n_devices`` devices after each of a sequence of single pulses.

    The devices sit in one column of an :class:`rpu.AnalogTile` on
    ``SingleRPUConfig(device=device)``; each pulse is one ``tile.update`` with ``x = -1`` and
    ``d = +1`` (up) or ``-1`` (down), a bit length of 1 and no update management, with a
    learning rate of 4 granularities so that both pulse lines fire with certainty: exactly one
    device pulse per device and call, with the device's cycle-to-cycle noise. The weights start
    at ``w_min`` (clipped to each device's own bounds), as in aihwkit's
    ``compute_pulse_response``. Devices without pulses (IdealDevice, FloatingPointDevice) take
    exact steps of ``2 / n_pulses`` from -1.

    Parameters
    ----------
    device : str, device, compound or RPU configuration
        See :func:`resolve_device` (with ``params`` and ``unit_cell``).
    n_pulses : int, optional
        Pulses per direction and cycle (default: :func:`estimate_n_pulses`).
    n_devices : int, default 3
        Devices (tile rows), each with its own device-to-device draws.
    n_cycles : int, default 1
        Repetitions of the up-then-down sequence.
    directions : array_like of +1/-1, optional
        An explicit pulse sequence instead of ``n_pulses`` / ``n_cycles``.
    w_init : float, optional
        Start weight (default: the device's ``w_min``).
    seed : int or None, default 0
        The tile seed (device-to-device draws and pulse noise).
    dtype : float32 (default) or float64
    device_weights : bool, default False
        Return the devices' stored weights without write noise (``persistent_weights``)
        instead of the weights as read; the same for devices without write noise.

    Returns
    -------
    ndarray of shape (n_total, n_devices)
        The weight after pulse ``k`` in row ``k``; ``n_total = 2 n_cycles n_pulses`` or
        ``len(directions)``.
    """
    dev, _ = resolve_device(device, params, unit_cell=unit_cell)
    n_devices = _check_count("n_devices", n_devices)
    dirs, n = _directions_of(directions, n_pulses, n_cycles, dev)
    weights, states, _, _ = _run_pulses(dev, dirs, n_devices, w_init, seed, dtype, n)
    return states if device_weights else weights


def step_statistics(weights, directions, *, w_init=None, n_bins=30, w_range=None):
    """Mean and standard deviation of the up and down steps, binned by the weight before them.

    Parameters
    ----------
    weights : array_like of shape (n_total, n_devices)
        A trace from :func:`pulse_response` (weight after each pulse).
    directions : array_like of shape (n_total,)
        The pulse directions (+1 up, -1 down).
    w_init : float or array_like of shape (n_devices,), optional
        The weights before the first pulse; without it the first pulse is left out.
    n_bins : int, default 30
        Equal-width weight bins over ``w_range``.
    w_range : (float, float), optional
        Default: the trace's min and max.

    Returns
    -------
    centres : ndarray of shape (n_bins,)
        Bin centres (weight).
    up_mean, up_std, down_mean, down_std : ndarrays of shape (n_bins, n_devices)
        Per device, the mean and std of the signed steps ``w_after - w_before`` (down steps are
        negative) whose ``w_before`` falls in each bin; the mean is NaN where a bin holds no
        step, the (sample) std where it holds fewer than 2.
    """
    w = np.asarray(weights, dtype=np.float64)
    d = np.asarray(directions, dtype=np.float64)
    if w.ndim != 2 or d.shape != (w.shape[0],):
        raise ValueError(f"weights must have shape (n_total, n_devices) and directions "
                         f"(n_total,), got {w.shape} and {d.shape}")
    n_bins = _check_count("n_bins", n_bins)
    if w_init is not None:
        before = np.vstack([np.broadcast_to(np.asarray(w_init, dtype=np.float64), w.shape[1:]),
                            w[:-1]])
        after, dirs = w, d
    else:
        before, after, dirs = w[:-1], w[1:], d[1:]
    lo, hi = (float(np.min(w)), float(np.max(w))) if w_range is None else map(float, w_range)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"w_range must be finite, got {(lo, hi)}")
    if hi <= lo:
        hi = lo + 1e-12  # a device that never moved: one occupied bin
    edges = np.linspace(lo, hi, n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    which = np.clip(np.searchsorted(edges, before, side="right") - 1, 0, n_bins - 1)
    steps = after - before
    out = []
    for sign in (1.0, -1.0):
        mask = (dirs == sign)[:, None] & (before >= lo) & (before <= hi)
        # sums per (bin, device) by one bincount over flat indices
        flat = which * w.shape[1] + np.arange(w.shape[1])[None, :]
        size = n_bins * w.shape[1]
        count = np.bincount(flat[mask], minlength=size).reshape(n_bins, -1)
        s1 = np.bincount(flat[mask], steps[mask], minlength=size).reshape(n_bins, -1)
        s2 = np.bincount(flat[mask], steps[mask] ** 2, minlength=size).reshape(n_bins, -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count >= 1, s1 / count, np.nan)
            var = np.where(count >= 2, (s2 - count * mean ** 2) / (count - 1), np.nan)
        out += [mean, np.sqrt(np.maximum(var, 0.0))]
    return (centres, *out)


def plot_device(device_or_name, *, params=None, unit_cell=0, n_pulses=None, n_cycles=2,
                n_devices=3, seed=0, n_bins=30, figsize=(8.0, 6.5), dpi=100):
    """Pulse response and step-size statistics of a device (aihwkit's ``plot_device`` panels).

    Top: the weights of ``n_devices`` devices under ``n_cycles`` sequences of ``n_pulses`` up
    then ``n_pulses`` down pulses, as read (write noise included). Bottom: the step per up
    pulse (left) and per down pulse (right) against the device weight before the pulse
    (without write noise), in weight bins. The line is the step of the same devices (same
    hidden parameters) run again without cycle-to-cycle noise (``dw_min_std = 0``), as
    aihwkit's statistics are; the band is the mean +-1 standard deviation of the noisy steps,
    which aihwkit's noise-free statistics do not show.

    Parameters
    ----------
    device_or_name, params, unit_cell
        See :func:`resolve_device`.
    n_pulses, n_cycles, n_devices, seed
        See :func:`pulse_response`.
    n_bins : int, default 30
        Weight bins of the statistics.
    figsize : (float, float), default (8, 6.5)
        Inches.
    dpi : int, default 100

    Returns
    -------
    matplotlib.figure.Figure
    """
    _require_matplotlib()
    device, label = resolve_device(device_or_name, params, unit_cell=unit_cell)
    n_devices = _check_count("n_devices", n_devices)
    dirs, n_up = _directions_of(None, n_pulses, n_cycles, device)
    weights, states, start, hidden = _run_pulses(device, dirs, n_devices, None, seed, np.float32,
                                                 n_up)
    # The same devices (hidden parameters) again without step noise: the mean step rule.
    clean = _run_pulses(_without_pulse_noise(device), dirs, n_devices, None, seed, np.float32,
                        n_up, hidden)[1]
    w_range = (min(states.min(), clean.min()), max(states.max(), clean.max()))
    centres, up_c, _, down_c, _ = step_statistics(clean, dirs, w_init=start, n_bins=n_bins,
                                                  w_range=w_range)
    _, up_m, up_s, down_m, down_s = step_statistics(states, dirs, w_init=start, n_bins=n_bins,
                                                    w_range=w_range)

    fig = _new_figure(figsize, dpi)
    grid = fig.add_gridspec(2, 2, height_ratios=(1.15, 1.0))
    ax_trace = fig.add_subplot(grid[0, :])
    ax_up = fig.add_subplot(grid[1, 0])
    ax_down = fig.add_subplot(grid[1, 1], sharex=ax_up)
    fig.suptitle(label)
    pulses = np.arange(1, len(dirs) + 1)
    colors = [f"C{i % 10}" for i in range(n_devices)]
    for i in range(n_devices):
        ax_trace.plot(pulses, weights[:, i], color=colors[i], linewidth=0.8,
                      label=f"device {i + 1}")
    noise = " (read with write noise)" if states is not weights else ""
    cycles = f"{n_cycles} cycles of " if n_cycles > 1 else ""
    ax_trace.set_title(f"Pulse response: {cycles}{n_up} up, then {n_up} down pulses{noise}",
                       fontsize="medium")
    ax_trace.set_xlabel("Pulse number")
    ax_trace.set_ylabel("Weight $w$")
    ax_trace.set_xlim(1, len(dirs))
    ax_trace.legend(loc="best", fontsize="small")
    ax_trace.grid(True, alpha=0.3)
    for ax, line, mean, std, title in ((ax_up, up_c, up_m, up_s, "Up pulses"),
                                       (ax_down, down_c, down_m, down_s, "Down pulses")):
        for i in range(n_devices):
            ax.plot(centres, line[:, i], color=colors[i], linewidth=1.2, marker=".",
                    markersize=3)
            ax.fill_between(centres, mean[:, i] - std[:, i], mean[:, i] + std[:, i],
                            color=colors[i], alpha=0.2, linewidth=0)
        ax.set_title(f"{title}: step without noise (line),\nmean $\\pm$ 1 std with noise (band)",
                     fontsize="medium")
        ax.set_xlabel("Weight $w$ before the pulse")
        ax.set_ylabel("Step $\\Delta w$")
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3), useMathText=True)
        # zero on the axis: step sizes read against no step (and float rounding stays flat)
        low, high = ax.get_ylim()
        low, high = min(low, 0.0), max(high, 0.0)
        pad = 0.05 * (high - low)
        ax.set_ylim(low - pad, high + pad)
    return fig


# ----- drift ------------------------------------------------------------------------------------

def resolve_noise_model(config_or_name=None, params=None):
    """The PCM noise model (and drift compensation) whose drift is drawn, and a label.

    Parameters
    ----------
    config_or_name : str, InferenceRPUConfig, noise model or None
        A name of :func:`inference_config_names` (case-insensitive), an instance, or None for
        ``InferenceRPUConfig()`` (aihwkit's default ``PCMLikeNoiseModel``).
    params : dict, optional
        Field overrides of the *noise model* (``{"prog_noise_scale": 0.5}``; dotted paths
        reach nested fields such as ``"g_converter.g_max"``).

    Returns
    -------
    noise_model, drift_compensation (or None), label
    """
    from rpu.config import BaseNoiseModel, InferenceRPUConfig
    if config_or_name is None:
        obj = InferenceRPUConfig()
    elif isinstance(config_or_name, str):
        obj = _lookup(config_or_name, inference_config_names(), "inference configuration")()
    elif isinstance(config_or_name, (InferenceRPUConfig, BaseNoiseModel)):
        obj = copy.deepcopy(config_or_name)
    else:
        raise TypeError(f"config must be an InferenceRPUConfig, a noise model, one of their "
                        f"names or None, got {type(config_or_name).__name__}")
    label = type(obj).__name__
    if isinstance(obj, InferenceRPUConfig):
        model, compensation = obj.noise_model, obj.drift_compensation
        label = f"{label} ({type(model).__name__})"
    else:
        model, compensation = obj, None
    model = _apply_params(model, params, type(model).__name__)
    return model, compensation, label


def _as_positive_vector(name, value):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got shape "
                         f"{arr.shape}")
    return arr


def plot_drift(config_or_name=None, *, params=None, times=None, levels=None, n_devices=200,
               seed=0, figsize=(10.0, 4.5), dpi=100):
    """Programmed weight levels drifting with time, for an inference configuration's PCM model.

    ``n_devices`` devices per target level are programmed at once
    (:func:`rpu.inference.apply_programming_noise`), then read at each time after programming
    (:func:`rpu.inference.apply_drift_noise`: power-law drift and 1/f read noise, fresh read
    noise per time). Left: the mean weight of each level with a +-1 std band against time (log
    axis). Right, when the configuration has a ``GlobalDriftCompensation``: the same after the
    compensation factor ``alpha(t) = mean|W_prog| / mean|W(t)|`` (its read-out taken exactly,
    without forward-pass noise), which is what the tile's outputs see.

    Parameters
    ----------
    config_or_name, params
        See :func:`resolve_noise_model`.
    times : array_like, optional
        Seconds after programming, > 0 (log axis). Default ``logspace(0, 7, 15)``, or the
        times of the model's ``coeff_dic`` where it has one (ReRamWan2022NoiseModel, which
        only knows those).
    levels : array_like, default ``linspace(-1, 1, 9)``
        Target weights (normalised: the largest ``|level|`` maps to ``g_max``).
    n_devices : int, default 200
        Devices per level.
    seed : int or None, default 0
        Seed of the Philox key of the noise draws.
    figsize, dpi
        As in :func:`plot_device`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from rpu._rng import resolve_seed
    from rpu.inference import apply_drift_noise, apply_programming_noise, compensation
    _require_matplotlib()
    model, comp, label = resolve_noise_model(config_or_name, params)
    if times is None:
        # a model measured at a few times only (ReRamWan2022's table) is drawn at those
        table = getattr(model, "coeff_dic", None)
        table_times = sorted(float(k) for k in table if float(k) > 0) if table else []
        times = table_times or np.logspace(0.0, 7.0, 15)
    t = _as_positive_vector("times", times)
    if np.any(t <= 0):
        raise ValueError(f"times must be > 0 seconds (a log axis), got min {t.min()!r}")
    lv = np.sort(_as_positive_vector("levels", np.linspace(-1.0, 1.0, 9)
                                     if levels is None else levels))
    n_devices = _check_count("n_devices", n_devices, 2)
    _, key = resolve_seed(seed)
    # the weights at every time, with and without compensation, and the statistics' temporaries
    check_memory(f"plot_drift with {n_devices} devices per level", (len(t) * n_devices, len(lv)),
                 np.float64, 4, contents="the weights of every device at every time",
                 advice="use fewer devices per level (n_devices, --devices) or fewer times")

    target = np.tile(lv, (n_devices, 1))  # (devices, levels)
    w_prog, nu = apply_programming_noise(model, target, key, 0)
    drifted = np.stack([apply_drift_noise(model, w_prog, nu, float(ti), key, 1 + k)
                        for k, ti in enumerate(t)])  # (times, devices, levels)
    panels = [("Drift (no compensation)", drifted)]
    if comp is not None:
        ref = compensation.init_baseline(comp, w_prog.T)
        alpha = np.array([compensation.apply(comp, w.T, ref) for w in drifted])
        panels.append((f"With {type(comp).__name__}", drifted * alpha[:, None, None]))

    fig = _new_figure(figsize, dpi)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    fig.suptitle(f"{label}: {n_devices} devices per level")
    for ax, (title, w) in zip(axes, panels):
        mean, std = w.mean(axis=1), w.std(axis=1)
        for j in range(len(lv) - 1, -1, -1):  # top to bottom, as the legend reads
            level = lv[j]
            color = f"C{j % 10}"
            ax.plot(t, mean[:, j], color=color, marker=".", label=f"{level:+.2f}")
            ax.fill_between(t, mean[:, j] - std[:, j], mean[:, j] + std[:, j], color=color,
                            alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("Time after programming $t$ [s]")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("Weight (mean $\\pm$ 1 std)")
    axes[-1].legend(title="target", fontsize="small", loc="center left",
                    bbox_to_anchor=(1.01, 0.5))
    return fig
