"""The period query shared by the account's read routes, parsed once into a domain
:class:`~carbonstream.domain.selection.Selection`.

``start``/``end``, ``month`` or ``year``; ``site`` (repeatable); ``scope2_basis``;
``version``. A route takes :data:`SelectionDep` (or :data:`LiveSelectionDep` where
restatements do not apply) instead of seven query parameters, and hands it to one
domain call.

The emission series ask for a recent range instead (``start``/``end``, by default the
last 24 hours): :data:`SeriesSelectionDep` (with ``site``), :data:`SeriesRangeDep` (a
meter's series, no sites), and :data:`MeterDep` for the meter of the path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Query

from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    CatalogDep,
    EndQuery,
    PlantDep,
    SettingsDep,
    StartQuery,
    check_range,
    local,
    meter_config,
    period_of,
)
from carbonstream.api.problems import not_found
from carbonstream.config.plant import Meter
from carbonstream.domain.bounds import FIRST_YEAR, LAST_YEAR
from carbonstream.domain.green import VERSION_PATTERN
from carbonstream.domain.green_model import Basis
from carbonstream.domain.selection import Selection
from carbonstream.store.queries.series import Bucket

# A month of the years YearQuery takes (domain.bounds FIRST_YEAR to LAST_YEAR, 2000 to
# 2100): any four digits let month=2806-05 through, past the nanosecond timestamps of the
# energy account (a 500 found by schemathesis), and 0000-01 is no date at all.
MONTH_PATTERN = r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"
# A month the route checks itself (in the reader's language) is bounded before it is read.
MONTH_MAX_CHARS = 32
MonthQuery = Annotated[
    str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (2000-2100), plant time.")
]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year.")]
SitesQuery = Annotated[list[str] | None, Query(description="Site ids (default: all).")]
BasisQuery = Annotated[
    Basis | None,
    Query(
        description="Scope 2 basis of the net, zero-carbon status and intensity "
        "(default: the plant's zero_carbon rule, market-based unless configured)."
    ),
]
BucketQuery = Annotated[Bucket, Query(description="Calendar bucket in the plant's time zone.")]
VersionQuery = Annotated[
    str,
    Query(
        pattern=VERSION_PATTERN,
        description="'live' (default: the account ingest keeps) or a restatement id "
        "(GET /v1/restatements): its site totals for whole local days inside it.",
    ),
]


async def live_selection(
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    start: StartQuery = None,
    end: EndQuery = None,
    month: MonthQuery = None,
    year: YearQuery = None,
    site: SitesQuery = None,
    scope2_basis: BasisQuery = None,
) -> Selection:
    s, e = period_of(start, end, month, year, plant.zone)
    check_range(s, e, settings, "period")
    keys = await _site_keys(conn, catalog, site)
    sites = [x.id for x in plant.sites if x.id in keys]
    return Selection(
        start=s,
        end=e,
        sites=sites,
        site_keys=[keys[x] for x in sites],
        plant_wide=site is None,
        basis=scope2_basis or plant.zero_carbon.scope2_basis,
    )


async def selection(
    live: Annotated[Selection, Depends(live_selection)], version: VersionQuery = "live"
) -> Selection:
    return replace(live, version=version)


LiveSelectionDep = Annotated[Selection, Depends(live_selection)]
SelectionDep = Annotated[Selection, Depends(selection)]


async def _site_keys(
    conn: Connection, catalog: CatalogDep, site: list[str] | None
) -> dict[str, int]:
    """Database keys of the named sites (all without a name); an unknown one is a 404."""
    keys = await catalog.site_keys(conn, site)
    if site is not None:
        missing = sorted(set(site) - set(keys))
        if missing:
            raise not_found("site", ", ".join(missing))
    return keys


async def series_range(
    plant: PlantDep, settings: SettingsDep, start: StartQuery = None, end: EndQuery = None
) -> tuple[dt.datetime, dt.datetime]:
    """``start``..``end``, by default the 24 hours to now (or to ``end``)."""
    zone = plant.zone
    e = local(end, zone) if end else dt.datetime.now(dt.UTC)
    s = local(start, zone) if start else e - dt.timedelta(days=1)
    check_range(s, e, settings)
    return s, e


SeriesRangeDep = Annotated[tuple[dt.datetime, dt.datetime], Depends(series_range)]


async def series_selection(
    span: SeriesRangeDep,
    conn: Connection,
    plant: PlantDep,
    catalog: CatalogDep,
    site: SitesQuery = None,
) -> Selection:
    """A series' range and sites. Its sites are every stored one (a site since taken out
    of the plant file keeps its history), ordered by key; a series shows both Scope 2
    bases, so ``basis`` is the plant's rule, asked for by no parameter."""
    keys = await _site_keys(conn, catalog, site)
    ordered = sorted(keys, key=keys.__getitem__)
    return Selection(
        start=span[0],
        end=span[1],
        sites=ordered,
        site_keys=[keys[x] for x in ordered],
        plant_wide=site is None,
        basis=plant.zero_carbon.scope2_basis,
    )


SeriesSelectionDep = Annotated[Selection, Depends(series_selection)]


@dataclass(frozen=True)
class KnownMeter:
    id: str
    key: int  # its database key
    conf: Meter  # as the plant file configures it


async def known_meter(
    meter_id: str, conn: Connection, plant: PlantDep, catalog: CatalogDep
) -> KnownMeter:
    """The meter of the path, stored and configured; else a 404."""
    key = await catalog.meter_key(conn, meter_id)
    conf = meter_config(plant).get(meter_id)
    if key is None or conf is None:
        raise not_found("meter", meter_id)
    return KnownMeter(meter_id, key, conf)


MeterDep = Annotated[KnownMeter, Depends(known_meter)]
