"""Benchmark: what the ledger part (matching, offsets, net) adds to ``carbonstream compute``.

On the example plant and readings (three days, nine meters, a PPA with an hourly
profile, three offset holdings), measures in the same run the report without the
ledger part (the baseline: buckets, totals, meters, instruments, lineage, quality,
energy) and with it, and the annual vs hourly matching of one site over a year of
hours (8 760) with an hourly profile per hour. Median of ``--repeat`` runs.

Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from carbonstream import report, report_ledger
from carbonstream.compute import compute_file
from carbonstream.ledger.matching import InstrumentHours, match_site

ROOT = Path(__file__).resolve().parents[1]


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    acc = compute_file(ROOT / "config/plant.example.yaml", ROOT / "config/readings.example.csv")
    span = report_ledger.span_ns
    with_ledger = median_s(lambda: report.build(acc, "day"), args.repeat)
    report_ledger.span_ns = lambda _acc: None  # type: ignore[assignment]
    try:
        without = median_s(lambda: report.build(acc, "day"), args.repeat)
    finally:
        report_ledger.span_ns = span
    print(
        json.dumps(
            {
                "bench": "compute_inventory",
                "metric": "report_with_ledger_s",
                "value": with_ledger,
                "unit": "s",
                "vs": "report_without_ledger_s",
                "ratio": with_ledger / without,
            }
        )
    )
    print(
        json.dumps(
            {
                "bench": "compute_inventory",
                "metric": "report_without_ledger_s",
                "value": without,
                "unit": "s",
            }
        )
    )
    rng = np.random.default_rng(7)
    cons = rng.uniform(0, 3, 8760)
    ef = np.full(8760, 0.6096)
    profile = rng.uniform(0, 2, 8760)
    ins = [InstrumentHours(float(profile.sum()), 0.0, profile), InstrumentHours(500.0, 0.0, None)]
    year = median_s(lambda: match_site(cons, ef, ins), args.repeat)
    print(
        json.dumps(
            {
                "bench": "compute_inventory",
                "metric": "match_site_8760_hours_s",
                "value": year,
                "unit": "s",
            }
        )
    )


if __name__ == "__main__":
    main()
