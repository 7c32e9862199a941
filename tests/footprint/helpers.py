"""A small plant with one shared line, for the hand-worked footprint cases."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.core.allocation import LineSeries
from carbonstream.core.upstream import UpstreamFactor, UpstreamLibrary, shipped_factors

ZONE = ZoneInfo("Asia/Shanghai")


def plant(**footprint: Any) -> Plant:
    fp: dict[str, Any] = {
        "products": [
            {
                "id": "casting",
                "name": {"zh": "压铸件", "en": "Die casting"},
                "declared_unit": "t",
                "lines": ["cell-1"],
            },
            {
                "id": "bracket",
                "name": {"zh": "支架", "en": "Bracket"},
                "declared_unit": "pcs",
                "mass_kg_per_unit": 2.5,
                "lines": ["cell-1"],
            },
        ]
    }
    fp.update(footprint)
    return Plant.model_validate(
        {
            "name": "Test plant",
            "grid_region": "CN-JS",
            "sites": [{"id": "hall"}],
            "meters": [
                {
                    "id": "gas",
                    "site": "hall",
                    "kind": "fuel",
                    "fuel": "natural_gas",
                    "measures": "counter",
                    "unit": "Nm3",
                    "rating": 500,
                    "line": "cell-1",
                },
                {
                    "id": "grid",
                    "site": "hall",
                    "kind": "grid_import",
                    "measures": "counter",
                    "unit": "kWh",
                    "rating": 3000,
                    "line": "cell-1",
                },
            ],
            "footprint": fp,
        }
    )


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=ZONE)


def series(start: dt.datetime, minutes: int, **columns: list[float] | float) -> LineSeries:
    t0 = int(start.timestamp())
    buckets = np.arange(minutes, dtype=np.int64) * 60 + t0
    cols = {
        k: (np.full(minutes, v, dtype=np.float64) if isinstance(v, float) else np.array(v))
        for k, v in columns.items()
    }
    return LineSeries("cell-1", "hall", buckets, cols, ("gas", "grid"), (1, 2))


def library(*extra: UpstreamFactor) -> UpstreamLibrary:
    return UpstreamLibrary.of([*shipped_factors(), *extra])
