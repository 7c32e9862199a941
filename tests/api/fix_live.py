"""Fixtures of the live tests: the API under a real uvicorn on a free port, plant data.

An event stream never ends by itself, so the stream and page tests talk to a
real server (in a thread with its own loop) rather than the in-process
TestClient, which reads a response to its end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from carbonstream.api import ApiSettings, create_app, server
from carbonstream.api.settings import ApiLimits
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.domain.live import SETTLE_S, LiveHub
from carbonstream.store import keys
from carbonstream.store.db import connect
from carbonstream.store.plant import Keys, sync_plant

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"
UTC = dt.UTC
# A hang detector, not a speed check: on a busy machine (CI, the soak's burner) the server
# thread can wait seconds for the CPU, and httpx's default of 5 s then fails a good test.
HTTP_TIMEOUT_S = 30.0
# Passed as httpx's ``verify`` by the tests that open many clients at once: httpx builds a
# TLS context for every client otherwise (about 60 ms of CPU each, loading the CA bundle),
# though these servers speak plain HTTP; 150 clients spent seconds there, beside the server.
TLS = ssl.create_default_context()
# The same for a page's wait on what the browser shows (Chromium starts, the stream delivers).
PAGE_WAIT_S = 60.0


@dataclass
class LivePlant:
    url: str
    plant: Plant
    keys: Keys
    tokens: dict[str, str]  # role -> token
    key_ids: dict[str, str]

    def site_key(self, site_id: str) -> int:
        i = [s.id for s in self.plant.sites].index(site_id)
        return int(self.keys.site[i])

    def meter_key(self, meter_id: str) -> int:
        i = [m.id for m in self.plant.meters].index(meter_id)
        return int(self.keys.meter[i])

    def minutes(
        self, site_id: str, first: dt.datetime, n: int, s1: float, s2l: float, s2m: float
    ) -> None:
        """n site minutes from ``first`` with these tonnes per minute."""
        with connect(self.url) as conn:
            for i in range(n):
                conn.execute(
                    "INSERT INTO site_minute (site, bucket, scope1_t, scope2_location_t,"
                    " scope2_market_t) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (site, bucket) DO UPDATE SET scope1_t = excluded.scope1_t,"
                    " scope2_location_t = excluded.scope2_location_t,"
                    " scope2_market_t = excluded.scope2_market_t",
                    (self.site_key(site_id), first + dt.timedelta(minutes=i), s1, s2l, s2m),
                )
            conn.commit()

    def reading(self, meter_id: str, ts: dt.datetime, quality: int = 0, good: bool = True) -> None:
        """A stored reading; a good one also moves the meter's state (as ingest does)."""
        key = self.meter_key(meter_id)
        with connect(self.url) as conn:
            conn.execute(
                "INSERT INTO readings (meter, ts, value, quality) VALUES (%s, %s, %s, %s)",
                (key, ts, 1.0 if quality == 0 else None, quality),
            )
            if good and quality == 0:
                conn.execute(
                    "UPDATE meter_state SET last_ts_ns = %s WHERE meter = %s",
                    (int(ts.timestamp()) * 1_000_000_000, key),
                )
            conn.commit()


@pytest.fixture
def live_plant(migrated_url: str) -> LivePlant:
    plant = load_plant(PLANT)
    tokens, ids = {}, {}
    with connect(migrated_url) as conn:
        conn.autocommit = False
        k = sync_plant(conn, plant)
        conn.execute(
            "INSERT INTO meter_state (meter) SELECT key FROM meters ON CONFLICT DO NOTHING"
        )
        conn.commit()
        for role in keys.Role:
            key, tokens[role.name.lower()] = keys.create(conn, f"live {role.name}", role)
            ids[role.name.lower()] = key.id
    return LivePlant(migrated_url, plant, k, tokens, ids)


@dataclass
class Server:
    base: str
    hub: LiveHub
    api: server.ApiServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def shutdown(self, timeout: float = 15) -> None:
        """Stop as at SIGTERM: streams are told, uvicorn stops; wait for the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.api.stop)
            self.thread.join(timeout)
        assert not self.thread.is_alive(), "the API did not stop (an open stream kept it?)"


@pytest.fixture
def live_server(live_plant: LivePlant, live_limits: ApiLimits) -> Iterator[Server]:
    settings = ApiSettings(plant=str(PLANT), pool_size=4, limits=live_limits)
    with serve(create_app(settings, live_plant.url)) as srv:
        yield srv


@contextmanager
def serve(app: FastAPI) -> Iterator[Server]:
    """The app under a real uvicorn in a thread of its own, stopped at the end.

    Its socket is bound here, on a port the kernel picks, and handed to uvicorn: a port
    only known free (free_port) can be taken before uvicorn binds it, e.g. by any process's
    outgoing connection on a busy machine, since it comes from the ephemeral range."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    api = server.ApiServer(app, server.config(app, "127.0.0.1", port, "warning"), own_signals=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(api.serve(sockets=[sock]),), daemon=True
    )
    thread.start()
    end = time.monotonic() + 15
    while not api.started:
        assert time.monotonic() < end, "the API did not start"
        assert thread.is_alive(), "the API thread died"
        time.sleep(0.02)
    srv = Server(f"http://127.0.0.1:{port}", app.state.live, api, loop, thread)
    try:
        yield srv
    finally:
        srv.shutdown()
        loop.close()


def minute_floor(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


def pin_clock(srv: Server) -> dt.datetime:
    """Now, with the live hub's clock stopped there: every snapshot is of this instant
    however long a busy machine takes to serve it, so the rates' end minute, today and
    the meters' ages cannot move under the test."""
    now = dt.datetime.now(UTC).replace(microsecond=0)  # exact through a float timestamp
    srv.hub.clock = lambda: now.timestamp()
    return now


def rates_end(now: dt.datetime) -> dt.datetime:
    """The end of the last complete minute the rates use."""
    return minute_floor(now - dt.timedelta(seconds=SETTLE_S))
