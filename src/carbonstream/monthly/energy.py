"""The energy section of the monthly report: the month's comprehensive energy in tce
(``GET /v1/energy``'s figures) and the top reduction opportunities of the four weeks
to the month's end (``GET /v1/opportunities``'), from the same domain functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from carbonstream.config.plant import Plant
from carbonstream.core.energy import for_plant
from carbonstream.core.meters import MeterParams
from carbonstream.energy.stored import energy_account, stored_opportunities
from carbonstream.energy.tce import Grouping
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries.series import Bucket

TOP = 8  # opportunities in the report


@dataclass(frozen=True)
class EnergySection:
    plant: dict[str, Any]  # totals of the month (tce both ways, renewables apart, intensity)
    sites: dict[str, dict[str, Any]]
    unverified: list[str]
    opportunities: list[dict[str, Any]]
    window_start: dt.datetime  # plant-local
    window_end: dt.datetime


async def gather_energy(
    conn: AsyncConn, plant: Plant, params: MeterParams, start: dt.datetime, end: dt.datetime
) -> EnergySection:
    ep = for_plant(plant, params.canonical_unit)
    acct = await energy_account(conn, ep, start, end, Bucket.MONTH, Grouping.SITE)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    window_end = min(end.astimezone(dt.UTC), now)
    found, window_start = await stored_opportunities(conn, ep, window_end)
    return EnergySection(
        plant=acct["totals"]["plant"],
        sites=acct["totals"]["site"],
        unverified=acct["unverified"],
        opportunities=found[:TOP],
        window_start=window_start.astimezone(plant.zone),
        window_end=window_end.astimezone(plant.zone),
    )
