"""A small plant simulated with planted waste (or clean), run through the engine, for the
opportunity and baseline tests: the same readings -> engine -> lines path as compute."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.compute import Account, concat_parts, run
from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, FactorLibrary, ReadingBatch
from carbonstream.core.calendar import to_calendar
from carbonstream.core.energy import for_plant
from carbonstream.energy.baselines import Temperatures, temperatures
from carbonstream.energy.opportunities import Window, window_from_lines
from carbonstream.energy.tce import Lines
from carbonstream.sim.patterns import Pattern, WeatherLoad
from carbonstream.sim.readings import SimOptions, simulate

START = dt.datetime(2026, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Monday
DAYS = 28
COMPRESSOR_WEEKEND_KW = 40.0
CHILLER_DRIFT = 0.20  # +20 % of its load
DRIFT_START_DAY = 16
# The weather variant: an HVAC load of 40 kW per °C the outdoor air is above 18 °C.
HVAC_KW_PER_DEGC = 40.0
COOLING_BASE_C = 18.0
WEATHER = (WeatherLoad("hvac", kw_per_degc=HVAC_KW_PER_DEGC, base_c=COOLING_BASE_C),)


def patterns(start: dt.datetime) -> tuple[Pattern, ...]:
    return (
        Pattern("weekend_idle", "compressor", kw=COMPRESSOR_WEEKEND_KW),
        Pattern(
            "drift",
            "chiller",
            start=start + dt.timedelta(days=DRIFT_START_DAY),
            ramp_days=2,
            fraction=CHILLER_DRIFT,
        ),
        Pattern("batch", "furnace", kw=400.0, at_hour=10, hours=2),
    )


PATTERNS = patterns(START)


def plant_data(weather: bool = False) -> dict[str, Any]:
    """The sim plant; ``weather`` adds an outdoor temperature meter, an HVAC load that
    follows it, and cooling degree days as a baseline driver of the site."""

    def m(id: str, kind: str = "grid_import", **kw: Any) -> dict[str, Any]:
        return {"id": id, "site": "hall", "kind": kind, "measures": "counter", "unit": "kWh"} | kw

    data: dict[str, Any] = {
        "name": "sim plant",
        "timezone": "Asia/Shanghai",
        "grid_region": "CN",
        "sites": [{"id": "hall"}],
        "meters": [
            m("hall-grid", rating=1500),
            m("compressor", rating=120, line="line-1"),
            m("chiller", rating=300),
            m("furnace", rating=500),
            m("boiler", "fuel", fuel="natural_gas", unit="Nm3", rating=300),
            m("output", "production", unit="t", rating=10, line="line-1"),
        ],
        "energy": {
            "calendar": {
                "shifts": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                            "end": "24:00"}]
            },
            "tariffs": {"electricity_yuan_per_kwh": 0.8, "demand_yuan_per_kw_month": 40,
                        "natural_gas_yuan_per_nm3": 3.5},
            "flexible_loads": [{"id": "batch", "site": "hall", "meter": "furnace", "kw": 400,
                                "hours": 2, "earliest": "00:00", "latest_end": "24:00"}],
            "significant_uses": [{"id": "hall", "site": "hall",
                                  "meters": ["hall-grid", "boiler"]}],
            "baseline": {"start": "2026-10-05", "end": "2026-10-18", "interval": "hour"},
        },
    }  # fmt: skip
    if weather:
        data["meters"] += [
            m("hvac", rating=1000),
            m("outdoor", "temperature", measures="rate", unit="degC", rating=60),
        ]
        data["energy"]["baseline"]["degree_days"] = [
            {"site": "hall", "meter": "outdoor", "cooling_base_c": COOLING_BASE_C}
        ]
    return data


@dataclass
class Sim:
    plant: Plant
    acc: Account
    window: Window

    def meter_energy(self, meter: str, lo_h: int = 0, hi_h: int = DAYS * 24) -> float:
        """Canonical quantity of a meter between two hours of the run."""
        i = self.plant.meters.index(next(x for x in self.plant.meters if x.id == meter))
        m = concat_parts(self.acc.line_meter, np.int32)
        b = concat_parts(self.acc.line_bucket, np.int64)
        q = concat_parts(self.acc.line_qty, np.float64)
        h = (b - int(START.timestamp()) * 1_000_000_000) // 3_600_000_000_000
        return float(q[(m == i) & (h >= lo_h) & (h < hi_h)].sum())


def sim_batch(
    clean: bool,
    seed: int = 11,
    days: int = DAYS,
    step_s: int = 300,
    start: dt.datetime = START,
    weather: bool = False,
) -> tuple[Plant, ReadingBatch]:
    """The plant and its simulated readings, in time order."""
    plant = validate(plant_data(weather), Plant, "sim plant")
    df = simulate(
        plant,
        SimOptions(start=start, hours=days * 24, step_s=step_s, seed=seed,
                   patterns=patterns(start),
                   clean=clean, weather=WEATHER if weather else ()),
    )  # fmt: skip
    index = {m.id: i for i, m in enumerate(plant.meters)}
    batch = ReadingBatch.of(
        [index[x] for x in df["meter"].to_list()],
        (df["ts"].cast(int).to_numpy() * 1000).tolist(),
        df["value"].to_list(),
    )
    return plant, batch


@lru_cache(maxsize=8)  # deterministic; shared by the test modules of one run
def run_sim(
    clean: bool, seed: int = 11, days: int = DAYS, step_s: int = 300, weather: bool = False
) -> Sim:
    plant, batch = sim_batch(clean, seed, days, step_s, weather=weather)
    engine = Engine(plant, FactorLibrary.load())
    acc = run(engine, batch)
    window = window_from_lines(
        plant,
        concat_parts(acc.line_meter, np.int32).astype(np.intp),
        concat_parts(acc.line_bucket, np.int64),
        concat_parts(acc.line_qty, np.float64),
        concat_parts(acc.line_co2e, np.float64),
        int(START.timestamp()) * 1_000_000_000,
        days * 96,
    )
    for_plant(plant, engine.params.canonical_unit)  # the energy section is valid
    return Sim(plant, acc, window)


def hourly_temperatures(s: Sim) -> Temperatures:
    """Mean °C per local hour of the run's temperature meters, from their lines."""
    acc = s.acc
    m = concat_parts(acc.line_meter, np.int32).astype(np.intp)
    hot = np.isin(m, [i for i, x in enumerate(s.plant.meters) if x.kind == "temperature"])
    b = to_calendar(concat_parts(acc.line_bucket, np.int64)[hot], "hour", s.plant.zone)
    q = concat_parts(acc.line_qty, np.float64)[hot]
    c = concat_parts(acc.line_covered, np.int64)[hot].astype(np.float64)
    pairs, inv = np.unique(np.column_stack([b, m[hot]]), axis=0, return_inverse=True)
    inv = inv.ravel()
    deg_h, covered = (np.bincount(inv, w).astype(np.float64) for w in (q, c))
    return temperatures(pairs[:, 1].astype(np.intp), pairs[:, 0], deg_h, covered, "hour")


