"""Unit cells, transfer compounds and mixed precision on the GPU backend give the CPU core's
results (issue 9): the update with its transfers and refreshes, forward/backward, hidden
parameters, save/load and ``tile.to``.

Every test runs on the ``gpu_runtime`` fixture of tests/cuda_host.py (the host emulation of the
CUDA kernels everywhere, CuPy on a CUDA device where there is one). A compound's schedule (which
samples transfer, which columns, the chopper signs, per-sample learning rates) is made on the
host on both backends; the pulsed updates, the transfer reads (one-hot products: one non-zero
term per sum, so exact in any summation order) and the buffer kernels run where the tile lives.
On the host emulation the kernels do the core's arithmetic in the core's order, so weights and
every hidden parameter must be bit-equal; on a real GPU the device rules' transcendental
functions may differ in the last bits, so there the comparison has a tolerance.
"""
import numpy as np
import pytest

import rpu
from cuda_host import HostRuntime, gpu_runtime, to_host  # noqa: F401  (gpu_runtime: a fixture)
from rpu import _core
from rpu.config import (BufferedTransferCompound, ConstantStepDevice, IOParameters,
                        OneSidedUnitCell, PulseType, ReferenceUnitCell, SoftBoundsDevice,
                        UnitCellRPUConfig, UpdateParameters, VectorUnitCell,
                        VectorUnitCellUpdatePolicy, build_config)
from rpu.gpu import CudaBackend

D_SIZE, X_SIZE, BATCH = 6, 9, 5


@pytest.fixture
def backend(gpu_runtime):  # noqa: F811
    return CudaBackend(gpu_runtime)


def _exact(backend):
    """Whether results must be bit-equal (host emulation) rather than float-close (a GPU)."""
    return isinstance(backend.runtime, HostRuntime)


def _assert_same(backend, got, want, what=""):
    got = to_host(got)
    if _exact(backend):
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)


# ----- the configurations: every algorithm of build_config and the unit cells ------------------
def _algorithm(name, **cell_fields):
    def make():
        cfg = build_config(name, SoftBoundsDevice)
        for field, value in cell_fields.items():
            setattr(cfg.device, field, value)
        return cfg
    return make


def _sgd2():
    return build_config("sgd", SoftBoundsDevice, n_devices=2)


def _vector_all():
    return UnitCellRPUConfig(device=VectorUnitCell(
        unit_cell_devices=[ConstantStepDevice(), SoftBoundsDevice(dw_min_std=0.3)],
        update_policy=VectorUnitCellUpdatePolicy.ALL))


def _reference():
    return UnitCellRPUConfig(device=ReferenceUnitCell(unit_cell_devices=[SoftBoundsDevice()]))


def _one_sided():
    # a refresh after every 3rd vector update, inside the batches; thresholds low enough that
    # pairs are re-written
    dev = ConstantStepDevice(dw_min=0.01, w_max=0.3, w_min=-0.05, reset_std=0.0)
    return UnitCellRPUConfig(
        device=OneSidedUnitCell(
            unit_cell_devices=[dev], refresh_every=3, units_in_mbatch=False,
            refresh_upper_thres=0.3, refresh_lower_thres=0.05,
            refresh_update=UpdateParameters(pulse_type=PulseType.MEAN_COUNT, desired_bl=40,
                                            update_bl_management=False,
                                            update_management=False)),
        update=UpdateParameters(desired_bl=5))


def _buffered():
    return UnitCellRPUConfig(device=BufferedTransferCompound(
        unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()], fast_lr=0.05,
        transfer_every=1.0, units_in_mbatch=False, transfer_lr=40.0, thres_scale=0.5,
        transfer_forward=IOParameters(noise_management="None", bound_management="None")))


def _NOISY_READ():
    # a transfer read with output noise and no quantisation: A's columns are a few dw_min, below
    # the default ADC step, and would read as 0
    return IOParameters(inp_res=-1, out_res=-1, noise_management="None",
                        bound_management="None")


