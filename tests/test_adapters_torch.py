"""The PyTorch adapter: exactness against nn.Linear/nn.Conv2d with SGD, training on digits,
state_dict round trips, inference models, zero-copy conversion and bad input.

Skips where torch is not installed.
"""
import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rpu  # noqa: E402
from rpu.adapters import torch as rt  # noqa: E402
from rpu.config import (BoundManagementType, ConstantStepDevice,  # noqa: E402
                        FloatingPointRPUConfig, IdealDevice, NoiseManagementType,
                        InferenceRPUConfig, IOParameters, MappingParameter, SingleRPUConfig)
from rpu.data import load_digits  # noqa: E402


def ideal_config(max_input_size=0, digital_bias=True):
    """Perfect periphery and an ideal device: the analog layer must be exact SGD."""
    return SingleRPUConfig(device=IdealDevice(), forward=IOParameters(is_perfect=True),
                           backward=IOParameters(is_perfect=True),
                           mapping=MappingParameter(max_input_size=max_input_size,
                                                    max_output_size=0, digital_bias=digital_bias))


def train_twins(digital, analog, make_batch, steps, lr):
    """Train a digital model with torch SGD and its analog twin with AnalogSGD on the same
    batches; return the largest weight difference seen after any step."""
    opt_d = torch.optim.SGD(digital.parameters(), lr=lr)
    opt_a = rt.AnalogSGD(analog.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(steps):
        x, target = make_batch(rng)
        for model, opt in ((digital, opt_d), (analog, opt_a)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), target).backward()
            opt.step()
        for layer_d, layer_a in zip([m for m in digital.modules() if hasattr(m, "weight")],
                                    [m for m in analog.modules() if isinstance(m, rt._AnalogLayer)]):
            w, b = layer_a.get_weights()
            worst = max(worst, float((w - layer_d.weight).detach().abs().max()),
                        float((b - layer_d.bias).detach().abs().max()))
    return worst


@pytest.mark.parametrize("digital_bias", [True, False])
def test_ideal_linear_reproduces_nn_linear_and_sgd_over_100_steps(digital_bias):
    torch.manual_seed(1)
    digital = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(),
                                  torch.nn.Linear(16, 5)).double()
    analog = rt.convert_to_analog(digital, ideal_config(digital_bias=digital_bias), seed=3)
    for layer in rt._analog_layers(analog):
        assert layer.tile.dtype == np.float64
        # aihwkit's digital bias is a torch parameter; otherwise the tile's analog column.
        assert (layer.bias is not None, layer.tile.bias) == (digital_bias, not digital_bias)

    def batch(rng):
        return (torch.from_numpy(rng.standard_normal((8, 12))),
                torch.from_numpy(rng.standard_normal((8, 5))))

    x = batch(np.random.default_rng(5))[0]
    start = float((analog(x) - digital(x)).detach().abs().max())
    worst = train_twins(digital, analog, batch, 100, lr=0.05)
    assert start < 1e-14 and worst < 1e-12
    assert float((analog(x) - digital(x)).detach().abs().max()) < 1e-12
    # The twins moved: the comparison is not trivially between untouched weights.
    assert float((digital[0].weight - torch.nn.Linear(12, 16).double().weight).detach().abs().max()) > 0


