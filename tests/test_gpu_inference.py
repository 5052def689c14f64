"""InferenceTile and the inference array functions on the GPU backend give the CPU core's results.

Every test runs on the ``gpu_runtime`` fixture of tests/cuda_host.py: the host emulation of the
CUDA kernels everywhere, and CuPy on a CUDA device where there is one. A tile on backend="cpu"
and the same tile (same seed) on the GPU backend are driven through the same calls.

What must be bit-equal on the host emulation: everything that runs the same kernels or the same
array arithmetic as the core -- the weight modifiers, clipping and remapping, programming and
drift with every noise model and converter, the floating-point update, the scales and bias.
What is compared with a tolerance everywhere: results that pass through the analog MVM (forward,
backward, the drift-compensation read-out, the input-range gradient), because the GPU MVM sums
its products in another order (a GEMM) than the core; and on a real GPU everything, since the
device's transcendental functions and cuBLAS may differ in the last bits.
"""
import numpy as np
import pytest

import rpu
from cuda_host import (  # noqa: F401  (backend, gpu_runtime: fixtures)
    assert_same, backend, exact_results, gpu_runtime, to_host)
from rpu import inference as inf
from rpu.config import (BoundManagementType, CustomDriftPCMLikeNoiseModel,
                        CustomPairConductanceConverter, DualPairConductanceConverter,
                        GlobalDriftCompensation, GlobalDriftCompensationWithExactReference,
                        HermesNoiseModel,
                        InferenceRPUConfig, InputRangeParameter, IOParameters, MappingParameter,
                        NoiseManagementType, NPairConductanceConverter, PCMLikeNoiseModel,
                        PerColumnDriftCompensation, PeripheryQuantizationParameter,
                        PrePostProcessingParameter, PrePostProcessingParameterQuant,
                        ReRamCMONoiseModel, ReRamWan2022NoiseModel,
                        SingleDeviceConductanceConverter, StateIndependentNoiseModel,
                        WeightClipParameter, WeightClipType, WeightModifierParameter,
                        WeightModifierType, WeightRemapParameter, WeightRemapType)

CUSTOM_TABLE = {"g_lst": [0.0, 5.0, 25.0], "nu_mean_lst": [0.1, 0.07, 0.04],
                "nu_std_lst": [0.03, 0.02, 0.01]}
# an IO without quantisation: the MVM results of both backends differ by summation order only
SMOOTH_IO = IOParameters(inp_res=-1, out_res=-1)


def _close(got, want, rtol=1e-5, atol=1e-6):
    """Results through the analog MVM: another summation order on the GPU backend."""
    np.testing.assert_allclose(to_host(got), want, rtol=rtol, atol=atol)


def _on_device(backend, a):
    assert isinstance(a, backend.xp.ndarray), f"expected a device array, got {type(a).__name__}"


def _pair(backend, *args, **kwargs):
    cpu = rpu.InferenceTile(*args, backend="cpu", **kwargs)
    gpu = rpu.InferenceTile(*args, backend=backend, **kwargs)
    assert cpu.backend_name == "cpu" and gpu.backend_name == "cuda"
    return cpu, gpu


