"""Tiles too large for memory fail up front with rpu.TileMemoryError (a MemoryError)."""
import numpy as np
import pytest

import rpu
from rpu.config import (DigitalRankUpdateRPUConfig, InferenceRPUConfig, LinearStepDevice,
                        MixedPrecisionCompound, OneSidedUnitCell, SingleRPUConfig, SoftBoundsDevice,
                        UnitCellRPUConfig, build_config)
from rpu.tiles import _checks
from rpu.tiles._device_tile import count_arrays_of_shape


@pytest.mark.parametrize("make, name", [
    (lambda: rpu.AnalogTile(10**6, 2 * 10**6), r"AnalogTile\(1000000, 2000000\)"),
    (lambda: rpu.FloatingPointTile(10**6, 10**6, dtype=np.float64), r"FloatingPointTile\(1000000, 1000000\)"),
    (lambda: rpu.InferenceTile(3 * 10**5, 10**6, bias=True), r"InferenceTile\(300000, 1000000\)"),
    (lambda: rpu.TileArray(10**6, 10**6, InferenceRPUConfig()), r"TileArray\(1000000, 1000000\)"),
], ids=["analog", "fp64", "inference", "array"])
def test_absurd_tiles_are_refused_before_allocating(make, name):
    with pytest.raises(rpu.TileMemoryError, match=name + r" needs about [0-9.]+ GiB .* only [0-9.]+ GiB"):
        make()
    assert issubclass(rpu.TileMemoryError, MemoryError)


def test_the_check_compares_the_estimate_with_what_is_available():
    shape, dt = (1000, 2000), np.float32
    need = 1000 * 2000 * 4 * 9
    assert _checks.check_memory("t", shape, dt, 9, available=need) == need
    with pytest.raises(rpu.TileMemoryError, match=r"9 array\(s\) of shape \(1000, 2000\) in float32"):
        _checks.check_memory("t", shape, dt, 9, available=need - 1)


def test_the_check_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("RPU_SKIP_MEMORY_CHECK", "1")
    _checks.check_memory("t", (10**6, 10**6), np.float64, 3, available=1)
    monkeypatch.setenv("RPU_SKIP_MEMORY_CHECK", "0")
    with pytest.raises(rpu.TileMemoryError):
        _checks.check_memory("t", (10**6, 10**6), np.float64, 3, available=1)


def test_small_tiles_do_not_read_the_system(monkeypatch):
    def fail():
        raise AssertionError("read /proc/meminfo for a small tile")
    monkeypatch.setattr(_checks, "available_memory_bytes", fail)
    rpu.AnalogTile(64, 64)
    rpu.TileArray(100, 100)


def test_available_memory_is_read():
    avail = _checks.available_memory_bytes()
    assert avail is None or avail > 0


@pytest.mark.parametrize("make", [
    lambda: rpu.AnalogTile(4, 5, SingleRPUConfig(device=SoftBoundsDevice())),
    lambda: rpu.AnalogTile(4, 5, SingleRPUConfig(device=LinearStepDevice(write_noise_std=0.2)), bias=True),
    lambda: rpu.AnalogTile(4, 5, build_config("c-ttv2", SoftBoundsDevice())),
    lambda: rpu.AnalogTile(4, 5, build_config("mixed-precision", SoftBoundsDevice())),
    lambda: rpu.FloatingPointTile(4, 5),
    lambda: rpu.InferenceTile(4, 5),
], ids=["softbounds", "write-noise", "c-ttv2", "mixed-precision", "fp", "inference"])
def test_the_estimate_never_exceeds_what_the_tile_keeps(make):
    """A lower bound: the check must never refuse a tile that would fit."""
    tile = make()
    weight_sized = [a for a in tile._state_arrays().values() if np.shape(a) == (tile.d_size, tile.x_size)]
    assert 1 <= tile._weight_sized_arrays() <= len(weight_sized)


_CELLS = {
    "one-sided": lambda: UnitCellRPUConfig(device=OneSidedUnitCell(unit_cell_devices=[SoftBoundsDevice()])),
    "agad": lambda: build_config("agad", SoftBoundsDevice()),
    "c-ttv2": lambda: build_config("c-ttv2", SoftBoundsDevice()),
    "mp": lambda: build_config("mp", SoftBoundsDevice()),
    "mp-one-sided": lambda: DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(
        device=OneSidedUnitCell(unit_cell_devices=[SoftBoundsDevice()]))),
    "write-noise": lambda: SingleRPUConfig(device=LinearStepDevice(write_noise_std=0.2)),
}


@pytest.mark.parametrize("name", list(_CELLS))
def test_the_exact_count_is_what_the_tile_keeps(name):
    """The quick count from the config missed the one-sided cell's second device (12 of 23
    arrays), the compounds' buffers and the mixed-precision device's own weights."""
    tile = rpu.AnalogTile(7, 5, _CELLS[name](), seed=1)
    held = 1 + count_arrays_of_shape(tile._devices, (7, 5))
    assert tile._weight_sized_arrays(exact=True) == held
    saved = sum(np.size(a) for a in tile._state_arrays().values()
                if np.ndim(a) >= 2 and np.shape(a)[-2:] == (7, 5)) // 35
    assert held == saved  # the saved state holds the same arrays


def test_a_large_one_sided_tile_is_checked_with_its_exact_count(monkeypatch):
    n = 2048  # 16 MiB per float32 array: 23 arrays need 368 MiB, the quick count said 192
    need = n * n * 4 * 23
    monkeypatch.setattr(_checks, "available_memory_bytes", lambda: need - 1)
    with pytest.raises(rpu.TileMemoryError, match=r"23 array\(s\) of shape \(2048, 2048\)"):
        rpu.AnalogTile(n, n, _CELLS["one-sided"]())
