"""Benchmark: the accounting core on 10 M readings over 10 000 meters.

Streams the readings through ``Engine.process`` in batches (the shape ingest
uses) into 1-minute buckets per site and scope, and measures in the same run:
- the plain-Python reference on a sample (the baseline the core must beat 10x),
- a memory pass (``np.sum`` over the same input arrays), the bandwidth floor.
Before timing anything it checks that the core and the reference agree on the
sample, so a fast wrong core cannot pass.

Prints one JSON object per line. ``--readings`` and ``--meters`` shrink the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, EngineState, FactorLibrary, ReadingBatch, reference

NS = 1_000_000_000
T0 = 1_780_000_000 * NS  # 2026-05-28 UTC


def make_plant(n_meters: int, n_sites: int) -> Plant:
    meters: list[dict[str, Any]] = []
    for i in range(n_meters):
        site = f"site{i % n_sites:03d}"
        if i % 5 == 4:  # one meter in five burns natural gas
            meters.append(
                {
                    "id": f"m{i:05d}",
                    "site": site,
                    "kind": "fuel",
                    "fuel": "natural_gas",
                    "measures": "counter",
                    "unit": "Nm3",
                    "rating": 500.0,
                    "counter_range": 100_000_000.0,
                }
            )
        else:
            meters.append(
                {
                    "id": f"m{i:05d}",
                    "site": site,
                    "kind": "grid_import",
                    "measures": "counter",
                    "unit": "kWh",
                    "rating": 2000.0,
                    "counter_range": 1_000_000.0,
                }
            )
    data = {
        "name": "benchmark plant",
        "timezone": "Asia/Shanghai",
        "sites": [{"id": f"site{s:03d}"} for s in range(n_sites)],
        "meters": meters,
        "instruments": [
            {
                "id": "gec",
                "type": "gec",
                "site": "site000",
                "mwh": 5,
                "generation": {"start": "2026-01-01", "end": "2026-12-31"},
            }
        ],
    }
    return validate(data, Plant, "benchmark")


def make_readings(n: int, n_meters: int, seed: int = 1) -> ReadingBatch:
    """Time-ordered, meters interleaved, 1 s apart per meter; ~1 % of meters roll
    over during the run and about 1 reading in 100 000 is a counter reset."""
    rng = np.random.default_rng(seed)
    per_meter = n // n_meters
    meter = np.tile(np.arange(n_meters, dtype=np.int32), per_meter)
    step = np.repeat(np.arange(per_meter, dtype=np.int64), n_meters)
    ts = T0 + step * NS + meter.astype(np.int64) * 37_000  # sub-second skew between meters
    inc = rng.uniform(0.0, 0.12, size=(per_meter, n_meters))  # kWh or Nm3 per second
    value = np.cumsum(inc, axis=0)
    start = rng.uniform(0, 500_000, n_meters)
    near_wrap = rng.random(n_meters) < 0.01
    start[near_wrap] = 1_000_000.0 - rng.uniform(1, 50, near_wrap.sum())
    value += start
    gas = np.arange(n_meters) % 5 == 4
    value[:, ~gas] %= 1_000_000.0
    flat = value.reshape(-1)
    resets = rng.random(flat.size) < 1e-5
    flat[resets] = 0.0
    return ReadingBatch.of(meter, ts, flat)


def run_core(engine: Engine, batch: ReadingBatch, size: int) -> EngineState:
    state = engine.new_state()
    for lo in range(0, len(batch), size):
        engine.process(batch.take(slice(lo, lo + size)), state)
    return state


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _bind(fn: Callable[..., object], *args: object) -> Callable[[], object]:
    return lambda: fn(*args)


def emit(metric: str, value: float, unit: str = "1/s", **extra: Any) -> None:
    print(json.dumps({"bench": "core", "metric": metric, "value": value, "unit": unit} | extra))


def check_against_reference(plant: Plant, lib: FactorLibrary, sample: ReadingBatch) -> None:
    engine = Engine(plant, lib)
    state = engine.new_state()
    s1 = s2 = 0.0
    for lo in range(0, len(sample), 10_000):
        r = engine.process(sample.take(slice(lo, lo + 10_000)), state)
        s1 += float(r.sites.values["scope1_t"].sum())
        s2 += float(r.sites.values["scope2_location_t"].sum())
    ids = engine.params.ids
    rows = [
        (ids[m], int(t), float(v), 0)
        for m, t, v in zip(sample.meter, sample.ts, sample.value, strict=True)
    ]
    ref = reference.account(plant, lib, rows)
    for got, want in ((s1, ref.total("scope1_t")), (s2, ref.total("scope2_location_t"))):
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            raise SystemExit(f"core and reference disagree: {got} vs {want}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=10_000_000)
    ap.add_argument("--meters", type=int, default=10_000)
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--sample", type=int, default=100_000, help="readings for the reference")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    plant = make_plant(args.meters, args.sites)
    lib = FactorLibrary.load()
    batch = make_readings(args.readings, args.meters)
    n = len(batch)

    sample_meters = max(1, args.sample * args.meters // max(n, 1))
    keep = batch.meter < sample_meters
    sample = batch.take(np.flatnonzero(keep)[: args.sample])
    check_against_reference(plant, lib, sample)

    engine = Engine(plant, lib)
    engine.check_factors(2026)
    results = {}
    for size in (100_000, 10_000):
        t = timed(_bind(run_core, engine, batch, size), args.repeat)
        results[size] = n / t
        emit(
            "readings_per_s" if size == 100_000 else f"readings_per_s_batch_{size // 1000}k",
            n / t,
            batch=size,
            readings=n,
            meters=args.meters,
        )

    ids = engine.params.ids
    rows = [
        (ids[m], int(t), float(v), 0)
        for m, t, v in zip(sample.meter, sample.ts, sample.value, strict=True)
    ]
    t_ref = timed(lambda: reference.account(plant, lib, rows), 1)
    ref_rate = len(rows) / t_ref
    t_core_sample = timed(lambda: run_core(engine, sample, 10_000), args.repeat)
    core_sample = len(rows) / t_core_sample
    emit("reference_readings_per_s", ref_rate, sample=len(rows))
    emit(
        "readings_per_s",
        results[100_000],
        vs="reference_readings_per_s",
        ratio=results[100_000] / ref_rate,
    )
    emit(
        "sample_readings_per_s",
        core_sample,
        vs="reference_readings_per_s",
        ratio=core_sample / ref_rate,
        sample=len(rows),
    )

    arrays = (batch.meter, batch.ts, batch.value)
    t_mem = timed(lambda: [a.sum() for a in arrays], max(3, args.repeat))
    mem_rate = n / t_mem
    emit("memory_pass_readings_per_s", mem_rate, bytes_per_reading=sum(a.itemsize for a in arrays))
    emit(
        "readings_per_s",
        results[100_000],
        vs="memory_pass_readings_per_s",
        ratio=results[100_000] / mem_rate,
    )


if __name__ == "__main__":
    main()
