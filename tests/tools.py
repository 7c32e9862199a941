"""System tools some tests drive (promtool, amtool, headless Chromium, docker-compose, mosquitto).

On CI (``CARBONSTREAM_CI=1``, set by .ci/run, which also installs them) a
missing tool is a failure. On a developer's machine without them the test is
skipped with the reason and the Debian package that provides the tool.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PACKAGES = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "docker-compose": "docker-compose",
    "mosquitto": "mosquitto",
    "mosquitto_passwd": "mosquitto",
    "psql": "postgresql-client",
    "systemd-analyze": "systemd",
}


def require_tool(name: str) -> str:
    sbin = Path("/usr/sbin") / name
    path = shutil.which(name) or (str(sbin) if sbin.exists() else None)
    if path:
        return path
    why = f"{name} not installed (Debian package {PACKAGES.get(name, name)})"
    if os.environ.get("CARBONSTREAM_CI") == "1":
        pytest.fail(f"{why}: CI must have it", pytrace=False)
    pytest.skip(why)
