"""Emission forecasts: additive Holt-Winters with a weekly season, ETS(A,N,A).

Why this method: a factory's emissions follow its shift plan — the same hour of
the same weekday looks alike week after week — while the overall level drifts
slowly (orders, seasons, efficiency work). ETS(A,N,A) models exactly that:

    level_t    = level_{t-1} + alpha (y_t - season_{t-m} - level_{t-1})
    season_t   = season_{t-m} + gamma (y_t - level_t - season_{t-m})
    forecast   = level_T + season_{slot(T+h)}

with one season slot per quarter-hour of the week in the plant's local time
(m = 672). It needs no external library, is cheap to refit on every request,
is explainable to an energy manager ("the usual Tuesday 10:00 plus today's
level") and it beats the seasonal-naive baseline ("same slot last week")
because it averages out one-off noise. A library ETS fit (statsmodels) would
estimate alpha/gamma by likelihood; here they are chosen on the plant's own
history by a small backtest grid, which is the figure users see anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

NS = 1_000_000_000
STEP_S = 900
SLOTS_PER_WEEK = 7 * 24 * 4


def week_slot(ts_ns: NDArray[np.int64], zone: ZoneInfo) -> NDArray[np.int64]:
    """Quarter-hour of the local week (Monday 00:00 = 0) for each timestamp."""
    # Offsets change only at DST transitions: compute them per distinct local day.
    days = ts_ns // (86_400 * NS)
    uniq, inv = np.unique(days, return_inverse=True)
    offsets = np.array(
        [
            int(
                dt.datetime.fromtimestamp(int(d) * 86_400 + 43_200, dt.UTC)
                .astimezone(zone)
                .utcoffset()
                .total_seconds()  # type: ignore[union-attr]
            )
            for d in uniq
        ],
        dtype=np.int64,
    )[inv]
    local_s = ts_ns // NS + offsets
    # 1970-01-01 was a Thursday: shift so that Monday is 0.
    return ((local_s // STEP_S) + 3 * 96) % SLOTS_PER_WEEK


@dataclass(frozen=True)
class Forecast:
    ts_ns: NDArray[np.int64]  # start of each forecast quarter-hour
    values: NDArray[np.float64]  # tCO2e per quarter-hour
    method: str


@dataclass
class HoltWintersWeekly:
    zone: ZoneInfo
    alpha: float = 0.05
    gamma: float = 0.3
    level: float = 0.0
    season: NDArray[np.float64] | None = None
    last_ts: int | None = None

    @property
    def method(self) -> str:
        return f"ETS(A,N,A) weekly season, 15 min, alpha={self.alpha}, gamma={self.gamma}"

    def fit(self, ts_ns: NDArray[np.int64], y: NDArray[np.float64]) -> HoltWintersWeekly:
        """Fit on a regular 15-minute series (missing slots as NaN are skipped)."""
        if len(y) < SLOTS_PER_WEEK:
            raise ValueError("need at least one week of 15-minute history to forecast")
        slot = week_slot(ts_ns, self.zone)
        season = np.zeros(SLOTS_PER_WEEK)
        first_week = y[:SLOTS_PER_WEEK]
        level = float(np.nanmean(first_week))
        season[slot[:SLOTS_PER_WEEK]] = np.nan_to_num(first_week - level)
        a, g = self.alpha, self.gamma
        # The recursion is inherently sequential; it runs once per refit over
        # at most a few thousand points, so a plain loop is the clear choice.
        for k in range(SLOTS_PER_WEEK, len(y)):
            v = y[k]
            if np.isnan(v):
                continue
            s = slot[k]
            new_level = level + a * (v - season[s] - level)
            season[s] = season[s] + g * (v - new_level - season[s])
            level = new_level
        self.level, self.season, self.last_ts = level, season, int(ts_ns[-1])
        return self

    def predict(self, horizon: int, start_ns: int | None = None) -> Forecast:
        if self.season is None or self.last_ts is None:
            raise ValueError("fit the model first")
        start = start_ns if start_ns is not None else self.last_ts + STEP_S * NS
        ts = start + np.arange(horizon, dtype=np.int64) * STEP_S * NS
        values = np.maximum(self.level + self.season[week_slot(ts, self.zone)], 0.0)
        return Forecast(ts, values, self.method)


def seasonal_naive(ts_ns: NDArray[np.int64], y: NDArray[np.float64], horizon: int) -> Forecast:
    """Baseline: each quarter-hour equals the same quarter-hour one week earlier."""
    if len(y) < SLOTS_PER_WEEK:
        raise ValueError("need at least one week of history")
    start = int(ts_ns[-1]) + STEP_S * NS
    ts = start + np.arange(horizon, dtype=np.int64) * STEP_S * NS
    idx = len(y) - SLOTS_PER_WEEK + (np.arange(horizon) % SLOTS_PER_WEEK)
    return Forecast(ts, np.nan_to_num(y[idx]), "seasonal naive (same slot last week)")


@dataclass(frozen=True)
class Backtest:
    method: str
    mape_pct: float  # mean absolute percentage error over slots with a material actual
    bias_pct: float  # (sum forecast - sum actual) / sum actual
    n_forecasts: int
    baseline_mape_pct: float
    baseline_bias_pct: float


def _errors(actual: NDArray[np.float64], pred: NDArray[np.float64]) -> tuple[float, float]:
    material = actual > 0.05 * float(np.nanmax(actual)) if len(actual) else actual > 0
    mape = float(np.mean(np.abs(pred[material] - actual[material]) / actual[material]) * 100)
    bias = float((pred.sum() - actual.sum()) / actual.sum() * 100) if actual.sum() else 0.0
    return mape, bias


def backtest(
    ts_ns: NDArray[np.int64],
    y: NDArray[np.float64],
    zone: ZoneInfo,
    horizon: int = 96,
    min_history: int = 2 * SLOTS_PER_WEEK,
    alpha: float = 0.05,
    gamma: float = 0.3,
) -> Backtest:
    """Rolling origin, one day-ahead forecast per day after ``min_history``.

    Slots whose actual is under 5 % of the series maximum are left out of MAPE
    (a percentage error on an idle night is noise, not skill); bias uses all.
    """
    actual_all: list[NDArray[np.float64]] = []
    pred_all: list[NDArray[np.float64]] = []
    naive_all: list[NDArray[np.float64]] = []
    origin = min_history
    while origin + horizon <= len(y):
        model = HoltWintersWeekly(zone, alpha, gamma).fit(ts_ns[:origin], y[:origin])
        pred_all.append(model.predict(horizon).values)
        naive_all.append(seasonal_naive(ts_ns[:origin], y[:origin], horizon).values)
        actual_all.append(y[origin : origin + horizon])
        origin += horizon
    if not actual_all:
        raise ValueError("not enough history for a backtest")
    actual = np.nan_to_num(np.concatenate(actual_all))
    mape, bias = _errors(actual, np.concatenate(pred_all))
    b_mape, b_bias = _errors(actual, np.concatenate(naive_all))
    return Backtest(
        HoltWintersWeekly(zone, alpha, gamma).method, mape, bias, len(actual_all), b_mape, b_bias
    )
