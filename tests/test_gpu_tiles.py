"""Tiles on the GPU backend give the CPU core's results (issue 9: dispatch, tile.to, equivalence).

Every test runs on the ``gpu_runtime`` fixture of tests/cuda_host.py: the host emulation of the
CUDA kernels everywhere, and CuPy on a CUDA device where there is one. On the host emulation the
kernels are compiled by the core's compiler with the core's flags, so the pulsed update -- the
same pulse trains, coincidences and noise draws -- must give the core's bits exactly; the
products differ from the core's by the GEMM's summation order only. On a real GPU, cuBLAS and the
device's arithmetic may differ in the last bits, so those comparisons use a tolerance there.
"""
import numpy as np
import pytest

import rpu
from cuda_host import (  # noqa: F401  (backend, gpu_runtime: fixtures)
    assert_same, backend, gpu_runtime, to_host)
from rpu.config import (ConstantStepDevice, FloatingPointRPUConfig, IdealDevice,
                        InferenceRPUConfig, IOParameters, LinearStepDevice, MappingParameter,
                        PulseType, SingleRPUConfig, SoftBoundsDevice, UpdateParameters,
                        WeightModifierParameter, WeightModifierType)
from rpu.gpu import CudaBackend


def _pair(backend, cls, *args, **kwargs):
    return cls(*args, backend="cpu", **kwargs), cls(*args, backend=backend, **kwargs)


def _data(m, n_in, n_out, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (m, n_in)).astype(dtype),
            (0.1 * rng.uniform(-1, 1, (m, n_out))).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_construction_draws_the_same_tile(backend, dtype):
    cfg = SingleRPUConfig(device=SoftBoundsDevice(dw_min_dtod=0.3, w_max_dtod=0.2))
    cpu, gpu = _pair(backend, rpu.AnalogTile, 9, 13, cfg, dtype=dtype, seed=11, bias=True)
    assert gpu.backend_name == "cuda" and cpu.backend_name == "cpu"
    np.testing.assert_array_equal(to_host(gpu.get_weights()), cpu.get_weights())
    hc, hg = cpu.get_hidden_parameters(), gpu.get_hidden_parameters()
    assert list(hc) == list(hg)
    for name in hc:
        np.testing.assert_array_equal(to_host(hg[name]), hc[name])


