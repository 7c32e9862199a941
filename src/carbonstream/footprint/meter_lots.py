"""Lots from a production meter: each closed shift's metered output is one lot.

For a product with ``lot_meter``, a lot is the shift (plant-local shift start times) and
its quantity what the production meter counted in it. A shift still running is not a
lot yet: a period's figures do not move as the shift goes on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.config.products import Product
from carbonstream.core.lots import Lot, convert
from carbonstream.store import footprint as q
from carbonstream.store.db import AsyncConn

_ID = re.compile(r"^(?P<product>.+)-(?P<day>\d{8})-(?P<hm>\d{4})$")


def shift_windows(
    product: Product, plant: Plant, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The product's shifts overlapping [start, end), as aware UTC (DST-correct)."""
    zone = plant.zone
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    edges: list[dt.datetime] = []
    day = first
    while day <= last:
        edges += [dt.datetime.combine(day, t, zone).astimezone(dt.UTC) for t in product.shift_times]
        day += dt.timedelta(days=1)
    return [(a, b) for a, b in itertools.pairwise(edges) if a < end and b > start]


def lot_id(product: Product, plant: Plant, shift_start: dt.datetime) -> str:
    return f"{product.id}-{shift_start.astimezone(plant.zone):%Y%m%d-%H%M}"


async def meter_lots(
    conn: AsyncConn,
    plant: Plant,
    product: Product,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    include_open: bool = False,
) -> list[Lot]:
    """Closed shifts overlapping [start, end) with output on the product's meter; with
    ``include_open``, also the running shift up to now (the current minute as far as it
    is stored), as a provisional lot (id suffix ``-open``) that grows until the shift
    closes."""
    assert product.lot_meter is not None
    now = now or dt.datetime.now(dt.UTC)
    cut = now.replace(microsecond=0)
    windows = []
    running: set[int] = set()  # index of the provisional window, if any
    for a, b in shift_windows(product, plant, start, end):
        if b <= now:
            windows.append((a, b))
        elif include_open and a < cut:
            running.add(len(windows))
            windows.append((a, cut))
    if not windows:
        return []
    buckets, qty = await q.meter_minutes(conn, product.lot_meter, windows[0][0], windows[-1][1])
    edges = np.array([int(a.timestamp()) for a, _ in windows] + [int(windows[-1][1].timestamp())])
    idx = np.searchsorted(edges, buckets, side="right") - 1
    ok = (idx >= 0) & (idx < len(windows))
    per_shift = np.bincount(idx[ok], weights=qty[ok], minlength=len(windows))
    line = next(m.line for m in plant.meters if m.id == product.lot_meter)
    assert line is not None
    unit = next(m.scale().canonical for m in plant.meters if m.id == product.lot_meter)
    out = []
    for k, ((a, b), made) in enumerate(zip(windows, per_shift.tolist(), strict=True)):
        declared = convert(made, unit, product) if made > 0 else None
        if declared is None or declared <= 0:
            continue
        is_open = k in running
        out.append(
            Lot(
                id=lot_id(product, plant, a) + ("-open" if is_open else ""),
                product=product.id,
                line=line,
                start=a,
                end=b,
                quantity=declared,
                declared_unit=product.declared_unit,
                given_quantity=made,
                given_unit=unit,
                source=f"meter:{product.lot_meter}" + (" (open shift, so far)" if is_open else ""),
            )
        )
    return out


async def meter_lot(conn: AsyncConn, plant: Plant, lot: str) -> Lot | None:
    """The meter lot with this id, if it names a shift of a product with a lot meter."""
    m = _ID.match(lot)
    if m is None:
        return None
    product = plant.footprint.product(m["product"])
    if product is None or product.lot_meter is None:
        return None
    try:
        naive = dt.datetime.strptime(m["day"] + m["hm"], "%Y%m%d%H%M")
    except ValueError:
        return None
    at = naive.replace(tzinfo=plant.zone).astimezone(dt.UTC)
    found = await meter_lots(conn, plant, product, at, at + dt.timedelta(seconds=1))
    return next((x for x in found if x.id == lot), None)
