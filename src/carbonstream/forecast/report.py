"""``carbonstream backtest``: the forecast's error on a site's stored history.

Rolling origin over the last ``weeks`` weeks of ``site_minute`` (in
quarter-hours): from the end of the second week, one day-ahead forecast per
day, each scored against what was then stored. Three forecasters from the same
origins: the model as served (alpha and gamma re-chosen at each origin from the
earlier days' errors: out of sample), additive Holt-Winters with the first
version's fixed constants (alpha 0.05, gamma 0.3), and the seasonal-naive
baseline (same quarter-hour last week).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from carbonstream.forecast.model import DAY, NS, SLOTS_PER_WEEK, STEP_S, backtest
from carbonstream.forecast.projection import History, NotEnoughHistoryError, quarter_floor
from carbonstream.store.db import Conn
from carbonstream.store.queries import forecast as q

# The reference row: the first version's fixed constants, additive season.
FIXED_ALPHA, FIXED_GAMMA = 0.05, 0.3


def _pct(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)


def run(
    conn: Conn,
    zone: ZoneInfo,
    site: str,
    measure: str,
    until: dt.datetime,
    weeks: int,
    horizon: int = DAY,
) -> dict[str, Any]:
    """The backtest of one site and measure on the ``weeks`` weeks before ``until``."""
    cut = quarter_floor(until.timestamp())
    lo = cut - weeks * 7 * 86_400 * NS
    rows = q.quarters_sync(
        conn, site, measure, dt.datetime.fromtimestamp(lo / NS, dt.UTC), until.astimezone(dt.UTC)
    )
    h = History.from_rows(rows, cut)
    need = 2 * SLOTS_PER_WEEK + horizon
    if len(h.y) < need:
        raise NotEnoughHistoryError(h.span_s, need * STEP_S)
    served = backtest(h.ts_ns, h.y, zone, horizon)
    fixed = backtest(
        h.ts_ns, h.y, zone, horizon, alpha=FIXED_ALPHA, gamma=FIXED_GAMMA, multiplicative=False
    )

    def at(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / NS, zone).isoformat()

    return {
        "site": site,
        "scope": measure,
        "unit": "tCO2e",
        "history": {
            "start": at(h.start_ns),
            "end": at(h.end_ns),
            "days": round(h.span_s / 86400, 2),
            "quarters_with_data": h.with_data,
            "quarters_missing": len(h.y) - h.with_data,
            "total_t": round(float(np.nansum(h.y)), 6),
        },
        "horizon_h": horizon * STEP_S / 3600,
        "forecasts": served.n_forecasts,
        "first_origin": at(h.start_ns + 2 * SLOTS_PER_WEEK * STEP_S * NS),
        "mape_excludes": "quarter-hours under 5 % of the history's maximum before the origin",
        "results": [
            {
                "method": "Holt-Winters weekly, chosen on earlier days (as served)",
                "mape_pct": _pct(served.mape_pct),
                "bias_pct": _pct(served.bias_pct),
                "model": "ETS(A,N,M)" if served.multiplicative else "ETS(A,N,A)",
                "alpha": served.alpha,
                "gamma": served.gamma,
            },
            {
                "method": f"ETS(A,N,A) weekly, fixed alpha={FIXED_ALPHA:g}, gamma={FIXED_GAMMA:g}",
                "mape_pct": _pct(fixed.mape_pct),
                "bias_pct": _pct(fixed.bias_pct),
                "model": "ETS(A,N,A)",
                "alpha": FIXED_ALPHA,
                "gamma": FIXED_GAMMA,
            },
            {
                "method": "seasonal naive (same quarter-hour last week)",
                "mape_pct": _pct(served.baseline_mape_pct),
                "bias_pct": _pct(served.baseline_bias_pct),
            },
        ],
    }


def to_table(r: dict[str, Any]) -> str:
    h = r["history"]
    lines = [
        f"backtest: site {r['site']}, {r['scope']} ({r['unit']})",
        f"history:  {h['start']} .. {h['end']} ({h['days']} days, "
        f"{h['quarters_with_data']} quarter-hours with data, {h['quarters_missing']} missing)",
        f"forecasts: {r['forecasts']} x {r['horizon_h']:g} h ahead, rolling daily from "
        f"{r['first_origin']}",
        "",
        f"{'method':<68} {'MAPE %':>7} {'bias %':>7}",
    ]
    for x in r["results"]:
        mape = "—" if x["mape_pct"] is None else f"{x['mape_pct']:.2f}"
        bias = "—" if x["bias_pct"] is None else f"{x['bias_pct']:+.2f}"
        lines.append(f"{x['method']:<68} {mape:>7} {bias:>7}")
    served = r["results"][0]
    lines += [
        "",
        f"last choice: {served['model']}, alpha={served['alpha']:g}, gamma={served['gamma']:g};"
        f" MAPE leaves out "
        f"{r['mape_excludes']}; bias = (forecast - actual) / actual over all.",
    ]
    return "\n".join(lines) + "\n"


def to_json(r: dict[str, Any]) -> str:
    return json.dumps(r, indent=2) + "\n"
