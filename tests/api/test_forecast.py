"""GET /v1/forecast over simulated history in the database: the shape, the next 24 h at
15-minute resolution, each period's projection = stored actual + forecast (which, on a
pattern that repeats exactly each week, is the pattern), the budget and when it is
reached, other scopes, the errors (auth, unknown site, bounds) and too little history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from carbonstream.forecast.model import NS
from tests.api.conftest import Api
from tests.forecast.history import S1, S2M, ZONE, write

# slow: stores months of history (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 11, 20, 12, 0, 30, tzinfo=ZONE)  # a Friday
CUT = dt.datetime(2026, 11, 20, 11, 45, tzinfo=ZONE)  # a quarter-hour a minute or more before
NOV, DEC = dt.datetime(2026, 11, 1, tzinfo=ZONE), dt.datetime(2026, 12, 1, tzinfo=ZONE)
FIRST, LAST = dt.datetime(2026, 9, 21, tzinfo=ZONE), dt.datetime(2026, 12, 2, tzinfo=ZONE)


def _t(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def test_forecast_projects_actual_plus_forecast(api: Api) -> None:
    # An exactly weekly pattern (no noise, no swings), written past NOW: nothing after the
    # cut is read, so the forecast of the rest of the month must rebuild it.
    foundry = write(api.db_url, "foundry", FIRST, LAST, 15, noise=0.0, swing=0.0)
    assembly = write(api.db_url, "assembly", FIRST, LAST, 15, k=1.5, noise=0.0, swing=0.0)
    api.client.app.state.forecaster.clock = lambda: NOW.timestamp()  # type: ignore[attr-defined]
    r = api.client.get("/v1/forecast?site=foundry", headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    f = r.json()
    assert (f["site"], f["scope"], f["unit"], f["step_s"], f["horizon_h"]) == (
        "foundry", "total_market", "tCO2e", 900, 24
    )  # fmt: skip
    assert _t(f["actual_until"]) == CUT and _t(f["generated_at"]) == NOW
    assert (f["status"], f["detail"], f["history_days"], f["needed_days"]) == ("ok", None, 56, 7)
    m = f["method"]
    assert m["model"] in ("ETS(A,N,A)", "ETS(A,N,M)") and m["name"].startswith(m["model"])
    assert (m["history_days"], m["history_quarters"], m["history_missing"]) == (56, 8 * 672, 0)
    assert _t(m["history_start"]) == CUT - dt.timedelta(weeks=8)
    assert m["day_ahead_mape_pct"] < 0.01  # the pattern repeats exactly
    # The next 24 h, quarter by quarter from the cut: the pattern.
    pts = f["points"]
    assert len(pts) == 96 and _t(pts[0]["start"]) == CUT
    assert _t(pts[95]["start"]) - _t(pts[0]["start"]) == dt.timedelta(minutes=95 * 15)
    i0 = int(np.searchsorted(foundry.ts_ns, int(CUT.timestamp()) * NS))
    assert [p["t"] for p in pts] == pytest.approx(foundry.total_t[i0 : i0 + 96], rel=1e-5)
    assert f["next_t"] == pytest.approx(sum(p["t"] for p in pts), rel=1e-5)

    periods = {p["period"]: p for p in f["periods"]}
    assert list(periods) == ["day", "month", "year"]
    month = periods["month"]
    assert (_t(month["start"]), _t(month["end"])) == (NOV, DEC)
    assert month["actual_t"] == pytest.approx(foundry.sum_between(NOV, CUT), rel=1e-5)
    assert month["forecast_t"] == pytest.approx(foundry.sum_between(CUT, DEC), rel=1e-4)
    assert month["projected_t"] == pytest.approx(month["actual_t"] + month["forecast_t"], 1e-5)
    assert month["budget_t"] == 1150
    assert month["projected_pct"] == pytest.approx(100 * month["projected_t"] / 1150, rel=1e-5)
    assert month["projected_t"] < 1150 and month["budget_reached_at"] is None
    # The day ends within the 24 h: its forecast is the sum of those points.
    day = periods["day"]
    midnight = dt.datetime(2026, 11, 21, tzinfo=ZONE)
    n = (midnight - CUT) // dt.timedelta(minutes=15)
    assert day["forecast_t"] == pytest.approx(sum(p["t"] for p in pts[:n]), rel=1e-4)
    assert day["budget_t"] == 40
    assert periods["year"]["budget_t"] is None  # foundry has no yearly budget
    year = periods["year"]
    jan = dt.datetime(2026, 1, 1, tzinfo=ZONE)
    assert year["actual_t"] == pytest.approx(foundry.sum_between(jan, CUT), rel=1e-5)

    # assembly runs over its monthly budget (330 t): when does actual + forecast pass it?
    r = api.client.get("/v1/forecast?site=assembly&horizon=48", headers=api.headers("viewer"))
    a = {p["period"]: p for p in r.json()["periods"]}
    assert len(r.json()["points"]) == 192 and a["year"]["budget_t"] == 3800
    month = a["month"]
    assert month["actual_t"] < 330 < month["projected_t"]
    assert month["projected_t"] == pytest.approx(assembly.sum_between(NOV, DEC), rel=1e-4)
    after = assembly.ts_ns >= int(CUT.timestamp()) * NS
    cum = month["actual_t"] + np.cumsum(assembly.total_t[after])
    crossed = int(assembly.ts_ns[after][np.argmax(cum > 330)]) // NS
    assert _t(month["budget_reached_at"]) == dt.datetime.fromtimestamp(crossed, ZONE)
    assert month["budget_reached_at"].endswith("+08:00")

    # Another scope: Scope 1 alone is 30 % of the market-based total; no budget on it.
    r = api.client.get("/v1/forecast?site=foundry&scope=scope1", headers=api.headers("viewer"))
    s1 = {p["period"]: p for p in r.json()["periods"]}["month"]
    assert r.json()["scope"] == "scope1" and s1["budget_t"] is None
    assert s1["projected_pct"] is None and s1["budget_reached_at"] is None
    assert s1["projected_t"] == pytest.approx(
        periods["month"]["projected_t"] * S1 / (S1 + S2M), rel=1e-4
    )


def test_forecast_errors(api: Api) -> None:
    c, h = api.client, api.headers("viewer")
    assert c.get("/v1/forecast?site=foundry").status_code == 401
    r = c.get("/v1/forecast?site=hall-9", headers=h)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    for bad in ("horizon=0", "horizon=169", "scope=scope3", ""):
        r = c.get(f"/v1/forecast?site=foundry&{bad}" if bad else "/v1/forecast", headers=h)
        assert r.status_code == 422, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    write(api.db_url, "foundry", dt.datetime.now(ZONE) - dt.timedelta(days=3),
          dt.datetime.now(ZONE), 15)  # fmt: skip
    r = c.get("/v1/forecast?site=foundry", headers=h)
    assert r.status_code == 200
    f = r.json()
    assert (f["status"], f["needed_days"], f["method"], f["next_t"]) == (
        "insufficient_history", 7, None, None
    )  # fmt: skip
    assert f["points"] == [] and f["periods"] == []
    assert 2.9 < f["history_days"] < 3.1 and "needs 7 days of history" in f["detail"]
    # The detail is read by people: in Chinese to a reader who asks for it, same figures.
    zh = c.get("/v1/forecast?site=foundry", headers={**h, "Accept-Language": "zh-CN"}).json()
    have = f"{f['history_days']:.1f}"
    assert f["detail"] == f"a forecast needs 7 days of history; the site has {have} days"
    assert zh["detail"] == f"预测需要 7 天的历史数据；该厂区目前有 {have} 天"
    assert {k: v for k, v in zh.items() if k not in ("detail", "generated_at")} == {
        k: v for k, v in f.items() if k not in ("detail", "generated_at")
    }
