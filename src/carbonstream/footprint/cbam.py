"""CBAM specific embedded emissions (SEE) of a good, direct and indirect, per tonne.

Regulation (EU) 2023/956 with the methods of IR (EU) 2025/2547 as summarised in the
reference notes ([V2] for the exact attribution terms): emissions attributed to the
production process over its activity level, separately for direct and indirect
emissions; a complex good adds the embedded emissions of its precursors:

    SEE_direct   = (AttrEm_direct   + sum(M_i x SEE_direct_i))   / AL
    SEE_indirect = (AttrEm_indirect + sum(M_i x SEE_indirect_i)) / AL

Direct = the line's fuel combustion (Scope 1) + imported measurable heat; indirect = the
line's electricity (MWh) x the grid emission factor (the default unless a PPA or direct
technical connection qualifies; here the location-based factor of the account).
Transport is outside the CBAM boundary. Iron and steel, aluminium and hydrogen declare
direct emissions only in the definitive period; indirect ones are shown for information.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.config.products import CbamSector, Product
from carbonstream.footprint.model import LotFootprint

# Sectors whose CBAM total includes indirect emissions in the definitive period
# (EC Q&A table; iron ore 2601 12 00 also counts indirect ones).
INDIRECT_COUNTED: dict[CbamSector, bool] = {
    "cement": True,
    "fertilisers": True,
    "iron_steel": False,
    "aluminium": False,
    "hydrogen": False,
}
INDIRECT_CN_EXCEPTIONS = ("2601 12 00", "26011200")


@dataclass(frozen=True)
class Precursor:
    name: str
    mass_t: float  # incl. what is lost as scrap
    see_direct: float  # tCO2e per t of precursor
    see_indirect: float


class PrecursorOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    mass_t: float
    see_direct_t_per_t: float
    see_indirect_t_per_t: float
    embedded_direct_t: float
    embedded_indirect_t: float


class Cbam(BaseModel):
    model_config = ConfigDict(frozen=True)

    regulation: str = "Regulation (EU) 2023/956; methods IR (EU) 2025/2547"
    cn_code: str
    sector: str
    product: str
    installation: str
    period_start: str
    period_end: str
    activity_level_t: float = Field(description="Tonnes of the good produced (AL).")
    attributed_direct_t: float
    attributed_indirect_t: float
    electricity_mwh: float
    electricity_factor_t_per_mwh: float | None
    precursors: list[PrecursorOut]
    see_direct_t_per_t: float | None
    see_indirect_t_per_t: float | None
    see_total_t_per_t: float | None = Field(
        description="Direct, plus indirect where the sector counts it."
    )
    indirect_counted: bool
    lots: list[str]
    notes: list[str]


def specific_embedded(
    direct_t: float, indirect_t: float, activity_t: float, precursors: Sequence[Precursor]
) -> tuple[float | None, float | None, list[PrecursorOut]]:
    """(SEE direct, SEE indirect) in tCO2e per t, and each precursor's embedded part."""
    outs = [
        PrecursorOut(
            name=p.name,
            mass_t=p.mass_t,
            see_direct_t_per_t=p.see_direct,
            see_indirect_t_per_t=p.see_indirect,
            embedded_direct_t=p.mass_t * p.see_direct,
            embedded_indirect_t=p.mass_t * p.see_indirect,
        )
        for p in precursors
    ]
    if activity_t <= 0:
        return None, None, outs
    d = (direct_t + sum(x.embedded_direct_t for x in outs)) / activity_t
    i = (indirect_t + sum(x.embedded_indirect_t for x in outs)) / activity_t
    return d, i, outs


def cbam_report(
    plant_name: str,
    product: Product,
    start: str,
    end: str,
    lots: Sequence[LotFootprint],
    precursors: Sequence[Precursor],
) -> Cbam:
    assert product.cbam is not None and product.mass_t_per_unit is not None
    activity = sum(x.quantity for x in lots) * product.mass_t_per_unit
    direct = sum(x.energy.scope1_t + x.energy.heat_t for x in lots)
    indirect = sum(x.energy.scope2_location_t - x.energy.heat_t for x in lots)
    mwh = sum(x.energy.grid_mwh for x in lots)
    d, i, outs = specific_embedded(direct, indirect, activity, precursors)
    counted = (
        INDIRECT_COUNTED[product.cbam.sector]
        or product.cbam.cn_code.replace(" ", "") in INDIRECT_CN_EXCEPTIONS
    )
    total = None if d is None or i is None else d + (i if counted else 0.0)
    notes = [
        "Actual values from metered data; not verified: an accredited verifier's report "
        "(IR (EU) 2025/2546) is needed before they replace default values.",
        "Indirect emissions use the location-based grid factor of the account; a PPA or "
        "direct technical connection is not applied here.",
        "Transport and mobile machinery are outside the CBAM boundary.",
    ]
    if not precursors:
        notes.append(
            "No precursor with embedded emissions is given in the bill of materials "
            "(cbam_see_direct / cbam_see_indirect): treated as a simple good."
        )
    if not counted:
        notes.append(
            f"Sector {product.cbam.sector}: the definitive period declares direct emissions "
            "only; indirect emissions are shown for information."
        )
    return Cbam(
        cn_code=product.cbam.cn_code,
        sector=product.cbam.sector,
        product=product.id,
        installation=plant_name,
        period_start=start,
        period_end=end,
        activity_level_t=activity,
        attributed_direct_t=direct,
        attributed_indirect_t=indirect,
        electricity_mwh=mwh,
        electricity_factor_t_per_mwh=indirect / mwh if mwh > 0 else None,
        precursors=outs,
        see_direct_t_per_t=d,
        see_indirect_t_per_t=i,
        see_total_t_per_t=total,
        indirect_counted=counted,
        lots=[x.lot for x in lots],
        notes=notes,
    )


def precursors_of(lots: Sequence[LotFootprint]) -> list[Precursor]:
    """The CBAM precursors in the lots' bills of materials, mass summed per (name, SEE)."""
    acc: dict[tuple[str, float, float], float] = {}
    for x in lots:
        for m in x.materials:
            if m.cbam_see_direct is None or m.cbam_see_indirect is None:
                continue
            k = (m.material, m.cbam_see_direct, m.cbam_see_indirect)
            acc[k] = acc.get(k, 0.0) + m.quantity
    return [Precursor(n, mass, d, i) for (n, d, i), mass in sorted(acc.items())]
