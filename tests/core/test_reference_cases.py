"""Hand-computed reference cases: each number below is worked out in the comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonstream.compute import Account, run
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, FactorLibrary, Flag, ReadingBatch
from carbonstream.core.calendar import to_calendar
from tests.plants import NS, meter, ns, plant

LIB = FactorLibrary.load()


def account(
    p: Plant, rows: list[tuple[str, str, float]], base_s: int = 60, lib: FactorLibrary = LIB
) -> Account:
    engine = Engine(p, lib, base_s=base_s)
    index = engine.params.index
    batch = ReadingBatch.of(
        [index[m] for m, _, _ in rows], [ns(t) for _, t, _ in rows], [v for _, _, v in rows]
    )
    return run(engine, batch)


def total(acc: Account, col: str) -> float:
    return float(acc.column(col).sum())


def test_grid_location_based_2023() -> None:
    # 1 000 kWh in 2023 (CT ratio 10: 100 raw kWh) x national 2023 factor 0.5306 t/MWh
    # = 1.000 MWh x 0.5306 = 0.5306 tCO2.
    p = plant([meter("g", multiplier=10)])
    acc = account(
        p, [("g", "2023-06-01T08:00:00+08:00", 500.0), ("g", "2023-06-01T09:00:00+08:00", 600.0)]
    )
    assert total(acc, "grid_import_mwh") == pytest.approx(1.0)
    assert total(acc, "scope2_location_t") == pytest.approx(0.5306, rel=1e-12)
    # Market-based with no instruments: residual proxy 2023 = 0.6096 t/MWh.
    assert total(acc, "scope2_market_t") == pytest.approx(0.6096, rel=1e-12)
    assert not (int(acc.line_flags[0][0]) & Flag.FACTOR_FALLBACK)


def test_grid_2026_falls_back_to_latest_data_year_and_says_so() -> None:
    p = plant([meter("g")])
    acc = account(
        p, [("g", "2026-06-01T08:00:00+08:00", 0.0), ("g", "2026-06-01T09:00:00+08:00", 1000.0)]
    )
    assert total(acc, "scope2_location_t") == pytest.approx(0.5306)
    assert int(acc.line_flags[0][0]) & Flag.FACTOR_FALLBACK
    notes = [n for x in acc.engine.lineages for n in x.notes]
    assert any("used data year 2023" in n for n in notes)


def test_regional_and_provincial_levels() -> None:
    # Jiangsu 2023 provincial 0.5827; East China grid 2023 0.5500.
    rows = [("g", "2023-06-01T08:00:00+08:00", 0.0), ("g", "2023-06-01T09:00:00+08:00", 1000.0)]
    prov = account(plant([meter("g")], grid_region="CN-JS", grid_factor_level="provincial"), rows)
    reg = account(plant([meter("g")], grid_region="CN-JS", grid_factor_level="regional"), rows)
    assert total(prov, "scope2_location_t") == pytest.approx(0.5827)
    assert total(reg, "scope2_location_t") == pytest.approx(0.5500)


def _market_plant(mwh: float) -> Plant:
    return plant(
        [meter("g")],
        instruments=[
            {
                "id": "gec1",
                "type": "gec",
                "site": "s1",
                "mwh": mwh,
                "generation": {"start": "2023-01-01", "end": "2023-12-31"},
            }
        ],
    )


def test_market_based_certificates_cover_part() -> None:
    # 10 MWh consumed, 4 GECs: market = (10 - 4) x 0.6096 = 3.6576 t; location unchanged
    # 10 x 0.5306 = 5.306 t.
    rows = [("g", "2023-03-01T00:00:00+08:00", 0.0), ("g", "2023-03-01T10:00:00+08:00", 10_000.0)]
    acc = account(_market_plant(4), rows)
    assert total(acc, "scope2_market_t") == pytest.approx(3.6576)
    assert total(acc, "scope2_location_t") == pytest.approx(5.306)
    assert total(acc, "covered_mwh") == pytest.approx(4.0)


def test_market_based_surplus_is_reported_never_negative() -> None:
    # 10 MWh consumed, 15 GECs: market = 0, 10 allocated, 5 surplus.
    from carbonstream import report

    rows = [("g", "2023-03-01T00:00:00+08:00", 0.0), ("g", "2023-03-01T10:00:00+08:00", 10_000.0)]
    acc = account(_market_plant(15), rows)
    assert total(acc, "scope2_market_t") == 0.0
    (ins,) = report.build(acc)["instruments"]
    assert ins["allocated_mwh"] == pytest.approx(10.0)
    assert ins["surplus_mwh"] == pytest.approx(5.0)


def test_instrument_outside_its_claim_period_covers_nothing() -> None:
    rows = [("g", "2024-03-01T00:00:00+08:00", 0.0), ("g", "2024-03-01T10:00:00+08:00", 10_000.0)]
    acc = account(_market_plant(15), rows)
    assert total(acc, "covered_mwh") == 0.0


GAS: dict[str, Any] = {"kind": "fuel", "fuel": "natural_gas", "unit": "Nm3", "rating": 20_000.0}


def test_natural_gas_china_method() -> None:
    # 10 000 Nm3: 389.31 GJ/10^4 Nm3 x 0.0153 tC/GJ x 0.99 x 44/12 = 21.6218880900 tCO2
    expected = 389.31 * 0.0153 * 0.99 * 44 / 12
    assert expected == pytest.approx(21.62188809, rel=1e-9)
    acc = account(
        plant([meter("gas", **GAS)]),
        [("gas", "2025-01-06T08:00:00+08:00", 0.0), ("gas", "2025-01-06T09:00:00+08:00", 10_000.0)],
    )
    assert total(acc, "scope1_t") == pytest.approx(expected, rel=1e-12)


def test_natural_gas_from_volume_at_20c() -> None:
    # 10 000 m3 at 20 °C = 10 000 x 273.15/293.15 = 9 317.7554 Nm3 -> 20.1467 tCO2,
    # 7.3 % less than wrongly treating it as Nm3.
    gas = GAS | {"unit": "m3", "reference_conditions": {"temperature_c": 20}}
    acc = account(
        plant([meter("gas", **gas)]),
        [("gas", "2025-01-06T08:00:00+08:00", 0.0), ("gas", "2025-01-06T09:00:00+08:00", 10_000.0)],
    )
    expected = 10_000 * 273.15 / 293.15 * 389.31e-4 * 0.0153 * 0.99 * 44 / 12
    assert expected == pytest.approx(20.1467, abs=1e-4)
    assert total(acc, "scope1_t") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("gwp", "ch4_gwp", "n2o_gwp"), [("AR5", 28.0, 265.0), ("AR6", 27.9, 273.0)]
)
def test_diesel_ipcc_with_ch4_n2o(gwp: str, ch4_gwp: float, n2o_gwp: float) -> None:
    # 1 000 L x 0.84 kg/L = 0.84 t; energy 0.84 x 43.0 GJ/t = 36.12 GJ
    # CO2 = 36.12 x 74 100 kg/TJ = 2.676492 t; CH4 = 36.12 x 3 kg/TJ = 1.0836e-4 t;
    # N2O = 36.12 x 0.6 kg/TJ = 2.1672e-5 t.
    # AR5: 2.676492 + 1.0836e-4 x 28 + 2.1672e-5 x 265 = 2.676492 + 0.00303408 + 0.00574308
    #      = 2.68526916 t CO2e
    # AR6: 2.676492 + 1.0836e-4 x 27.9 + 2.1672e-5 x 273 = 2.68543170 t CO2e
    diesel: dict[str, Any] = {
        "kind": "fuel",
        "fuel": "diesel",
        "unit": "L",
        "rating": 2000.0,
        "method": "ipcc2006",
    }
    acc = account(
        plant([meter("dg", **diesel)], gwp=gwp),
        [("dg", "2025-01-06T08:00:00+08:00", 0.0), ("dg", "2025-01-06T09:00:00+08:00", 1000.0)],
    )
    co2, ch4, n2o = 36.12 * 74.1e-3, 36.12 * 3e-6, 36.12 * 0.6e-6
    assert total(acc, "scope1_co2_t") == pytest.approx(2.676492, rel=1e-12)
    assert total(acc, "scope1_ch4_t") == pytest.approx(1.0836e-4, rel=1e-12)
    assert total(acc, "scope1_n2o_t") == pytest.approx(2.1672e-5, rel=1e-12)
    assert total(acc, "scope1_t") == pytest.approx(co2 + ch4 * ch4_gwp + n2o * n2o_gwp, rel=1e-12)
    hand = {"AR5": 2.68526916, "AR6": 2.68543170}[gwp]
    assert total(acc, "scope1_t") == pytest.approx(hand, rel=1e-8)


def test_counter_rollover_accepted_when_physically_possible() -> None:
    # Register 0..999999.9 (range 1e6); 999 990 -> 10 in one hour = 20 kWh, rating 100 kW.
    g = meter("g", counter_range=1_000_000, rating=100.0)
    acc = account(
        plant([g]),
        [("g", "2023-06-01T08:00:00+08:00", 999_990.0), ("g", "2023-06-01T09:00:00+08:00", 10.0)],
    )
    assert total(acc, "grid_import_mwh") == pytest.approx(0.020)
    assert acc.counts.rollovers == 1


def test_drop_that_cannot_be_a_wrap_is_a_reset_not_energy() -> None:
    # 500 000 -> 10 in one hour would be 500 010 kWh: impossible under 100 kW. Reset:
    # not counted, flagged; the next interval counts from the new baseline.
    g = meter("g", counter_range=1_000_000, rating=100.0)
    acc = account(
        plant([g]),
        [
            ("g", "2023-06-01T08:00:00+08:00", 500_000.0),
            ("g", "2023-06-01T09:00:00+08:00", 10.0),
            ("g", "2023-06-01T10:00:00+08:00", 60.0),
        ],
    )
    assert total(acc, "grid_import_mwh") == pytest.approx(0.050)
    assert acc.counts.resets == 1
    assert acc.counts.gap_s == 3600


def test_jump_above_rating_is_not_counted() -> None:
    g = meter("g", rating=100.0)
    acc = account(
        plant([g]),
        [("g", "2023-06-01T08:00:00+08:00", 0.0), ("g", "2023-06-01T09:00:00+08:00", 5000.0)],
    )
    assert total(acc, "grid_import_mwh") == 0.0
    assert acc.counts.implausible == 1


def test_recorded_meter_replacement() -> None:
    # Old register read 1 000 at 08:00 and 1 040 when removed at 08:30; the new one
    # started at 5 and read 25 at 09:00: (1040 - 1000) + (25 - 5) = 60 kWh.
    p = plant(
        [meter("g", rating=200.0)],
        replacements=[
            {"meter": "g", "at": "2023-06-01T08:30:00+08:00", "old_final": 1040, "new_initial": 5}
        ],
    )
    acc = account(
        p,
        [
            ("g", "2023-06-01T08:00:00+08:00", 1000.0),
            ("g", "2023-06-01T09:00:00+08:00", 25.0),
            ("g", "2023-06-01T10:00:00+08:00", 125.0),
        ],
    )
    assert total(acc, "grid_import_mwh") == pytest.approx(0.160)
    assert acc.counts.replacements == 1
    assert acc.counts.resets == 0


def test_irregular_power_samples_trapezoid_with_gap() -> None:
    # kW samples at 0 s: 100, 60 s: 200, 180 s: 100, then nothing until 1 380 s: 100.
    # 0.5(100+200) x 60/3600 = 2.5 kWh; 0.5(200+100) x 120/3600 = 5 kWh;
    # 180 -> 1 380 s is 1 200 s > max gap 900 s: not bridged, 1 200 s missing.
    p = plant([meter("w", measures="rate", unit="kW", rating=300.0)], max_gap_s=900)
    rows = [
        ("w", "2023-06-01T08:00:00+08:00", 100.0),
        ("w", "2023-06-01T08:01:00+08:00", 200.0),
        ("w", "2023-06-01T08:03:00+08:00", 100.0),
        ("w", "2023-06-01T08:23:00+08:00", 100.0),
    ]
    acc = account(p, rows)
    assert total(acc, "grid_import_mwh") == pytest.approx(0.0075)
    assert acc.counts.gaps == 1
    assert acc.counts.gap_s == 1200
    assert acc.counts.derived == 2
    assert all(int(f) & Flag.DERIVED for f in np.concatenate(acc.line_flags))


def _berlin_plant(tmp: Path) -> Plant:
    factors = tmp / "de.csv"
    factors.write_text(
        "id,version,value,unit,gas,source,region,verified\n"
        "de.grid.2026,1,0.4,tCO2/MWh,CO2,test factor,DE,yes\n"
        "de.residual.2026,1,0.6,tCO2/MWh,CO2,test factor,DE,yes\n",
        encoding="utf-8",
    )
    return plant(
        [meter("g", factors={"grid": "de.grid.2026", "residual": "de.residual.2026"})],
        timezone="Europe/Berlin",
        grid_region="DE",
        factor_files=[str(factors)],
    )


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)]
)
def test_dst_day_in_berlin(tmp_path: Path, day: str, hours: int) -> None:
    # A constant 100 kW read every 15 min over the local day: the day bucket holds
    # 100 kW x (23 | 25 | 24) h; the hour buckets number 23, 25 or 24.
    import datetime as dt
    from zoneinfo import ZoneInfo

    p = _berlin_plant(tmp_path)
    lib = FactorLibrary.load(p.factor_files)
    zone = ZoneInfo("Europe/Berlin")
    y, mo, d = map(int, day.split("-"))
    start = dt.datetime(y, mo, d, tzinfo=zone).astimezone(dt.UTC)
    end = (dt.datetime(y, mo, d, tzinfo=zone) + dt.timedelta(days=1)).replace(tzinfo=zone)
    end = dt.datetime(end.year, end.month, end.day, tzinfo=zone).astimezone(dt.UTC)
    n = int((end - start).total_seconds() // 900)
    rows = [
        ("g", (start + dt.timedelta(seconds=900 * k)).isoformat(), 25.0 * k) for k in range(n + 1)
    ]
    acc = account(p, rows, base_s=900, lib=lib)
    base = np.concatenate(acc.bucket)
    grid = acc.column("grid_import_mwh")
    days = to_calendar(base, "day", zone)
    assert len(np.unique(days)) == 1
    assert grid.sum() == pytest.approx(0.1 * hours)
    assert len(np.unique(to_calendar(base, "hour", zone))) == hours
    assert acc.column("scope2_location_t").sum() == pytest.approx(0.1 * hours * 0.4)
    assert acc.column("scope2_market_t").sum() == pytest.approx(0.1 * hours * 0.6)


def test_interval_split_across_buckets_in_proportion_to_time() -> None:
    # 08:00:30 -> 08:02:30, 120 kWh: 30 s in 08:00, 60 s in 08:01, 30 s in 08:02.
    acc = account(
        plant([meter("g", rating=5000.0)]),
        [("g", "2023-06-01T08:00:30+08:00", 0.0), ("g", "2023-06-01T08:02:30+08:00", 120.0)],
    )
    q = np.concatenate(acc.line_qty)
    assert q * 1000 == pytest.approx([30.0, 60.0, 30.0])
    assert np.concatenate(acc.line_bucket).tolist() == [
        ns("2023-06-01T08:00:00+08:00"),
        ns("2023-06-01T08:01:00+08:00"),
        ns("2023-06-01T08:02:00+08:00"),
    ]
    assert np.concatenate(acc.line_covered).tolist() == [30 * NS, 60 * NS, 30 * NS]


def test_heat_steam_and_exports_china_total() -> None:
    # Steam 10 t at 2 778 kJ/kg: (2778 - 83.74) x 10 x 1e-3 = 26.9426 GJ x 0.11 = 2.963686 t.
    # Export 2 MWh x 0.5306 (2023) = 1.0612 t deducted in the China total only.
    from carbonstream import report

    p = plant(
        [
            meter("st", kind="heat_import", unit="t", steam_enthalpy_kj_per_kg=2778, rating=20.0),
            meter("ex", kind="grid_export", rating=3000.0),
            meter("g"),
        ]
    )
    acc = account(
        p,
        [
            ("st", "2023-06-01T08:00:00+08:00", 0.0),
            ("st", "2023-06-01T09:00:00+08:00", 10.0),
            ("ex", "2023-06-01T08:00:00+08:00", 0.0),
            ("ex", "2023-06-01T09:00:00+08:00", 2000.0),
            ("g", "2023-06-01T08:00:00+08:00", 0.0),
            ("g", "2023-06-01T09:00:00+08:00", 0.0),
        ],
    )
    heat = (2778 - 83.74) * 10 * 1e-3 * 0.11
    t = report.build(acc)["totals"]["plant"]
    assert t["scope2_location_t"] == pytest.approx(heat)
    assert t["scope2_market_t"] == pytest.approx(heat)
    assert t["export_deduction_t"] == pytest.approx(2 * 0.5306)
    assert t["cn_total_t"] == pytest.approx(heat - 2 * 0.5306)
    assert t["ghg_total_location_t"] == pytest.approx(heat)


def test_production_and_intensity() -> None:
    # 12 t of castings and 1 MWh of grid power (0.5306 t, 2023): 0.044217 tCO2e/t.
    from carbonstream.core.intensity import intensity

    p = plant([meter("g"), meter("out", kind="production", unit="t", rating=20.0)])
    acc = account(
        p,
        [
            ("g", "2023-06-01T08:00:00+08:00", 0.0),
            ("g", "2023-06-01T09:00:00+08:00", 1000.0),
            ("out", "2023-06-01T08:00:00+08:00", 100.0),
            ("out", "2023-06-01T09:00:00+08:00", 112.0),
        ],
    )
    assert total(acc, "production") == pytest.approx(12.0)
    i = intensity(total(acc, "scope1_t"), total(acc, "scope2_location_t"), 12.0, "t", "location")
    assert i.value == pytest.approx(0.5306 / 12)
    assert intensity(1.0, 1.0, 0.0, "t").value is None
