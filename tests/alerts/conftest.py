"""Fixtures of the alert service tests: a migrated database with the example plant, a pool,
a webhook receiver on loopback, and helpers that write site minutes directly."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from carbonstream.alerts import AlertsConfig
from carbonstream.alerts.metrics import AlertMetrics
from carbonstream.alerts.notify import SIGNATURE_HEADER
from carbonstream.alerts.service import AlertService
from carbonstream.api.db import AsyncConn, make_pool
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.store.db import connect
from carbonstream.store.plant import sync_plant

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plant() -> Plant:
    return load_plant(PLANT)


@pytest.fixture
def plant_db(migrated_url: str, plant: Plant) -> str:
    """A migrated database with the example plant's sites and meters (no readings)."""
    with connect(migrated_url) as conn:
        conn.autocommit = False
        sync_plant(conn, plant)
    return migrated_url


@pytest.fixture
async def pool(plant_db: str) -> AsyncIterator[AsyncConnectionPool[AsyncConn]]:
    p = make_pool(plant_db, 4)
    await p.open()
    try:
        yield p
    finally:
        await p.close()


def service(
    config: dict[str, Any],
    plant: Plant,
    pool: AsyncConnectionPool[AsyncConn],
    clock: FakeClock,
) -> AlertService:
    return AlertService(
        AlertsConfig.model_validate(config),
        plant,
        pool,
        clock=clock,
        metrics=AlertMetrics(CollectorRegistry()),
    )


def put_minute(url: str, site: str, minute: dt.datetime, **columns: float) -> None:
    """Write (or add to) one site minute, as ingest's additive update does, and a reading of
    one of the site's meters at its start: the site's data begins no later (rates are over
    the time the data covers, from the site's first reading)."""
    cols = list(columns)
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO readings (meter, ts, value, quality)"
            " SELECT min(m.key), %s, 0, 0 FROM meters m JOIN sites s ON s.key = m.site"
            " WHERE s.id = %s ON CONFLICT DO NOTHING",
            (minute, site),
        )
        conn.execute(
            f"INSERT INTO site_minute (site, bucket, {', '.join(cols)})"
            f" VALUES ((SELECT key FROM sites WHERE id = %s), %s, {', '.join(['%s'] * len(cols))})"
            " ON CONFLICT (site, bucket) DO UPDATE SET "
            + ", ".join(f"{c} = site_minute.{c} + excluded.{c}" for c in cols),
            (site, minute, *columns.values()),
        )
        conn.commit()


class Receiver:
    """A webhook receiver on loopback: answers with the queued status codes, then 200."""

    def __init__(self, responses: list[int], delay_s: float = 0.0) -> None:
        self.responses = list(responses)
        self.delay_s = delay_s
        self.calls: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((body, self.headers.get(SIGNATURE_HEADER)))
                time.sleep(receiver.delay_s)
                code = receiver.responses.pop(0) if receiver.responses else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()
