"""Exports, hand-worked: CBAM direct/indirect split for one good, the Battery Regulation
template per kWh, and the declaration's required parts (JSON and PDF)."""

from __future__ import annotations

import datetime as dt
import io

import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information
import pytest

from carbonstream.core.lots import LotIn, check_lots
from carbonstream.core.upstream import Bom, BomLine, UpstreamFactor
from carbonstream.footprint import cbam, declaration, pdf
from carbonstream.footprint.compute import footprint_line, product_footprint
from tests.footprint.helpers import library, local, plant, series

PRIMARY_AL = UpstreamFactor(
    id="avg.al.primary",
    version=1,
    kind="material",
    subject="unwrought aluminium",
    value=16.0,
    unit="kgCO2e/kg",
    data_type="average",
    database="example database",
    source="example",
    valid_from=dt.date(2026, 1, 1),
    verified="M",
)


def _castings(sector: str, cn: str = "7616 99"):  # type: ignore[no-untyped-def]
    p = plant(
        products=[
            {
                "id": "casting",
                "name": {"zh": "压铸件", "en": "Die casting"},
                "declared_unit": "t",
                "lines": ["cell-1"],
                "cbam": {"cn_code": cn, "sector": sector},
                "battery": {"model": "X1", "category": "industrial",
                            "service_life_kwh_per_unit": 40000},
            }
        ]
    )  # fmt: skip
    # 100 minutes: 0.30 t/min fuel (30 t), 0.05 t/min steam (5 t), 2 MWh/min grid at
    # 0.5306 t/MWh (200 MWh, 106.12 t location-based).
    s = series(
        local(2026, 11, 3, 8),
        100,
        scope1_t=0.30,
        heat_t=0.05,
        grid_mwh=2.0,
        grid_location_t=2.0 * 0.5306,
        grid_market_t=2.0 * 0.4,
    )
    lots = check_lots(
        p,
        [
            LotIn(id="A", product="casting", line="cell-1", start=local(2026, 11, 3, 8),
                  end=local(2026, 11, 3, 9), quantity=60, unit="t"),
            LotIn(id="B", product="casting", line="cell-1", start=local(2026, 11, 3, 9),
                  end=local(2026, 11, 3, 9, 40), quantity=40, unit="t"),
        ],
    )  # fmt: skip
    bom = Bom(
        "casting",
        1,
        dt.date(2026, 11, 1),
        (
            BomLine(
                material="unwrought aluminium",
                quantity=0.12,
                unit="t",
                factor="avg.al.primary",
                cbam_see_direct=1.9,
                cbam_see_indirect=13.4,
            ),
        ),
    )
    r = footprint_line(p, library(PRIMARY_AL), s, lots, {"casting": [bom]})
    return p, r.lots


def test_cbam_direct_indirect_split_for_one_good() -> None:
    p, lots = _castings("aluminium")
    got = cbam.cbam_report(
        p.name, p.footprint.products[0], "s", "e", lots, cbam.precursors_of(lots)
    )
    # AL = 60 + 40 = 100 t. Direct: fuel 30 t + imported steam 5 t = 35 t. Indirect:
    # 200 MWh x 0.5306 t/MWh = 106.12 t. Precursor: 100 t x 0.12 = 12 t of unwrought
    # aluminium: direct 12 x 1.9 = 22.8 t, indirect 12 x 13.4 = 160.8 t.
    # SEE direct = (35 + 22.8) / 100 = 0.578 t/t; indirect = (106.12 + 160.8) / 100 = 2.6692.
    assert got.activity_level_t == pytest.approx(100)
    assert got.attributed_direct_t == pytest.approx(35)
    assert got.attributed_indirect_t == pytest.approx(106.12)
    assert got.electricity_mwh == pytest.approx(200)
    assert got.electricity_factor_t_per_mwh == pytest.approx(0.5306)
    (pre,) = got.precursors
    assert pre.mass_t == pytest.approx(12) and pre.embedded_direct_t == pytest.approx(22.8)
    assert got.see_direct_t_per_t == pytest.approx(0.578)
    assert got.see_indirect_t_per_t == pytest.approx(2.6692)
    # Aluminium declares direct emissions only in the definitive period.
    assert got.indirect_counted is False and got.see_total_t_per_t == pytest.approx(0.578)
    # Cement counts both: 0.578 + 2.6692 = 3.2472.
    pc, lc = _castings("cement", "2523 29")
    c = cbam.cbam_report(pc.name, pc.footprint.products[0], "s", "e", lc, cbam.precursors_of(lc))
    assert c.indirect_counted is True and c.see_total_t_per_t == pytest.approx(3.2472)


