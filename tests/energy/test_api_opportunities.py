"""GET /v1/opportunities over the simulated plant stored through ingest's commit path in the
real PostgreSQL: the same findings as the detectors on the batch account, ranked, with the
evidence one request away; and GET /v1/energy on the same data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from carbonstream.core import Engine, FactorLibrary
from carbonstream.ingest.commit import Committer, Part
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant
from tests.api.conftest import Api, serve
from tests.energy.simplant import DAYS, START, plant_data, run_sim, sim_batch

STEP_S = 900  # counters read every 15 minutes: a third of the rows to store
END = (START + dt.timedelta(days=DAYS)).isoformat()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    path = Path(tmp_path_factory.mktemp("plant")) / "sim.yaml"
    path.write_text(yaml.safe_dump(plant_data()), encoding="utf-8")
    plant, batch = sim_batch(clean=False, step_s=STEP_S)
    with connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        keys = sync_plant(conn, plant)
        engine = Engine(plant, FactorLibrary.load(plant.factor_files), base_s=60)
        committer = Committer(engine, keys, lateness_s=86_400 * 60)
        step = 20_000
        for lo in range(0, len(batch), step):
            sl = slice(lo, lo + step)
            part = Part(
                batch.meter[sl].astype(np.int32),
                batch.ts[sl].astype(np.int64),
                batch.value[sl].astype(np.float64),
                batch.quality[sl].astype(np.uint8),
            )
            committer.commit(conn, part, None)
    try:
        yield from serve(url, plant=path)
    finally:
        drop_db(name)


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def test_stored_opportunities_equal_the_batch_ones(stored: Api) -> None:
    from carbonstream.core.energy import for_plant
    from carbonstream.energy.opportunities import find

    body = get(stored, "/v1/opportunities", end=END)
    assert body["calendar"] == "configured"
    got = {(o["kind"], o["meter"]): o for o in body["opportunities"]}
    s = run_sim(clean=False, step_s=STEP_S)
    want = find(for_plant(s.plant, s.acc.engine.params.canonical_unit), s.window)
    assert set(got) == {(o["kind"], o["meter"]) for o in want}
    for o in want:
        g = got[(o["kind"], o["meter"])]
        assert g["rank"] == o["rank"]
        assert g["tco2e_per_year"] == pytest.approx(o["tco2e_per_year"], rel=1e-6)
        assert g["hours"] == o["hours"]


def test_evidence_is_one_request_away(stored: Api) -> None:
    body = get(stored, "/v1/opportunities", end=END)
    idle = next(o for o in body["opportunities"] if o["kind"] == "idle_load")
    r = stored.client.get(idle["evidence"], headers=stored.headers("viewer"))
    assert r.status_code == 200, r.text
    points = r.json()["points"]
    assert len(points) == DAYS * 24
    # The readings show it: weekend hours of the compressor well above weekday nights.
    sat = [p["quantity"] for p in points if p["start"].startswith("2026-10-10")]
    assert min(sat) > 0.03  # MWh per hour: 40 kW planted over a 3.6 kW standby


def test_filters_and_bad_requests(stored: Api) -> None:
    h = stored.headers("viewer")
    body = get(stored, "/v1/opportunities", end=END, limit=1)
    assert len(body["opportunities"]) == 1 and body["opportunities"][0]["rank"] == 1
    assert (
        stored.client.get("/v1/opportunities", params={"site": "nope"}, headers=h).status_code
        == 404
    )
    assert stored.client.get("/v1/opportunities", params={"limit": 0}, headers=h).status_code == 422
    r = stored.client.get("/v1/opportunities", params={"end": "1900-01-01T00:00"}, headers=h)
    assert r.status_code == 422
    assert stored.client.get("/v1/opportunities").status_code == 401


def test_energy_of_the_stored_month(stored: Api) -> None:
    body = get(stored, "/v1/energy", start=START.isoformat(), end=END, by="line")
    line = body["totals"]["line"]["line-1"]
    comp = body["totals"]["meter"]["compressor"]
    assert line["electricity_mwh"] == pytest.approx(comp["quantity"], rel=1e-9)
    assert comp["tce"] == pytest.approx(comp["quantity"] * 0.1229, rel=1e-12)
    assert line["production_unit"] == "t" and line["tce_per_unit"] > 0


def test_baselines_of_the_stored_data_equal_the_batch_ones(stored: Api) -> None:
    from carbonstream.core.energy import for_plant
    from carbonstream.energy.baselines import assess
    from tests.energy.simplant import hourly_lines

    body = get(stored, "/v1/baselines", end=END)
    assert body["configured"] and body["start"].startswith("2026-10-19T00:00:00+08:00")
    got = {u["id"]: u for u in body["uses"]}
    s = run_sim(clean=False, step_s=STEP_S)
    lines, ef = hourly_lines(s)
    ns = 1_000_000_000
    lo = int((START + dt.timedelta(days=14)).timestamp()) * ns
    hi = int((START + dt.timedelta(days=DAYS)).timestamp()) * ns
    want = assess(for_plant(s.plant, s.acc.engine.params.canonical_unit), lines, ef, lo, hi)
    assert set(got) == {u["id"] for u in want} == {"site:hall", "hall"}
    for u in want:
        g = got[u["id"]]
        assert g["model"]["points"] == u["model"]["points"] == 14 * 24
        assert g["model"]["cv_rmse_pct"] == pytest.approx(u["model"]["cv_rmse_pct"], rel=1e-6)
        assert g["reporting"]["savings_tce"] == pytest.approx(
            u["reporting"]["savings_tce"], rel=1e-6, abs=1e-9
        )
        assert len(g["cusum"]) == 14 * 24
