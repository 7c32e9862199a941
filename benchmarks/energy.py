"""Benchmark: a month of 1-minute data for 2 000 meters through tce, baselines and the
opportunity detectors, in chunks of meters with bounded memory.

Data (generated per chunk, not timed): 30 days x 1 440 minutes x 2 000 meters =
86.4 million meter-minutes of energy per minute (kWh counters as MWh, gas as Nm3,
steam as GJ), process-like loads with noise, a production series shared by all,
1 % of meters with a planted weekend idle load and 1 % with a planted drift.

Timed per chunk, the same steps the API runs on stored data:

1. tce: ``core.energy.tce`` on every meter-minute (equivalent and equal value),
   summed per meter and day;
2. minutes -> 15 minutes -> hours; ``core.opportunities`` idle load and drift on the
   (meter, hour) matrix, demand peaks on the (meter, 15-minute) matrix;
3. baselines: ``core.baseline.fit_many`` of each meter's hourly tce on production.

Baseline, in the same run over the same chunk arrays: a plain numpy memory pass
(``chunk.sum(axis=1)``, reading every value once). Printed: meter-minutes per
second of both, their ratio, peak RSS, and what the detectors found against
what was planted. ``--quick`` shrinks it to a smoke run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carbonstream.config.loader import validate  # noqa: E402
from carbonstream.config.plant import Plant  # noqa: E402
from carbonstream.core import baseline as bl  # noqa: E402
from carbonstream.core import energy as core  # noqa: E402
from carbonstream.core import opportunities as det  # noqa: E402
from carbonstream.core.library import FactorLibrary  # noqa: E402
from carbonstream.core.meters import build_params  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 2, tzinfo=ZONE)  # a Monday


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    row = {"bench": "energy", "metric": metric, "value": value, "unit": unit} | extra
    print(json.dumps(row), flush=True)


def plant(n: int) -> Plant:
    meters: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 20
        base: dict[str, Any] = {"id": f"m{i:05d}", "site": f"s{i % 10}", "measures": "counter"}
        if kind == 0:
            base |= {"kind": "fuel", "fuel": "natural_gas", "unit": "Nm3", "rating": 500}
        elif kind == 1:
            base |= {"kind": "heat_import", "unit": "GJ", "rating": 20}
        else:
            base |= {"kind": "grid_import", "unit": "kWh", "rating": 400}
        meters.append(base)
    data = {
        "name": "bench",
        "sites": [{"id": f"s{i}"} for i in range(10)],
        "meters": meters,
        "energy": {
            "calendar": {
                "shifts": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                            "end": "24:00"}]
            }
        },
    }  # fmt: skip
    return validate(data, Plant, "bench")


def chunk_data(
    rows: np.ndarray, minutes: int, hour: np.ndarray, weekday: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(meter, minute) quantities in canonical units per minute; planted idle, drift."""
    act = np.where(
        weekday >= 5, 0.0, np.where((hour >= 8) & (hour < 16), 1.0, np.where(hour >= 16, 0.6, 0.0))
    )
    scale = rng.uniform(0.05, 0.4, len(rows))[:, None] / 60.0  # canonical unit per minute
    x = np.empty((len(rows), minutes))
    x[:] = 0.03 + 0.8 * act[None, :]
    x *= 1.0 + 0.05 * rng.standard_normal(x.shape)
    x *= scale
    idle = rows % 100 == 7
    drift = rows % 100 == 42
    x[idle] += np.where(weekday >= 5, 0.3, 0.0)[None, :] * scale[idle]
    days = minutes / 1440  # the drift starts at 60 % of the month, over 2 days
    ramp = np.clip((np.arange(minutes) / 1440 - 0.6 * days) / 2, 0, 1)
    x[drift] *= 1.0 + 0.25 * ramp[None, :]
    return x, idle, drift


def memory_pass(x: np.ndarray) -> float:
    t = time.perf_counter()
    x.sum(axis=1)
    return time.perf_counter() - t


