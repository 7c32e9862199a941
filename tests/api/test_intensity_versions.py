"""Intensity per production line and site on the example plant (equal to `carbonstream
compute` on the same readings), and the inventory of a restatement beside the live one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import SITE_COLUMNS, Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.restate import restate
from carbonstream.store.db import connect
from tests.api.conftest import Api, serve
from tests.ingest import helpers as h

MONTH = {"month": "2026-11"}
DAYS = {"start": "2026-11-22", "end": "2026-11-25"}
CORRECTION = (
    "id,version,series,region,value,unit,gas,valid_from,valid_to,data_year,source,table,"
    "verified,description\n"
    "cn.elec.national_avg.2023,2,cn.grid.avg,CN,0.5500,tCO2/MWh,CO2,2023-01-01,2023-12-31,"
    "2023,corrected annex (test),table 1,yes,corrected value\n"
)


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    return report.build(acc, "day")


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def test_intensity_per_line_and_site(example: Api, computed: dict[str, Any]) -> None:
    meters = {m["meter"]: m for m in computed["meters"]}
    gas, output = meters["foundry-gas"], meters["foundry-output"]
    grid, steam = meters["foundry-grid"], meters["foundry-steam"]
    assert output["unit"] == "t" and output["quantity"] > 0
    body = get(example, "/v1/intensity", **MONTH)
    assert body["scope2_basis"] == "market"
    (line,) = body["lines"]
    assert line["line"] == "casting-1" and line["site"] == "foundry" and line["unit"] == "t"
    assert line["production_meters"] == ["foundry-output"]
    # The whole foundry is line casting-1 (gas, incomer, steam): the line is the site.
    assert sorted(line["emission_meters"]) == ["foundry-gas", "foundry-grid", "foundry-steam"]
    assert line["production"] == pytest.approx(output["quantity"], rel=1e-9)
    assert line["scope1_t"] == pytest.approx(gas["co2e_t"], rel=1e-9)
    f = computed["totals"]["sites"]["foundry"]
    loc = grid["co2e_t"] + steam["co2e_t"]
    assert line["scope2_location_t"] == pytest.approx(loc, rel=1e-9)
    assert line["scope2_location_t"] == pytest.approx(f["scope2_location_t"], rel=1e-9)
    assert line["scope2_market_t"] == pytest.approx(f["scope2_market_t"], rel=1e-9)
    want_line = (gas["co2e_t"] + f["scope2_market_t"]) / output["quantity"]
    assert line["t_per_unit"] == pytest.approx(want_line, rel=1e-9)
    sites = {s["site"]: s for s in body["sites"]}
    want = (f["scope1_t"] + f["scope2_market_t"]) / f["production"]
    assert sites["foundry"]["t_per_unit"] == pytest.approx(want, rel=1e-9)
    assert sites["foundry"]["production"] == pytest.approx(output["quantity"], rel=1e-9)
    # No production meter: no intensity, never a division by zero.
    assert sites["assembly"]["unit"] is None and sites["assembly"]["t_per_unit"] is None
    loc = get(example, "/v1/intensity", site="foundry", scope2_basis="location", **MONTH)
    want_loc = (f["scope1_t"] + f["scope2_location_t"]) / f["production"]
    assert loc["sites"][0]["t_per_unit"] == pytest.approx(want_loc, rel=1e-9)
    # The inventory carries the same figures.
    inv = get(example, "/v1/inventory", **MONTH)["intensity"]
    for got, want_ in ((inv["lines"], body["lines"]), (inv["sites"], body["sites"])):
        assert len(got) == len(want_)
        for a, b in zip(got, want_, strict=True):
            for k, v in b.items():
                if isinstance(v, float):
                    assert a[k] == pytest.approx(v, rel=1e-12), k
                else:
                    assert a[k] == v, k


@pytest.fixture
def restated(example_db: str, tmp_path: Path) -> Iterator[tuple[Api, Any, dict[str, Any]]]:
    """The ingested example with a restatement of 22-24 November (corrected grid factor)."""
    for api in serve(example_db):
        before = get(api, "/v1/inventory", **DAYS)
        fix = tmp_path / "correction.csv"
        fix.write_text(CORRECTION)
        with connect(example_db) as conn:
            r = restate(conn, dt.date(2026, 11, 22), dt.date(2026, 11, 24), "grid 2023 v2", [fix])
        yield api, r, before


def test_inventory_shows_a_restatement_and_says_so(
    restated: tuple[Api, Any, dict[str, Any]],
) -> None:
    api, r, before = restated
    listed = get(api, "/v1/restatements")
    assert [(x["id"], x["label"], x["site_days"]) for x in listed] == [(r.id, "grid 2023 v2", 6)]
    assert get(api, f"/v1/restatements/{r.id}")["first_day"] == "2026-11-22"

    inv = get(api, "/v1/inventory", version=str(r.id), **DAYS)
    assert inv["version"]["version"] == str(r.id)
    assert inv["version"]["label"] == f"restatement {r.id}: grid 2023 v2"
    assert inv["version"]["restatement"]["last_day"] == "2026-11-24"
    assert inv["notes"][0].startswith(f"Restatement {r.id}")
    for col in SITE_COLUMNS:
        want = sum(t[col] for t in r.totals.values())
        assert inv["totals"][col] == pytest.approx(want, rel=1e-9, abs=1e-12), col
    for s in inv["by_site"]:
        assert s["scope2_location_t"] == pytest.approx(r.totals[s["site"]]["scope2_location_t"])
    # The corrected grid factor raised location-based Scope 2; Scope 1 is the same.
    assert inv["totals"]["scope2_location_t"] > before["totals"]["scope2_location_t"]
    assert inv["totals"]["scope1_t"] == pytest.approx(before["totals"]["scope1_t"], rel=1e-9)
    assert ("cn.elec.national_avg.2023", 2) in {
        (f["factor_id"], f["version"]) for f in inv["factors"]
    }
    assert inv["net"]["scope2_t"] == pytest.approx(inv["totals"]["scope2_market_t"])

    # The live account is unchanged, and says it is the live one.
    live = get(api, "/v1/inventory", **DAYS)
    assert live["version"] == {
        "version": "live",
        "label": "live account (as ingest stored it)",
        "restatement": None,
    }
    assert live["totals"] == before["totals"]
    explicit = get(api, "/v1/inventory", version="live", **DAYS)
    assert explicit["totals"] == before["totals"]

    # CSV says which version too; zero-carbon status can be read on the restatement.
    csv = api.client.get(
        "/v1/inventory",
        params={**DAYS, "version": str(r.id), "format": "csv"},
        headers=api.headers("viewer"),
    )
    assert f"restatement {r.id}: grid 2023 v2" in csv.text
    z = get(api, "/v1/zero-carbon", version=str(r.id), **DAYS)
    assert z["version"] == str(r.id)
    assert z["total"]["scope2_t"] == pytest.approx(inv["totals"]["scope2_market_t"])

    # A period the restatement does not hold (or not in whole days), an unknown one.
    for params in ({"start": "2026-11-21", "end": "2026-11-23"}, {"month": "2026-11"}):
        bad = api.client.get(
            "/v1/inventory", params={**params, "version": str(r.id)}, headers=api.headers("viewer")
        )
        assert bad.status_code == 422 and "2026-11-22..2026-11-24" in bad.json()["detail"]
    nope = api.client.get(
        "/v1/inventory", params={**DAYS, "version": "999"}, headers=api.headers("viewer")
    )
    assert nope.status_code == 404
    junk = api.client.get(
        "/v1/inventory", params={**DAYS, "version": "latest"}, headers=api.headers("viewer")
    )
    assert junk.status_code == 422
