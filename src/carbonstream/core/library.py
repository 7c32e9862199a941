"""The emission factor library: factors are data with a source, a validity and a version.

Built-in tables live in ``carbonstream/data/factors/*.csv``; a plant adds its own
files (a supplier-specific grid factor, a measured gas NCV) with the same
columns. A user row with an id that exists wins only with a *higher* version:
the same id and version twice is refused, so a published value can never be
silently rewritten.

Columns: id, version, series, region, value, unit, gas, valid_from, valid_to,
data_year, source, table, verified, description.

Date-varying factors (grid electricity) belong to a *series*: the rows with
the same ``series``, ``region`` and ``gas``. They are looked up by activity
date, so two rows of one series must never cover the same date (refused at
load, naming both ids). When the activity year has no published factor yet
(Chinese grid factors appear about two years late), the latest earlier data
year is used and the lineage says so.

Every factor's validity (valid_from .. valid_to) is enforced, whether it was
looked up in a series or pinned by id. Outside it one of two named rules
applies, and the lineage names it:

- ``latest_earlier``: the activity is after valid_to (not published yet, or
  not available): the factor is used and the note says which data year;
- ``earliest_later``: the activity is before valid_from: the factor is used
  and the note says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from carbonstream.errors import FactorError, FactorOverlapError

COLUMNS = (
    "id",
    "version",
    "series",
    "region",
    "value",
    "unit",
    "gas",
    "valid_from",
    "valid_to",
    "data_year",
    "source",
    "table",
    "verified",
    "description",
)
REQUIRED = ("id", "version", "value", "unit", "source")

# Factor units the core accepts, by the canonical unit it computes in.
_UNIT_SCALE: dict[str, tuple[str, float]] = {
    "tCO2/MWh": ("t/MWh", 1.0),
    "kgCO2/kWh": ("t/MWh", 1.0),
    "tCO2/GJ": ("t/GJ", 1.0),
    "kgCO2/GJ": ("t/GJ", 1e-3),
    "kg/TJ": ("t/GJ", 1e-6),
    "t/TJ": ("t/GJ", 1e-3),
    "GJ/10^4 Nm3": ("GJ/Nm3", 1e-4),
    "GJ/Nm3": ("GJ/Nm3", 1.0),
    "MJ/Nm3": ("GJ/Nm3", 1e-3),
    "TJ/Gg": ("GJ/t", 1.0),
    "GJ/t": ("GJ/t", 1.0),
    "tC/GJ": ("tC/GJ", 1.0),
    "tC/TJ": ("tC/GJ", 1e-3),
    "fraction": ("fraction", 1.0),
    "%": ("fraction", 0.01),
    "kgCO2e/kg": ("kgCO2e/kg", 1.0),
    "kg/L": ("kg/L", 1.0),
    "kJ/kg": ("kJ/kg", 1.0),
    "kJ/(kg*K)": ("kJ/(kg*K)", 1.0),
}


@dataclass(frozen=True, slots=True)
class Factor:
    id: str
    version: int
    series: str
    region: str
    value: float
    unit: str
    gas: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    data_year: int | None
    source: str
    table: str
    verified: str
    description: str
    origin: str  # the file it came from

    def value_in(self, canonical: str) -> float:
        """The value in a canonical unit the core computes in, or FactorError."""
        target, scale = _UNIT_SCALE.get(self.unit, (None, 0.0))
        if target != canonical:
            raise FactorError(
                f"factor {self.id} v{self.version} is in {self.unit!r}; "
                f"this use needs a factor convertible to {canonical!r}"
            )
        return self.value * scale

    def covers(self, day: dt.date) -> bool:
        lo = self.valid_from or dt.date.min
        hi = self.valid_to or dt.date.max
        return lo <= day <= hi

    @property
    def ref(self) -> str:
        return f"{self.id}@v{self.version}"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A factor chosen for an activity date: why it serves that date (``basis``) and
    the fallback note when its validity does not cover the date."""

    factor: Factor
    fallback: str | None = None
    basis: str = ""


FALLBACK_LATEST_EARLIER = "latest_earlier"
FALLBACK_EARLIEST_LATER = "earliest_later"


def validity_text(f: Factor) -> str:
    if f.valid_from is None and f.valid_to is None:
        return "no validity dates (a constant)"
    lo = f.valid_from.isoformat() if f.valid_from else "open"
    hi = f.valid_to.isoformat() if f.valid_to else "open"
    return f"valid {lo}..{hi}"