def test_ideal_conv_and_tile_array_reproduce_torch():
    torch.manual_seed(2)
    digital = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=1, padding=1), torch.nn.Tanh(),
                                  torch.nn.Conv2d(3, 4, 3, stride=2, dilation=(1, 2)),
                                  torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 2, 3)).double()
    # max_input_size 20 splits the second conv (27 inputs) and the linear layer (24) into arrays.
    analog = rt.convert_to_analog(digital, ideal_config(max_input_size=20), seed=4)
    assert isinstance(analog[2].tile, rpu.TileArray) and analog[2].tile.in_sizes == [14, 13]
    # (as in aihwkit, max_output_size = 0 beside a non-zero max_input_size makes every layer
    # an array, here the first conv one of a single tile)
    assert isinstance(analog[0].tile, rpu.TileArray) and analog[0].tile.in_sizes == [18]

    def batch(rng):
        return (torch.from_numpy(rng.standard_normal((4, 2, 7, 8))),
                torch.from_numpy(rng.standard_normal((4, 3))))

    x = batch(np.random.default_rng(6))[0].requires_grad_()
    y_a, y_d = analog(x), digital(x)
    assert float((y_a - y_d).detach().abs().max()) < 1e-13
    g_a, = torch.autograd.grad(y_a.sum(), x)
    g_d, = torch.autograd.grad(y_d.sum(), x)
    assert float((g_a - g_d).abs().max()) < 1e-13
    assert train_twins(digital, analog, batch, 20, lr=0.1) < 1e-12


def test_optimizer_concatenates_calls_and_skips_unused_forwards():
    layer = rt.AnalogLinear(4, 3, rpu_config=ideal_config(), seed=1, dtype=torch.float64)
    w0, b0 = layer.get_weights()
    opt = rt.AnalogSGD(layer.parameters(), lr=0.5)
    rng = np.random.default_rng(2)
    x1, x2, x3 = (torch.from_numpy(rng.standard_normal((n, 4))) for n in (2, 3, 5))
    (layer(x1).sum() + 2 * layer(x2).pow(2).sum()).backward()
    layer(x3)   # recorded, but no backward: dropped at the step
    y2 = x2 @ w0.T + b0
    d = torch.cat([torch.ones(2, 3, dtype=torch.float64), 4 * y2])
    x = torch.cat([x1, x2])
    opt.step()
    w1, b1 = layer.get_weights()
    assert torch.allclose(w1, w0 - 0.5 * d.T @ x, atol=1e-12)
    assert torch.allclose(b1, b0 - 0.5 * d.sum(0), atol=1e-12)
    assert layer._pairs == []
    layer(x1).sum().backward()
    opt.zero_grad()     # forgets the recorded pairs, as it forgets gradients
    opt.step()
    assert torch.equal(layer.get_weights()[0], w1)


def test_training_step_is_the_numpy_tile_step_bit_for_bit():
    """Forward, backward and update through the adapter are the tile's own calls: a twin tile
    driven from NumPy (same state, same random stream) gives identical bits, noise included."""
    cfg = SingleRPUConfig(device=ConstantStepDevice(), forward=IOParameters(out_noise=0.05))
    layer = rt.AnalogLinear(20, 8, bias=False, rpu_config=cfg, seed=4)
    opt = rt.AnalogSGD(layer.parameters(), lr=0.05)
    twin = rpu.serialization.from_bytes(rpu.serialization.to_bytes(layer.tile))
    twin.set_learning_rate(0.05)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.uniform(-1, 1, (6, 20)).astype(np.float32)
        d = rng.standard_normal((6, 8)).astype(np.float32)
        xt = torch.from_numpy(x).requires_grad_()
        opt.zero_grad()
        y = layer(xt)
        y.backward(torch.from_numpy(d))
        opt.step()
        np.testing.assert_array_equal(y.detach().numpy(), twin.forward(x))
        np.testing.assert_array_equal(xt.grad.numpy(), twin.backward(d))
        twin.update(x, d)
        twin.post_update_step()
        np.testing.assert_array_equal(layer.tile.get_weights(), twin.get_weights())


def split_digits():
    images, labels = load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = torch.from_numpy(images[order]), torch.from_numpy(labels[order])
    return (images[:1400], labels[:1400]), (images[1400:], labels[1400:])


def train_digits(model, epochs, lr, reshape=lambda x: x, batch=10):
    (x_train, y_train), (x_test, y_test) = split_digits()
    opt = rt.AnalogSGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y_train), generator=gen).split(batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(reshape(x_train[idx])), y_train[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(reshape(x_test)).argmax(1) == y_test).float().mean())


