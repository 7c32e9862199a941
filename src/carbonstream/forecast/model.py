"""Emission forecasts: Holt-Winters exponential smoothing with a weekly season.

Why this method: a factory's emissions follow its shift plan — the same hour of
the same weekday looks alike week after week — while the overall level drifts
(orders, seasons, efficiency work) and moves from one day to the next with
production. Exponential smoothing with a level and a weekly season models
exactly that, in one of two forms:

    ETS(A,N,A), additive season:           ETS(A,N,M), multiplicative season:
    level_t  = level + alpha (y_t - season_{t-m} - level)      alpha (y_t / season_{t-m} - level)
    season_t = season_{t-m} + gamma (y_t - level_t - season_{t-m})  gamma (y_t / level_t - ...)
    forecast = level_T + season_{slot(T+h)}    forecast = level_T x season_{slot(T+h)}

with one season slot per quarter-hour of the week in the plant's local time
(m = 672). In the multiplicative form a busier day scales the whole shift
profile, as production does; the additive form suits a plant whose swings are
a constant amount. Both are explainable to an energy manager ("the usual
Tuesday 10:00, scaled by today's level"), need no external library, refit in
well under a second, and beat the seasonal-naive baseline ("same slot last
week") because they average out one-off noise.

Nothing is a fixed guess: :func:`fit_auto` runs the recursion for every point
of a small grid (form x alpha x gamma, 50 points) at once — numpy over the
grid, one pass over time — and keeps the point with the smallest day-ahead
error on the plant's own history, the figure :func:`backtest` reports. A
library ETS fit (statsmodels) would estimate the constants by likelihood, a
one-step-ahead criterion; ours picks what the user sees, day-ahead accuracy,
and adds no dependency. :func:`backtest` makes that choice at each origin
from earlier errors only, so the reported error is out of sample. On simulated
history with day-to-day production swings the multiplicative form roughly
halves the error of the first version (additive, alpha 0.05, gamma 0.3, fixed),
which there lost to seasonal naive; see docs/forecast.md.

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
ALPHAS = (0.0, 0.01, 0.03, 0.1, 0.3)
GAMMAS = (0.05, 0.1, 0.2, 0.35, 0.5)
SEASONS = ("additive", "multiplicative")
# Used when there is too little history to choose (under two weeks and a day): the
# point chosen most often on simulated plant history.
DEFAULT = (0.03, 0.35, True)
MIN_RATIO = 0.1  # multiplicative: quarter-hours under this seasonal ratio leave the level be
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
    """Every grid point run over one history: final states and forecasts at the origins."""

    alphas: NDArray[np.float64]  # (C,)
    gammas: NDArray[np.float64]  # (C,)
    mult: NDArray[np.bool_]  # (C,) multiplicative season
    level: NDArray[np.float64]  # (C,) after the last step
    season: NDArray[np.float64]  # (C, 672) after the last step
    origins: list[int]  # indices of y at which a forecast was made
    preds: NDArray[np.float64]  # (origins, C, horizon), clipped at 0


def _init_len(n: int) -> int:
    return 2 * SLOTS_PER_WEEK if n >= 2 * SLOTS_PER_WEEK else SLOTS_PER_WEEK


def _start(
    y: NDArray[np.float64], slot: NDArray[np.int64], init_n: int
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Level and both seasons (additive: mean - level; multiplicative: mean / level) from
    the first ``init_n`` quarter-hours."""
    init = y[:init_n]
    ok = np.isfinite(init)
    level = float(init[ok].mean()) if ok.any() else 0.0
    sums = np.zeros(SLOTS_PER_WEEK)
    counts = np.zeros(SLOTS_PER_WEEK)
    np.add.at(sums, slot[:init_n][ok], init[ok])
    np.add.at(counts, slot[:init_n][ok], 1.0)
    mean = np.divide(sums, counts, out=np.full(SLOTS_PER_WEEK, level), where=counts > 0)
    ratio = mean / level if level > 0 else np.ones(SLOTS_PER_WEEK)
    return level, mean - level, ratio


