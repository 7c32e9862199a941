"""Green electricity, offsets and zero-carbon status through the API, on hand-computed cases.

One day of the assembly site, stored as ingest would (4 quarter-hour rows per hour,
10:00-14:00 plant time, 0.75 MWh each; Scope 1 0.25 t and location-based Scope 2 0.3 t per
row; residual factor 0.6 t/MWh):

- consumption: 3 MWh in each of the four hours = 12 MWh; Scope 1 = 16 x 0.25 = 4 t;
  location-based Scope 2 = 16 x 0.3 = 4.8 t;
- a solar PPA of 8 certificates with hourly generation 0, 3, 5, 0 MWh, and a GEC batch of
  2 certificates without hourly data, both allocated to the day.

Annual (volume) matching: 10 MWh of instruments for 12 MWh -> 10 covered, 2 uncovered,
83.33 %, market-based 2 x 0.6 = 1.2 t (= the stored account after the allocations).
Hourly matching: only the PPA's hours count: min(3,0) + min(3,3) + min(3,5) + min(3,0) =
6 MWh covered, 6 uncovered, 50 %, 2 MWh surplus (noon), market-based 6 x 0.6 = 3.6 t.

Zero carbon: 5 CCER retired for assembly and 1 plant-wide for that day. Assembly: gross
4 + 1.2 = 5.2 t, net 0.2 t, not zero-carbon, 0.2 t left; location-based: 4 + 4.8 - 5 =
3.8 t. The plant: 5.2 - 6 = -0.8 t, zero-carbon, nothing left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonstream.store.db import connect
from tests.api.conftest import Api, serve

# slow: stores a year of hourly matching data (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

DAY = {"start": "2026-11-02", "end": "2026-11-02"}
PPA = {
    "id": "PPA-SUN",
    "type": "ppa",
    "serials": "PPA1-PPA8",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
    "source": "solar, Jiangsu",
}
GEC = {
    "id": "GEC-X",
    "type": "gec",
    "serials": "GECX1-GECX2",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
}
CCER = {"id": "CCER-A", "project": "Offshore wind", "serials": "CCER1-CCER10", "vintage": 2025}
PERIOD = {"start": "2026-11-02T00:00", "end": "2026-11-03T00:00"}


def post(api: Api, path: str, body: Any, role: str = "operator", **kw: Any) -> Any:
    return api.client.post(path, json=body, headers=api.headers(role), **kw)


def get(api: Api, path: str, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=api.headers("viewer"))


def store_day(db_url: str) -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    with connect(db_url) as conn:
        lin = conn.execute(
            "INSERT INTO lineage (digest, subject, month, method, gwp, quantity_unit, ef_co2,"
            " ef_ch4, ef_n2o, ef_co2e, flags, record) VALUES ('test-residual', 'site:assembly',"
            " '2026-11', 'market-based residual', 'AR5', 'MWh', 0.6, 0, 0, 0.6, 0, '{}')"
            " RETURNING id"
        ).fetchone()
        assert lin is not None
        site = conn.execute("SELECT key FROM sites WHERE id = 'assembly'").fetchone()
        assert site is not None
        for hour in range(10, 14):
            for minute in (0, 15, 30, 45):
                conn.execute(
                    "INSERT INTO site_minute (site, bucket, scope1_t, scope1_co2_t,"
                    " scope2_location_t, scope2_market_t, grid_import_mwh, residual_mwh,"
                    " residual_lineage_id) VALUES (%s, %s, 0.25, 0.25, 0.3, 0.45, 0.75, 0.75, %s)",
                    (site[0], dt.datetime(2026, 11, 2, hour, minute, tzinfo=tz), lin[0]),
                )
        conn.commit()


@pytest.fixture
def bare_api(migrated_db: str, bare_plant: Path) -> Iterator[Api]:
    """An empty database and the example plant without its file instruments."""
    yield from serve(migrated_db, bare_plant)


@pytest.fixture
def day(bare_api: Api) -> Api:
    api = bare_api
    store_day(api.db_url)
    assert post(api, "/v1/contracts", PPA).status_code == 201
    assert post(api, "/v1/contracts", GEC).status_code == 201
    for cid, mwh in (("PPA-SUN", 8), ("GEC-X", 2)):
        r = post(
            api, f"/v1/contracts/{cid}/allocations", {"site": "assembly", "period": DAY, "mwh": mwh}
        )
        assert r.status_code == 201, r.text
    return api


def test_hourly_data_rules(day: Api) -> None:
    url = "/v1/contracts/PPA-SUN/hourly"
    csv = "hour,mwh\n2026-11-02T10:00,0\n2026-11-02T11:00,3\n"
    r = day.client.post(
        url, content=csv, headers={**day.headers("operator"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 201, r.text
    assert (r.json()["added"], r.json()["hours"]) == (2, 2)
    rows = [
        {"hour": "2026-11-02T10:00", "mwh": 0},
        {"hour": "2026-11-02T11:00:00+08:00", "mwh": 3},
        {"hour": "2026-11-02T04:00:00Z", "mwh": 5},  # 12:00 plant time
        {"hour": "2026-11-02T13:00", "mwh": 0},
    ]
    r = post(day, url, {"rows": rows})
    assert r.status_code == 201, r.text
    assert r.json() | {} == {
        "contract": "PPA-SUN",
        "added": 2,
        "unchanged": 2,
        "hours": 4,
        "hourly_mwh": 8.0,
        "contract_mwh": 8.0,
    }
    # Never silently rewritten; never more than the certificates; inside generation; whole hours.
    r = post(day, url, {"rows": [{"hour": "2026-11-02T11:00", "mwh": 2}]})
    assert r.status_code == 409 and "never silently rewritten" in r.json()["detail"]
    r = post(day, url, {"rows": [{"hour": "2026-11-02T14:00", "mwh": 1}]})
    assert r.status_code == 422 and "8 certificates" in r.json()["detail"]
    r = post(day, url, {"rows": [{"hour": "2026-12-01T10:00", "mwh": 0}]})
    assert r.status_code == 422 and "generation period" in r.json()["detail"]
    r = post(day, url, {"rows": [{"hour": "2026-11-02T10:30", "mwh": 0}]})
    assert r.status_code == 422 and "not the start of a local hour" in r.json()["detail"]
    r = day.client.post(
        url, content="when,mwh\n", headers={**day.headers("operator"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 422 and "hour,mwh" in r.json()["detail"]
    assert post(day, url, {"rows": []}).status_code == 422
    assert post(day, "/v1/contracts/nope/hourly", {"rows": rows}).status_code == 404
    assert post(day, url, {"rows": rows}, role="viewer").status_code == 403
    got = get(day, url).json()
    assert [(x["hour"], x["mwh"]) for x in got["rows"]] == [
        ("2026-11-02T10:00:00+08:00", 0.0),
        ("2026-11-02T11:00:00+08:00", 3.0),
        ("2026-11-02T12:00:00+08:00", 5.0),
        ("2026-11-02T13:00:00+08:00", 0.0),
    ]
    assert got["hourly_pct"] == 100.0
    # An admin removes data loaded by mistake; it can then be loaded again.
    assert day.client.delete(url, headers=day.headers("operator")).status_code == 403
    assert day.client.delete(url, headers=day.headers("admin")).status_code == 204
    assert get(day, url).json()["hours"] == 0


def test_annual_and_hourly_matching_side_by_side(day: Api) -> None:
    rows = [
        {"hour": f"2026-11-02T{h}:00", "mwh": m} for h, m in ((10, 0), (11, 3), (12, 5), (13, 0))
    ]
    assert post(day, "/v1/contracts/PPA-SUN/hourly", {"rows": rows}).status_code == 201
    r = get(day, "/v1/matching", site="assembly", hours="true", **PERIOD)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["period"]["hours"] == 24
    assert m["residual_factor_t_per_mwh"] == pytest.approx(0.6)
    a, h = m["annual"], m["hourly"]
    assert a == pytest.approx(
        {
            "consumption_mwh": 12,
            "instruments_mwh": 10,
            "covered_mwh": 10,
            "uncovered_mwh": 2,
            "surplus_mwh": 0,
            "coverage_pct": 100 * 10 / 12,
            "market_t": 1.2,
        }
    )
    assert h == pytest.approx(
        {
            "consumption_mwh": 12,
            "instruments_mwh": 8,
            "covered_mwh": 6,
            "uncovered_mwh": 6,
            "surplus_mwh": 2,
            "coverage_pct": 50,
            "market_t": 3.6,
        }
    )
    assert m["difference_t"] == pytest.approx(2.4)
    # The stored account (the core's allocation, restated at each allocation) = annual.
    assert m["stored"] == pytest.approx({"covered_mwh": 10, "market_t": 1.2, "location_t": 4.8})
    by_id = {i["instrument"]: i for i in m["instruments"]}
    assert by_id["PPA-SUN:1"]["hourly"] and by_id["PPA-SUN:1"]["hourly_mwh"] == 8
    assert not by_id["GEC-X:1"]["hourly"] and "annual matching only" in by_id["GEC-X:1"]["note"]
    assert any("annual matching only: GEC-X:1" in n for n in m["notes"])
    noon = next(x for x in m["hours"] if x["hour"] == "2026-11-02T12:00:00+08:00")
    assert noon == {
        "hour": "2026-11-02T12:00:00+08:00",
        "consumption_mwh": 3.0,
        "instruments_mwh": 5.0,
        "covered_mwh": 3.0,
    }
    # A month holds the day: the same figures; an instrument outside a shorter period is
    # listed, not counted.
    month = get(day, "/v1/matching", site="assembly", month="2026-11").json()
    assert month["hourly"]["market_t"] == pytest.approx(3.6) and month["hours"] is None
    part = get(
        day, "/v1/matching", site="assembly", start="2026-11-02T11:00", end="2026-11-02T13:00"
    ).json()
    assert part["annual"]["instruments_mwh"] == 0 and not any(
        i["counted"] for i in part["instruments"]
    )
    assert part["annual"]["market_t"] == pytest.approx(6 * 0.6)
    bad = get(day, "/v1/matching", site="assembly", start="2026-11-02T10:30", end="2026-11-03")
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-period")
    assert get(day, "/v1/matching", site="nowhere", **PERIOD).status_code == 404


def test_net_and_zero_carbon_status(day: Api) -> None:
    assert post(day, "/v1/offsets", CCER).status_code == 201
    url = "/v1/offsets/CCER-A/retirements"
    r = post(
        day,
        url,
        {"tco2e": 5, "purpose": "assembly zero-carbon day", "period": DAY, "site": "assembly"},
    )
    assert r.status_code == 201, r.text
    assert post(day, url, {"tco2e": 1, "purpose": "plant", "period": DAY}).status_code == 201
    # Retiring the same credits again is refused, naming the earlier retirement.
    again = post(day, url, {"serials": "CCER1-CCER1", "purpose": "again", "period": DAY})
    assert again.status_code == 409 and "cannot be used again" in again.json()["detail"]

    z = get(day, "/v1/zero-carbon", **PERIOD).json()
    assert z["version"] == "live" and z["scope2_basis"] == "market"
    sites = {s["site"]: s for s in z["sites"]}
    a = sites["assembly"]
    assert a.pop("retirements") == [1]
    assert a == pytest.approx(
        {
            "site": "assembly",
            "scope1_t": 4,
            "scope2_t": 1.2,
            "gross_t": 5.2,
            "offsets_t": 5,
            "net_t": 0.2,
            "zero_carbon": False,
            "remaining_t": 0.2,
            "over_offset": False,
            "over_offset_t": 0,
        }
    )
    assert sites["foundry"]["gross_t"] == 0 and sites["foundry"]["zero_carbon"]
    t = z["total"]
    assert (t["offsets_t"], t["zero_carbon"], t["remaining_t"]) == (6, True, 0)
    assert t["net_t"] == pytest.approx(-0.8) and t["gross_t"] == pytest.approx(5.2)
    # One site: the plant-wide retirement does not count for it.
    one = get(day, "/v1/zero-carbon", site="assembly", **PERIOD).json()["total"]
    assert one["net_t"] == pytest.approx(0.2) and not one["zero_carbon"]
    loc = get(day, "/v1/zero-carbon", site="assembly", scope2_basis="location", **PERIOD).json()
    assert loc["total"]["net_t"] == pytest.approx(3.8)
    # The inventory carries the same status, per site and together.
    inv = get(day, "/v1/inventory", **PERIOD).json()
    assert inv["version"]["version"] == "live"
    assert inv["net"]["net_t"] == pytest.approx(-0.8) and inv["net"]["zero_carbon"]
    assert inv["zero_carbon"]["total"].pop("retirements") == t.pop("retirements") == [1, 2]
    assert inv["zero_carbon"]["total"] == pytest.approx(t)
    inv_sites = {s["site"]: s for s in inv["zero_carbon"]["sites"]}
    assert inv_sites["assembly"]["remaining_t"] == pytest.approx(0.2)
    # Another day: nothing retired for it.
    other = get(day, "/v1/zero-carbon", start="2026-11-03", end="2026-11-04").json()
    assert other["total"]["offsets_t"] == 0 and other["total"]["retirements"] == []
