"""The counter-based RNG: Philox-4x32-10 known answers, exact uniforms, normal statistics, purity."""
import re
from pathlib import Path

import numpy as np
import pytest

from rpu import _core
from rpu._rng import Purpose, resolve_seed

KERNELS = Path(__file__).resolve().parents[1] / "rpu" / "_kernels"

# Random123's published known-answer vectors for philox4x32_10 (kat_vectors).
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers(ctr, key, expected):
    out = _core.philox4x32_10(np.array(ctr, np.uint32), np.array(key, np.uint32))
    assert [int(v) for v in out] == expected


def _philox_py(ctr, key):
    """An independent Python Philox-4x32-10, used to check the lane layout of the fills."""
    c, k = list(ctr), list(key)
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k[0]) & 0xFFFFFFFF, p1 & 0xFFFFFFFF,
             ((p0 >> 32) ^ c[3] ^ k[1]) & 0xFFFFFFFF, p0 & 0xFFFFFFFF]
        k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
    return c


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_fill_is_exact_and_laid_out_by_counter(dtype):
    seed, op, purpose, sub = 0x1234_5678_9ABC_DEF0, 77, int(Purpose.OUT_STO_ROUND), 5
    out = np.empty((3, 9), dtype=dtype)
    _core.uniform_fill(out, seed, op, purpose, sub, 2)
    key = [seed & 0xFFFFFFFF, seed >> 32]
    for row in range(3):
        for col in range(9):
            ctr = [col >> 2, row, op, (purpose << 24) | sub]
            r = _philox_py(ctr, key)[col & 3]
            assert out[row, col] == dtype((r >> 8) * 2.0**-24)


@pytest.mark.parametrize("isa", [0, 1, 2], ids=["portable", "avx2", "avx512"])
@pytest.mark.parametrize("lanes_on_c1", [False, True])
def test_philox_block_versions_match_the_bijection(isa, lanes_on_c1):
    """Every version of the core's block loop (the portable one, and the AVX2 and AVX-512F
    intrinsics where this CPU has them) gives the words of the bijection, whole vectors and
    remainders alike, with counters that wrap at 2^32."""
    seed, op, purpose, sub = 0xFEDC_BA98_7654_3210, 2**33 + 7, int(Purpose.PULSE_NOISE), 0x123456
    c0, c1 = 0xFFFF_FFF0, 12345
    key = [seed & 0xFFFFFFFF, seed >> 32]
    for n in (1, 3, 4, 7, 8, 9, 17, 33):
        got = _core.philox_blocks(n, seed, c0, c1, lanes_on_c1, op, purpose, sub, isa)
        if got is None:
            pytest.skip(f"this CPU or build has no version {isa}")
        for b in range(n):
            ctr = [(c0 + (0 if lanes_on_c1 else b)) & 0xFFFFFFFF,
                   (c1 + (b if lanes_on_c1 else 0)) & 0xFFFFFFFF,
                   op & 0xFFFFFFFF, (purpose << 24) | sub]
            assert [int(v) for v in got[b]] == _philox_py(ctr, key), (n, b)


def test_philox_blocks_refuses_unknown_versions():
    with pytest.raises(ValueError, match="isa must be"):
        _core.philox_blocks(4, 1, 0, 0, False, 0, 0, 0, 3)
    with pytest.raises(ValueError, match="n_blocks must be"):
        _core.philox_blocks(-1, 1, 0, 0, False, 0, 0, 0, 0)


def test_uniform_statistics():
    out = np.empty((200, 1000))
    _core.uniform_fill(out, 42, 1, 1, 0, 2)
    assert out.min() >= 0 and out.max() < 1
    # mean of 2e5 U(0,1): sd 0.00065; variance 1/12
    assert abs(out.mean() - 0.5) < 0.004
    assert abs(out.var() - 1 / 12) < 0.002
    # exactly representable on a 2^-24 grid
    assert np.all((out * 2.0**24) == np.floor(out * 2.0**24))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_statistics(dtype):
    out = np.empty((400, 1000), dtype=dtype)
    _core.normal_fill(out, 7, 3, int(Purpose.OUT_NOISE), 0, 2)
    x = out.astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.std() - 1) < 5 * np.sqrt(0.5 / n)
    # tails: P(|x| > 2) = 0.0455
    tail = np.mean(np.abs(x) > 2)
    assert abs(tail - 0.0455) < 5 * np.sqrt(0.0455 * 0.9545 / n)
    # neighbouring lanes are uncorrelated (Box-Muller pairs share a radius)
    pairs = x.reshape(-1, 2)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 5 / np.sqrt(n / 2)


