"""Reduction opportunities from meter time series: idle load, drift, demand peaks.

Everything works on (meter, time) matrices of energy per hour (or per 15 minutes
for demand), NaN where there is no data, so a plant of thousands of meters is a
handful of numpy passes; the only Python loops are over the 168 hours of a week
and over runs that were found, never over meters or readings.

* Idle load: energy in hours outside the production calendar above the meter's
  quiescent level (the median of its lowest quarter of off-calendar hours, the
  "quiescent threshold" idea of enmanreg.org), counted where the excess is more
  than ``idle_min_fraction`` of the meter's median load in production hours for
  at least ``idle_min_hours`` consecutive hours.
* Drift: the residual against the meter's own hour-of-week profile of the
  reference days, averaged over 24 hours, above a robust threshold (``drift_z``
  robust standard errors and ``drift_min_fraction`` of the expected load) for at
  least ``drift_min_hours``. The excess counted per year is the mean residual of
  the window's last week (the rate a repair stops), x 8 760 h.
* Demand peaks: per site and month, the kW of the 15-minute peak above the level
  exceeded in fewer than ``peak_intervals`` intervals, when that is at least
  ``PEAK_MIN_FRACTION`` of the peak (a plateau of peaks is not shaveable); and the
  billed kW a flexible load with its own meter would save if it ran off-peak.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.energy import OpportunityRules, ProductionCalendar, clock_minutes

HOURS_PER_YEAR = 8760.0
HOURS_PER_WEEK = 168
PEAK_MIN_FRACTION = 0.10  # of the month's peak kW: a smaller spike is not worth shaving
MAD_TO_SIGMA = 1.4826  # normal-consistent scale of the median absolute deviation
QUIESCENT_QUANTILE = 25.0  # percent: the quiet part of a meter's off-calendar hours
LAST_WEEK_H = 168


@dataclass(frozen=True)
class Clock:
    """Plant-local features of each step of a regular UTC time axis."""

    t0_ns: int
    step_s: int
    weekday: NDArray[np.int64]  # Monday 0
    minute: NDArray[np.int64]  # minutes after local midnight
    date: NDArray[np.int64]  # local date as a proleptic ordinal
    month: NDArray[np.int64]  # local year * 12 + month - 1

    def __len__(self) -> int:
        return len(self.weekday)

    @property
    def hour_of_week(self) -> NDArray[np.int64]:
        return self.weekday * 24 + self.minute // 60

    def start(self, i: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t0_ns / 1e9 + i * self.step_s, dt.UTC)


def clock(t0_ns: int, n: int, step_s: int, zone: ZoneInfo) -> Clock:
    """Local time of n steps from t0 (one zone lookup per step: a few thousand a month)."""
    local = [
        dt.datetime.fromtimestamp(t0_ns / 1e9 + i * step_s, dt.UTC).astimezone(zone)
        for i in range(n)
    ]
    return Clock(
        t0_ns,
        step_s,
        np.array([x.weekday() for x in local], dtype=np.int64),
        np.array([x.hour * 60 + x.minute for x in local], dtype=np.int64),
        np.array([x.toordinal() for x in local], dtype=np.int64),
        np.array([x.year * 12 + x.month - 1 for x in local], dtype=np.int64),
    )


def producing(c: Clock, cal: ProductionCalendar) -> NDArray[np.bool_]:
    """True in steps inside a shift (by the step's start). A shift belongs to the day it
    starts: a holiday has none, a worked weekend day (workdays) has those of
    ``workday_pattern``, and a shift past midnight runs on into the next day."""
    hol = [d.toordinal() for d in cal.holidays]
    extra = [d.toordinal() for d in cal.workdays]
    pattern = cal.workday_pattern.number

    def as_weekday(date: NDArray[np.int64], weekday: NDArray[np.int64]) -> NDArray[np.int64]:
        w = np.where(np.isin(date, extra), pattern, weekday)
        return np.where(np.isin(date, hol), -1, w)  # -1: no shifts that day

    today = as_weekday(c.date, c.weekday)
    yesterday = as_weekday(c.date - 1, (c.weekday - 1) % 7)
    out = np.zeros(len(c), dtype=bool)
    for s in cal.shifts:
        days = [d.number for d in s.days]
        lo, hi = clock_minutes(s.start), clock_minutes(s.end)
        if hi > lo:
            out |= np.isin(today, days) & (c.minute >= lo) & (c.minute < hi)
        else:
            out |= np.isin(today, days) & (c.minute >= lo)
            out |= np.isin(yesterday, days) & (c.minute < hi)
    return out


def to_hours(quarters: NDArray[np.float64]) -> NDArray[np.float64]:
    """(meter, 15-min) to (meter, hour) sums; an hour with no data at all stays NaN."""
    m, q = quarters.shape
    x = quarters[:, : q - q % 4].reshape(m, -1, 4)
    seen = ~np.isnan(x)
    return np.where(seen.any(axis=2), np.nansum(x, axis=2), np.nan)


def runs(flag: NDArray[np.bool_], min_len: int) -> NDArray[np.bool_]:
    """Keep only the runs of True at least ``min_len`` long, per row (vectorized)."""
    m, n = flag.shape
    edges = np.diff(np.pad(flag, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    sr, sc = np.nonzero(edges == 1)
    _, ec = np.nonzero(edges == -1)  # row-major: the k-th end closes the k-th start
    keep = (ec - sc) >= min_len
    mark = np.zeros((m, n + 1), dtype=np.int32)
    np.add.at(mark, (sr[keep], sc[keep]), 1)
    np.add.at(mark, (sr[keep], ec[keep]), -1)
    return np.cumsum(mark[:, :n], axis=1) > 0


@dataclass(frozen=True)
class Idle:
    excess: NDArray[np.float64]  # (meter, hour) energy above the quiescent level, 0 elsewhere
    mask: NDArray[np.bool_]  # (meter, hour) counted as idle load
    quiescent: NDArray[np.float64]  # per meter, energy per hour
    operating: NDArray[np.float64]  # per meter, median energy per production hour


def idle_load(e: NDArray[np.float64], on: NDArray[np.bool_], rules: OpportunityRules) -> Idle:
    """Energy outside the production calendar above the meter's quiet level."""
    m = e.shape[0]
    off = ~on
    nan_m = np.full(m, np.nan)
    if not off.any() or not on.any():
        z = np.zeros_like(e)
        return Idle(z, z.astype(bool), nan_m, nan_m)
    with _quiet():
        operating = np.nanmedian(e[:, on], axis=1)
        e_off = e[:, off]
        q = np.nanpercentile(e_off, QUIESCENT_QUANTILE, axis=1)
        quiescent = np.nanmedian(np.where(e_off <= q[:, None], e_off, np.nan), axis=1)
    excess = e - quiescent[:, None]
    threshold = rules.idle_min_fraction * operating
    flag = off[None, :] & (excess > threshold[:, None]) & np.isfinite(excess)
    mask = runs(flag, rules.idle_min_hours)
    return Idle(np.where(mask, excess, 0.0), mask, quiescent, operating)


@dataclass(frozen=True)
class Drift:
    found: NDArray[np.bool_]  # per meter
    excess_per_hour: NDArray[np.float64]  # per meter: mean residual of the run's last week
    start: NDArray[np.int64]  # per meter: hour the drift began (-1: none)
    mask: NDArray[np.bool_]  # (meter, hour)
    expected: NDArray[np.float64]  # (meter, hour)


def expected_profile(
    e: NDArray[np.float64], how: NDArray[np.int64], ref: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """(meter, hour) expected energy: the median of the same hour of the week in the
    reference hours (vectorized over meters)."""
    n_ref = int(ref.sum())
    if n_ref and n_ref % HOURS_PER_WEEK == 0 and ref[:n_ref].all():
        # Whole weeks at the start (the usual case): one median over the weeks axis.
        weeks = e[:, :n_ref].reshape(e.shape[0], -1, HOURS_PER_WEEK)
        with _quiet():
            profile = np.nanmedian(weeks, axis=1)  # (meter, slot), slot 0 = the first hour
        return np.asarray(profile[:, (how - how[0]) % HOURS_PER_WEEK], dtype=np.float64)
    return profile_by_slot(e, how, ref)


def profile_by_slot(
    e: NDArray[np.float64], how: NDArray[np.int64], ref: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """``expected_profile`` for any reference hours: one median per hour of the week."""
    out = np.full(e.shape, np.nan)
    with _quiet():
        for k in range(HOURS_PER_WEEK):
            cols = how == k
            sample = cols & ref
            if sample.any():
                out[:, cols] = np.nanmedian(e[:, sample], axis=1)[:, None]
    return out


def drift(
    e: NDArray[np.float64],
    how: NDArray[np.int64],
    ref: NDArray[np.bool_],
    rules: OpportunityRules,
    exclude: NDArray[np.bool_] | None = None,
) -> Drift:
    """Consumption above the meter's own reference profile, long enough to matter."""
    m, n = e.shape
    expected = expected_profile(e, how, ref)
    resid = e - expected
    if exclude is not None:  # hours counted as idle load are not counted twice
        resid = np.where(exclude, np.nan, resid)
    weeks = max(int(ref.sum()) // HOURS_PER_WEEK, 1)
    with _quiet():
        r_ref = resid[:, ref]
        mad = np.nanmedian(np.abs(r_ref - np.nanmedian(r_ref, axis=1)[:, None]), axis=1)
        # A reference residual has sd s*sqrt((n-1)/n) (its own sample is in the median),
        # a new hour's residual s*sqrt(1+1/n): scale the first to the second.
        sigma = MAD_TO_SIGMA * mad * np.sqrt((weeks + 1) / max(weeks - 1, 1))
        level = np.nanmean(expected, axis=1)
    roll = _rolling_mean(resid, 24)
    threshold = np.maximum(rules.drift_z * sigma / np.sqrt(24), rules.drift_min_fraction * level)
    flag = (roll > threshold[:, None]) & ~ref[None, :] & np.isfinite(roll)
    mask = runs(flag, rules.drift_min_hours)
    found = np.asarray(mask.any(axis=1), dtype=bool)
    start = np.full(m, -1, dtype=np.int64)
    excess = np.zeros(m)
    for i in np.flatnonzero(found):  # only meters with a drift: a handful
        first = int(np.argmax(mask[i]))
        # The 24-hour mean crosses the threshold up to a day after the drift began.
        start[i] = max(first - 23, 0)
        # The rate now: the mean residual of the window's last whole week (a week, so the
        # weekly cycle does not bias it), or since the drift began if that is shorter.
        with _quiet():
            excess[i] = float(np.nanmean(resid[i, max(start[i], n - LAST_WEEK_H) :]))
    return Drift(found, excess, start, mask, expected)


def _rolling_mean(x: NDArray[np.float64], w: int) -> NDArray[np.float64]:
    """Trailing mean over w steps, NaN-aware (NaN until w steps exist, or with no data)."""
    ok = np.isfinite(x)
    c = np.cumsum(np.where(ok, x, 0.0), axis=1)
    k = np.cumsum(ok, axis=1)
    c = np.pad(c, ((0, 0), (1, 0)))
    k = np.pad(k, ((0, 0), (1, 0)))
    s = c[:, w:] - c[:, :-w]
    cnt = k[:, w:] - k[:, :-w]
    with np.errstate(all="ignore"):
        out = np.where(cnt >= w // 2, s / cnt, np.nan)
    return np.pad(out, ((0, 0), (w - 1, 0)), constant_values=np.nan)


@dataclass(frozen=True)
class Peak:
    row: int  # site (or meter) row of the demand matrix
    month: int  # local year * 12 + month - 1
    peak_kw: float
    level_kw: float  # exceeded in fewer than rules.peak_intervals intervals
    at: int  # quarter index of the peak


def demand_peaks(
    kw: NDArray[np.float64], month: NDArray[np.int64], rules: OpportunityRules
) -> list[Peak]:
    """Per row and local month: a sharp peak worth shaving (see the module note)."""
    out: list[Peak] = []
    k = rules.peak_intervals
    for mo in np.unique(month):  # a month or two per window
        x = np.where(np.isfinite(kw[:, month == mo]), kw[:, month == mo], -np.inf)
        if x.shape[1] <= k:
            continue
        part = -np.partition(-x, k, axis=1)[:, : k + 1]
        peak, level = part.max(axis=1), np.sort(part, axis=1)[:, 0]
        sharp = np.isfinite(peak) & (peak - level >= PEAK_MIN_FRACTION * peak) & (peak > 0)
        idx = np.flatnonzero(month == mo)
        for r in np.flatnonzero(sharp):
            out.append(
                Peak(int(r), int(mo), float(peak[r]), float(level[r]), int(idx[np.argmax(x[r])]))
            )
    return out


def peak_saving_kw(
    site_kw: NDArray[np.float64], load_kw: NDArray[np.float64], month: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per local month: billed kW saved if the load ran outside the site's peak (its
    own kW taken out of every interval; put back where it does not set a new peak)."""
    out = []
    for mo in np.unique(month):
        s = np.nan_to_num(site_kw[month == mo])
        ld = np.nan_to_num(load_kw[month == mo])
        out.append(float(s.max() - (s - ld).max()) if len(s) else 0.0)
    return np.array(out)


@contextmanager
def _quiet() -> Iterator[None]:
    """All-NaN rows are expected (a meter silent in a window): no RuntimeWarning."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Slot:
    start_hour: int  # local hour of day the load starts
    tco2e: float  # of the run in this slot
    worst_tco2e: float  # of the run in the worst allowed slot


def lowest_emission_slot(
    t_per_mwh: NDArray[np.float64], mwh_per_hour: float, hours: int, earliest: int, latest_end: int
) -> Slot | None:
    """The start hour between ``earliest`` and ``latest_end - hours`` with the least
    tCO2e for a load of ``mwh_per_hour`` over ``hours`` consecutive hours of the day
    (``t_per_mwh``: 24 marginal intensities), and the worst one for comparison."""
    starts = np.arange(earliest, latest_end - hours + 1)
    if len(starts) == 0:
        return None
    c = np.concatenate([[0.0], np.cumsum(t_per_mwh)])
    runs = (c[starts + hours] - c[starts]) * mwh_per_hour
    # The earliest of the equal best (cumulative sums differ in the last bits).
    best = int(np.flatnonzero(runs <= runs.min() + 1e-12 * max(1.0, float(runs.max())))[0])
    return Slot(int(starts[best]), float(runs[best]), float(runs.max()))


def marginal_intensity(
    grid_t_per_mwh: float, surplus_mwh: NDArray[np.float64], load_mwh: float
) -> NDArray[np.float64]:
    """tCO2e per MWh of an extra load in each hour: grid power, except the part renewable
    surplus (PV that would be exported, PPA generation not matched) would cover."""
    covered = np.clip(surplus_mwh / load_mwh, 0.0, 1.0) if load_mwh > 0 else 0.0
    return np.asarray(grid_t_per_mwh * (1.0 - covered), dtype=np.float64)
