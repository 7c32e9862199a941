"""Times in what people and programs read: plant-local ISO 8601 with the UTC offset.

Instants are tz-aware everywhere inside; they are rendered in the plant's zone only at
the edge. :data:`LocalTime` is the type of every time field of an API response (and of
the domain models the API returns): whatever zone a value was computed in, it is written
in the zone of the plant being answered for (``2026-12-06T08:00:00+08:00``).
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, WithJsonSchema

# The plant's zone for the answer being written (the API sets it per request): a response
# model cannot take an argument, and one plant is served per app.
_ZONE: ContextVar[ZoneInfo | None] = ContextVar("carbonstream_plant_zone", default=None)
LOCAL_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$"


def set_zone(zone: ZoneInfo) -> None:
    _ZONE.set(zone)


def _plant_local(t: dt.datetime) -> str:
    if t.tzinfo is None:
        # Every instant we hold is aware; a naive one here is a bug that a reader would
        # take for their own local time.
        raise ValueError(f"a naive time reached an answer: {t.isoformat()}")
    zone = _ZONE.get()
    return (t if zone is None else t.astimezone(zone)).isoformat()


LocalTime = Annotated[
    dt.datetime,
    PlainSerializer(_plant_local, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "Plant-local ISO 8601 time with its UTC offset.",
        },
        mode="serialization",
    ),
]


def plant_local(t: dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """``t`` in the given zone, else the zone of the answer being written, else its own."""
    zone = zone or _ZONE.get()
    return t if zone is None else t.astimezone(zone)


def zone_name(zone: ZoneInfo | None = None) -> str | None:
    zone = zone or _ZONE.get()
    return None if zone is None else zone.key


# Excel has no time zones: a workbook holds plant-local wall-clock times as real date
# cells, and its header names the zone (`start (Asia/Shanghai)`).
EXCEL_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
EXCEL_DATE_FORMAT = "yyyy-mm-dd"


def excel_time(t: dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """A naive plant-local datetime for a workbook cell (openpyxl refuses aware ones)."""
    return plant_local(t, zone).replace(tzinfo=None)


def zoned_header(column: str, zone: ZoneInfo | None = None) -> str:
    name = zone_name(zone)
    return column if name is None else f"{column} ({name})"
