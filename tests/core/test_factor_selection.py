"""Factor selection an auditor can defend: one factor per date in a series, validity
enforced for every factor, and the lineage says why each factor serves its date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carbonstream.core import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.core.resolve import Resolver
from carbonstream.errors import FactorError
from tests.plants import meter, plant

HEADER = "id,version,series,region,value,unit,gas,valid_from,valid_to,data_year,source\n"


def test_overlapping_factors_in_one_series_are_refused_naming_both(tmp_path: Path) -> None:
    # A user's 2023 national grid factor under a new id used to be ignored silently
    # (the first loaded won). A series is (series, region, gas).
    f = tmp_path / "mine.csv"
    f.write_text(
        HEADER + "my.grid.2023,1,cn.grid.avg,CN,0.58,tCO2/MWh,CO2,2023-01-01,2023-12-31,2023,"
        "my utility\n"
    )
    with pytest.raises(FactorError) as err:
        FactorLibrary.load([f])
    msg = str(err.value)
    assert "cn.elec.national_avg.2023@v1" in msg and "my.grid.2023@v1" in msg
    assert "both cover 2023-01-01 in series 'cn.grid.avg' for region 'CN'" in msg
    assert "new version of the same id" in msg


def test_same_series_other_region_or_year_is_not_an_overlap(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(
        HEADER
        + "my.grid.2024,1,cn.grid.avg,CN,0.52,tCO2/MWh,CO2,2024-01-01,2024-12-31,2024,x\n"
        + "my.grid.xx.2023,1,cn.grid.avg,CN-XX,0.5,tCO2/MWh,CO2,2023-01-01,2023-12-31,2023,x\n"
    )
    lib = FactorLibrary.load([f])
    assert lib.lookup("cn.grid.avg", "CN", dt.date(2024, 5, 1)).factor.id == "my.grid.2024"


def test_a_corrected_version_replaces_its_own_validity(tmp_path: Path) -> None:
    # Only the newest version of an id is in its series: a correction that moves the
    # dates does not overlap its own older version.
    f = tmp_path / "mine.csv"
    f.write_text(
        HEADER + "cn.elec.national_avg.2023,2,cn.grid.avg,CN,0.531,tCO2/MWh,CO2,"
        "2023-01-01,2023-12-31,2023,erratum\n"
    )
    lib = FactorLibrary.load([f])
    assert lib.lookup("cn.grid.avg", "CN", dt.date(2023, 5, 1)).factor.version == 2


def lineage_for(meters: list[dict[str, object]], day: dt.date, lib: FactorLibrary):  # type: ignore[no-untyped-def]
    p = plant(meters)
    r = Resolver(p, lib, build_params(p, lib))
    f = r.month(day.year, day.month)
    return r.lineages[int(f.lineage[0])]


def test_pinned_factor_older_than_the_activity_carries_the_fallback_note() -> None:
    # Pinned by id or looked up, 2026 activity on the 2023 factor says the same thing.
    lib = FactorLibrary.load()
    pinned = lineage_for(
        [meter("g", factors={"grid": "cn.elec.national_avg.2023"})], dt.date(2026, 3, 1), lib
    )
    looked_up = lineage_for([meter("g")], dt.date(2026, 3, 1), lib)
    (use,) = pinned.factors
    assert use.factor_id == "cn.elec.national_avg.2023"
    assert use.fallback is not None
    assert "no factor for 2026 (not published yet); used data year 2023" in use.fallback
    assert "[rule latest_earlier]" in use.fallback
    assert use.basis.startswith("pinned by meter g factors.grid: cn.elec.national_avg.2023@v1")
    assert looked_up.factors[0].fallback is not None
    assert "no factor for 2026 (not published yet); used data year 2023" in (
        looked_up.factors[0].fallback
    )
    assert use.fallback in pinned.notes
    assert pinned.flags & 128  # FACTOR_FALLBACK


def test_pinned_factor_inside_its_validity_says_so() -> None:
    lib = FactorLibrary.load()
    lin = lineage_for(
        [meter("g", factors={"grid": "cn.elec.national_avg.2022"})], dt.date(2022, 7, 1), lib
    )
    (use,) = lin.factors
    assert use.fallback is None
    assert use.basis == (
        "pinned by meter g factors.grid: cn.elec.national_avg.2022@v1: "
        "valid 2022-01-01..2022-12-31, serves 2022-07-01"
    )


def test_validity_is_enforced_for_non_grid_factors(tmp_path: Path) -> None:
    # A measured gas NCV valid for 2026 used for 2027 activity: the earlier rule applies
    # and says so (it used to be taken silently).
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + "lab.ncv.2026,1,,CN,38.93,MJ/Nm3,,2026-01-01,2026-12-31,2026,lab\n")
    lib = FactorLibrary.load([f])
    gas = meter("gas", kind="fuel", fuel="natural_gas", unit="Nm3", factors={"ncv": "lab.ncv.2026"})
    lin = lineage_for([gas], dt.date(2027, 2, 1), lib)
    ncv = next(u for u in lin.factors if u.role == "ncv")
    assert ncv.fallback is not None and "no factor for 2027" in ncv.fallback
    assert "used data year 2026 (lab.ncv.2026@v1)" in ncv.fallback
    # before its validity: the other named rule
    lin = lineage_for([gas], dt.date(2025, 2, 1), lib)
    ncv = next(u for u in lin.factors if u.role == "ncv")
    assert ncv.fallback is not None and "[rule earliest_later]" in ncv.fallback


def test_lineage_gives_source_units_beside_canonical_ones() -> None:
    lib = FactorLibrary.load()
    gas = meter("gas", kind="fuel", fuel="natural_gas", unit="Nm3")
    lin = lineage_for([gas], dt.date(2026, 2, 1), lib)
    ncv = next(u for u in lin.factors if u.role == "ncv")
    # 389.31 GJ/10^4 Nm3 as printed = 0.038931 GJ/Nm3 as the formula uses it
    assert (ncv.source_value, ncv.source_unit) == (389.31, "GJ/10^4 Nm3")
    assert ncv.unit == "GJ/Nm3" and ncv.value == pytest.approx(0.038931, rel=1e-12)
    cc = next(u for u in lin.factors if u.role == "carbon_content")
    assert ncv.basis.startswith("default for natural_gas: cn.fuel.natural_gas.ncv@v1")
    assert cc.basis.endswith("no validity dates (a constant), serves 2026-02-01")


def test_steam_constants_come_from_the_library_and_appear_in_lineage() -> None:
    lib = FactorLibrary.load()
    steam = meter("st", kind="heat_import", unit="t", steam_enthalpy_kj_per_kg=2778, rating=8)
    lin = lineage_for([steam], dt.date(2026, 2, 1), lib)
    ref = next(u for u in lin.factors if u.role == "steam_ref_enthalpy")
    assert (ref.factor_id, ref.value, ref.unit) == ("cn.heat.steam_ref_enthalpy", 83.74, "kJ/kg")
    assert ref.verified == "memory"
    # (2778 - 83.74) x 10^-3 = 2.69426 GJ per t of steam
    assert any("(h 2778 - 83.74 kJ/kg [cn.heat.steam_ref_enthalpy@v1])" in n for n in lin.notes)
    assert any("= 2.69426 GJ/t" in n for n in lin.notes)


def test_a_meter_in_tonnes_gets_no_density_in_its_lineage() -> None:
    lib = FactorLibrary.load()
    dt_ = dt.date(2026, 2, 1)
    by_mass = lineage_for([meter("dg", kind="fuel", fuel="diesel", unit="t")], dt_, lib)
    assert not any("density" in n for n in by_mass.notes)
    assert "activity: none: t is the canonical unit" in by_mass.notes
    by_volume = lineage_for([meter("dg", kind="fuel", fuel="diesel", unit="L")], dt_, lib)
    assert any(
        "L -> t: liquid volume x density 0.84 kg/L [density.diesel@v1] = 0.00084 t/L" in n
        for n in by_volume.notes
    )
