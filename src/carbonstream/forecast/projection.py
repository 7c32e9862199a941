"""Projected period totals: what is stored so far plus the forecast for the rest.

Pure: quarter-hour history and period totals in, a :class:`Projection` out.
Everything is cut at one instant, ``cut`` (a quarter-hour boundary): the
stored actuals cover ``[period start, cut)``, the forecast ``[cut, period end)``,
so ``projected = actual + forecast`` partitions the period exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.calendar import period_span
from carbonstream.errors import CarbonstreamError
from carbonstream.forecast.model import (
    NS,
    SLOTS_PER_WEEK,
    STEP_S,
    Forecast,
    HoltWintersWeekly,
    fit_auto,
)
from carbonstream.i18n import Msg

STEP_NS = STEP_S * NS
PERIODS = ("day", "month", "year")


class NotEnoughHistoryError(CarbonstreamError, ValueError):
    """Less than a week of quarter-hours since the site's data began."""

    def __init__(self, have_s: float, need_s: float) -> None:
        self.have_s, self.need_s = have_s, need_s
        self.detail = Msg(
            "problems.detail.not-enough-history",
            {"need_days": f"{need_s / 86400:g}", "have_days": f"{have_s / 86400:.1f}"},
        )
        super().__init__(str(self.detail))


def quarter_floor(t_s: float) -> int:
    """The quarter-hour boundary at or before ``t_s`` (unix seconds), in ns."""
    return int(t_s // STEP_S) * STEP_NS


def period_bounds(cut_ns: int, zone: ZoneInfo, period: str) -> tuple[int, int]:
    """Start and end (exclusive, ns) of the plant-local day, month or year holding ``cut_ns``
    (an instant at its start belongs to it)."""
    start, end = period_span(cut_ns / NS, zone, period)
    return int(start.timestamp()) * NS, int(end.timestamp()) * NS


@dataclass(frozen=True)
class History:
    """A regular quarter-hour series from the first quarter with data up to ``end_ns``."""

    ts_ns: NDArray[np.int64]
    y: NDArray[np.float64]  # tCO2e per quarter-hour; NaN where nothing was stored
    end_ns: int

    @property
    def start_ns(self) -> int:
        return int(self.ts_ns[0]) if len(self.ts_ns) else self.end_ns

    @property
    def span_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS

    @property
    def with_data(self) -> int:
        return int(np.isfinite(self.y).sum())

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[dt.datetime, float]], end_ns: int) -> History:
        """Quarter rows (start, tonnes) in time order, all before ``end_ns``."""
        if not rows:
            return cls(np.zeros(0, np.int64), np.zeros(0), end_ns)
        got = np.array([int(r[0].timestamp()) * NS for r in rows], dtype=np.int64)
        first = int(got[0])
        n = (end_ns - first) // STEP_NS
        ts = first + np.arange(n, dtype=np.int64) * STEP_NS
        y = np.full(n, np.nan)
        idx = (got - first) // STEP_NS
        keep = (idx >= 0) & (idx < n)
        y[idx[keep]] = np.array([r[1] for r in rows], dtype=np.float64)[keep]
        return cls(ts, y, end_ns)


@dataclass(frozen=True)
class PeriodProjection:
    period: str
    start_ns: int
    end_ns: int
    actual_t: float  # stored, [start, cut)
    forecast_t: float  # forecast, [cut, end)
    budget_t: float | None
    reached_ns: int | None  # start of the quarter-hour in which actual + forecast passes it

    @property
    def projected_t(self) -> float:
        return self.actual_t + self.forecast_t


@dataclass(frozen=True)
class Projection:
    cut_ns: int
    history: History
    model: HoltWintersWeekly
    next: Forecast  # the requested horizon from cut
    periods: dict[str, PeriodProjection]


def fit(history: History, zone: ZoneInfo) -> HoltWintersWeekly:
    if len(history.y) < SLOTS_PER_WEEK:
        raise NotEnoughHistoryError(history.span_s, SLOTS_PER_WEEK * STEP_S)
    return fit_auto(history.ts_ns, history.y, zone)


def project(
    model: HoltWintersWeekly,
    history: History,
    zone: ZoneInfo,
    cut_ns: int,
    horizon: int,
    actuals: dict[str, float],
    budgets: dict[str, float | None],
) -> Projection:
    """The next ``horizon`` quarter-hours and, for each period in ``actuals`` (its stored
    tonnes up to ``cut_ns``), actual + forecast to its end, against its budget."""
    if cut_ns % STEP_NS:
        raise ValueError("the cut must be a quarter-hour boundary")
    bounds = {p: period_bounds(cut_ns, zone, p) for p in actuals}
    quarters = [(end - cut_ns) // STEP_NS for _, end in bounds.values()]
    n = max([horizon, *quarters])
    f = model.predict(n, start_ns=cut_ns)
    cum = np.cumsum(f.values)
    out = {}
    for p, (start, end) in bounds.items():
        k = (end - cut_ns) // STEP_NS
        actual = actuals[p]
        forecast = float(cum[k - 1]) if k else 0.0
        budget = budgets.get(p)
        reached = None
        if budget is not None and actual < budget and actual + forecast > budget:
            i = int(np.searchsorted(cum[:k], budget - actual, side="right"))
            reached = cut_ns + i * STEP_NS
        out[p] = PeriodProjection(p, start, end, actual, forecast, budget, reached)
    nxt = Forecast(f.ts_ns[:horizon], f.values[:horizon], f.method)
    return Projection(cut_ns, history, model, nxt, out)