def test_analog_mlp_trains_on_digits():
    model = torch.nn.Sequential(rt.AnalogLinear(64, 32, rpu_config=SingleRPUConfig(
        device=ConstantStepDevice()), seed=1), torch.nn.Sigmoid(), rt.AnalogLinear(
        32, 10, rpu_config=SingleRPUConfig(device=ConstantStepDevice()), seed=2))
    # lr 0.5 on the batch mean is the NumPy demo's 0.05 on the batch sum.
    accuracy = train_digits(model, epochs=3, lr=0.5)
    assert accuracy > 0.85, accuracy     # chance is 0.1


def test_analog_lenet_style_model_trains_on_digits():
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    model = rt.AnalogSequential(rt.AnalogConv2d(1, 8, 3, padding=1, rpu_config=cfg, seed=1),
                                torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                rt.AnalogLinear(8 * 4 * 4, 10, rpu_config=cfg, seed=2))
    accuracy = train_digits(model, epochs=2, lr=0.2, reshape=lambda x: x.reshape(-1, 1, 8, 8))
    assert accuracy > 0.85, accuracy


def test_inference_model_trains_programs_and_drifts():
    cfg = InferenceRPUConfig()
    model = rt.AnalogSequential(rt.AnalogLinear(64, 32, rpu_config=cfg, seed=1), torch.nn.Sigmoid(),
                                rt.AnalogLinear(32, 10, rpu_config=cfg, seed=2))
    assert isinstance(model[0].tile, rpu.InferenceTile)
    accuracy = train_digits(model, epochs=2, lr=0.5)
    assert accuracy > 0.85, accuracy
    # eval mode is the tile's is_test=True forward: a twin of the tile gives the same bits.
    x = split_digits()[1][0][:20]
    twin = rpu.serialization.from_bytes(rpu.serialization.to_bytes(model[0].tile))
    with torch.no_grad():
        y = model[0](x).numpy()
    np.testing.assert_array_equal(y, twin.forward(x.numpy(), is_test=True))
    model.program_analog_weights()
    model.drift_analog_weights(3600.0)
    assert all(layer.tile._programmed is not None for layer in (model[0], model[2]))
    assert model[0].tile.alpha != 1.0   # drift compensation read the drifted weights
    (_, _), (x_test, y_test) = split_digits()
    with torch.no_grad():
        drifted = float((model(x_test).argmax(1) == y_test).float().mean())
    assert drifted > 0.7, drifted
    with pytest.raises(TypeError, match="InferenceRPUConfig"):
        rt.program_analog_weights(torch.nn.Sequential(rt.AnalogLinear(3, 2, seed=1)))


def noisy_model(seed):
    cfg = SingleRPUConfig(device=ConstantStepDevice(), forward=IOParameters(out_noise=0.05))
    return torch.nn.Sequential(rt.AnalogConv2d(1, 3, 3, rpu_config=cfg, seed=seed), torch.nn.Flatten(),
                               rt.AnalogLinear(3 * 6 * 6, 4, rpu_config=cfg, seed=seed + 1))


def run_steps(model, steps, seed):
    opt = rt.AnalogSGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = torch.from_numpy(rng.standard_normal((5, 1, 8, 8)).astype(np.float32))
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    return model(torch.ones(2, 1, 8, 8)).detach()


def test_state_dict_round_trip_resumes_the_same_random_stream():
    model = noisy_model(10)
    run_steps(model, 3, seed=0)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    reference = run_steps(model, 4, seed=1)
    buffer.seek(0)
    resumed = noisy_model(99)       # other seeds: everything must come from the state dict
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert [layer.tile.seed for layer in (resumed[0], resumed[2])] == [10, 11]
    again = run_steps(resumed, 4, seed=1)
    assert torch.equal(again, reference)
    for a, b in ((model[0], resumed[0]), (model[2], resumed[2])):
        np.testing.assert_array_equal(a.tile.get_weights(), b.tile.get_weights())
    # The stream really is noisy: a different history gives other outputs.
    assert not torch.equal(run_steps(noisy_model(10), 7, seed=1), reference)


