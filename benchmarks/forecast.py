"""Forecast accuracy on simulated history: the example plant through the accounting core.

Simulates ``--weeks`` weeks of the example plant's meters (``carbonstream.sim``:
shift profiles, weekends, the generator's weekly test, PV, noise on every
reading), runs them through the accounting core into 1-minute site rows (what
ingest stores in ``site_minute``), sums them into quarter-hours and backtests,
per site, on Scope 1 + Scope 2 market-based: the model as served (form, alpha
and gamma re-chosen at each origin from earlier days only), the first version's
fixed additive model (alpha 0.05, gamma 0.3) and seasonal naive, one day-ahead
forecast per day after the first two weeks. ``--swing`` multiplies each day by
a production level that moves from day to day (AR(1) with that standard
deviation), which the simulator alone does not do.

Prints one JSON object per site and method. The figures of record are in
docs/forecast.md. ``carbonstream backtest`` runs the same backtest on a
database's stored history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from carbonstream.compute import run, site_rows
from carbonstream.config.loader import load_plant
from carbonstream.core import Engine, FactorLibrary
from carbonstream.forecast.model import NS, STEP_S, backtest
from carbonstream.readings_file import load_readings
from carbonstream.sim.readings import SimOptions, simulate

PLANT = Path(__file__).resolve().parents[1] / "config" / "plant.example.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--swing", type=float, default=0.0, help="day-to-day level, e.g. 0.05")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    plant = load_plant(PLANT)
    zone = plant.zone
    start = dt.datetime(2026, 1, 5, tzinfo=zone)  # a Monday
    t0 = time.perf_counter()
    df = simulate(plant, SimOptions(start=start, hours=args.weeks * 168, seed=args.seed))
    engine = Engine(plant, FactorLibrary.load(plant.factor_files), base_s=60)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "readings.parquet"
        df.write_parquet(path)
        batch = load_readings(path, engine.params.ids).batch
    rows = site_rows(run(engine, batch))
    simulated_s = time.perf_counter() - t0
    lo = int(start.timestamp()) * NS
    n = args.weeks * 7 * 96
    ts = lo + np.arange(n, dtype=np.int64) * STEP_S * NS
    rng = np.random.default_rng(args.seed)
    level = np.zeros(n // 96)
    for d in range(1, len(level)):
        level[d] = 0.7 * level[d - 1] + args.swing * rng.standard_normal()
    day_level = 1 + level[np.arange(n) // 96]
    for i, site in enumerate(plant.sites):
        mine = rows.site == i
        q = (rows.bucket[mine] - lo) // (STEP_S * NS)
        keep = (q >= 0) & (q < n)
        y = np.zeros(n)
        total = rows.values["scope1_t"][mine] + rows.values["scope2_market_t"][mine]
        np.add.at(y, q[keep], total[keep])
        y *= day_level
        t1 = time.perf_counter()
        served = backtest(ts, y, zone)
        fit_s = time.perf_counter() - t1
        fixed = backtest(ts, y, zone, alpha=0.05, gamma=0.3, multiplicative=False)
        common = {
            "site": site.id,
            "weeks": args.weeks,
            "swing": args.swing,
            "forecasts": served.n_forecasts,
            "mean_t_per_day": round(y.sum() / (n / 96), 3),
        }
        for method, mape, bias, extra in (
            ("as served", served.mape_pct, served.bias_pct,
             {"model": served.method, "backtest_s": round(fit_s, 3)}),
            ("first version (additive, 0.05, 0.3)", fixed.mape_pct, fixed.bias_pct, {}),
            ("seasonal naive", served.baseline_mape_pct, served.baseline_bias_pct, {}),
        ):  # fmt: skip
            print(json.dumps({**common, "method": method, "mape_pct": round(mape, 2),
                              "bias_pct": round(bias, 2), **extra}))  # fmt: skip
    print(json.dumps({"simulated_and_accounted_s": round(simulated_s, 1)}))


if __name__ == "__main__":
    main()
