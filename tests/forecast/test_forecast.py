"""Forecasts on simulated history with a known weekly pattern beat the seasonal-naive baseline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from carbonstream.forecast import HoltWintersWeekly, backtest
from carbonstream.forecast.model import NS, SLOTS_PER_WEEK, STEP_S, week_slot

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


def test_beats_seasonal_naive_on_known_pattern() -> None:
    ts, y = history(weeks=8, noise=0.15)
    bt = backtest(ts, y, ZONE)
    assert bt.n_forecasts == 6 * 7
    assert bt.mape_pct < bt.baseline_mape_pct
    assert abs(bt.bias_pct) < 5.0


def test_forecast_follows_the_shift_plan() -> None:
    ts, y = history(weeks=4, noise=0.0)
    model = HoltWintersWeekly(ZONE).fit(ts, y)
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
