"""The timing rule shared by rpu's benchmarks and the aihwkit worker (no rpu or torch imports,
so that the worker can load it under aihwkit's own interpreter)."""
import statistics
import time


def time_calls(fn, warmup=3, repeats=30, max_seconds=3.0, reset=None):
    """Median seconds per call and the number of timed calls: ``warmup`` untimed calls, then up
    to ``repeats`` timed ones (at least 3, fewer if ``max_seconds`` runs out). ``reset``, if
    given, runs untimed before every call (warm-up included; ``max_seconds`` counts it), e.g. to
    put the weights back so that every update does the same work."""
    for _ in range(warmup):
        if reset is not None:
            reset()
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats:
        if reset is not None:
            reset()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return statistics.median(times), len(times)


def budget_calls(fn, reset, first, budget, repeats, warmup):
    """Median seconds per call and the number of timed calls, for a call whose first run from
    the reset state took ``first`` seconds (measured by the caller). Slow calls
    (``4 * first > budget``): that first run is a sample, and more follow while the total stays
    within ``budget`` (at least 1 call in all). Fast calls: ``time_calls`` with ``warmup`` and
    up to ``repeats`` calls, at most ~``budget`` seconds."""
    if 4.0 * first > budget:
        times = [first]
        while len(times) < repeats and sum(times) + statistics.median(times) <= budget:
            reset()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), len(times)
    return time_calls(fn, warmup if first < 1.0 else 0, repeats, budget, reset=reset)
