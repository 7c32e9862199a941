"""GET /v1/energy on the ingested example plant equals `carbonstream compute`'s energy block
on the same readings (stored per-minute quantities vs the batch account)."""

from __future__ import annotations

from typing import Any

import pytest

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from tests.api.conftest import Api
from tests.ingest import helpers as h


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    energy: dict[str, Any] = report.build(acc, "day")["energy"]
    return energy


def get(api: Api, **params: Any) -> Any:
    r = api.client.get("/v1/energy", params=params, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def close(a: dict[str, Any], b: dict[str, Any]) -> None:
    for k, v in b.items():
        if isinstance(v, float):
            assert a[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
        else:
            assert a[k] == v, k


def test_stored_energy_equals_compute(example: Api, computed: dict[str, Any]) -> None:
    body = get(example, month="2026-11")
    t = body["totals"]
    close(t["plant"], computed["totals"]["plant"])
    for group in ("site", "line", "meter"):
        assert t[group].keys() == computed["totals"][group].keys()
        for name, want in computed["totals"][group].items():
            close(t[group][name], want)
    assert t["plant"]["total_tce"] > 0
    # On-site PV is apart from the total, green power inside it and deducted beside it.
    assert t["plant"]["onsite_renewable_tce"] > 0 and t["plant"]["green_power_mwh"] > 0
    assert t["plant"]["total_excl_green_tce"] == pytest.approx(
        t["plant"]["total_tce"] - 0.1229 * t["plant"]["green_power_mwh"], rel=1e-12
    )
    assert body["equal_values"][0]["verified"] == "memory"
    assert body["equal_values"][0]["fallback"]


def test_per_bucket_rows_by_meter_and_day(example: Api, computed: dict[str, Any]) -> None:
    body = get(example, month="2026-11", by="meter", bucket="day")
    rows = body["buckets"]
    assert {r["meter"] for r in rows} <= set(computed["totals"]["meter"])
    total = sum(r["total_tce"] for r in rows)
    assert total == pytest.approx(computed["totals"]["plant"]["total_tce"], rel=1e-9)
    days = sorted({r["start"][:10] for r in rows})
    assert days[0] == "2026-11-22" and all(r["start"].endswith("+08:00") for r in rows)
    plant = get(example, month="2026-11", by="plant", bucket="month")["buckets"]
    assert len(plant) == 1
    assert plant[0]["total_tce"] == pytest.approx(total, rel=1e-9)


def test_bad_requests_are_problems(example: Api) -> None:
    h_ = example.headers("viewer")
    r = example.client.get("/v1/energy", params={"month": "2026-13"}, headers=h_)
    assert r.status_code == 422
    r = example.client.get(
        "/v1/energy", params={"month": "2026-11", "start": "2026-11-01"}, headers=h_
    )
    assert r.status_code == 422 and r.json()["type"].endswith("invalid-period")
    r = example.client.get(
        "/v1/energy",
        params={"start": "2026-01-01", "end": "2026-11-30", "bucket": "minute"},
        headers=h_,
    )
    assert r.status_code == 422
    assert example.client.get("/v1/energy").status_code == 401
