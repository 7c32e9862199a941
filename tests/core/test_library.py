"""The shipped factor library: values against the research tables, lookup and overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carbonstream.core.library import FactorLibrary
from carbonstream.errors import FactorError

LIB = FactorLibrary.load()

# Hand-transcribed from shared/reference/accounting.md §6 (MEE/NBS tables, NDRC
# default fuel parameters, IPCC 2006 Vol. 2 Tables 1.2/1.4/2.3, IPCC GWP tables).
EXPECTED = {
    "cn.elec.national_avg.2021": 0.5568,
    "cn.elec.national_excl_mkt_nonfossil.2021": 0.5942,
    "cn.elec.national_avg.2022": 0.5366,
    "cn.elec.national_excl_mkt_nonfossil.2022": 0.5856,
    "cn.elec.national_avg.2023": 0.5306,
    "cn.elec.national_excl_mkt_nonfossil.2023": 0.6096,
    "cn.elec.national_fossil.2023": 0.8273,
    "cn.elec.region.north.2023": 0.6361,
    "cn.elec.region.east.2023": 0.5500,
    "cn.elec.region.southwest.2022": 0.2268,
    "cn.elec.prov.jiangsu.2023": 0.5827,
    "cn.elec.prov.yunnan.2022": 0.1073,
    "cn.heat.default": 0.11,
    "cn.fuel.natural_gas.ncv": 389.31,
    "cn.fuel.natural_gas.cc": 0.0153,
    "cn.fuel.natural_gas.of": 0.99,
    "cn.fuel.diesel.ncv": 42.652,
    "cn.fuel.diesel.cc": 0.0202,
    "cn.fuel.gasoline.ncv": 43.070,
    "cn.fuel.fuel_oil.ncv": 41.816,
    "cn.fuel.lpg.ncv": 50.179,
    "cn.fuel.raw_coal.ncv": 20.908,
    "cn.fuel.raw_coal.of": 0.94,
    "cn.fuel.coke.ncv": 28.435,
    "cn.fuel.coke.cc": 0.0295,
    "ipcc2006.natural_gas.co2": 56100,
    "ipcc2006.diesel.ncv": 43.0,
    "ipcc2006.diesel.co2": 74100,
    "ipcc2006.diesel.ch4.manufacturing": 3,
    "ipcc2006.diesel.n2o.manufacturing": 0.6,
    "ipcc2006.other_bituminous_coal.co2": 94600,
    "ipcc2006.coal.ch4.manufacturing": 10,
    "gwp.ar4.ch4": 25,
    "gwp.ar5.ch4": 28,
    "gwp.ar5.n2o": 265,
    "gwp.ar6.ch4": 27.9,
    "gwp.ar6.n2o": 273,
}


@pytest.mark.parametrize(("fid", "value"), EXPECTED.items())
def test_shipped_value_matches_the_source_table(fid: str, value: float) -> None:
    assert LIB.get(fid).value == value


@pytest.mark.parametrize(
    ("fuel", "derived"), [("natural_gas", 21.62188809), ("diesel", 3.095909637)]
)
def test_derived_fuel_factor_matches_its_parameters(fuel: str, derived: float) -> None:
    ncv = LIB.get(f"cn.fuel.{fuel}.ncv").value
    cc = LIB.get(f"cn.fuel.{fuel}.cc").value
    of = LIB.get(f"cn.fuel.{fuel}.of").value
    assert ncv * cc * of * 44 / 12 == pytest.approx(derived, rel=1e-9)
    assert LIB.get(f"cn.fuel.{fuel}.ef_derived").value == pytest.approx(derived, rel=1e-9)


def test_every_factor_names_its_source() -> None:
    for fid in LIB.ids():
        f = LIB.get(fid)
        assert f.source, fid
        assert f.verified in ("yes", "memory"), fid


def test_lookup_by_date_and_region() -> None:
    r = LIB.lookup("cn.grid.avg", "CN-East", dt.date(2022, 7, 1))
    assert r.factor.value == 0.5617 and r.fallback is None


def test_fallback_to_latest_data_year_is_named() -> None:
    r = LIB.lookup("cn.grid.avg", "CN", dt.date(2026, 3, 1))
    assert r.factor.data_year == 2023
    assert r.fallback is not None and "2026" in r.fallback and "data year 2023" in r.fallback


def test_region_tree() -> None:
    assert LIB.region_at_level("CN-JS", "regional") == "CN-East"
    assert LIB.region_at_level("CN-SC", "regional") == "CN-Southwest"
    assert LIB.region_at_level("CN-JS", "national") == "CN"
    with pytest.raises(FactorError, match="needs a finer region"):
        LIB.region_at_level("CN", "provincial")
    with pytest.raises(FactorError, match="unknown grid region"):
        LIB.region_at_level("XX", "national")


HEADER = "id,version,series,region,value,unit,gas,valid_from,valid_to,data_year,source\n"


def test_user_file_overrides_by_higher_version(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + "cn.fuel.natural_gas.ncv,2,,CN,380.0,GJ/10^4 Nm3,,,,,lab report 42\n")
    lib = FactorLibrary.load([f])
    assert lib.get("cn.fuel.natural_gas.ncv").value == 380.0
    assert lib.get("cn.fuel.natural_gas.ncv", version=1).value == 389.31


def test_same_id_and_version_twice_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + "cn.fuel.natural_gas.ncv,1,,CN,380.0,GJ/10^4 Nm3,,,,,lab\n")
    with pytest.raises(FactorError, match="defined twice"):
        FactorLibrary.load([f])


def test_bad_factor_row_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + "x,1,,CN,abc,tCO2/MWh,,,,,src\n")
    with pytest.raises(FactorError, match=r"mine.csv, line 2: could not convert"):
        FactorLibrary.load([f])
    f.write_text(HEADER + "x,1,,CN,1,furlongs,,,,,src\n")
    with pytest.raises(FactorError, match="unit 'furlongs' is not known"):
        FactorLibrary.load([f])


def test_unit_conversion_is_checked() -> None:
    f = LIB.get("cn.fuel.natural_gas.ncv")
    assert f.value_in("GJ/Nm3") == pytest.approx(0.038931)
    with pytest.raises(FactorError, match="convertible"):
        f.value_in("t/MWh")


# Values shipped from memory ([M]): pinned so a silent change fails, and marked so
# every result that uses one is flagged unverified_factor.
MEMORY = {
    "cn.fuel.washed_coal.ncv": 26.334,
    "cn.fuel.other_washed_coal.ncv": 12.545,
    "cn.fuel.briquettes.cc": 33.56,
    "cn.fuel.coke_oven_gas.ncv": 179.81,
    "cn.fuel.blast_furnace_gas.cc": 70.8,
    "cn.fuel.converter_gas.ncv": 84.0,
    "cn.fuel.kerosene.ncv": 43.070,
    "cn.fuel.petroleum_coke.ncv": 32.5,
    "cn.fuel.lng.ncv": 41.868,
    "cn.heat.steam_ref_enthalpy": 83.74,
    "cn.heat.water_cp": 4.1868,
    "ipcc2006.mobile.diesel.offroad_industry.ch4": 4.15,
    "ipcc2006.mobile.diesel.offroad_industry.n2o": 28.6,
    "ipcc2006.mobile.diesel.road.n2o": 3.9,
    "ipcc2006.mobile.gasoline.road_uncontrolled.ch4": 33,
    "ipcc2006.mobile.lpg.road.ch4": 62,
}


@pytest.mark.parametrize(("fid", "value"), MEMORY.items())
def test_values_from_memory_are_pinned_and_marked(fid: str, value: float) -> None:
    f = LIB.get(fid)
    assert f.value == value and f.verified == "memory"
    assert "memory" in f.source or f.id.startswith("cn.heat."), f.source


def test_every_builtin_fuel_finds_its_default_rows() -> None:
    from carbonstream.config.fuels import BUILTIN_FUELS, cn_default, ipcc_default

    for name, fuel in BUILTIN_FUELS.items():
        for role in ("ncv", "carbon_content", "oxidation"):
            fid = cn_default(fuel, role)
            assert fid is None or fid in LIB, (name, fid)
        for role in ("ncv", "co2", "ch4", "n2o"):
            fid = ipcc_default(fuel, role, None)
            assert fid is None or fid in LIB, (name, fid)
        assert fuel.cn is not None or fuel.ipcc is not None, name
