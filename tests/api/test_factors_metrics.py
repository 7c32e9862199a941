"""Factors (read; admins add versions, never edits; ingest picks them up at start) and the
Prometheus endpoint (live rates, totals, staleness, latency; key unless public)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from carbonstream.ingest.service import Service
from tests.api.conftest import Api, serve
from tests.ingest import helpers as h

NEW = {
    "factor_id": "cn.elec.national_avg.2024",
    "series": "cn.grid.avg",
    "region": "CN",
    "value": 0.5211,
    "unit": "tCO2/MWh",
    "gas": "CO2",
    "valid_from": "2024-01-01",
    "valid_to": "2024-12-31",
    "data_year": 2024,
    "source": "MEE+NBS 2024 electricity CO2 factors (hypothetical, for the test)",
    "verified": "no",
}


def test_factors_read_and_versions_are_only_added(example: Api) -> None:
    v = example.headers("viewer")
    used = example.client.get("/v1/factors", params={"used": "true"}, headers=v).json()
    assert used and all(f["used"] for f in used)
    grid = example.client.get("/v1/factors/cn.elec.national_avg.2023", headers=v).json()
    assert grid[0]["origin"] == "builtin:china.csv" and grid[0]["used"]
    assert example.client.get("/v1/factors/nope", headers=v).status_code == 404
    new = example.client.post("/v1/factors", json=NEW, headers=example.headers("admin"))
    assert new.status_code == 201, new.text
    assert new.json()["version"] == 1 and new.json()["origin"] == "api"
    again = example.client.post("/v1/factors", json=NEW, headers=example.headers("admin"))
    assert again.status_code == 201 and again.json()["version"] == 2
    clash = example.client.post(
        "/v1/factors", json={**NEW, "version": 2}, headers=example.headers("admin")
    )
    assert clash.status_code == 409 and "add v3" in clash.json()["detail"]
    builtin = {**NEW, "factor_id": "cn.elec.national_avg.2023", "version": 1}
    r = example.client.post("/v1/factors", json=builtin, headers=example.headers("admin"))
    assert r.status_code == 409  # a published (and used) value is never rewritten
    r = example.client.post(
        "/v1/factors", json={**NEW, "unit": "GJ/t"}, headers=example.headers("admin")
    )
    assert r.status_code == 422 and "does not convert" in r.json()["detail"]
    # A second factor for 2023 in the national series would make every library load
    # fail (one date, one factor): refused, naming both ids.
    overlap = {
        **NEW,
        "factor_id": "my.grid.2023",
        "valid_from": "2023-01-01",
        "valid_to": "2023-12-31",
        "data_year": 2023,
    }
    r = example.client.post("/v1/factors", json=overlap, headers=example.headers("admin"))
    assert r.status_code == 422, r.text
    assert "cn.elec.national_avg.2023@v1" in r.json()["detail"]
    assert "my.grid.2023@v1" in r.json()["detail"]
    r = example.client.post("/v1/factors", json=NEW, headers=example.headers("operator"))
    assert r.status_code == 403
    listed = example.client.get(
        "/v1/factors", params={"prefix": "cn.elec.national_avg.2024"}, headers=v
    ).json()
    assert [f["version"] for f in listed] == [1, 2] and not any(f["used"] for f in listed)
    with psycopg.connect(example.db_url) as c, pytest.raises(psycopg.errors.IntegrityError):
        c.execute("UPDATE factor_library SET value = 0")
    with psycopg.connect(example.db_url) as c, pytest.raises(psycopg.errors.IntegrityError):
        c.execute("UPDATE factors SET value = 0")  # used by stored figures: frozen


def test_ingest_loads_factor_versions_added_through_the_api(example_db: str) -> None:
    for api in serve(example_db):
        r = api.client.post("/v1/factors", json=NEW, headers=api.headers("admin"))
        assert r.status_code == 201
    service = Service(h.settings(example_db, "gw-unused"), db_url=example_db)
    service.prepare()
    try:
        f = service.committers[0].engine.library.get("cn.elec.national_avg.2024")
        assert f.value == 0.5211 and f.origin == "api"
        # The 2024 grid factor now resolves 2024 activity without a fallback.
        found = service.library.lookup("cn.grid.avg", "CN", dt.date(2024, 6, 1))
        assert found.factor.id == "cn.elec.national_avg.2024" and found.fallback is None
    finally:
        service._close()


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_need_a_key_and_carry_the_plant(example: Api) -> None:
    assert example.client.get("/metrics").status_code == 401
    example.client.get("/v1/sites", headers=example.headers("viewer"))
    inv = example.client.get(
        "/v1/inventory",
        params={"start": "2026-11-22T00:00", "end": "2026-11-25T00:00"},
        headers=example.headers("viewer"),
    ).json()
    r = example.client.get("/metrics", headers=example.headers("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = _families(r.text)
    totals = {(lb["site"], lb["scope"]): v for lb, v in m["carbonstream_emissions_total_tco2e"]}
    for site in inv["by_site"]:
        assert totals[(site["site"], "scope1")] == pytest.approx(site["scope1_t"])
        assert totals[(site["site"], "scope2_market")] == pytest.approx(site["scope2_market_t"])
    rates = m["carbonstream_emission_rate_tco2e_per_hour"]
    assert {lb["scope"] for lb, _ in rates} == {"scope1", "scope2_location", "scope2_market"}
    stale = {lb["meter"]: v for lb, v in m["carbonstream_meter_silent_seconds"]}
    assert len(stale) == 9 and min(stale.values()) > 3600  # the example data is days old
    db = {lb["query"] for lb, _ in m["carbonstream_api_db_query_seconds_count"]}
    assert {"sites", "inventory"} <= db
    routes = {lb["route"] for lb, _ in m["carbonstream_api_requests_total"]}
    assert "/v1/sites" in routes and "/v1/nothing" not in routes


@pytest.fixture
def public(example_db: str) -> Iterator[Api]:
    yield from serve(example_db, public_metrics=True)


def test_public_metrics_need_no_key(public: Api) -> None:
    r = public.client.get("/metrics")
    assert r.status_code == 200 and "carbonstream_emission_rate_tco2e_per_hour" in r.text
    assert public.client.get("/v1/sites").status_code == 401  # only /metrics is public