def _rand(shape, seed, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _both(cpu, gpu, name, *args, **kwargs):
    return getattr(cpu, name)(*args, **kwargs), getattr(gpu, name)(*args, **kwargs)


# ----- state: weights, scales, bias, input range --------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_construction_and_the_state_setters_match(backend, dtype):
    mapping = MappingParameter(weight_scaling_omega=0.8, weight_scaling_columnwise=True,
                               learn_out_scaling=True, out_scaling_columnwise=True)
    pre = PrePostProcessingParameter(input_range=InputRangeParameter(enable=True))
    cfg = InferenceRPUConfig(mapping=mapping, pre_post=pre)
    cpu, gpu = _pair(backend, 6, 9, cfg, bias=True, dtype=dtype, seed=4)
    assert_same(backend, gpu.get_weights(), cpu.get_weights())
    w = _rand((6, 10), 1, dtype=dtype)
    cpu.set_weights(w)
    gpu.set_weights(backend.xp.asarray(w))  # a device array as input
    for name in ("get_weights", "get_mapping_scales", "get_learned_out_scales", "get_scales"):
        got, want = getattr(gpu, name)(), getattr(cpu, name)()
        _on_device(backend, got)
        assert_same(backend, got, want)
    assert_same(backend, gpu.get_weights(apply_weight_scaling=False),
          cpu.get_weights(apply_weight_scaling=False))
    scales = _rand(6, 2, 0.5, 2.0, np.float64)
    cpu.set_learned_out_scales(scales)
    gpu.set_learned_out_scales(backend.xp.asarray(scales))
    _both(cpu, gpu, "set_mapping_scales", 1.5)  # one value fills the per-output vector
    _both(cpu, gpu, "set_input_range", -2.5)
    assert gpu.get_input_range() == cpu.get_input_range() == 2.5
    assert_same(backend, gpu.get_scales(), cpu.get_scales())
    assert_same(backend, gpu.get_weights(), cpu.get_weights())


def test_the_tile_refuses_bad_scales_and_weights_on_the_gpu(backend):
    gpu = rpu.InferenceTile(4, 5, seed=1, backend=backend)
    before = to_host(gpu.get_weights())
    bad = np.zeros((4, 5), dtype=np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="weights contains NaN"):
        gpu.set_weights(backend.xp.asarray(bad))
    with pytest.raises(ValueError, match="scales must be non-zero"):
        gpu.set_mapping_scales(backend.xp.asarray(np.array([0.0])))
    np.testing.assert_array_equal(to_host(gpu.get_weights()), before)


# ----- forward, backward, update ------------------------------------------------------------------

PERIPHERIES = {
    "plain": dict(),
    "input-range": dict(forward=IOParameters(inp_res=-1, out_res=-1, out_bound=2.0,
                                             noise_management=NoiseManagementType.NONE,
                                             bound_management=BoundManagementType.NONE),
                        pre_post=PrePostProcessingParameter(
        input_range=InputRangeParameter(enable=True, learn_input_range=True, decay=0.01,
                                        manage_output_clipping=True))),
    "mapping-and-out-scales": dict(mapping=MappingParameter(
        weight_scaling_omega=1.0, weight_scaling_columnwise=True, learn_out_scaling=True,
        out_scaling_columnwise=True)),
    "analog-bias": dict(mapping=MappingParameter(digital_bias=False, weight_scaling_omega=1.0)),
    "periphery-quantisation": dict(
        mapping=MappingParameter(weight_scaling_omega=1.0, weight_scaling_columnwise=True,
                                 learn_out_scaling=True),
        pre_post=PrePostProcessingParameterQuant(
            input_range=InputRangeParameter(enable=True),
            periph_quant=PeripheryQuantizationParameter(n_bits=6))),
}


@pytest.mark.parametrize("name", list(PERIPHERIES))
def test_forward_backward_and_update_match(backend, name):
    cfg = InferenceRPUConfig(**{"forward": SMOOTH_IO, **PERIPHERIES[name]})
    cpu, gpu = _pair(backend, 7, 11, cfg, bias=True, seed=6)
    w = _rand((7, 12), 3, -0.6, 0.6)
    _both(cpu, gpu, "set_weights", w)
    for tile in (cpu, gpu):
        tile.set_learning_rate(0.05)
    for step in range(2):
        x, d = _rand((5, 11), 10 + step, -2, 2), _rand((5, 7), 20 + step, -0.3, 0.3)
        y_c, y_g = _both(cpu, gpu, "forward", x)
        _on_device(backend, y_g)
        _close(y_g, y_c)
        z_c, z_g = _both(cpu, gpu, "backward", d)
        _on_device(backend, z_g)
        _close(z_g, z_c)
        g_c, g_g = cpu.get_periphery_gradients(), gpu.get_periphery_gradients()
        assert sorted(g_c) == sorted(g_g)
        for key in g_c:
            _close(g_g[key], g_c[key], rtol=1e-4)
        _both(cpu, gpu, "update", x, d)
        # the update itself is array code on both backends; its inputs (the periphery's
        # gradients) come through the MVM, hence a tolerance
        _close(gpu.get_weights(), cpu.get_weights(), rtol=1e-4, atol=1e-6)
        if gpu.get_input_range() is not None:
            assert gpu.get_input_range() == pytest.approx(cpu.get_input_range(), rel=1e-5)
    y_c, y_g = _both(cpu, gpu, "forward", x, is_test=True)
    _close(y_g, y_c, rtol=1e-4)


def test_the_floating_point_update_is_bit_equal(backend):
    cfg = InferenceRPUConfig(mapping=MappingParameter(weight_scaling_omega=1.0))
    cpu, gpu = _pair(backend, 8, 6, cfg, seed=2, dtype=np.float64)
    _both(cpu, gpu, "set_weights", _rand((8, 6), 1))
    x, d = _rand((4, 6), 2), _rand((4, 8), 3)
    _both(cpu, gpu, "update", x, d)  # no backward before: only the weight step
    assert_same(backend, gpu.get_weights(), cpu.get_weights())


# ----- weight modifiers, clipping, remapping (post_update_step) -----------------------------------

MODIFIERS = {t.name: WeightModifierParameter(type=t, std_dev=0.05, res=0.1, sto_round=True,
                                             coeffs=[0.1, 0.2, 0.05], rel_to_actual_wmax=True)
             for t in WeightModifierType}
MODIFIERS["PCM_NOISE"] = WeightModifierParameter(type=WeightModifierType.PCM_NOISE, std_dev=1.0,
                                                 pcm_prob_at_reset=0.1, pcm_prob_at_gmax=0.1,
                                                 pcm_prob_at_random=0.1)
MODIFIERS["DROP_CONNECT"] = WeightModifierParameter(type=WeightModifierType.DROP_CONNECT,
                                                    pdrop=0.3)
MODIFIERS["COPY_LAST_COLUMN"] = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL,
                                                        std_dev=0.1, copy_last_column=True)


