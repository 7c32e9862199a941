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
because it averages out one-off noise.

The smoothing constants are not fixed guesses: :func:`fit_auto` runs the
recursion for every (alpha, gamma) of a small grid at once (numpy over the
grid, one pass over time) and keeps the pair with the smallest day-ahead error
on the plant's own history — the same figure :func:`backtest` reports. A
library ETS fit (statsmodels) would estimate them by likelihood, a one-step
criterion; ours picks what the user sees, day-ahead accuracy, and needs no
dependency. :func:`backtest` makes that choice at each origin from earlier
errors only, so the reported error is out of sample.

The state starts from the mean of the first two weeks (one week if that is
all there is): a single noisy week would linger in the season for many weeks
at a small gamma. No trend term: over a month or a year a fitted trend
extrapolates a few weeks' drift far too confidently; the level follows it.
Quarter-hours with no data (NaN) leave the state unchanged.
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
DAY = 96  # quarter-hours in a day: the backtest's horizon and origin step
ALPHA, GAMMA = 0.05, 0.3  # used when there is too little history to choose
ALPHAS = (0.0, 0.01, 0.03, 0.1, 0.3)
GAMMAS = (0.05, 0.1, 0.2, 0.35, 0.5)
MATERIAL = 0.05  # slots under this fraction of the history's maximum are left out of MAPE


def _offset_s(epoch_s: int, zone: ZoneInfo) -> int:
    off = dt.datetime.fromtimestamp(epoch_s, dt.UTC).astimezone(zone).utcoffset()
    assert off is not None
    return int(off.total_seconds())


