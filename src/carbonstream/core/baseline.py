"""Energy baselines (ISO 50006 EnB): a linear regression of energy on its drivers over a
baseline period, its fit judged against ASHRAE Guideline 14, and what it expects later.

    expected E = c + m1*D1 + ... (c: base load; m: energy per unit of driver)

Fit statistics, as ASHRAE Guideline 14 defines them (p = parameters of the model):

    CV(RMSE) = sqrt(sum (y - yhat)^2 / (n - p)) / mean(y)
    NMBE     = sum (y - yhat) / ((n - p) * mean(y))

Limits: monthly data CV(RMSE) <= 15 %, |NMBE| <= 5 %; hourly data 30 % and 10 %.
Guideline 14 gives no limit for daily data: a daily model is held to the monthly
limits, the stricter ones. A model that fails them, or rests on too few points,
is reported as not valid; its savings are still shown, marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Interval = Literal["hour", "day", "month"]
# (CV(RMSE) %, |NMBE| %) by data interval.
ASHRAE14_LIMITS: dict[str, tuple[float, float]] = {
    "month": (15.0, 5.0),
    "day": (15.0, 5.0),
    "hour": (30.0, 10.0),
}
MIN_POINTS: dict[str, int] = {"month": 12, "day": 14, "hour": 168}
R2_GUIDE = 0.75  # a check some EnPI tools cite; informational, not in the validity test


@dataclass(frozen=True)
class Model:
    interval: str
    coef: NDArray[np.float64]  # intercept first, then one slope per driver
    n: int
    r2: float
    cv_rmse_pct: float
    nmbe_pct: float
    valid: bool
    why: tuple[str, ...]  # reasons it is not valid (empty when valid)

    def predict(self, drivers: NDArray[np.float64]) -> NDArray[np.float64]:
        x = np.atleast_2d(drivers.T).T if drivers.ndim == 1 else drivers
        return np.asarray(self.coef[0] + x @ self.coef[1:], dtype=np.float64)


def fit(drivers: NDArray[np.float64], energy: NDArray[np.float64], interval: str) -> Model:
    """Ordinary least squares over the rows where energy and every driver are known."""
    x = drivers.reshape(len(drivers), -1)
    ok = np.isfinite(energy) & np.isfinite(x).all(axis=1)
    x, y = x[ok], energy[ok]
    n, p = len(y), x.shape[1] + 1
    why: list[str] = []
    if n <= p or not np.any(y):
        return Model(interval, np.zeros(p), n, float("nan"), float("nan"), float("nan"), False,
                     (f"{n} points: too few to fit {p} parameters",))  # fmt: skip
    a = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - a @ coef
    sse = float(resid @ resid)
    mean = float(y.mean())
    sst = float(((y - mean) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else float("nan")
    cv = 100.0 * np.sqrt(sse / (n - p)) / mean if mean else float("nan")
    nmbe = 100.0 * float(resid.sum()) / ((n - p) * mean) if mean else float("nan")
    cv_lim, nmbe_lim = ASHRAE14_LIMITS[interval]
    if not cv <= cv_lim:
        why.append(f"CV(RMSE) {cv:.1f} % > {cv_lim:.0f} % (ASHRAE Guideline 14, {interval})")
    if not abs(nmbe) <= nmbe_lim:
        why.append(f"|NMBE| {abs(nmbe):.1f} % > {nmbe_lim:.0f} % (ASHRAE Guideline 14)")
    if n < MIN_POINTS[interval]:
        why.append(f"{n} {interval}s in the baseline period; at least {MIN_POINTS[interval]}")
    return Model(
        interval, np.asarray(coef, dtype=np.float64), n, r2, float(cv), nmbe, not why, tuple(why)
    )


# A temperature bucket (hour, day) counts when the meter covered this share of it;
# a mean from less would put one part of the day for the whole.
MIN_TEMPERATURE_COVERAGE = 0.75


def mean_temperature(
    degree_hours: NDArray[np.float64], covered_h: NDArray[np.float64], bucket_h: float
) -> NDArray[np.float64]:
    """Time-weighted mean °C of each bucket: its integrated degree-hours over the hours
    the meter covered; NaN where it covered less than MIN_TEMPERATURE_COVERAGE."""
    enough = covered_h >= MIN_TEMPERATURE_COVERAGE * bucket_h
    with np.errstate(all="ignore"):
        return np.where(enough, degree_hours / covered_h, np.nan)


def degree_days(
    mean_c: NDArray[np.float64], base_c: float, heating: bool, days: float
) -> NDArray[np.float64]:
    """Heating (base - T) or cooling (T - base) degree days of buckets ``days`` long with
    mean temperature ``mean_c`` (°C), never negative; NaN stays NaN."""
    d = base_c - mean_c if heating else mean_c - base_c
    return np.where(np.isnan(d), np.nan, np.maximum(d, 0.0) * days)


def cusum(actual: NDArray[np.float64], expected: NDArray[np.float64]) -> NDArray[np.float64]:
    """Running sum of actual - expected (rising: more than the baseline expects; the
    change over an interval is the waste, or with a minus sign the saving, in it)."""
    d = np.where(np.isfinite(actual) & np.isfinite(expected), actual - expected, 0.0)
    return np.cumsum(d)


@dataclass(frozen=True)
class Fits:
    """One-driver models of many series at once (rows), same statistics as ``fit``."""

    intercept: NDArray[np.float64]
    slope: NDArray[np.float64]
    n: NDArray[np.int64]
    r2: NDArray[np.float64]
    cv_rmse_pct: NDArray[np.float64]
    nmbe_pct: NDArray[np.float64]
    valid: NDArray[np.bool_]


def fit_many(driver: NDArray[np.float64], energy: NDArray[np.float64], interval: str) -> Fits:
    """E[r] = c[r] + m[r] * driver for every row r of ``energy`` (closed-form OLS over
    the finite points of each row: a pass over the matrix, no loop over rows)."""
    ok = np.isfinite(energy) & np.isfinite(driver)[None, :]
    w = ok.astype(np.float64)
    x = np.where(ok, driver[None, :], 0.0)
    y = np.where(ok, energy, 0.0)
    n = w.sum(axis=1)
    with np.errstate(all="ignore"):
        mx, my = x.sum(axis=1) / n, y.sum(axis=1) / n
        dx = (x - mx[:, None]) * w
        dy = (y - my[:, None]) * w
        sxx, sxy, syy = (dx * dx).sum(axis=1), (dx * dy).sum(axis=1), (dy * dy).sum(axis=1)
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
        intercept = my - slope * mx
        resid = (y - intercept[:, None] - slope[:, None] * x) * w
        sse = (resid * resid).sum(axis=1)
        dof = n - 2
        r2 = np.where(syy > 0, 1 - sse / syy, np.nan)
        cv = 100 * np.sqrt(sse / dof) / my
        nmbe = 100 * resid.sum(axis=1) / (dof * my)
    cv_lim, nmbe_lim = ASHRAE14_LIMITS[interval]
    valid = (cv <= cv_lim) & (np.abs(nmbe) <= nmbe_lim) & (n >= MIN_POINTS[interval])
    return Fits(intercept, slope, n.astype(np.int64), r2, cv, nmbe, valid)