@pytest.mark.parametrize("name", list(MODIFIERS))
def test_every_weight_modifier_matches(backend, name):
    cfg = InferenceRPUConfig(modifier=MODIFIERS[name],
                             mapping=MappingParameter(digital_bias=False))
    cpu, gpu = _pair(backend, 9, 13, cfg, bias=True, seed=8)
    _both(cpu, gpu, "set_weights", _rand((9, 14), 5))
    _both(cpu, gpu, "post_update_step")
    want = cpu.get_forward_weights()
    if want is None:  # NONE / COPY without drop connect: no modified weights
        assert gpu.get_forward_weights() is None
        return
    _on_device(backend, gpu.get_forward_weights())
    assert_same(backend, gpu.get_forward_weights(), want, rtol=1e-5, atol=1e-6)


def test_per_sample_modifier_forward_matches(backend):
    mod = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.1,
                                  per_batch_sample=True)
    cpu, gpu = _pair(backend, 5, 6, InferenceRPUConfig(forward=SMOOTH_IO, modifier=mod), seed=3)
    x = _rand((4, 6), 1)
    y_c, y_g = _both(cpu, gpu, "forward", x)
    _close(y_g, y_c)
    assert gpu._op_counter == cpu._op_counter


CLIP_REMAP = {
    "fixed": dict(clip=WeightClipParameter(type=WeightClipType.FIXED_VALUE, fixed_value=0.3)),
    "gaussian": dict(clip=WeightClipParameter(type=WeightClipType.LAYER_GAUSSIAN, sigma=1.5)),
    "channel-max": dict(clip=WeightClipParameter(type=WeightClipType.AVERAGE_CHANNEL_MAX)),
    "layerwise": dict(remap=WeightRemapParameter(type=WeightRemapType.LAYERWISE_SYMMETRIC)),
    "channelwise": dict(remap=WeightRemapParameter(type=WeightRemapType.CHANNELWISE_SYMMETRIC)),
    "channelwise-range": dict(remap=WeightRemapParameter(
        type=WeightRemapType.CHANNELWISE_SYMMETRIC, max_scale_range=1.5)),
}


