"""deploy/grafana: every panel's SQL, with Grafana's macros and variables expanded, runs
against a real database holding the example plant's ingested data and returns rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.services import PgServer
from tests.tools import require_tool

# slow: starts a PostgreSQL cluster of its own (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

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


@dataclass(frozen=True)
class Database:
    app_url: str  # the carbonstream role: migrations, ingest, alerts
    grafana_url: str  # the read-only role Grafana's data source uses


@pytest.fixture(scope="module")
def example_db() -> Iterator[Database]:
    """A private PostgreSQL set up the way the deploy does it (the database image's init
    script makes the roles), holding the example plant ingested as the application role."""
    psql = require_tool("psql")
    server = PgServer()
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE carbonstream")
        env = {
            "PATH": str(Path(psql).parent) + ":/usr/bin:/bin",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(server.port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "carbonstream",
            "CARBONSTREAM_DB_PASSWORD": "app-test",
            "CARBONSTREAM_GRAFANA_DB_PASSWORD": "grafana-test",
        }
        init = ROOT / "deploy" / "postgres" / "init" / "10-carbonstream-roles.sh"
        p = subprocess.run(["sh", str(init)], env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        base = f"127.0.0.1:{server.port}/carbonstream"
        db = Database(
            f"postgresql://carbonstream:app-test@{base}",
            f"postgresql://grafana_reader:grafana-test@{base}",
        )
        f = ingest_example(db.app_url)
        asyncio.run(_fire_an_alert(db.app_url, f))
        yield db
    finally:
        server.remove()


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
    cur = conn.execute(sql.encode())
    return [c.name for c in cur.description or []], cur.fetchall()


def test_grafana_role_reads_and_cannot_write(example_db: Database) -> None:
    with psycopg.connect(example_db.grafana_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM site_minute").fetchone()
        assert row is not None and row[0] > 0
        for sql in (
            "DELETE FROM alert_state",
            "UPDATE sites SET name = 'x'",
            "CREATE TABLE grafana_was_here (x int)",
        ):
            with pytest.raises(psycopg.Error):
                conn.execute(sql.encode())
        # and it stays read-only even if it asks otherwise: no write privilege at all
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO dead_letters (topic, payload, reason, digest)"
                         " VALUES ('t', '', 'r', 'd')")  # fmt: skip


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_returns_rows(path: Path, example_db: Database) -> None:
    d = json.loads(path.read_text())
    problems = []
    with psycopg.connect(example_db.grafana_url, autocommit=True) as conn:
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