CONFIGS = {
    "sgd-2-devices": _sgd2,
    "vector-all": _vector_all,
    "reference": _reference,
    "one-sided-refresh": _one_sided,
    "mp": _algorithm("mp", transfer_every=1, n_rows_per_transfer=4, n_x_bins=15, n_d_bins=15,
                     stoc_round_x=True, stoc_round_d=True),
    "mp-random-row": _algorithm("mp", transfer_every=1, n_rows_per_transfer=3, random_row=True),
    "tiki-taka": _algorithm("tiki-taka", transfer_every=2.0, units_in_mbatch=False,
                            transfer_lr=5.0),
    "ttv2": _algorithm("ttv2", transfer_every=2.0, transfer_forward=_NOISY_READ()),
    "c-ttv2": _algorithm("c-ttv2", transfer_every=1.0, in_chop_prob=0.3, out_chop_prob=0.2,
                         transfer_forward=_NOISY_READ()),
    # AGAD writes once the chopper period (2 sweeps at in_chop_prob 0.5) has passed: 7 batches
    "agad": _algorithm("agad", transfer_every=1.0, in_chop_prob=0.5,
                       transfer_forward=_NOISY_READ()),
    "buffered": _buffered,
    # several reads per transfer (wrapping around the columns), and row transfer
    "tiki-taka-3-reads": _algorithm("tiki-taka", transfer_every=2.0, units_in_mbatch=False,
                                    transfer_lr=5.0, n_reads_per_transfer=3),
    "tiki-taka-rows": _algorithm("tiki-taka", transfer_every=1.0, units_in_mbatch=False,
                                 transfer_lr=5.0, transfer_columns=False, n_reads_per_transfer=2,
                                 transfer_forward=_NOISY_READ()),
    "buffered-rows": lambda: _buffered_rows(),
    "tiki-taka-reset": _algorithm("tiki-taka", transfer_every=1.0, units_in_mbatch=False,
                                  transfer_lr=5.0, with_reset_prob=0.3),
    "tiki-taka-3-devices": lambda: _three_devices(),
    "one-sided-copy-inverted": lambda: _one_sided_inverted(),
    # the PCM preset's shape: a refreshed one-sided pair behind the digital accumulator
    "mp-one-sided": lambda: _mp_one_sided(),
    "c-ttv2-rows": _algorithm("c-ttv2", transfer_every=1.0, in_chop_prob=0.3, out_chop_prob=0.2,
                              transfer_forward=_NOISY_READ(), transfer_columns=False),
    "agad-rows": _algorithm("agad", transfer_every=1.0, in_chop_prob=0.5,
                            transfer_forward=_NOISY_READ(), transfer_columns=False),
}


def _mp_one_sided():
    from rpu.config import DigitalRankUpdateRPUConfig, MixedPrecisionCompound
    return DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(
        device=_one_sided().device, transfer_every=1, n_rows_per_transfer=4))


def _one_sided_inverted():
    cfg = _one_sided()
    cfg.device.copy_inverted = True
    cfg.device.unit_cell_devices = [SoftBoundsDevice(w_max=0.3, w_min=-0.05, up_down=0.2)]
    return cfg


def _three_devices():
    # device 1 transfers every 2 of device 0's transfers, inside the batches
    cfg = _algorithm("tiki-taka", transfer_every_vec=[1.0, 2.0, 0.0], units_in_mbatch=False,
                     transfer_lr_vec=[5.0, 20.0, 1.0], gamma=0.3)()
    cfg.device.unit_cell_devices = [SoftBoundsDevice()] * 3
    return cfg


def _buffered_rows():
    cfg = _buffered()
    cfg.device.transfer_columns = False
    cfg.device.n_reads_per_transfer = 2
    return cfg


_BOTH = ("hidden_weights_0", "hidden_weights_1")
MOVES = {"sgd-2-devices": _BOTH, "vector-all": _BOTH, "reference": ("hidden_weights_0",),
         "one-sided-refresh": _BOTH, "mp": ("hidden_weights_chi",),
         "mp-random-row": ("hidden_weights_chi",), "tiki-taka": _BOTH,
         "ttv2": _BOTH + ("buffered_FP_weight_0",), "c-ttv2": _BOTH + ("buffered_FP_weight_0",),
         "agad": _BOTH + ("buffered_FP_weight", "running_mean_weight", "past_mean_weight"),
         "buffered": _BOTH + ("buffered_FP_weight_0",), "tiki-taka-3-reads": _BOTH,
         "tiki-taka-rows": _BOTH, "buffered-rows": _BOTH + ("buffered_FP_weight_0",),
         "tiki-taka-reset": _BOTH, "tiki-taka-3-devices": _BOTH + ("hidden_weights_2",),
         "one-sided-copy-inverted": _BOTH, "mp-one-sided": _BOTH + ("hidden_weights_chi",),
         "c-ttv2-rows": _BOTH + ("buffered_FP_weight_0",),
         "agad-rows": _BOTH + ("buffered_FP_weight", "running_mean_weight", "past_mean_weight")}


