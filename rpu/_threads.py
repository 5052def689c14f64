"""How many OpenMP threads the CPU core uses (scikit-learn's ``_openmp_effective_n_threads``).

The result never changes any number rpu computes: it only changes how fast. It follows
``OMP_NUM_THREADS`` and ``threadpoolctl``'s OpenMP limits (both act on ``omp_get_max_threads``),
and is capped by the CPUs this process may run on.
"""
import os
import threading

from rpu import _core


def cpu_count():
    """The number of CPUs this process may use (affinity-aware where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def effective_n_threads(n_threads=None):
    """Resolve a thread-count request into the number of OpenMP threads to run.

    Parameters
    ----------
    n_threads : int or None
        None: the OpenMP default (``OMP_NUM_THREADS`` / threadpoolctl), capped by the CPU count.
        A positive count is taken as is; a negative one counts back from the CPU count
        (-1 = all CPUs). Zero is an error. A build without OpenMP always returns 1.
    """
    if n_threads is not None and int(n_threads) == 0:
        raise ValueError("n_threads = 0 is not allowed: give a positive count, a negative count "
                         "(-1 = all CPUs), or None for the OpenMP default.")
    if not _core.openmp_enabled():
        return 1
    if n_threads is None:
        return max(1, min(_core.openmp_max_threads(), cpu_count()))
    n_threads = int(n_threads)
    if n_threads < 0:
        return max(1, cpu_count() + 1 + n_threads)
    return n_threads


# Below about this many element operations a call is faster on one thread: starting and joining
# an OpenMP team costs microseconds, and far more when another process holds the cores.
SMALL_WORK = 1 << 17


def for_work(n_threads, work):
    """``n_threads``, or 1 for a call of fewer than ``SMALL_WORK`` element operations."""
    return 1 if work < SMALL_WORK else n_threads


_BLAS_LIBRARIES = None


def _blas_libraries():
    global _BLAS_LIBRARIES
    if _BLAS_LIBRARIES is None:
        from threadpoolctl import ThreadpoolController
        _BLAS_LIBRARIES = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS_LIBRARIES


class blas_single_thread:
    """Context manager that pins BLAS to one thread while the core runs its OpenMP region.

    The core splits its GEMMs over its own OpenMP threads and calls BLAS inside them; BLAS's
    own worker threads would otherwise compete with OpenMP for the same cores (both spin-wait).
    The BLAS libraries are found once with threadpoolctl and cached; entering and leaving then
    costs a few foreign calls, not a library scan.

    BLAS's thread count is process-wide, so the pin is shared between Python threads: the first
    to enter saves the counts and pins them, the last to leave restores them. (Each saving and
    restoring on its own would let two overlapping tiles leave BLAS pinned to one thread.)
    """

    __slots__ = ()
    _lock = threading.Lock()
    _depth = 0
    _saved = ()

    def __enter__(self):
        cls = blas_single_thread
        with cls._lock:
            if cls._depth == 0:
                cls._saved = [(lib, lib.get_num_threads()) for lib in _blas_libraries()]
                for lib, n in cls._saved:
                    if n != 1:
                        lib.set_num_threads(1)
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = blas_single_thread
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0:
                for lib, n in cls._saved:
                    if n != 1:
                        lib.set_num_threads(n)
                cls._saved = ()
        return False
