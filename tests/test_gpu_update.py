"""The GPU pulsed update (``rpu.gpu.update.pulsed_update``) against the CPU core's.

Both take the same inputs -- the hidden parameters, pulse index and device globals of a real
``DeviceArray`` for every device family, random weights, inputs, bit lengths and scales -- and
must give the same stored and visible weights and the same recorded columns: the same pulse
trains, coincidence counts and noise draws. In the host emulation of the kernels
(``tests/cuda_host.py``) the same headers are compiled by the same compiler with the same flags,
so the results are asserted bit-identical. On a CUDA device (``gpu_runtime`` param "cuda") they
are asserted bit-identical too for the device rules built from correctly rounded operations only
(the module is compiled with --fmad=false, and the normals use rpu's own log and sincos); the
rules that call exp or pow (ExpStep, PowStep) may differ in the last bits there, so those get a
bound of 100 ulps of the weight range.
"""
import numpy as np
import pytest

from cuda_host import HostRuntime, gpu_runtime, to_host  # noqa: F401  (gpu_runtime is a fixture)

from rpu import _core
from rpu.config import (ConstantStepDevice, ExpStepDevice, LinearStepDevice, PiecewiseStepDevice,
                        PowStepDevice, PowStepReferenceDevice, SoftBoundsDevice,
                        SoftBoundsReferenceDevice, UpdateParameters)
from rpu.gpu import update
from rpu.tiles._device_array import DeviceArray

D_SIZE, X_SIZE, M = 37, 53, 7
DTYPES = [np.float32, np.float64]

# One device per rule of pulsed_devices.h (with the variants that take another branch there),
# device-to-device spreads on so that the hidden planes differ per element.
DEVICES = {
    "constant_step": lambda std: ConstantStepDevice(dw_min=0.01, dw_min_std=std),
    "linear_step_mult": lambda std: LinearStepDevice(dw_min=0.01, dw_min_std=std, gamma_up=0.2,
                                                     gamma_down=0.3, mult_noise=True),
    "linear_step_add": lambda std: LinearStepDevice(dw_min=0.01, dw_min_std=std, gamma_up=0.2,
                                                    gamma_down=0.1, mult_noise=False),
    "soft_bounds": lambda std: SoftBoundsDevice(dw_min=0.01, dw_min_std=std),
    "soft_bounds_reference": lambda std: SoftBoundsReferenceDevice(
        dw_min=0.01, dw_min_std=std, reference_mean=0.05, reference_std=0.1),
    "exp_step": lambda std: ExpStepDevice(dw_min=0.01, dw_min_std=std),
    "exp_step_additive": lambda std: ExpStepDevice(dw_min=0.01, dw_min_std=std,
                                                   dw_min_std_add=0.002, dw_min_std_slope=0.1),
    "pow_step": lambda std: PowStepDevice(dw_min=0.01, dw_min_std=std, pow_gamma=1.5),
    "pow_step_reference": lambda std: PowStepReferenceDevice(
        dw_min=0.01, dw_min_std=std, pow_gamma=0.8, reference_mean=0.05, reference_std=0.1),
    "piecewise_step": lambda std: PiecewiseStepDevice(
        dw_min=0.01, dw_min_std=std, piecewise_up=[1.5, 1.0, 0.6, 0.2],
        piecewise_down=[0.3, 0.8, 1.0, 1.4]),
}


def _device_array(name, std, dtype, shape=(D_SIZE, X_SIZE)):
    return DeviceArray(DEVICES[name](std), UpdateParameters(), *shape, dtype, _core, 1234, 1)


