"""Forecasts on simulated history with a known weekly pattern beat the seasonal-naive baseline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from carbonstream.forecast import HoltWintersWeekly, backtest, fit_auto, seasonal_naive
from carbonstream.forecast.model import NS, SLOTS_PER_WEEK, STEP_S, week_slot
from carbonstream.sim.profiles import shift_activity

ZONE = ZoneInfo("Asia/Shanghai")


def history(weeks: int, noise: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two shifts on weekdays, quiet weekends, slow growth, Gaussian noise."""
    start = int(dt.datetime(2026, 1, 5, tzinfo=ZONE).timestamp()) * NS  # a Monday
    n = weeks * SLOTS_PER_WEEK
    ts = start + np.arange(n, dtype=np.int64) * STEP_S * NS
    slot = week_slot(ts, ZONE)
    day, hour = slot // 96, (slot % 96) / 4
    shift = np.where((hour >= 8) & (hour < 24), 1.0, 0.3)
    base = np.where(day < 5, 1.0 * shift, 0.25)
    growth = 1 + 0.1 * np.arange(n) / n
    rng = np.random.default_rng(seed)
    y = base * growth * (1 + noise * rng.standard_normal(n))
    return ts, np.maximum(y, 0.0)


def test_week_slot_starts_monday_midnight_local() -> None:
    monday = int(dt.datetime(2026, 11, 30, tzinfo=ZONE).timestamp()) * NS
    assert week_slot(np.array([monday, monday + 900 * NS], dtype=np.int64), ZONE).tolist() == [0, 1]
    sunday_late = int(dt.datetime(2026, 11, 29, 23, 45, tzinfo=ZONE).timestamp()) * NS
    assert week_slot(np.array([sunday_late], dtype=np.int64), ZONE).tolist() == [671]


