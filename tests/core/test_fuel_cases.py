"""Hand-worked fuel cases for the open fuel list: mobile combustion by IPCC 2006
Vol. 2 Ch. 3 defaults, a fuel the plant declares with its own factors, and the
China defaults beyond raw coal. Each number is worked out in the comment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from carbonstream import report
from carbonstream.compute import Account, run
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, FactorLibrary, ReadingBatch
from carbonstream.core.library import parse_csv
from tests.plants import meter, ns, plant

LIB = FactorLibrary.load()
H0, H1 = "2026-03-02T08:00:00+08:00", "2026-03-02T09:00:00+08:00"


def account(p: Plant, rows: list[tuple[str, str, float]], lib: FactorLibrary = LIB) -> Account:
    engine = Engine(p, lib)
    index = engine.params.index
    batch = ReadingBatch.of(
        [index[m] for m, _, _ in rows], [ns(t) for _, t, _ in rows], [v for _, _, v in rows]
    )
    return run(engine, batch)


def total(acc: Account, col: str) -> float:
    return float(acc.column(col).sum())


def forklift(**kw: Any) -> dict[str, Any]:
    return meter(
        "fork",
        kind="fuel",
        fuel="diesel",
        unit="L",
        rating=200.0,
        method="ipcc2006",
        **kw,
    )


def test_diesel_forklift_by_ipcc_mobile_defaults() -> None:
    # 100 L of diesel in an hour, 0.84 kg/L (density.diesel) -> 0.084 t.
    # Energy: 0.084 t x 43.0 GJ/t (IPCC NCV 43.0 TJ/Gg) = 3.612 GJ = 3.612e-3 TJ.
    # CO2: 3.612e-3 TJ x 74 100 kg/TJ = 267.6492 kg = 0.2676492 t.
    # CH4, off-road industry (Vol. 2 Ch. 3 Table 3.3.1): 3.612e-3 x 4.15 = 0.0149898 kg
    #   = 1.49898e-5 t -> x 28 (AR5) = 4.197144e-4 tCO2e.
    # N2O: 3.612e-3 x 28.6 = 0.1033032 kg = 1.033032e-4 t -> x 265 = 0.027375348 tCO2e.
    # Scope 1 = 0.2676492 + 0.0004197144 + 0.027375348 = 0.2954442624 tCO2e.
    p = plant([forklift(combustion="mobile", vehicle="offroad_industry")])
    acc = account(p, [("fork", H0, 1000.0), ("fork", H1, 1100.0)])
    assert total(acc, "scope1_co2_t") == pytest.approx(0.2676492, rel=1e-12)
    assert total(acc, "scope1_ch4_t") == pytest.approx(1.49898e-5, rel=1e-12)
    assert total(acc, "scope1_n2o_t") == pytest.approx(1.033032e-4, rel=1e-12)
    assert total(acc, "scope1_t") == pytest.approx(0.2954442624, rel=1e-12)
    lin = next(x for x in acc.engine.lineages if x.meter == "fork")
    assert lin.method == "ipcc2006 mobile (offroad_industry)"
    ch4 = next(u for u in lin.factors if u.role == "ch4")
    assert ch4.factor_id == "ipcc2006.mobile.diesel.offroad_industry.ch4"
    assert (ch4.source_value, ch4.source_unit, ch4.verified) == (4.15, "kg/TJ", "memory")
    assert ch4.basis.startswith("default for diesel, mobile offroad_industry:")
    # JSON: gas masses and their CO2e side by side.
    rep = json.loads(report.to_json(report.build(acc)))
    m = rep["meters"][0]
    assert (m["combustion"], m["vehicle"]) == ("mobile", "offroad_industry")
    assert m["ch4_co2e_t"] == pytest.approx(4.197144e-4, rel=1e-12)
    assert m["n2o_co2e_t"] == pytest.approx(0.027375348, rel=1e-12)
    assert m["energy_gj"] == pytest.approx(3.612, rel=1e-12)
    assert (m["quantity_meter_unit"], m["meter_unit"]) == (pytest.approx(100.0), "L")


def test_the_same_forklift_as_stationary_combustion_understated_n2o() -> None:
    # Stationary Table 2.3 (3 and 0.6 kg/TJ): CH4 3.612e-3 x 3 = 1.0836e-5 t,
    # N2O 3.612e-3 x 0.6 = 2.1672e-6 t; CO2e = 0.2676492 + 1.0836e-5 x 28
    # + 2.1672e-6 x 265 = 0.2676492 + 0.000303408 + 0.000574308 = 0.268526916 t:
    # 0.0269 t (9 %) less than the mobile figure above.
    acc = account(plant([forklift()]), [("fork", H0, 1000.0), ("fork", H1, 1100.0)])
    assert total(acc, "scope1_t") == pytest.approx(0.268526916, rel=1e-12)


def test_user_declared_fuel_by_china_method() -> None:
    # Tyre-derived fuel declared by the plant: NCV 31.4 GJ/t, carbon content 22.5 tC/TJ,
    # oxidation 97 % (lab report, the plant's own factor file).
    # 2 t burnt: 2 x 31.4 = 62.8 GJ; CO2 = 62.8 x 0.0225 x 0.97 x 44/12
    #   62.8 x 0.0225 = 1.413 tC; x 0.97 = 1.37061 tC; x 44/12 = 5.02557 tCO2.
    lib = LIB.extended(
        parse_csv(
            "id,version,value,unit,gas,valid_from,valid_to,source\n"
            "lab.tdf.ncv,1,31.4,GJ/t,,2026-01-01,2026-12-31,lab report 2026-01\n"
            "lab.tdf.cc,1,22.5,tC/TJ,CO2,2026-01-01,2026-12-31,lab report 2026-01\n"
            "lab.tdf.of,1,97,%,CO2,,,supplier sheet\n",
            "plant-factors.csv",
        )
    )
    p = plant(
        [meter("tdf", kind="fuel", fuel="tyre_chips", unit="kg", rating=5000.0)],
        fuels=[
            {
                "id": "tyre_chips",
                "name": "Tyre-derived fuel",
                "state": "solid",
                "factors": {
                    "ncv": "lab.tdf.ncv",
                    "carbon_content": "lab.tdf.cc",
                    "oxidation": "lab.tdf.of",
                },
            }
        ],
    )
    acc = account(p, [("tdf", H0, 10_000.0), ("tdf", H1, 12_000.0)], lib)
    assert total(acc, "scope1_t") == pytest.approx(5.02557, rel=1e-12)
    lin = next(x for x in acc.engine.lineages if x.meter == "tdf")
    cc = next(u for u in lin.factors if u.role == "carbon_content")
    assert (cc.source_value, cc.source_unit, cc.value, cc.unit) == (22.5, "tC/TJ", 0.0225, "tC/GJ")
    assert cc.basis.startswith("declared fuel tyre_chips factors.carbon_content: lab.tdf.cc@v1")
    assert "activity: kg -> t: x 0.001" in lin.notes


def test_user_declared_fuel_by_ipcc_per_gas_factors() -> None:
    # A fossil off-gas blend declared by volume with per-gas factors:
    # NCV 20 MJ/Nm3, CO2 55 000 kg/TJ, CH4 5 kg/TJ, N2O 0.1 kg/TJ (supplier sheet).
    # 1 000 Nm3 -> 20 GJ = 0.02 TJ: CO2 1.1 t, CH4 0.1 kg, N2O 0.002 kg;
    # AR5 CO2e = 1.1 + 1e-4 x 28 + 2e-6 x 265 = 1.1 + 0.0028 + 0.00053 = 1.10333 t.
    lib = LIB.extended(
        parse_csv(
            "id,version,value,unit,gas,source\n"
            "s.lfg.ncv,1,20,MJ/Nm3,,supplier sheet\n"
            "s.lfg.co2,1,55000,kg/TJ,CO2,supplier sheet\n"
            "s.lfg.ch4,1,5,kg/TJ,CH4,supplier sheet\n"
            "s.lfg.n2o,1,0.1,kg/TJ,N2O,supplier sheet\n",
            "plant-factors.csv",
        )
    )
    p = plant(
        [meter("lfg", kind="fuel", fuel="lfg_blend", unit="Nm3", method="ipcc2006")],
        fuels=[
            {
                "id": "lfg_blend",
                "state": "gas",
                "factors": {
                    "ncv": "s.lfg.ncv",
                    "co2": "s.lfg.co2",
                    "ch4": "s.lfg.ch4",
                    "n2o": "s.lfg.n2o",
                },
            }
        ],
    )
    acc = account(p, [("lfg", H0, 0.0), ("lfg", H1, 1000.0)], lib)
    assert total(acc, "scope1_co2_t") == pytest.approx(1.1, rel=1e-12)
    assert total(acc, "scope1_t") == pytest.approx(1.10333, rel=1e-12)


def test_declared_fuel_with_a_factor_missing_from_the_library_fails_at_start() -> None:
    from carbonstream.errors import ConfigError

    p = plant(
        [meter("x", kind="fuel", fuel="mystery", unit="t")],
        fuels=[
            {
                "id": "mystery",
                "state": "solid",
                "factors": {
                    "ncv": "no.such.ncv",
                    "carbon_content": "cn.fuel.raw_coal.cc",
                    "oxidation": "cn.fuel.raw_coal.of",
                },
            }
        ],
    )
    with pytest.raises(ConfigError, match=r"ncv factor 'no.such.ncv' is not in the factor library"):
        Engine(p, LIB)


def test_coke_oven_gas_china_default_is_volumetric_and_marked_memory() -> None:
    # 10 000 Nm3 of coke-oven gas: 179.81 GJ/10^4 Nm3 -> 179.81 GJ;
    # CO2 = 179.81 x 0.01358 = 2.4418198 tC; x 0.99 = 2.417401602 tC;
    # x 44/12 = 8.863805874 tCO2 (shipped [M]: unverified).
    acc = account(
        plant([meter("cog", kind="fuel", fuel="coke_oven_gas", unit="Nm3", rating=20_000.0)]),
        [("cog", H0, 0.0), ("cog", H1, 10_000.0)],
    )
    assert total(acc, "scope1_t") == pytest.approx(8.863805874, rel=1e-9)
    lin = next(x for x in acc.engine.lineages if x.meter == "cog")
    assert all(u.verified == "memory" for u in lin.factors)
    assert lin.flags & 256  # UNVERIFIED_FACTOR