def _inputs(dtype, bl, seed=3, zero_bl_sample=False):
    """Inputs of a batch of M samples: some zero x and d entries, a sample with d = 0, bit
    lengths that vary around ``bl``, scales that push some probabilities past 1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, X_SIZE)).astype(dtype)
    D = rng.normal(size=(M, D_SIZE)).astype(dtype)
    X[rng.random(X.shape) < 0.2] = 0
    D[rng.random(D.shape) < 0.2] = 0
    D[2] = 0  # a sample whose d lines never fire (it must still be recorded)
    BL = np.maximum(bl - np.arange(M) % 3, 1).astype(np.int32)
    if zero_bl_sample:
        BL[4] = 0
    A = 1.2 / np.maximum(np.abs(D).max(axis=1).astype(np.float64), 1e-3)
    B = 0.9 / np.maximum(np.abs(X).max(axis=1).astype(np.float64), 1e-3)
    return X, D, BL, A, B


def _compare(rt, name, dtype, *, std=0.3, mode=0, bl=31, sto_round=1, lr_sign=1, one_sided=0,
             write_noise=0.004, record=True, noise_seed=99, zero_bl_sample=False, res=1 / 29,
             inputs=None):
    """Run the core and the GPU update on the same inputs (``_inputs``, or ``inputs`` = X, D,
    BL, A, B of M samples); return (core results, GPU results, initial stored weights) as host
    arrays."""
    X, D, BL, A, B = _inputs(dtype, bl, zero_bl_sample=zero_bl_sample) if inputs is None else inputs
    arr = _device_array(name, std, dtype, shape=(D.shape[1], X.shape[1]))
    rng = np.random.default_rng(11)
    b_max, b_min = arr.param("max_bound"), arr.param("min_bound")
    stored0 = (b_min + (b_max - b_min) * rng.uniform(0.1, 0.9, b_max.shape)).astype(dtype)
    up = {"mode": mode, "x_res": res, "d_res": res * 0.7, "sto_round": sto_round,
          "lr_sign": lr_sign, "one_sided": one_sided}
    dev = dict(arr.globals)
    dev["write_noise"] = 0.0 if write_noise is None else write_noise
    rec_cols = np.array([3, -1, 0, 52, 17, -1, 3], dtype=np.int32) if record else None
    seed, op = 0x1234_5678_9ABC, 5

    stored_c = stored0.copy()
    visible_c = stored_c if write_noise is None else stored0 + dtype(0.01)
    rec_c = np.full((M, D.shape[1]), -7.0, dtype=dtype) if record else None
    _core.pulsed_update(stored_c, visible_c, arr.hidden, arr.pulse_index, X, D, BL, A, B, up, dev,
                        seed, op, 1, None, noise_seed, rec_cols, rec_c)

    xp = rt.xp
    stored_g = xp.asarray(stored0)
    visible_g = stored_g if write_noise is None else xp.asarray(stored0 + dtype(0.01))
    rec_g = xp.full((M, D.shape[1]), -7.0, dtype=dtype) if record else None
    update.pulsed_update(rt, stored_g, visible_g, xp.asarray(arr.hidden), arr.pulse_index,
                         xp.asarray(X), xp.asarray(D), xp.asarray(BL), xp.asarray(A),
                         xp.asarray(B), up, dev, seed, op, noise_seed=noise_seed,
                         record_cols=None if rec_cols is None else xp.asarray(rec_cols),
                         record_out=rec_g)
    core = (stored_c, visible_c, rec_c)
    gpu = (to_host(stored_g), to_host(visible_g), None if rec_g is None else to_host(rec_g))
    return core, gpu, stored0


# Device rules that call exp or pow, whose last bits may differ between libm and CUDA; the others
# use only correctly rounded operations (+, -, *, /, sqrt, rint), like the normals (normal.h).
TRANSCENDENTAL = {"exp_step", "exp_step_additive", "pow_step", "pow_step_reference"}


def _assert_same(rt, core, gpu, stored0, name):
    # the update must do something, or equality would prove nothing
    assert (core[0] != stored0).sum() > 20
    for what, c, g in zip(("stored", "visible", "record_out"), core, gpu):
        if c is None:
            continue
        if isinstance(rt, HostRuntime) or name not in TRANSCENDENTAL:
            np.testing.assert_array_equal(g, c, err_msg=what)
        else:
            # a real GPU: exp/pow may differ in the last bits, and a weight carries such a
            # difference through its later pulses
            scale = max(float(np.abs(c).max()), 1.0)
            np.testing.assert_allclose(g, c, rtol=0, atol=100 * np.finfo(c.dtype).eps * scale,
                                       err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("std", [0.0, 0.3])
@pytest.mark.parametrize("name", sorted(DEVICES))
def test_every_device_rule_matches_the_core(gpu_runtime, name, std, dtype):
    """Every device family, with and without cycle-to-cycle noise, stochastic trains with
    sto_round, write noise, records and a separate noise key."""
    core, gpu, stored0 = _compare(gpu_runtime, name, dtype, std=std)
    _assert_same(gpu_runtime, core, gpu, stored0, name)
    # the records are mid-batch reads: column 3 after sample 0 and again after sample 6 differ
    assert (gpu[2][0] != gpu[2][6]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sto_round", [0, 1])
@pytest.mark.parametrize("bl", [1, 31, 100])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_pulse_types_and_bit_lengths_match_the_core(gpu_runtime, mode, bl, sto_round, dtype):
    """Stochastic, MEAN_COUNT and DETERMINISTIC_IMPLICIT trains at BL 1, 31 and 100 (two 64-bit
    words), per-sample bit lengths (one of them 0), with and without stochastic rounding."""
    core, gpu, stored0 = _compare(gpu_runtime, "soft_bounds", dtype, mode=mode, bl=bl,
                                  sto_round=sto_round, zero_bl_sample=True)
    _assert_same(gpu_runtime, core, gpu, stored0, "soft_bounds")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["constant_step", "soft_bounds", "piecewise_step"])
def test_dense_one_slot_samples_match_the_core(gpu_runtime, name, dtype):
    """BL = 1 with many firing x lines: the core passes along whole rows for those samples
    (cpu_rows.h, RPU_DENSE_RATIO) and along its lists for the others; the GPU always goes by
    the list. Samples of every density in one batch, the densest firing more lines than one
    noise chunk (1024 normals) holds, with write noise and records."""
    rng = np.random.default_rng(21)
    x_size, d_size = 2100, 9
    X = rng.uniform(-1, 1, (M, x_size)).astype(dtype)
    for b, keep in enumerate([1.0, 0.6, 0.3, 0.21, 0.15, 0.02, 1.0]):
        X[b, rng.random(x_size) >= keep] = 0
    D = rng.uniform(-1, 1, (M, d_size)).astype(dtype)
    BL = np.ones(M, dtype=np.int32)
    A = np.full(M, 0.8)
    B = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.5])  # mostly p = 1; the last one ~ 1/4
    core, gpu, stored0 = _compare(gpu_runtime, name, dtype, bl=1, sto_round=0, res=0.0,
                                  inputs=(X, D, BL, A, B))
    _assert_same(gpu_runtime, core, gpu, stored0, name)
    # the dense samples did pulse more lines than a noise chunk in some row
    assert (core[0] != stored0).sum(axis=1).max() > 1024


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["soft_bounds", "piecewise_step"])
def test_short_one_slot_samples_match_the_core(gpu_runtime, name, dtype):
    """BL = 1 samples that list one to five x elements, the shape of a transfer's write (one-hot
    x, d of pulse counts): the core draws the one block of normals of the samples with at most
    four pulses in a row ahead for the row, applies short lists element by element, and draws
    no train words for lines of probability 1 or more (cpu_rows.h); the GPU does none of that.
    The x probabilities are 1 (one-hot x = 1 with B = 1) and, in the last samples, below 1."""
    rng = np.random.default_rng(5)
    x_size, d_size = 60, 23
    X = np.zeros((M, x_size), dtype=dtype)
    for b, n_listed in enumerate([1, 1, 2, 4, 5, 3, 1]):
        X[b, rng.choice(x_size, n_listed, replace=False)] = rng.choice([-1.0, 1.0], n_listed)
    D = rng.choice([-1.0, 0.0, 0.0, 1.0], (M, d_size)).astype(dtype)
    BL = np.ones(M, dtype=np.int32)
    A = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5])
    B = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 2.0])
    core, gpu, stored0 = _compare(gpu_runtime, name, dtype, bl=1, sto_round=0, res=0.0,
                                  inputs=(X, D, BL, A, B))
    _assert_same(gpu_runtime, core, gpu, stored0, name)


def _write_batch(dtype, m=40, x_size=13, d_size=29, seed=8):
    """A transfer's write: one-hot x (x = +-1, columns repeating across samples, so that a
    weight takes several pulses in order), d = whole pulse counts -1, 0, +1."""
    rng = np.random.default_rng(seed)
    X = np.zeros((m, x_size), dtype=dtype)
    X[np.arange(m), rng.integers(0, x_size, m)] = rng.choice([-1.0, 1.0], m)
    D = rng.choice([-1.0, 0.0, 0.0, 1.0], (m, d_size)).astype(dtype)
    return X, D, np.ones(m, dtype=np.int32), np.ones(m), np.ones(m)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr_sign", [1, -1])
@pytest.mark.parametrize("name", sorted(DEVICES))
def test_transfer_writes_match_the_core(gpu_runtime, name, lr_sign, dtype):
    """Every x and d line of the batch fires with probability exactly 1 in its one slot, so the
    core takes its write path (rpu_write_row, cpu_rows.h: only the pulses are visited); the GPU
    takes its general one. Pulse noise, write noise and both signs of the learning rate."""
    core, gpu, stored0 = _compare(gpu_runtime, name, dtype, bl=1, sto_round=1, res=0.0,
                                  lr_sign=lr_sign, record=False, inputs=_write_batch(dtype))
    _assert_same(gpu_runtime, core, gpu, stored0, name)
    # some weight took pulses in more than one sample
    X, D = _write_batch(dtype)[:2]
    assert ((np.abs(D).T @ (X != 0)) > 1).any()


@pytest.mark.parametrize("case", ["uncertain_d", "uncertain_x", "two_hot", "bl_2", "res", "record"])
def test_almost_transfer_writes_match_the_core(gpu_runtime, case):
    """Batches one condition short of the write path (a probability below 1, a sample with two
    x lines, BL 2, a quantisation that takes p below 1, records): the core's general path."""
    X, D, BL, A, B = _write_batch(np.float32)
    res, record = 0.0, False
    if case == "uncertain_d":
        A[5] = 0.6
    elif case == "uncertain_x":
        B[7] = 0.6
    elif case == "two_hot":
        X[3, (np.flatnonzero(X[3])[0] + 1) % X.shape[1]] = 1.0
    elif case == "bl_2":
        BL[9] = 2
    elif case == "res":
        res = 0.3  # x: 0.3 rint(1 / 0.3) = 0.9; d (res 0.21): 0.84
    else:
        record = True  # _compare's columns, up to 52
        X, D, BL, A, B = (a[:M] for a in _write_batch(np.float32, x_size=60))
    core, gpu, stored0 = _compare(gpu_runtime, "soft_bounds", np.float32, bl=1, sto_round=0,
                                  res=res, record=record, inputs=(X, D, BL, A, B))
    _assert_same(gpu_runtime, core, gpu, stored0, "soft_bounds")


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("one_sided", [0, 1, -1])
@pytest.mark.parametrize("lr_sign", [1, -1])
def test_signs_and_one_sided_match_the_core(gpu_runtime, lr_sign, one_sided, mode):
    """Negative learning rates and the g+ / g- halves of a one-sided unit cell."""
    core, gpu, stored0 = _compare(gpu_runtime, "exp_step", np.float32, lr_sign=lr_sign,
                                  one_sided=one_sided, mode=mode, bl=20)
    _assert_same(gpu_runtime, core, gpu, stored0, "exp_step")


