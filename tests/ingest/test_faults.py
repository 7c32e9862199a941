"""Failures: ingest SIGKILLed mid-stream, its database stopped for 20 s, two workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.ingest import helpers as h
from tests.services import (
    PG_ADMIN_URL,
    Mosquitto,
    PgServer,
    create_db,
    drop_db,
    mqtt_host_port,
    unique,
    url_with_db,
)

# slow: kills and restarts ingest, the broker and a database mid-stream (out of test-fast)
pytestmark = pytest.mark.slow


def _ingest_process(
    tmp_path: Path, db_url: str, gw: str, client_id: str
) -> subprocess.Popen[bytes]:
    host, port = mqtt_host_port()
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "plant": str(h.PLANT_FILE),
                "mqtt": {
                    "host": host,
                    "port": port,
                    "client_id": client_id,
                    "topics": [f"carbonstream/v1/+/{gw}/readings"],
                    "session_expiry_s": 60,
                },
                "database": {"url": db_url, "writers": 2},
                "batch": {"max_wait_ms": 20, "max_readings": 300},
                "metrics_port": None,
                # as tests/ingest/helpers.settings: unsigned v1 from a gateway of the test's own
                "signatures": {"required": False},
                "gateway_binding": "off",
            }
        ),
        encoding="utf-8",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "carbonstream", "ingest", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"ingest-{time.monotonic_ns()}.log").open("wb"),
    )


def test_sigkill_mid_stream_then_restart(db_url: str, tmp_path: Path) -> None:
    ex = h.example()
    gw = unique("gw")
    client = unique("ingest-")
    msgs = h.payloads(ex, gw)
    proc = _ingest_process(tmp_path, db_url, gw, client)
    try:
        h.wait_until(lambda: _has_table(db_url, "meter_state"), 30, "ingest to start")
        h.wait_until(lambda: _said(tmp_path, "connected to MQTT"), 30, "ingest to subscribe")
        pub = threading.Thread(
            target=h.publish, args=(msgs,), kwargs={"pause_every": 1, "pause_s": 0.02}
        )
        pub.start()
        h.wait_until(lambda: h.count(db_url, "readings") > len(ex.batch) // 4, 60, "a quarter")
        os.kill(proc.pid, signal.SIGKILL)  # no chance to finish or ack anything
        proc.wait(10)
        stored_at_kill = h.count(db_url, "readings")
        assert 0 < stored_at_kill < len(ex.batch)
        pub.join(60)
        proc = _ingest_process(tmp_path, db_url, gw, client)  # same client id: same session
        h.wait_until(lambda: h.count(db_url, "readings") >= len(ex.batch), 90, "the rest")
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert h.count(db_url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))


def _said(tmp_path: Path, text: str) -> bool:
    """Whether an ingest process of this test logged ``text`` (its subscriptions are sent
    before it says it connected; the publisher connects after, so the broker has them)."""
    return any(text in p.read_text(errors="replace") for p in tmp_path.glob("ingest-*.log"))


def _has_table(url: str, table: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url) as c:
            row = c.execute("SELECT count(*) FROM meter_state").fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.remove()


def test_own_database_stopped_20s_mid_stream(own_pg: PgServer) -> None:
    ex = h.example()
    gw = unique("gw")
    name = create_db(own_pg.url)
    url = url_with_db(own_pg.url, name)
    msgs = h.payloads(ex, gw)
    third = len(msgs) // 3
    run = h.Running(h.settings(url, gw, batch={"max_wait_ms": 20}), url)
    try:
        h.publish(msgs[:third])
        h.wait_until(lambda: run.service.totals.messages >= third, 60, "first third")
        own_pg.stop()
        t_down = time.monotonic()
        h.publish(msgs[third : 2 * third])  # arrives while the database is down
        time.sleep(2)
        assert run.service.totals.messages == third  # nothing acked or counted meanwhile
        assert run.thread.is_alive()
        time.sleep(max(0.0, 20 - (time.monotonic() - t_down)))
        own_pg.start()
        h.publish(msgs[2 * third :])
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 90, "catch up")
        errors = run.service.metrics.db_errors._value.get()
    finally:
        run.stop()
    assert errors > 0
    assert h.count(url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(url), h.compute_totals(ex))
    drop_db(name, own_pg.url)


def test_two_workers_on_a_shared_subscription_equal_one(db_url: str) -> None:
    ex = h.example()
    gw = unique("gw")
    group = unique("grp")
    msgs = h.payloads(ex, gw, per_msg=25)
    runs = [
        h.Running(
            h.settings(
                db_url,
                gw,
                mqtt={"shared_group": group},
                batch={"max_wait_ms": 10, "max_readings": 500},
                # The 3-day example is published in about a second, so the workers'
                # interleaving makes readings days "late": all within this lateness.
                lateness_s=10 * 86_400,
            ),
            db_url,
        )
        for _ in range(2)
    ]
    try:
        h.publish(msgs)
        h.wait_until(
            lambda: sum(r.service.totals.messages for r in runs) >= len(msgs), 90, "all messages"
        )
    finally:
        for r in runs:
            r.stop()
    share = [r.service.totals.messages for r in runs]
    assert all(n > 0 for n in share), share  # both workers took part
    assert h.count(db_url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))


def test_broker_restarted_mid_stream(tmp_path: Path) -> None:
    """The broker goes away and comes back (sessions persisted): nothing lost or doubled."""
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    broker = Mosquitto(tmp_path, persist=True)
    try:
        ex = h.example()
        gw = unique("gw")
        msgs = h.payloads(ex, gw)
        half = len(msgs) // 2
        addr = ("127.0.0.1", broker.port)
        run = h.Running(h.settings(url, gw, broker=addr), url)
        try:
            h.publish(msgs[:half], mqtt=addr)
            h.wait_until(lambda: run.service.totals.messages >= half // 2, 30, "some messages")
            broker.restart(down_s=1.0)  # whatever was in flight is redelivered
            h.publish(msgs[half:], mqtt=addr)
            h.wait_until(lambda: h.count(url, "readings") >= len(ex.batch), 60, "all readings")
            time.sleep(0.5)
        finally:
            run.stop()
        assert h.count(url, "readings") == len(ex.batch)
        h.assert_totals_equal(h.db_totals(url), h.compute_totals(ex))
    finally:
        broker.stop()
        drop_db(name)
