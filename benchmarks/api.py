"""Benchmark: the query API against the same SQL run directly, on 30 days of 1-minute data.

Setup (not timed in the figures): a fresh database on the shared PostgreSQL; the
example plant (2 sites, 9 meters) simulated for November 2026 at one reading a
minute per meter (~390 000 readings), committed through ingest's own commit path
(Committer: core, COPY of readings and lines, site minutes, lineage, allocations)
in 50 000-reading batches; ``carbonstream serve`` in its own process.

Measured in one run, alternating API and direct SQL so both see the same machine:

1. ``emissions_30d_latency_p50_s`` / ``_p99_s``: ``GET /v1/emissions`` for one site,
   30 days, hourly buckets (720 points), one request at a time, over HTTP with a key;
   next to ``emissions_30d_sql_latency_*``: the same statement (``series.site_series_sql``)
   on one psycopg connection. ``emissions_30d_minute_*``: the same at 1-minute
   buckets (43 200 points: JSON encoding dominates).
2. ``inventory_month_latency_*``: ``GET /v1/inventory?month=2026-11`` next to the
   same five statements (``queries.inventory.load``) run directly.
3. ``*_requests_per_s``: 50 concurrent keep-alive clients (a minimal asyncio HTTP
   client in this process, so the load generator costs far less than the server)
   for a fixed time against the live endpoints: ``/v1/live`` (the live page's
   snapshot: rates, totals against budget, meter status), ``/v1/sites`` (live
   status and rates) and the 30-day emissions query.

Prints one JSON object per line. ``--quick`` shrinks the run for a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import free_port, unique, url_with_db  # noqa: E402

from carbonstream.config.loader import load_plant  # noqa: E402
from carbonstream.core.engine import Engine  # noqa: E402
from carbonstream.core.library import FactorLibrary  # noqa: E402
from carbonstream.ingest.commit import Committer, Part  # noqa: E402
from carbonstream.sim.readings import SimOptions, simulate  # noqa: E402
from carbonstream.store import keys  # noqa: E402
from carbonstream.store.db import create_database, drop_database  # noqa: E402
from carbonstream.store.migrate import migrate  # noqa: E402
from carbonstream.store.plant import sync_plant  # noqa: E402
from carbonstream.store.queries import inventory, series  # noqa: E402
from carbonstream.store.queries.series import Bucket  # noqa: E402

ADMIN_URL = os.environ.get(
    "CARBONSTREAM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PLANT = ROOT / "config" / "plant.example.yaml"
BATCH = 50_000


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "api", **fields}), flush=True)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


# --- data -----------------------------------------------------------------------


def load_month(db_url: str, days: int) -> tuple[int, float]:
    """Simulate the example plant at 1-minute readings and commit it as ingest does."""
    plant = load_plant(PLANT)
    start = dt.datetime(2026, 11, 1, tzinfo=plant.zone)
    df = simulate(plant, SimOptions(start=start, hours=days * 24, step_s=60))
    engine = Engine(plant, FactorLibrary.load(plant.factor_files))
    index = {m: i for i, m in enumerate(engine.params.ids)}
    meter = df["meter"].replace_strict(index, return_dtype=pl.Int32).to_numpy()
    ts = df["ts"].dt.epoch("us").to_numpy().astype(np.int64) * 1000
    value = df["value"].to_numpy().astype(np.float64)
    quality = df["quality"].to_numpy().astype(np.uint8)
    t0 = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        migrate(conn)
        conn.autocommit = False
        k = sync_plant(conn, plant)
        c = Committer(engine, k, lateness_s=86400)
        c.warm(conn, start)
        for lo in range(0, len(ts), BATCH):
            s = slice(lo, lo + BATCH)
            c.commit(conn, Part(meter[s], ts[s], value[s], quality[s]), None)
        conn.execute("ANALYZE")
        conn.commit()
    return len(ts), time.perf_counter() - t0


# --- the server --------------------------------------------------------------------


class Server:
    """``carbonstream serve`` in its own process (stopped by PID)."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        self.port = free_port()
        conf = workdir / "api.yaml"
        conf.write_text(f"plant: {PLANT}\npool_size: 10\n", encoding="utf-8")
        exe = Path(sys.executable).with_name("carbonstream")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "serve",
                "--config",
                str(conf),
                "--db-url",
                db_url,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
        )
        self.base = f"http://127.0.0.1:{self.port}"
        end = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError("carbonstream serve did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- timing -----------------------------------------------------------------------------


def alternate(
    n: int, api: Callable[[], None], sql: Callable[[], None]
) -> tuple[list[float], list[float]]:
    for _ in range(3):  # warm both
        api()
        sql()
    a, s = [], []
    for _ in range(n):
        t = time.perf_counter()
        api()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        sql()
        s.append(time.perf_counter() - t)
    return a, s


def report(name: str, api: list[float], sql: list[float], **extra: Any) -> None:
    for q, tag in ((0.5, "p50"), (0.99, "p99")):
        a, s = pct(api, q), pct(sql, q)
        emit(metric=f"{name}_sql_latency_{tag}_s", value=round(s, 5), unit="s", n=len(sql))
        emit(
            metric=f"{name}_latency_{tag}_s",
            value=round(a, 5),
            unit="s",
            vs=f"{name}_sql_latency_{tag}_s",
            ratio=round(a / s, 2),
            n=len(api),
            **extra,
        )


class _Conn:
    """A minimal HTTP/1.1 keep-alive client (GET, Content-Length bodies): the load
    generator shares the 2 cores with the server and must cost far less than it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(
    base: str, token: str, path: str, params: dict[str, str], clients: int, seconds: float
) -> tuple[float, int, float]:
    """Requests/s with ``clients`` concurrent keep-alive clients for ``seconds``."""
    url = httpx.URL(base)
    target = httpx.URL(path, params=params).raw_path.decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nX-API-Key: {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    done = 0
    errors = 0
    lat: list[float] = []
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = _Conn(str(url.host), int(url.port or 80))
        try:
            while time.monotonic() < stop:
                t = time.perf_counter()
                status = await conn.get(request)
                lat.append(time.perf_counter() - t)
                if status == 200:
                    done += 1
                else:
                    errors += 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - t0
    return done / wall, errors, pct(lat, 0.99) if lat else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 days, few repetitions")
    ap.add_argument("--repeat", type=int, default=200, help="sequential requests per query")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each load test")
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    days = 3 if args.quick else 30
    repeat = 20 if args.quick else args.repeat
    seconds = 2.0 if args.quick else args.seconds

    name = unique("cs_bench_api_")
    create_database(ADMIN_URL, name)
    db_url = url_with_db(ADMIN_URL, name)
    server: Server | None = None
    try:
        n, load_s = load_month(db_url, days)
        emit(metric="setup_readings", value=n, unit="readings", days=days, seconds=round(load_s, 1))
        with psycopg.connect(db_url) as conn:
            _, token = keys.create(conn, "benchmark", keys.Role.VIEWER)
            site_key = int(conn.execute("SELECT key FROM sites WHERE id = 'foundry'").fetchone()[0])  # type: ignore[index]
            minutes = conn.execute(
                "SELECT count(*) FROM site_minute WHERE site = %s", (site_key,)
            ).fetchone()
        emit(
            metric="site_minutes",
            value=int(minutes[0]) if minutes else 0,
            unit="rows",
            site="foundry",
        )
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(db_url, Path(tmp))
            zone = load_plant(PLANT).zone
            start = dt.datetime(2026, 11, 1, tzinfo=zone)
            end = start + dt.timedelta(days=days)
            http = httpx.Client(base_url=server.base, headers={"X-API-Key": token}, timeout=60)
            sql_conn = psycopg.connect(db_url, autocommit=True)

            def api_series(bucket: str) -> Callable[[], None]:
                params = {
                    "site": "foundry",
                    "bucket": bucket,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                }

                # The whole body is received on every call; it is parsed and checked
                # only on the first (a warm-up): parsing 7 MB of minutes is the
                # client's cost, not the API's, and the SQL side parses nothing.
                checked = False

                def call() -> None:
                    nonlocal checked
                    r = http.get("/v1/emissions", params=params)
                    assert r.status_code == 200, r.text
                    if not checked:
                        assert len(r.json()["points"]) >= days * 24
                        checked = True

                return call

            def sql_series(bucket: Bucket) -> Callable[[], None]:
                q = series.site_series_sql(bucket)
                p = {
                    "sites": [site_key],
                    "start": start,
                    "end": end,
                    "zone": str(zone),
                    "limit": 200_001,
                }

                def call() -> None:
                    rows = sql_conn.execute(q, p).fetchall()
                    assert len(rows) >= days * 24

                return call

            a, s = alternate(repeat, api_series("hour"), sql_series(Bucket.HOUR))
            report("emissions_30d", a, s, points=days * 24, target_p99_s=0.1, target_ratio=2.0)
            a, s = alternate(max(repeat // 4, 10), api_series("minute"), sql_series(Bucket.MINUTE))
            report("emissions_30d_minute", a, s, points=days * 1440)

            async def inv_sql() -> None:
                aconn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
                async with aconn:
                    sites = [
                        int(r[0])
                        for r in await (
                            await aconn.execute("SELECT key FROM sites ORDER BY id")
                        ).fetchall()
                    ]
                    for _ in range(3):
                        await inventory.load(
                            aconn,
                            sites,
                            True,
                            start,
                            end,
                            start.date(),
                            (end - dt.timedelta(days=1)).date(),
                        )
                    for _ in range(inv_n):
                        t = time.perf_counter()
                        await inventory.load(
                            aconn,
                            sites,
                            True,
                            start,
                            end,
                            start.date(),
                            (end - dt.timedelta(days=1)).date(),
                        )
                        inv_s.append(time.perf_counter() - t)

            inv_n = max(repeat // 4, 10)
            inv_s: list[float] = []
            inv_a: list[float] = []
            month = {"start": start.isoformat(), "end": end.isoformat()}
            for _ in range(3):
                http.get("/v1/inventory", params=month)
            for _ in range(inv_n):
                t = time.perf_counter()
                r = http.get("/v1/inventory", params=month)
                inv_a.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            asyncio.run(inv_sql())
            report("inventory_month", inv_a, inv_s)
            sql_conn.close()
            http.close()

            for label, path, params in (
                ("live", "/v1/live", {}),
                ("sites", "/v1/sites", {}),
                (
                    "emissions_30d",
                    "/v1/emissions",
                    {
                        "site": "foundry",
                        "bucket": "hour",
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                    },
                ),
            ):
                rps, errors, p99 = asyncio.run(
                    load(server.base, token, path, params, args.clients, seconds)
                )
                emit(
                    metric=f"{label}_requests_per_s",
                    value=round(rps, 1),
                    unit="req/s",
                    clients=args.clients,
                    errors=errors,
                    latency_p99_s=round(p99, 4),
                )
    finally:
        if server is not None:
            server.stop()
        drop_database(ADMIN_URL, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
