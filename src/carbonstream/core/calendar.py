"""Calendar buckets in the plant's time zone (rolling rates: :mod:`carbonstream.core.rates`).

Base buckets are UTC-aligned and nest in local calendar buckets, so a calendar
bucket is found per *distinct* base bucket (a few thousand per batch), never
per reading. Bucket keys are the UTC instant of the local bucket start: on a
DST fall-back day the two local 02:00 hours are two distinct keys.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.batch import NS_PER_S

CALENDAR_UNITS = ("minute", "15min", "hour", "day", "month")

_UTC = dt.UTC


def month_starts(
    lo: dt.datetime, hi: dt.datetime, zone: ZoneInfo
) -> tuple[NDArray[np.int64], list[tuple[int, int]]]:
    """Local month starts (as UTC ns) covering lo..hi, with (year, month) labels."""
    y, m = lo.year, lo.month
    starts: list[int] = []
    labels: list[tuple[int, int]] = []
    while (y, m) <= (hi.year, hi.month):
        starts.append(int(dt.datetime(y, m, 1, tzinfo=zone).timestamp()) * NS_PER_S)
        labels.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return np.array(starts, dtype=np.int64), labels


def bucket_start(ts_ns: int, unit: str, zone: ZoneInfo) -> int:
    """The UTC ns of the start of the local calendar bucket holding ``ts_ns``."""
    if unit == "minute":
        return ts_ns - ts_ns % (60 * NS_PER_S)
    local = dt.datetime.fromtimestamp(ts_ns // NS_PER_S, _UTC).astimezone(zone)
    if unit == "15min":
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    elif unit == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        start = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
    elif unit == "month":
        start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    else:
        raise ValueError(f"unknown bucket {unit!r}; use one of {', '.join(CALENDAR_UNITS)}")
    return int(start.timestamp()) * NS_PER_S


def to_calendar(base: NDArray[np.int64], unit: str, zone: ZoneInfo) -> NDArray[np.int64]:
    """Map base-bucket starts to calendar-bucket starts (vectorized over distinct values)."""
    uniq, inv = np.unique(base, return_inverse=True)
    mapped = np.array([bucket_start(int(b), unit, zone) for b in uniq], dtype=np.int64)
    return mapped[inv]


def period_span(ts_s: float, zone: ZoneInfo, period: str) -> tuple[dt.datetime, dt.datetime]:
    """Local start and end (exclusive) of the day, month or year holding the instant.

    An instant at a period's start belongs to it. Days add wall-clock time, so a
    DST day spans 23 or 25 hours.
    """
    local = dt.datetime.fromtimestamp(ts_s, zone)
    if period == "day":
        start = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
        end = start + dt.timedelta(days=1)
    elif period == "month":
        start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
        y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end = dt.datetime(y, m, 1, tzinfo=zone)
    elif period == "year":
        start = dt.datetime(local.year, 1, 1, tzinfo=zone)
        end = dt.datetime(local.year + 1, 1, 1, tzinfo=zone)
    else:
        raise ValueError(f"unknown period {period!r}; use day, month or year")
    return start, end


def label(ts_ns: int, zone: ZoneInfo) -> str:
    """ISO-8601 local time with offset, e.g. 2026-03-29T03:00:00+02:00."""
    return dt.datetime.fromtimestamp(ts_ns // NS_PER_S, _UTC).astimezone(zone).isoformat()
