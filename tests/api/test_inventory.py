"""The inventory of a period agrees with `carbonstream compute` on the same readings, and its
CSV and XLSX renderings carry the same figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from typing import Any

import openpyxl
import pytest

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import SITE_COLUMNS, Engine
from carbonstream.core.library import FactorLibrary
from tests.api.conftest import Api
from tests.ingest import helpers as h

PERIOD = {"start": "2026-11-22T00:00:00+08:00", "end": "2026-11-25T00:00:00+08:00"}
TOTALS = (*SITE_COLUMNS, "ghg_total_location_t", "ghg_total_market_t", "cn_total_t")


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    return report.build(acc, "day")


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


@pytest.fixture(scope="module")
def inventory(example: Api) -> dict[str, Any]:
    r = example.client.get("/v1/inventory", params=PERIOD, headers=example.headers("viewer"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_totals_equal_compute(inventory: dict[str, Any], computed: dict[str, Any]) -> None:
    assert inventory["schema"] == "carbonstream.inventory/v1"
    assert inventory["period"]["hours"] == 72
    for col in TOTALS:
        assert close(inventory["totals"][col], computed["totals"]["plant"][col]), col
    for site in inventory["by_site"]:
        want = computed["totals"]["sites"][site["site"]]
        for col in TOTALS:
            assert close(site[col], want[col]), (site["site"], col)
    t = inventory["totals"]
    assert close(inventory["scope1"]["total_t"], t["scope1_t"])
    assert close(inventory["scope2"]["market_t"], t["scope2_market_t"])
    assert close(inventory["exports"]["export_deduction_t"], t["export_deduction_t"])
    # Scope 1 by fuel and by source add up to Scope 1.
    assert close(sum(f["co2e_t"] for f in inventory["scope1"]["by_fuel"]), t["scope1_t"])
    assert close(sum(s["co2e_t"] for s in inventory["scope1"]["by_source"]), t["scope1_t"])
    gas = next(f for f in inventory["scope1"]["by_fuel"] if f["fuel"] == "natural_gas")
    assert gas["unit"] == "Nm3" and gas["energy_gj"] > 0 and gas["meters"] == ["foundry-gas"]
    # CH4 and N2O: gas masses and their CO2e side by side (AR5: 28, 265), as compute.
    s1 = inventory["scope1"]
    assert s1["ch4_t"] > 0 and close(s1["ch4_co2e_t"], s1["ch4_t"] * 28)
    assert close(s1["n2o_co2e_t"], s1["n2o_t"] * 265)
    assert close(inventory["totals"]["scope1_ch4_co2e_t"], t["scope1_ch4_co2e_t"])
    assert close(s1["co2_t"] + s1["ch4_co2e_t"] + s1["n2o_co2e_t"], s1["total_t"])


def test_activity_coverage_and_instruments_equal_compute(
    inventory: dict[str, Any], computed: dict[str, Any]
) -> None:
    want = {m["meter"]: m for m in computed["meters"]}
    got = {a["meter"]: a for a in inventory["activity"]}
    assert set(got) == set(want)
    for m, a in got.items():
        assert a["unit"] == want[m]["unit"]
        assert close(a["quantity"], want[m]["quantity"]), m
        assert close(a["coverage_pct"], want[m]["coverage_pct"], 1e-6), m
        # Uncounted intervals (the example's gap) are flags on the stored lines too.
        assert a["flags"] == want[m]["flags"], m
        assert a["meter_unit"] == want[m]["meter_unit"]
        assert close(a["quantity_meter_unit"], want[m]["quantity_meter_unit"]), m
    assert "gap" in got["warehouse-power"]["flags"]
    assert close(inventory["coverage_pct"], computed["quality"]["coverage_pct"], 1e-6)
    allocated = {c["instrument"]: c["allocated_mwh"] for c in inventory["certificates"]}
    for i in computed["instruments"]:
        assert close(allocated[i["id"]], i["allocated_mwh"]), i["id"]
    units = {(x["kind"], x["unit"]) for x in inventory["activity_totals"]}
    assert {("grid_import", "MWh"), ("fuel", "Nm3"), ("heat_import", "GJ")} <= units


def test_unsigned_readings_are_counted_per_meter(inventory: dict[str, Any]) -> None:
    """The example went in as unsigned v1 batches (accepted by the test settings): each
    meter's stored readings of the period are all marked unsigned in its data quality."""
    ex = h.example()
    lo = int(dt.datetime.fromisoformat(PERIOD["start"]).timestamp()) * 10**9
    hi = int(dt.datetime.fromisoformat(PERIOD["end"]).timestamp()) * 10**9
    in_period = (ex.batch.ts >= lo) & (ex.batch.ts < hi)
    want = Counter(ex.ids[i] for i in ex.batch.meter[in_period].tolist())
    got = {a["meter"]: a for a in inventory["activity"]}
    for meter, a in got.items():
        assert a["readings"] == want[meter] > 0, meter
        assert a["unsigned_readings"] == a["readings"], meter
        assert a["unsigned_share_pct"] == 100.0, meter