def _sweep(
    y: NDArray[np.float64],
    slot: NDArray[np.int64],
    alphas: NDArray[np.float64],
    gammas: NDArray[np.float64],
    mult: NDArray[np.bool_],
    init_n: int,
    origins: list[int],
    horizon: int,
) -> _Sweep:
    """Run the recursion from ``init_n`` to the end for every grid point; at each origin k
    (ascending, >= init_n, k + horizon <= len(y)) forecast y[k : k + horizon] first."""
    level0, add0, mul0 = _start(y, slot, init_n)
    ia, im = np.flatnonzero(~mult), np.flatnonzero(mult)
    aa, ga, am, gm = alphas[ia], gammas[ia], alphas[im], gammas[im]
    la, lm = np.full(len(ia), level0), np.full(len(im), level0)
    # Seasons slot-major (672, points): a step reads and writes one contiguous row by
    # basic indexing, not a gathered column (same arithmetic, bit for bit; a fit about 1.2x
    # faster: benchmarks/forecast_sweep.py).
    sa = np.ascontiguousarray(np.tile(add0, (len(ia), 1)).T)
    sm = np.ascontiguousarray(np.tile(mul0, (len(im), 1)).T)
    preds = np.zeros((len(origins), len(alphas), horizon))
    # The recursion is sequential in time; numpy runs it for every grid point at
    # once, so a 50-point grid over 8 weeks costs well under a second.
    yl = y.tolist()
    sl = slot.tolist()
    todo = iter(enumerate(origins))
    nxt = next(todo, None)
    for k in range(init_n, len(y)):
        while nxt is not None and nxt[1] == k:
            ahead = slot[k : k + horizon]
            preds[nxt[0], ia] = la[:, None] + sa[ahead].T
            preds[nxt[0], im] = lm[:, None] * sm[ahead].T
            nxt = next(todo, None)
        v = yl[k]
        if v != v:  # NaN: no data in this quarter-hour
            continue
        s = sl[k]
        if len(ia):
            sea = sa[s]  # a view: read in full before the row is written below
            new = la + aa * (v - sea - la)
            sa[s] = sea + ga * (v - new - sea)
            la = new
        if len(im):
            sea = sm[s]
            # A quiet quarter-hour (under a tenth of the usual level) says little
            # about the level: dividing by its small seasonal ratio would amplify noise.
            seen = np.where(sea >= MIN_RATIO, v / np.maximum(sea, MIN_RATIO), lm)
            new = lm + am * (seen - lm)
            sm[s] = np.where(new > 0, sea + gm * (v / np.maximum(new, 1e-300) - sea), sea)
            lm = new
    level = np.empty(len(alphas))
    season = np.empty((len(alphas), SLOTS_PER_WEEK))
    level[ia], level[im], season[ia], season[im] = la, lm, sa.T, sm.T
    return _Sweep(alphas, gammas, mult, level, season, origins, np.maximum(preds, 0.0))


