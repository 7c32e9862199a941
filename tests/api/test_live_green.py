"""The live view's zero-carbon status and intensity, in GET /v1/live and on the page (headless
Chromium), on a hand-computed case.

Today, the foundry stored 4 minutes of 0.5 t Scope 1, 0.25 t Scope 2 (both ways) and 2 t of
castings each; its casting-1 line (gas and output meters) 0.4 t and 2 t a minute. So today:
gross 4 x 0.75 = 3 t; 1 t CCER retired for today -> net 2 t, 2 t left; this month another 3 t
retired for the whole month -> net 3 - 4 = -1 t, zero-carbon. Intensity: site 3 / 8 =
0.375 t per t of castings, line casting-1 1.6 / 8 = 0.2.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

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


def _today_minutes(p: LivePlant, now: dt.datetime) -> list[dt.datetime]:
    """Four minutes of today (plant time), before now."""
    zone = p.plant.zone
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
    first = max(midnight, now - dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
    return [first + dt.timedelta(minutes=i) for i in range(4)]


def store(p: LivePlant, now: dt.datetime) -> tuple[dt.date, dt.date, dt.date]:
    minutes = _today_minutes(p, now)
    zone = p.plant.zone
    today = minutes[0].astimezone(zone).date()
    month_first = today.replace(day=1)
    nxt = (month_first + dt.timedelta(days=32)).replace(day=1)
    foundry = p.site_key("foundry")
    gas, output = p.meter_key("foundry-gas"), p.meter_key("foundry-output")
    with connect(p.url) as conn:
        for t in minutes:
            conn.execute(
                "INSERT INTO site_minute (site, bucket, scope1_t, scope2_location_t,"
                " scope2_market_t, grid_import_mwh, production) VALUES (%s, %s, 0.5, 0.25, 0.25,"
                " 0.5, 2.0)",
                (foundry, t),
            )
            for meter, role, qty, co2e in ((gas, 0, 200.0, 0.4), (output, 6, 2.0, 0.0)):
                conn.execute(
                    "INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s,"
                    " n_intervals, flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)"
                    " VALUES (%s, %s, %s, %s, %s, 60, 1, 0, %s, 0, 0, %s, 1)",
                    (meter, t, foundry, role, qty, co2e, co2e),
                )
        conn.execute(
            "INSERT INTO offsets (id, project, registry, serials, vintage, tco2e, site,"
            " serial_prefix, serial_start, serial_end, created_by) VALUES ('CCER-L', 'wind',"
            " 'CCER', 'C1-C10', 2025, 10, %s, 'C', 1, 10, 'test')",
            (foundry,),
        )
        for first, last, lo, hi in (
            (today, today, 1, 1),
            (month_first, nxt - dt.timedelta(1), 2, 4),
        ):
            conn.execute(
                "INSERT INTO offset_retirements (offset_id, serial_prefix, serial_start,"
                " serial_end, retired_on, purpose, site, period_start, period_end, created_by)"
                " VALUES ('CCER-L', 'C', %s, %s, %s, 'zero-carbon claim', %s, %s, %s, 'test')",
                (lo, hi, today, foundry, first, last),
            )
        conn.commit()
    return today, month_first, nxt


def test_live_zero_carbon_and_intensity(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    store(p, pin_clock(live_server))  # today is the stored day, even across midnight
    req = urllib.request.Request(
        f"{live_server.base}/v1/live", headers={"X-API-Key": p.tokens["viewer"]}
    )
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
        snap = json.loads(r.read())
    f = next(s for s in snap["sites"] if s["id"] == "foundry")
    z = f["zero_carbon"]
    assert z["basis"] == "market"
    assert z["today"] == {
        "scope1_t": 2.0,
        "scope2_t": 1.0,
        "offsets_t": 1.0,
        "net_t": 2.0,
        "zero_carbon": False,
        "remaining_t": 2.0,
    }
    assert (z["month"]["offsets_t"], z["month"]["net_t"], z["month"]["zero_carbon"]) == (
        4.0,
        -1.0,
        True,
    )
    it = f["intensity"]
    assert it["unit"] == "t" and it["today"]["t_per_unit"] == pytest.approx(0.375)
    assert it["month"]["production"] == 8.0
    (line,) = it["lines"]
    assert line["line"] == "casting-1" and line["today"]["t_per_unit"] == pytest.approx(0.2)
    a = next(s for s in snap["sites"] if s["id"] == "assembly")
    assert a["intensity"]["unit"] is None and a["zero_carbon"]["today"]["net_t"] == 0

    browser.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    site = '[data-site="foundry"]'
    wait.until(lambda d: _field(d, f'{site} [data-field="zc-today-net"]') is not None)
    assert _field(browser, f'{site} [data-field="zc-today-net"]') == "2"
    assert _field(browser, f'{site} [data-field="zc-today-status"]') == "not-zero-carbon"
    assert "2.00 t left" in (
        _field(browser, f'{site} [data-field="zc-today-status"]', "text") or ""
    )
    assert _field(browser, f'{site} [data-field="zc-month-status"]') == "zero-carbon"
    assert _field(browser, f'{site} [data-field="zc-month-net"]') == "-1"
    assert float(_field(browser, f'{site} [data-field="int-today-site"]') or 0) == pytest.approx(
        0.375
    )
    line_sel = f'{site} [data-line="casting-1"] [data-field="int-today-line"]'
    assert float(_field(browser, line_sel) or 0) == pytest.approx(0.2)
    _shot(browser, tmp_path, "live-page-zero-carbon.png")
    errors = [
        e
        for e in browser.get_log("browser")  # type: ignore[no-untyped-call]
        if e["level"] == "SEVERE" and "/v1/alerts/active" not in e["message"]
    ]
    assert not errors, errors
