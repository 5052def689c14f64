"""rpu.inference.compensation: the three drift compensations of aihwkit 1.1.0 (spec 4.5, 4.6).

Global (one factor), GlobalWithExactReference (the same, baseline from the exact read-out) and
PerColumn (one factor per output), against NumPy references; the noise-free drift of
aihwkit's ``test_drift_compensation`` undone exactly; bad input.
"""
import numpy as np
import pytest

import rpu.inference as inf
from rpu.config import (
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PCMLikeNoiseModel,
    PerColumnDriftCompensation,
    StateIndependentNoiseModel,
)
from rpu.inference import compensation as comp

KEY = 0xC0FFEE
ALL = [GlobalDriftCompensation(), GlobalDriftCompensationWithExactReference(),
       PerColumnDriftCompensation()]


def test_uses_exact_reference():
    assert [comp.uses_exact_reference(dc) for dc in ALL] == [False, True, False]
    with pytest.raises(TypeError, match="drift_compensation"):
        comp.uses_exact_reference(PCMLikeNoiseModel())


@pytest.mark.parametrize("dc", ALL, ids=lambda d: type(d).__name__)
def test_readout_tensor_is_eye(dc):
    np.testing.assert_array_equal(comp.get_readout_tensor(dc, 5), np.eye(5, dtype=np.float32))
    assert comp.get_readout_tensor(dc, 3, np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="in_size"):
        comp.get_readout_tensor(dc, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_column_readout_and_alpha(dtype):
    dc = PerColumnDriftCompensation()
    w = np.random.default_rng(1).normal(0, 0.5, (6, 9)).astype(dtype)
    w[2] = 0.0  # an all-zero output: floored at 1e-4
    base = comp.init_baseline(dc, lambda x: x @ w.T, in_size=9, dtype=dtype)
    assert isinstance(base, np.ndarray) and base.shape == (6,) and base.dtype == dtype
    ref = np.maximum(np.abs(w).mean(axis=1), 1e-4)
    np.testing.assert_allclose(base, ref, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert base[2] == dtype(1e-4)
    scale = np.linspace(0.5, 1.0, 6)
    w_t = (w * scale[:, None]).astype(dtype)
    alpha = comp.apply(dc, lambda x: x @ w_t.T, base, in_size=9, dtype=dtype)
    assert alpha.shape == (6,) and alpha.dtype == dtype
    expect = ref / np.maximum(np.abs(w_t).mean(axis=1), 1e-4)
    np.testing.assert_allclose(alpha, expect, rtol=1e-5 if dtype == np.float32 else 1e-13)
    # the per-column factors undo a per-row drift exactly (the zero row aside)
    x = np.random.default_rng(2).normal(size=(4, 9))
    np.testing.assert_allclose(alpha * (x @ w_t.T), x @ w.T, rtol=2e-5, atol=1e-6)


def test_global_types_return_floats():
    w = np.random.default_rng(3).normal(size=(4, 7))
    for dc in ALL[:2]:
        base = comp.init_baseline(dc, w.T)  # outputs given directly: (in_size, out_size)
        assert isinstance(base, float) and base == pytest.approx(np.abs(w).mean(), rel=1e-12)
        alpha = comp.apply(dc, 0.5 * w.T, base)
        assert isinstance(alpha, float) and alpha == pytest.approx(2.0, rel=1e-12)
        with pytest.raises(ValueError, match="ref_value must be a number"):
            comp.apply(dc, w.T, np.ones(4))


def test_every_type_undoes_a_uniform_drift():
    # aihwkit's test_drift_compensation: StateIndependent, no programming/read noise, one nu;
    # with the exact reference the compensated output equals the target output
    m = StateIndependentNoiseModel(prog_noise_scale=0.0, read_noise_scale=0.0, drift_nu_std=0.0,
                                   drift_nu_mean=0.1)
    w = np.random.default_rng(4).uniform(-1, 1, (5, 8))
    w_prog, nu = inf.apply_programming_noise(m, w, KEY, 0)
    w_t = inf.apply_drift_noise(m, w_prog, nu, 1000.0, KEY, 1)
    x = np.random.default_rng(5).normal(size=(3, 8))
    for dc in ALL:
        base = comp.init_baseline(dc, lambda v: v @ w.T, in_size=8, dtype=np.float64)
        alpha = comp.apply(dc, lambda v: v @ w_t.T, base, in_size=8, dtype=np.float64)
        np.testing.assert_allclose(alpha * (x @ w_t.T), x @ w.T, rtol=1e-10)
        assert not np.allclose(x @ w_t.T, x @ w.T, rtol=1e-3)


def test_bad_input():
    dc = PerColumnDriftCompensation()
    y = np.abs(np.random.default_rng(6).normal(size=(5, 3)))
    with pytest.raises(ValueError, match="2-D"):
        comp.readout(dc, np.ones(4))
    with pytest.raises(ValueError, match="one entry per output"):
        comp.apply(dc, y, np.ones(4))
    with pytest.raises(ValueError, match="finite values > 0"):
        comp.apply(dc, y, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        comp.readout(dc, np.array([[np.nan]]))
    with pytest.raises(ValueError, match="non-empty"):
        comp.readout(GlobalDriftCompensation(), np.zeros((0, 3)))
