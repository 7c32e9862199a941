"""Sites, meters and emission series over the example plant as ingest stored it, checked
against `carbonstream compute` on the same readings."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from tests.api.conftest import Api
from tests.ingest import helpers as h

SPAN = {"start": "2026-11-22T00:00:00", "end": "2026-11-25T00:00:00"}  # plant-local


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    return {"hour": report.build(acc, "hour"), "day": report.build(acc, "day")}


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def test_sites_and_meters_with_status(example: Api) -> None:
    r = example.client.get("/v1/sites", headers=example.headers("viewer"))
    assert r.status_code == 200
    sites = {s["id"]: s for s in r.json()}
    assert set(sites) == {"assembly", "foundry"}
    a = sites["assembly"]
    assert a["meters"] == 5 and a["budget"]["daily_t"] == 12
    # The example data ends 2026-11-25 00:00 local: long silent by the wall clock.
    assert a["last_reading_at"] == "2026-11-25T00:00:00+08:00"
    assert a["meters_silent"] == 5
    one = example.client.get("/v1/sites/foundry", headers=example.headers("viewer")).json()
    assert {m["id"] for m in one["meter_status"]} == {
        "foundry-grid",
        "foundry-gas",
        "foundry-steam",
        "foundry-output",
    }
    m = example.client.get("/v1/meters/foundry-gas", headers=example.headers("viewer")).json()
    st = m["status"]
    assert m["scope"] == 1 and m["fuel"] == "natural_gas"
    assert st["state"] == "silent" and st["last_quality"] == "good"
    assert st["quality"] == "stale"  # the meter's data now, derived with its state
    assert st["silent_since"] == st["last_reading_at"] and st["seconds_silent"] > 0
    assert isinstance(st["last_value"], float)
    listed = example.client.get(
        "/v1/meters", params={"site": "assembly"}, headers=example.headers("viewer")
    ).json()
    assert len(listed) == 5
    r = example.client.get("/v1/meters/nope", headers=example.headers("viewer"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_site_series_equal_compute(example: Api, reference: dict[str, Any], bucket: str) -> None:
    r = example.client.get(
        "/v1/emissions", params={**SPAN, "bucket": bucket}, headers=example.headers("viewer")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    want = reference[bucket]["buckets"]
    got = body["points"]
    assert [(p["start"], p["site"]) for p in got] == [(b["start"], b["site"]) for b in want]
    for p, b in zip(got, want, strict=True):
        for col in ("scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh"):
            assert close(p[col], b[col]), (p["start"], p["site"], col, p[col], b[col])
    totals = reference[bucket]["totals"]["plant"]
    for col in ("scope1_t", "scope2_location_t", "scope2_market_t"):
        assert close(sum(p[col] for p in got), totals[col])


def test_scope_filter_and_csv(example: Api, reference: dict[str, Any]) -> None:
    params = {**SPAN, "bucket": "day", "site": "foundry", "scope": "scope2_market"}
    j = example.client.get("/v1/emissions", params=params, headers=example.headers("viewer"))
    assert j.status_code == 200
    assert set(j.json()["points"][0]) == {
        "start",
        "site",
        "scope2_market_t",
        "grid_import_mwh",
        "coverage_pct",
    }
    c = example.client.get(
        "/v1/emissions", params={**params, "format": "csv"}, headers=example.headers("viewer")
    )
    assert c.headers["content-type"].startswith("text/csv")
    # Tidy: one row per (bucket, site, field), the value and its unit side by side.
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert list(rows[0]) == ["start", "site", "field", "value", "unit"]
    assert {r["site"] for r in rows} == {"foundry"}
    assert {(r["field"], r["unit"]) for r in rows} == {
        ("scope2_market_t", "tCO2e"),
        ("grid_import_mwh", "MWh"),
        ("coverage_pct", "%"),
    }
    assert len(rows) == 3 * 3
    assert rows[0]["start"] == j.json()["points"][0]["start"]
    want = reference["day"]["totals"]["sites"]["foundry"]["scope2_market_t"]
    got = sum(float(r["value"]) for r in rows if r["field"] == "scope2_market_t")
    assert close(got, want)
    # The Accept header works too.
    a = example.client.get(
        "/v1/emissions",
        params=params,
        headers={**example.headers("viewer"), "Accept": "text/csv"},
    )
    assert a.text == c.text


def test_meter_series_equal_compute_lines(example: Api, reference: dict[str, Any]) -> None:
    r = example.client.get(
        "/v1/meters/foundry-gas/emissions",
        params={**SPAN, "bucket": "day"},
        headers=example.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["quantity_unit"] == "Nm3" and body["scope"] == 1
    meters = {m["meter"]: m for m in reference["day"]["meters"]}
    want = meters["foundry-gas"]
    assert close(sum(p["quantity"] for p in body["points"]), want["quantity"])
    assert close(sum(p["co2e_t"] for p in body["points"]), want["co2e_t"])
    assert all(95 <= p["coverage_pct"] <= 100 for p in body["points"])


@pytest.mark.parametrize(
    ("params", "kind", "words"),
    [
        ({"start": "2026-01-01", "end": "2027-06-01"}, "range-too-large", "at most 400 days"),
        ({**SPAN, "bucket": "minute"}, None, None),
        (
            {"start": "2025-01-01", "end": "2025-12-31", "bucket": "minute"},
            "too-many-points",
            "coarser bucket",
        ),
        ({"start": "2026-11-25", "end": "2026-11-22"}, "invalid-range", "must be after"),
        ({**SPAN, "bucket": "week"}, "invalid-request", "bucket"),
        ({**SPAN, "site": "nowhere"}, "not-found", "nowhere"),
    ],
)
def test_bounds_are_clear_problems(
    example: Api, params: dict[str, str], kind: str | None, words: str | None
) -> None:
    r = example.client.get("/v1/emissions", params=params, headers=example.headers("viewer"))
    if kind is None:
        assert r.status_code == 200
        assert len(r.json()["points"]) == 2 * 3 * 24 * 60
        return
    assert r.status_code in (404, 422), r.text
    body = r.json()
    assert body["type"].endswith(kind) and words in body["detail"], body


def test_series_ask_for_the_same_parameters_and_default_to_24_hours(example: Api) -> None:
    # The series take the shared dependencies (api.selection): the same query parameters as
    # before, and start..end is by default the 24 hours before end (end: now).
    paths = example.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    names = {
        path: sorted(p["name"] for p in paths[path]["get"]["parameters"] if p["in"] == "query")
        for path in ("/v1/emissions", "/v1/meters/{meter_id}/emissions")
    }
    assert names == {
        "/v1/emissions": ["bucket", "end", "format", "scope", "site", "start"],
        "/v1/meters/{meter_id}/emissions": ["bucket", "end", "format", "start"],
    }
    h = example.headers("viewer")
    end = {"end": "2026-11-24T00:00:00"}
    for url in ("/v1/emissions", "/v1/meters/foundry-gas/emissions"):
        body = example.client.get(url, params=end, headers=h).json()
        assert (body["start"], body["end"]) == (
            "2026-11-23T00:00:00+08:00",
            "2026-11-24T00:00:00+08:00",
        )
    now = example.client.get("/v1/emissions", params={"site": "foundry"}, headers=h).json()
    start, stop = (dt.datetime.fromisoformat(now[k]) for k in ("start", "end"))
    assert stop - start == dt.timedelta(days=1)
    assert abs(stop - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert now["sites"] == ["foundry"] and {p["site"] for p in now["points"]} == {"foundry"}
