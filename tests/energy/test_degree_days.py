"""Degree days as baseline drivers: a temperature meter (°C, instantaneous, averaged per
bucket), HDD/CDD with configured bases, checked by hand and on a simulated plant whose
HVAC load follows the outdoor air."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from carbonstream.compute import concat_parts, run
from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, FactorLibrary, ReadingBatch
from carbonstream.core import baseline as bl
from carbonstream.core.energy import for_plant
from carbonstream.core.reference import account
from carbonstream.energy.baselines import Temperatures, assess
from carbonstream.energy.tce import Lines
from carbonstream.errors import ConfigError
from tests.energy.simplant import (
    COOLING_BASE_C,
    DAYS,
    HVAC_KW_PER_DEGC,
    START,
    hourly_lines,
    hourly_temperatures,
    plant_data,
    run_sim,
)

# slow: simulates a plant for weeks (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

NS = 1_000_000_000
ZONE = dt.timezone(dt.timedelta(hours=8))


def test_mean_temperature_and_degree_days_by_hand() -> None:
    # 240 °C·h over a whole day: 10 °C; 190 °C·h over 19 h (79 % of it): 10 °C;
    # 120 °C·h over 12 h (50 %): too little of the day for its mean.
    got = bl.mean_temperature(np.array([240.0, 190.0, 120.0]), np.array([24.0, 19.0, 12.0]), 24)
    assert got[:2] == pytest.approx([10.0, 10.0]) and np.isnan(got[2])
    t = np.array([10.0, 20.0, 25.0, np.nan])
    hdd = bl.degree_days(t, 18.0, heating=True, days=1.0)
    cdd = bl.degree_days(t, 22.0, heating=False, days=1.0)
    assert hdd[:3] == pytest.approx([8.0, 0.0, 0.0]) and np.isnan(hdd[3])
    assert cdd[:3] == pytest.approx([0.0, 0.0, 3.0]) and np.isnan(cdd[3])
    # An hour at 30 °C against a cooling base of 18 °C: 12 degree-hours = 0.5 degree days.
    assert bl.degree_days(np.array([30.0]), 18.0, heating=False, days=1 / 24) == pytest.approx(
        [0.5]
    )


def _daily_plant(**dd: Any) -> Plant:
    def m(id: str, kind: str, unit: str, **kw: Any) -> dict[str, Any]:
        return {"id": id, "site": "a", "kind": kind, "measures": "counter", "unit": unit} | kw

    return validate(
        {
            "name": "p",
            "timezone": "Asia/Shanghai",
            "sites": [{"id": "a"}],
            "meters": [
                m("grid", "grid_import", "MWh", rating=100),
                m("out", "production", "t", rating=100),
                m("air", "temperature", "degC", rating=60) | {"measures": "rate"},
            ],
            "energy": {
                "baseline": {
                    "start": "2026-01-01",
                    "end": "2026-01-14",
                    "interval": "day",
                    "degree_days": [{"site": "a", "meter": "air"} | dd],
                }
            },
        },
        Plant,
        "p",
    )


def test_daily_baseline_on_production_and_hdd_by_hand() -> None:
    # Baseline days 1-14: production p = 10 + (3d mod 7) t, mean air T = 20 - d °C, heating
    # base 18 °C -> HDD = max(0, d - 2); energy (tce) = 1 + 0.5 p + 0.2 HDD exactly.
    # The fit gives back c = 1, 0.5 tce/t, 0.2 tce/HDD with R² = 1.
    # Reporting day 15: p = 10 t, T = 8 °C -> HDD 10 -> expected 1 + 5 + 2 = 8 tce;
    # it used 7 tce: 1 tce saved (12.5 %).
    plant = _daily_plant(heating_base_c=18)
    ep = for_plant(plant, ["MWh", "t", "degC*h"])
    days = np.arange(1, 16)
    start = [int(dt.datetime(2026, 1, int(d), tzinfo=ZONE).timestamp()) * NS for d in days]
    p = np.where(days < 15, 10.0 + (3 * days) % 7, 10.0)
    temp = np.where(days < 15, 20.0 - days, 8.0)
    hdd = np.maximum(18.0 - temp, 0)
    tce = np.where(days < 15, 1 + 0.5 * p + 0.2 * hdd, 7.0)
    lines = Lines(
        meter=np.repeat([0, 1], 15).astype(np.intp),
        bucket=np.array(start * 2, dtype=np.int64),
        quantity=np.concatenate([tce / 0.1229, p]),  # grid MWh at 0.1229 tce/MWh
        green_site=np.empty(0, dtype=np.intp),
        green_bucket=np.empty(0, dtype=np.int64),
        green_mwh=np.empty(0),
    )
    temps = Temperatures(np.full(15, 2, dtype=np.intp), np.array(start, dtype=np.int64), temp)
    [site] = assess(ep, lines, np.zeros(3), start[14], start[14] + 86_400 * NS, temps)
    model = site["model"]
    assert model["intercept_tce"] == pytest.approx(1.0)
    assert model["tce_per_unit"] == pytest.approx(0.5)
    assert model["tce_per_hdd"] == pytest.approx(0.2) and model["tce_per_cdd"] is None
    assert model["r2"] == pytest.approx(1.0) and model["points"] == 14
    assert site["degree_days"]["meter"] == "air" and site["degree_days"]["heating_base_c"] == 18
    rep = site["reporting"]
    assert rep["expected_tce"] == pytest.approx(8.0) and rep["actual_tce"] == pytest.approx(7.0)
    assert rep["savings_tce"] == pytest.approx(1.0) and rep["savings_pct"] == pytest.approx(12.5)
    # Production alone cannot explain the HDD part: a worse fit, reported beside it.
    assert site["without_degree_days"]["r2"] < 0.9


def test_a_day_without_a_temperature_is_not_a_point_and_says_so() -> None:
    plant = _daily_plant(cooling_base_c=22)
    ep = for_plant(plant, ["MWh", "t", "degC*h"])
    start = [int(dt.datetime(2026, 1, d, tzinfo=ZONE).timestamp()) * NS for d in range(1, 17)]
    lines = Lines(
        meter=np.repeat([0, 1], 16).astype(np.intp),
        bucket=np.array(start * 2, dtype=np.int64),
        quantity=np.concatenate([np.linspace(50, 80, 16), np.linspace(10, 40, 16)]),
        green_site=np.empty(0, dtype=np.intp),
        green_bucket=np.empty(0, dtype=np.int64),
        green_mwh=np.empty(0),
    )
    # No mean for day 3 (baseline) nor day 16 (reporting).
    known = [i for i in range(16) if i not in (2, 15)]
    temps = Temperatures(
        np.full(len(known), 2, dtype=np.intp),
        np.array([start[i] for i in known], dtype=np.int64),
        np.linspace(15, 30, 16)[known],
    )
    [site] = assess(ep, lines, np.zeros(3), start[14], start[15] + 86_400 * NS, temps)
    assert site["model"]["points"] == 13  # 14 baseline days, one without a temperature
    assert site["reporting"]["points"] == 2 and site["reporting"]["points_without_drivers"] == 1
    assert site["cusum"][1]["expected_tce"] is None


@pytest.mark.parametrize(
    ("dd", "field", "fix"),
    [
        ({"heating_base_c": 64}, "heating_base_c", "usually 15.5-18"),
        ({"cooling_base_c": -3}, "cooling_base_c", "usually 18-24"),
        ({}, "degree_days[0]", "heating_base_c, cooling_base_c or both"),
        ({"heating_base_c": 20, "cooling_base_c": 16}, "degree_days[0]", "swap them"),
        ({"meter": "grid", "heating_base_c": 18}, "degree_days[0].meter", "kind temperature"),
        ({"meter": "nope", "heating_base_c": 18}, "degree_days[0].meter", "unknown meter"),
    ],
)
def test_bad_degree_days_fail_at_load_naming_field_and_fix(
    dd: dict[str, Any], field: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as e:
        _daily_plant(**dd)
    text = str(e.value)
    assert field in text and fix in text, text


def test_a_temperature_meter_is_a_rate_in_degrees() -> None:
    data = plant_data(weather=True)
    outdoor = next(m for m in data["meters"] if m["id"] == "outdoor")
    outdoor["measures"] = "counter"
    with pytest.raises(ConfigError, match="measures: rate"):
        validate(data, Plant, "p")
    outdoor["measures"], outdoor["unit"] = "rate", "K"
    with pytest.raises(ConfigError, match="not a temperature unit"):
        validate(data, Plant, "p")


def test_frost_is_weather_not_a_fault_and_counts_in_no_column() -> None:
    # -10 °C then -12 °C a minute apart: -11 °C x 1/60 h = -0.18333 degree-hours.
    # -70 °C is beyond the sensor's rating (60, tolerance 10 %): implausible, not counted.
    plant = validate(plant_data(weather=True), Plant, "p")
    i = [m.id for m in plant.meters].index("outdoor")
    t0 = int(START.timestamp()) * NS
    ts = [t0, t0 + 60 * NS, t0 + 120 * NS, t0 + 180 * NS]
    values = [-10.0, -12.0, -70.0, -12.0]
    engine = Engine(plant, FactorLibrary.load())
    acc = run(engine, ReadingBatch.of([i] * 4, ts, values))
    qty = concat_parts(acc.line_qty, np.float64)
    assert qty.sum() == pytest.approx(-11.0 / 60)
    assert concat_parts(acc.line_co2e, np.float64).sum() == 0.0
    ref = account(
        plant, FactorLibrary.load(), [("outdoor", t, v, 0) for t, v in zip(ts, values, strict=True)]
    )
    assert ref.meter_quantity["outdoor"] == pytest.approx(-11.0 / 60)
    assert all(v == 0 for row in ref.sites.values() for v in row.values())


@pytest.fixture(scope="module")
def weather_backtest() -> dict[str, dict[str, Any]]:
    s = run_sim(clean=True, weather=True)
    lines, ef = hourly_lines(s)
    lo = int((START + dt.timedelta(days=14)).timestamp()) * NS
    hi = int((START + dt.timedelta(days=DAYS)).timestamp()) * NS
    ep = for_plant(s.plant, s.acc.engine.params.canonical_unit)
    return {u["id"]: u for u in assess(ep, lines, ef, lo, hi, hourly_temperatures(s))}


def test_backtest_with_a_weather_load_reports_r2_with_and_without_degree_days(
    weather_backtest: dict[str, dict[str, Any]],
) -> None:
    site = weather_backtest["site:hall"]
    with_dd, without = site["model"], site["without_degree_days"]
    print(
        f"site:hall hourly, CDD base {COOLING_BASE_C} °C: with degree days R2 "
        f"{with_dd['r2']:.4f}, CV(RMSE) {with_dd['cv_rmse_pct']:.2f} %; without R2 "
        f"{without['r2']:.4f}, CV(RMSE) {without['cv_rmse_pct']:.2f} %"
    )
    assert with_dd["points"] == without["points"] == 14 * 24
    assert with_dd["r2"] > 0.99 and with_dd["cv_rmse_pct"] < 3.0
    assert without["r2"] < with_dd["r2"] - 0.01
    assert without["cv_rmse_pct"] > 2 * with_dd["cv_rmse_pct"]
    # The planted HVAC: 40 kW per °C above 18 °C = 0.96 MWh per degree day, x 0.1229.
    planted = HVAC_KW_PER_DEGC * 24 / 1000 * 0.1229
    assert with_dd["tce_per_cdd"] == pytest.approx(planted, rel=0.05)
    assert site["valid"] and abs(site["reporting"]["savings_pct"]) < 1.0
    assert site["reporting"]["points_without_drivers"] == 0
    # The use without the HVAC load: degree days explain nothing there.
    hall = weather_backtest["hall"]
    assert hall["model"]["r2"] == pytest.approx(hall["without_degree_days"]["r2"], abs=1e-3)
