"""Baseline backtest on the simulator: fit on the first two weeks (hourly, tce on
production), judge the fit against ASHRAE Guideline 14, assess the next two weeks. The
clean plant saves nothing (within noise); the drifting chiller shows as excess."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from carbonstream.core import baseline as bl
from carbonstream.core.energy import for_plant
from carbonstream.energy.baselines import assess
from tests.energy.simplant import DAYS, START, Sim, hourly_lines, run_sim

# slow: simulates a plant for weeks (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

NS = 1_000_000_000


def backtest(s: Sim) -> dict[str, dict[str, Any]]:
    lines, ef = hourly_lines(s)
    lo = int((START + dt.timedelta(days=14)).timestamp()) * NS
    hi = int((START + dt.timedelta(days=DAYS)).timestamp()) * NS
    ep = for_plant(s.plant, s.acc.engine.params.canonical_unit)
    return {u["id"]: u for u in assess(ep, lines, ef, lo, hi)}


@pytest.fixture(scope="module")
def clean() -> dict[str, dict[str, Any]]:
    return backtest(run_sim(clean=True))


@pytest.fixture(scope="module")
def planted() -> tuple[Sim, dict[str, dict[str, Any]]]:
    s = run_sim(clean=False)
    return s, backtest(s)


def test_backtest_reports_r2_and_cv_rmse(clean: dict[str, dict[str, Any]]) -> None:
    for uid in ("site:hall", "hall"):
        u = clean[uid]
        m = u["model"]
        print(
            f"{uid}: R2 {m['r2']:.4f}, CV(RMSE) {m['cv_rmse_pct']:.2f} %,"
            f" NMBE {m['nmbe_pct']:.2e} %"
        )
        assert m["points"] == 14 * 24 and u["interval"] == "hour"
        assert 0.9 < m["r2"] <= 1 and 0 < m["cv_rmse_pct"] < m["limit_cv_rmse_pct"] == 30
        assert u["valid"] and u["why_not_valid"] == []
        # Nothing changed in the reporting weeks: savings within 1 % of expected.
        assert abs(u["reporting"]["savings_pct"]) < 1.0
        assert u["reporting"]["points"] == 14 * 24
        assert u["cusum"][-1]["cusum_tce"] == pytest.approx(-u["reporting"]["savings_tce"])


def test_drift_shows_as_excess_against_the_baseline(
    planted: tuple[Sim, dict[str, dict[str, Any]]], clean: dict[str, dict[str, Any]]
) -> None:
    s, got = planted
    site = got["site:hall"]
    # The chiller's planted excess in the reporting weeks, in tce (0.1229 tce/MWh).
    clean_sim = run_sim(clean=True)
    lo = 14 * 24
    excess_tce = 0.1229 * (s.meter_energy("chiller", lo) - clean_sim.meter_energy("chiller", lo))
    assert excess_tce > 0.4
    assert -site["reporting"]["savings_tce"] == pytest.approx(excess_tce, rel=0.35)
    assert site["cusum"][-1]["cusum_tce"] > 0  # rising: more than the baseline expects
    assert site["reporting"]["savings_tco2e"] < 0
    # The use without the chiller did not change.
    assert got["hall"]["reporting"]["savings_tce"] == pytest.approx(
        clean["hall"]["reporting"]["savings_tce"], rel=1e-9
    )


def test_fit_statistics_by_hand() -> None:
    # y = 2 + 3x exactly, plus residuals +1, -1, +1, -1 at x = 0..3:
    # y = 3, 4, 9, 10; OLS: slope = 2.6? Worked: xbar 1.5, ybar 6.5,
    # Sxy = (-1.5)(-3.5) + (-0.5)(-2.5) + (0.5)(2.5) + (1.5)(3.5) = 13, Sxx = 5 -> m = 2.6,
    # c = 6.5 - 2.6 x 1.5 = 2.6; fitted 2.6, 5.2, 7.8, 10.4; residuals 0.4, -1.2, 1.2, -0.4;
    # SSE = 0.16 + 1.44 + 1.44 + 0.16 = 3.2; CV = sqrt(3.2 / (4 - 2)) / 6.5 = 19.46 %.
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([3.0, 4.0, 9.0, 10.0])
    m = bl.fit(x, y, "month")
    assert m.coef == pytest.approx([2.6, 2.6])
    assert m.cv_rmse_pct == pytest.approx(100 * np.sqrt(1.6) / 6.5)
    assert m.nmbe_pct == pytest.approx(0.0, abs=1e-9)
    # SST = 12.25 + 6.25 + 6.25 + 12.25 = 37; R2 = 1 - 3.2 / 37.
    assert m.r2 == pytest.approx(1 - 3.2 / 37)
    assert not m.valid  # 19.5 % > 15 % (monthly) and 4 < 12 points
    assert any("CV(RMSE)" in w for w in m.why) and any("at least 12" in w for w in m.why)


def test_fit_many_equals_fit_row_by_row() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 200)
    y = 5 + 2 * x[None, :] * rng.uniform(0.5, 2, (6, 1)) + rng.normal(0, 1, (6, 200))
    y[2, 17] = np.nan  # a gap: that row fits over 199 points
    many = bl.fit_many(x, y, "hour")
    for r in range(6):
        one = bl.fit(x, y[r], "hour")
        assert [many.intercept[r], many.slope[r]] == pytest.approx(list(one.coef), rel=1e-9)
        assert many.cv_rmse_pct[r] == pytest.approx(one.cv_rmse_pct, rel=1e-9)
        assert many.r2[r] == pytest.approx(one.r2, rel=1e-9)
        assert many.nmbe_pct[r] == pytest.approx(one.nmbe_pct, abs=1e-9)
        assert many.n[r] == one.n and bool(many.valid[r]) == one.valid
