"""Plain-Python reference of :func:`carbonstream.core.allocation.allocate` (the oracle the
property test and the benchmark compare the vectorized allocation with): a loop over
minutes and lots, written to be read, not to be fast."""

from __future__ import annotations


def reference_allocate(
    buckets: list[int], values: list[list[float]], lots: list[tuple[int, int, float]]
) -> tuple[list[list[float]], list[float]]:
    """Plain Python: per minute, each lot gets key x overlap / duration of the minute's share."""
    n_cols = len(values[0]) if values else 0
    out = [[0.0] * n_cols for _ in lots]
    idle = [0.0] * n_cols
    for m, t in enumerate(buckets):
        weights = []
        for start, end, key in lots:
            overlap = max(0, min(end, t + 60) - max(start, t))
            weights.append(key * overlap / (end - start))
        total = sum(weights)
        for c in range(n_cols):
            if total <= 0:
                idle[c] += values[m][c]
                continue
            for i, w in enumerate(weights):
                out[i][c] += values[m][c] * w / total
    return out, idle