def production_swings(weeks: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The simulator's shift profile (15 one-minute samples with 5 % noise per quarter-hour)
    times a production level that moves from day to day (AR(1), 8 %)."""
    start = int(dt.datetime(2026, 1, 5, tzinfo=ZONE).timestamp()) * NS
    n = weeks * SLOTS_PER_WEEK
    ts = start + np.arange(n, dtype=np.int64) * STEP_S * NS
    slot = week_slot(ts, ZONE)
    rng = np.random.default_rng(seed)
    act = shift_activity((slot % 96) / 4.0, slot // 96)
    level = np.zeros(n // 96)
    for d in range(1, len(level)):
        level[d] = 0.7 * level[d - 1] + 0.08 * rng.standard_normal()
    noise = (1 + 0.05 * rng.standard_normal((n, 15))).mean(axis=1)
    return ts, (0.1 + 0.6 * act * noise) * (1 + level[np.arange(n) // 96])


def test_beats_seasonal_naive_on_known_pattern() -> None:
    ts, y = history(weeks=8, noise=0.15)
    bt = backtest(ts, y, ZONE)
    assert bt.n_forecasts == 6 * 7
    assert bt.mape_pct < 0.9 * bt.baseline_mape_pct
    assert abs(bt.bias_pct) < 5.0
    assert bt.chosen.startswith("re-chosen")


def test_grid_choice_beats_the_fixed_default_and_naive() -> None:
    """Day-to-day production swings: the first version (additive, alpha=0.05, gamma=0.3,
    fixed) loses to seasonal naive; the point chosen on earlier days (out of sample) is a
    multiplicative season and beats both by a wide margin."""
    ts, y = production_swings(weeks=8)
    fixed = backtest(ts, y, ZONE, alpha=0.05, gamma=0.3, multiplicative=False)
    chosen = backtest(ts, y, ZONE)
    assert fixed.mape_pct > fixed.baseline_mape_pct
    assert chosen.mape_pct < 0.9 * chosen.baseline_mape_pct
    assert chosen.mape_pct < 0.8 * fixed.mape_pct
    assert chosen.multiplicative and "ETS(A,N,M)" in chosen.method
    assert chosen.baseline_mape_pct == fixed.baseline_mape_pct


@pytest.mark.parametrize("multiplicative", [False, True])
def test_one_pass_backtest_equals_refitting_at_each_origin(multiplicative: bool) -> None:
    ts, y = history(weeks=4, noise=0.1)
    y[1500:1530] = np.nan  # a gap: skipped by the fit, left out of the errors
    bt = backtest(ts, y, ZONE, alpha=0.1, gamma=0.2, multiplicative=multiplicative)
    preds, actual = [], []
    for origin in range(2 * SLOTS_PER_WEEK, len(y) - 96 + 1, 96):
        m = HoltWintersWeekly(ZONE, 0.1, 0.2, multiplicative).fit(ts[:origin], y[:origin])
        preds.append(m.predict(96).values)
        actual.append(y[origin : origin + 96])
    a, p = np.concatenate(actual), np.concatenate(preds)
    known = np.isfinite(a)
    assert bt.n_forecasts == len(preds) == 14
    assert bt.bias_pct == pytest.approx((p[known].sum() / a[known].sum() - 1) * 100)


def test_fit_auto_picks_the_pair_with_the_smallest_error() -> None:
    ts, y = production_swings(weeks=5)
    m = fit_auto(ts, y, ZONE, alphas=(0.0, 0.1), gammas=(0.1, 0.5))
    assert m.history_mape_pct is not None
    assert "9 (alpha, gamma, season) points" in m.chosen_by  # 2 x 2 x 2 and the defaults
    best = backtest(ts, y, ZONE, alpha=m.alpha, gamma=m.gamma, multiplicative=m.multiplicative)
    for a in (0.0, 0.1):
        for g in (0.1, 0.5):
            for form in (False, True):
                bt = backtest(ts, y, ZONE, alpha=a, gamma=g, multiplicative=form)
                assert bt.mape_pct >= best.mape_pct
    one = fit_auto(ts, y, ZONE, alphas=(0.1,), gammas=(0.1,), seasons=("additive",))
    assert one.history_mape_pct is None and not one.multiplicative  # nothing to choose
    # Under two weeks and a day: nothing to score, the defaults.
    short = fit_auto(ts[:1400], y[:1400], ZONE)
    assert (short.alpha, short.gamma, short.multiplicative) == (0.03, 0.35, True)
    assert short.history_mape_pct is None and short.chosen_by.startswith("defaults")
    assert seasonal_naive(ts, y, 96).values.tolist() == y[-672:-576].tolist()


def test_week_slot_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00 (01:00 UTC); Sunday = day 6.
    before = int(dt.datetime(2026, 3, 29, 0, 45, tzinfo=dt.UTC).timestamp()) * NS  # 01:45 CET
    after = before + 900 * NS  # 01:00 UTC = 03:00 CEST
    slots = week_slot(np.array([before, after], dtype=np.int64), berlin).tolist()
    assert slots == [6 * 96 + 7, 6 * 96 + 12]
    late = int(dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC).timestamp()) * NS  # 00:00 Monday
    assert week_slot(np.array([late], dtype=np.int64), berlin).tolist() == [0]


@pytest.mark.parametrize("multiplicative", [False, True])
def test_forecast_follows_the_shift_plan(multiplicative: bool) -> None:
    ts, y = history(weeks=4, noise=0.0)
    model = HoltWintersWeekly(ZONE, multiplicative=multiplicative).fit(ts, y)
    f = model.predict(96 * 7)  # the next week
    slot = week_slot(f.ts_ns, ZONE)
    weekday_day = f.values[(slot // 96 < 5) & (slot % 96 == 40)]  # 10:00 on weekdays
    weekend = f.values[slot // 96 >= 5]
    assert weekday_day.mean() > 3 * weekend.mean()
    assert f.values.min() >= 0.0


def test_needs_a_week_of_history() -> None:
    ts, y = history(weeks=1, noise=0.0)
    with pytest.raises(ValueError, match="at least one week"):
        HoltWintersWeekly(ZONE).fit(ts[:100], y[:100])
