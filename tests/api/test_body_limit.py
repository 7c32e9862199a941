"""Bodies are bounded in bytes before they are read and before the key is checked (issue 10).

Before: six unauthenticated 200 MB POSTs to /v1/contracts took the API from 271 MB to
1,986 MB (1,441 MB stayed). The first test replays that against a real
``carbonstream serve`` process and reads its memory from /proc.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from starlette.routing import compile_path

from carbonstream.api import ApiSettings, create_app
from carbonstream.api.guards import UPLOAD_MARK, upload_operations
from carbonstream.api.problems import MEDIA_TYPE
from carbonstream.api.settings import ApiLimits
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from tests.api.conftest import PLANT, make_keys
from tests.services import free_port

# slow: runs carbonstream serve and sends 200 MB bodies (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

MB = 1024 * 1024
ATTACK_BYTES = 200 * MB
CHUNK = 64 * 1024


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``carbonstream serve`` in its own process: (pid, port)."""
    with connect(db_url) as conn:
        migrate(conn)
    config = tmp_path / "api.yaml"
    config.write_text(f"plant: {PLANT}\n", encoding="utf-8")
    port = free_port()
    cmd = [sys.executable, "-m", "carbonstream", "serve", "--config", str(config)]
    cmd += ["--db-url", db_url, "--port", str(port), "--log-level", "warning"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 60  # imports and the plant sync take seconds on a busy machine
        while True:
            assert proc.poll() is None, f"carbonstream serve exited:\n{log.read_text()[-2000:]}"
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < end, f"not started:\n{log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(20)


def _body(total: int, chunked: bool) -> Iterator[bytes]:
    """A JSON-looking body streamed from a generator: the client never holds it whole."""
    block = b"[" + b"0," * (CHUNK // 2 - 1) + b"0"
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield (b"%x\r\n" % len(piece) + piece + b"\r\n") if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def _post(
    port: int, chunked: bool, total: int = ATTACK_BYTES
) -> tuple[int, dict[str, str], bytes, int]:
    """POST /v1/contracts without a key, sending until the server answers or hangs up:
    (status, headers, body, body bytes sent)."""
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST /v1/contracts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{length}\r\n\r\n"
    ).encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        for piece in _body(total, chunked):
            if select.select([s], [], [], 0)[0]:
                break  # the server answered: stop sending
            try:
                s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        raw = b""
        try:
            while b"\r\n\r\n" not in raw or len(raw) < _expected(raw):
                data = s.recv(65536)
                if not data:
                    break
                raw += data
        except ConnectionResetError:
            pass
    header, _, body = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, headers, body, sent


def _expected(raw: bytes) -> int:
    header, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        return len(raw) + 1
    for line in header.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(header) + 4 + int(line.split(b":")[1])
    return len(raw) + 1


def test_six_unauthenticated_200_mb_posts_get_413_and_memory_stays_flat(
    server: tuple[int, int],
) -> None:
    pid, port = server
    # warm up the route once, so its first-use allocations are not counted as growth
    assert requests.post(f"http://127.0.0.1:{port}/v1/contracts", json={}).status_code == 401
    rss_before_kb = _status_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM: the peak from here on
    results = [_post(port, chunked=i % 2 == 1) for i in range(6)]
    peak_kb = _status_kb(pid, "VmHWM")
    rss_after_kb = _status_kb(pid, "VmRSS")
    for status, headers, body, sent in results:
        assert status == 413, body
        assert headers["content-type"] == MEDIA_TYPE
        assert headers["connection"] == "close"
        problem = json.loads(body)
        assert problem["max_bytes"] == ApiLimits().body_bytes
        # cut off early: the server answered long before 200 MB went over the wire
        assert sent < 32 * MB, sent
    growth_mb = (max(peak_kb, rss_after_kb) - rss_before_kb) / 1024
    print(
        f"RSS before {rss_before_kb / 1024:.1f} MB, peak {peak_kb / 1024:.1f} MB, "
        f"after {rss_after_kb / 1024:.1f} MB; sent {[r[3] for r in results]} bytes"
    )
    assert growth_mb < 50, f"RSS grew by {growth_mb:.1f} MB"
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).ok


@pytest.fixture
def client(migrated_db: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = make_keys(migrated_db)
    limits = ApiLimits(body_bytes=4096, upload_bytes=64 * 1024)
    app = create_app(ApiSettings(plant=str(PLANT), limits=limits), migrated_db)
    with TestClient(app) as c:
        yield c, tokens


def _chunks(n: int) -> Iterator[bytes]:
    for _ in range(n // 1024):
        yield b" " * 1024


def test_limit_is_checked_before_the_key(client: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = client
    small = c.post("/v1/contracts", content=b"{}", headers={"Content-Type": "application/json"})
    assert small.status_code == 401  # within the limit: the key is checked as before
    big = c.post("/v1/contracts", content=b" " * 5000)  # no key, over the limit
    assert big.status_code == 413
    assert big.json()["type"].endswith("/content-too-large")
    assert "5000 bytes" in big.json()["detail"]


def test_a_chunked_body_is_cut_off_at_the_limit(client: tuple[TestClient, dict[str, str]]) -> None:
    c, tokens = client
    r = c.post(
        "/v1/contracts",
        content=_chunks(8192),  # a generator: sent chunked, no Content-Length
        headers={"X-API-Key": tokens["admin"], "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["max_bytes"] == 4096


def test_only_the_upload_route_takes_the_larger_limit(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client
    headers = {"X-API-Key": tokens["operator"], "Content-Type": "text/csv"}
    csv = b"hour,mwh\n" + b"2026-11-02T11:00,1\n" * 1000  # 19 kB: over 4 KiB, under 64 KiB
    r = c.post("/v1/contracts/nosuch/hourly", content=csv, headers=headers)
    assert r.status_code == 422, r.text  # read and parsed: hour given twice
    assert "given twice" in r.json()["detail"]
    assert c.post("/v1/contracts", content=csv, headers=headers).status_code == 413
    r = c.post("/v1/contracts/nosuch/hourly", content=csv * 4, headers=headers)
    assert r.status_code == 413
    assert r.json()["max_bytes"] == 64 * 1024
    spec: dict[str, Any] = c.get("/openapi.json").json()
    assert spec["paths"]["/v1/contracts/{contract_id}/hourly"]["post"]["x-body-limit"] == "upload"
    # The guard reads the marks from the routes: the same operations the document marks.
    marked = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and op.get(UPLOAD_MARK) == "upload"
    }
    routes = c.app.routes  # type: ignore[attr-defined]
    guarded = {(m, regex.pattern) for m, regex in upload_operations(routes)}
    assert len(marked) >= 7
    assert guarded == {(m, compile_path(path)[0].pattern) for m, path in marked}
