"""Traps in a plant file are errors at load (field path, reason, fix), never a silent
misreading. Each case is a configuration that used to load and give a wrong or
unexplained number."""

from __future__ import annotations

from typing import Any

import pytest

from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError
from tests.plants import meter, plant


def refused(meters: list[dict[str, Any]], **extra: Any) -> str:
    with pytest.raises(ConfigError) as err:
        plant(meters, **extra)
    return str(err.value)


def test_nm3_with_reference_conditions_is_refused_with_the_fix() -> None:
    # A 20 °C billing volume labelled Nm3 was taken as 0 °C: Scope 1 7.3 % too high
    # (293.15 / 273.15 = 1.0732). Now the load fails and says how to fix it.
    msg = refused(
        [
            meter(
                "gas",
                kind="fuel",
                fuel="natural_gas",
                unit="Nm3",
                reference_conditions={"temperature_c": 20},
            )
        ]
    )
    assert "meters[0] (id 'gas'):" in msg
    assert "unit 'Nm3' already means 0 °C and 101.325 kPa" in msg
    assert "use unit m3" in msg and "drop reference_conditions" in msg


def test_nm3_rate_with_reference_conditions_is_refused() -> None:
    msg = refused(
        [
            meter(
                "gas",
                kind="fuel",
                fuel="natural_gas",
                measures="rate",
                unit="Nm3/h",
                reference_conditions={"temperature_c": 20},
            )
        ]
    )
    assert "unit 'Nm3/h' already means 0 °C" in msg


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        # density on a meter that reads mass: nothing would be converted
        (
            meter("dg", kind="fuel", fuel="diesel", unit="t", density_kg_per_l=0.84),
            "density_kg_per_l only applies to a liquid fuel metered by volume",
        ),
        # density on a solid fuel
        (
            meter("coal", kind="fuel", fuel="raw_coal", unit="t", density_kg_per_l=1.3),
            "density_kg_per_l only applies",
        ),
        # reference conditions on a liquid
        (
            meter(
                "dg",
                kind="fuel",
                fuel="diesel",
                unit="L",
                reference_conditions={"temperature_c": 20},
            ),
            "reference_conditions only apply to gaseous fuels",
        ),
        # reference conditions on an electricity meter
        (
            meter("g", reference_conditions={"temperature_c": 20}),
            "'reference_conditions' is only for fuel meters",
        ),
        # steam enthalpy on a heat meter that reads GJ: it would be ignored
        (
            meter("h", kind="heat_import", unit="GJ", steam_enthalpy_kj_per_kg=2778),
            "steam_enthalpy_kj_per_kg / hot_water_temperature_c would be ignored",
        ),
        # steam enthalpy on a gas meter
        (
            meter(
                "gas", kind="fuel", fuel="natural_gas", unit="Nm3", steam_enthalpy_kj_per_kg=2778
            ),
            "'steam_enthalpy_kj_per_kg' is only for heat meters",
        ),
        # a vehicle without mobile combustion
        (
            meter("dg", kind="fuel", fuel="diesel", unit="L", vehicle="road"),
            "'vehicle' is only for combustion: mobile",
        ),
        (
            meter("dg", kind="fuel", fuel="diesel", unit="L", combustion="mobile"),
            "a mobile meter needs 'vehicle'",
        ),
    ],
)
def test_fields_that_would_be_ignored_are_refused(m: dict[str, Any], expected: str) -> None:
    assert expected in refused([m])


def test_steam_below_reference_enthalpy_is_refused_when_the_engine_builds() -> None:
    from carbonstream.core import Engine, FactorLibrary

    p = plant([meter("h", kind="heat_import", unit="t", steam_enthalpy_kj_per_kg=80)])
    with pytest.raises(ConfigError, match=r"not above the reference enthalpy 83.74 kJ/kg"):
        Engine(p, FactorLibrary.load())


def test_liquid_volume_without_a_density_fails_at_load() -> None:
    # Diesel has a library default (0.84 kg/L); gasoline has none: the file must give one.
    plant([meter("dg", kind="fuel", fuel="diesel", unit="L")])
    msg = refused([meter("pg", kind="fuel", fuel="gasoline", unit="L")])
    assert "meters[0] (id 'pg'): a liquid fuel in L needs density_kg_per_l" in msg


def test_unknown_fuel_names_the_choices() -> None:
    msg = refused([meter("x", kind="fuel", fuel="whale_oil", unit="t")])
    assert "meter 'x' names unknown fuel 'whale_oil'" in msg and "declare it under fuels" in msg


def test_fuel_without_defaults_for_the_method_is_refused() -> None:
    msg = refused([meter("cog", kind="fuel", fuel="coke_oven_gas", unit="Nm3", method="ipcc2006")])
    assert "no ipcc2006 defaults for coke_oven_gas for ch4, co2, n2o, ncv" in msg


def test_mobile_lpg_offroad_has_no_shipped_default() -> None:
    # IPCC 2006 Table 3.3.1 gives no LPG off-road row: the user must name the factors.
    from carbonstream.core import Engine, FactorLibrary

    p = plant(
        [
            meter(
                "fl",
                kind="fuel",
                fuel="lpg",
                unit="kg",
                method="ipcc2006",
                combustion="mobile",
                vehicle="offroad_industry",
            )
        ]
    )
    with pytest.raises(ConfigError) as err:
        Engine(p, FactorLibrary.load())
    msg = str(err.value)
    assert "ch4 factor 'ipcc2006.mobile.lpg.offroad_industry.ch4' is not in the factor" in msg
    assert "IPCC 2006 Vol. 2 Ch. 3 ships no lpg offroad_industry default" in msg


def test_declared_fuel_needs_the_roles_of_its_method() -> None:
    msg = refused(
        [meter("bio", kind="fuel", fuel="tyre_chips", unit="t")],
        fuels=[{"id": "tyre_chips", "state": "solid", "factors": {"ncv": "my.ncv"}}],
    )
    assert "no cn_gbt32150 defaults for tyre_chips for carbon_content, oxidation" in msg


def test_declared_fuel_may_not_shadow_a_builtin() -> None:
    with pytest.raises(ConfigError, match="fuel 'diesel' is built in"):
        validate(
            {
                "name": "p",
                "sites": [{"id": "s1"}],
                "meters": [meter("g")],
                "fuels": [{"id": "diesel", "state": "liquid", "factors": {"ncv": "x"}}],
            },
            Plant,
            "test",
        )


def test_declared_gas_fuel_checks_its_unit() -> None:
    msg = refused(
        [meter("bg", kind="fuel", fuel="biogas_mix", unit="t")],
        fuels=[
            {
                "id": "biogas_mix",
                "state": "gas",
                "factors": {"ncv": "a", "carbon_content": "b", "oxidation": "c"},
            }
        ],
    )
    assert "meter 'bg': unit 't' is not a gas volume unit" in msg