def _grid(
    alphas: tuple[float, ...], gammas: tuple[float, ...], seasons: tuple[str, ...] = SEASONS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Every (alpha, gamma, season) point; with a choice to make, the defaults are among them."""
    points = [(float(a), float(g), m == "multiplicative") for m in seasons for a in alphas
              for g in gammas]  # fmt: skip
    if len(points) > 1 and DEFAULT not in points:
        points.append(DEFAULT)
    return (
        np.array([p[0] for p in points]),
        np.array([p[1] for p in points]),
        np.array([p[2] for p in points], dtype=bool),
    )


def _default(a: NDArray[np.float64], g: NDArray[np.float64], m: NDArray[np.bool_]) -> int:
    hit = np.flatnonzero((a == DEFAULT[0]) & (g == DEFAULT[1]) & (m == DEFAULT[2]))
    return int(hit[0]) if len(hit) else 0


def _ape(
    actual: NDArray[np.float64], preds: NDArray[np.float64], floor: float
) -> tuple[NDArray[np.float64], int]:
    """Sum of absolute percentage errors per grid point over the material slots of one origin."""
    material = np.isfinite(actual) & (actual > floor) & (actual > 0)
    a = actual[material]
    return (np.abs(preds[:, material] - a) / a).sum(axis=1), int(material.sum())


def _floor(y: NDArray[np.float64], origin: int) -> float:
    past = y[:origin][np.isfinite(y[:origin])]
    return MATERIAL * float(past.max()) if len(past) else 0.0


@dataclass
class HoltWintersWeekly:
    zone: ZoneInfo
    alpha: float = DEFAULT[0]
    gamma: float = DEFAULT[1]
    multiplicative: bool = DEFAULT[2]
    level: float = 0.0
    season: NDArray[np.float64] | None = None
    last_ts: int | None = None
    chosen_by: str = "fixed"  # or how alpha, gamma and the season's form were chosen
    history_mape_pct: float | None = None  # day-ahead MAPE on the history, where scored

    @property
    def name(self) -> str:
        return "ETS(A,N,M)" if self.multiplicative else "ETS(A,N,A)"

    @property
    def method(self) -> str:
        form = "multiplicative" if self.multiplicative else "additive"
        return (
            f"{self.name} Holt-Winters, {form} weekly season of 672 quarter-hours "
            f"(plant-local time), alpha={self.alpha:g}, gamma={self.gamma:g}"
        )

    def fit(self, ts_ns: NDArray[np.int64], y: NDArray[np.float64]) -> HoltWintersWeekly:
        """Fit on a regular 15-minute series (missing slots as NaN are skipped)."""
        seasons = ("multiplicative",) if self.multiplicative else ("additive",)
        return self._fit(ts_ns, y, (self.alpha,), (self.gamma,), seasons)

    def _fit(
        self,
        ts_ns: NDArray[np.int64],
        y: NDArray[np.float64],
        alphas: tuple[float, ...],
        gammas: tuple[float, ...],
        seasons: tuple[str, ...],
    ) -> HoltWintersWeekly:
        y = np.asarray(y, dtype=np.float64)
        if len(y) < SLOTS_PER_WEEK:
            raise ValueError("need at least one week of 15-minute history to forecast")
        slot = week_slot(ts_ns, self.zone)
        a, g, m = _grid(alphas, gammas, seasons)
        init_n = _init_len(len(y))
        origins = list(range(init_n, len(y) - DAY + 1, DAY)) if len(a) > 1 else []
        sw = _sweep(y, slot, a, g, m, init_n, origins, DAY)
        best, mape = 0, None
        if len(a) > 1:
            errs, counts = np.zeros(len(a)), 0
            for o, p in zip(sw.origins, sw.preds, strict=True):
                e, n = _ape(y[o : o + DAY], p, _floor(y, o))
                errs += e
                counts += n
            if counts:
                best = int(np.argmin(errs))
                mape = float(errs[best] / counts * 100)
                self.chosen_by = (
                    f"smallest day-ahead MAPE over {len(sw.origins)} days of this history "
                    f"({len(a)} (alpha, gamma, season) points tried)"
                )
            else:
                best = _default(a, g, m)
                self.chosen_by = "defaults: too little history to choose (under 2 weeks + 1 day)"
        self.alpha, self.gamma = float(a[best]), float(g[best])
        self.multiplicative = bool(m[best])
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
        season = self.season[week_slot(ts, self.zone)]
        values = self.level * season if self.multiplicative else self.level + season
        return Forecast(ts, np.maximum(values, 0.0), self.method)


def fit_auto(
    ts_ns: NDArray[np.int64],
    y: NDArray[np.float64],
    zone: ZoneInfo,
    alphas: tuple[float, ...] = ALPHAS,
    gammas: tuple[float, ...] = GAMMAS,
    seasons: tuple[str, ...] = SEASONS,
) -> HoltWintersWeekly:
    """Fit with the grid point that forecast this history's days best."""
    return HoltWintersWeekly(zone)._fit(ts_ns, y, alphas, gammas, seasons)


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
    alpha: float = DEFAULT[0]  # the point in use at the last origin
    gamma: float = DEFAULT[1]
    multiplicative: bool = DEFAULT[2]
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
    multiplicative: bool | None = None,
    alphas: tuple[float, ...] = ALPHAS,
    gammas: tuple[float, ...] = GAMMAS,
    seasons: tuple[str, ...] = SEASONS,
) -> Backtest:
    """Rolling origin: one forecast of ``horizon`` quarter-hours every ``horizon`` steps
    from ``min_history`` on, each against the seasonal-naive forecast from the same origin.

    With ``alpha``, ``gamma`` or ``multiplicative`` given, the model is fixed (the
    defaults fill the rest); otherwise, at each origin, the grid point with the
    smallest MAPE over the *earlier* origins is used (the defaults at the first):
    what :func:`fit_auto` would have chosen then, so no forecast sees its own
    actuals. Equal to refitting at every origin (the fit starts from the first
    two weeks whatever the origin), in one pass.

    Slots under 5 % of the history's maximum before the origin are left out of
    MAPE (a percentage error on an idle night is noise, not skill); bias uses all.
    """
    y = np.asarray(y, dtype=np.float64)
    if min_history < SLOTS_PER_WEEK or len(y) < min_history + horizon:
        raise ValueError("not enough history for a backtest")
    fixed = alpha is not None or gamma is not None or multiplicative is not None
    if fixed:
        a = np.array([DEFAULT[0] if alpha is None else alpha])
        g = np.array([DEFAULT[1] if gamma is None else gamma])
        m = np.array([DEFAULT[2] if multiplicative is None else multiplicative])
    else:
        a, g, m = _grid(alphas, gammas, seasons)
    slot = week_slot(ts_ns, zone)
    init_n = min(_init_len(len(y)), min_history)
    origins = list(range(min_history, len(y) - horizon + 1, horizon))
    sw = _sweep(y, slot, a, g, m, init_n, origins, horizon)
    errs = np.zeros(len(a))
    counts = 0
    chosen = _default(a, g, m)
    actual_all, pred_all, naive_all, floor_all = [], [], [], []
    for o, p in zip(sw.origins, sw.preds, strict=True):
        actual = y[o : o + horizon]
        floor = _floor(y, o)
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
    model = HoltWintersWeekly(zone, float(a[chosen]), float(g[chosen]), bool(m[chosen]))
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
        model.multiplicative,
        how,
    )
