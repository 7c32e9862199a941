"""GET /v1/baselines with degree days: the simulated plant with an outdoor temperature
meter and an HVAC load that follows it, stored through ingest's commit path in the real
PostgreSQL, gives the same models as the batch account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.conftest import Api, serve
from tests.energy.simplant import (
    DAYS,
    START,
    hourly_lines,
    hourly_temperatures,
    plant_data,
    run_sim,
    store_sim,
)

# slow: stores a simulated plant and serves it (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

STEP_S = 900
END = (START + dt.timedelta(days=DAYS)).isoformat()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    path = Path(tmp_path_factory.mktemp("plant")) / "sim.yaml"
    path.write_text(yaml.safe_dump(plant_data(weather=True)), encoding="utf-8")
    store_sim(url, step_s=STEP_S, weather=True)
    try:
        yield from serve(url, plant=path)
    finally:
        drop_db(name)


def test_stored_baselines_with_degree_days_equal_the_batch_ones(stored: Api) -> None:
    from carbonstream.core.energy import for_plant
    from carbonstream.energy.baselines import assess

    r = stored.client.get("/v1/baselines", params={"end": END}, headers=stored.headers("viewer"))
    assert r.status_code == 200, r.text
    got = {u["id"]: u for u in r.json()["uses"]}
    s = run_sim(clean=False, step_s=STEP_S, weather=True)
    lines, ef = hourly_lines(s)
    ns = 1_000_000_000
    lo = int((START + dt.timedelta(days=14)).timestamp()) * ns
    hi = int((START + dt.timedelta(days=DAYS)).timestamp()) * ns
    ep = for_plant(s.plant, s.acc.engine.params.canonical_unit)
    want: list[dict[str, Any]] = assess(ep, lines, ef, lo, hi, hourly_temperatures(s))
    for u in want:
        g = got[u["id"]]
        assert g["degree_days"]["meter"] == "outdoor" and g["degree_days"]["cooling_base_c"] == 18
        assert g["model"]["points"] == u["model"]["points"] == 14 * 24
        for k in ("tce_per_cdd", "r2", "cv_rmse_pct"):
            assert g["model"][k] == pytest.approx(u["model"][k], rel=1e-6)
        assert g["without_degree_days"]["r2"] == pytest.approx(
            u["without_degree_days"]["r2"], rel=1e-6
        )
        assert g["reporting"]["points_without_drivers"] == 0
    site = got["site:hall"]
    assert site["model"]["r2"] > site["without_degree_days"]["r2"] + 0.01
