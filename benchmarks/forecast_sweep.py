"""Benchmark: one fit_auto over eight weeks of quarter-hours (the alert service's and the
API's forecast refit), the Holt-Winters sweep with its seasons slot-major (one contiguous
row per step) against the previous column-gathering sweep kept here as the reference.

Both sweeps must give the same levels, seasons and forecasts bit for bit (checked
before timing). The history is the forecast tests' simulated site (tests/forecast/
history.py's pattern: shifts, weekends, a day level, noise). One JSON object per line.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.loader import load_plant
from carbonstream.forecast import model as fm
from carbonstream.forecast.model import MIN_RATIO, NS, STEP_S, _start, _Sweep

PLANT = "config/plant.example.yaml"


def reference_sweep(
    y: NDArray[np.float64],
    slot: NDArray[np.int64],
    alphas: NDArray[np.float64],
    gammas: NDArray[np.float64],
    mult: NDArray[np.bool_],
    init_n: int,
    origins: list[int],
    horizon: int,
) -> _Sweep:
    """The sweep as it was: seasons point-major, gathered and scattered by fancy indexing."""
    level0, add0, mul0 = _start(y, slot, init_n)
    ia, im = np.flatnonzero(~mult), np.flatnonzero(mult)
    aa, ga, am, gm = alphas[ia], gammas[ia], alphas[im], gammas[im]
    ra, rm = np.arange(len(ia)), np.arange(len(im))
    la, lm = np.full(len(ia), level0), np.full(len(im), level0)
    sa, sm = np.tile(add0, (len(ia), 1)), np.tile(mul0, (len(im), 1))
    preds = np.zeros((len(origins), len(alphas), horizon))
    yl = y.tolist()
    sl = slot.tolist()
    todo = iter(enumerate(origins))
    nxt = next(todo, None)
    for k in range(init_n, len(y)):
        while nxt is not None and nxt[1] == k:
            ahead = slot[k : k + horizon]
            preds[nxt[0], ia] = la[:, None] + sa[:, ahead]
            preds[nxt[0], im] = lm[:, None] * sm[:, ahead]
            nxt = next(todo, None)
        v = yl[k]
        if v != v:
            continue
        s = sl[k]
        if len(ia):
            sea = sa[ra, s]
            new = la + aa * (v - sea - la)
            sa[ra, s] = sea + ga * (v - new - sea)
            la = new
        if len(im):
            sea = sm[rm, s]
            seen = np.where(sea >= MIN_RATIO, v / np.maximum(sea, MIN_RATIO), lm)
            new = lm + am * (seen - lm)
            sm[rm, s] = np.where(new > 0, sea + gm * (v / np.maximum(new, 1e-300) - sea), sea)
            lm = new
    level = np.empty(len(alphas))
    season = np.empty((len(alphas), fm.SLOTS_PER_WEEK))
    level[ia], level[im], season[ia], season[im] = la, lm, sa, sm
    return _Sweep(alphas, gammas, mult, level, season, origins, np.maximum(preds, 0.0))


def history(weeks: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    n = weeks * 7 * 96
    ts = 1_787_500_800 * NS + np.arange(n, dtype=np.int64) * STEP_S * NS  # a Monday, UTC
    rng = np.random.default_rng(11)
    hour = (ts // NS + 8 * 3600) % 86_400 / 3600
    weekday = ((ts // NS + 8 * 3600) // 86_400 + 3) % 7
    busy = ((hour >= 8) & (hour < 20) & (weekday < 5)).astype(float)
    level = 1 + 0.05 * rng.standard_normal(n // 96).repeat(96)
    y = 0.875 * (0.1 + 0.6 * busy) * level * (1 + 0.05 * rng.standard_normal(n))
    y[rng.random(n) < 0.01] = np.nan  # a few quarter-hours without data
    return ts, y


def timed(fits: dict[str, Any], rounds: int) -> dict[str, float]:
    """The fastest of ``rounds`` runs of each, interleaved (a busy machine slows both alike)."""
    best = dict.fromkeys(fits, float("inf"))
    for _ in range(rounds):
        for name, fit in fits.items():
            t = time.perf_counter()
            fit()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def main() -> None:
    zone = load_plant(PLANT).zone
    ts, y = history(8)
    new_sweep = fm._sweep

    def fit(sweep: Any) -> fm.HoltWintersWeekly:
        fm._sweep = sweep
        try:
            return fm.fit_auto(ts, y, zone)
        finally:
            fm._sweep = new_sweep

    new, old = fit(new_sweep), fit(reference_sweep)
    assert (new.alpha, new.gamma, new.multiplicative) == (old.alpha, old.gamma, old.multiplicative)
    assert new.level == old.level and new.history_mape_pct == old.history_mape_pct
    assert new.season is not None and old.season is not None
    assert np.array_equal(new.season, old.season)
    best = timed({"old": lambda: fit(reference_sweep), "new": lambda: fit(new_sweep)}, 7)
    slow, fast = best["old"], best["new"]
    points = len(fm._grid(fm.ALPHAS, fm.GAMMAS)[0])
    common = {"bench": "forecast_fit_auto", "quarter_hours": len(y), "grid_points": points}
    print(json.dumps({**common, "metric": "reference_s", "value": slow, "unit": "s"}))
    print(
        json.dumps(
            {
                **common,
                "metric": "fit_s",
                "value": fast,
                "unit": "s",
                "vs": "reference_s",
                "ratio": slow / fast,
            }
        )
    )


if __name__ == "__main__":
    main()
