"""The live page's forecast section in headless Chromium: a site with two weeks of history
shows its month projected against the budget, as GET /v1/forecast serves it; a site with
too little history says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.forecast.history import write

from .fix_live import HTTP_TIMEOUT_S, PAGE_WAIT_S, LivePlant, Server, live_plant, live_server
from .test_live_page import _field, _shot, browser

__all__ = ["browser", "live_plant", "live_server"]  # fixtures

UTC = dt.UTC


def test_page_shows_the_month_projected_against_the_budget(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    now = dt.datetime.now(UTC)
    # Two weeks of foundry history, busy enough to end the month over its 1150 t budget.
    write(p.url, "foundry", now - dt.timedelta(days=14), now, 15, k=6.0)
    browser.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    projected = '[data-forecast="foundry"] [data-field="forecast-month-projected"]'
    wait.until(lambda d: _field(d, projected) is not None)
    served = requests.get(
        f"{live_server.base}/v1/forecast?site=foundry",
        headers={"X-API-Key": p.tokens["viewer"]},
        timeout=HTTP_TIMEOUT_S,
    ).json()
    month = next(x for x in served["periods"] if x["period"] == "month")
    # The same figure (approx: a quarter-hour boundary may pass between the two requests).
    assert float(_field(browser, projected) or 0) == pytest.approx(month["projected_t"], rel=0.01)
    text = _field(browser, '[data-forecast="foundry"] [data-period="forecast-month"]', "text")
    assert text is not None and "Month projected " in text
    assert " t of 1,150 t budget (" in text  # e.g. "Month projected 1,797 t of 1,150 t budget"
    assert "t forecast for the rest of the month" in text
    if month["budget_reached_at"]:
        assert "budget reached about" in text
    assert month["projected_t"] > 1150
    over = browser.execute_script(
        "return !!document.querySelector('[data-forecast=\"foundry\"] .fc-period.fc-over')"
    )
    assert over
    # assembly has no history: the page says what is missing.
    problem = '[data-forecast="assembly"] [data-field="forecast-problem"]'
    wait.until(lambda d: _field(d, problem, "text") is not None)
    assert "needs 7 days of history" in (_field(browser, problem, "text") or "")
    _shot(browser, tmp_path, "live-page-forecast.png")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[no-untyped-call]
    assert all("/v1/alerts/active" in e["message"] for e in errors), errors
