"""Small plant definitions for tests, built in code so each test shows what it needs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core.batch import to_ns

NS = 1_000_000_000


def plant(meters: list[dict[str, Any]], **extra: Any) -> Plant:
    data: dict[str, Any] = {
        "name": "test plant",
        "timezone": "Asia/Shanghai",
        "grid_region": "CN",
        "sites": [{"id": "s1"}, {"id": "s2"}],
        "meters": meters,
    }
    data.update(extra)
    return validate(data, Plant, "test")


def meter(id: str, kind: str = "grid_import", **kw: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "id": id,
        "site": "s1",
        "kind": kind,
        "measures": "counter",
        "unit": "kWh",
        "rating": 1000.0,
    }
    m.update(kw)
    return m


def ns(iso: str) -> int:
    return to_ns(dt.datetime.fromisoformat(iso))