def week_slot(ts_ns: NDArray[np.int64], zone: ZoneInfo) -> NDArray[np.int64]:
    """Quarter-hour of the local week (Monday 00:00 = 0) for each timestamp.

    UTC offsets change only at DST transitions: they are looked up at both ends
    of each UTC day, and per timestamp only on a day where the two differ.
    """
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    secs = ts_ns // NS
    days = secs // 86_400
    uniq, inv = np.unique(days, return_inverse=True)
    first = np.array([_offset_s(int(d) * 86_400, zone) for d in uniq], dtype=np.int64)
    last = np.array([_offset_s(int(d) * 86_400 + 86_399, zone) for d in uniq], dtype=np.int64)
    offsets = first[inv]
    for i in np.flatnonzero(first != last):
        on_day = inv == i
        offsets[on_day] = [_offset_s(int(s), zone) for s in secs[on_day]]
    local_s = secs + offsets
    # 1970-01-01 was a Thursday: shift so that Monday is 0.
    return np.asarray(((local_s // STEP_S) + 3 * 96) % SLOTS_PER_WEEK, dtype=np.int64)


@dataclass(frozen=True)
class Forecast:
    ts_ns: NDArray[np.int64]  # start of each forecast quarter-hour
    values: NDArray[np.float64]  # tCO2e per quarter-hour
    method: str


@dataclass(frozen=True)
class _Sweep:
    """Every grid pair run over one history: final states and day-ahead forecasts."""

    alphas: NDArray[np.float64]  # (C,)
    gammas: NDArray[np.float64]  # (C,)
    level: NDArray[np.float64]  # (C,) after the last step
    season: NDArray[np.float64]  # (C, 672) after the last step
    origins: list[int]  # indices of y at which a forecast was made
    preds: NDArray[np.float64]  # (origins, C, horizon), clipped at 0


def _init_len(n: int) -> int:
    return 2 * SLOTS_PER_WEEK if n >= 2 * SLOTS_PER_WEEK else SLOTS_PER_WEEK


def _sweep(
    y: NDArray[np.float64],
    slot: NDArray[np.int64],
    alphas: NDArray[np.float64],
    gammas: NDArray[np.float64],
    init_n: int,
    origins: list[int],
    horizon: int,
) -> _Sweep:
    """Run the recursion from ``init_n`` to the end for every grid pair; at each origin k
    (ascending, >= init_n, k + horizon <= len(y)) forecast y[k : k + horizon] first."""
    c = len(alphas)
    init = y[:init_n]
    ok = np.isfinite(init)
    level0 = float(init[ok].mean()) if ok.any() else 0.0
    sums = np.zeros(SLOTS_PER_WEEK)
    counts = np.zeros(SLOTS_PER_WEEK)
    np.add.at(sums, slot[:init_n][ok], init[ok] - level0)
    np.add.at(counts, slot[:init_n][ok], 1.0)
    season0 = np.divide(sums, counts, out=np.zeros(SLOTS_PER_WEEK), where=counts > 0)
    level = np.full(c, level0)
    season = np.tile(season0, (c, 1))
    rows = np.arange(c)
    preds = np.zeros((len(origins), c, horizon))
    # The recursion is sequential in time; numpy runs it for every grid pair at
    # once, so a 25-pair grid over 8 weeks costs a few tens of milliseconds.
    yl = y.tolist()
    sl = slot.tolist()
    todo = iter(enumerate(origins))
    nxt = next(todo, None)
    for k in range(init_n, len(y)):
        while nxt is not None and nxt[1] == k:
            preds[nxt[0]] = np.maximum(level[:, None] + season[:, slot[k : k + horizon]], 0.0)
            nxt = next(todo, None)
        v = yl[k]
        if v != v:  # NaN: no data in this quarter-hour
            continue
        s = sl[k]
        sea = season[rows, s]
        new_level = level + alphas * (v - sea - level)
        season[rows, s] = sea + gammas * (v - new_level - sea)
        level = new_level
    return _Sweep(alphas, gammas, level, season, origins, preds)


def _grid(
    alphas: tuple[float, ...], gammas: tuple[float, ...]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every (alpha, gamma) pair; with a choice to make, the defaults are among them."""
    pairs = [(float(a), float(g)) for a in alphas for g in gammas]
    if len(pairs) > 1 and (ALPHA, GAMMA) not in pairs:
        pairs.append((ALPHA, GAMMA))
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _default(a: NDArray[np.float64], g: NDArray[np.float64]) -> int:
    return int(np.flatnonzero((a == ALPHA) & (g == GAMMA))[0]) if len(a) > 1 else 0


def _ape(
    actual: NDArray[np.float64], preds: NDArray[np.float64], floor: float
) -> tuple[NDArray[np.float64], int]:
    """Sum of absolute percentage errors per grid pair over the material slots of one origin."""
    material = np.isfinite(actual) & (actual > floor) & (actual > 0)
    a = actual[material]
    return (np.abs(preds[:, material] - a) / a).sum(axis=1), int(material.sum())


@dataclass
class HoltWintersWeekly:
    zone: ZoneInfo
    alpha: float = ALPHA
    gamma: float = GAMMA
    level: float = 0.0
    season: NDArray[np.float64] | None = None
    last_ts: int | None = None
    chosen_by: str = "fixed"  # or how alpha and gamma were chosen
    history_mape_pct: float | None = None  # day-ahead MAPE on the history, where scored

    @property
    def method(self) -> str:
        return (
            "ETS(A,N,A) additive Holt-Winters, weekly season of 672 quarter-hours "
            f"(plant-local time), alpha={self.alpha:g}, gamma={self.gamma:g}"
        )

    def fit(self, ts_ns: NDArray[np.int64], y: NDArray[np.float64]) -> HoltWintersWeekly:
        """Fit on a regular 15-minute series (missing slots as NaN are skipped)."""
        return self._fit(ts_ns, y, (self.alpha,), (self.gamma,))

    def _fit(
        self,
        ts_ns: NDArray[np.int64],
        y: NDArray[np.float64],
        alphas: tuple[float, ...],
        gammas: tuple[float, ...],
    ) -> HoltWintersWeekly:
        y = np.asarray(y, dtype=np.float64)
        if len(y) < SLOTS_PER_WEEK:
            raise ValueError("need at least one week of 15-minute history to forecast")
        slot = week_slot(ts_ns, self.zone)
        a, g = _grid(alphas, gammas)
        init_n = _init_len(len(y))
        origins = list(range(init_n, len(y) - DAY + 1, DAY)) if len(a) > 1 else []
        sw = _sweep(y, slot, a, g, init_n, origins, DAY)
        best, mape = 0, None
        if len(a) > 1:
            errs, counts = np.zeros(len(a)), 0
            for o, p in zip(sw.origins, sw.preds, strict=True):
                past = y[:o][np.isfinite(y[:o])]
                floor = MATERIAL * float(past.max()) if len(past) else 0.0
                e, n = _ape(y[o : o + DAY], p, floor)
                errs += e
                counts += n
            if counts:
                best = int(np.argmin(errs))
                mape = float(errs[best] / counts * 100)
                self.chosen_by = (
                    f"smallest day-ahead MAPE over {len(sw.origins)} days of this history "
                    f"({len(a)} (alpha, gamma) pairs tried)"
                )
            else:
                best = _default(a, g)
                self.chosen_by = "defaults: too little history to choose (under 2 weeks + 1 day)"
        self.alpha, self.gamma = float(a[best]), float(g[best])
        self.level = float(sw.level[best])
        self.season = sw.season[best].copy()
        self.last_ts = int(ts_ns[-1])
        self.history_mape_pct = mape
        return self

    def predict(self, horizon: int, start_ns: int | None = None) -> Forecast:
        if self.season is None or self.last_ts is None:
            raise ValueError("fit the model first")
        start = start_ns if start_ns is not None else self.last_ts + STEP_S * NS
        ts = start + np.arange(horizon, dtype=np.int64) * STEP_S * NS
        values = np.maximum(self.level + self.season[week_slot(ts, self.zone)], 0.0)
        return Forecast(ts, values, self.method)


def fit_auto(
    ts_ns: NDArray[np.int64],
    y: NDArray[np.float64],
    zone: ZoneInfo,
    alphas: tuple[float, ...] = ALPHAS,
    gammas: tuple[float, ...] = GAMMAS,
) -> HoltWintersWeekly:
    """Fit with the (alpha, gamma) of the grid that forecast this history's days best."""
    return HoltWintersWeekly(zone)._fit(ts_ns, y, alphas, gammas)


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
    horizon: int = DAY
    alpha: float = ALPHA  # the pair in use at the last origin
    gamma: float = GAMMA
    chosen: str = "fixed"


def _errors(
    actual: NDArray[np.float64], pred: NDArray[np.float64], floor: NDArray[np.float64]
) -> tuple[float, float]:
    material = np.isfinite(actual) & (actual > floor) & (actual > 0)
    a = actual[material]
    mape = float(np.mean(np.abs(pred[material] - a) / a) * 100) if len(a) else float("nan")
    known = np.isfinite(actual)
    total = float(actual[known].sum())
    bias = float((pred[known].sum() - total) / total * 100) if total else 0.0
    return mape, bias


def backtest(
    ts_ns: NDArray[np.int64],
    y: NDArray[np.float64],
    zone: ZoneInfo,
    horizon: int = DAY,
    min_history: int = 2 * SLOTS_PER_WEEK,
    alpha: float | None = None,
    gamma: float | None = None,
    alphas: tuple[float, ...] = ALPHAS,
    gammas: tuple[float, ...] = GAMMAS,
) -> Backtest:
    """Rolling origin: one forecast of ``horizon`` quarter-hours every ``horizon`` steps
    from ``min_history`` on, each against the seasonal-naive forecast from the same origin.

    With ``alpha`` and ``gamma`` given they are fixed; otherwise, at each origin,
    the grid pair with the smallest MAPE over the *earlier* origins is used (the
    defaults at the first origin): what :func:`fit_auto` would have chosen then,
    so no forecast sees its own actuals. Equal to refitting at every origin (the
    fit starts from the first two weeks whatever the origin), in one pass.

    Slots under 5 % of the history's maximum before the origin are left out of
    MAPE (a percentage error on an idle night is noise, not skill); bias uses all.
    """
    y = np.asarray(y, dtype=np.float64)
    if min_history < SLOTS_PER_WEEK or len(y) < min_history + horizon:
        raise ValueError("not enough history for a backtest")
    fixed = alpha is not None or gamma is not None
    if fixed:
        a = np.array([ALPHA if alpha is None else alpha])
        g = np.array([GAMMA if gamma is None else gamma])
    else:
        a, g = _grid(alphas, gammas)
    slot = week_slot(ts_ns, zone)
    init_n = min(_init_len(len(y)), min_history)
    origins = list(range(min_history, len(y) - horizon + 1, horizon))
    sw = _sweep(y, slot, a, g, init_n, origins, horizon)
    start_default = _default(a, g)
    errs = np.zeros(len(a))
    counts = 0
    chosen = start_default
    actual_all, pred_all, naive_all, floor_all = [], [], [], []
    for o, p in zip(sw.origins, sw.preds, strict=True):
        actual = y[o : o + horizon]
        past = y[:o][np.isfinite(y[:o])]
        floor = MATERIAL * float(past.max()) if len(past) else 0.0
        if not fixed and counts:
            chosen = int(np.argmin(errs))
        pred_all.append(p[chosen])
        idx = o - SLOTS_PER_WEEK + (np.arange(horizon) % SLOTS_PER_WEEK)
        naive_all.append(np.nan_to_num(y[idx]))
        actual_all.append(actual)
        floor_all.append(np.full(horizon, floor))
        e, n = _ape(actual, p, floor)
        errs += e
        counts += n
    actual_c = np.concatenate(actual_all)
    floor_c = np.concatenate(floor_all)
    mape, bias = _errors(actual_c, np.concatenate(pred_all), floor_c)
    b_mape, b_bias = _errors(actual_c, np.concatenate(naive_all), floor_c)
    model = HoltWintersWeekly(zone, float(a[chosen]), float(g[chosen]))
    how = "fixed" if fixed else "re-chosen at each origin from earlier day-ahead errors"
    return Backtest(
        model.method,
        mape,
        bias,
        len(sw.origins),
        b_mape,
        b_bias,
        horizon,
        model.alpha,
        model.gamma,
        how,
    )
