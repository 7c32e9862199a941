"""The live page in headless Chromium: it takes the key from the link, shows the plant
and follows the stream; a rising emission rate shows as a rising number; a bad key
gets the key form, a good one the plant."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from carbonstream.figures import figure
from tests.tools import require_tool

from .fix_live import PAGE_WAIT_S, LivePlant, Server, live_plant, live_server, pin_clock, rates_end

__all__ = ["live_plant", "live_server"]  # fixtures

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1300,1400",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    chromium = require_tool("chromium")
    driver_path = require_tool("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _field(driver: webdriver.Chrome, selector: str, attr: str = "value") -> str | None:
    """An element's data attribute (or text), read in one step: the page re-renders a site
    card whenever the snapshot changes, so a found element may be gone a moment later."""
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? (arguments[1] === 'text' ? e.textContent : e.dataset[arguments[1]]) : null;",
        selector,
        attr,
    )
    return None if value in (None, "") else str(value)


def _rate(driver: webdriver.Chrome, site: str) -> float | None:
    value = _field(driver, f'[data-site="{site}"] [data-field="rate-now"]')
    return float(value) if value else None


def _shot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    keep = os.environ.get("CARBONSTREAM_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def test_page_shows_a_rising_rate(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    now = pin_clock(live_server)
    end = rates_end(now)
    first = end - dt.timedelta(minutes=90)
    # foundry, market basis: (0.001 + 0.003) t a minute = 0.24 t/h
    p.minutes("foundry", first, 93, 0.001, 0.002, 0.003)
    p.reading("foundry-grid", end - dt.timedelta(hours=2))
    p.reading("foundry-gas", now - dt.timedelta(seconds=1))

    browser.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    wait.until(lambda d: _rate(d, "foundry") is not None)
    assert _rate(browser, "foundry") == pytest.approx(0.24)
    # The key left the address bar for this tab's sessionStorage.
    assert "key=" not in browser.current_url
    assert (
        browser.execute_script("return sessionStorage.getItem('carbonstream.key')")
        == (p.tokens["viewer"])
    )
    assert browser.find_element(By.ID, "conn").get_attribute("data-state") == "live"
    assert _field(browser, '[data-meter="foundry-gas"] [data-field]', "text") == "ok"
    today = _field(browser, '[data-site="foundry"] [data-field="today-total"]')
    # No alerting on this server yet (GET /v1/alerts/active is 404): "none", no error.
    wait.until(lambda d: "none" in d.find_element(By.ID, "alerts-state").text)
    _shot(browser, tmp_path, "live-page-before.png")

    # The plant works harder: the same minutes now hold twice the emissions.
    p.minutes("foundry", first, 93, 0.002, 0.004, 0.006)
    wait.until(lambda d: (_rate(d, "foundry") or 0) > 0.3)
    assert _rate(browser, "foundry") == pytest.approx(0.48)
    today_after = _field(browser, '[data-site="foundry"] [data-field="today-total"]')
    assert today is not None and today_after is not None
    assert float(today_after) > float(today)
    _shot(browser, tmp_path, "live-page-after.png")
    logs = browser.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [e for e in logs if e["level"] == "SEVERE"]
    assert all("/v1/alerts/active" in e["message"] for e in errors), errors


def test_page_asks_for_a_key(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome
) -> None:
    browser.get(f"{live_server.base}/")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    keybox = browser.find_element(By.ID, "keybox")
    wait.until(lambda d: keybox.is_displayed())
    field = browser.find_element(By.ID, "keyinput")
    field.send_keys("cs_0123456789ab_" + "x" * 43)
    browser.find_element(By.CSS_SELECTOR, "#keyform button").click()
    wait.until(lambda d: "refused" in d.find_element(By.ID, "keymsg").text)
    assert keybox.is_displayed()
    field.send_keys(live_plant.tokens["viewer"])
    browser.find_element(By.CSS_SELECTOR, "#keyform button").click()
    wait.until(lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "live")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-site="assembly"]'))
    assert not keybox.is_displayed()


def _badge(driver: webdriver.Chrome, site: str, period: str) -> tuple[str, str, str] | None:
    """(state, text, background colour) of a budget's badge, read in one step."""
    found = driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? [e.dataset.value, e.textContent, getComputedStyle(e).backgroundColor]"
        " : null;",
        f'[data-site="{site}"] [data-field="{period}-budget-state"]',
    )
    return None if found is None else (str(found[0]), str(found[1]), str(found[2]))


def test_a_young_projection_is_warming_up_and_budgets_are_coloured_by_state(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    now = pin_clock(live_server)
    end = rates_end(now)
    # foundry: data began 372 s before the rates' end, at 3.6 t/h (0.06 t a minute): held
    # to the month's end that projects far over its 1150 t budget, on six minutes of data.
    p.reading("foundry-grid", end - dt.timedelta(seconds=372))
    p.minutes("foundry", end - dt.timedelta(minutes=7), 7, 0.02, 0.04, 0.04)
    # assembly: two hours of data at 0.006 t/h: well inside its 12 t day and 330 t month.
    p.reading("assembly-grid", end - dt.timedelta(hours=2))
    p.minutes("assembly", end - dt.timedelta(minutes=90), 90, 0.00005, 0.0001, 0.00005)

    browser.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(browser, PAGE_WAIT_S, poll_frequency=0.2)
    wait.until(lambda d: _badge(d, "foundry", "month") is not None)
    wait.until(lambda d: _badge(d, "assembly", "month") is not None)
    grey, green = "rgb(125, 135, 144)", "rgb(47, 143, 91)"
    assert _badge(browser, "foundry", "month") == ("warming_up", "warming up", grey)
    # 372 s of data: the pinned clock keeps the rates' minute while the browser starts.
    assert _field(browser, '[data-site="foundry"] [data-field="covered-3600"]') == "372"
    projection = _field(browser, '[data-site="foundry"] [data-field="month-projection"]', "text")
    assert projection is not None and "warming up (6 of 60 min" in projection
    assert "%" not in projection  # no percentage judged on six minutes
    assert _badge(browser, "assembly", "month") == ("ok", "on track", green)
    _shot(browser, tmp_path, "live-page-warming-up.png")

    browser.find_element(By.ID, "lang").click()
    wait.until(lambda d: d.execute_script("return document.documentElement.lang") == "zh-CN")
    assert _badge(browser, "foundry", "month") == ("warming_up", "预热中", grey)
    assert _badge(browser, "assembly", "month") == ("ok", "正常", green)


FIGURES = [0.016, 0.0004, 0.00999, 0.1, 0.2884, 1.0, 4.06, 45.25, 99.96, 176.2, 1150.0, 1190.62]
FIGURES += [-0.016, -1190.62, 0.0, 123456.789, 0.000123456]


def test_the_page_writes_figures_as_the_reports_do(
    live_plant: LivePlant, live_server: Server, browser: webdriver.Chrome
) -> None:
    browser.get(f"{live_server.base}/#key={live_plant.tokens['viewer']}")
    WebDriverWait(browser, PAGE_WAIT_S).until(
        lambda d: d.execute_script("return typeof fmt") == "function"
    )
    shown = browser.execute_script("return arguments[0].map(fmt)", FIGURES)
    assert shown == [figure(x) for x in FIGURES]
    assert shown[0] == "0.0160"  # not "0.0"