def test_state_dict_of_inference_tiles_and_tile_arrays():
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=20))
    layer = rt.AnalogLinear(50, 6, rpu_config=cfg, seed=5)
    assert isinstance(layer.tile, rpu.TileArray)
    layer.tile.program_weights()
    layer.tile.drift_weights(100.0)
    copy = rt.AnalogLinear(50, 6, rpu_config=cfg, seed=6)
    copy.load_state_dict(layer.state_dict())
    x = torch.rand(7, 50)
    layer.eval(), copy.eval()
    with torch.no_grad():
        assert torch.equal(layer(x), copy(x))


def test_deepcopy_gives_an_independent_twin():
    model = noisy_model(3)
    twin = copy.deepcopy(model)
    assert twin[0].tile is not model[0].tile and twin[0].analog_ctx.analog_layer is twin[0]
    assert torch.equal(run_steps(twin, 2, seed=0), run_steps(model, 2, seed=0))
    run_steps(twin, 1, seed=1)
    assert not np.array_equal(twin[2].tile.get_weights(), model[2].tile.get_weights())


def test_load_state_dict_rejects_mismatch_and_garbage():
    layer = rt.AnalogLinear(5, 3, seed=1)
    with pytest.raises(RuntimeError, match="analog_tile_state"):
        layer.load_state_dict(rt.AnalogLinear(5, 4, seed=1).state_dict())
    bad = layer.state_dict()
    bad[rt.STATE_KEY] = torch.zeros(10, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="not a readable rpu tile"):
        layer.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="Missing key"):
        layer.load_state_dict({"analog_ctx": torch.zeros(())})


def test_serialization_bytes_round_trip():
    tile = rpu.AnalogTile(4, 3, SingleRPUConfig(device=ConstantStepDevice()), seed=3)
    tile.update(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    data = rpu.serialization.to_bytes(tile)
    for form in (data, np.frombuffer(data, np.uint8)):
        back = rpu.serialization.from_bytes(form)
        np.testing.assert_array_equal(back.get_weights(), tile.get_weights())
        assert back._op_counter == tile._op_counter
    with pytest.raises(rpu.TileFileError):
        rpu.serialization.from_bytes(data[:50])
    with pytest.raises(TypeError, match="data must be bytes"):
        rpu.serialization.from_bytes(np.zeros(3, np.float32))


def test_zero_copy_conversion_and_recorded_inputs():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    a = rt.to_array(t)
    assert isinstance(a, np.ndarray) and a.ctypes.data == t.data_ptr()
    back = rt.from_array(a)
    assert back.data_ptr() == t.data_ptr()
    layer = rt.AnalogLinear(4, 2, seed=1)
    x = torch.rand(3, 4, requires_grad=True)
    layer(x).sum().backward()
    assert layer._pairs[0][0].ctypes.data == x.data_ptr()


def test_bad_input_raises():
    layer = rt.AnalogLinear(4, 2, seed=1)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        layer(torch.ones(3, 5))
    with pytest.raises(ValueError, match="groups must be 1"):
        rt.AnalogConv2d(2, 2, 3, groups=2)
    conv = rt.AnalogConv2d(2, 3, 3, seed=1)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2, H, W\)"):
        conv(torch.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="bias must be given"):
        layer.set_weights(torch.ones(2, 4))
    # a (4, 2) weight was reshaped into the (2, 4) tile and taken, scrambled
    before = layer.get_weights()[0]
    with pytest.raises(ValueError, match=r"weight must have shape \(2, 4\), got \(4, 2\)"):
        layer.set_weights(torch.ones(4, 2), torch.zeros(2))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\), got \(3,\)"):
        layer.set_weights(torch.ones(2, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="bias must be None"):
        rt.AnalogLinear(4, 2, bias=False, seed=1).set_weights(torch.ones(2, 4), torch.zeros(2))
    assert torch.equal(layer.get_weights()[0], before)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\), got \(\)"):
        layer(torch.tensor(1.0))  # (was an IndexError)
    with pytest.raises(TypeError, match="rpu_config"):
        rt.AnalogLinear(4, 2, rpu_config=object())
    x = torch.rand(3, 4, requires_grad=True)
    h = x * 1.0
    y = layer(h)
    h.add_(1.0)         # would change the recorded input of the update
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_convert_a_single_layer_and_keep_the_original():
    digital = torch.nn.Linear(5, 2)
    layer = rt.convert_to_analog(digital, ideal_config(), seed=1)
    assert isinstance(layer, rt.AnalogLinear)
    w, b = layer.get_weights()
    assert torch.allclose(w, digital.weight) and torch.allclose(b, digital.bias)
    model = torch.nn.Sequential(torch.nn.Linear(5, 2))
    converted = rt.convert_to_analog(model, seed=1)
    assert type(model[0]) is torch.nn.Linear and isinstance(converted[0], rt.AnalogLinear)
    assert rt.convert_to_analog(model, seed=1, inplace=True) is model
    assert isinstance(model[0], rt.AnalogLinear)