@pytest.mark.parametrize("dtype", DTYPES)
def test_without_write_noise_and_records(gpu_runtime, dtype):
    """visible is stored (no write-noise device), no records, the pulse noise on the tile key."""
    core, gpu, stored0 = _compare(gpu_runtime, "linear_step_mult", dtype, write_noise=None,
                                  record=False, noise_seed=None)
    _assert_same(gpu_runtime, core, gpu, stored0, "linear_step_mult")


def test_write_noise_lands_only_where_pulses_landed(gpu_runtime):
    core, gpu, stored0 = _compare(gpu_runtime, "constant_step", np.float64, bl=1)
    stored, visible, _ = gpu
    pulsed = stored != stored0
    assert 0 < pulsed.sum() < pulsed.size
    np.testing.assert_array_equal(visible[~pulsed], stored0[~pulsed] + 0.01)
    assert (visible[pulsed] != stored[pulsed]).all()


@pytest.mark.parametrize("mode", [0, 1])
def test_no_pulses_records_the_current_columns(gpu_runtime, mode):
    """All bit lengths 0: nothing moves, the records are the current columns (as in the core)."""
    rt = gpu_runtime
    xp = rt.xp
    arr = _device_array("constant_step", 0.3, np.float32)
    X, D, _, A, B = _inputs(np.float32, 10)
    BL = np.zeros(M, dtype=np.int32)
    stored0 = np.random.default_rng(5).uniform(-0.2, 0.2, (D_SIZE, X_SIZE)).astype(np.float32)
    stored, visible = xp.asarray(stored0), xp.asarray(stored0)
    cols = np.array([1, -1, 2, 3, 4, 5, 52], dtype=np.int32)
    rec = xp.zeros((M, D_SIZE), dtype=np.float32)
    up = {"mode": mode, "x_res": 0.0, "d_res": 0.0, "sto_round": 0, "lr_sign": 1}
    update.pulsed_update(rt, stored, visible, xp.asarray(arr.hidden), arr.pulse_index,
                         xp.asarray(X), xp.asarray(D), xp.asarray(BL), xp.asarray(A),
                         xp.asarray(B), up, arr.globals, 1, 2, record_cols=xp.asarray(cols),
                         record_out=rec)
    np.testing.assert_array_equal(to_host(stored), stored0)
    rec = to_host(rec)
    for b, c in enumerate(cols):
        np.testing.assert_array_equal(rec[b], stored0[:, c] if c >= 0 else 0)


