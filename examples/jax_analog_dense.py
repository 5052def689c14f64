"""An analog two-layer network in JAX: the tiles run inside ``jax.jit``.

``analog_dense(tile)`` makes a tile a differentiable JAX function (forward and backward are the
tile's, through ``jax.pure_callback``); the gradient of a zero ``probe`` added to a layer's output
is the ``d`` that the pulsed update ``apply_update(tile, x, d, lr)`` needs. The jitted step
returns the loss, the hidden activations and both ``d``; the updates run outside jit, since they
change the tiles.

    python examples/jax_analog_dense.py
"""
import jax
import jax.numpy as jnp
import numpy as np

import rpu
from rpu.adapters.jax import analog_dense, apply_update
from rpu.config import ConstantStepDevice, SingleRPUConfig
from rpu.data import load_digits


def main(epochs=3, batch=10, lr=0.05):
    images, labels = load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    tiles = [rpu.AnalogTile(32, 64, cfg, bias=True, seed=1),
             rpu.AnalogTile(10, 32, cfg, bias=True, seed=2)]
    rng = np.random.default_rng(3)
    for t in tiles:
        t.set_weights(rng.uniform(-1, 1, (t.out_size, t.in_size + 1)) / np.sqrt(t.in_size))
    l1, l2 = (analog_dense(t) for t in tiles)

    def loss_fn(probes, x, y):
        h = jax.nn.sigmoid(l1(x, probes[0]))
        logits = l2(h, probes[1])
        return -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(y.shape[0]), y]), h

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    predict = jax.jit(lambda x: jnp.argmax(l2(jax.nn.sigmoid(l1(x))), axis=1))
    probes = [jnp.zeros((batch, 32)), jnp.zeros((batch, 10))]
    for epoch in range(epochs):
        total = 0.0
        for start in range(0, 1400, batch):
            x, y = images[start:start + batch], labels[start:start + batch]
            (loss, h), (d1, d2) = step(probes, x, y)
            apply_update(tiles[1], h, d2, lr)
            apply_update(tiles[0], x, d1, lr)
            total += float(loss)
        accuracy = float(np.mean(np.asarray(predict(images[1400:])) == labels[1400:]))
        print(f"epoch {epoch + 1}: training loss {total / 1400:.3f}, test accuracy "
              f"{100 * accuracy:.1f} %")


if __name__ == "__main__":
    main()
