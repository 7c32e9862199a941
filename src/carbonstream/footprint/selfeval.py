"""The annual zero-carbon factory self-evaluation: the indicators of the research notes
(``energy.md`` §3), each with its value, unit, the criterion as far as a source gives one
(with its verification mark), and whether it is met. No numeric national criterion was
found in any source: where only a standard's grade or a park's index names one, it is
quoted as such, never as the national rule."""

from __future__ import annotations

from typing import Any

from carbonstream.config.plant import Plant
from carbonstream.core.energy import EnergyParams
from carbonstream.footprint.disclosure import disclosure
from carbonstream.footprint.text import t
from carbonstream.store import ledger
from carbonstream.store.db import AsyncConn


def _ind(
    key: str, value: Any, unit: str, criterion: str, met: bool | None, **extra: Any
) -> dict[str, Any]:
    return {
        "indicator": key.removeprefix("ind_"),
        "name": {"zh": t(key, "zh"), "en": t(key, "en")},
        "value": value,
        "unit": unit,
        "criterion": criterion,
        "met": met,
        **extra,
    }


async def self_evaluation(
    conn: AsyncConn, plant: Plant, year: int, ep: EnergyParams | None = None
) -> dict[str, Any]:
    d = await disclosure(conn, plant, year, ep)
    y = d["year_total"]
    zc = d["zero_carbon"]
    share = y["green_electricity_share"]
    by_registry: dict[str, float] = {}
    for o in d["offsets_retired"]:
        by_registry[o["registry"]] = by_registry.get(o["registry"], 0.0) + float(o["tco2e"])
    gross = zc["gross_t"]
    held = {o.id: o for o in await ledger.offsets(conn)}
    indicators = [
        _ind(
            "ind_green",
            share,
            "fraction of electricity consumed",
            "T/CECA-G 0171-2022: 6-star Type I needs 100 % renewable electricity [V]; a "
            "park-level index asks >= 30 % incl. GECs [V, park not factory]",
            None if share is None else share >= 1.0,
            threshold=1.0,
            threshold_source="T/CECA-G 0171-2022 6-star Type I [V]",
        ),
        _ind(
            "ind_energy",
            y["energy_tce"],
            "tce (GB/T 2589, equivalent value), the year",
            "product energy at the quota standard's advanced value or benchmark level "
            "(Jiangsu/SIP notice 2026-03 [V]); values of the quota not in our sources",
            None,
            note="tce per unit of product per line and site: GET /v1/energy?by=line; the "
            "quota's advanced and benchmark values are not in our sources",
        ),
        _ind(
            "ind_intensity",
            {p["product"]: p["kgco2e_per_unit_market"] for p in d["products"]},
            "kgCO2e per declared unit (market-based electricity, cradle-to-gate)",
            "no numeric criterion found; report and reduce year on year",
            None,
            per_value_added="not available: value added is not configured",
        ),
        _ind(
            "ind_residual",
            zc["net_t"],
            "tCO2e (Scope 1 + 2 on the zero-carbon basis, minus offsets retired)",
            "residual annual emissions balanced by offsets after own reduction: net <= 0 "
            "(T/CECA-G 0171-2022 [V]; Jiangsu/SIP 100 % offset of Scope 1+2 [V])",
            zc["zero_carbon"] if zc["enough_data"] else None,
        ),
        _ind(
            "ind_offsets",
            by_registry,
            "tCO2e by registry",
            "CCER first (interview on the 2026 guidance [V2]); qualifying international "
            "credits only for residual emissions [V2]; no share limit found",
            None,
            share_of_gross=(sum(by_registry.values()) / gross) if gross > 0 else None,
            ccer_t=sum(t for r, t in by_registry.items() if r.upper() == "CCER"),
            holdings=len(held),
        ),
        _ind(
            "ind_disclosure",
            plant.footprint.disclosure.enabled,
            "public signed disclosure enabled",
            "2026 guidance path 6: disclose emissions and offsets [V]",
            plant.footprint.disclosure.enabled,
            evidence_chain_head=d["evidence_chain_head"],
        ),
    ]
    return {
        "plant": plant.name,
        "year": year,
        "guidance": "工信部联节〔2026〕13号 zero-carbon factory guidance; indicators from "
        "T/CECA-G 0171-2022, T/CIECCPA 030-2023 and provincial notices (research notes)",
        "indicators": indicators,
        "enough_data": zc["enough_data"],
        "note": "Self-evaluation, not a certification; criteria without a numeric national "
        "value are quoted from the named standard or notice, with their verification mark.",
    }
