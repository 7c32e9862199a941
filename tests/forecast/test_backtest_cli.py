"""`carbonstream backtest` on history stored in the database: a known weekly pattern with
day-to-day swings and noise, eight weeks of one-minute rows; the forecast as served beats
the seasonal-naive baseline on the same origins."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from carbonstream.cli import main
from tests.forecast.history import ZONE, plant_db, write

# slow: stores months of history and runs the CLI (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

START = dt.datetime(2026, 1, 5, tzinfo=ZONE)  # a Monday
END = START + dt.timedelta(weeks=8)


def test_backtest_beats_seasonal_naive(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    plant_db(db_url)
    written = write(db_url, "foundry", START, END, step_min=1)
    write(db_url, "assembly", START, END, step_min=15, k=1.0, seed=2)  # not in the result
    args = ["backtest", "--db-url", db_url, "--site", "foundry", "--scope", "total_market"]
    until = ["--weeks", "8", "--until", END.replace(tzinfo=None).isoformat()]
    assert main([*args, *until, "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["forecasts"] == 6 * 7 and r["horizon_h"] == 24
    h = r["history"]
    assert h["quarters_with_data"] == 8 * 672 and h["quarters_missing"] == 0
    assert h["total_t"] == pytest.approx(written.sum_between(START, END), rel=1e-9)
    served, fixed, naive = r["results"]
    assert naive["method"].startswith("seasonal naive")
    assert served["mape_pct"] < 0.6 * naive["mape_pct"]
    assert abs(served["bias_pct"]) < 3.0
    assert served["mape_pct"] < 0.8 * fixed["mape_pct"]  # the first version's fixed constants
    assert served["model"] == "ETS(A,N,M)"
    # The table says the same.
    assert main([*args, *until]) == 0
    table = capsys.readouterr().out
    assert f"{naive['mape_pct']:.2f}" in table and f"{served['mape_pct']:.2f}" in table
    print(json.dumps(r["results"]))  # the figures, for the docs (pytest -s)


def test_backtest_refuses_short_history(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    plant_db(db_url)
    write(db_url, "foundry", START, START + dt.timedelta(days=10), step_min=15)
    until = (START + dt.timedelta(days=10)).isoformat()
    args = ["backtest", "--db-url", db_url, "--site", "foundry", "--until", until]
    assert main(args) == 1
    assert "needs 15 days of history; the site has 10.0 days" in capsys.readouterr().err
    assert main([*args[:-4], "--site", "hall-9"]) == 1
    assert "no site 'hall-9'" in capsys.readouterr().err
