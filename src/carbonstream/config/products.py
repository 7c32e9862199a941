"""Products, the lines that make them, and how a line's emissions are shared among its lots.

The ``footprint`` section of the plant file. A production line is the meters that share a
``line`` (see :class:`carbonstream.config.plant.Meter`); a product names the lines that make
it. Allocation follows the ISO 14044 order that ISO 14067 and GB/T 24067 use: physical
(mass or units) first; economic value only for joint products where no physical relation
fits, with the reason written down (it is printed in every declaration).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream import units

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]

ShiftStart = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]

# The units a product may be declared in: a mass, or a counted unit.
MASS_UNITS = units.MASS  # t, kg -> t
COUNT_UNITS = (*units.COUNTED, "kWh")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Allocation(StrEnum):
    MASS = "mass"  # physical: t produced (ISO 14044 4.3.4.2 step 2)
    UNITS = "units"  # physical: pieces (or another counted unit) produced
    ECONOMIC = "economic"  # value produced: only for joint products, with a justification


class Text(_Model):
    """A name a person reads, in both languages the pages are written in."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ProductionLine(_Model):
    id: Identifier
    allocation: Allocation = Allocation.MASS
    justification: str = Field(
        default="",
        description="Why physical allocation does not fit (required for economic allocation).",
    )

    @model_validator(mode="after")
    def _justified(self) -> ProductionLine:
        if self.allocation is Allocation.ECONOMIC and not self.justification.strip():
            raise ValueError(
                "economic allocation needs a 'justification': ISO 14044 (used by ISO 14067 "
                "and GB/T 24067) allows it only where no physical relationship fits"
            )
        return self


CbamSector = Literal["cement", "fertilisers", "iron_steel", "aluminium", "hydrogen"]


class Cbam(_Model):
    """The CBAM good a product is declared as (Regulation (EU) 2023/956, Annex I)."""

    cn_code: str = Field(pattern=r"^\d{4}( ?\d{2}){0,3}$", description="CN code, e.g. 7325 10")
    sector: CbamSector


class Battery(_Model):
    """EU Battery Regulation Art. 7: the footprint is per kWh of total energy delivered over
    the expected service life; the factory states it per declared unit of the product."""

    model: str = Field(min_length=1)
    category: Literal["ev", "industrial", "lmt"]
    service_life_kwh_per_unit: float = Field(
        gt=0, description="Total energy the battery provides over its expected service life."
    )


class Product(_Model):
    id: Identifier
    name: Text
    declared_unit: str = Field(description="t, kg, or a counted unit (pcs, m2, m3, unit, kWh).")
    lines: list[Identifier] = Field(min_length=1)
    mass_kg_per_unit: float | None = Field(
        default=None, gt=0, description="Mass of one declared unit, for mass allocation of pcs."
    )
    value_per_unit: float | None = Field(
        default=None, gt=0, description="Sales value per declared unit, for economic allocation."
    )
    value_currency: str = "CNY"
    cbam: Cbam | None = None
    battery: Battery | None = None
    publish: bool = Field(
        default=False, description="Show this product's footprint in the public disclosure."
    )
    lot_meter: Identifier | None = Field(
        default=None,
        description="A production meter on the product's line: each closed shift's output "
        "is one lot (then lots of this product come only from the meter).",
    )
    shifts: list[ShiftStart] = Field(
        default_factory=lambda: ["00:00", "08:00", "16:00"],
        min_length=1,
        max_length=24,
        description="Plant-local shift start times, for lots from the meter.",
    )

    @model_validator(mode="after")
    def _unit(self) -> Product:
        if self.declared_unit not in MASS_UNITS and self.declared_unit not in COUNT_UNITS:
            raise ValueError(
                f"declared_unit {self.declared_unit!r} is not a mass "
                f"({', '.join(MASS_UNITS)}) or a counted unit ({', '.join(COUNT_UNITS)})"
            )
        if self.cbam is not None and self.mass_t_per_unit is None:
            raise ValueError(
                "a CBAM good is declared per tonne: give a mass declared_unit or mass_kg_per_unit"
            )
        return self

    @property
    def shift_times(self) -> list[dt.time]:
        return [dt.time.fromisoformat(x) for x in self.shifts]

    @property
    def mass_t_per_unit(self) -> float | None:
        """Tonnes per declared unit, or None when the product has no known mass."""
        if self.declared_unit in MASS_UNITS:
            return MASS_UNITS[self.declared_unit]
        return self.mass_kg_per_unit / 1000.0 if self.mass_kg_per_unit is not None else None