def pipeline(
    ep: core.EnergyParams,
    rows: np.ndarray,
    x: np.ndarray,
    on: np.ndarray,
    how: np.ndarray,
    month_q: np.ndarray,
    production: np.ndarray,
    rules: Any,
) -> tuple[float, np.ndarray, np.ndarray]:
    t = time.perf_counter()
    m, minutes = x.shape
    days = minutes // 1440
    # 1. tce of every meter-minute, both ways, summed per meter and day.
    meter = np.repeat(rows, minutes)
    year = np.full(m * minutes, START.year, dtype=np.int64)
    eq, equal = core.tce(ep, meter, x.reshape(-1), year)
    eq.reshape(m, days, 1440).sum(axis=2)
    equal.reshape(m, days, 1440).sum(axis=2)
    del meter, year, equal
    # 2. 15 minutes and hours; the detectors.
    quarters = x.reshape(m, -1, 15).sum(axis=2)
    hours = det.to_hours(quarters)
    idle = det.idle_load(hours, on, rules)
    ref = np.arange(hours.shape[1]) < rules.reference_days * 24
    dr = det.drift(hours, how, ref, rules, exclude=idle.mask)
    det.demand_peaks(quarters * 4000.0, month_q, rules)
    # 3. Baselines: hourly tce of each meter on production.
    tce_h = eq.reshape(m, -1, 60).sum(axis=2)
    bl.fit_many(production, tce_h, "hour")
    return time.perf_counter() - t, np.asarray(idle.mask.any(axis=1)), dr.found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--chunk", type=int, default=100, help="meters per chunk")
    ap.add_argument("--quick", action="store_true", help="100 meters, 7 days: a smoke run")
    a = ap.parse_args()
    if a.quick:
        a.meters, a.days, a.chunk = 100, 14, 50
    p = plant(a.meters)
    ep = core.for_plant(p, build_params(p, FactorLibrary.load()).canonical_unit)
    rules = p.energy.opportunities.model_copy(update={"reference_days": min(14, a.days // 2)})
    minutes = a.days * 1440
    t0_ns = int(START.timestamp()) * 1_000_000_000
    ch = det.clock(t0_ns, a.days * 24, 3600, ZONE)
    cq = det.clock(t0_ns, a.days * 96, 900, ZONE)
    assert p.energy.calendar is not None
    on = det.producing(ch, p.energy.calendar)
    minute_of = np.arange(minutes)
    hour = (minute_of // 60) % 24
    weekday = (minute_of // 1440 + START.weekday()) % 7
    production = np.where(on, 10.0, 0.5) * (
        1 + 0.05 * np.random.default_rng(1).standard_normal(len(on))
    )
    rng = np.random.default_rng(7)
    ours = base = 0.0
    hits = {"idle_found": 0, "idle_planted": 0, "idle_false": 0,
            "drift_found": 0, "drift_planted": 0, "drift_false": 0}  # fmt: skip
    for lo in range(0, a.meters, a.chunk):
        rows = np.arange(lo, min(lo + a.chunk, a.meters))
        x, idle_rows, drift_rows = chunk_data(rows, minutes, hour, weekday, rng)
        base += memory_pass(x)
        took, idle, drift = pipeline(ep, rows, x, on, ch.hour_of_week, cq.month, production, rules)
        ours += took
        for kind, got, want in (("idle", idle, idle_rows), ("drift", drift, drift_rows)):
            hits[f"{kind}_found"] += int((got & want).sum())
            hits[f"{kind}_planted"] += int(want.sum())
            hits[f"{kind}_false"] += int((got & ~want).sum())
        base += memory_pass(x)  # twice, around ours: both see the same machine state
        del x
    base /= 2
    n = a.meters * minutes
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("meter_minutes", n, "meter-minutes", meters=a.meters, days=a.days, chunk=a.chunk)
    emit("pipeline_meter_minutes_per_s", n / ours, "1/s", seconds=round(ours, 2))
    emit("memory_pass_meter_minutes_per_s", n / base, "1/s", seconds=round(base, 3))
    emit(
        "pipeline_vs_memory_pass",
        ours / base,
        "x",
        vs="memory_pass_meter_minutes_per_s",
        ratio=round(ours / base, 1),
    )
    emit(
        "peak_rss_mb",
        round(rss_mb, 1),
        "MB",
        chunk_array_mb=round(a.chunk * minutes * 8 / 2**20, 1),
    )
    emit("planted_found", hits["idle_found"] + hits["drift_found"], "meters", **hits)


if __name__ == "__main__":
    main()
