"""`carbonstream compute` and the API agree field by field on the same readings and ledger.

The example readings are ingested for real (through Mosquitto into PostgreSQL, the
session's template database); the plant file's offsets (CCER, an international credit,
credits surrendered for the ETS) are registered and retired through the API's routes;
compute runs on the same readings and plant file. Every inventory field both produce
(totals per site, certificates' coverage, retirements counted, net on both Scope 2
bases, zero-carbon status, over-offset, each credit's priority) and annual and hourly
matching per site must be equal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from carbonstream import report
from carbonstream.compute import period_ns, run, window
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from tests.api import data
from tests.api.agree import compare_inventory, compare_matching, register_offsets
from tests.api.conftest import Api, serve
from tests.ingest import helpers as h
from tests.services import PG_ADMIN_URL, drop_db, url_with_db

START, END = "2026-11-22T00:00:00+08:00", "2026-11-25T00:00:00+08:00"


@pytest.fixture(scope="module")
def ledger_api(example_template: str) -> Iterator[Api]:
    name = data.clone(example_template)
    try:
        for api in serve(url_with_db(PG_ADMIN_URL, name)):
            register_offsets(api, h.example().plant)
            yield api
    finally:
        drop_db(name)


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    lo, hi = period_ns(ex.plant.zone, START, END, 60)
    return report.build(window(acc, lo, hi), "day")


def test_inventory_equals_compute_field_by_field(ledger_api: Api, computed: dict[str, Any]) -> None:
    r = ledger_api.client.get(
        "/v1/inventory", params={"start": START, "end": END}, headers=ledger_api.headers("viewer")
    )
    assert r.status_code == 200, r.text
    inv = r.json()
    assert compare_inventory(inv, computed) == []
    # What the example shows: a CCER and an international credit retired, CCER first,
    # more than the market-based gross: zero-carbon and over-offset, net negative.
    net = inv["offsetting"]["market"]
    assert [c["kind"] for c in net["credits"]] == ["ccer", "international"]
    assert net["net_t"] < 0 and net["over_offset"] and inv["offsetting"]["zero_carbon"]
    assert inv["net"]["net_t"] == pytest.approx(net["net_t"])
    assert inv["net"]["over_offset"] and inv["zero_carbon"]["total"]["over_offset"]


def test_matching_equals_compute_per_site(ledger_api: Api, computed: dict[str, Any]) -> None:
    for mine in computed["matching"]:
        r = ledger_api.client.get(
            "/v1/matching",
            params={"site": mine["site"], "start": START, "end": END},
            headers=ledger_api.headers("viewer"),
        )
        assert r.status_code == 200, r.text
        assert compare_matching(r.json(), mine) == []
    foundry = next(m for m in computed["matching"] if m["site"] == "foundry")
    ppa = next(i for i in foundry["instruments"] if i["instrument"] == "PPA-2026-SOLAR")
    assert ppa["counted"] and ppa["hourly"] and ppa["hourly_mwh"] == pytest.approx(3.775)


def test_the_ledger_refuses_what_the_plant_file_refuses(ledger_api: Api) -> None:
    """The example's ETS-surrendered CCER holding: usable false in both; a retirement is a
    422 naming the rule (the plant file fails to load with the same reason)."""
    listed = ledger_api.client.get("/v1/offsets", headers=ledger_api.headers("viewer")).json()
    ets = next(o for o in listed if o["id"] == "CCER-2024-ETS")
    assert not ets["usable"] and "ets-surrendered" in ets["refusal"]
    r = ledger_api.client.post(
        "/v1/offsets/CCER-2024-ETS/retirements",
        json={
            "tco2e": 1,
            "purpose": "again",
            "period": {"start": "2026-11-22", "end": "2026-11-22"},
        },
        headers=ledger_api.headers("operator"),
    )
    assert r.status_code == 422 and "surrendered for national ETS compliance" in r.json()["detail"]
    intl = {
        "id": "GS-NOCA",
        "project": "cookstoves",
        "standard": "gold_standard",
        "registry": "Gold Standard Impact Registry",
        "serials": "GS1-GS10",
        "vintage": 2022,
        "corresponding_adjustment": "unknown",
    }
    h = ledger_api.headers("operator")
    assert ledger_api.client.post("/v1/offsets", json=intl, headers=h).status_code == 201
    r = ledger_api.client.post(
        "/v1/offsets/GS-NOCA/retirements",
        json={"tco2e": 1, "purpose": "x", "period": {"start": "2026-11-22", "end": "2026-11-22"}},
        headers=h,
    )
    assert r.status_code == 422 and "corresponding-adjustment" in r.json()["detail"]
    missing = intl | {"id": "GS-2", "serials": "GS11-GS12", "corresponding_adjustment": None}
    assert ledger_api.client.post("/v1/offsets", json=missing, headers=h).status_code == 422


def test_csv_carries_the_net_on_both_bases_and_the_database_refuses_ets_credits(
    ledger_api: Api, computed: dict[str, Any]
) -> None:
    r = ledger_api.client.get(
        "/v1/inventory",
        params={"start": START, "end": END, "format": "csv"},
        headers=ledger_api.headers("viewer"),
    )
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    net = {(x["item"], x["field"]): x["value"] for x in rows if x["section"] == "Net both bases"}
    for basis in ("market", "location"):
        want = computed["offsetting"][basis]["net_t"]
        assert float(net[(f"(all) {basis}", "net_t")]) == pytest.approx(want, rel=1e-9)
    assert net[("(all) market", "over_offset")] == "True"
    # The backstop under the ledger rule: a retirement of ETS-surrendered credits written
    # straight to the database is refused by its trigger.
    with psycopg.connect(ledger_api.db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO offset_retirements (offset_id, serial_prefix, serial_start, serial_end,"
            " retired_on, purpose, period_start, period_end, created_by) VALUES"
            " ('CCER-2024-ETS', 'CCER', 2024007001, 2024007001, '2026-12-01', 'x',"
            " '2026-11-22', '2026-11-22', 'test')"
        )