def _fallback(f: Factor, day: dt.date, what: str) -> str | None:
    """The named-rule note when ``f`` does not cover ``day``, else None."""
    if f.covers(day):
        return None
    if f.valid_to is not None and f.valid_to < day:
        year = f.data_year or f.valid_to.year
        why = "not published yet" if day.year > year else "not available"
        return (
            f"{what}: no factor for {day.year} ({why}); used data year {year} ({f.ref}), "
            f"the latest earlier one [rule {FALLBACK_LATEST_EARLIER}]"
        )
    year = f.data_year or (f.valid_from.year if f.valid_from else day.year)
    return (
        f"{what}: no factor for {day.year}; used the earliest available data year {year} "
        f"({f.ref}, {validity_text(f)}) [rule {FALLBACK_EARLIEST_LATER}]"
    )


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    level: str
    parent: str


class FactorLibrary:
    def __init__(self, factors: Iterable[Factor], regions: Iterable[Region] = ()) -> None:
        self._versions: dict[str, dict[int, Factor]] = {}
        for f in factors:
            known = self._versions.setdefault(f.id, {})
            if f.version in known:
                raise FactorError(
                    f"factor {f.id} v{f.version} is defined twice ({known[f.version].origin} "
                    f"and {f.origin}); publish a correction as a new version"
                )
            known[f.version] = f
        self.regions = {r.code: r for r in regions}
        self._check_series()

    def _check_series(self) -> None:
        """Refuse two factors of one series (series, region, gas) that share a date: a
        lookup would have to pick one silently."""
        groups: dict[tuple[str, str, str], list[Factor]] = {}
        for versions in self._versions.values():
            f = versions[max(versions)]
            if f.series:
                groups.setdefault((f.series, f.region, f.gas), []).append(f)
        for (series, region, gas), members in groups.items():
            members.sort(key=lambda f: (f.valid_from or dt.date.min, f.id))
            for a, b in itertools.pairwise(members):
                a_end = a.valid_to or dt.date.max
                if (b.valid_from or dt.date.min) <= a_end:
                    raise FactorOverlapError(
                        f"factors {a.ref} ({a.origin}, {validity_text(a)}) and {b.ref} "
                        f"({b.origin}, {validity_text(b)}) both cover "
                        f"{(b.valid_from or dt.date.min).isoformat()} in series {series!r} "
                        f"for region {region!r}{f' gas {gas}' if gas else ''}: a date must have "
                        "one factor. To correct a value, publish a new version of the same id; "
                        "to use your own factor instead, give it no series and name it on the "
                        "meter (factors: {role: id})",
                        a.ref,
                        b.ref,
                        series,
                        region,
                    )

    @classmethod
    def load(cls, extra_files: Iterable[str | Path] = ()) -> FactorLibrary:
        """The built-in tables plus the given user files (later files add versions)."""
        factors: list[Factor] = []
        root = resources.files("carbonstream") / "data" / "factors"
        for name in ("china.csv", "ipcc2006.csv", "gwp.csv", "conversions.csv"):
            text = (root / name).read_text(encoding="utf-8")
            factors.extend(parse_csv(text, f"builtin:{name}"))
        for path in extra_files:
            p = Path(path)
            if not p.is_file():
                raise FactorError(f"factor file {p} not found")
            factors.extend(parse_csv(p.read_text(encoding="utf-8"), str(p)))
        regions = _parse_regions((root / "regions.csv").read_text(encoding="utf-8"))
        return cls(factors, regions)

    def __contains__(self, factor_id: str) -> bool:
        return factor_id in self._versions

    def __len__(self) -> int:
        return len(self._versions)

    def ids(self) -> list[str]:
        return sorted(self._versions)

    def factors(self) -> list[Factor]:
        """Every version of every factor, by id then version."""
        return [f for i in sorted(self._versions) for _, f in sorted(self._versions[i].items())]

    def extended(self, more: Iterable[Factor]) -> FactorLibrary:
        """A library with these versions added (the same id and version twice is refused)."""
        lib = FactorLibrary([*self.factors(), *more])
        lib.regions = self.regions
        return lib

    def get(self, factor_id: str, version: int | None = None) -> Factor:
        versions = self._versions.get(factor_id)
        if not versions:
            raise FactorError(f"no factor {factor_id!r} in the library")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise FactorError(
                f"factor {factor_id!r} has no version {version} (has {sorted(versions)})"
            )
        return versions[version]

    def lookup(self, series: str, region: str, day: dt.date) -> Resolved:
        """The factor of a series for a region on an activity date, with fallback.

        Fallback, when no data year covers the date: the latest data year before
        it (rule latest_earlier); if there is none, the earliest one after it
        (rule earliest_later). Both are named in the lineage.
        """
        candidates = [
            f
            for f in (self.get(fid) for fid in self._versions)
            if f.series == series and f.region == region
        ]
        if not candidates:
            raise FactorError(f"no factor of series {series!r} for region {region!r}")
        what = f"{series} for {region}"
        for f in candidates:
            if f.covers(day):
                return Resolved(
                    f, None, f"looked up: {what}, {f.ref} {validity_text(f)} covers {day}"
                )
        before = [f for f in candidates if f.valid_to is not None and f.valid_to < day]
        if before:
            f = max(before, key=lambda f: f.valid_to or dt.date.min)
        else:
            f = min(candidates, key=lambda f: f.valid_from or dt.date.max)
        note = _fallback(f, day, what)
        return Resolved(f, note, f"looked up: {what}, no factor covers {day}; {note}")

    def pinned(self, factor_id: str, day: dt.date, how: str) -> Resolved:
        """A factor named by id (a meter's override or a default for its fuel), checked
        against its validity on the activity date like a looked-up one."""
        f = self.get(factor_id)
        note = _fallback(f, day, f"{how} {f.ref}")
        if note is None:
            return Resolved(f, None, f"{how} {f.ref}: {validity_text(f)}, serves {day}")
        return Resolved(f, note, f"{how} {f.ref}: {validity_text(f)}; {note}")

    def region_at_level(self, region: str, level: str) -> str:
        """Walk the region tree (province -> grid region -> CN) to the wanted level."""
        node = self.regions.get(region)
        if node is None:
            raise FactorError(
                f"unknown grid region {region!r}; known: {', '.join(sorted(self.regions))}"
            )
        order = ("provincial", "regional", "national")
        if order.index(node.level) > order.index(level):
            raise FactorError(
                f"grid region {region!r} is {node.level}; a {level} factor needs a finer region"
            )
        while node.level != level:
            node = self.regions[node.parent]
        return node.code


