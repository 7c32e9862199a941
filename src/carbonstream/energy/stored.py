"""The energy account of a stored period: per-minute quantities as ingest stored them,
through the same assembly as ``carbonstream compute``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from carbonstream.core import energy as core
from carbonstream.core.batch import to_ns
from carbonstream.energy import baselines
from carbonstream.energy import opportunities as opp
from carbonstream.energy.tce import Grid, Grouping, Lines, assemble
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy as q
from carbonstream.store.queries.series import Bucket, bucket_spans


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
        covered_s=np.array([r[3] for r in rows], dtype=np.float64),
    )
    spans = bucket_spans(start, end, bucket, plant.zone)
    grid = Grid(
        start=np.array([to_ns(b) for b, _ in spans], dtype=np.int64),
        span_s=np.array([s for _, s in spans], dtype=np.float64),
    )
    out = assemble(ep, lines, plant.zone, by, grid)
    return {
        "timezone": plant.timezone,
        "bucket": bucket.value,
        "start": start.astimezone(plant.zone).isoformat(),
        "end": end.astimezone(plant.zone).isoformat(),
    } | out


async def stored_window(
    conn: AsyncConn, ep: core.EnergyParams, end: dt.datetime
) -> tuple[opp.Window, dt.datetime]:
    """The detectors' window ending at ``end`` (a whole hour): the plant's energy meters
    per 15 minutes from the store, and their tCO2e per unit in the window."""
    plant = ep.plant
    days = plant.energy.opportunities.window_days
    start = end - dt.timedelta(days=days)
    meters = opp.energy_meters(plant)
    keys = await q.meter_keys(conn)
    known = [i for i in meters if plant.meters[i].id in keys]
    key_of = [keys[plant.meters[i].id] for i in known]
    quarters = await q.quarter_matrix(conn, key_of, start, days * 96)
    sums = await q.meter_sums(conn, key_of, start, end)
    ef = np.array(
        [sums[k][1] / sums[k][0] if k in sums and sums[k][0] > 0 else 0.0 for k in key_of]
    )
    return opp.Window(known, quarters, to_ns(start), ef), start


async def stored_opportunities(
    conn: AsyncConn, ep: core.EnergyParams, end: dt.datetime
) -> tuple[list[dict[str, Any]], dt.datetime]:
    window, start = await stored_window(conn, ep, end)
    return opp.find(ep, window), start


async def stored_baselines(
    conn: AsyncConn, ep: core.EnergyParams, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Baselines of the plant's configured period, assessed over [start, end)."""
    plant = ep.plant
    cfg = plant.energy.baseline
    if cfg is None:
        return []
    zone = plant.zone
    lo = dt.datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=zone)
    rows = await q.meter_quantities(conn, lo, end, Bucket(cfg.interval), plant.timezone)
    index = {m: i for i, m in enumerate(ep.ids)}
    rows = [r for r in rows if r[1] in index]
    keys = await q.meter_keys(conn)
    known = [i for i, m in enumerate(ep.ids) if m in keys]
    sums = await q.meter_sums(conn, [keys[ep.ids[i]] for i in known], start, end)
    ef = np.zeros(len(ep.ids))
    for i in known:
        qty, co2e = sums.get(keys[ep.ids[i]], (0.0, 0.0))
        ef[i] = co2e / qty if qty > 0 else 0.0
    none = np.empty(0, dtype=np.intp)
    lines = Lines(
        meter=np.array([index[r[1]] for r in rows], dtype=np.intp),
        bucket=np.array([to_ns(r[0]) for r in rows], dtype=np.int64),
        quantity=np.array([r[2] for r in rows], dtype=np.float64),
        green_site=none,
        green_bucket=np.empty(0, dtype=np.int64),
        green_mwh=np.empty(0, dtype=np.float64),
    )
    return baselines.assess(
        ep, lines, ef, to_ns(start), to_ns(end), await _temperatures(conn, ep, lo, end)
    )


async def _temperatures(
    conn: AsyncConn, ep: core.EnergyParams, start: dt.datetime, end: dt.datetime
) -> baselines.Temperatures | None:
    """Mean °C of the temperature meters the baseline's degree days name."""
    plant = ep.plant
    cfg = plant.energy.baseline
    if cfg is None or not cfg.degree_days:
        return None
    names = sorted({d.meter for d in cfg.degree_days})
    unit = Bucket(baselines.temperature_bucket(cfg.interval))
    rows = await q.meter_coverage(conn, names, start, end, unit, plant.timezone)
    index = {m: i for i, m in enumerate(ep.ids)}
    return baselines.temperatures(
        np.array([index[r[1]] for r in rows], dtype=np.intp),
        np.array([to_ns(r[0]) for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] * 1e9 for r in rows], dtype=np.float64),
        cfg.interval,
    )