def test_unbatched_conv_and_floating_point_config():
    conv = rt.AnalogConv2d(2, 3, 3, padding=1, rpu_config=FloatingPointRPUConfig(), seed=1)
    assert isinstance(conv.tile, rpu.FloatingPointTile)
    x = torch.rand(2, 5, 5)
    w, b = conv.get_weights()
    with torch.no_grad():
        assert torch.allclose(conv(x), torch.nn.functional.conv2d(x[None], w, b, padding=1)[0],
                              atol=1e-6)


@pytest.mark.parametrize("padding, kernel_size, dilation", [
    ("same", 3, 1), ("same", 4, 1), ("same", (2, 5), (3, 1)), ("valid", (3, 2), 2)])
def test_string_padding_matches_nn_conv2d(padding, kernel_size, dilation):
    # an even kernel or an odd dilated extent pads one more zero after than before ("same")
    digital = torch.nn.Conv2d(2, 3, kernel_size, padding=padding, dilation=dilation).double()
    conv = rt.AnalogConv2d.from_digital(digital, FloatingPointRPUConfig(), seed=1)
    assert conv.padding == (padding if padding == "same" else (0, 0))
    x = torch.rand(2, 2, 7, 8, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    y, y_ref = conv(x), digital(x_ref)
    assert y.shape == y_ref.shape
    assert torch.allclose(y, y_ref, atol=1e-12)
    grad = torch.rand_like(y)
    y.backward(grad)
    y_ref.backward(grad)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(padding="full"), r"padding must be 'valid', 'same', an int >= 0 or a pair of them, "
                           r"got 'full'"),
    (dict(padding="same", stride=2), r"padding='same' needs stride 1"),
    (dict(padding=-1), r"padding must be an int >= 0 or a pair of them, got -1"),
    (dict(stride=0), r"stride must be an int >= 1 or a pair of them, got 0"),
    (dict(dilation=(1, 0)), r"dilation must be an int >= 1 or a pair of them, got \(1, 0\)"),
    (dict(kernel_size=(3, 3, 3)), r"kernel_size must be an int >= 1 or a pair of them"),
    (dict(kernel_size=2.5), r"kernel_size must be an int >= 1 or a pair of them, got 2.5"),
    (dict(in_channels=0), r"in_channels must be an int >= 1, got 0"),
    (dict(out_channels=(2, 2)), r"out_channels must be an int >= 1, got \(2, 2\)"),
])
def test_conv_geometry_is_checked_at_construction(kwargs, message):
    # (these used to build and then fail inside the first forward, with a ZeroDivisionError,
    # a TypeError about adding 'str' to 'int' or a reshape error)
    args = dict(in_channels=2, out_channels=3, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        rt.AnalogConv2d(**args)
    with pytest.raises(ValueError, match=r"in_features must be an int >= 1, got True"):
        rt.AnalogLinear(True, 3)


def test_conv_takes_aihwkit_positional_arguments_and_padding_mode():
    cfg = FloatingPointRPUConfig()
    # aihwkit 1.1.0's order: ..., groups, bias, padding_mode, rpu_config
    conv = rt.AnalogConv2d(2, 3, 3, 1, 1, 1, 1, True, "zeros", cfg, seed=1)
    assert isinstance(conv.tile, rpu.FloatingPointTile) and conv.padding == (1, 1)
    with pytest.raises(ValueError, match=r"padding_mode must be 'zeros' .* got 'reflect'"):
        rt.AnalogConv2d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"padding_mode must be 'zeros' .* got 'circular'"):
        rt.AnalogConv2d.from_digital(torch.nn.Conv2d(2, 3, 3, padding_mode="circular"))


