"""Lot footprints, hand-worked: two products sharing a line by mass, a lot spanning
midnight and a shift change, a bill of materials with a supplier-specific and an average
factor, and the upstream of grid losses."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from carbonstream.core.lots import LotIn, check_lot, check_lots
from carbonstream.core.upstream import Bom, BomLine, UpstreamFactor, check_bom
from carbonstream.footprint.compute import bom_for, footprint_line, product_footprint
from carbonstream.refusals import FootprintInputError
from tests.footprint.helpers import library, local, plant, series


def lot(id_: str, product: str, start: dt.datetime, end: dt.datetime, q: float, unit: str):  # type: ignore[no-untyped-def]
    return LotIn(
        id=id_, product=product, line="cell-1", start=start, end=end, quantity=q, unit=unit
    )


def test_two_products_sharing_a_line_allocated_by_mass() -> None:
    p = plant()
    # 08:00-10:00 local, the line burns gas for 0.05 tCO2 per minute: 6 t in two hours.
    s = series(local(2026, 11, 3, 8), 120, scope1_t=0.05)
    lots = check_lots(
        p,
        [
            # 12 t of castings over both hours.
            lot("C1", "casting", local(2026, 11, 3, 8), local(2026, 11, 3, 10), 12, "t"),
            # 2400 brackets of 2.5 kg = 6 t over the second hour.
            lot("B1", "bracket", local(2026, 11, 3, 9), local(2026, 11, 3, 10), 2400, "pcs"),
        ],
    )
    r = footprint_line(p, library(), s, lots, {})
    c1, b1 = r.lots
    # Hour 1: castings alone, 60 x 0.05 = 3 t. Hour 2: 6 t castings and 6 t brackets made,
    # 3 t shared by mass 1:1 -> 1.5 t each. C1 = 3 + 1.5 = 4.5 t, B1 = 1.5 t.
    assert c1.energy.scope1_t == pytest.approx(4.5)
    assert b1.energy.scope1_t == pytest.approx(1.5)
    assert b1.allocation.method == "mass" and b1.allocation.key == pytest.approx(6.0)
    assert b1.allocation.key_unit == "t" and b1.allocation.minutes == 60
    assert b1.allocation.mean_share == pytest.approx(0.5)
    # Per declared unit: 4.5 t / 12 t = 375 kgCO2e/t; 1.5 t / 2400 pcs = 0.625 kg/pcs.
    assert c1.totals.kgco2e_per_unit_market == pytest.approx(375.0)
    assert b1.totals.kgco2e_per_unit_market == pytest.approx(0.625)
    assert r.balance.total["scope1_t"] == pytest.approx(6.0)
    assert r.balance.allocated["scope1_t"] == pytest.approx(6.0)
    assert r.balance.unallocated["scope1_t"] == pytest.approx(0.0)


def test_economic_allocation_for_joint_products_is_the_stated_alternative() -> None:
    p = plant(
        lines=[{"id": "cell-1", "allocation": "economic", "justification": "joint products"}],
        products=[
            {"id": "a", "name": {"zh": "甲", "en": "A"}, "declared_unit": "t",
             "lines": ["cell-1"], "value_per_unit": 30000},
            {"id": "b", "name": {"zh": "乙", "en": "B"}, "declared_unit": "t",
             "lines": ["cell-1"], "value_per_unit": 10000},
        ],
    )  # fmt: skip
    s = series(local(2026, 11, 3, 8), 60, scope1_t=0.1)
    lots = check_lots(
        p,
        [
            lot("A1", "a", local(2026, 11, 3, 8), local(2026, 11, 3, 9), 1, "t"),
            lot("B1", "b", local(2026, 11, 3, 8), local(2026, 11, 3, 9), 1, "t"),
        ],
    )
    a1, b1 = footprint_line(p, library(), s, lots, {}).lots
    # 6 t shared by value 30 000 : 10 000 CNY -> 4.5 t and 1.5 t (by mass it would be 3 : 3).
    assert a1.energy.scope1_t == pytest.approx(4.5) and b1.energy.scope1_t == pytest.approx(1.5)
    assert a1.allocation.key_unit == "CNY" and a1.allocation.justification == "joint products"


def test_a_lot_spanning_midnight_and_a_shift_change_is_exact_to_the_minute() -> None:
    p = plant()
    # Evening shift 20:00-23:00 local emits 0.9 t/h (0.015 t/min); the night shift from the
    # 23:00 change to 07:00 emits 0.3 t/h (0.005 t/min).
    start = local(2026, 11, 3, 20)
    per_min = [0.015] * 180 + [0.005] * 480
    s = series(start, 660, scope1_t=per_min)
    lots = check_lots(
        p,
        [
            lot("L0", "casting", local(2026, 11, 3, 20), local(2026, 11, 3, 22, 30), 5, "t"),
            # 22:30 -> 01:30 next day: across the 23:00 shift change and midnight.
            lot("L1", "casting", local(2026, 11, 3, 22, 30), local(2026, 11, 4, 1, 30), 6, "t"),
            lot("L2", "casting", local(2026, 11, 4, 1, 30), local(2026, 11, 4, 7), 11, "t"),
        ],
    )
    r = footprint_line(p, library(), s, lots, {})
    l0, l1, l2 = r.lots
    # L1 = 0.5 h x 0.9 t/h (22:30-23:00) + 2.5 h x 0.3 t/h (23:00-01:30) = 0.45 + 0.75 = 1.2 t.
    assert l1.energy.scope1_t == pytest.approx(1.2)
    assert l1.allocation.minutes == 180
    # L0 = 2.5 h x 0.9 = 2.25 t; L2 = 5.5 h x 0.3 = 1.65 t; the line: 2.7 + 2.4 = 5.1 t.
    assert l0.energy.scope1_t == pytest.approx(2.25)
    assert l2.energy.scope1_t == pytest.approx(1.65)
    assert sum(x.energy.scope1_t for x in r.lots) == pytest.approx(5.1)
    # A day-average split (5.1 t over 11 h) would have given L1 3 h x 5.1/11 = 1.39 t.
    assert abs(l1.energy.scope1_t - 3 * 5.1 / 11) > 0.15


def supplier_alloy() -> UpstreamFactor:
    return UpstreamFactor(
        id="supplier.adc12.xinhe",
        version=1,
        kind="material",
        subject="ADC12",
        value=8.2,
        unit="kgCO2e/kg",
        data_type="supplier_specific",
        supplier="Xinhe Aluminium (example)",
        source="supplier EPD 2026, third-party verified (example)",
        valid_from=dt.date(2026, 1, 1),
        verified="third_party",
    )


def average_sand() -> UpstreamFactor:
    return UpstreamFactor(
        id="avg.silica_sand",
        version=1,
        kind="material",
        subject="silica sand",
        value=12.0,
        unit="kgCO2e/t",
        data_type="average",
        database="CLCD (example)",
        source="average dataset (example)",
        valid_from=dt.date(2026, 1, 1),
        verified="M",
    )


def test_bill_of_materials_with_a_supplier_specific_and_an_average_factor() -> None:
    p = plant()
    lib = library(supplier_alloy(), average_sand())
    lines = [
        BomLine(
            material="ADC12",
            quantity=1.05,
            unit="t",
            factor="supplier.adc12.xinhe",
            transport_mode="road",
            transport_km=300,
        ),
        BomLine(material="silica sand", quantity=50, unit="kg", factor="avg.silica_sand"),
    ]
    check_bom(lines, lib, dt.date(2026, 11, 3))
    bom = Bom("casting", 1, dt.date(2026, 11, 1), tuple(lines))
    s = series(local(2026, 11, 3, 8), 60, scope1_t=0.0)
    (x,) = footprint_line(
        p,
        lib,
        s,
        check_lots(
            p, [lot("C1", "casting", local(2026, 11, 3, 8), local(2026, 11, 3, 9), 10, "t")]
        ),
        {"casting": [bom]},
    ).lots
    alloy, sand = x.materials
    # Alloy: 10 t x 1.05 t/t = 10.5 t x 8.2 kgCO2e/kg (= t/t) = 86.1 tCO2e, supplier data.
    assert alloy.quantity == pytest.approx(10.5) and alloy.tco2e == pytest.approx(86.1)
    assert alloy.factor.data_type == "supplier_specific" and alloy.factor.verified == "third_party"
    # Sand: 10 t x 50 kg/t = 0.5 t x 12 kgCO2e/t = 6 kg = 0.006 tCO2e, average data.
    assert sand.quantity == pytest.approx(0.5) and sand.tco2e == pytest.approx(0.006)
    assert sand.factor.database == "CLCD (example)"
    # Inbound alloy by road: 10.5 t x 300 km = 3150 t.km x 0.107 kg = 337.05 kg.
    (leg,) = x.transport
    assert leg.t_km == pytest.approx(3150) and leg.tco2e == pytest.approx(0.33705)
    assert x.totals.materials_t == pytest.approx(86.106)
    assert x.totals.total_market_t == pytest.approx(86.106 + 0.33705)
    assert x.bom_version == 1
    pf = product_footprint(p.footprint.products[0], local(2026, 11, 1), local(2026, 12, 1), [x])
    assert pf.supplier_specific_share == pytest.approx(86.1 / 86.106)
    # Marks of the factors used: alloy third_party; sand and road transport from memory.
    assert pf.verification_marks == {"M": 2, "third_party": 1}
    # The BOM valid on a day is the newest one that started before it.
    assert bom_for([bom], dt.date(2026, 10, 31)) is None


def test_upstream_of_grid_losses() -> None:
    p = plant()
    # 100 MWh over the hour at the location-based 0.5306 t/MWh = 53.06 tCO2 (Scope 2).
    s = series(local(2026, 11, 3, 8), 60, grid_mwh=100 / 60, grid_location_t=53.06 / 60,
               grid_market_t=48.0 / 60)  # fmt: skip
    (x,) = footprint_line(
        p,
        library(),
        s,
        check_lots(p, [lot("C1", "casting", local(2026, 11, 3, 8), local(2026, 11, 3, 9), 4, "t")]),
        {},
    ).lots
    # Category 3C: 100 MWh x 4.5 % lost x 0.5306 t/MWh = 53.06 x 0.045 = 2.3877 tCO2e.
    assert x.energy.td_losses_t == pytest.approx(2.3877)
    assert [f.id for f in x.energy.factors] == ["cn.td_loss.national"]  # CN-JS -> CN
    assert x.energy.scope2_location_t == pytest.approx(53.06)
    assert x.energy.scope2_market_t == pytest.approx(48.0)
    assert x.totals.energy_location_t == pytest.approx(53.06 + 2.3877)
    # No 3B factor is shipped: said, not silently zero.
    assert any("category 3B" in e for e in x.exclusions)
    assert any("category 1" in e for e in x.exclusions)


def test_bad_lots_are_refused_with_the_field_and_the_fix() -> None:
    p = plant()
    a, b = local(2026, 11, 3, 8), local(2026, 11, 3, 9)
    with pytest.raises(FootprintInputError, match="unknown product 'nope'"):
        check_lot(p, lot("X", "nope", a, b, 1, "t"))
    with pytest.raises(FootprintInputError, match="must be after start"):
        check_lot(p, lot("X", "casting", b, a, 1, "t"))
    with pytest.raises(FootprintInputError, match="cannot be converted"):
        check_lot(p, lot("X", "casting", a, b, 1, "m2"))
    with pytest.raises(FootprintInputError, match="longer than 31 days"):
        check_lot(p, lot("X", "casting", a, a + dt.timedelta(days=40), 1, "t"))
    with pytest.raises(FootprintInputError, match="given twice"):
        check_lots(p, [lot("X", "casting", a, b, 1, "t"), lot("X", "casting", a, b, 1, "t")])
    # kg become the declared t; naive times are plant-local.
    got = check_lot(p, lot("X", "casting", a.replace(tzinfo=None), b, 2500, "kg"))
    assert got.quantity == pytest.approx(2.5) and got.start == a
    assert np.isclose(got.given_quantity, 2500)