def _data(step, dtype=np.float32, m=BATCH):
    rng = np.random.default_rng(100 + step)
    # d with a bias per row: the rows drift one way, buffers fill, one-sided pairs saturate
    return (rng.uniform(-1, 1, (m, X_SIZE)).astype(dtype),
            (rng.uniform(-0.5, 0.5, (m, D_SIZE)) + np.linspace(-0.6, 0.6, D_SIZE)).astype(dtype))


def _pair(backend, name, dtype=np.float32, seed=7):
    cfg = CONFIGS[name]()
    tiles = (rpu.AnalogTile(D_SIZE, X_SIZE, cfg, seed=seed, dtype=dtype, backend="cpu"),
             rpu.AnalogTile(D_SIZE, X_SIZE, cfg, seed=seed, dtype=dtype, backend=backend))
    for tile in tiles:
        tile.set_learning_rate(0.1)
    return tiles


def _train(tiles, steps, start=0, dtype=np.float32):
    for step in range(start, start + steps):
        x, d = _data(step, dtype)
        for tile in tiles:
            xp = tile._xp
            tile.update(xp.asarray(x), xp.asarray(d))


def _assert_same_state(backend, gpu, cpu):
    _assert_same(backend, gpu.get_weights(), cpu.get_weights(), "weights")
    hg, hc = gpu.get_hidden_parameters(), cpu.get_hidden_parameters()
    assert list(hg) == list(hc)
    for name in hc:
        _assert_same(backend, hg[name], hc[name], name)


def _did_its_job(tile):
    """The schedule ran: transfers, refreshes or sub-device choices happened."""
    dev = tile._devices
    if hasattr(dev, "n_refresh"):
        return dev.n_refresh > 0
    if hasattr(dev, "n_transfers"):
        return dev.n_transfers > 0
    return True


# ----- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
def test_update_with_transfers_equals_the_cpu_core(backend, name):
    cpu, gpu = _pair(backend, name)
    assert gpu.backend_name == "cuda" and isinstance(gpu.get_weights(), backend.xp.ndarray)
    _assert_same_state(backend, gpu, cpu)  # construction
    before = cpu.get_weights(), cpu.get_hidden_parameters()
    _train((cpu, gpu), 7 if name.startswith("agad") else 4)
    assert _did_its_job(cpu) and _did_its_job(gpu)
    # what must have moved: the sub-devices, the slow device of a transfer (so transfers
    # wrote), the buffers, the visible weights
    hc = cpu.get_hidden_parameters()
    assert not np.array_equal(cpu.get_weights(), before[0])
    for key in MOVES[name]:
        assert not np.array_equal(hc[key], before[1][key]), f"{key} never moved"
    _assert_same_state(backend, gpu, cpu)
    # the host-side schedule state agrees too
    assert cpu._devices.counters().keys() == gpu._devices.counters().keys()
    for key, value in cpu._devices.counters().items():
        np.testing.assert_array_equal(to_host(gpu._devices.counters()[key]), value, err_msg=key)


@pytest.mark.parametrize("name", ["c-ttv2", "one-sided-refresh", "mp"])
def test_float64(backend, name):
    cpu, gpu = _pair(backend, name, dtype=np.float64)
    _train((cpu, gpu), 3, dtype=np.float64)
    _assert_same_state(backend, gpu, cpu)


@pytest.mark.parametrize("name", ["agad", "one-sided-refresh"])
def test_forward_and_backward(backend, name):
    cpu, gpu = _pair(backend, name)
    _train((cpu, gpu), 2)
    x, d = _data(50)
    for got, want in ((gpu.forward(backend.xp.asarray(x)), cpu.forward(x)),
                      (gpu.backward(backend.xp.asarray(d)), cpu.backward(d))):
        got = to_host(got)
        assert got.shape == want.shape
        # the GEMMs sum in different orders: an output on an ADC rounding edge may move a step
        assert np.mean(np.abs(got - want) > 1e-5) < 0.05
        np.testing.assert_allclose(got, want, atol=0.1)