@pytest.mark.parametrize("max_in, max_out, array", [
    (0, 0, False), (0, 512, True), (512, 0, True), (512, 512, False), (3, 2, False),
    (2, 512, True), (512, 1, True)])
def test_layer_tile_class_follows_aihwkit(max_in, max_out, array):
    # aihwkit 1.1.0 (MappableRPU.get_default_tile_module_class): a TileModuleArray unless both
    # limits are 0, whenever one limit is below the layer's size -- a 0 counts as a limit of 0
    # there; the array's bias is always digital, even with digital_bias=False
    cfg = InferenceRPUConfig(mapping=MappingParameter(digital_bias=False, max_input_size=max_in,
                                                      max_output_size=max_out))
    layer = rt.AnalogLinear(3, 2, rpu_config=cfg, seed=1)
    assert isinstance(layer.tile, rpu.TileArray) == array
    assert layer.tile.bias
    # a single tile keeps the bias as its analog column (digital_bias=False), as in aihwkit
    assert array or layer.tile.analog_bias


def test_conv_input_smaller_than_the_kernel_is_refused():
    conv = rt.AnalogConv2d(1, 2, 5, dilation=2, seed=1)
    with pytest.raises(ValueError, match=r"x of spatial size \(6, 9\) is smaller than the kernel"):
        conv(torch.ones(1, 1, 6, 9))
    assert conv._pairs == []


AIHWKIT_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs import SingleRPUConfig, ConstantStepDevice

data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
torch.manual_seed(spec["seed"])
cfg = SingleRPUConfig(device=ConstantStepDevice())
l1, l2 = AnalogLinear(64, 32, rpu_config=cfg), AnalogLinear(32, 10, rpu_config=cfg)
l1.set_weights(torch.from_numpy(data["w1"]), torch.from_numpy(data["b1"]))
l2.set_weights(torch.from_numpy(data["w2"]), torch.from_numpy(data["b2"]))
model = torch.nn.Sequential(l1, torch.nn.Sigmoid(), l2)
opt = AnalogSGD(model.parameters(), lr=spec["lr"])
opt.regroup_param_groups(model)
x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
losses = []
for idx in data["batches"]:
    idx = torch.from_numpy(idx)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
    loss.backward()
    opt.step()
    losses.append(loss.item())