@pytest.mark.parametrize("name", list(CLIP_REMAP))
def test_clip_and_remap_match(backend, name):
    cfg = InferenceRPUConfig(mapping=MappingParameter(weight_scaling_omega=1.0,
                                                      weight_scaling_columnwise=True),
                             modifier=WeightModifierParameter(type=WeightModifierType.DISCRETIZE,
                                                              res=0.05),
                             **CLIP_REMAP[name])
    cpu, gpu = _pair(backend, 6, 8, cfg, seed=5, dtype=np.float64)
    w = _rand((6, 8), 7) * np.linspace(0.2, 3.0, 6)[:, None]
    _both(cpu, gpu, "set_weights", w)
    _both(cpu, gpu, "post_update_step")
    for get in ("get_weights", "get_scales", "get_forward_weights"):
        assert_same(backend, getattr(gpu, get)(), getattr(cpu, get)(), rtol=1e-12, atol=1e-14)


# ----- programming and drift with every noise model and converter ---------------------------------

NOISE_MODELS = {
    "pcm": lambda: PCMLikeNoiseModel(),
    "pcm-dual-pair": lambda: PCMLikeNoiseModel(
        g_converter=DualPairConductanceConverter([1.0, 3.0])),
    "pcm-n-pair": lambda: PCMLikeNoiseModel(
        g_converter=NPairConductanceConverter([0.5, 1.0, 2.0])),
    "pcm-custom-pair": lambda: PCMLikeNoiseModel(g_converter=CustomPairConductanceConverter(
        [1.0], [[0.0] * 4 + [0.0, 6.25, 12.5, 18.75, 25.0],
                [25.0, 18.75, 12.5, 6.25, 0.0] + [0.0] * 4])),
    "pcm-single-device": lambda: PCMLikeNoiseModel(
        g_converter=SingleDeviceConductanceConverter()),
    "custom-drift": lambda: CustomDriftPCMLikeNoiseModel(CUSTOM_TABLE),
    "state-independent": lambda: StateIndependentNoiseModel(),
    "reram-wan": lambda: ReRamWan2022NoiseModel(),
    "reram-cmo": lambda: ReRamCMONoiseModel(),
    "hermes": lambda: HermesNoiseModel(),
    "hermes-1": lambda: HermesNoiseModel(num_devices=1, g_max=8.0),
}


@pytest.mark.parametrize("name", list(NOISE_MODELS))
def test_programming_and_drift_match(backend, name):
    model = NOISE_MODELS[name]()
    times = sorted(model.coeff_dic)[1:] if name == "reram-wan" else (0.0, 3600.0)
    cfg = InferenceRPUConfig(noise_model=model, drift_compensation=None)
    cpu, gpu = _pair(backend, 7, 10, cfg, seed=12)
    _both(cpu, gpu, "set_weights", _rand((7, 10), 9))
    _both(cpu, gpu, "program_weights")
    _on_device(backend, gpu.get_weights())
    # transcendental functions of the device (pow, log, exp in the draws) differ in the last bits
    assert_same(backend, gpu.get_weights(), cpu.get_weights(), rtol=1e-5, atol=1e-6)
    for k, (p_c, p_g) in enumerate(zip(cpu._programmed[1], gpu._programmed[1])):
        assert_same(backend, p_g, p_c, rtol=1e-5, atol=1e-6)
    for t in times:
        _both(cpu, gpu, "drift_weights", t)
        assert_same(backend, gpu.get_weights(), cpu.get_weights(), rtol=1e-5, atol=1e-6)
    assert gpu._op_counter == cpu._op_counter


@pytest.mark.parametrize("compensation", [GlobalDriftCompensation(),
                                          GlobalDriftCompensationWithExactReference(),
                                          PerColumnDriftCompensation(), None],
                         ids=["global", "exact-reference", "per-column", "none"])
def test_drift_compensation_and_the_eval_forward_match(backend, compensation):
    cfg = InferenceRPUConfig(forward=SMOOTH_IO, drift_compensation=compensation,
                             mapping=MappingParameter(weight_scaling_omega=1.0))
    cpu, gpu = _pair(backend, 6, 9, cfg, bias=True, seed=13)
    _both(cpu, gpu, "set_weights", _rand((6, 10), 4))
    _both(cpu, gpu, "program_weights")
    x = _rand((5, 9), 2)
    for t in (60.0, 86400.0):
        _both(cpu, gpu, "drift_weights", t)
        # the read-out goes through the MVM; the drifted weights do not
        assert_same(backend, gpu.get_weights(), cpu.get_weights(), rtol=1e-5, atol=1e-6)
        if compensation is None:
            assert gpu.alpha == cpu.alpha == 1.0
        else:
            _close(gpu.alpha, cpu.alpha, rtol=1e-4)
        y_c, y_g = _both(cpu, gpu, "forward", x, is_test=True)
        _close(y_g, y_c, rtol=1e-4, atol=1e-5)


