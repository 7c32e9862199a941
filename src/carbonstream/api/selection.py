"""The period query shared by the account's read routes, parsed once into a domain
:class:`~carbonstream.domain.selection.Selection`.

``start``/``end``, ``month`` or ``year``; ``site`` (repeatable); ``scope2_basis``;
``version``. A route takes :data:`SelectionDep` (or :data:`LiveSelectionDep` where
restatements do not apply) instead of seven query parameters, and hands it to one
domain call.
"""

from __future__ import annotations

from dataclasses import replace
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
    period_of,
)
from carbonstream.api.problems import not_found
from carbonstream.domain.green import VERSION_PATTERN
from carbonstream.domain.green_model import Basis
from carbonstream.domain.selection import Selection

MonthQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, plant time.")
]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year.")]
SitesQuery = Annotated[list[str] | None, Query(description="Site ids (default: all).")]
BasisQuery = Annotated[
    Basis | None,
    Query(
        description="Scope 2 basis of the net, zero-carbon status and intensity "
        "(default: the plant's zero_carbon rule, market-based unless configured)."
    ),
]
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
    keys = await catalog.site_keys(conn, site)
    if site is not None:
        missing = sorted(set(site) - set(keys))
        if missing:
            raise not_found("site", ", ".join(missing))
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
