"""GET /v1/flexible-loads with PPA data: hourly matching of a PPA and on-site PV surplus
against the grid factor, in the real PostgreSQL, on a hand-worked week.

The assembly site, 2026-11-02 .. 11-08 (plant time), stored as ingest would:

- grid import 2 MWh every hour at 0.5 tCO2e/MWh (location-based): grid factor 0.5;
- surplus PV exported 0.3 MWh at 14:00 every day;
- a PPA allocated to assembly generating, every day, 1 MWh at 10:00, 3 at 11:00,
  2.5 at 12:00 and 2.5 at 13:00: beyond the 2 MWh imported, 0, 1, 0.5, 0.5 MWh;
- a PPA allocated to *foundry* generating 5 MWh at 16:00 and 17:00: not assembly's.

Forecast surplus for tomorrow (mean of the same hour over the 7 days): 11:00 1.0,
12:00 0.5, 13:00 0.5, 14:00 0.3 MWh. The batch oven draws 1 000 kW (1 MWh an hour) for
2 hours between 08:00 and 18:00: marginal intensity 0.5 x (1 - surplus / 1 MWh):
11:00 0, 12:00 and 13:00 0.25, 14:00 0.35, every other hour 0.5 t/MWh.
Best run 11:00-13:00: 1 x (0 + 0.25) = 0.25 t; worst 2 x 0.5 = 1.0 t; saved 0.75 t.
Had foundry's PPA counted, 16:00-18:00 (0 t) would have won.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from tests.api.conftest import Api, serve
from tests.api.data import PLANT, plant_variant

# slow: simulates a plant for weeks (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

TZ = dt.timezone(dt.timedelta(hours=8))
FIRST = dt.date(2026, 11, 2)
DAYS = 7
OVEN = {"id": "oven", "site": "assembly", "kw": 1000, "hours": 2, "earliest": "08:00",
        "latest_end": "18:00"}  # fmt: skip
PERIOD = {"start": "2026-11-02", "end": "2026-11-08"}


def _plant(tmp: Path) -> Path:
    data = yaml.safe_load(PLANT.read_text(encoding="utf-8"))
    energy = dict(data.get("energy") or {})
    energy["flexible_loads"] = [OVEN]
    return plant_variant(tmp / "flex.yaml", instruments=None, energy=energy)


def _store_week(db_url: str) -> None:
    with connect(db_url) as conn:
        lin = conn.execute(
            "INSERT INTO lineage (digest, subject, month, method, gwp, quantity_unit, ef_co2,"
            " ef_ch4, ef_n2o, ef_co2e, flags, record) VALUES ('test-grid', 'meter:assembly-grid',"
            " '2026-11', 'grid', 'AR5', 'MWh', 0.5, 0, 0, 0.5, 0, '{}') RETURNING id"
        ).fetchone()
        assert lin is not None
        keys: dict[str, int] = dict(conn.execute("SELECT id, key FROM meters").fetchall())
        site = conn.execute("SELECT key FROM sites WHERE id = 'assembly'").fetchone()
        assert site is not None
        rows = []
        for d in range(DAYS):
            day = FIRST + dt.timedelta(days=d)
            for h in range(24):
                at = dt.datetime(day.year, day.month, day.day, h, tzinfo=TZ)
                rows.append((keys["assembly-grid"], at, site[0], 1, 2.0, 1.0, 1.0, lin[0]))
                if h == 14:
                    rows.append((keys["assembly-export"], at, site[0], 3, 0.3, 0.0, 0.0, lin[0]))
        sites: dict[str, int] = dict(conn.execute("SELECT id, key FROM sites").fetchall())
        minutes = [
            (sites[s], at, 1.0, 1.0, 2.0, 2.0, lin[0])
            for s in ("assembly", "foundry")
            for meter, at, *_ in rows
            if meter == keys["assembly-grid"]
        ]
        with conn.cursor() as cur:
            # The site rollup as ingest keeps it (allocations check consumption there).
            cur.executemany(
                "INSERT INTO site_minute (site, bucket, scope2_location_t, scope2_market_t,"
                " grid_import_mwh, residual_mwh, residual_lineage_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                minutes,
            )
            cur.executemany(
                "INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s,"
                " n_intervals, flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)"
                " VALUES (%s, %s, %s, %s, %s, 3600, 1, 0, %s, 0, 0, %s, %s)",
                rows,
            )
        conn.commit()


def _post(api: Api, path: str, body: Any) -> None:
    r = api.client.post(path, json=body, headers=api.headers("operator"))
    assert r.status_code == 201, r.text


def _ppa(api: Api, cid: str, site: str, by_hour: dict[int, float]) -> None:
    per_day = sum(by_hour.values())
    mwh = round(per_day * DAYS)
    _post(api, "/v1/contracts", {
        "id": cid, "type": "ppa", "serials": f"{cid}-1-{cid}-{mwh}",
        "generation": {"start": "2026-11-01", "end": "2026-11-30"},
    })  # fmt: skip
    _post(api, f"/v1/contracts/{cid}/allocations", {"site": site, "period": PERIOD, "mwh": mwh})
    rows = [
        {"hour": f"{FIRST + dt.timedelta(days=d)}T{h:02d}:00", "mwh": v}
        for d in range(DAYS)
        for h, v in by_hour.items()
    ]
    _post(api, f"/v1/contracts/{cid}/hourly", {"rows": rows})


@pytest.fixture
def week(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with connect(db_url) as conn:
        migrate(conn)
    for api in serve(db_url, _plant(tmp_path)):
        _store_week(api.db_url)
        _ppa(api, "PA", "assembly", {10: 1.0, 11: 3.0, 12: 2.5, 13: 2.5})
        _ppa(api, "PF", "foundry", {16: 5.0, 17: 5.0})
        yield api


def test_flexible_load_takes_the_ppa_and_pv_surplus_hours_of_its_own_site(week: Api) -> None:
    r = week.client.get(
        "/v1/flexible-loads", params={"at": "2026-11-09T00:30"}, headers=week.headers("viewer")
    )
    assert r.status_code == 200, r.text
    (slot,) = r.json()
    assert (slot["load"], slot["site"], slot["day"]) == ("oven", "assembly", "2026-11-10")
    assert (slot["start"], slot["end"]) == ("11:00", "13:00")
    assert slot["tco2e"] == pytest.approx(0.25)
    assert slot["worst_tco2e"] == pytest.approx(1.0)
    assert slot["saved_tco2e"] == pytest.approx(0.75)
    assert not slot["all_hours_alike"]
    want = [0.5] * 24
    want[11], want[12], want[13], want[14] = 0.0, 0.25, 0.25, 0.35
    assert slot["t_per_mwh_by_hour"] == pytest.approx(want)
