"""/v1/alerts/active and /v1/alerts/history through the API, with keys; the alert service
started by the app's lifespan when alerts are configured."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carbonstream.alerts import AlertsConfig
from carbonstream.alerts.rules import bind
from carbonstream.alerts.service import AlertService
from carbonstream.api import ApiSettings, create_app, load_api_settings
from carbonstream.api.db import make_pool
from carbonstream.config.loader import load_plant
from carbonstream.errors import ConfigError
from carbonstream.store.db import connect
from carbonstream.store.plant import sync_plant
from tests.alerts.conftest import FakeClock, put_minute
from tests.api.conftest import PLANT, Api

B = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
RULES: list[dict[str, Any]] = [
    {"id": "foundry-rate", "kind": "rate", "site": "foundry", "measure": "scope1",
     "window_s": 60, "threshold": 10, "clear_threshold": 8, "severity": "critical"},
    {"id": "assembly-rate", "kind": "rate", "site": "assembly", "measure": "scope1",
     "window_s": 60, "threshold": 10, "description": "assembly hall over 10 t/h"},
]  # fmt: skip
ACTIVE_KEYS = {
    "rule", "status", "severity", "site", "meter", "value", "threshold", "since", "kind", "unit",
}  # fmt: skip


async def _replay(url: str) -> None:
    """foundry fires at minute 1 and resolves at 3; assembly fires at 2 and stays."""
    plant = load_plant(PLANT)
    with connect(url) as conn:
        sync_plant(conn, plant)
    pool = make_pool(url, 2)
    await pool.open()
    clock = FakeClock(B.timestamp())
    svc = AlertService(
        AlertsConfig.model_validate({"settle_s": 0, "rules": RULES}), plant, pool, clock=clock
    )
    try:
        for k, (foundry, assembly) in enumerate([(12, 1), (12, 12), (5, 12)], start=1):
            minute = B + dt.timedelta(minutes=k - 1)
            put_minute(url, "foundry", minute, scope1_t=foundry / 60)
            put_minute(url, "assembly", minute, scope1_t=assembly / 60)
            clock.now = B.timestamp() + 60 * k + 5
            await svc.evaluate()
    finally:
        await pool.close()


def test_alert_routes_need_a_key(api: Api) -> None:
    for path in ("/v1/alerts/active", "/v1/alerts/history"):
        assert api.client.get(path).status_code == 401
        bad = api.client.get(path, headers={"X-API-Key": "cs_0123456789ab_" + "x" * 43})
        assert bad.status_code == 401
        assert api.client.get(path, headers=api.headers("viewer")).status_code == 200


def test_active_and_history(api: Api) -> None:
    asyncio.run(_replay(api.db_url))
    h = api.headers("viewer")
    [a] = api.client.get("/v1/alerts/active", headers=h).json()
    assert set(a) == ACTIVE_KEYS
    assert a["rule"] == "assembly-rate" and a["status"] == "firing"
    assert a["value"] == pytest.approx(12.0) and a["threshold"] == 10.0
    assert a["site"] == "assembly" and a["meter"] is None and a["unit"] == "tCO2e/h"
    assert dt.datetime.fromisoformat(a["since"]) == B + dt.timedelta(minutes=2, seconds=5)

    page = api.client.get("/v1/alerts/history", headers=h).json()
    got = [(e["rule"], e["status"]) for e in page["items"]]
    assert got == [  # newest first
        ("foundry-rate", "resolved"),
        ("assembly-rate", "firing"),
        ("foundry-rate", "firing"),
    ]
    assert page["next_before"] is None
    assert page["items"][1]["description"] == "assembly hall over 10 t/h"

    first = api.client.get("/v1/alerts/history?limit=2", headers=h).json()
    assert len(first["items"]) == 2 and first["next_before"] == first["items"][1]["id"]
    rest = api.client.get(
        f"/v1/alerts/history?limit=2&before={first['next_before']}", headers=h
    ).json()
    assert [e["rule"] for e in rest["items"]] == ["foundry-rate"] and rest["next_before"] is None

    only = api.client.get(
        "/v1/alerts/history", params={"rule": "foundry-rate", "status": "firing"}, headers=h
    ).json()
    assert [(e["rule"], e["status"]) for e in only["items"]] == [("foundry-rate", "firing")]
    since = (B + dt.timedelta(minutes=2)).isoformat()
    late = api.client.get("/v1/alerts/history", params={"since": since}, headers=h).json()
    assert len(late["items"]) == 2


@pytest.mark.parametrize(
    "query",
    ["limit=100000", "limit=0", f"before={2**63}", "rule=%00x", "site=" + "s" * 65, "status=ok"],
)
def test_history_is_bounded(api: Api, query: str) -> None:
    r = api.client.get(f"/v1/alerts/history?{query}", headers=api.headers("viewer"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")


@pytest.mark.slow
def test_lifespan_runs_the_alert_service(api: Api) -> None:
    with connect(api.db_url) as conn:
        sync_plant(conn, load_plant(PLANT))
    alerts = {
        "evaluate_every_s": 0.1,
        "rules": [{"id": "foundry-coverage", "kind": "coverage", "site": "foundry",
                   "threshold": 90, "severity": "warning"}],
    }  # fmt: skip
    app = create_app(ApiSettings(plant=str(PLANT), alerts=alerts), api.db_url)
    with TestClient(app) as client:
        end = time.monotonic() + 30  # a hang bound: rounds are every 0.1 s when the CPU is free
        active: list[dict[str, Any]] = []
        while time.monotonic() < end and not active:
            active = client.get("/v1/alerts/active", headers=api.headers("viewer")).json()
            time.sleep(0.1)
        metrics = client.get("/metrics", headers=api.headers("viewer")).text
    # no data from any foundry meter: coverage 0 % < 90 %
    assert [(a["rule"], a["value"], a["unit"]) for a in active] == [("foundry-coverage", 0.0, "%")]
    # the service's own metrics, on the API's /metrics (only where it runs)
    assert 'carbonstream_alerts_active{severity="warning"} 1.0' in metrics
    assert 'carbonstream_alert_transitions_total{status="firing"} 1.0' in metrics
    assert 'carbonstream_alert_rounds_total{outcome="ok"}' in metrics
    plain = api.client.get("/metrics", headers=api.headers("viewer")).text
    assert "carbonstream_alert_" not in plain


def test_bad_alert_rule_fails_at_start(api: Api) -> None:
    alerts = {"rules": [{"id": "r", "kind": "meter_silence", "meter": "ghost", "threshold": 60}]}
    with pytest.raises(ConfigError, match="'ghost' is not a meter"):
        create_app(ApiSettings(plant=str(PLANT), alerts=alerts), api.db_url)


def test_example_settings_load_and_bind() -> None:
    s = load_api_settings(PLANT.parent / "api.example.yaml")
    assert s.alerts is not None and s.alerts.rules
    bound = bind(s.alerts, load_plant(s.plant))
    assert {r.id for r in bound.rules} == {r.id for r in s.alerts.rules}
