"""Shared timing helpers for the benchmarks: best-of-N wall time and a markdown table."""
import time


def no_sync():
    """The host's synchronize: nothing to wait for."""


def best_time(fn, repeat=5, number=1, warmup=1, sync=no_sync):
    """The fastest of ``repeat`` runs of ``number`` calls, per call, in seconds. ``sync``
    runs before every clock read: on a GPU, the device's synchronize, since kernel launches
    return before the work is done."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