def hourly_lines(s: Sim) -> tuple[Lines, NDArray[np.float64]]:
    """The run's lines in plant-local hours, and tCO2e per canonical unit per meter."""
    acc = s.acc
    m = concat_parts(acc.line_meter, np.int32).astype(np.intp)
    q = concat_parts(acc.line_qty, np.float64)
    c = concat_parts(acc.line_co2e, np.float64)
    b = to_calendar(concat_parts(acc.line_bucket, np.int64), "hour", s.plant.zone)
    n = len(s.plant.meters)
    qty, co2e = np.bincount(m, q, minlength=n), np.bincount(m, c, minlength=n)
    ef = np.divide(co2e, qty, out=np.zeros(n), where=qty > 0)
    none = np.empty(0, dtype=np.intp)
    return Lines(m, b, q, none, np.empty(0, dtype=np.int64), np.empty(0)), ef


def store_sim(
    url: str, start: dt.datetime = START, step_s: int = 900, weather: bool = False
) -> Plant:
    """A fresh database at ``url`` with the planted simulation stored through ingest's
    commit path (the transactions the ingest service runs)."""
    from carbonstream.ingest.commit import Committer, Part
    from carbonstream.store.db import connect
    from carbonstream.store.migrate import migrate
    from carbonstream.store.plant import sync_plant

    plant, batch = sim_batch(clean=False, step_s=step_s, start=start, weather=weather)
    with connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        keys = sync_plant(conn, plant)
        engine = Engine(plant, FactorLibrary.load(plant.factor_files), base_s=60)
        committer = Committer(engine, keys, lateness_s=86_400 * 60)
        step = 20_000
        for lo in range(0, len(batch), step):
            sl = slice(lo, lo + step)
            part = Part(
                batch.meter[sl].astype(np.int32),
                batch.ts[sl].astype(np.int64),
                batch.value[sl].astype(np.float64),
                batch.quality[sl].astype(np.uint8),
            )
            committer.commit(conn, part, None)
    return plant