@pytest.mark.parametrize("device", [ConstantStepDevice(), SoftBoundsDevice(dw_min_std=0.3),
                                    LinearStepDevice(write_noise_std=0.5)],
                         ids=["constant-step", "soft-bounds", "linear-step-write-noise"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pulsed_update_equals_the_cpu_core(backend, device, dtype):
    cfg = SingleRPUConfig(device=device)
    cpu, gpu = _pair(backend, rpu.AnalogTile, 17, 23, cfg, dtype=dtype, seed=5)
    for tile in (cpu, gpu):
        tile.set_learning_rate(0.05)
    for step in range(3):
        x, d = _data(8, 23, 17, seed=step, dtype=dtype)
        cpu.update(x, d)
        gpu.update(backend.xp.asarray(x), backend.xp.asarray(d))
    assert np.abs(cpu.get_weights()).sum() > 0
    assert_same(backend, gpu.get_weights(), cpu.get_weights())


@pytest.mark.parametrize("io", [IOParameters(), IOParameters(is_perfect=True),
                                IOParameters(inp_res=-1, out_res=-1, out_noise=0.0)],
                         ids=["default", "perfect", "no-quantisation"])
def test_forward_and_backward_match_the_cpu_core(backend, io):
    cfg = SingleRPUConfig(device=ConstantStepDevice(), forward=io, backward=io)
    cpu, gpu = _pair(backend, rpu.AnalogTile, 16, 24, cfg, seed=3, bias=True)
    x, d = _data(10, 24, 16, seed=1)
    y_cpu, y_gpu = cpu.forward(x), to_host(gpu.forward(x))
    z_cpu, z_gpu = cpu.backward(d), to_host(gpu.backward(d))
    assert y_gpu.shape == y_cpu.shape and z_gpu.shape == z_cpu.shape
    # the GEMMs sum in different orders; with quantisation, an output on a rounding edge may
    # land one ADC step away (out_res = 1/254 of the bound 12 is 0.048)
    step = 0.05 if io.out_res > 0 and not io.is_perfect else 1e-5
    for got, want in ((y_gpu, y_cpu), (z_gpu, z_cpu)):
        assert np.mean(np.abs(got - want) > 1e-5) < 0.02
        np.testing.assert_allclose(got, want, atol=step)


def test_floating_point_tile(backend):
    cpu, gpu = _pair(backend, rpu.FloatingPointTile, 12, 7, FloatingPointRPUConfig(), seed=2)
    x, d = _data(5, 7, 12)
    np.testing.assert_allclose(to_host(gpu.forward(x)), cpu.forward(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_host(gpu.backward(d)), cpu.backward(d), rtol=1e-5, atol=1e-6)
    cpu.update(x, d)
    gpu.update(x, d)
    np.testing.assert_allclose(to_host(gpu.get_weights()), cpu.get_weights(), rtol=1e-5, atol=1e-6)


def test_exact_update_types(backend):
    for cfg in (SingleRPUConfig(device=IdealDevice()),
                SingleRPUConfig(device=ConstantStepDevice(),
                                update=UpdateParameters(pulse_type=PulseType.NONE_WITH_DEVICE))):
        cpu, gpu = _pair(backend, rpu.AnalogTile, 6, 9, cfg, seed=4)
        x, d = _data(4, 9, 6)
        for tile in (cpu, gpu):
            tile.set_learning_rate(2.0)  # big steps: the bounds clip
            tile.update(x, d)
        np.testing.assert_allclose(to_host(gpu.get_weights()), cpu.get_weights(), rtol=1e-6,
                                   atol=1e-7)


def test_maintenance_equals_the_cpu_core(backend):
    dev = SoftBoundsDevice(lifetime=50.0, diffusion=0.01, reset_std=0.02)
    cpu, gpu = _pair(backend, rpu.AnalogTile, 8, 10, SingleRPUConfig(device=dev), seed=9)
    for tile in (cpu, gpu):
        tile.decay_weights(0.5)
        tile.diffuse_weights()
        tile.reset_columns(3, 2, reset_prob=0.5)
    assert_same(backend, gpu.get_weights(), cpu.get_weights())


def test_to_moves_the_whole_state_and_the_stream_continues(backend):
    cfg = SingleRPUConfig(device=SoftBoundsDevice(dw_min_std=0.2))
    ref = rpu.AnalogTile(11, 14, cfg, seed=21, backend="cpu")
    moved = rpu.AnalogTile(11, 14, cfg, seed=21, backend="cpu")
    for step in range(4):
        x, d = _data(6, 14, 11, seed=10 + step)
        if step == 1:
            moved.to(backend)
            assert moved.backend_name == "cuda"
        if step == 3:
            moved.to("cpu")
            assert moved.backend_name == "cpu"
        ref.update(x, d)
        moved.update(x, d)
    assert isinstance(moved.get_weights(), np.ndarray)
    assert_same(backend, moved.get_weights(), ref.get_weights())
    assert moved._op_counter == ref._op_counter


def test_save_and_load_of_a_gpu_tile(backend, tmp_path):
    cfg = SingleRPUConfig(device=ConstantStepDevice(dw_min_dtod=0.2))
    gpu = rpu.AnalogTile(5, 6, cfg, seed=8, backend=backend)
    gpu.update(*_data(3, 6, 5))
    path = tmp_path / "gpu_tile.npz"
    rpu.save(gpu, path)
    back = rpu.load(path, backend="cpu")
    np.testing.assert_array_equal(back.get_weights(), to_host(gpu.get_weights()))
    again = rpu.load(path, backend=backend)
    assert again.backend_name == "cuda"
    x, d = _data(4, 6, 5, seed=3)
    back.update(x, d)
    again.update(x, d)
    assert_same(backend, again.get_weights(), back.get_weights())


def test_bad_input_is_refused_and_the_tile_stays(backend):
    gpu = rpu.AnalogTile(4, 5, seed=1, backend=backend)
    before = to_host(gpu.get_weights())
    x, d = _data(2, 5, 4)
    x[0, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        gpu.update(x, d)
    with pytest.raises(ValueError, match=r"x must have shape"):
        gpu.update(x[:, :4], d[:, :3])
    np.testing.assert_array_equal(to_host(gpu.get_weights()), before)


def test_backend_resolution_without_a_gpu(monkeypatch):
    monkeypatch.setenv("RPU_DISABLE_GPU", "1")
    assert rpu.AnalogTile(3, 3).backend_name == "cpu"  # auto
    assert rpu.InferenceTile(3, 3).backend_name == "cpu"  # auto
    # an explicit GPU backend is used even so (the tile then runs there: test_gpu_inference.py)
    assert rpu.InferenceTile(3, 3, backend=CudaBackend(_any_runtime())).backend_name == "cuda"
    with pytest.raises(ValueError, match="backend must be one of"):
        rpu.AnalogTile(3, 3, backend="gpu")


def _any_runtime():
    from cuda_host import host_runtime
    return host_runtime()


def test_cuda_without_cupy_says_how_to_install(monkeypatch):
    import sys

    from rpu.gpu import _runtime
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    _runtime.cuda_runtime.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"pip install rpu\[gpu\]"):
            rpu.AnalogTile(3, 3, backend="cuda")
    finally:
        _runtime.cuda_runtime.cache_clear()


def test_gpu_benchmark_says_when_there_is_no_gpu(capsys):
    from rpu import gpu
    if gpu.is_available():
        pytest.skip("a GPU is present: the benchmark would run")
    from benchmarks import bench_gpu
    with pytest.raises(SystemExit) as exc:
        bench_gpu.main(["--sizes", "8", "--batches", "1"])
    assert exc.value.code == 2
    assert "pip install rpu[gpu]" in capsys.readouterr().err


def test_tile_array_on_the_gpu_backend(backend, tmp_path):
    from rpu.config import InferenceRPUConfig, MappingParameter
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=7, max_output_size=5))
    cpu = rpu.TileArray(9, 16, cfg, bias=True, seed=4, backend="cpu")
    gpu = rpu.TileArray(9, 16, cfg, bias=True, seed=4, backend=backend)
    assert gpu.backend_name == "cuda" and len(gpu.tiles) == 3 and len(gpu.tiles[0]) == 2
    np.testing.assert_array_equal(to_host(gpu.get_weights()), cpu.get_weights())
    x, d = _data(6, 16, 9, seed=2)
    for tile in (cpu, gpu):
        tile.set_learning_rate(0.1)
        tile.backward(d)  # the digital bias takes its gradient from here
        tile.update(x, d)
    np.testing.assert_allclose(to_host(gpu.get_weights()), cpu.get_weights(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(to_host(gpu.forward(x)), cpu.forward(x), rtol=1e-5, atol=1e-5)
    path = tmp_path / "array.npz"
    rpu.save(gpu, path)
    back = rpu.load(path, backend=backend)
    assert back.backend_name == "cuda"
    np.testing.assert_array_equal(to_host(back.get_weights()), to_host(gpu.get_weights()))
    gpu.to("cpu")
    assert gpu.backend_name == "cpu" and isinstance(gpu.get_weights(), np.ndarray)


def test_periphery_parameters_set_on_the_gpu_stay_there(backend):
    # set_forward_parameters stored host arrays in a GPU tile's periphery: its next forward
    # raised TypeError (a real GPU cannot read them)
    cfg = SingleRPUConfig(forward=IOParameters(out_noise_std=0.3),
                          backward=IOParameters(v_offset_std=0.02))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 5)).astype(np.float32)
    cpu = rpu.AnalogTile(4, 5, cfg, seed=1, backend="cpu")
    gpu = rpu.AnalogTile(4, 5, cfg, seed=1, backend=backend)
    fwd = {k: 2 * v for k, v in cpu.get_forward_parameters().items()}
    bwd = {k: 0.5 * v for k, v in cpu.get_backward_parameters().items()}
    for tile, xp in ((cpu, np), (gpu, backend.xp)):
        tile.set_forward_parameters({k: xp.asarray(v) for k, v in fwd.items()})
        tile.set_backward_parameters(bwd)          # host arrays into a GPU tile too
    np.testing.assert_allclose(to_host(gpu.forward(x)), cpu.forward(x), rtol=1e-5, atol=1e-6)
    d = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(to_host(gpu.backward(d)), cpu.backward(d), rtol=1e-5, atol=1e-6)


def test_a_refused_tile_array_update_on_the_gpu_leaves_a_working_array(backend):
    # the rollback of a refused update put host arrays back into the GPU tiles, so the next
    # forward raised TypeError
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 6)).astype(np.float32)
    d = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    cfg = InferenceRPUConfig(mapping=MappingParameter(max_input_size=4, max_output_size=3),
                             modifier=WeightModifierParameter(type=WeightModifierType.ADD_NORMAL,
                                                              std_dev=0.05))
    arrays = [rpu.TileArray(5, 6, cfg, seed=1, backend=b) for b in ("cpu", backend)]
    for array in arrays:
        array.post_update_step()
        before = to_host(array.get_weights())
        array.set_learning_rate(1e38)
        with pytest.raises(ValueError, match="overflows float32"):
            array.update(x, 1e3 * d)
        np.testing.assert_array_equal(to_host(array.get_weights()), before)
    cpu, gpu = arrays
    np.testing.assert_allclose(to_host(gpu.forward(x)), cpu.forward(x), rtol=1e-5, atol=1e-6)
    cpu.set_learning_rate(0.1)
    gpu.set_learning_rate(0.1)
    cpu.update(x, d)
    gpu.update(x, d)
    np.testing.assert_allclose(to_host(gpu.get_weights()), cpu.get_weights(), rtol=1e-5, atol=1e-6)