class Disclosure(_Model):
    """The public, keyless, read-only disclosure page and its signed JSON (opt-in)."""

    enabled: bool = False
    slug: Identifier = Field(default="plant", description="The plant's name in the public URL.")
    key_file_env: str = Field(
        default="CARBONSTREAM_DISCLOSURE_KEY_FILE",
        description="Environment variable naming the Ed25519 private key file (PEM, PKCS#8); "
        "the key itself is never in the plant file or the repository.",
    )


class Footprint(_Model):
    lines: list[ProductionLine] = Field(
        default_factory=list, description="Allocation per line; unlisted lines use mass."
    )
    products: list[Product] = Field(default_factory=list)
    factor_files: list[str] = Field(
        default_factory=list,
        description="Upstream factor files (materials, fuels, grid losses, transport), "
        "relative to the plant file; added to the shipped defaults.",
    )
    scope3_in_net: bool = Field(
        default=False,
        description="Count Scope 3 (categories 1, 3, 4) in the zero-carbon net. Off: Scope 3 "
        "is a separate block of the inventory, never in the net.",
    )
    disclosure: Disclosure = Field(default_factory=Disclosure)

    def line(self, line_id: str) -> ProductionLine:
        for ln in self.lines:
            if ln.id == line_id:
                return ln
        return ProductionLine(id=line_id)

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def check(
        self, line_sites: dict[str, set[str]], production: dict[str, tuple[str | None, str]]
    ) -> None:
        """Cross-checks against the plant's meters (``production``: meter id -> (line,
        canonical unit) of its production meters); raises ValueError naming the field."""
        known_lines = set(line_sites)
        _unique("footprint.lines", [ln.id for ln in self.lines])
        _unique("footprint.products", [p.id for p in self.products])
        for i, ln in enumerate(self.lines):
            if ln.id not in known_lines:
                raise ValueError(
                    f"footprint.lines[{i}] (id {ln.id!r}): no meter has line {ln.id!r}; "
                    f"known lines: {sorted(known_lines) or 'none'} (set 'line' on the meters)"
                )
        for i, p in enumerate(self.products):
            for line_id in p.lines:
                if line_id not in known_lines:
                    raise ValueError(
                        f"footprint.products[{i}] (id {p.id!r}).lines: no meter has line "
                        f"{line_id!r}; known lines: {sorted(known_lines) or 'none'}"
                    )
            if p.lot_meter is not None:
                where = f"footprint.products[{i}] (id {p.id!r}).lot_meter"
                found = production.get(p.lot_meter)
                if found is None or found[0] not in p.lines:
                    raise ValueError(
                        f"{where}: {p.lot_meter!r} is not a production meter on {p.lines}"
                    )
                if found[1] == "t" and p.mass_t_per_unit is None:
                    raise ValueError(f"{where}: the meter counts t but {p.id!r} has no mass")
                if found[1] != "t" and found[1] != p.declared_unit:
                    raise ValueError(
                        f"{where}: the meter counts {found[1]}, {p.id!r} is declared in "
                        f"{p.declared_unit}"
                    )
                if sorted(set(p.shifts)) != p.shifts:
                    raise ValueError(f"footprint.products[{i}].shifts: give them sorted, once")
        for line_id in sorted({x for p in self.products for x in p.lines}):
            if len(line_sites[line_id]) > 1:
                raise ValueError(
                    f"line {line_id!r} has meters on sites {sorted(line_sites[line_id])}: a "
                    "line's market-based Scope 2 is its site's, so a product line is on one site"
                )
            self._check_line(line_id)

    def _check_line(self, line_id: str) -> None:
        rule = self.line(line_id)
        made = [p for p in self.products if line_id in p.lines]
        match rule.allocation:
            case Allocation.MASS:
                bad = [p.id for p in made if p.mass_t_per_unit is None]
                if bad:
                    raise ValueError(
                        f"line {line_id!r} is allocated by mass but product(s) {bad} have no "
                        "mass: declare them in t or kg, or give mass_kg_per_unit"
                    )
            case Allocation.UNITS:
                found = {p.declared_unit for p in made}
                if len(found) > 1:
                    raise ValueError(
                        f"line {line_id!r} is allocated by units but its products are declared "
                        f"in {sorted(found)}: one counted unit per line, or allocate by mass"
                    )
            case Allocation.ECONOMIC:
                bad = [p.id for p in made if p.value_per_unit is None]
                if bad:
                    raise ValueError(
                        f"line {line_id!r} is allocated by economic value but product(s) {bad} "
                        "have no value_per_unit"
                    )
            case _ as never:
                assert_never(never)


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"duplicate {what} id(s): {', '.join(dupes)}")