@pytest.mark.parametrize("name", ["tiki-taka", "c-ttv2", "mp", "one-sided-refresh"])
def test_hidden_parameters_set_on_the_gpu(backend, name):
    cpu, gpu = _pair(backend, name)
    _train((cpu, gpu), 1)
    rng = np.random.default_rng(3)
    h = cpu.get_hidden_parameters()
    for key in h:
        if key.startswith(("hidden_weights", "buffered", "running", "past")):
            h[key] = rng.uniform(-0.2, 0.2, h[key].shape).astype(np.float32)
    cpu.set_hidden_parameters(h)
    gpu.set_hidden_parameters({k: backend.xp.asarray(v) for k, v in h.items()})
    _assert_same_state(backend, gpu, cpu)
    _train((cpu, gpu), 2, start=1)
    _assert_same_state(backend, gpu, cpu)


@pytest.mark.parametrize("name", ["c-ttv2", "agad", "one-sided-refresh", "mp",
                                  "tiki-taka-3-devices", "mp-one-sided"])
def test_to_cpu_and_back_continues_the_stream(backend, name):
    ref, moved = (rpu.AnalogTile(D_SIZE, X_SIZE, CONFIGS[name](), seed=7, backend="cpu")
                  for _ in range(2))
    for tile in (ref, moved):
        tile.set_learning_rate(0.1)
    _train((ref, moved), 1)
    moved.to(backend)
    _train((ref, moved), 2, start=1)
    moved.to("cpu")
    assert isinstance(moved.get_weights(), np.ndarray)
    assert all(isinstance(v, np.ndarray) for v in moved._devices.w)
    _train((ref, moved), 1, start=3)
    _assert_same_state(backend, moved, ref)


@pytest.mark.parametrize("name", ["agad", "one-sided-refresh", "buffered", "tiki-taka-3-devices",
                                  "c-ttv2-rows"])
def test_save_and_load(backend, name, tmp_path):
    cpu, gpu = _pair(backend, name)
    _train((cpu, gpu), 2)
    path = tmp_path / "tile.npz"
    rpu.save(gpu, path)
    on_cpu, on_gpu = rpu.load(path, backend="cpu"), rpu.load(path, backend=backend)
    assert on_gpu.backend_name == "cuda"
    _assert_same_state(backend, gpu, on_cpu)
    _train((cpu, on_cpu, on_gpu), 2, start=2)
    _assert_same_state(backend, on_gpu, on_cpu)
    _assert_same_state(backend, on_gpu, cpu)


@pytest.mark.parametrize("algorithm", ["sgd", "tiki-taka", "mp"])
def test_maintenance_of_the_sub_devices(backend, algorithm):
    dev = SoftBoundsDevice(lifetime=50.0, diffusion=0.01, reset_std=0.02)
    cfg = build_config(algorithm, dev, n_devices=2 if algorithm == "sgd" else 1)
    cpu, gpu = (rpu.AnalogTile(D_SIZE, X_SIZE, cfg, seed=9, backend=b) for b in ("cpu", backend))
    for tile in (cpu, gpu):
        tile.decay_weights(0.5)
        tile.diffuse_weights()
        tile.reset_columns(3, 2, reset_prob=0.5)
        tile.post_update_step()
    _assert_same_state(backend, gpu, cpu)


