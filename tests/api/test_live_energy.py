"""Comprehensive energy in tce per site in the live view (GET /v1/live and the page in
headless Chromium), on a hand-computed case with the example plant.

Today, four minutes of the foundry: 200 Nm3 of natural gas (gas field, 1.2143 kgce/m3:
0.24286 tce) and 0.5 MWh of grid power (0.1229 tce/MWh: 0.06145 tce) each, and 2 t of
castings: 4 x 0.30431 = 1.21724 tce at equivalent value, 1.21724 / 8 = 0.152155 tce per t.
The assembly hall's rooftop PV made 0.1 MWh a minute: 4 x 0.01229 = 0.04916 tce, apart,
not in its total (0). On the first day of the month, at 00:00, the foundry also drew
1 MWh (0.1229 tce): in this month's figure, and in today's only when today is that day.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from carbonstream.core import FactorLibrary
from carbonstream.core.energy import for_plant
from carbonstream.core.meters import build_params
from carbonstream.store.db import connect
from tests.api.test_live_page import _field, _shot, browser

from .fix_live import (
    HTTP_TIMEOUT_S,
    PAGE_WAIT_S,
    LivePlant,
    Server,
    live_plant,
    live_server,
    pin_clock,
)

__all__ = ["browser", "live_plant", "live_server"]  # fixtures

GAS_TCE, GRID_TCE = 200 * 1.2143e-3, 0.5 * 0.1229


def store(p: LivePlant, now: dt.datetime) -> bool:
    """The case above; True when the month's first minute is today."""
    zone = p.plant.zone
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
    first = max(midnight, now - dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
    minutes = [first + dt.timedelta(minutes=i) for i in range(4)]
    month_start = midnight.replace(day=1)
    foundry, assembly = p.site_key("foundry"), p.site_key("assembly")
    rows = [
        (p.meter_key(m), t, site, role, qty)
        for t in minutes
        for m, site, role, qty in (
            ("foundry-gas", foundry, 0, 200.0),
            ("foundry-grid", foundry, 1, 0.5),
            ("foundry-output", foundry, 6, 2.0),
            ("assembly-pv", assembly, 5, 0.1),
        )
    ]
    rows.append((p.meter_key("foundry-grid"), month_start, foundry, 1, 1.0))
    with connect(p.url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s,"
            " n_intervals, flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)"
            " VALUES (%s, %s, %s, %s, %s, 60, 1, 0, 0, 0, 0, 0, 1)",
            rows,
        )
        conn.commit()
    return month_start == midnight


def test_live_tce_per_site(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    now = pin_clock(live_server)  # today is the stored day, even across midnight
    first_day = store(p, now)
    req = urllib.request.Request(
        f"{live_server.base}/v1/live", headers={"X-API-Key": p.tokens["viewer"]}
    )
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
        snap = json.loads(r.read())
    sites = {s["id"]: s["energy"] for s in snap["sites"]}
    f, a = sites["foundry"], sites["assembly"]
    extra = 0.1229  # the month's first minute: 1 MWh
    today = 4 * (GAS_TCE + GRID_TCE) + (extra if first_day else 0.0)
    month = 4 * (GAS_TCE + GRID_TCE) + extra
    assert f["production_unit"] == "t"
    assert f["today"]["total_tce"] == pytest.approx(today, rel=1e-5)
    assert f["month"]["total_tce"] == pytest.approx(month, rel=1e-5)
    assert f["today"]["production"] == 8.0
    assert f["today"]["tce_per_unit"] == pytest.approx(today / 8, rel=1e-5)
    # Equal value: electricity at the power-supply coal rate of the year instead.
    library = FactorLibrary.load(p.plant.factor_files)
    ep = for_plant(p.plant, build_params(p.plant, library).canonical_unit)
    year = now.astimezone(p.plant.zone).year
    mwh_today = 4 * 0.5 + (1.0 if first_day else 0.0)
    rate = ep.equal_value(year).tce_per_mwh
    assert f["today"]["total_equal_tce"] == pytest.approx(4 * GAS_TCE + mwh_today * rate, rel=1e-5)
    assert a["today"]["total_tce"] == 0 and a["today"]["tce_per_unit"] is None
    assert a["today"]["onsite_renewable_tce"] == pytest.approx(4 * 0.1 * 0.1229, rel=1e-5)
    assert a["production_unit"] is None

    browser.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    site = '[data-site="foundry"]'
    wait.until(lambda d: _field(d, f'{site} [data-field="energy-today-total_tce"]') is not None)
    shown = float(_field(browser, f'{site} [data-field="energy-today-total_tce"]') or 0)
    assert shown == pytest.approx(today, rel=1e-5)
    per = float(_field(browser, f'{site} [data-field="energy-today-tce_per_unit"]') or 0)
    assert per == pytest.approx(today / 8, rel=1e-5)
    pv = '[data-site="assembly"] [data-field="energy-today-onsite_renewable_tce"]'
    assert float(_field(browser, pv) or 0) == pytest.approx(4 * 0.1 * 0.1229, rel=1e-5)
    _shot(browser, tmp_path, "live-page-energy.png")
