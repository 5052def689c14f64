"""Porting an aihwkit training script to rpu's PyTorch adapter: a diff of imports.

An aihwkit 1.1.0 script that trains an analog network with AnalogSGD runs on rpu once its imports
change; the model, the optimizer calls and the training loop stay as they are::

    -from aihwkit.nn import AnalogLinear, AnalogSequential
    -from aihwkit.optim import AnalogSGD
    -from aihwkit.simulator.configs import SingleRPUConfig, InferenceRPUConfig
    -from aihwkit.simulator.configs.devices import ConstantStepDevice
    +from rpu.adapters.torch import AnalogLinear, AnalogSequential, AnalogSGD
    +from rpu.config import SingleRPUConfig, InferenceRPUConfig, ConstantStepDevice

(``convert_to_analog`` moves from ``aihwkit.nn.conversion`` to ``rpu.adapters.torch`` the same
way.) rpu's layers take an optional ``seed=`` in addition, so that a run can be replayed; the
data here are rpu's bundled 8x8 digits instead of a torchvision download.

    python examples/port_from_aihwkit_torch.py
"""
import numpy as np
import torch
from torch import nn

from rpu.adapters.torch import AnalogLinear, AnalogSequential, AnalogSGD
from rpu.config import ConstantStepDevice, SingleRPUConfig
from rpu.data import load_digits


def main(epochs=5, batch_size=10, lr=0.5):
    images, labels = load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    x, y = torch.from_numpy(images[order]), torch.from_numpy(labels[order])
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    # --- from here on, the aihwkit script unchanged (apart from the seeds) ---
    rpu_config = SingleRPUConfig(device=ConstantStepDevice())
    model = AnalogSequential(
        AnalogLinear(64, 32, rpu_config=rpu_config, seed=1), nn.Sigmoid(),
        AnalogLinear(32, 10, rpu_config=rpu_config, seed=2))
    optimizer = AnalogSGD(model.parameters(), lr=lr)
    optimizer.regroup_param_groups(model)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(y_train)).split(batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch + 1}: training loss {total / len(y_train):.3f}, "
              f"test accuracy {100 * accuracy:.1f} %")
    torch.save(model.state_dict(), "analog_digits.pt")   # the tiles' full state, rpu's format
    print("saved analog_digits.pt")


if __name__ == "__main__":
    main()
