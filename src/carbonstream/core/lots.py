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
from carbonstream.errors import FootprintInputError

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
    where = f"lot {lot.id!r}"
    product = plant.footprint.product(lot.product)
    if product is None:
        known = [p.id for p in plant.footprint.products]
        raise FootprintInputError(f"{where}: product: unknown product {lot.product!r}; {known}")
    if product.lot_meter is not None:
        raise FootprintInputError(
            f"{where}: product: lots of {product.id!r} come from its production meter "
            f"{product.lot_meter!r} (one per shift); remove lot_meter to record lots by hand"
        )
    if lot.line not in product.lines:
        raise FootprintInputError(
            f"{where}: line: product {product.id!r} is made on {product.lines}, not {lot.line!r}"
        )
    start, end = _aware(lot.start, plant), _aware(lot.end, plant)
    if end <= start:
        raise FootprintInputError(
            f"{where}: end {end.isoformat()} must be after start {start.isoformat()}"
        )
    if end - start > dt.timedelta(days=MAX_LOT_DAYS):
        raise FootprintInputError(
            f"{where}: a lot of {(end - start).days} days is longer than {MAX_LOT_DAYS} days: "
            "split it into the lots actually made"
        )
    if not math.isfinite(lot.quantity):
        raise FootprintInputError(f"{where}: quantity must be a finite number")
    quantity = convert(lot.quantity, lot.unit, product)
    if quantity is None:
        raise FootprintInputError(
            f"{where}: unit: {lot.unit!r} cannot be converted to {product.id!r}'s declared "
            f"unit {product.declared_unit!r}"
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
            f"{len(lots)} lots in one request; at most {MAX_LOTS_PER_REQUEST}: split the file"
        )
    out: list[Lot] = []
    problems: list[str] = []
    seen: set[str] = set()
    for lot in lots:
        if lot.id in seen:
            problems.append(f"lot {lot.id!r}: given twice")
            continue
        seen.add(lot.id)
        try:
            out.append(check_lot(plant, lot, source))
        except FootprintInputError as e:
            problems.append(str(e))
    if problems:
        raise FootprintInputError("; ".join(problems[:50]), problems)
    return out


def parse_lot_csv(data: bytes) -> list[LotIn]:
    """The lot CSV (columns ``lot,product,line,start,end,quantity,unit``), bounded."""
    if len(data) > MAX_LOT_CSV_BYTES:
        raise FootprintInputError(
            f"the lot file is {len(data)} bytes; at most {MAX_LOT_CSV_BYTES}: split it"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FootprintInputError("the lot file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in LOT_COLUMNS if c not in header]
    extra = [c for c in header if c not in LOT_COLUMNS]
    if missing or extra:
        raise FootprintInputError(
            f"lot file columns must be {','.join(LOT_COLUMNS)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {extra}" if extra else "")
        )
    out: list[LotIn] = []
    problems: list[str] = []
    for n, row in enumerate(reader, start=2):
        if len(out) + len(problems) >= MAX_LOTS_PER_REQUEST:
            raise FootprintInputError(f"more than {MAX_LOTS_PER_REQUEST} lots: split the file")
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
            problems.append(f"line {n} (lot {row.get('lot')!r}): {reasons}")
    if problems:
        raise FootprintInputError("; ".join(problems[:50]), problems)
    return out
