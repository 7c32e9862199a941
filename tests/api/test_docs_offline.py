"""/docs and /redoc render the API's operations with the network cut off: every file
they need comes from this server (headless Chromium, every host name but 127.0.0.1
resolving to nothing, so a CDN request fails at once and sends nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.tools import require_tool

from .fix_live import LivePlant, Server, live_plant, live_server

# slow: drives Chromium (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

__all__ = ["live_plant", "live_server"]  # fixtures

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1300,1000",
        OFFLINE,
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(require_tool("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _operations(app: Any) -> int:
    paths = app.openapi()["paths"]
    return sum(len(ops) for ops in paths.values())


def test_docs_render_the_operations_without_a_network(
    live_plant: LivePlant, live_server: Server, offline_browser: webdriver.Chrome
) -> None:
    b = offline_browser
    # The control: with these flags the CDN cannot be reached at all.
    with pytest.raises(WebDriverException, match="ERR_NAME_NOT_RESOLVED"):
        b.get(CDN)
    want = _operations(live_server.api.app)
    b.get(f"{live_server.base}/docs")
    wait = WebDriverWait(b, 30, poll_frequency=0.3)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= want)
    assert len(b.find_elements(By.CSS_SELECTOR, ".opblock")) == want
    text = b.find_element(By.TAG_NAME, "body").text
    assert "/v1/live/stream" in text and "carbonstream" in text
    sources = b.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert all(str(s).startswith(live_server.base) for s in sources), sources

    b.get(f"{live_server.base}/redoc")
    wait.until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-section-id^="operation/"]')) >= want
    )
    assert "/v1/live/stream" in b.find_element(By.TAG_NAME, "body").text
