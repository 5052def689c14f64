"""``rpu demo``: train a small network on analog tiles, then run it on drifting PCM.

The main job of the ``rpu`` command, with everything it needs inside the package (the
handwritten digits of :mod:`rpu.data`, no downloads). It

1. trains a 64-32-10 perceptron (sigmoid hidden layer, softmax cross-entropy, batch 10) on 1437
   digits with three kinds of tiles: exact floating point, analog SGD on ConstantStep devices,
   and Tiki-taka on SoftBounds devices (the fast array with ``fast_lr = 0.1``, one column
   transferred after every input vector);
2. programs the floating-point network onto PCM inference tiles (the default
   ``InferenceRPUConfig``: PCM programming noise, drift and read noise, noisy DAC/ADC) and
   measures the test accuracy on the other 360 digits after 1 s, 1 h, 1 day and 1 year, with and
   without global drift compensation, over a few programmings;
3. prints both tables, and writes ``results.json`` and (with matplotlib) ``demo.png`` into the
   output folder.

It is a script on the NumPy tile API, the way a user drives tiles without a framework: every
layer is a tile with ``forward``/``backward``/``update``.
"""
import json
import os
import sys
import time

import numpy as np

import rpu
from rpu.config import (ConstantStepDevice, InferenceRPUConfig, SingleRPUConfig, SoftBoundsDevice,
                        build_config)
from rpu.data import load_digits

__all__ = ["run_demo", "INFERENCE_TIMES"]

#: Seconds after programming at which the inference accuracy is measured.
INFERENCE_TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 day": 86400.0, "1 year": 365 * 86400.0}
N_TRAIN = 1437
HIDDEN = 32
BATCH = 10


def _tiki_taka_config():
    cfg = build_config("tiki-taka", SoftBoundsDevice)
    cfg.device.fast_lr = 0.1
    cfg.device.units_in_mbatch = False   # transfer_every counts input vectors, not batches
    return cfg


