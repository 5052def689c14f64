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
