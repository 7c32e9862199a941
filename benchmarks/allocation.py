"""Benchmark: a line's minute figures allocated to its lots (core.allocation) against the
plain-Python reference on the same input, after checking that they agree.

A week of one line (10,080 minute buckets, 7 columns) shared by two products made side by
side in 8-hour shifts (42 lots, overlapping in pairs). Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from carbonstream.core.allocation import allocate
from carbonstream.core.allocation_reference import reference_allocate

T0 = 1_790_000_040


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    n = args.days * 1440
    rng = np.random.default_rng(1)
    buckets = np.arange(n, dtype=np.int64) * 60 + T0
    values = rng.uniform(0, 1, size=(n, 7))
    starts, ends, keys = [], [], []
    for shift in range(args.days * 3):
        a = T0 + shift * 8 * 3600
        for offset in (0, 1800):  # the second product starts half an hour later
            starts.append(a + offset)
            ends.append(a + 8 * 3600 + offset)
            keys.append(float(rng.uniform(5, 50)))
    lots = list(zip(starts, ends, keys, strict=True))
    s, e, k = np.array(starts), np.array(ends), np.array(keys)

    got = allocate(buckets, values, s, e, k)
    want, idle = reference_allocate(buckets.tolist(), values.tolist(), lots)
    assert np.allclose(got.lots, np.array(want), rtol=1e-9, atol=1e-9)
    assert np.allclose(got.unallocated, np.array(idle), rtol=1e-9, atol=1e-9)

    t = time.perf_counter()
    reps = 20
    for _ in range(reps):
        allocate(buckets, values, s, e, k)
    fast = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    reference_allocate(buckets.tolist(), values.tolist(), lots)
    slow = time.perf_counter() - t
    cells = n * len(lots)
    print(json.dumps({"bench": "allocation", "metric": "reference_s", "value": slow, "unit": "s"}))
    print(
        json.dumps(
            {
                "bench": "allocation",
                "metric": "allocate_s",
                "value": fast,
                "unit": "s",
                "vs": "reference_s",
                "ratio": slow / fast,
                "minutes": n,
                "lots": len(lots),
                "lot_minute_pairs": cells,
            }
        )
    )


if __name__ == "__main__":
    main()