def test_battery_template_per_kwh_by_stage() -> None:
    p, lots = _castings("aluminium")
    prod = p.footprint.products[0]
    fp = product_footprint(prod, local(2026, 11, 1), local(2026, 12, 1), lots)
    b = declaration.battery(p, prod, fp, "hall")
    # Materials: 12 t x 16 = 192 t. Energy (market): 30 + 0.4 x 200 + 5 = 115 t, plus T&D
    # losses 106.12 x 0.045 = 4.7754 t (no gas in the series, so no 3A).
    # Per battery "unit" (1 t here): (192 + 119.7754) t / 100 = 3.117754 t = 3117.754 kg,
    # over 40 000 kWh -> 0.07794385 kg/kWh.
    assert b["kgco2e_per_kwh"] == pytest.approx((192 + 119.7754) * 1000 / 100 / 40000)
    stages = b["by_life_cycle_stage_kgco2e_per_kwh"]
    assert stages["raw_material_acquisition_and_pre_processing"] == pytest.approx(
        192 * 1000 / 100 / 40000
    )
    assert stages["distribution"] is None and stages["end_of_life_and_recycling"] is None
    assert "distribution" in b["not_known_to_the_factory"]


@pytest.mark.slow
def test_declaration_has_boundary_unit_allocation_quality_exclusions_and_renders() -> None:
    p, lots = _castings("aluminium")
    prod = p.footprint.products[0]
    fp = product_footprint(prod, local(2026, 11, 1), local(2026, 12, 1), lots)
    d = declaration.declaration(p, prod, fp, lots)
    for key in ("system_boundary", "declared_unit", "allocation", "data_quality", "exclusions"):
        assert d[key], key
    assert d["declared_unit"] == "1 t"
    assert d["allocation"]["lines"][0]["method"] == "mass"
    assert d["result"]["kgco2e_per_declared_unit"]["market_based_electricity"] == pytest.approx(
        fp.parts.kgco2e_per_unit_market
    )
    assert [f["id"] for f in d["factors"]] == ["avg.al.primary", "cn.td_loss.national"]
    blob = pdf.render(d)
    doc = pdfium.PdfDocument(io.BytesIO(blob))
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "Declared unit" in text and "Allocation" in text and "Exclusions" in text
    assert f"{d['result']['kgco2e_per_declared_unit']['market_based_electricity']:,.2f}" in text


def test_scope3_counts_in_the_net_only_when_the_plant_says_so() -> None:
    import datetime as dt_

    from carbonstream.footprint.scope3 import Scope3Block, with_net

    t = dt_.datetime(2026, 11, 1, tzinfo=dt_.UTC)
    off = Scope3Block(start=t, end=t, categories=[], total_t=3.0, in_net=False, note="")
    assert with_net(off, 5.0) == off  # no figure with Scope 3 in the net
    on = off.model_copy(update={"in_net": True})
    # net 5 + Scope 3 3 = 8: not zero-carbon; net -5 + 3 = -2: zero-carbon.
    assert with_net(on, 5.0).net_with_scope3_t == 8.0
    assert with_net(on, 5.0).zero_carbon_with_scope3 is False
    assert with_net(on, -5.0).zero_carbon_with_scope3 is True
