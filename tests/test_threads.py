"""Thread-count resolution and BLAS pinning (the numbers never depend on either)."""
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rpu import _core, _threads


def test_effective_n_threads_semantics():
    n_cpu = _threads.cpu_count()
    if not _core.openmp_enabled():
        assert _threads.effective_n_threads(4) == 1
        return
    assert _threads.effective_n_threads(3) == 3
    assert _threads.effective_n_threads(-1) == n_cpu
    assert _threads.effective_n_threads(-n_cpu - 5) == 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _threads.effective_n_threads() == 1
    assert 1 <= _threads.effective_n_threads() <= n_cpu
    with pytest.raises(ValueError, match="n_threads = 0"):
        _threads.effective_n_threads(0)


def test_blas_single_thread_pins_and_restores():
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    with _threads.blas_single_thread():
        inside = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert all(n == 1 for n in inside)
    after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert after == before
