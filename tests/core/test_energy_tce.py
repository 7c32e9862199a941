"""Comprehensive energy in tce (GB/T 2589): hand-worked cases, each number worked out
in the comment, run through the same engine and report block as `carbonstream compute`."""

from __future__ import annotations

from typing import Any

import pytest

from carbonstream import report
from carbonstream.config.plant import Plant
from carbonstream.core import energy
from carbonstream.errors import FactorError
from tests.core.test_reference_cases import account
from tests.plants import meter, plant

H0, H1 = "2022-06-01T08:00:00+08:00", "2022-06-01T09:00:00+08:00"


def block(p: Plant, rows: list[tuple[str, str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = report.build(account(p, rows), "day")["energy"]
    return out


def test_electricity_equivalent_and_equal_value() -> None:
    # 1 000 kWh in 2022.
    # Equivalent value: 1 000 kWh x 0.1229 kgce/kWh = 122.9 kgce = 0.1229 tce.
    # Equal value: the 2022 power-supply coal rate, 300.7 gce/kWh (library, marked memory):
    # 1 000 kWh x 300.7 g = 300.7 kgce = 0.3007 tce.
    p = plant([meter("g", rating=2000)])
    e = block(p, [("g", H0, 0.0), ("g", H1, 1000.0)])
    t = e["totals"]["plant"]
    assert t["electricity_mwh"] == pytest.approx(1.0)
    assert t["total_tce"] == pytest.approx(0.1229, rel=1e-12)
    assert t["total_equal_tce"] == pytest.approx(0.3007, rel=1e-12)
    (ev,) = e["equal_values"]
    assert ev["year"] == 2022 and ev["factor_id"] == "cn.power_supply_coal_rate.2022"
    assert ev["verified"] == "memory" and ev["fallback"] is None
    assert "cn.power_supply_coal_rate.2022" in e["unverified"]


def test_equal_value_of_a_year_without_data_falls_back_and_says_so() -> None:
    # 2026 has no coal rate in the library: 2022's (300.7 gce/kWh), named in the fallback:
    # 900 kWh x 300.7 g = 0.27063 tce.
    p = plant([meter("g")])
    rows = [("g", "2026-06-01T08:00:00+08:00", 0.0), ("g", "2026-06-01T09:00:00+08:00", 900.0)]
    e = block(p, rows)
    assert e["totals"]["plant"]["total_equal_tce"] == pytest.approx(0.9 * 0.3007, rel=1e-12)
    assert "used data year 2022" in e["equal_values"][0]["fallback"]


def test_equal_value_of_the_previous_year() -> None:
    # equal_value_year: previous -> 2022 activity takes 2021's 302.5 gce/kWh:
    # 1 MWh x 0.3025 tce/MWh = 0.3025 tce.
    p = plant([meter("g")], energy={"equal_value_year": "previous"})
    e = block(p, [("g", H0, 0.0), ("g", H1, 1000.0)])
    assert e["totals"]["plant"]["total_equal_tce"] == pytest.approx(0.3025, rel=1e-12)


def test_natural_gas() -> None:
    # 1 000 Nm3 of gas-field natural gas x 1.2143 kgce/m3 = 1 214.3 kgce = 1.2143 tce;
    # oil-field gas (energy.natural_gas: oil_field): 1 000 x 1.3300 = 1.33 tce.
    gas = meter("gas", "fuel", fuel="natural_gas", unit="Nm3", rating=5000)
    rows = [("gas", H0, 0.0), ("gas", H1, 1000.0)]
    assert block(plant([gas]), rows)["totals"]["plant"]["fuel_tce"] == pytest.approx(1.2143)
    oil = plant([gas], energy={"natural_gas": "oil_field"})
    t = block(oil, rows)["totals"]["plant"]
    assert t["fuel_tce"] == pytest.approx(1.33) and t["total_tce"] == pytest.approx(1.33)
    # A gas volume billed at 20 °C is converted to Nm3 first: 1 000 m3 x 273.15/293.15
    # = 931.7755 Nm3 x 1.2143 kgce = 1 131.4700 kgce = 1.131470 tce.
    billed = meter(
        "gas",
        "fuel",
        fuel="natural_gas",
        unit="m3",
        rating=5000,
        reference_conditions={"temperature_c": 20, "pressure_kpa": 101.325},
    )
    got = block(plant([billed]), rows)["totals"]["plant"]["fuel_tce"]
    assert got == pytest.approx(1000 * 273.15 / 293.15 * 1.2143e-3, rel=1e-12)


def test_diesel() -> None:
    # 500 L of diesel at the default 0.84 kg/L = 420 kg x 1.4571 kgce/kg = 611.982 kgce
    # = 0.611982 tce.
    d = meter("d", "fuel", fuel="diesel", unit="L", rating=1000)
    t = block(plant([d]), [("d", H0, 0.0), ("d", H1, 500.0)])["totals"]["plant"]
    assert t["fuel_tce"] == pytest.approx(0.611982, rel=1e-12)


def test_steam_by_metered_heat() -> None:
    # 10 t of steam at 2 778 kJ/kg: heat = (2 778 - 83.74 kJ/kg, feed water at 20 °C)
    # x 10 000 kg = 26 942 600 kJ = 26.9426 GJ; x 0.03412 tce/GJ = 0.919281512 tce.
    # (The flat 0.1286 kgce/kg would give 1.286 tce: the reference says to use the heat.)
    s = meter("steam", "heat_import", unit="t", rating=20, steam_enthalpy_kj_per_kg=2778)
    t = block(plant([s]), [("steam", H0, 0.0), ("steam", H1, 10.0)])["totals"]["plant"]
    assert t["heat_tce"] == pytest.approx(0.919281512, rel=1e-12)
    assert t["total_tce"] == t["total_equal_tce"]  # no electricity: both ways agree


def test_plant_total_keeps_onsite_pv_and_green_power_apart() -> None:
    # Site s1: grid 2 000 kWh, gas 100 Nm3, PV 800 kWh generated (300 kWh of it exported).
    # Site s2: steam 1 t at 2 778 kJ/kg; production 4 t.
    #   grid   2 MWh x 0.1229        = 0.2458 tce
    #   gas    100 Nm3 x 1.2143e-3   = 0.12143 tce
    #   steam  2.69426 GJ x 0.03412  = 0.0919281512 tce
    #   total (PV excluded)          = 0.4591581512 tce
    # PV 0.8 MWh x 0.1229 = 0.09832 tce shown apart (onsite_renewable_tce), not in the
    # total; the 0.3 MWh export (0.03687 tce) is shown and not deducted.
    # Equal value: grid 2 MWh x 0.3007 = 0.6014; total = 0.6014 + 0.12143 + 0.0919281512.
    # A GEC of 1 MWh allocated to s1: green 0.1229 tce inside the total;
    # total_excl_green = 0.4591581512 - 0.1229 = 0.3362581512 tce.
    p = plant(
        [
            meter("g", rating=3000),
            meter("gas", "fuel", fuel="natural_gas", unit="Nm3", rating=5000),
            meter("pv", "onsite_generation"),
            meter("x", "grid_export"),
            meter(
                "steam",
                "heat_import",
                site="s2",
                unit="t",
                rating=20,
                steam_enthalpy_kj_per_kg=2778,
            ),
            meter("out", "production", site="s2", unit="t", rating=50),
        ],
        instruments=[
            {
                "id": "gec1",
                "type": "gec",
                "site": "s1",
                "mwh": 1,
                "generation": {"start": "2022-06-01", "end": "2022-06-30"},
            }
        ],
    )
    rows = [
        ("g", H0, 0.0), ("g", H1, 2000.0),
        ("gas", H0, 0.0), ("gas", H1, 100.0),
        ("pv", H0, 0.0), ("pv", H1, 800.0),
        ("x", H0, 0.0), ("x", H1, 300.0),
        ("steam", H0, 0.0), ("steam", H1, 1.0),
        ("out", H0, 0.0), ("out", H1, 4.0),
    ]  # fmt: skip
    e = block(p, rows)
    t = e["totals"]["plant"]
    assert t["total_tce"] == pytest.approx(0.4591581512, rel=1e-12)
    assert t["total_equal_tce"] == pytest.approx(0.6014 + 0.12143 + 0.0919281512, rel=1e-12)
    assert t["onsite_renewable_tce"] == pytest.approx(0.09832, rel=1e-12)
    assert t["onsite_generation_mwh"] == pytest.approx(0.8)
    assert t["grid_export_tce"] == pytest.approx(0.03687, rel=1e-12)
    assert t["green_power_mwh"] == pytest.approx(1.0)
    assert t["total_excl_green_tce"] == pytest.approx(0.3362581512, rel=1e-12)
    s1, s2 = e["totals"]["site"]["s1"], e["totals"]["site"]["s2"]
    assert s1["total_tce"] + s2["total_tce"] == pytest.approx(t["total_tce"], rel=1e-12)
    # Intensity of s2: 0.0919281512 tce / 4 t = 0.0229820378 tce/t; s1 has no production.
    assert s2["tce_per_unit"] == pytest.approx(0.0229820378, rel=1e-12)
    assert s2["production_unit"] == "t" and s1["tce_per_unit"] is None
    # Per meter: PV has its own tce (0.09832) but adds nothing to total_tce.
    pv = e["totals"]["meter"]["pv"]
    assert pv["tce"] == pytest.approx(0.09832) and pv["total_tce"] == 0.0
    assert {c["meter"]: c["factor_id"] for c in e["coefficients"]}["gas"] == (
        "gbt2589.natural_gas.gas_field"
    )


def test_heat_export_is_deducted() -> None:
    # Boiler gas 1 000 Nm3 (1.2143 tce) and 5 GJ of heat sold (5 x 0.03412 = 0.1706 tce):
    # total = 1.2143 - 0.1706 = 1.0437 tce.
    p = plant(
        [
            meter("gas", "fuel", fuel="natural_gas", unit="Nm3", rating=5000),
            meter("hx", "heat_export", unit="GJ", rating=50),
        ]
    )
    rows = [("gas", H0, 0.0), ("gas", H1, 1000.0), ("hx", H0, 0.0), ("hx", H1, 5.0)]
    assert block(p, rows)["totals"]["plant"]["total_tce"] == pytest.approx(1.0437, rel=1e-12)


def test_a_fuel_without_a_coefficient_fails_naming_the_fix() -> None:
    # anthracite has IPCC defaults only (no China ones): the plant names the method
    p = plant([meter("c", "fuel", fuel="anthracite", unit="t", rating=10, method="ipcc2006")])
    with pytest.raises(FactorError, match=r"energy\.coefficients"):
        energy.for_plant(p, ["t"])


def test_a_coefficient_in_the_wrong_unit_is_refused() -> None:
    p = plant(
        [meter("gas", "fuel", fuel="natural_gas", unit="Nm3", rating=5000)],
        energy={"coefficients": {"gas": "gbt2589.diesel"}},
    )
    with pytest.raises(FactorError, match="kgce/kg"):
        energy.for_plant(p, ["Nm3"])


def test_energy_section_names_are_checked_at_load() -> None:
    from carbonstream.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown meter 'nope'"):
        plant([meter("g")], energy={"coefficients": {"nope": "gbt2589.diesel"}})


def test_opportunity_reference_must_fit_in_the_window() -> None:
    from carbonstream.errors import ConfigError

    with pytest.raises(ConfigError, match="reference_days"):
        plant([meter("g")], energy={"opportunities": {"window_days": 14, "reference_days": 14}})
