"""The example plant's readings replayed through ingest's commit path in 15-minute slices,
the alert service evaluated after each with a fake clock, and restarted half-way.

The transitions must be the ones the pure engine gives on signals computed from
``carbonstream compute``'s own result (the core's batch account), and the history
must hold each exactly once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import pytest

from carbonstream.alerts import AlertEngine, AlertsConfig
from carbonstream.alerts.engine import projected_total
from carbonstream.alerts.rules import bind
from carbonstream.alerts.signals import period_bounds
from carbonstream.api.db import make_pool
from carbonstream.compute import run
from carbonstream.core.engine import Engine
from carbonstream.store.db import connect
from tests.alerts.conftest import FakeClock, service
from tests.ingested import NS, Feeder, feeder

STEP = 900
RULES: list[dict[str, Any]] = [
    # Foundry shifts run at ~2.7 t/h then ~2.05 t/h, nights ~0.35-0.85 t/h. Firing
    # above 2.4 for 30 min; the 2.05 shift sits between clear (1.5) and threshold,
    # so the alert holds through it and clears only when the night comes.
    {"id": "foundry-rate", "kind": "rate", "site": "foundry", "measure": "total_market",
     "window_s": 900, "threshold": 2.4, "clear_threshold": 1.5, "for_s": 1800,
     "clear_for_s": 900},
    # Assembly's day at the last hour's rate would pass its daily budget (12 t).
    {"id": "assembly-budget", "kind": "projected_total", "site": "assembly", "of_budget": True,
     "period": "day", "window_s": 3600, "threshold": 1.0, "clear_threshold": 0.9},
]  # fmt: skip
CONFIG: dict[str, Any] = {"settle_s": 0, "rules": RULES}


def reference(f: Feeder, times: list[int]) -> list[tuple[str, float, str]]:
    """Transitions of the pure engine over signals from the core's batch result."""
    acc = run(Engine(f.plant, f.committer.engine.library, base_s=60), f.batch)
    site, bucket = np.concatenate(acc.site), np.concatenate(acc.bucket)
    site_ids = [s.id for s in f.plant.sites]
    market = acc.column("scope1_t") + acc.column("scope2_market_t")
    rules = bind(AlertsConfig.model_validate(CONFIG), f.plant).rules
    engine = AlertEngine(rules)
    out = []
    for t_ns in times:
        now = t_ns / NS
        values: dict[str, float | None] = {}
        for r in rules:
            sel = site == site_ids.index(r.site or "")
            rate = market[sel & (bucket >= t_ns - r.window_s * NS) & (bucket < t_ns)].sum()
            rate *= 3600 / r.window_s
            if r.kind == "rate":
                values[r.id] = float(rate)
            else:
                start, end = period_bounds(now, f.plant.zone, r.period)
                so_far = market[sel & (bucket >= int(start.timestamp()) * NS) & (bucket < t_ns)]
                values[r.id] = projected_total(float(so_far.sum()), rate, now, end.timestamp())
        out += [(t.rule.id, t.at, t.status) for t in engine.evaluate(now, values)]
    return out


@pytest.mark.slow
async def test_replay_matches_the_core_and_survives_restart(db_url: str) -> None:
    f = feeder(db_url)
    start = f.first_ns + 24 * 3600 * NS  # the first day is a quiet night and a light day
    times = list(range(start + STEP * NS, f.last_ns + 1, STEP * NS))
    clock = FakeClock(start / NS)
    got: list[tuple[str, float, str]] = []
    half = len(times) // 2
    # One connection feeds every slice, as an ingest writer's does (each slice commits).
    with connect(db_url) as feed:
        f.until(start, feed)  # one slice for it
        for part in (times[:half], times[half:]):  # a restart between the halves
            pool = make_pool(db_url, 2)
            await pool.open()
            svc = service(CONFIG, f.plant, pool, clock)
            try:
                for t_ns in part:
                    f.until(t_ns + 1, feed)  # readings at exactly t close the minute before it
                    clock.now = t_ns / NS
                    got += [(t.rule.id, t.at, t.status) for t in await svc.evaluate()]
            finally:
                await pool.close()
    want = reference(f, times)
    assert got == want
    statuses = [(rid, s) for rid, _, s in want]
    # the data gives both rules something to do, across the restart
    assert statuses.count(("foundry-rate", "firing")) == 2
    assert ("foundry-rate", "resolved") in statuses
    assert ("assembly-budget", "firing") in statuses
    assert any(at > times[half] / NS for _, at, _ in want)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT rule, at, status FROM alert_history ORDER BY id").fetchall()
    assert [(r[0], r[1].timestamp(), r[2]) for r in rows] == want