def known_unit(unit: str) -> bool:
    return unit in _UNIT_SCALE or unit in _INFORMATIONAL_UNITS


def canonical_unit(unit: str) -> str | None:
    """The unit the core computes in for a factor given in ``unit`` (None: informational)."""
    hit = _UNIT_SCALE.get(unit)
    return hit[0] if hit else None


def parse_csv(text: str, origin: str) -> list[Factor]:
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise FactorError(f"{origin}: missing column(s) {', '.join(missing)}")
    return [_row(r, origin, line) for line, r in enumerate(reader, start=2)]


def _row(r: dict[str, str], origin: str, line: int) -> Factor:
    where = f"{origin}, line {line}"
    try:
        unit = r["unit"].strip()
        if unit and unit not in _UNIT_SCALE and unit not in _INFORMATIONAL_UNITS:
            raise ValueError(f"unit {unit!r} is not known; use one of {', '.join(_UNIT_SCALE)}")
        return Factor(
            id=_need(r, "id"),
            version=int(_need(r, "version")),
            series=(r.get("series") or "").strip(),
            region=(r.get("region") or "global").strip(),
            value=float(_need(r, "value")),
            unit=unit,
            gas=(r.get("gas") or "").strip(),
            valid_from=_date(r.get("valid_from")),
            valid_to=_date(r.get("valid_to")),
            data_year=int(r["data_year"]) if (r.get("data_year") or "").strip() else None,
            source=_need(r, "source"),
            table=(r.get("table") or "").strip(),
            verified=(r.get("verified") or "").strip() or "unknown",
            description=(r.get("description") or "").strip(),
            origin=origin,
        )
    except ValueError as e:
        raise FactorError(f"{where}: {e}") from None


# Standard-coal coefficients (GB/T 2589), used by core.energy, not by the emission
# core: unit -> (canonical quantity unit, tce per canonical unit per unit of value).
TCE_UNITS: dict[str, tuple[str, float]] = {
    "kgce/kWh": ("MWh", 1.0),
    "gce/kWh": ("MWh", 1e-3),
    "kgce/kg": ("t", 1.0),
    "kgce/t": ("t", 1e-3),
    "kgce/m3": ("Nm3", 1e-3),
    "kgce/MJ": ("GJ", 1.0),
    "tce/GJ": ("GJ", 1.0),
}
_INFORMATIONAL_UNITS = frozenset(
    {"ratio", "tCO2/tC", "kg/m3", "tCO2/10^4 Nm3", "tCO2/t", *TCE_UNITS}
)


def _need(r: dict[str, str], key: str) -> str:
    v = (r.get(key) or "").strip()
    if not v:
        raise ValueError(f"{key} is empty")
    return v


def _date(v: str | None) -> dt.date | None:
    v = (v or "").strip()
    return dt.date.fromisoformat(v) if v else None


def _parse_regions(text: str) -> list[Region]:
    return [
        Region(r["code"], r["name"], r["level"], r["parent"])
        for r in csv.DictReader(text.splitlines())
    ]