def test_bad_input_raises(gpu_runtime):
    rt = gpu_runtime
    xp = rt.xp
    arr = _device_array("constant_step", 0.0, np.float32)
    X, D, BL, A, B = _inputs(np.float32, 10)
    up = {"mode": 0, "x_res": 0.0, "d_res": 0.0, "sto_round": 0, "lr_sign": 1}
    w = xp.zeros((D_SIZE, X_SIZE), dtype=np.float32)
    args = dict(rt=rt, stored=w, visible=w, hidden=xp.asarray(arr.hidden),
                hidden_idx=arr.pulse_index, X=xp.asarray(X), D=xp.asarray(D), BL=xp.asarray(BL),
                A=xp.asarray(A), B=xp.asarray(B), up=up, dev=arr.globals, seed=1, op=0)
    with pytest.raises(TypeError, match="X must be float32"):
        update.pulsed_update(**{**args, "X": xp.asarray(X.astype(np.float64))})
    with pytest.raises(ValueError, match=r"D must have shape \(7, 37\)"):
        update.pulsed_update(**{**args, "D": xp.asarray(D[:, :5])})
    with pytest.raises(TypeError, match="BL must be int32"):
        update.pulsed_update(**{**args, "BL": xp.asarray(BL.astype(np.int64))})
    with pytest.raises(ValueError, match="hidden_idx"):
        update.pulsed_update(**{**args, "hidden_idx": (0, 1, 2)})
    with pytest.raises(ValueError, match="record_cols must be columns < x_size"):
        update.pulsed_update(**args, record_cols=xp.full(M, X_SIZE, dtype=np.int32),
                             record_out=xp.zeros((M, D_SIZE), dtype=np.float32))
    with pytest.raises(ValueError, match="record_cols needs record_out"):
        update.pulsed_update(**args, record_cols=xp.zeros(M, dtype=np.int32))
    if rt.xp is not np:  # a host (NumPy) array where the runtime wants its own arrays
        with pytest.raises(TypeError, match="runtime's array module"):
            update.pulsed_update(**{**args, "A": A})


@pytest.mark.parametrize("threads", [1, 3, 64, 128])
def test_block_size_does_not_change_the_result(gpu_runtime, monkeypatch, threads):
    """The pulses of a (row, sample) are numbered the same whatever the threads of a row block
    (one thread for the whole row, fewer columns than threads, ...): the same weights, as the
    CPU core gives the same for any thread count."""
    monkeypatch.setattr(update, "_row_threads", lambda x_size: threads)
    core, gpu, stored0 = _compare(gpu_runtime, "pow_step", np.float32, bl=40)
    _assert_same(gpu_runtime, core, gpu, stored0, "pow_step")


def test_row_block_never_exceeds_the_scan_buffer():
    """The Python side's thread cap is the kernel's shared scan buffer size."""
    import re
    from pathlib import Path
    text = (Path(update.__file__).parent / "update_kernels.cu").read_text()
    (size,) = re.findall(r"#define RPU_UPDATE_THREADS (\d+)", text)
    assert update._THREADS_MAX == int(size)
    assert max(update._row_threads(n) for n in (0, 1, 53, 1000, 10**6)) == int(size)
    assert min(update._row_threads(n) for n in (0, 1, 53, 1000, 10**6)) >= 1
