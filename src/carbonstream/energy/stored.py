"""The energy account of a stored period: per-minute quantities as ingest stored them,
through the same assembly as ``carbonstream compute``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from carbonstream.core import energy as core
from carbonstream.core.batch import to_ns
from carbonstream.energy.tce import Grouping, Lines, assemble
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy as q
from carbonstream.store.queries.series import Bucket


async def energy_account(
    conn: AsyncConn,
    ep: core.EnergyParams,
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    by: Grouping,
) -> dict[str, Any]:
    plant = ep.plant
    rows = await q.meter_quantities(conn, start, end, bucket, plant.timezone)
    green = await q.site_green(conn, start, end, bucket, plant.timezone)
    index = {m: i for i, m in enumerate(ep.ids)}
    sites = {s.id: i for i, s in enumerate(plant.sites)}
    rows = [r for r in rows if r[1] in index]  # a meter dropped from the plant file
    green = [r for r in green if r[1] in sites]
    lines = Lines(
        meter=np.array([index[r[1]] for r in rows], dtype=np.intp),
        bucket=np.array([to_ns(r[0]) for r in rows], dtype=np.int64),
        quantity=np.array([r[2] for r in rows], dtype=np.float64),
        green_site=np.array([sites[r[1]] for r in green], dtype=np.intp),
        green_bucket=np.array([to_ns(r[0]) for r in green], dtype=np.int64),
        green_mwh=np.array([r[2] for r in green], dtype=np.float64),
    )
    out = assemble(ep, lines, plant.zone, by)
    return {
        "timezone": plant.timezone,
        "bucket": bucket.value,
        "start": start.astimezone(plant.zone).isoformat(),
        "end": end.astimezone(plant.zone).isoformat(),
    } | out
