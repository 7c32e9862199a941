"""forecast_total: a rule on the month's projected total (stored so far + the site's forecast
for the rest) fires on a budget breach days before the month's actual total gets there, and
stays quiet in a month that ends under budget, where the rate-based projection (the last
hour's rate held to the month's end) cries wolf. Replayed once a day with a fake clock over
simulated history in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from carbonstream.alerts import AlertsConfig
from carbonstream.alerts.rules import bind
from carbonstream.api.db import AsyncConn
from carbonstream.config.plant import Plant
from tests.alerts.conftest import FakeClock, service
from tests.forecast.history import ZONE, write

OCT, NOV, DEC = (dt.datetime(2026, m, 1, tzinfo=ZONE) for m in (10, 11, 12))
BUDGET = 1150.0  # foundry's monthly budget, market basis (config/plant.example.yaml)
RULES: list[dict[str, Any]] = [
    {"id": "forecast", "kind": "forecast_total", "site": "foundry", "period": "month",
     "of_budget": True, "threshold": 1.0, "clear_threshold": 0.97, "severity": "warning"},
    {"id": "rate", "kind": "projected_total", "site": "foundry", "period": "month",
     "window_s": 3600, "of_budget": True, "threshold": 1.0},
    {"id": "used", "kind": "total", "site": "foundry", "period": "month", "of_budget": True,
     "threshold": 1.0},
]  # fmt: skip


@pytest.mark.slow
async def test_fires_days_before_the_month_budget_is_spent(
    plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn]
) -> None:
    # Five weeks of history before October; from November the plant runs 25 % harder.
    start = dt.datetime(2026, 8, 24, tzinfo=ZONE)  # a Monday
    w = write(plant_db, "foundry", start, DEC, 15, uplift_from=NOV, uplift=1.25)
    assert w.sum_between(OCT, NOV) < 0.95 * BUDGET < BUDGET < w.sum_between(NOV, DEC)
    clock = FakeClock(OCT.timestamp())
    svc = service({"settle_s": 15, "rules": RULES}, plant, pool, clock)

    # Under a week of history: no forecast, no value (the rule keeps its state).
    async with pool.connection() as conn:
        early = await svc.signals.values(conn, (start + dt.timedelta(days=5)).timestamp())
    assert early["forecast"] is None and early["used"] is not None

    fired: dict[str, list[dt.datetime]] = {r["id"]: [] for r in RULES}
    day = OCT + dt.timedelta(hours=11)  # every day at 11:00, a busy hour on weekdays
    while day < DEC:
        clock.now = day.timestamp()
        for t in await svc.evaluate():
            if t.status == "firing":
                fired[t.rule.id].append(day)
        day += dt.timedelta(days=1)

    # The actual total passes the budget late in November ...
    [used] = fired["used"]
    assert used > dt.datetime(2026, 11, 25, tzinfo=ZONE)
    # ... the forecast saw it coming days before, and never fired in October.
    [forecast] = fired["forecast"]
    assert NOV < forecast <= used - dt.timedelta(days=7)
    # The last hour's rate held to the month's end fired in October too (a false alarm).
    assert any(t < NOV for t in fired["rate"])
    print({k: [t.isoformat() for t in v] for k, v in fired.items()})  # for the docs (-s)


def test_forecast_total_binds_to_the_budget(plant: Plant) -> None:
    cfg = AlertsConfig.model_validate({"rules": RULES[:1]})
    [r] = bind(cfg, plant).rules
    assert (r.threshold, r.clear, r.measure.value) == (BUDGET, 0.97 * BUDGET, "total_market")
    with pytest.raises(ValueError, match="a forecast_total rule needs 'site'"):
        AlertsConfig.model_validate(
            {"rules": [{"id": "x", "kind": "forecast_total", "threshold": 1}]}
        )