np.savez(sys.argv[2], losses=np.array(losses))
"""


@pytest.mark.skipif(not __import__("os").environ.get("AIHWKIT_PYTHON"),
                    reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_same_network_in_aihwkit_and_rpu_has_comparable_loss_curves():
    from aihwkit_runner import run_worker
    (x, y), _ = split_digits()
    rng = np.random.default_rng(7)
    arrays = {"w1": rng.uniform(-1, 1, (32, 64)) / 8, "b1": rng.uniform(-1, 1, 32) / 8,
              "w2": rng.uniform(-1, 1, (10, 32)) / np.sqrt(32), "b2": rng.uniform(-1, 1, 10) / np.sqrt(32)}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    batches = np.concatenate([rng.permutation(1400).reshape(-1, 10) for _ in range(2)])
    lr = 0.5
    theirs = run_worker(AIHWKIT_WORKER, {"seed": 1, "lr": lr},
                        dict(arrays, x=x.numpy(), y=y.numpy(), batches=batches))["losses"]
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    model = torch.nn.Sequential(rt.AnalogLinear(64, 32, rpu_config=cfg, seed=1), torch.nn.Sigmoid(),
                                rt.AnalogLinear(32, 10, rpu_config=cfg, seed=2))
    model[0].set_weights(torch.from_numpy(arrays["w1"]), torch.from_numpy(arrays["b1"]))
    model[2].set_weights(torch.from_numpy(arrays["w2"]), torch.from_numpy(arrays["b2"]))
    opt = rt.AnalogSGD(model.parameters(), lr=lr)
    ours = []
    for idx in torch.from_numpy(batches):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        ours.append(loss.item())
    # Mean loss over blocks of 20 steps: the stochastic pulses differ, the curves must not.
    ours, theirs = np.asarray(ours).reshape(-1, 20).mean(1), np.asarray(theirs).reshape(-1, 20).mean(1)
    assert theirs[-1] < 0.5 * theirs[0] and ours[-1] < 0.5 * ours[0]
    np.testing.assert_allclose(ours, theirs, rtol=0.1, atol=0.02)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_train_as_float32(dtype):
    """float16 and bfloat16 (which NumPy cannot hold: it failed in DLPack) go over as float32:
    the same forward, input gradient and update, bit for bit, as the float32 values of the same
    inputs on a twin layer (a noisy pulsed device: the same seed, the same draws)."""
    dt = getattr(torch, dtype)
    x = torch.rand(5, 4).to(dt)
    layers, outs, grads = [], [], []
    for xin in (x, x.float()):
        layer = rt.AnalogLinear(4, 3, rpu_config=SingleRPUConfig(), seed=1)
        xin = xin.clone().requires_grad_(True)
        y = layer(xin)
        assert y.dtype == torch.float32
        y.sum().backward()
        rt.AnalogSGD(layer.parameters(), lr=0.1).step()
        assert xin.grad.dtype == xin.dtype
        layers.append(layer)
        outs.append(y.detach())
        grads.append(xin.grad)
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(grads[0], grads[1].to(dt))
    assert torch.equal(layers[0].get_weights()[0], layers[1].get_weights()[0])
    assert not torch.equal(layers[0].get_weights()[0], rt.AnalogLinear(4, 3, seed=1).get_weights()[0])
    w, b = layers[1].get_weights()
    layers[0].set_weights(w.to(dt), b.to(dt))  # bfloat16 weights are set as their float32 values
    assert torch.equal(layers[0].get_weights()[0], w.to(dt).float())


def masked_input_gradient(w, x, d, in_sizes, bound, inp_bound):
    """Independent reference of aihwkit's output-bound mask in an (array of) AnalogTile
    module(s) with noise-free IO and a perfect backward: tile (i, o) zeroes d_o where its own
    output |clip(x_i) W_oi^T| reaches 0.999 * bound, before its backward."""
    edges = np.cumsum([0] + in_sizes)
    dx = np.zeros_like(x)
    for i in range(len(in_sizes)):
        sl = slice(edges[i], edges[i + 1])
        y_i = np.clip(x[:, sl], -inp_bound, inp_bound) @ w[:, sl].T
        dx[:, sl] = np.where(np.abs(y_i) >= 0.999 * bound, 0, d) @ w[:, sl]
    return dx


# The layer's config, one text run with aihwkit's names in its worker and with rpu's here.
MASK_CONFIG = r"""
def mask_config(max_in, perfect):
    # without is_perfect: a noise-free DAC and ADC that only clip at the bound
    io = dict(out_noise=0.0, inp_res=-1, out_res=-1, bound_management=BoundManagementType.NONE,
              noise_management=NoiseManagementType.NONE)
    return SingleRPUConfig(device=IdealDevice(),
                           forward=IOParameters(is_perfect=perfect, out_bound=1.0, **io),
                           backward=IOParameters(is_perfect=True),
                           mapping=MappingParameter(max_input_size=max_in, max_output_size=0))