#: name -> (label, tile factory (out, in, seed) -> tile, learning rate)
ALGORITHMS = {
    "fp": ("floating point", lambda o, i, s: rpu.FloatingPointTile(o, i, bias=True, seed=s), 0.1),
    "sgd": ("analog SGD, ConstantStep",
            lambda o, i, s: rpu.AnalogTile(o, i, SingleRPUConfig(device=ConstantStepDevice()),
                                           bias=True, seed=s), 0.05),
    "tiki-taka": ("Tiki-taka, SoftBounds",
                  lambda o, i, s: rpu.AnalogTile(o, i, _tiki_taka_config(), bias=True, seed=s), 0.1),
}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Perceptron:
    """Two tiles with a sigmoid between them; the tiles' analog bias columns hold the biases."""

    def __init__(self, make_tile, seed):
        self.tiles = [make_tile(HIDDEN, 64, seed), make_tile(10, HIDDEN, seed + 1)]
        rng = np.random.default_rng(seed)
        for tile in self.tiles:
            n_in = tile.in_size
            tile.set_weights(rng.uniform(-1, 1, (tile.out_size, n_in + 1)) / np.sqrt(n_in))

    def forward(self, x, **kwargs):
        h = _sigmoid(self.tiles[0].forward(x, **kwargs))
        return h, self.tiles[1].forward(h, **kwargs)

    def accuracy(self, x, labels, **kwargs):
        return float(np.mean(np.argmax(self.forward(x, **kwargs)[1], axis=1) == labels))

    def train_batch(self, x, labels):
        h, out = self.forward(x)
        p = np.exp(out - out.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d_out = p
        d_out[np.arange(len(labels)), labels] -= 1.0      # softmax cross-entropy gradient
        d_hidden = self.tiles[1].backward(d_out) * h * (1.0 - h)
        self.tiles[1].update(h, d_out)
        self.tiles[0].update(x, d_hidden)


class _Progress:
    """One status line on stderr, rewritten in place on a terminal."""

    def __init__(self, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()

    def show(self, text, final=False):
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()


def _split(seed):
    images, labels = load_digits()
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    return (images[:N_TRAIN], labels[:N_TRAIN]), (images[N_TRAIN:], labels[N_TRAIN:])


def train(name, epochs, seed, train_set, test_set, progress):
    """Train one algorithm; returns (network, test accuracy after each epoch)."""
    label, make_tile, lr = ALGORITHMS[name]
    net = Perceptron(make_tile, seed)
    for tile in net.tiles:
        tile.set_learning_rate(lr)
    x_train, y_train = train_set
    curve = []
    for epoch in range(epochs):
        order = np.random.default_rng(seed + 1000 + epoch).permutation(len(y_train))
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            net.train_batch(x_train[idx], y_train[idx])
        curve.append(net.accuracy(*test_set))
        progress.show(f"training {label:28s} epoch {epoch + 1:2d}/{epochs}  test accuracy "
                      f"{100 * curve[-1]:5.1f} %", final=epoch + 1 == epochs)
    return net, curve


def inference(weights, test_set, seed, n_programmings, progress):
    """Accuracy of the trained weights on PCM tiles after each drift time.

    Returns {"compensated"|"uncompensated": {time label: [accuracy per programming]}}.
    """
    results = {}
    for mode, compensation in (("compensated", True), ("uncompensated", False)):
        cfg = InferenceRPUConfig()
        if not compensation:
            cfg.drift_compensation = None
        acc = {t: [] for t in INFERENCE_TIMES}
        for rep in range(n_programmings):
            net = Perceptron(lambda o, i, s: rpu.InferenceTile(o, i, cfg, bias=True, seed=s),
                             seed + 10 * rep)
            for tile, w in zip(net.tiles, weights):
                tile.set_weights(w)
                tile.program_weights()
            for label, t in INFERENCE_TIMES.items():
                for tile in net.tiles:
                    tile.drift_weights(t)
                acc[label].append(net.accuracy(*test_set, is_test=True))
            progress.show(f"inference on PCM, {mode:14s} programming {rep + 1}/{n_programmings}",
                          final=rep + 1 == n_programmings)
        results[mode] = acc
    return results


def _plot(path, curves, drift, epochs):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, curve in curves.items():
        ax1.plot(np.arange(1, epochs + 1), 100 * np.asarray(curve), marker="o",
                 label=ALGORITHMS[name][0])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("Training on analog tiles (digits, 64-32-10)")
    ax1.set_ylim(0, 100)
    ax1.grid(alpha=0.3)
    ax1.legend(loc="lower right")
    times = list(INFERENCE_TIMES.values())
    for mode, marker in (("compensated", "o"), ("uncompensated", "s")):
        means = [100 * np.mean(drift[mode][t]) for t in INFERENCE_TIMES]
        stds = [100 * np.std(drift[mode][t]) for t in INFERENCE_TIMES]
        ax2.errorbar(times, means, yerr=stds, marker=marker, capsize=3,
                     label=f"PCM, {'with' if mode == 'compensated' else 'without'} drift compensation")
    ax2.axhline(100 * curves["fp"][-1], color="grey", linestyle="--", label="floating point")
    ax2.set_xscale("log")
    ax2.set_xticks(times, list(INFERENCE_TIMES))
    ax2.set_xlabel("time after programming")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_title("Floating-point network programmed on PCM")
    ax2.set_ylim(50, 100)
    ax2.grid(alpha=0.3)
    ax2.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def run_demo(out_dir="rpu-demo", epochs=10, n_programmings=3, seed=0, algorithms=None,
             stream=None):
    """Run the demo; returns the results dict that is also written to ``results.json``.

    Parameters
    ----------
    out_dir : str or path
        Folder for ``results.json`` and ``demo.png`` (created if needed).
    epochs : int
        Training epochs per algorithm (>= 1).
    n_programmings : int
        Independent programmings of the PCM network (>= 1).
    seed : int
        Seed of the data split, the initial weights and every tile.
    algorithms : list of str, optional
        A subset of ``["fp", "sgd", "tiki-taka"]`` (all by default; "fp" is always trained,
        since the inference part programs its weights).
    stream : file, optional
        Where the tables go (standard output by default; progress goes to stderr).
    """
    stream = sys.stdout if stream is None else stream
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if isinstance(n_programmings, bool) or not isinstance(n_programmings, int) or n_programmings < 1:
        raise ValueError(f"n_programmings must be a positive integer, got {n_programmings!r}.")
    names = list(ALGORITHMS) if algorithms is None else list(algorithms)
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithm(s) {unknown}; choose from {list(ALGORITHMS)}.")
    if "fp" not in names:
        names.insert(0, "fp")
    # before the training, so that minutes of work are not lost to a folder that cannot take
    # the results
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out_dir {os.fspath(out_dir)!r} cannot be created: "
                         f"{exc.strerror or exc}.") from exc
    if not os.access(out_dir, os.W_OK):
        raise ValueError(f"out_dir {os.fspath(out_dir)!r} is not writable.")
    start = time.perf_counter()
    progress = _Progress()
    train_set, test_set = _split(seed)
    curves, nets = {}, {}
    for name in names:
        nets[name], curves[name] = train(name, epochs, seed, train_set, test_set, progress)
    fp_weights = [tile.get_weights() for tile in nets["fp"].tiles]
    drift = inference(fp_weights, test_set, seed, n_programmings, progress)
    elapsed = time.perf_counter() - start

    print(f"\nTraining: test accuracy on {len(test_set[1])} held-out digits after {epochs} "
          f"epochs (batch {BATCH})", file=stream)
    for name in names:
        print(f"  {ALGORITHMS[name][0]:30s} {100 * curves[name][-1]:6.1f} %", file=stream)
    print(f"\nInference: the floating-point network on PCM (default InferenceRPUConfig), mean "
          f"+- std over {n_programmings} programmings", file=stream)
    print(f"  {'time':8s} {'with drift compensation':>26s} {'without':>18s}", file=stream)
    for label in INFERENCE_TIMES:
        row = [f"{100 * np.mean(drift[m][label]):6.1f} +- {100 * np.std(drift[m][label]):4.1f} %"
               for m in ("compensated", "uncompensated")]
        print(f"  {label:8s} {row[0]:>26s} {row[1]:>18s}", file=stream)
    results = {"epochs": epochs, "seed": seed, "n_programmings": n_programmings,
               "training_curves": curves, "inference_accuracy": drift,
               "inference_times_s": INFERENCE_TIMES, "seconds": elapsed,
               "rpu_version": rpu.__version__}
    json_path = os.path.join(out_dir, "results.json")
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1)
    png_path = os.path.join(out_dir, "demo.png")
    wrote_png = _plot(png_path, curves, drift, epochs)
    print(f"\nWrote {json_path}" + (f" and {png_path}" if wrote_png else
                                     " (install matplotlib, e.g. pip install 'rpu[plot]', for the "
                                     "plot)") + f"; {elapsed:.0f} s in all.", file=stream)
    return results
