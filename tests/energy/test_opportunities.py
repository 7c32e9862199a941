"""Opportunities on a simulated plant: the planted weekend idle load and drift are found on
the right meters with tCO2e per year within 5 % of what was planted; the clean control
plant (same meters, same noise, nothing planted) yields no opportunity at all."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from carbonstream.config.energy import ProductionCalendar
from carbonstream.core import opportunities as det
from carbonstream.core.energy import for_plant
from carbonstream.energy.opportunities import find
from tests.energy.simplant import (
    CHILLER_DRIFT,
    COMPRESSOR_WEEKEND_KW,
    DAYS,
    Sim,
    run_sim,
)


@pytest.fixture(scope="module")
def planted() -> Sim:
    return run_sim(clean=False)


@pytest.fixture(scope="module")
def clean() -> Sim:
    return run_sim(clean=True)


def found(s: Sim) -> list[dict[str, Any]]:
    return find(for_plant(s.plant, s.acc.engine.params.canonical_unit), s.window)


def ef(s: Sim, meter: str) -> float:
    k = [s.plant.meters[i].id for i in s.window.meters].index(meter)
    return float(s.window.ef[k])


def test_weekend_idle_load_is_found_on_the_compressor(planted: Sim, clean: Sim) -> None:
    ops = {(o["kind"], o["meter"]): o for o in found(planted)}
    o = ops[("idle_load", "compressor")]
    # Planted: 40 kW x 48 weekend hours x 4 weekends = 7.68 MWh in the 672-hour window;
    # the simulations share their noise, so planted - clean is exactly that.
    planted_mwh = planted.meter_energy("compressor") - clean.meter_energy("compressor")
    assert planted_mwh == pytest.approx(COMPRESSOR_WEEKEND_KW * 48 * 4 / 1000, rel=1e-6)
    want_t = planted_mwh * 8760 / (DAYS * 24) * ef(planted, "compressor")
    assert o["tco2e_per_year"] == pytest.approx(want_t, rel=0.05)
    assert o["hours"] == "sat 00:00-24:00, sun 00:00-24:00"
    assert o["flagged_hours"] == 4 * 48
    # 0.8 yuan/kWh: cost = MWh/yr x 800.
    assert o["cost_yuan_per_year"] == pytest.approx(o["energy_per_year"] * 800)
    assert o["evidence"].startswith("/v1/meters/compressor/emissions?bucket=hour&start=")
    assert o["title"]["zh-CN"] == "非生产时段空载能耗" and o["title"]["en"]


def test_drift_is_found_on_the_chiller(planted: Sim, clean: Sim) -> None:
    ops = {(o["kind"], o["meter"]): o for o in found(planted)}
    o = ops[("drift", "chiller")]
    # Planted: +20 % of the chiller's load from day 16 (2-day ramp): the rate it runs at
    # now is the last week's planted excess, x 52.14 weeks.
    last = DAYS * 24 - 168
    week = planted.meter_energy("chiller", last) - clean.meter_energy("chiller", last)
    assert week == pytest.approx(CHILLER_DRIFT * clean.meter_energy("chiller", last), rel=0.02)
    want_t = week * 8760 / 168 * ef(planted, "chiller")
    assert o["tco2e_per_year"] == pytest.approx(want_t, rel=0.05)
    began = dt.datetime.fromisoformat(o["hours"].removeprefix("≥ "))
    assert abs((began - dt.datetime.fromisoformat("2026-10-21T00:00:00+08:00")).days) <= 1
    # No other meter drifts or idles: only the planted ones (and the movable batch's
    # demand peak, a cost, not an emission).
    kinds = {(o["kind"], o["meter"]) for o in found(planted)}
    assert kinds == {
        ("idle_load", "compressor"),
        ("drift", "chiller"),
        ("flexible_peak", "furnace"),
    }


def test_ranked_by_tco2e_per_year(planted: Sim) -> None:
    ops = found(planted)
    assert [o["rank"] for o in ops] == list(range(1, len(ops) + 1))
    t = [o["tco2e_per_year"] for o in ops]
    assert t == sorted(t, reverse=True)


def test_movable_batch_in_the_peak_saves_demand(planted: Sim) -> None:
    (o,) = [o for o in found(planted) if o["kind"] == "flexible_peak"]
    assert o["meter"] == "furnace" and o["tco2e_per_year"] == 0
    # At most the batch's 400 kW; 40 yuan/kW-month x 12.
    assert 0 < o["detail"]["billed_kw_saved"] <= 400 + 1e-9
    assert o["cost_yuan_per_year"] == pytest.approx(o["detail"]["billed_kw_saved"] * 480)


def test_no_false_opportunity_on_the_clean_control_plant(clean: Sim) -> None:
    assert found(clean) == []


# --- the pieces ------------------------------------------------------------------------------


def test_runs_keeps_only_long_enough_runs() -> None:
    flag = np.array([[1, 1, 0, 1, 1, 1, 0, 1], [0, 0, 0, 0, 1, 1, 1, 1]], dtype=bool)
    got = det.runs(flag, 3)
    assert got.astype(int).tolist() == [[0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]]


def test_calendar_overnight_shift_holidays_and_workdays() -> None:
    from zoneinfo import ZoneInfo

    cal = ProductionCalendar.model_validate(
        {
            "shifts": [{"days": ["fri"], "start": "22:00", "end": "06:00"}],
            "holidays": ["2026-10-09"],
            "workdays": ["2026-10-11"],
            "workday_pattern": "fri",
        }
    )
    zone = ZoneInfo("Asia/Shanghai")
    t0 = int(dt.datetime(2026, 10, 2, tzinfo=zone).timestamp()) * 10**9  # Friday
    c = det.clock(t0, 24 * 11, 3600, zone)
    on = det.producing(c, cal)
    hours = [c.start(int(i)).astimezone(zone).strftime("%a %d %H") for i in np.flatnonzero(on)]
    # Fri 2nd 22-24 and on into Sat 3rd 00-06. Fri 9th is a holiday: no shift, so no tail
    # on Sat 10th either. Sun 11th is worked as a Friday: 22-24, on into Mon 12th 00-06.
    assert hours[:8] == ["Fri 02 22", "Fri 02 23"] + [f"Sat 03 {h:02d}" for h in range(6)]
    assert not [h for h in hours if h.startswith(("Fri 09", "Sat 10"))]
    assert hours[8:] == ["Sun 11 22", "Sun 11 23"] + [f"Mon 12 {h:02d}" for h in range(6)]


def test_expected_profile_fast_path_equals_the_slot_loop() -> None:
    rng = np.random.default_rng(5)
    e = rng.uniform(0, 1, (3, 168 * 3))
    e[1, 10] = np.nan
    how = (np.arange(168 * 3) + 37) % 168  # the window starts mid-week
    ref = np.arange(168 * 3) < 168 * 2
    fast = det.expected_profile(e, how, ref)
    slow = det.profile_by_slot(e, how, ref)
    assert np.allclose(fast, slow, equal_nan=True)
    # The hour the window starts in is profiled from the same hours a week and two later.
    assert fast[0, 0] == pytest.approx(np.median([e[0, 0], e[0, 168]]))
