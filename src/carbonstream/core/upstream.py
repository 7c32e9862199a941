"""Upstream (Scope 3) factors and bills of materials: versioned data with provenance.

A factor row says what it is for (``kind`` and ``subject``), its value and unit, whether
it is supplier-specific or average data and from which supplier or named database, the
source document, validity and a verification mark (V official text seen, V2 secondary
transcription, M memory, third_party verified supplier data, unverified). A new value is
a new version: a stored footprint names the id and version it used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carbonstream.config.products import Identifier
from carbonstream.core.refused import column_parts, listed
from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintInputError

MAX_FACTOR_CSV_BYTES = 1_000_000
MAX_BOM_CSV_BYTES = 256_000
MAX_ROWS = 5_000


class Kind(StrEnum):
    MATERIAL = "material"  # category 1: cradle-to-gate per unit of material bought
    FUEL_UPSTREAM = "fuel_upstream"  # category 3A: well-to-tank per canonical fuel unit
    ELECTRICITY_UPSTREAM = "electricity_upstream"  # category 3B: upstream of generation, /kWh
    TD_LOSS = "td_loss"  # category 3C: grid T&D loss rate (fraction of consumption)
    TRANSPORT = "transport"  # category 4: per tonne-kilometre by mode


class DataType(StrEnum):
    SUPPLIER_SPECIFIC = "supplier_specific"
    AVERAGE = "average"


class Verified(StrEnum):
    V = "V"  # official text seen
    V2 = "V2"  # secondary transcription only
    M = "M"  # from memory: replace before an external declaration
    THIRD_PARTY = "third_party"  # supplier data with a third-party verification statement
    UNVERIFIED = "unverified"


# Units each kind may be stated in, as tCO2e per canonical unit (or a plain fraction).
UNITS: dict[Kind, dict[str, tuple[str, float]]] = {
    Kind.MATERIAL: {
        "kgCO2e/kg": ("t", 1.0),  # kg per kg = t per t
        "kgCO2e/t": ("t", 1e-3),
        "tCO2e/t": ("t", 1.0),
        "kgCO2e/pcs": ("pcs", 1e-3),
    },
    Kind.FUEL_UPSTREAM: {"kgCO2e/Nm3": ("Nm3", 1e-3), "kgCO2e/t": ("t", 1e-3)},
    Kind.ELECTRICITY_UPSTREAM: {"kgCO2e/kWh": ("MWh", 1.0)},  # kg/kWh = t/MWh
    Kind.TD_LOSS: {"fraction": ("", 1.0)},
    Kind.TRANSPORT: {"kgCO2e/t.km": ("t.km", 1e-3)},
}
TRANSPORT_MODES = ("road", "rail", "sea", "inland_water", "air")


class UpstreamFactor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    version: int = Field(ge=1)
    kind: Kind
    subject: str = Field(min_length=1, max_length=64, description="material, fuel, mode...")
    value: float = Field(ge=0)
    unit: str
    data_type: DataType
    supplier: str = Field(default="", max_length=200)
    database: str = Field(default="", max_length=200)
    source: str = Field(min_length=1, max_length=500)
    data_year: int | None = Field(default=None, ge=1990, le=2100)
    valid_from: dt.date
    valid_to: dt.date | None = None
    verified: Verified
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> UpstreamFactor:
        if not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        allowed = UNITS[self.kind]
        if self.unit not in allowed:
            raise ValueError(
                f"unit {self.unit!r} does not fit kind {self.kind.value}; use {list(allowed)}"
            )
        if self.kind is Kind.TD_LOSS and not 0 <= self.value < 0.5:
            raise ValueError("a T&D loss rate is a fraction of consumption, 0 <= value < 0.5")
        if self.kind is Kind.TRANSPORT and self.subject not in TRANSPORT_MODES:
            raise ValueError(f"transport subject must be a mode: {list(TRANSPORT_MODES)}")
        if self.data_type is DataType.SUPPLIER_SPECIFIC and not self.supplier.strip():
            raise ValueError("supplier-specific data needs the 'supplier' it comes from")
        if self.data_type is DataType.AVERAGE and not self.database.strip():
            raise ValueError("average data needs the named 'database' it comes from")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @property
    def per_canonical(self) -> float:
        """tCO2e per canonical unit (a plain fraction for loss rates)."""
        return self.value * UNITS[self.kind][self.unit][1]

    @property
    def canonical_unit(self) -> str:
        return UNITS[self.kind][self.unit][0]

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


FACTOR_COLUMNS = tuple(UpstreamFactor.model_fields)
_FACTOR_REQUIRED: tuple[str, ...] = ("id", "version", "kind", "subject", "value", "unit")
_FACTOR_REQUIRED += ("data_type", "source", "valid_from", "verified")


@dataclass(frozen=True)
class UpstreamLibrary:
    """Every upstream factor version known (shipped defaults, plant files, the database)."""

    factors: tuple[UpstreamFactor, ...]

    @classmethod
    def of(cls, rows: Iterable[UpstreamFactor]) -> UpstreamLibrary:
        seen: dict[tuple[str, int], UpstreamFactor] = {}
        for f in rows:
            old = seen.get((f.id, f.version))
            if old is not None and old != f:
                raise FootprintInputError(Msg("problems.detail.factor-given-twice", {"ref": f.ref}))
            seen[(f.id, f.version)] = f
        return cls(tuple(sorted(seen.values(), key=lambda f: (f.id, f.version))))

    def get(self, factor_id: str, day: dt.date) -> UpstreamFactor:
        """The newest version of ``factor_id`` valid on ``day`` (``id@N`` pins a version)."""
        fid, _, pinned = factor_id.partition("@")
        found = [f for f in self.factors if f.id == fid]
        if not found:
            raise FootprintInputError(Msg("problems.detail.upstream-unknown", {"id": fid}))
        if pinned:
            exact = [f for f in found if str(f.version) == pinned]
            if not exact:
                raise FootprintInputError(
                    Msg("problems.detail.upstream-no-version", {"id": fid, "version": pinned})
                )
            return exact[0]
        valid = [f for f in found if f.valid_on(day)]
        if not valid:
            raise FootprintInputError(
                Msg("problems.detail.upstream-none-valid", {"id": fid, "day": day})
            )
        return max(valid, key=lambda f: f.version)

    def find(self, kind: Kind, subject: str, day: dt.date) -> UpstreamFactor | None:
        """The factor of this kind and subject valid on ``day``: supplier-specific data wins
        over average data (GHG Protocol Scope 3 method order), then the newest version."""
        valid = [f for f in self.factors if f.kind is kind and f.subject == subject]
        valid = [f for f in valid if f.valid_on(day)]
        if not valid:
            return None
        return max(valid, key=lambda f: (f.data_type is DataType.SUPPLIER_SPECIFIC, f.version))


def parse_factor_csv(data: bytes, what: Msg | str | None = None) -> list[UpstreamFactor]:
    """Factor rows from CSV; ``what`` names the file in problems (a path, else "factor
    file")."""
    what = what or Msg("problems.noun.factor-file")
    text = _text(data, MAX_FACTOR_CSV_BYTES, what)
    rows: list[UpstreamFactor] = []
    problems: list[Msg] = []
    reader = csv.DictReader(io.StringIO(text))
    _columns(reader.fieldnames, FACTOR_COLUMNS, what, required=_FACTOR_REQUIRED)
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise FootprintInputError(
                Msg("problems.detail.file-too-many-rows", {"what": what, "limit": MAX_ROWS})
            )
        clean = {k: v for k, v in row.items() if v not in ("", None)}
        try:
            rows.append(UpstreamFactor.model_validate(clean))
        except ValidationError as e:
            problems.append(
                Msg(
                    "problems.detail.factor-csv-line",
                    {"what": what, "n": n, "id": row.get("id"), "reasons": _reasons(e)},
                )
            )
    if problems:
        raise listed(problems)
    return rows


def shipped_factors() -> list[UpstreamFactor]:
    data = (resources.files("carbonstream") / "data" / "footprint" / "upstream.csv").read_bytes()
    return parse_factor_csv(data, "data/footprint/upstream.csv")


def load_library(files: Iterable[str], extra: Iterable[UpstreamFactor] = ()) -> UpstreamLibrary:
    rows = shipped_factors()
    for f in files:
        rows += parse_factor_csv(Path(f).read_bytes(), f)
    return UpstreamLibrary.of([*rows, *extra])


# --- bills of materials ------------------------------------------------------------------


class BomLine(BaseModel):
    """One material per declared unit of the product, with its factor and inbound leg."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    material: str = Field(min_length=1, max_length=64)
    quantity: float = Field(gt=0, description="Per declared unit of the product.")
    unit: str = Field(description="t, kg or pcs")
    factor: str = Field(min_length=1, max_length=80, description="Material factor id (or id@N).")
    transport_mode: str | None = None
    transport_km: float | None = Field(default=None, gt=0, le=40_000)
    cbam_see_direct: float | None = Field(
        default=None, ge=0, le=100, description="CBAM precursor: direct SEE, tCO2e per t."
    )
    cbam_see_indirect: float | None = Field(
        default=None, ge=0, le=100, description="CBAM precursor: indirect SEE, tCO2e per t."
    )
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> BomLine:
        if (self.cbam_see_direct is None) != (self.cbam_see_indirect is None):
            raise ValueError("a CBAM precursor needs both cbam_see_direct and cbam_see_indirect")
        if self.cbam_see_direct is not None and self.unit == "pcs":
            raise ValueError("a CBAM precursor is counted in tonnes: give kg or t")
        if self.unit not in ("t", "kg", "pcs"):
            raise ValueError(f"unit {self.unit!r}: a bill of materials line is in t, kg or pcs")
        if (self.transport_mode is None) != (self.transport_km is None):
            raise ValueError("give both transport_mode and transport_km, or neither")
        if self.transport_mode is not None:
            if self.transport_mode not in TRANSPORT_MODES:
                raise ValueError(f"transport_mode must be one of {list(TRANSPORT_MODES)}")
            if self.unit == "pcs":
                raise ValueError("transport by t·km needs the material's mass: give kg or t")
        return self

    @property
    def tonnes(self) -> float | None:
        return {"t": self.quantity, "kg": self.quantity / 1000.0}.get(self.unit)

    def canonical_quantity(self) -> tuple[str, float]:
        if self.unit == "pcs":
            return "pcs", self.quantity
        return "t", self.tonnes or 0.0


BOM_COLUMNS = tuple(BomLine.model_fields)


@dataclass(frozen=True)
class Bom:
    product: str
    version: int
    valid_from: dt.date
    lines: tuple[BomLine, ...]


def check_bom(lines: list[BomLine], library: UpstreamLibrary, day: dt.date) -> None:
    """Every line's factor exists, is a material factor, and its unit fits the line."""
    problems: list[Msg] = []
    materials = [ln.material for ln in lines]
    dupes = sorted({m for m in materials if materials.count(m) > 1})
    if dupes:
        problems.append(Msg("problems.detail.bom-materials-twice", {"materials": dupes}))

    def line(i: int, ln: BomLine, problem: Msg) -> Msg:
        return Msg(
            "problems.detail.bom-line", {"n": i + 1, "material": ln.material, "problem": problem}
        )

    for i, ln in enumerate(lines):
        try:
            f = library.get(ln.factor, day)
        except FootprintInputError as e:
            problems.append(line(i, ln, e.detail))
            continue
        if f.kind is not Kind.MATERIAL:
            problems.append(
                line(
                    i,
                    ln,
                    Msg("problems.detail.bom-factor-kind", {"ref": f.ref, "kind": f.kind.value}),
                )
            )
        elif f.canonical_unit != ln.canonical_quantity()[0]:
            problems.append(
                line(
                    i,
                    ln,
                    Msg(
                        "problems.detail.bom-factor-unit",
                        {"ref": f.ref, "unit": f.canonical_unit, "line_unit": ln.unit},
                    ),
                )
            )
        if (
            ln.transport_mode is not None
            and library.find(Kind.TRANSPORT, ln.transport_mode, day) is None
        ):
            problems.append(
                line(
                    i,
                    ln,
                    Msg("problems.detail.bom-no-transport-factor", {"mode": ln.transport_mode}),
                )
            )
    if problems:
        raise listed(problems)


def parse_bom_csv(data: bytes) -> list[BomLine]:
    what = Msg("problems.noun.bom")
    text = _text(data, MAX_BOM_CSV_BYTES, what)
    reader = csv.DictReader(io.StringIO(text))
    _columns(reader.fieldnames, BOM_COLUMNS, what, required=BOM_COLUMNS[:4])
    out: list[BomLine] = []
    problems: list[Msg] = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise FootprintInputError(Msg("problems.detail.bom-too-many-rows", {"limit": MAX_ROWS}))
        clean = {k: v for k, v in row.items() if v not in ("", None)}
        try:
            out.append(BomLine.model_validate(clean))
        except ValidationError as e:
            problems.append(
                Msg(
                    "problems.detail.bom-csv-line",
                    {"n": n, "material": row.get("material"), "reasons": _reasons(e)},
                )
            )
    if problems:
        raise listed(problems)
    if not out:
        raise FootprintInputError(Msg("problems.detail.bom-empty"))
    return out


def _text(data: bytes, limit: int, what: Msg | str) -> str:
    if len(data) > limit:
        raise FootprintInputError(
            Msg("problems.detail.file-too-large", {"what": what, "size": len(data), "limit": limit})
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FootprintInputError(Msg("problems.detail.file-not-utf8", {"what": what})) from None


def _columns(
    found: Iterable[str] | None,
    allowed: tuple[str, ...],
    what: Msg | str,
    required: tuple[str, ...],
) -> None:
    parts = column_parts(allowed, list(found or []), required)
    if parts is not None:
        raise FootprintInputError(Msg("problems.detail.file-columns", {"what": what, **parts}))


def _reasons(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc']) or 'row'}: "
        f"{str(err['msg']).removeprefix('Value error, ')}"
        for err in e.errors()
    )
