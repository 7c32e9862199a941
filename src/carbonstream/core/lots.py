"""Production lots: what a line made, when, and how much, checked against the plant.

A lot comes from the lot CSV or the API. Naive times are plant-local; a lot's quantity is
converted to its product's declared unit here, once, and its allocation key (t, units or
value) follows from the line's allocation rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from typing import assert_never

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carbonstream.config.plant import Plant
from carbonstream.config.products import MASS_UNITS, Allocation, Identifier, Product
from carbonstream.core.refused import column_parts, listed
from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintInputError

# Limits, defined once: a lot file or request larger than this is refused before parsing.
MAX_LOT_CSV_BYTES = 1_000_000
MAX_LOTS_PER_REQUEST = 5_000
MAX_LOT_DAYS = 31
LOT_COLUMNS = ("lot", "product", "line", "start", "end", "quantity", "unit")


class LotIn(BaseModel):
    """One lot as given (API body or CSV row)."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    product: Identifier
    line: Identifier
    start: dt.datetime = Field(description="With UTC offset; a naive time is plant-local.")
    end: dt.datetime = Field(description="Exclusive end; with UTC offset or plant-local.")
    quantity: float = Field(gt=0, description="Good output of the lot, in `unit`.")
    unit: str = Field(min_length=1, max_length=16)


@dataclass(frozen=True)
class Lot:
    id: str
    product: str
    line: str
    start: dt.datetime  # aware, UTC
    end: dt.datetime
    quantity: float  # in the product's declared unit
    declared_unit: str
    given_quantity: float
    given_unit: str
    source: str = "api"

    def key(self, product: Product, allocation: Allocation) -> float:
        """The lot's allocation key on its line."""
        match allocation:
            case Allocation.MASS:
                mass = product.mass_t_per_unit
                assert mass is not None  # checked when the plant file loaded
                return self.quantity * mass
            case Allocation.UNITS:
                return self.quantity
            case Allocation.ECONOMIC:
                value = product.value_per_unit
                assert value is not None  # checked when the plant file loaded
                return self.quantity * value
            case _ as never:
                assert_never(never)


def key_unit(product: Product, allocation: Allocation) -> str:
    match allocation:
        case Allocation.MASS:
            return "t"
        case Allocation.UNITS:
            return product.declared_unit
        case Allocation.ECONOMIC:
            return product.value_currency
        case _ as never:
            assert_never(never)


def check_lot(plant: Plant, lot: LotIn, source: str = "api") -> Lot:
    """A lot the plant can account, or FootprintInputError naming the field and the fix."""
    where = Msg("problems.detail.lot-ref", {"id": lot.id})
    product = plant.footprint.product(lot.product)
    if product is None:
        known = [p.id for p in plant.footprint.products]
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-unknown-product",
                {"where": where, "product": lot.product, "known": known},
            )
        )
    if product.lot_meter is not None:
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-from-meter",
                {"where": where, "product": product.id, "meter": product.lot_meter},
            )
        )
    if lot.line not in product.lines:
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-wrong-line",
                {"where": where, "product": product.id, "lines": product.lines, "line": lot.line},
            )
        )
    start, end = _aware(lot.start, plant), _aware(lot.end, plant)
    if end <= start:
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-end-before-start",
                {"where": where, "end": end.isoformat(), "start": start.isoformat()},
            )
        )
    if end - start > dt.timedelta(days=MAX_LOT_DAYS):
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-too-long",
                {"where": where, "days": (end - start).days, "max_days": MAX_LOT_DAYS},
            )
        )
    if not math.isfinite(lot.quantity):
        raise FootprintInputError(Msg("problems.detail.lot-quantity-not-finite", {"where": where}))
    quantity = convert(lot.quantity, lot.unit, product)
    if quantity is None:
        raise FootprintInputError(
            Msg(
                "problems.detail.lot-unit",
                {
                    "where": where,
                    "unit": lot.unit,
                    "product": product.id,
                    "declared": product.declared_unit,
                },
            )
        )
    return Lot(
        id=lot.id,
        product=product.id,
        line=lot.line,
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        quantity=quantity,
        declared_unit=product.declared_unit,
        given_quantity=lot.quantity,
        given_unit=lot.unit,
        source=source,
    )


def convert(quantity: float, unit: str, product: Product) -> float | None:
    """``quantity`` in ``unit`` as the product's declared unit; None when it cannot be."""
    declared = product.declared_unit
    if unit == declared:
        return quantity
    if unit in MASS_UNITS:
        tonnes = quantity * MASS_UNITS[unit]
        if declared in MASS_UNITS:
            return tonnes / MASS_UNITS[declared]
        mass = product.mass_t_per_unit
        return tonnes / mass if mass is not None else None
    if declared in MASS_UNITS and unit == "pcs" and product.mass_kg_per_unit is not None:
        return quantity * product.mass_kg_per_unit / 1000.0 / MASS_UNITS[declared]
    return None


def _aware(when: dt.datetime, plant: Plant) -> dt.datetime:
    return when.replace(tzinfo=plant.zone) if when.tzinfo is None else when


def check_lots(plant: Plant, lots: list[LotIn], source: str = "api") -> list[Lot]:
    """Every lot checked; all problems reported at once (an import is all or nothing)."""
    if len(lots) > MAX_LOTS_PER_REQUEST:
        raise FootprintInputError(
            Msg("problems.detail.lots-too-many", {"n": len(lots), "limit": MAX_LOTS_PER_REQUEST})
        )
    out: list[Lot] = []
    problems: list[Msg] = []
    seen: set[str] = set()
    for lot in lots:
        if lot.id in seen:
            where = Msg("problems.detail.lot-ref", {"id": lot.id})
            problems.append(Msg("problems.detail.lot-given-twice", {"where": where}))
            continue
        seen.add(lot.id)
        try:
            out.append(check_lot(plant, lot, source))
        except FootprintInputError as e:
            problems.append(e.detail)
    if problems:
        raise listed(problems)
    return out


def parse_lot_csv(data: bytes) -> list[LotIn]:
    """The lot CSV (columns ``lot,product,line,start,end,quantity,unit``), bounded."""
    what = Msg("problems.noun.lot-file")
    if len(data) > MAX_LOT_CSV_BYTES:
        raise FootprintInputError(
            Msg(
                "problems.detail.file-too-large-split",
                {"what": what, "size": len(data), "limit": MAX_LOT_CSV_BYTES},
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FootprintInputError(Msg("problems.detail.file-not-utf8", {"what": what})) from None
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or ())
    bad_header = column_parts(LOT_COLUMNS, header, LOT_COLUMNS)
    if bad_header is not None:
        raise FootprintInputError(Msg("problems.detail.lot-file-columns", bad_header))
    out: list[LotIn] = []
    problems: list[Msg] = []
    for n, row in enumerate(reader, start=2):
        if len(out) + len(problems) >= MAX_LOTS_PER_REQUEST:
            raise FootprintInputError(
                Msg("problems.detail.lots-more-than", {"limit": MAX_LOTS_PER_REQUEST})
            )
        try:
            out.append(
                LotIn(
                    id=row["lot"],
                    product=row["product"],
                    line=row["line"],
                    start=row["start"],
                    end=row["end"],
                    quantity=row["quantity"],
                    unit=row["unit"],
                )
            )
        except ValidationError as e:
            reasons = "; ".join(
                f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            problems.append(
                Msg(
                    "problems.detail.lot-csv-line",
                    {"n": n, "lot": row.get("lot"), "reasons": reasons},
                )
            )
    if problems:
        raise listed(problems)
    return out
