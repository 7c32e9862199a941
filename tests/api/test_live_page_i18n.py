"""The live page in zh-CN and en, in headless Chromium.

A browser that asks for Chinese (Accept-Language zh-CN) gets the page in Chinese with
the plant's Chinese names and the standards' terms (范围一, 基于市场); no English word
is left in what it shows. The switch turns it into English and the choice survives a
reload. Screenshots of both are written to docs/img when CARBONSTREAM_UPDATE_IMAGES=1.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.tools import require_tool

from .fix_live import PAGE_WAIT_S, LivePlant, Server, live_plant, live_server, pin_clock, rates_end

# slow: drives Chromium (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

__all__ = ["live_plant", "live_server"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1300,1500",
]
# Words that are the same in both languages: units, the brand, API, a method's proper name,
# the time zone's IANA name, the switch's label; ids from the plant file (site ids beside
# names, production lines) are checked apart.
SAME_IN_BOTH = {
    "English",
    "Holt-Winters",
    "tCO2e",
    "carbonstream",
    "API",
    "Asia",
    "Shanghai",
    "CCER",
    "min",
}


@pytest.fixture
def chinese_browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    # What a browser set to Chinese sends: Accept-Language: zh-CN,zh;q=0.9
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(require_tool("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: webdriver.Chrome) -> str:
    return str(driver.execute_script("return document.body.innerText"))


def _english_words(text: str, ids: set[str]) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9_-]{2,}", text)
    return sorted({w for w in words if w not in SAME_IN_BOTH and w not in ids})


def _keep(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if os.environ.get("CARBONSTREAM_UPDATE_IMAGES") == "1":
        shutil.copy(path, IMG / name)
    return path


def test_the_page_reads_chinese_to_a_chinese_browser_and_english_after_the_switch(
    live_plant: LivePlant, live_server: Server, chinese_browser: webdriver.Chrome, tmp_path: Path
) -> None:
    p = live_plant
    now = pin_clock(live_server)
    end = rates_end(now)
    first = end - dt.timedelta(minutes=90)
    p.minutes("foundry", first, 93, 0.001, 0.002, 0.003)
    p.minutes("assembly", first, 93, 0.0002, 0.001, 0.0008)
    p.reading("foundry-grid", end - dt.timedelta(hours=2))  # data since before the hour
    p.reading("assembly-grid", end - dt.timedelta(hours=2))
    for m in p.plant.meters:
        p.reading(m.id, now - dt.timedelta(seconds=5))
    b = chinese_browser
    b.get(f"{live_server.base}/#key={p.tokens['viewer']}")
    wait = WebDriverWait(b, PAGE_WAIT_S, poll_frequency=0.2)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-site="foundry"] .big'))
    wait.until(lambda d: "无" in d.find_element(By.ID, "alerts-state").text)

    assert b.execute_script("return document.documentElement.lang") == "zh-CN"
    text = _text(b)
    for term in ("范围一", "范围二（基于位置）", "范围二（基于市场）", "计量表", "今日", "本月"):
        assert term in text
    # Names from the plant file, in Chinese.
    assert "示例精密零部件（苏州）有限公司" in text
    assert "二号厂房（压铸）" in text and "二号厂房熔炉天然气" in text
    ids = {s.id for s in p.plant.sites} | {m.id for m in p.plant.meters}
    ids |= {m.line for m in p.plant.meters if m.line}
    assert _english_words(text, ids) == []
    png = _keep(b, tmp_path, "live-page-zh.png")
    assert png.stat().st_size > 20_000

    b.find_element(By.ID, "lang").click()
    wait.until(lambda d: d.execute_script("return document.documentElement.lang") == "en")
    text = _text(b)
    assert "Scope 2 market" in text and "Hall 2, die casting" in text and "范围一" not in text
    assert "Example Precision Components (Suzhou) Co." in text
    # The choice is kept: a reload (the browser still asks for Chinese) stays English.
    b.refresh()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-site="foundry"] .big'))
    assert b.execute_script("return document.documentElement.lang") == "en"
    assert "Meters" in _text(b)
    _keep(b, tmp_path, "live-page-en.png")
    logs = b.get_log("browser")  # type: ignore[no-untyped-call]
    severe = [e for e in logs if e["level"] == "SEVERE" and "/v1/alerts/active" not in e["message"]]
    assert severe == []  # a missing message would log "carbonstream: no message ..."


def test_the_docs_images_are_the_pages_in_both_languages() -> None:
    for name in ("live-page-zh.png", "live-page-en.png"):
        data = (IMG / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name
