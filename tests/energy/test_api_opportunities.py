"""GET /v1/opportunities over the simulated plant stored through ingest's commit path in the
real PostgreSQL: the same findings as the detectors on the batch account, ranked, with the
evidence one request away; and GET /v1/energy on the same data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.conftest import Api, serve
from tests.energy.simplant import DAYS, START, plant_data, run_sim, store_sim

# slow: stores a simulated plant and renders its monthly report (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

STEP_S = 900  # counters read every 15 minutes: a third of the rows to store
END = (START + dt.timedelta(days=DAYS)).isoformat()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    path = Path(tmp_path_factory.mktemp("plant")) / "sim.yaml"
    path.write_text(yaml.safe_dump(plant_data()), encoding="utf-8")
    store_sim(url, step_s=STEP_S)
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


def test_idle_load_and_drift_alert_rules_fire_on_the_planted_meters(stored: Api) -> None:
    import asyncio

    import psycopg

    from carbonstream.alerts import AlertEngine, AlertsConfig
    from carbonstream.alerts.rules import bind
    from carbonstream.alerts.signals import Signals
    from carbonstream.config.loader import validate
    from carbonstream.config.plant import Plant

    plant = validate(plant_data(), Plant, "sim plant")
    config = bind(
        AlertsConfig.model_validate(
            {
                "rules": [
                    {"id": "idle-compressor", "kind": "idle_load", "meter": "compressor",
                     "threshold": 1.0},
                    {"id": "drift-chiller", "kind": "drift", "meter": "chiller", "threshold": 1.0},
                    {"id": "idle-chiller", "kind": "idle_load", "meter": "chiller",
                     "threshold": 1.0},
                ]
            }
        ),
        plant,
    )  # fmt: skip
    now = dt.datetime.fromisoformat(END).timestamp() + 120

    async def values() -> dict[str, float | None]:
        async with await psycopg.AsyncConnection.connect(stored.db_url) as conn:
            return await Signals(config, plant, now).values(conn, now)

    got = asyncio.run(values())
    body = get(stored, "/v1/opportunities", end=END)
    want = {(o["kind"], o["meter"]): o["tco2e_per_year"] for o in body["opportunities"]}
    assert got["idle-compressor"] == pytest.approx(want[("idle_load", "compressor")])
    assert got["drift-chiller"] == pytest.approx(want[("drift", "chiller")])
    assert got["idle-chiller"] == 0.0
    fired = {t.rule.id for t in AlertEngine(config.rules).evaluate(now, got)}
    assert fired == {"idle-compressor", "drift-chiller"}
    with pytest.raises(ValueError, match="needs 'meter'"):
        AlertsConfig.model_validate({"rules": [{"id": "x", "kind": "drift", "threshold": 1}]})


def test_flexible_loads_tomorrow(stored: Api) -> None:
    # The simulated plant has no PV or PPA: every hour is grid power, and the page says so.
    (s,) = get(stored, "/v1/flexible-loads", at=END)
    assert s["load"] == "batch" and s["day"] == "2026-11-03"
    assert s["all_hours_alike"] and s["start"] == "00:00"
    assert s["saved_tco2e"] == pytest.approx(0, abs=1e-9)
    assert s["tco2e"] == pytest.approx(0.8 * s["t_per_mwh_by_hour"][0])
    assert s["t_per_mwh_by_hour"][0] > 0.5  # the grid factor of the site's own lines


def test_monthly_report_has_the_energy_page(stored: Api) -> None:
    import asyncio

    import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information

    from carbonstream import monthly
    from carbonstream.i18n import Locale

    def texts(pdf: bytes) -> list[str]:  # the pages' text (test_report.py looks at images)
        doc = pdfium.PdfDocument(pdf)
        try:
            return [doc[i].get_textpage().get_text_bounded() for i in range(len(doc))]
        finally:
            doc.close()

    r = asyncio.run(monthly.from_database(stored.db_url, "2026-10"))
    assert r.energy is not None
    body = get(stored, "/v1/energy", month="2026-10")
    assert r.energy.plant["total_tce"] == pytest.approx(body["totals"]["plant"]["total_tce"])
    kinds = {(o["kind"], o["meter"]) for o in r.energy.opportunities}
    assert ("idle_load", "compressor") in kinds
    for locale, title, finding in (
        (Locale.EN, "Energy (GB/T 2589) and reduction opportunities", "Idle load outside"),
        (Locale.ZH_CN, "能源消费（GB/T 2589）与节能减排机会", "非生产时段空载能耗"),
    ):
        page = next(t for t in texts(monthly.render_pdf(r, locale)) if title in t)
        assert finding in page and "compressor" in page
        assert f"{body['totals']['plant']['total_tce']:,.3f}" in page


def test_baselines_bad_ranges_are_problems_in_both_languages(stored: Api) -> None:
    h = stored.headers("viewer")
    r = stored.client.get("/v1/baselines", params={"start": "1990-01-01T00:00"}, headers=h)
    assert r.status_code == 422 and "reporting period" in r.json()["detail"]
    r = stored.client.get(
        "/v1/baselines",
        params={"start": "2027-10-01", "end": "2027-11-15"},  # 406 days from the baseline
        headers=h | {"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422 and "基准期" in r.json()["detail"]
    r = stored.client.get(
        "/v1/baselines", params={"start": "2026-10-20", "end": "2026-10-19"}, headers=h
    )
    assert r.status_code == 422
