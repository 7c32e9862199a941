"""Footprints from the stored account: what the API, the monthly report and the CLI call.

A lot's share of a minute depends on every lot active in that minute, so each
computation reads the lots that overlap its window, not only the ones asked for: a lot
is always exact, whatever else the line made around it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from carbonstream.config.plant import Plant
from carbonstream.core.lots import Lot
from carbonstream.core.upstream import UpstreamLibrary, load_library
from carbonstream.footprint.compute import LineResult, footprint_line, product_footprint
from carbonstream.footprint.meter_lots import meter_lot, meter_lots
from carbonstream.footprint.model import LotFootprint, ProductFootprint
from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintError
from carbonstream.store import footprint as q
from carbonstream.store.db import AsyncConn


async def library(conn: AsyncConn, plant: Plant) -> UpstreamLibrary:
    """Shipped defaults + the plant's factor files + factors added through the API."""
    return load_library(plant.footprint.factor_files, await q.stored_factors(conn))


async def lots_overlapping(
    conn: AsyncConn,
    plant: Plant,
    line: str,
    start: dt.datetime,
    end: dt.datetime,
    include_open: bool = False,
) -> list[Lot]:
    """Stored lots and meter lots (closed shifts; with ``include_open`` also the running
    one so far) of the line overlapping [start, end)."""
    lots = await q.lots_overlapping(conn, line, start, end)
    for p in plant.footprint.products:
        if p.lot_meter is not None and line in p.lines:
            found = await meter_lots(conn, plant, p, start, end, include_open=include_open)
            lots += [x for x in found if x.line == line]
    return sorted(lots, key=lambda x: (x.start, x.id))


async def lots_ending(
    conn: AsyncConn,
    plant: Plant,
    products: list[str],
    start: dt.datetime,
    end: dt.datetime,
    include_open: bool = False,
) -> list[Lot]:
    """Lots of these products finished in (start, end] (an open shift ends now)."""
    lots = await q.lots_ending(conn, products, start, end)
    for p in plant.footprint.products:
        if p.lot_meter is not None and p.id in products:
            found = await meter_lots(conn, plant, p, start, end, include_open=include_open)
            lots += [x for x in found if start < x.end <= end]
    return sorted(lots, key=lambda x: (x.end, x.id))


async def get_lot(conn: AsyncConn, plant: Plant, lot_id: str) -> Lot | None:
    return await q.get_lot(conn, lot_id) or await meter_lot(conn, plant, lot_id)


async def _line(
    conn: AsyncConn,
    plant: Plant,
    lib: UpstreamLibrary,
    line: str,
    start: dt.datetime,
    end: dt.datetime,
    include_open: bool = False,
) -> LineResult:
    lots = await lots_overlapping(conn, plant, line, start, end, include_open)
    series = await q.line_series(conn, plant, line, start, end)
    boms = await q.boms(conn, sorted({x.product for x in lots}))
    return footprint_line(plant, lib, series, lots, boms)


async def _lots_exact(
    conn: AsyncConn,
    plant: Plant,
    lib: UpstreamLibrary,
    lots: Sequence[Lot],
    include_open: bool = False,
) -> list[LotFootprint]:
    """Footprints of these lots, each over its whole span, line by line."""
    out: dict[str, LotFootprint] = {}
    for line in sorted({x.line for x in lots}):
        mine = [x for x in lots if x.line == line]
        start = min(x.start for x in mine)
        end = max(x.end for x in mine)
        r = await _line(conn, plant, lib, line, start, end, include_open)
        wanted = {x.id for x in mine}
        out.update({f.lot: f for f in r.lots if f.lot in wanted})
    return [out[x.id] for x in lots]


async def lot_footprint(conn: AsyncConn, plant: Plant, lot_id: str) -> LotFootprint | None:
    lot = await get_lot(conn, plant, lot_id)
    if lot is None:
        return None
    (fp,) = await _lots_exact(conn, plant, await library(conn, plant), [lot])
    return fp


async def line_balance(
    conn: AsyncConn, plant: Plant, line: str, start: dt.datetime, end: dt.datetime
) -> LineResult:
    """The line over exactly [start, end): every lot's share inside it, and idle minutes.
    Lots reaching outside the period count only their part inside (``allocation.minutes``)."""
    return await _line(conn, plant, await library(conn, plant), line, start, end)


@dataclass(frozen=True)
class ProductPeriod:
    footprint: ProductFootprint
    lots: list[LotFootprint]


async def product_period(
    conn: AsyncConn,
    plant: Plant,
    product_id: str,
    start: dt.datetime,
    end: dt.datetime,
    include_open: bool = False,
) -> ProductPeriod:
    """The product's lots that ended in the period; with ``include_open``, also the
    running shift of a meter-lot product so far (provisional, and said so)."""
    product = plant.footprint.product(product_id)
    if product is None:
        raise FootprintError(Msg("problems.detail.unknown-product", {"product": product_id}))
    lots = await lots_ending(conn, plant, [product_id], start, end, include_open)
    lib = await library(conn, plant)
    fps = await _lots_exact(conn, plant, lib, lots, include_open) if lots else []
    fp = product_footprint(product, start, end, fps)
    open_lots = [x.id for x in lots if x.id.endswith("-open")]
    if open_lots:
        fp = fp.model_copy(
            update={"note": f"provisional: {', '.join(open_lots)} is a shift still running"}
        )
    return ProductPeriod(fp, fps)


async def all_products(
    conn: AsyncConn, plant: Plant, start: dt.datetime, end: dt.datetime, published: bool = False
) -> list[ProductPeriod]:
    out = []
    for p in plant.footprint.products:
        if published and not p.publish:
            continue
        out.append(await product_period(conn, plant, p.id, start, end))
    return out
