"""Property: on random small plants, `carbonstream compute` equals ingest + API for every
inventory field (totals per site, certificates, retirements, net on both bases,
zero-carbon status, over-offset, credit priority) and for annual and hourly matching.

Each example is a plant file written to disk (sites, grid and diesel counters, a PPA in
kWh with an hourly profile CSV, a GEC batch, CCER and international credits retired
plant-wide or per site), random counter readings over one day, ingested for real into
a fresh PostgreSQL database through ingest's commit path, the offsets registered and
retired through the API, and the API's inventory and matching compared with compute's.
Integration test: few examples (each needs a database and an app).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonstream import report
from carbonstream.compute import period_ns, run, window
from carbonstream.config.loader import load_plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.ingest.commit import Committer, Part
from carbonstream.store.db import connect
from carbonstream.store.plant import sync_plant
from tests.api.agree import compare_inventory, compare_matching, register_offsets
from tests.api.conftest import serve
from tests.hypothesis_profiles import examples
from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

# slow: a database and an app per Hypothesis example (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

DAY = dt.date(2026, 3, 10)
TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 10, tzinfo=TZ)
START, END = T0.isoformat(), (T0 + dt.timedelta(days=1)).isoformat()
STEP = dt.timedelta(minutes=15)
NS = 1_000_000_000


@st.composite
def plants(draw: st.DrawFn) -> dict[str, Any]:
    n_sites = draw(st.integers(1, 2))
    sites = [f"s{i}" for i in range(n_sites)]
    steps = draw(st.integers(8, 40))
    first = draw(st.integers(0, 96 - steps))  # quarter hours into the day
    meters: list[dict[str, Any]] = []
    series: dict[str, list[float]] = {}
    for s in sites:
        meters.append(
            {
                "id": f"{s}-grid",
                "site": s,
                "kind": "grid_import",
                "measures": "counter",
                "unit": "kWh",
                "rating": 10_000.0,
            }
        )
        series[f"{s}-grid"] = draw(st.lists(st.floats(0, 2000), min_size=steps, max_size=steps))
        if draw(st.booleans()):
            meters.append(
                {
                    "id": f"{s}-diesel",
                    "site": s,
                    "kind": "fuel",
                    "fuel": "diesel",
                    "method": draw(st.sampled_from(["ipcc2006", "cn_gbt32150"])),
                    "measures": "counter",
                    "unit": "L",
                    "rating": 1000.0,
                }
            )
            series[f"{s}-diesel"] = draw(
                st.lists(st.floats(0, 200), min_size=steps, max_size=steps)
            )
    instruments: list[dict[str, Any]] = []
    profile: list[tuple[int, float]] = []
    if draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=10, unique=True))
        profile = [(h, draw(st.floats(0, 5000))) for h in sorted(hours)]
        total = sum(k for _, k in profile)
        if total > 0:
            instruments.append(
                {
                    "id": "PPA-R",
                    "type": "ppa",
                    "site": draw(st.sampled_from(sites)),
                    "kwh": total,
                    "generation": {"start": DAY.isoformat(), "end": DAY.isoformat()},
                    "hourly_profile": "ppa.csv",
                }
            )
    if draw(st.booleans()):
        n = draw(st.integers(1, 30))
        instruments.append(
            {
                "id": "GEC-R",
                "type": "gec",
                "site": draw(st.sampled_from(sites)),
                "mwh": n,
                "serials": f"G1-G{n}",
                "generation": {"start": DAY.isoformat(), "end": DAY.isoformat()},
            }
        )
    offsets: list[dict[str, Any]] = []
    for k in range(draw(st.integers(0, 3))):
        standard = draw(st.sampled_from(["ccer", "vcs", "gold_standard", "article_6_4"]))
        held = draw(st.integers(1, 60))
        retired = draw(st.integers(1, held))
        o: dict[str, Any] = {
            "id": f"OFF-{k}",
            "standard": standard,
            "project": f"project {k}",
            "serials": f"C{k}X1-C{k}X{held}",
            "vintage": 2024,
            "retirements": [
                {
                    "serials": f"C{k}X1-C{k}X{retired}",
                    "period": {"start": DAY.isoformat(), "end": DAY.isoformat()},
                    "site": draw(st.sampled_from([None, *sites])),
                    "purpose": "claim",
                    "retired_on": "2026-03-20",
                }
            ],
        }
        if standard != "ccer":
            o |= {"registry": "registry", "corresponding_adjustment": "applied"}
        offsets.append(o)
    return {
        "plant": {
            "name": "random plant",
            "timezone": "Asia/Shanghai",
            "grid_region": "CN",
            "zero_carbon": {"scope2_basis": draw(st.sampled_from(["market", "location"]))},
            "sites": [{"id": s} for s in sites],
            "meters": meters,
            "instruments": instruments,
            "offsets": offsets,
        },
        "profile": profile,
        "series": series,
        "first": first,
    }


def write(folder: Path, case: dict[str, Any]) -> Path:
    rows = [f"{DAY.isoformat()}T{h:02d}:00,{kwh!r}" for h, kwh in case["profile"]]
    (folder / "ppa.csv").write_text("hour,kwh\n" + "\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "plant.yaml"
    path.write_text(yaml.safe_dump(case["plant"]), encoding="utf-8")
    return path


def readings(case: dict[str, Any], ids: list[str]) -> ReadingBatch:
    meter, ts, value = [], [], []
    for m, steps in case["series"].items():
        t = T0 + case["first"] * STEP
        v = 0.0
        for k, inc in enumerate([0.0, *steps]):
            v += inc
            meter.append(ids.index(m))
            ts.append(int((t + k * STEP).timestamp()) * NS)
            value.append(v)
    batch = ReadingBatch.of(meter, ts, value)
    return batch.take(np.argsort(batch.ts, kind="stable"))


@settings(
    max_examples=examples(6),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=plants())
def test_compute_equals_ingest_and_api_on_random_plants(
    migrated_template: str, case: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), case)
        plant = load_plant(path)
        library = FactorLibrary.load(plant.factor_files)
        engine = Engine(plant, library, base_s=60)
        batch = readings(case, list(engine.params.ids))
        lo, hi = period_ns(plant.zone, START, END, 60)
        rep = report.build(window(run(Engine(plant, library, base_s=60), batch), lo, hi), "day")

        name = create_db(template=migrated_template)
        url = url_with_db(PG_ADMIN_URL, name)
        try:
            with connect(url) as conn:
                conn.autocommit = False
                keys = sync_plant(conn, plant)
                part = Part(
                    batch.meter.astype(np.int32),
                    batch.ts.astype(np.int64),
                    batch.value.astype(np.float64),
                    batch.quality.astype(np.uint8),
                )
                Committer(engine, keys, lateness_s=86_400).commit(conn, part, None)
            for api in serve(url, path):  # one app; closed when the loop ends
                register_offsets(api, plant)
                viewer = api.headers("viewer")
                r = api.client.get(
                    "/v1/inventory", params={"start": START, "end": END}, headers=viewer
                )
                assert r.status_code == 200, r.text
                assert compare_inventory(r.json(), rep) == []
                for mine in rep["matching"]:
                    m = api.client.get(
                        "/v1/matching",
                        params={"site": mine["site"], "start": START, "end": END},
                        headers=viewer,
                    )
                    assert m.status_code == 200, m.text
                    assert compare_matching(m.json(), mine) == []
        finally:
            drop_db(name)