"""

MASK_WORKER = r"""
import json, sys
import numpy as np
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import IdealDevice
from aihwkit.simulator.parameters import IOParameters, MappingParameter
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
%s
data = np.load(sys.argv[1])
spec = json.loads(str(data["spec"]))
out = {}
for k, (max_in, perfect) in enumerate(spec["cases"]):
    layer = AnalogLinear(7, 3, bias=False, rpu_config=mask_config(max_in, perfect))
    layer.set_weights(torch.from_numpy(data["w"]))
    x = torch.from_numpy(data["x"]).requires_grad_(True)
    (layer(x) * torch.from_numpy(data["d"])).sum().backward()
    out[f"dx{k}"] = x.grad.numpy()
np.savez(sys.argv[2], **out)
""" % MASK_CONFIG

MASK_CASES = [(0, True), (0, False), (3, True)]


def mask_data():
    rng = np.random.default_rng(5)
    return {"w": rng.uniform(-0.6, 0.6, (3, 7)).astype(np.float32),
            "x": (3 * rng.uniform(-1, 1, (6, 7))).astype(np.float32),
            "d": rng.uniform(-1, 1, (6, 3)).astype(np.float32)}


def mask_layer(max_in, perfect, w):
    names = dict(BoundManagementType=BoundManagementType, NoiseManagementType=NoiseManagementType,
                 SingleRPUConfig=SingleRPUConfig, IdealDevice=IdealDevice,
                 IOParameters=IOParameters, MappingParameter=MappingParameter)
    exec(MASK_CONFIG, names)
    layer = rt.AnalogLinear(7, 3, bias=False, rpu_config=names["mask_config"](max_in, perfect),
                            seed=1)
    layer.set_weights(torch.from_numpy(w))
    return layer


@pytest.mark.parametrize("max_in, perfect", MASK_CASES)
def test_analog_tile_layers_mask_the_gradient_of_outputs_at_the_bound(max_in, perfect):
    # aihwkit's AnalogTile module (alone or in an array) zeroes the input gradient of outputs
    # that reach the output bound, also with is_perfect; the update still gets d unmasked.
    data = mask_data()
    layer = mask_layer(max_in, perfect, data["w"])
    assert isinstance(layer.tile, rpu.TileArray) == (max_in > 0)
    x = torch.from_numpy(data["x"]).requires_grad_(True)
    (layer(x) * torch.from_numpy(data["d"])).sum().backward()
    w, xs, d = (data[k].astype(np.float64) for k in ("w", "x", "d"))
    in_sizes = layer.tile.in_sizes if max_in else [7]
    expected = masked_input_gradient(w, xs, d, in_sizes, 1.0, np.inf if perfect else 1.0)
    assert not np.allclose(expected, d @ w)          # some outputs are at the bound
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer._pairs[0][1], data["d"])


@pytest.mark.skipif(not __import__("os").environ.get("AIHWKIT_PYTHON"),
                    reason="AIHWKIT_PYTHON is not set (aihwkit not available)")
def test_output_bound_mask_matches_aihwkit():
    from aihwkit_runner import run_worker

    data = mask_data()
    theirs = run_worker(MASK_WORKER, {"cases": MASK_CASES}, data, prefix="rpu-aihwkit-mask-")
    for k, (max_in, perfect) in enumerate(MASK_CASES):
        layer = mask_layer(max_in, perfect, data["w"])
        x = torch.from_numpy(data["x"]).requires_grad_(True)
        (layer(x) * torch.from_numpy(data["d"])).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), theirs[f"dx{k}"], rtol=1e-5, atol=1e-6)
