"""Every number names its unit: the words of a field's name that are units, and what they say.

A number in an answer, a CSV or a workbook carries its unit in its name
(``scope1_t``, ``grid_import_mwh``, ``covered_s``, ``scope1_tco2e_per_h``), or, when its
unit is data (a meter's, a product's), in a field named ``unit`` or ``<something>_unit``
of the same or an enclosing object (``quantity`` + ``quantity_unit``, a meter status's
``value`` in the meter's ``unit``). The few numbers without a unit are counts, ids,
versions, years and dimensionless model parameters (:data:`UNITLESS`). docs/api.md
("API conventions") says the same for readers; the convention tests check every route.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from carbonstream.localtime import plant_local

# The words that are units, and how a table writes them.
UNIT_WORDS: dict[str, str] = {
    "t": "t",  # tonnes: CO2e for emissions; of the gas or the mass the name names
    "tco2e": "tCO2e",
    "kgco2e": "kgCO2e",
    "kg": "kg",
    "km": "km",
    "mwh": "MWh",
    "kwh": "kWh",
    "gj": "GJ",
    "tce": "tce",
    "s": "s",
    "ms": "ms",
    "h": "h",
    "minutes": "min",
    "hours": "h",
    "days": "d",
    "seconds": "s",
    "pct": "%",
    "share": "1",  # a fraction from 0 to 1
    "yuan": "CNY",
    "year": "year",  # per_year
    "unit": "unit",  # per unit of product (the product's unit is named beside it)
}
# Numbers without a unit, by name: counts of what the name says, ids, versions, years,
# ranks, categories, and the smoothing constants of the forecast.
UNITLESS: frozenset[str] = frozenset(
    {
        # counts
        "added",
        "created",
        "unchanged",
        "conflicts",
        "implausible_readings",
        "readings",
        "unsigned_readings",
        "meters",
        "meters_bad_quality",
        "meters_silent",
        "lots",
        "retirements",
        "history_missing",
        "history_quarters",
        # ids, versions, years, ranks, categories
        "id",
        "key",
        "lineage_ids",
        "retirement",
        "next_before",
        "version",
        "bom_version",
        "schema_version",
        "data_year",
        "year",
        "vintage",
        "rank",
        "category",
        "scope",
        # dimensionless: the forecast's smoothing constants
        "alpha",
        "gamma",
    }
)
FUEL_PREFIX = "fuel."  # a line's fuel column: in that fuel's canonical unit (named in docs)
_GASES = {"co2": "CO2", "ch4": "CH4", "n2o": "N2O", "co2e": "CO2e"}
_MASSES = {"mass_t", "activity_level_t"}  # tonnes of product, not of CO2e


def named_unit(name: str) -> str | None:
    """The unit a field's name says (``scope1_t`` -> tCO2e, ``grid_import_mwh`` -> MWh,
    ``scope1_ch4_t`` -> tCH4, ``kgco2e_per_unit_market`` -> kgCO2e/unit); None if none."""
    words = name.lower().split("_")
    start = next((i for i, w in enumerate(words) if w in UNIT_WORDS), None)
    if start is None:
        return None
    parts: list[str] = []
    i = start
    while i < len(words):
        w = words[i]
        if w in UNIT_WORDS:
            parts.append(("·" if parts and parts[-1] != "/" else "") + UNIT_WORDS[w])
        elif w == "per" and parts:
            parts.append("/")
        else:
            break
        i += 1
    unit = "".join(parts).rstrip("/")
    if unit == "t" or unit.startswith("t/"):
        unit = _tonnes_of(name, words[:start]) + unit[1:]
    return unit


def _tonnes_of(name: str, before: list[str]) -> str:
    """Tonnes of what: of the gas the name names (``scope1_ch4_t``), of product
    (``mass_t``), else of CO2e (``scope1_t``, ``ch4_co2e_t``)."""
    if name in _MASSES:
        return "t"
    gas = next((_GASES[w] for w in reversed(before) if w in _GASES or w == "co2e"), None)
    return f"t{gas}" if gas else "tCO2e"


def unit_keys(name: str) -> list[str]:
    """Where a number's unit may be given beside it, nearest first: ``<name>_unit``; a
    tail of its name (``quantity_meter_unit`` is in ``meter_unit``); ``<first word>_unit``
    (``energy_per_year`` in ``energy_unit``); ``unit``."""
    words = name.split("_")
    tails = ["_".join(words[i:]) for i in range(1, len(words)) if words[-1] == "unit"]
    keys = [f"{name}_unit", *tails, f"{words[0]}_unit", "unit"]
    return [k for k in dict.fromkeys(keys) if k != name]


def unit_of(name: str, row: Mapping[str, Any]) -> str | None:
    """The unit of the number ``row[name]``: given beside it (:func:`unit_keys`), else said
    by its name; None for counts and ids."""
    for key in unit_keys(name):
        if isinstance(row.get(key), str) and row[key]:
            return str(row[key])
    if name in UNITLESS:
        return None
    return named_unit(name)


def is_unit_field(name: str) -> bool:
    return name == "unit" or name.endswith("_unit")


def names_its_unit(name: str, around: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether a number called ``name`` follows the convention; ``around``: the field names
    of its object and of the enclosing ones."""
    if name in UNITLESS or name.startswith(FUEL_PREFIX):
        return True
    if UNIT_WORDS.keys() & set(name.lower().split("_")):
        return True
    return any(is_unit_field(k) for k in around)


# --- tidy tables ----------------------------------------------------------------------


def cell_text(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return plant_local(v).isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "|".join(str(x) for x in v)
    return v


def tidy_rows(
    dims: Sequence[str], fields: Sequence[str], rows: Iterable[dict[str, Any]]
) -> Iterable[list[Any]]:
    """Per row and field (a value, not None): the dimensions, the field, value and unit.
    A ``unit``/``<x>_unit`` field is written as the unit of the numbers it qualifies, and as
    a row of its own only when it qualifies none."""
    for r in rows:
        key = [cell_text(r.get(d)) for d in dims]
        used: set[str] = set()
        out = []
        for f in fields:
            v = r.get(f)
            if f in dims or v is None or (is_unit_field(f) and isinstance(v, str)):
                continue
            unit = None
            if isinstance(v, int | float) and not isinstance(v, bool):
                unit = unit_of(f, r)
                used.update(k for k in unit_keys(f) if isinstance(r.get(k), str))
            out.append([*key, f, cell_text(v), unit or ""])
        for f in fields:
            v = r.get(f)
            if is_unit_field(f) and isinstance(v, str) and v and f not in used:
                out.append([*key, f, v, ""])
        yield from out