# ----- the array functions of rpu.inference -------------------------------------------------------

@pytest.mark.parametrize("name", list(NOISE_MODELS))
def test_inference_functions_dispatch_on_the_backend(backend, name):
    model = NOISE_MODELS[name]()
    w = _rand((5, 8), 3)
    w_dev = backend.xp.asarray(w)
    key, op = 0x1234_5678_9ABC, 7
    prog_c, nu_c = inf.apply_programming_noise(model, w, key, op)
    prog_g, nu_g = inf.apply_programming_noise(model, w_dev, key, op, backend=backend)
    _on_device(backend, prog_g)
    assert_same(backend, prog_g, prog_c, rtol=1e-5, atol=1e-6)
    t = sorted(model.coeff_dic)[1] if name == "reram-wan" else 1000.0
    out_c = inf.apply_drift_noise(model, prog_c, nu_c, t, key, op + 1)
    out_g = inf.apply_drift_noise(model, prog_g, nu_g, t, key, op + 1, backend=backend)
    _on_device(backend, out_g)
    assert_same(backend, out_g, out_c, rtol=1e-5, atol=1e-6)
    noisy_c = inf.apply_noise(model, w, t, key, op + 2)
    noisy_g = inf.apply_noise(model, w_dev, t, key, op + 2, backend=backend)
    assert_same(backend, noisy_g, noisy_c, rtol=1e-5, atol=1e-6)
    g = np.abs(w) * 20
    if not isinstance(model, (ReRamWan2022NoiseModel, ReRamCMONoiseModel)):
        for fn, args in ((inf.drift_nu_moments, ()), (inf.read_noise_std, (t,))):
            got = fn(model, backend.xp.asarray(g), *args, backend=backend)
            want = fn(model, g, *args)
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                assert_same(backend, a, b, rtol=1e-5, atol=1e-7)
        assert_same(backend, inf.drift_factor(model, backend.xp.asarray(nu_c[0]), t, backend=backend),
              inf.drift_factor(model, nu_c[0], t), rtol=1e-5)
    assert_same(backend, inf.programming_noise_std(model, backend.xp.asarray(g), backend=backend),
          inf.programming_noise_std(model, g), rtol=1e-6)


def test_converters_and_compensation_keep_the_array_kind(backend):
    xp = backend.xp
    w = _rand((4, 6), 1)
    conv = DualPairConductanceConverter([1.0, 3.0])
    g_c, p_c = inf.convert_to_conductances(conv, w)
    g_g, p_g = inf.convert_to_conductances(conv, xp.asarray(w), backend=backend)
    assert p_g["scale_ratio"] == p_c["scale_ratio"]
    for a, b in zip(g_g, g_c):
        _on_device(backend, a)
        assert_same(backend, a, b)
    assert_same(backend, inf.convert_back_to_weights(conv, g_g, p_g, backend=backend),
          inf.convert_back_to_weights(conv, g_c, p_c))
    eye = inf.compensation.get_readout_tensor(PerColumnDriftCompensation(), 6, backend=backend)
    _on_device(backend, eye)
    y = eye @ xp.asarray(w.T)
    base = inf.compensation.init_baseline(PerColumnDriftCompensation(), y)
    _on_device(backend, base)
    assert_same(backend, base, inf.compensation.init_baseline(PerColumnDriftCompensation(), w.T))
    assert_same(backend, inf.compensation.apply(PerColumnDriftCompensation(), 0.5 * y, base),
          inf.compensation.apply(PerColumnDriftCompensation(), 0.5 * w.T, to_host(base)))
    assert inf.compensation.readout(GlobalDriftCompensation(), y) == \
        inf.compensation.readout(GlobalDriftCompensation(), w.T)
    # the CPU backend refuses device data only where it cannot see it as host data
    with pytest.raises(ValueError, match="weights must be finite"):
        inf.convert_to_conductances(conv, np.full((2, 2), np.inf), backend=backend)