def test_draws_are_pure_functions_of_their_counter():
    a = np.empty((50, 37))
    b = np.empty((50, 37))
    _core.normal_fill(a, 9, 5, 3, 0, 1)
    _core.normal_fill(b, 9, 5, 3, 0, 2)
    assert np.array_equal(a, b)
    # a sub-block of rows draws the same numbers as the full array's first rows
    c = np.empty((10, 37))
    _core.normal_fill(c, 9, 5, 3, 0, 2)
    assert np.array_equal(a[:10], c)
    # any change of seed, op, purpose or sub changes the numbers
    for args in [(10, 5, 3, 0), (9, 6, 3, 0), (9, 5, 4, 0), (9, 5, 3, 1)]:
        d = np.empty((50, 37))
        _core.normal_fill(d, *args, 2)
        assert np.mean(a == d) < 0.01


def test_purpose_registry_matches_header():
    text = (KERNELS / "rng_ids.h").read_text()
    ids = {m.group(1): int(m.group(2)) for m in re.finditer(r"RPU_RNG_(\w+)\s*=\s*(\d+)", text)}
    assert ids == {p.name: int(p) for p in Purpose}
    assert len(set(ids.values())) == len(ids)


def test_resolve_seed():
    s, k = resolve_seed(123)
    assert s == 123 and resolve_seed(123)[1] == k and resolve_seed(124)[1] != k
    assert 0 <= k < 2**64
    s1, _ = resolve_seed(None)
    s2, _ = resolve_seed(None)
    assert s1 != s2 and resolve_seed(s1)[0] == s1
    with pytest.raises(ValueError, match="seed"):
        resolve_seed(-1)
    with pytest.raises(TypeError, match="seed"):
        resolve_seed(1.5)
    with pytest.raises(TypeError, match="seed"):
        resolve_seed(True)


def test_normals_are_box_muller_of_the_same_words():
    """normal_fill = Box-Muller (float64 reference) of the uniforms of the same counters.

    Element c of a row takes lane c & 3 of block c >> 2; lanes (0, 1) and (2, 3) are the pairs,
    so the uniforms of the same (seed, op, purpose, sub) give the reference directly. This checks
    rpu's polynomial log and sincos (normal.h) over 4e5 draws.
    """
    seed, op, purpose, sub = 2024, 9, int(Purpose.OUT_NOISE), 3
    u = np.empty((100, 4000))
    z = np.empty((100, 4000), dtype=np.float32)
    _core.uniform_fill(u, seed, op, purpose, sub, 2)
    _core.normal_fill(z, seed, op, purpose, sub, 2)
    u1 = u[:, 0::2] + 2.0**-24          # the (0, 1] uniform of each pair
    u2 = u[:, 1::2]
    rad = np.sqrt(-2 * np.log(u1))
    ref = np.empty_like(u)
    ref[:, 0::2] = rad * np.cos(2 * np.pi * u2)
    ref[:, 1::2] = rad * np.sin(2 * np.pi * u2)
    err = np.abs(z - ref)
    # float32 arithmetic on values up to 5.8, plus the polynomial error (measured: 4e-7)
    assert err.max() < 1e-6
    assert np.median(err) < 1e-7
    # float64 tiles use the same float32 normals
    z64 = np.empty((100, 4000))
    _core.normal_fill(z64, seed, op, purpose, sub, 2)
    assert np.array_equal(z64, z.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_rows_of_any_width_are_prefixes_of_one_another(dtype):
    """A row's normals depend on their column alone: widths that end inside a block of four
    (the last block drawn whole, kept in part) give the first columns of a wider row."""
    seed, op, purpose, sub = 77, 3, int(Purpose.WRITE_NOISE), 1
    wide = np.empty((3, 40), dtype=dtype)
    _core.normal_fill(wide, seed, op, purpose, sub, 1)
    for n in (1, 2, 3, 5, 6, 7, 33):
        z = np.full((3, n), np.nan, dtype=dtype)
        _core.normal_fill(z, seed, op, purpose, sub, 1)
        assert np.array_equal(z, wide[:, :n]), n
