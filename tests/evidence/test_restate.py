"""A restatement leaves the old account intact and equals a fresh batch computation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carbonstream.cli import main
from carbonstream.compute import run, site_rows
from carbonstream.core import Engine, FactorLibrary
from carbonstream.restate import restate
from carbonstream.store.db import connect
from carbonstream.store.evidence import local_bounds
from carbonstream.store.green import list_restatements
from tests.ingest import helpers as h

CORRECTION = (
    "id,version,series,region,value,unit,gas,valid_from,valid_to,data_year,source,table,"
    "verified,description\n"
    "cn.elec.national_avg.2023,2,cn.grid.avg,CN,0.5500,tCO2/MWh,CO2,2023-01-01,2023-12-31,"
    "2023,corrected annex (test),table 1,yes,corrected value\n"
)


def live_totals(url: str) -> dict[str, dict[str, float]]:
    return h.db_totals(url)


def test_restatement_is_stored_beside_the_live_account(filled_db: str, tmp_path: Path) -> None:
    fix = tmp_path / "correction.csv"
    fix.write_text(CORRECTION)
    before = live_totals(filled_db)
    with connect(filled_db) as conn:
        r = restate(
            conn,
            dt.date(2026, 11, 22),
            dt.date(2026, 11, 24),
            "2023 grid factor corrected",
            [fix],
        )
    assert live_totals(filled_db) == before  # nothing silently rewritten

    # A fresh batch computation of the same readings with the corrected library.
    ex = h.example()
    lib = FactorLibrary.load([*ex.plant.factor_files, fix])
    acc = run(Engine(ex.plant, lib), ex.batch)
    lo, hi = local_bounds(r.first, r.last, ex.plant.zone)
    fresh = site_rows(acc, int(lo.timestamp()) * 10**9, int(hi.timestamp()) * 10**9)
    for i, site in enumerate(ex.plant.sites):
        want = fresh.totals(len(ex.plant.sites))[i]
        for col in ("scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh"):
            assert r.totals[site.id][col] == pytest.approx(want[col], rel=1e-9), (site.id, col)
    # The corrected grid factor raises location-based Scope 2 by 0.5500 / 0.5306.
    s2_old = sum(v["scope2_location_t"] - v["scope2_heat_t"] for v in before.values())
    s2_new = sum(v["scope2_location_t"] - v["scope2_heat_t"] for v in r.totals.values())
    assert s2_new / s2_old == pytest.approx(0.5500 / 0.5306, rel=1e-9)
    with connect(filled_db) as conn:
        assert "2023 grid factor corrected" in [x[1] for x in list_restatements(conn)]
        days = conn.execute(
            "SELECT count(*) FROM restated_site_day WHERE restatement = %s", (r.id,)
        ).fetchone()
    assert days == (6,)  # 2 sites x 3 days


def test_restate_command(
    filled_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "restate",
                "--db-url",
                filled_db,
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-24",
                "--label",
                "same factors (no change)",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "the live account is unchanged" in out and "foundry" in out