# ----- moving and saving --------------------------------------------------------------------------

def _trained_inference_tile(backend_arg, seed=21):
    mod = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.05)
    cfg = InferenceRPUConfig(
        forward=SMOOTH_IO, modifier=mod, drift_compensation=PerColumnDriftCompensation(),
        mapping=MappingParameter(weight_scaling_omega=1.0, learn_out_scaling=True),
        pre_post=PrePostProcessingParameterQuant(
            input_range=InputRangeParameter(enable=True),
            periph_quant=PeripheryQuantizationParameter(n_bits=8)))
    tile = rpu.InferenceTile(5, 7, cfg, bias=True, seed=seed, backend=backend_arg)
    tile.set_weights(_rand((5, 8), 3))
    x, d = _rand((4, 7), 4), _rand((4, 5), 5, -0.2, 0.2)
    tile.forward(x)
    tile.backward(d)
    tile.update(x, d)
    tile.post_update_step()
    tile.program_weights()
    tile.drift_weights(1000.0)
    return tile


def _check_same_state(backend, got, want):
    for name, value in want._state_arrays().items():
        other = got._state_arrays()[name]
        _close(other, np.asarray(value), rtol=1e-4, atol=1e-6)
    assert got._state_meta() == want._state_meta()


def test_to_and_back_keeps_the_whole_state(backend):
    tile = _trained_inference_tile("cpu")
    ref = _trained_inference_tile("cpu")
    tile.to(backend)
    assert tile.backend_name == "cuda"
    _on_device(backend, tile.get_weights())
    _on_device(backend, tile._programmed[1][0])
    x = _rand((3, 7), 8)
    _close(tile.forward(x, is_test=True), ref.forward(x, is_test=True), rtol=1e-4)
    for t in (tile, ref):
        t.drift_weights(5000.0)
    tile.to("cpu")
    assert isinstance(tile.get_weights(), np.ndarray) and isinstance(tile.alpha, np.ndarray)
    assert_same(backend, tile.get_weights(), ref.get_weights(), rtol=1e-5, atol=1e-6)
    _check_same_state(backend, tile, ref)
    assert tile._op_counter == ref._op_counter


def test_save_and_load_of_a_gpu_inference_tile(backend, tmp_path):
    gpu = _trained_inference_tile(backend)
    cpu = _trained_inference_tile("cpu")
    _check_same_state(backend, gpu, cpu)
    path = tmp_path / "inference.npz"
    rpu.save(gpu, path)
    back = rpu.load(path, backend=backend)
    assert back.backend_name == "cuda"
    _check_same_state(backend, back, gpu)
    x = _rand((3, 7), 9)
    _close(back.forward(x, is_test=True), to_host(gpu.forward(x, is_test=True)), rtol=1e-6)
    for t in (back, gpu):
        t.drift_weights(100.0)
    assert_same(backend, back.get_weights(), to_host(gpu.get_weights()))


def test_the_array_functions_follow_their_arrays(backend):
    from rpu import _core
    from rpu.backends import backend_for
    assert backend_for(None, np.zeros(3)) == (_core, np)
    assert backend_for("cpu") == (_core, np)
    assert backend_for(backend) == (backend, backend.xp)
    with pytest.raises(TypeError, match="backend must be None"):
        backend_for(object())
    w = _rand((3, 4), 1)
    prog, nu = inf.apply_programming_noise(PCMLikeNoiseModel(), w, 5, 1)  # NumPy in, NumPy out
    assert type(prog) is np.ndarray and all(type(p) is np.ndarray for p in nu)
    if not exact_results(backend):  # CuPy arrays carry __cuda_array_interface__: no backend needed
        got, _ = inf.apply_programming_noise(PCMLikeNoiseModel(), backend.xp.asarray(w), 5, 1)
        _on_device(backend, got)
        assert_same(backend, got, prog, rtol=1e-5, atol=1e-6)
        with pytest.raises(TypeError, match="GPU array"):
            inf.convert_to_conductances(DualPairConductanceConverter([1.0, 2.0]),
                                        backend.xp.asarray(w), backend="cpu")
