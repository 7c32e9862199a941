"""deploy/grafana: every panel's SQL, with Grafana's macros and variables expanded, runs
against a real database holding the example plant's ingested data and returns rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from carbonstream.alerts import AlertsConfig
from carbonstream.alerts.service import AlertService
from carbonstream.api.db import make_pool
from tests.deploy.grafana_sql import Variable, expand
from tests.deploy.metric_names import exposed
from tests.deploy.test_prometheus import METRIC
from tests.ingested import NS, Feeder, ingest_example
from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PG_TYPES = {"postgres", "grafana-postgresql-datasource"}
# The example readings: 2026-11-21T16:00Z .. 2026-11-24T16:00Z (three local days).
FULL = (dt.datetime(2026, 11, 21, 16, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
HOUR = (dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 3, tzinfo=dt.UTC))


def panels(d: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in d["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def sql_targets(d: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for p in panels(d):
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource") or {}
            if ds.get("type") in PG_TYPES:
                yield p, t


async def _fire_an_alert(url: str, f: Feeder) -> None:
    """The alert service over the stored example: the foundry's rate alert fires."""
    pool = make_pool(url, 2)
    await pool.open()
    try:
        rule = {"id": "foundry-rate", "kind": "rate", "site": "foundry", "threshold": 2.4}
        cfg = AlertsConfig.model_validate({"settle_s": 0, "rules": [rule]})
        now = f.first_ns / NS + 33 * 3600  # 09:00 local on the second day: the first shift
        await AlertService(cfg, f.plant, pool, clock=lambda: now).evaluate()
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def example_db() -> Iterator[str]:
    """One database for the module: ingesting the example takes a few seconds."""
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    try:
        f = ingest_example(url)
        asyncio.run(_fire_an_alert(url, f))
        yield url
    finally:
        drop_db(name)


def variables(d: dict[str, Any], conn: psycopg.Connection[Any]) -> dict[str, Variable]:
    """Template variables at 'All': their own query gives the values."""
    out = {}
    for v in d["templating"]["list"]:
        assert v["type"] == "query" and v["datasource"]["type"] in PG_TYPES
        values = [str(r[0]) for r in conn.execute(v["query"]).fetchall()]
        assert values, f"variable {v['name']} has no values"
        out[v["name"]] = Variable(v["name"], values, v.get("multi") or v.get("includeAll"))
    return out


def run_sql(conn: psycopg.Connection[Any], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")  # what a read-only Grafana role may do
        cur = conn.execute(sql.encode())
        cols = [c.name for c in cur.description or []]
        return cols, cur.fetchall()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_returns_rows(path: Path, example_db: str) -> None:
    d = json.loads(path.read_text())
    problems = []
    with psycopg.connect(example_db, autocommit=True) as conn:
        vs = variables(d, conn)
        checked = 0
        for p, t in sql_targets(d):
            where = f"{path.name}: panel {p['title']!r} ({t['refId']})"
            for start, end in (FULL, HOUR):
                sql = expand(t["rawSql"], vs, start, end, p.get("interval"))
                try:
                    cols, rows = run_sql(conn, sql)
                except psycopg.Error as e:
                    problems.append(f"{where}: {type(e).__name__}: {e}\n{sql}")
                    break
                if (start, end) == FULL and not rows:
                    problems.append(f"{where}: no rows over the example data\n{sql}")
                if t.get("format") == "time_series" and "time" not in cols:
                    problems.append(f"{where}: a time series needs a 'time' column, got {cols}")
            checked += 1
    assert not problems, "\n\n".join(problems)
    assert checked >= 5


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    d = json.loads(path.read_text())
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/carbonstream.yaml").read_text())
    uids = {s["uid"]: s["type"] for s in sources["datasources"]}
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert d["uid"].startswith("carbonstream-") and "carbonstream" in d["tags"]
    known = exposed()
    for p in panels(d):
        assert {"x", "y", "w", "h"} <= set(p["gridPos"])
        for t in p.get("targets", []):
            ds = t.get("datasource") or p["datasource"]
            assert uids.get(ds["uid"]) == ds["type"], f"{p['title']}: data source {ds}"
            if ds["type"] == "prometheus":
                used = set(METRIC.findall(t["expr"]))
                assert used and used <= known, f"{p['title']}: unknown {used - known}"
    titles = {p["title"] for p in panels(d)}
    assert len(titles) == len(ids)


def test_dashboards_are_the_three_promised() -> None:
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARDS}
    assert titles == {
        "carbonstream: plant overview",
        "carbonstream: Scope 2 dual reporting",
        "carbonstream: meter health and data quality",
    }
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
