"""Example experiment functions for ``rpu sweep`` (see ``examples/sweep_device.toml``).

An experiment function takes the point's ready configuration and seed as keyword arguments,
plus the sweep's parameters, and returns a dict of scalar metrics, which become columns of the
results table.
"""

import numpy as np

from rpu.tiles import AnalogTile

__all__ = ["train_regression"]


def train_regression(config, seed, *, in_size=8, out_size=4, n_steps=100, batch_size=16,
                     lr=0.1, w_scale=0.4, n_test=256):
    """Train an analog tile on a linear regression task and report how well it learnt.

    A teacher matrix ``W*`` of shape ``(out_size, in_size)`` with entries uniform in
    ``[-w_scale, w_scale]`` maps inputs ``x`` uniform in ``[-1, 1]`` to targets ``W* x``. The
    tile starts from zero weights and takes ``n_steps`` steps of pulsed SGD on mini-batches of
    ``batch_size``: forward pass, error ``d = y - W* x``, ``tile.update(x, d)`` with learning
    rate ``lr``. The defaults take a few tens of milliseconds.

    Parameters
    ----------
    config : RPU configuration
        The tile's configuration (any that :class:`rpu.AnalogTile` takes).
    seed : int
        Seeds the teacher, the data and the tile's random numbers.
    in_size, out_size, n_steps, batch_size : int
        Tile shape, training steps and mini-batch size.
    lr : float
        Learning rate of the pulsed update.
    w_scale : float
        Range of the teacher's weights (keep it inside the device's ``w_min``/``w_max``).
    n_test : int
        Test inputs for the final error.

    Returns
    -------
    dict
        ``mse``: mean squared error of the analog forward pass on the test inputs at the end;
        ``mse_start``: the same before training (the targets' mean square);
        ``weight_rmse``: root-mean-square distance between the tile's weights and ``W*``.
    """
    for name, value, least in (("in_size", in_size, 1), ("out_size", out_size, 1),
                               ("n_steps", n_steps, 0), ("batch_size", batch_size, 1),
                               ("n_test", n_test, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}.")
    rng = np.random.default_rng(seed)
    teacher = rng.uniform(-w_scale, w_scale, size=(out_size, in_size))
    tile = AnalogTile(out_size, in_size, config, seed=seed)
    tile.set_weights(np.zeros((out_size, in_size)))
    tile.set_learning_rate(lr)
    x_test = rng.uniform(-1.0, 1.0, size=(n_test, in_size)).astype(np.float32)
    y_test = x_test @ teacher.T
    mse_start = float(np.mean(y_test ** 2))
    for _ in range(n_steps):
        x = rng.uniform(-1.0, 1.0, size=(batch_size, in_size)).astype(np.float32)
        d = tile.forward(x) - x @ teacher.T
        tile.update(x, d.astype(np.float32))
    mse = float(np.mean((tile.forward(x_test) - y_test) ** 2))
    weight_rmse = float(np.sqrt(np.mean((tile.get_weights() - teacher) ** 2)))
    return {"mse": mse, "mse_start": mse_start, "weight_rmse": weight_rmse}
