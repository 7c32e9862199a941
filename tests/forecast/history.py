"""Simulated site history with a known pattern, written to ``site_minute`` (binary COPY).

The pattern is the simulator's shift profile (``carbonstream.sim.profiles``:
two weekday shifts, a skeleton crew at night and at weekends), a production
level that moves from day to day (AR(1)), and noise on every minute. Scope 1
is 30 % of the total, Scope 2 market-based 70 % (location-based 20 % above it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.forecast.model import NS
from carbonstream.sim.profiles import shift_activity
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant

PLANT = Path(__file__).resolve().parents[2] / "config" / "plant.example.yaml"

ZONE = ZoneInfo("Asia/Shanghai")  # the example plant's zone
S1, S2M, S2L = 0.3, 0.7, 0.84  # shares of the market-based total


@dataclass(frozen=True)
class Written:
    ts_ns: NDArray[np.int64]  # start of each row's minute bucket
    total_t: NDArray[np.float64]  # Scope 1 + Scope 2 market-based of each row

    def sum_between(self, lo: dt.datetime, hi: dt.datetime) -> float:
        a, b = int(lo.timestamp()) * NS, int(hi.timestamp()) * NS
        return float(self.total_t[(self.ts_ns >= a) & (self.ts_ns < b)].sum())


def rate_t_per_h(
    ts_ns: NDArray[np.int64],
    k: float = 3.5,
    seed: int = 11,
    noise: float = 0.05,
    swing: float = 0.05,
    uplift_from: dt.datetime | None = None,
    uplift: float = 1.0,
) -> NDArray[np.float64]:
    """tCO2e/h at each instant: k x (0.1 + 0.6 x shift activity) x day level x noise.

    Its mean over a week is about 0.384 k (about 1000 t in a 31-day month at k = 3.5).
    """
    local_s = ts_ns // NS + 8 * 3600  # the zone has no DST
    day = local_s // 86_400
    hour = (local_s % 86_400) / 3600.0
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    rng = np.random.default_rng(seed)
    days = np.unique(day)
    level = np.zeros(len(days))
    for i in range(1, len(days)):
        level[i] = 0.7 * level[i - 1] + swing * rng.standard_normal()
    lv = 1 + level[np.searchsorted(days, day)]
    y = k * (0.1 + 0.6 * shift_activity(hour, weekday)) * lv
    y = y * (1 + noise * rng.standard_normal(len(y)))
    if uplift_from is not None:
        y = np.where(ts_ns >= int(uplift_from.timestamp()) * NS, y * uplift, y)
    return np.maximum(y, 0.0)


def plant_db(url: str) -> Plant:
    """Migrate and sync the example plant (sites foundry and assembly)."""
    plant = load_plant(PLANT)
    with connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        sync_plant(conn, plant)
    return plant


def write(
    url: str,
    site: str,
    start: dt.datetime,
    end: dt.datetime,
    step_min: int = 1,
    **pattern: object,
) -> Written:
    """Rows every ``step_min`` minutes in [start, end), each holding that many minutes'
    tonnes (15: one row per quarter-hour, enough for forecasts and cheaper to write)."""
    a, b = int(start.timestamp()), int(end.timestamp())
    ts = np.arange(a, b, 60 * step_min, dtype=np.int64) * NS
    total = rate_t_per_h(ts, **pattern) * step_min / 60  # type: ignore[arg-type]
    with connect(url) as conn:
        key = conn.execute("SELECT key FROM sites WHERE id = %s", (site,)).fetchone()
        assert key is not None
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY site_minute (site, bucket, scope1_t, scope2_location_t, scope2_market_t)"
                " FROM STDIN"
            ) as cp,
        ):
            for t, v in zip(ts.tolist(), total.tolist(), strict=True):
                when = dt.datetime.fromtimestamp(t // NS, dt.UTC)
                cp.write_row((key[0], when, S1 * v, S2L * v, S2M * v))
        # The site's data begins at ``start`` (live and alert rates are over the time covered
        # from the site's first reading).
        conn.execute(
            "INSERT INTO readings (meter, ts, value, quality)"
            " SELECT min(key), %s, 0, 0 FROM meters WHERE site = %s ON CONFLICT DO NOTHING",
            (start, key[0]),
        )
        conn.commit()
    return Written(ts, (S1 + S2M) * total)
