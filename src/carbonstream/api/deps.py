"""Shared dependencies: the plant, the settings, query timing, and query ranges in plant time.

Dependencies are ``async def`` even when they only read app state: FastAPI runs a
plain ``def`` dependency in a worker thread, a thread hop per request for nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import Depends, Query, Request

from carbonstream.api.catalog import Catalog
from carbonstream.api.db import unavailable
from carbonstream.api.metrics import ApiMetrics
from carbonstream.api.problems import Problem, request_locale
from carbonstream.api.schemas.values import Instant, set_zone
from carbonstream.api.settings import ApiSettings
from carbonstream.config.plant import Meter, Plant
from carbonstream.domain.bounds import Bounds
from carbonstream.domain.live import LiveHub, LiveSnapshot
from carbonstream.i18n import Locale, Msg
from carbonstream.ledger import LedgerError, SerialRange


async def _plant(request: Request) -> Plant:
    plant: Plant = request.app.state.plant
    return plant


async def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def _bounds(request: Request) -> Bounds:
    bounds: Bounds = request.app.state.bounds
    return bounds


async def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


async def _reader_locale(request: Request) -> Locale:
    return request_locale(request)


async def plant_times(request: Request) -> None:
    """App-level: times in this request's response are rendered in the plant's zone
    (:data:`~carbonstream.api.schemas.values.LocalTime`)."""
    set_zone(request.app.state.plant.zone)


async def _live(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


async def live_snapshot(hub: LiveHub) -> LiveSnapshot:
    """The shared live snapshot for a route. Await it before borrowing a connection
    (:func:`carbonstream.api.db.borrow`, and a viewer check on a released one): its build
    takes a connection of its own. A database that cannot be reached is a 503."""
    try:
        return await hub.snapshot()
    except psycopg.OperationalError as e:  # PoolTimeout included
        raise unavailable(e) from None


PlantDep = Annotated[Plant, Depends(_plant)]
LiveDep = Annotated[LiveHub, Depends(_live)]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
BoundsDep = Annotated[Bounds, Depends(_bounds)]
ReaderLocale = Annotated[Locale, Depends(_reader_locale)]
"""The reader's language (Accept-Language, else the plant's). A route that takes it says
``Vary: Accept-Language`` on every response, whichever of its branches renders text."""


@asynccontextmanager
async def timed(metrics: ApiMetrics, query: str) -> AsyncIterator[None]:
    """Time one database query into the latency histogram."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        metrics.db_seconds.labels(query).observe(time.perf_counter() - t0)


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


def wanted_format(request: Request, given: Format | None, allowed: tuple[Format, ...]) -> Format:
    """``?format=`` wins; else the Accept header (text/csv, the XLSX type); else JSON."""
    if given is not None:
        if given not in allowed:
            raise Problem(
                422,
                "Invalid request",
                Msg(
                    "problems.detail.format-not-offered",
                    {"given": given.value, "allowed": ", ".join(f.value for f in allowed)},
                ),
                "invalid-request",
            )
        return given
    accept = request.headers.get("accept", "")
    if Format.CSV in allowed and "text/csv" in accept:
        return Format.CSV
    if Format.XLSX in allowed and XLSX_MEDIA in accept:
        return Format.XLSX
    return Format.JSON


XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FormatQuery = Annotated[
    Format | None,
    Query(description="Response format; overrides the Accept header (text/csv, XLSX type)."),
]


def local(when: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive time is plant-local; an aware one is kept. Returned aware."""
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def check_range(
    start: dt.datetime, end: dt.datetime, settings: ApiSettings, what: str = "range"
) -> None:
    if end <= start:
        raise Problem(
            422,
            "Invalid range",
            Msg(
                "problems.detail.range-end-before-start",
                {"end": end.isoformat(), "start": start.isoformat()},
            ),
            "invalid-range",
        )
    days = (end - start).total_seconds() / 86400
    if days > settings.max_range_days:
        raise Problem(
            422,
            "Range too large",
            Msg(
                "problems.detail.range-too-large",
                {
                    "what": Msg(f"problems.noun.{what}"),
                    "days": f"{days:.1f}",
                    "max_days": settings.max_range_days,
                },
            ),
            "range-too-large",
            max_range_days=settings.max_range_days,
        )


StartQuery = Annotated[
    Instant | None,
    Query(
        description="Start, inclusive; a time without an offset is plant-local"
        " (emissions default: end - 24 h)."
    ),
]
EndQuery = Annotated[Instant | None, Query(description="End, exclusive (emissions default: now).")]


def period_of(
    start: dt.datetime | None,
    end: dt.datetime | None,
    month: str | None,
    year: int | None,
    plant_zone: Any,
) -> tuple[dt.datetime, dt.datetime]:
    given = sum(x is not None for x in (month, year)) + (start is not None or end is not None)
    if given != 1 or (start is None) != (end is None):
        raise Problem(
            422,
            "Invalid period",
            Msg("problems.detail.give-period"),
            "invalid-period",
        )
    if month is not None:
        y, m = (int(x) for x in month.split("-"))
        s = dt.datetime(y, m, 1, tzinfo=plant_zone)
        e = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=plant_zone)
        return s, e
    if year is not None:
        return dt.datetime(year, 1, 1, tzinfo=plant_zone), dt.datetime(
            year + 1, 1, 1, tzinfo=plant_zone
        )
    assert start is not None and end is not None
    return local(start, plant_zone), local(end, plant_zone)


def today(plant: Plant) -> dt.date:
    return dt.datetime.now(plant.zone).date()


def parse_serials(text: str) -> SerialRange:
    try:
        return SerialRange.parse(text)
    except LedgerError as e:
        raise Problem(422, "Invalid serials", e.detail, "invalid-serials") from None


_METERS: dict[int, tuple[Plant, dict[str, Meter]]] = {}


def meter_config(plant: Plant) -> dict[str, Meter]:
    """Meters by id (a plant of 10 000 meters must not be searched per row)."""
    hit = _METERS.get(id(plant))
    if hit is None or hit[0] is not plant:
        hit = _METERS[id(plant)] = (plant, {m.id: m for m in plant.meters})
    return hit[1]
