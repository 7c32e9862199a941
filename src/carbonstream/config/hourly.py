"""An instrument's hourly profile: the generation its certificates stand for, hour by hour.

A CSV file referenced by the plant file (``hourly_profile``), with the header
``hour,kwh`` (or ``hour,mwh``) and one row per local hour of the plant:

    hour,kwh
    2026-11-22T10:00,120.5
    2026-11-22T11:00+08:00,310

A time without an offset is plant-local; give the offset to tell apart the two
hours of a fall-back night. Each row is checked (start of a local hour, a number
>= 0 and at most ``MAX_KWH_PER_HOUR``, no hour twice); an error names the file and
the row. The file is bounded in bytes and rows before it is parsed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path
from zoneinfo import ZoneInfo

from carbonstream.errors import CarbonstreamError

MAX_PROFILE_BYTES = 2 * 1024 * 1024
MAX_PROFILE_ROWS = 20_000  # two years of hours
MAX_KWH_PER_HOUR = 10_000_000.0  # 10 GWh in one hour: no contract delivers more
_UNITS = {"kwh": 1.0, "mwh": 1000.0}


class ProfileError(CarbonstreamError, ValueError):
    """A bad hourly profile: the message names the file and row."""


def read_profile(path: Path, zone: ZoneInfo) -> list[tuple[dt.datetime, float]]:
    """(UTC start of the hour, kWh) per row, in file order."""
    if not path.is_file():
        raise ProfileError(f"{path}: file not found")
    size = path.stat().st_size
    if size > MAX_PROFILE_BYTES:
        raise ProfileError(f"{path}: {size} bytes, more than {MAX_PROFILE_BYTES}: split the file")
    return parse_profile(path.read_text(encoding="utf-8-sig"), zone, str(path))


def parse_profile(text: str, zone: ZoneInfo, name: str) -> list[tuple[dt.datetime, float]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if len(header) != 2 or header[0] != "hour" or header[1] not in _UNITS:
        raise ProfileError(f"{name}: the header must be 'hour,kwh' or 'hour,mwh'")
    to_kwh = _UNITS[header[1]]
    out: list[tuple[dt.datetime, float]] = []
    seen: dict[dt.datetime, int] = {}
    for row_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(out) >= MAX_PROFILE_ROWS:
            raise ProfileError(f"{name}: more than {MAX_PROFILE_ROWS} rows: split the file")
        where = f"{name} row {row_no}"
        if len(row) != 2:
            raise ProfileError(f"{where}: expected 2 columns (hour, {header[1]}), got {len(row)}")
        hour = _hour(row[0].strip(), zone, where)
        try:
            value = float(row[1])
        except ValueError:
            raise ProfileError(f"{where}: {row[1]!r} is not a number") from None
        kwh = value * to_kwh
        if not math.isfinite(kwh) or kwh < 0 or kwh > MAX_KWH_PER_HOUR:
            raise ProfileError(
                f"{where}: {value} {header[1]} is outside 0 .. {MAX_KWH_PER_HOUR / to_kwh:g}"
            )
        if hour in seen:
            raise ProfileError(f"{where}: hour {row[0].strip()} is given twice (row {seen[hour]})")
        seen[hour] = row_no
        out.append((hour, kwh))
    if not out:
        raise ProfileError(f"{name}: no rows")
    return out


def _hour(text: str, zone: ZoneInfo, where: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ProfileError(f"{where}: {text!r} is not an ISO-8601 time") from None
    if t.tzinfo is None:
        local = t.replace(tzinfo=zone)
        # A local time that does not exist (spring forward) or exists twice (fall back).
        back = local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        if back != t:
            raise ProfileError(f"{where}: {text} does not exist in {zone.key} (clock change)")
        if local.replace(fold=1).utcoffset() != local.utcoffset():
            raise ProfileError(
                f"{where}: {text} happens twice in {zone.key} (clock change): give its offset"
            )
        t = local
    lt = t.astimezone(zone)
    if (lt.minute, lt.second, lt.microsecond) != (0, 0, 0):
        raise ProfileError(f"{where}: {text} is not the start of a local hour of the plant")
    return t.astimezone(dt.UTC)