# ----- the buffer kernels against the core, on random inputs -------------------------------------
def _events(dtype, n_ev=11, d=5, x=4, seed=0):
    rng = np.random.default_rng(seed)
    reads = rng.uniform(-1, 1, (n_ev, d)).astype(dtype)
    cols = rng.integers(0, x, n_ev).astype(np.int32)  # columns repeat: events are sequential
    chop = np.where(rng.uniform(size=(n_ev, d)) < 0.3, -1, 1).astype(dtype)
    lr_scale = rng.uniform(0.5, 4.0, n_ev)
    H = rng.uniform(-2, 2, (d, x)).astype(dtype)
    return reads, cols, chop, lr_scale, H


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("forget_buffer", [0, 1])
def test_buffer_kernels_equal_the_core(backend, dtype, forget_buffer):
    xp = backend.xp
    reads, cols, chop, lr_scale, H = _events(dtype)
    # chopped (with and without buffer)
    for no_buffer in (0, 1):
        Hc, Hg = H.copy(), xp.asarray(H)
        want = _core.chopped_buffer(reads, cols, chop, lr_scale, Hc, 2, 0.3, forget_buffer,
                                    no_buffer, 1)
        got = backend.chopped_buffer(xp.asarray(reads), cols, chop, lr_scale, Hg, 2, 0.3,
                                     forget_buffer, no_buffer)
        assert np.abs(want).sum() > 0
        _assert_same(backend, got, want, "chopped counts")
        _assert_same(backend, Hg, Hc, "chopped buffer")
    # dynamic (AGAD)
    rng = np.random.default_rng(1)
    mu, past = (rng.uniform(-0.5, 0.5, H.shape).astype(dtype) for _ in range(2))
    switched = (rng.uniform(size=cols.size) < 0.4).astype(np.int8)
    host = [H.copy(), mu.copy(), past.copy()]
    dev = [xp.asarray(a) for a in (H, mu, past)]
    want = _core.dynamic_buffer(reads, cols, chop, lr_scale, switched, *host, 3, 0.2,
                                forget_buffer, 1.5, 0.25, 1)
    got = backend.dynamic_buffer(xp.asarray(reads), xp.asarray(cols), xp.asarray(chop),
                                 xp.asarray(lr_scale), xp.asarray(switched), *dev, 3, 0.2,
                                 forget_buffer, 1.5, 0.25)
    _assert_same(backend, got, want, "dynamic counts")
    for g, w, what in zip(dev, host, ("H", "mu", "mu_past")):
        _assert_same(backend, g, w, what)
    # buffered (weight units)
    Hc, Hg = H.copy() * 0.01, xp.asarray(H * 0.01)
    want = _core.buffered_buffer(reads, cols, 0.02, Hc, 0.004, 3, 0.1, forget_buffer, 1)
    got = backend.buffered_buffer(xp.asarray(reads), cols, 0.02, Hg, 0.004, 3, 0.1, forget_buffer)
    assert np.abs(want).sum() > 0
    _assert_same(backend, got, want, "buffered counts")
    _assert_same(backend, Hg, Hc, "buffered buffer")


def test_refresh_select_equals_the_core(backend):
    rng = np.random.default_rng(2)
    P, M = (rng.uniform(0, 1.2, (7, 5)).astype(np.float32) for _ in range(2))
    want = np.empty((7, 5), dtype=np.int8)
    _core.refresh_select(P, M, 1.2, 0.9, 0.6, 0.3, want, 1)
    got = backend.xp.empty((7, 5), dtype=np.int8)
    backend.refresh_select(backend.xp.asarray(P), backend.xp.asarray(M), 1.2, 0.9, 0.6, 0.3, got)
    assert 0 < want.sum() < want.size
    np.testing.assert_array_equal(to_host(got), want)


def test_buffer_kernels_refuse_bad_arguments(backend):
    xp = backend.xp
    reads, cols, chop, lr_scale, H = _events(np.float32)
    with pytest.raises(ValueError, match="cols must have shape"):
        backend.chopped_buffer(xp.asarray(reads), cols[:3], chop, lr_scale, xp.asarray(H), 1,
                               0.0, 0, 0)
    with pytest.raises(ValueError, match="H must be a C-contiguous"):
        backend.buffered_buffer(xp.asarray(reads), cols, 0.1, xp.asarray(H.astype(np.float64)),
                                0.1, 1, 0.0, 0)
    with pytest.raises(ValueError, match="chop must have shape"):
        backend.chopped_buffer(xp.asarray(reads), cols, chop[:, :2], lr_scale, xp.asarray(H), 1,
                               0.0, 0, 0)
    with pytest.raises(ValueError, match="same shape"):
        backend.refresh_select(xp.asarray(H), xp.asarray(H[:, :2]), 1, 1, 0.5, 0.1,
                               xp.empty(H.shape, dtype=np.int8))


@pytest.mark.parametrize("name", ["tiki-taka", "mp", "one-sided-refresh"])
def test_pulse_type_none_compound_is_one_floating_point_device(backend, name):
    """A compound with PulseType.NONE is one floating-point device on either backend."""
    cfg = CONFIGS[name]()
    cfg.update.pulse_type = PulseType.NONE
    cpu = rpu.AnalogTile(D_SIZE, X_SIZE, cfg, seed=3, backend="cpu")
    gpu = rpu.AnalogTile(D_SIZE, X_SIZE, cfg, seed=3, backend=backend)
    assert gpu.get_hidden_parameter_names() == [] == cpu.get_hidden_parameter_names()
    _train((cpu, gpu), 3)
    _assert_same(backend, gpu.get_weights(), cpu.get_weights(), "weights")