def test_every_factor_used_with_source_and_version(
    inventory: dict[str, Any], computed: dict[str, Any]
) -> None:
    want = {(f["factor_id"], f["version"]) for x in computed["lineage"] for f in x["factors"]}
    got = {(f["factor_id"], f["version"]) for f in inventory["factors"]}
    assert got == want
    for f in inventory["factors"]:
        assert f["source"] and f["used_by"] and f["months"] == ["2026-11"]
        assert f["source_value"] is not None and f["source_unit"]
    # Every lineage says why each factor serves its month: looked up or pinned, validity.
    for lin in inventory["lineage"]:
        assert len(lin["basis"]) == len(lin["factors"]), lin["subject"]
    gas = next(x for x in inventory["lineage"] if x["subject"] == "foundry-gas")
    assert gas["basis"]["ncv"].startswith("pinned by meter foundry-gas factors.ncv:")
    grid = next(x for x in inventory["lineage"] if x["subject"] == "assembly-grid")
    assert "[rule latest_earlier]" in grid["basis"]["grid"]
    co2 = next(f for f in inventory["factors"] if f["factor_id"] == "ipcc2006.diesel.co2")
    # 74 100 kg/TJ as IPCC Table 1.4 prints it, 0.0741 t/GJ as the formula uses it
    assert (co2["source_value"], co2["source_unit"]) == (74100.0, "kg/TJ")
    assert close(co2["value"], 0.0741) and co2["unit"] == "t/GJ"
    grid = next(f for f in inventory["factors"] if f["role"] == "grid")
    assert grid["fallback"] and "2026" in grid["fallback"]  # 2026 factors not published yet
    assert inventory["net"] == {
        "scope1_t": inventory["totals"]["scope1_t"],
        "scope2_t": inventory["totals"]["scope2_market_t"],
        "scope2_basis": "market",
        "offsets_t": 0.0,
        "net_t": inventory["totals"]["ghg_total_market_t"],
        "zero_carbon": False,
        "remaining_t": inventory["totals"]["ghg_total_market_t"],
        "over_offset": False,
        "over_offset_t": 0.0,
    }


def test_xlsx_opens_and_carries_the_totals(example: Api, inventory: dict[str, Any]) -> None:
    r = example.client.get(
        "/v1/inventory", params={**PERIOD, "format": "xlsx"}, headers=example.headers("viewer")
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames[:3] == ["Summary", "Sites", "Scope 1 by fuel"]
    assert {"Factors", "Lineage", "Certificates", "Offsets", "Activity"} <= set(wb.sheetnames)
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert close(float(summary["scope1_t"]), inventory["totals"]["scope1_t"])  # type: ignore[arg-type]
    assert close(float(summary["cn_total_t"]), inventory["totals"]["cn_total_t"])  # type: ignore[arg-type]
    factors = list(wb["Factors"].iter_rows(values_only=True))
    assert factors[0][:2] == ("factor_id", "version") and len(factors) == 1 + len(
        inventory["factors"]
    )


def test_csv_and_month_shortcut(example: Api, inventory: dict[str, Any]) -> None:
    r = example.client.get(
        "/v1/inventory",
        params=PERIOD,
        headers={**example.headers("viewer"), "Accept": "text/csv"},
    )
    # Tidy: one row per observation, its value and unit on the same row.
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["section", "item", "field", "value", "unit"]
    summary = {x["field"]: x for x in rows if x["section"] == "Summary"}
    assert summary["scope1_t"]["item"] == "plant"
    assert close(float(summary["scope1_t"]["value"]), inventory["totals"]["scope1_t"])
    assert summary["scope1_t"]["unit"] == "tCO2e"
    # A tonne of CH4 is labelled as a tonne of CH4, its CO2e on a line of its own.
    assert summary["scope1_ch4_t"]["unit"] == "tCH4 (mass of the gas)"
    assert summary["scope1_ch4_co2e_t"]["unit"] == "tCO2e (CH4 x GWP)"
    assert summary["scope1_n2o_t"]["unit"] == "tN2O (mass of the gas)"
    assert summary["period_start"]["value"] == inventory["period"]["start"]
    sites = {(x["item"], x["field"]): x for x in rows if x["section"] == "Sites"}
    assert sites[("foundry", "scope1_ch4_t")]["unit"] == "tCH4"
    assert sites[("foundry", "grid_import_mwh")]["unit"] == "MWh"
    # A meter's activity in the meter's own unit, on the row of the number.
    act = {(x["item"], x["field"]): x for x in rows if x["section"] == "Activity"}
    gas = next(a for a in inventory["activity"] if a["meter"] == "foundry-gas")
    assert act[("foundry-gas", "quantity")]["unit"] == gas["unit"]
    assert close(float(act[("foundry-gas", "quantity")]["value"]), gas["quantity"])
    assert act[("foundry-gas", "quantity_meter_unit")]["unit"] == gas["meter_unit"]
    assert ("foundry-gas", "unit") not in act  # the unit is a column, not a row
    assert all(x["field"] != "unit" or x["unit"] == "" for x in rows)
    assert any(x["section"] == "Factors" for x in rows)
    month = example.client.get(
        "/v1/inventory", params={"month": "2026-11"}, headers=example.headers("viewer")
    ).json()
    assert close(month["totals"]["scope1_t"], inventory["totals"]["scope1_t"])
    assert month["coverage_pct"] < inventory["coverage_pct"]  # 3 days of a 30-day month
    bad = example.client.get(
        "/v1/inventory",
        params={"month": "2026-11", "year": 2026},
        headers=example.headers("viewer"),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-period")
