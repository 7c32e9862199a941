"""GET /v1/live and its event stream against the real database and a real server:
the figures (rates, coverage at the start, totals against budget, meter status),
auth on both routes, and the stream's life: heartbeat, revocation, disconnect,
shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from psycopg_pool import PoolTimeout

from carbonstream.api import sse
from carbonstream.api.db import unavailable
from carbonstream.store import keys
from carbonstream.store.db import connect

from .fix_live import (
    HTTP_TIMEOUT_S,
    TLS,
    LivePlant,
    Server,
    live_plant,
    live_server,
    pin_clock,
    rates_end,
)

__all__ = ["live_plant", "live_server"]  # fixtures


def _events(resp: httpx.Response) -> Iterator[tuple[str, dict[str, str]]]:
    """(kind, fields) per SSE block: kind is the event name, 'comment' or 'retry'."""
    block: list[str] = []
    for line in resp.iter_lines():
        if line:
            block.append(line)
            continue
        if not block:
            continue
        fields: dict[str, str] = {}
        kind = "message"
        for b in block:
            if b.startswith(":"):
                kind = "comment"
                continue
            name, _, value = b.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        kind = fields.get("event", "retry" if "retry" in fields else kind)
        block = []
        yield kind, fields


def test_snapshot_figures(live_plant: LivePlant, live_server: Server) -> None:
    p = live_plant
    now = pin_clock(live_server)
    end = rates_end(now)
    # assembly: 0.01 / 0.03 / 0.02 t per minute for 90 minutes up to now (and 2 beyond);
    # its data began 2 hours ago, so every window is fully covered.
    first = end - dt.timedelta(minutes=90)
    p.minutes("assembly", first, 92, 0.01, 0.03, 0.02)
    p.reading("assembly-grid", end - dt.timedelta(hours=2))
    # foundry: its data began 30 s before the end of the last complete minute.
    p.minutes("foundry", end - dt.timedelta(minutes=1), 1, 0.001, 0.002, 0.004)
    p.reading("foundry-grid", end - dt.timedelta(seconds=30))
    # meters: fresh and good; newest unusable; not heard for 200 s; never read.
    p.reading("assembly-grid", now - dt.timedelta(seconds=2))
    p.reading("assembly-pv", now - dt.timedelta(seconds=20))
    p.reading("assembly-pv", now - dt.timedelta(seconds=5), quality=2)
    p.reading("assembly-export", now - dt.timedelta(seconds=400))  # silent_after_s: 300

    r = httpx.get(
        f"{live_server.base}/v1/live",
        headers={"X-API-Key": p.tokens["viewer"]},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    snap = r.json()
    # The snapshot is of the pinned instant, however long the request took.
    made = dt.datetime.fromisoformat(snap["generated_at"])
    assert made == now
    # Plant-local with its offset, the instant the end of the last complete minute.
    until = dt.datetime.fromisoformat(snap["rates_until"])
    assert until == end and until.utcoffset() == end.astimezone(p.plant.zone).utcoffset()
    sites = {s["id"]: s for s in snap["sites"]}
    a, f = sites["assembly"], sites["foundry"]

    assert a["basis"] == "market"
    for rate in a["rates"]:
        assert rate["covered_s"] == rate["window_s"]
        assert rate["scope1_tco2e_per_h"] == pytest.approx(0.6)
        assert rate["scope2_location_tco2e_per_h"] == pytest.approx(1.8)
        assert rate["scope2_market_tco2e_per_h"] == pytest.approx(1.2)
        assert rate["total_tco2e_per_h"] == pytest.approx(1.8)  # scope 1 + market scope 2
    assert a["trend"]["total_t_per_h"] == [pytest.approx(1.8)] * 60

    for rate in f["rates"]:  # over the 30 s covered, not diluted over the window
        assert rate["covered_s"] == 30
        assert rate["total_tco2e_per_h"] == pytest.approx(0.005 * 3600 / 30)

    zone = p.plant.zone
    local = now.astimezone(zone)
    day = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
    month = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    buckets = [first + dt.timedelta(minutes=i) for i in range(92)]
    in_day = sum(1 for b in buckets if b >= day)
    in_month = sum(1 for b in buckets if b >= month)
    assert a["today"]["total_t"] == pytest.approx(0.03 * in_day)
    assert a["today"]["scope2_location_t"] == pytest.approx(0.03 * in_day)
    assert a["today"]["budget_t"] == 12
    assert a["today"]["used_pct"] == pytest.approx(100 * 0.03 * in_day / 12, rel=1e-5)
    left_h = (day + dt.timedelta(days=1) - made).total_seconds() / 3600
    assert a["today"]["projected_t"] == pytest.approx(0.03 * in_day + 1.8 * left_h, rel=1e-3)
    assert a["month"]["total_t"] == pytest.approx(0.03 * in_month)
    assert a["month"]["budget_t"] == 330
    # assembly's hour is covered: its projections are judged (state from use and projection).
    for period in (a["today"], a["month"]):
        assert period["projection_covered_s"] == 3600 and not period["projection_warming_up"]
        assert period["budget_state"] in {"ok", "warning", "over"}
    assert a["today"]["budget_state"] == ("warning" if a["today"]["projected_pct"] >= 100 else "ok")
    # foundry's projection rests on 30 s: warming up, and marked so, whatever it projects.
    for period in (f["today"], f["month"]):
        assert period["projection_covered_s"] == 30 and period["projection_warming_up"]
        assert period["projected_pct"] is not None
        assert period["budget_state"] == "warming_up"

    meters = {m["id"]: m for m in a["meters"]}
    assert meters["assembly-grid"]["status"] == "ok"
    assert meters["assembly-grid"]["silent_s"] == 2
    assert meters["assembly-pv"]["status"] == "bad_quality"
    assert meters["assembly-pv"]["quality"] == "exception"
    assert meters["assembly-pv"]["last_good_at"] is not None
    assert meters["assembly-export"]["status"] == "silent"
    assert meters["assembly-export"]["quality"] == "stale"  # its last reading was good
    assert meters["assembly-export"]["silent_s"] == 400
    assert meters["assembly-diesel"]["status"] == "no_data"
    assert meters["assembly-diesel"]["quality"] is None

    # /v1/sites and /v1/meters give the same rates and the same meter health as the stream.
    h = {"X-API-Key": p.tokens["viewer"]}
    listed = {s["id"]: s for s in httpx.get(f"{live_server.base}/v1/sites", headers=h).json()}
    assert listed["foundry"]["rates"][1]["window_s"] == 900
    assert dt.datetime.fromisoformat(listed["foundry"]["rates_until"]) == end
    for sid, live in sites.items():
        assert listed[sid]["rates"] == live["rates"]
    assert listed["foundry"]["rates"][1]["covered_s"] == 30  # its 15 minutes: over 30 s
    api_meters = httpx.get(f"{live_server.base}/v1/meters?site=assembly", headers=h).json()
    for m in api_meters:
        assert (m["status"]["state"], m["status"]["quality"]) == (
            meters[m["id"]]["status"],
            meters[m["id"]]["quality"],
        )
    export = next(m for m in api_meters if m["id"] == "assembly-export")
    assert export["status"]["last_quality"] == "good"  # the reading's own, apart
    assert {m["id"] for m in f["meters"]} == {m.id for m in p.plant.meters if m.site == "foundry"}


def _revoke(p: LivePlant, role: str) -> None:
    with connect(p.url) as conn:
        assert keys.revoke(conn, p.key_ids[role])


@pytest.mark.parametrize("path", ["/v1/live", "/v1/live/stream"])
def test_auth(live_plant: LivePlant, live_server: Server, path: str) -> None:
    url = live_server.base + path
    for headers in ({}, {"X-API-Key": "nonsense"}, {"X-API-Key": "cs_0123456789ab_" + "x" * 43}):
        r = httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == "application/problem+json"
    for role in ("viewer", "operator", "admin"):
        token = {"X-API-Key": live_plant.tokens[role]}
        with httpx.stream("GET", url, headers=token, timeout=HTTP_TIMEOUT_S) as r:
            assert r.status_code == 200
    _revoke(live_plant, "viewer")
    r = httpx.get(url, headers={"X-API-Key": live_plant.tokens["viewer"]}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 401


def test_stream_events_and_heartbeat(
    live_plant: LivePlant, live_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT_S", 1.0)
    headers = {"X-API-Key": live_plant.tokens["viewer"], "Last-Event-ID": "12345"}
    url = f"{live_server.base}/v1/live/stream?interval=1"
    with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"  # keyed data (issue 10)
        seen: list[tuple[str, dict[str, str]]] = []
        for kind, fields in _events(r):
            seen.append((kind, fields))
            if kind == "comment":
                break
    kinds = [k for k, _ in seen]
    assert kinds[0] == "retry" and seen[0][1]["retry"] == str(sse.RETRY_MS)
    assert kinds[1] == "snapshot"  # a reconnect gets the whole state at once
    snap: dict[str, Any] = json.loads(seen[1][1]["data"])
    assert {s["id"] for s in snap["sites"]} == {"assembly", "foundry"}
    assert int(seen[1][1]["id"]) > 1_700_000_000_000
    # A snapshot is sent again only when it changed (the plant's clock can move one on,
    # e.g. a minute closing or a meter turning silent); otherwise heartbeats.
    snaps = [f["data"] for k, f in seen if k == "snapshot"]
    assert all(a != b for a, b in itertools.pairwise(snaps)), "a snapshot repeated"
    assert kinds[-1] == "comment"


# The stream's problem events in the reader's language (Accept-Language), as the API's
# problem responses: (title, detail) of a revoked key.
REVOKED = {
    "en": ("Unauthorized", "unknown or revoked API key"),
    "zh-CN": ("未授权", "API 密钥不存在或已吊销"),
}


@pytest.mark.parametrize("lang", list(REVOKED))
def test_stream_ends_on_revocation(
    live_plant: LivePlant, live_server: Server, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    monkeypatch.setattr(sse, "RECHECK_S", 0.0)  # the key is checked again every round
    url = f"{live_server.base}/v1/live/stream?interval=1"
    revoked = math.inf
    headers = {"X-API-Key": live_plant.tokens["viewer"], "Accept-Language": lang}
    problems: list[dict[str, Any]] = []
    with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S) as r:
        kinds = []
        for kind, fields in _events(r):
            kinds.append(kind)
            if kind == "snapshot" and kinds.count("snapshot") == 1:
                _revoke(live_plant, "viewer")
                revoked = time.monotonic()
            if kind == "problem":
                problems.append(json.loads(fields["data"]))
        # the iteration ended: the server closed the stream
    assert kinds[-1] == "problem"
    [p] = problems
    assert (p["status"], p["type"]) == (401, "https://carbonstream.dev/problems/unauthorized")
    assert (p["title"], p["detail"]) == REVOKED[lang]
    # Ended by the next round's check, long before the default RECHECK_S (60 s) would: a
    # hang bound, not a speed check (the whole exchange once took 38 s under load).
    assert time.monotonic() - revoked < 30


@pytest.mark.parametrize(
    ("lang", "title", "detail"),
    [
        ("en", "Database unavailable", "{error}"),
        ("zh-CN", "数据库不可用", "无法连接数据库，请数秒后重试（{error}）"),
    ],
)
def test_stream_tells_of_the_database_away_in_the_readers_language(
    live_plant: LivePlant, live_server: Server, lang: str, title: str, detail: str
) -> None:
    """The pool cannot lend the snapshot a connection (our own build made to raise the
    pool's PoolTimeout, as the pool does when the database is away): the stream says so
    once in a problem event, in the request's language, and stays open."""
    hub = live_server.hub
    build = hub._build
    error = "couldn't get a connection after 10.00 sec"

    async def starved(now: dt.datetime) -> Any:
        raise PoolTimeout(error)

    hub._build = starved  # type: ignore[method-assign]
    hub._cached = None
    url = f"{live_server.base}/v1/live/stream?interval=1"
    headers = {"X-API-Key": live_plant.tokens["viewer"], "Accept-Language": lang}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S) as r:
            assert r.status_code == 200
            for kind, fields in _events(r):
                if kind == "problem":
                    p = json.loads(fields["data"])
                    break
                assert kind == "retry", kind  # nothing before the problem but the retry
    finally:
        hub._build = build  # type: ignore[method-assign]
    # The type the API's 503 has (db.unavailable), not one of the stream's own.
    assert (p["status"], p["type"]) == (503, unavailable(PoolTimeout(error)).type)
    assert p["type"] == "https://carbonstream.dev/problems/database-unavailable"
    assert (p["title"], p["detail"]) == (title, detail.format(error=error))


def test_stream_stops_on_disconnect_and_shutdown(
    live_plant: LivePlant, live_server: Server
) -> None:
    url = f"{live_server.base}/v1/live/stream?interval=1"
    headers = {"X-API-Key": live_plant.tokens["viewer"]}
    with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S) as r:
        for kind, _ in _events(r):
            if kind == "snapshot":
                assert live_server.hub.streams == 1
                break
    end = time.monotonic() + 30  # a hang bound
    while live_server.hub.streams and time.monotonic() < end:
        time.sleep(0.05)
    assert live_server.hub.streams == 0  # the client went: its stream ended

    # Shutdown while a client listens: it is told, and the server stops at once. uvicorn's
    # backstop (timeout_graceful_shutdown) is raised far past the bound below, so a stream
    # that held the server would fail it, and a slow machine's good stop would not.
    live_server.api.config.timeout_graceful_shutdown = 120
    with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S) as r:
        kinds = []
        for kind, _ in _events(r):
            kinds.append(kind)
            if kind == "snapshot":
                t0 = time.monotonic()
                live_server.loop.call_soon_threadsafe(live_server.api.stop)
    assert kinds[-1] == "bye"
    live_server.shutdown(timeout=60)
    assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_fifty_clients_on_a_small_pool(live_plant: LivePlant, live_server: Server) -> None:
    """50 open streams and 100 snapshot requests at once on a pool of 4 connections: no
    request holds a connection while it waits for the shared snapshot, no stream holds one
    for its life."""
    headers = {"X-API-Key": live_plant.tokens["viewer"]}
    opened = threading.Barrier(51, timeout=30)

    def listen(_: int) -> bool:
        with httpx.stream(
            "GET", f"{live_server.base}/v1/live/stream", headers=headers, timeout=30, verify=TLS
        ) as r:
            events = _events(r)  # kept: a dropped generator would close the response
            got = any(kind == "snapshot" for kind, _ in itertools.islice(events, 2))
            opened.wait()  # every stream is open while the snapshots are asked for
            opened.wait()
            return got

    with ThreadPoolExecutor(50) as pool:
        streams = [pool.submit(listen, i) for i in range(50)]
        opened.wait()
        assert live_server.hub.streams == 50
        with ThreadPoolExecutor(50) as pool2:
            codes = list(
                pool2.map(
                    lambda _: (
                        httpx.get(
                            f"{live_server.base}/v1/live", headers=headers, timeout=30, verify=TLS
                        ).status_code
                    ),
                    range(100),
                )
            )
        opened.wait()
        assert all(s.result() for s in streams)
    assert codes == [200] * 100


@pytest.mark.slow
def test_sites_and_metrics_on_a_small_pool(live_plant: LivePlant, live_server: Server) -> None:
    """/v1/sites, /v1/sites/{id} and /metrics read the shared snapshot: 90 requests at once
    on a pool of 4 connections all get an answer, because none holds a connection (for
    its viewer check or its own queries) while it waits for the snapshot's build, which
    needs one. Holding one starved the build until the pool's timeout: 500s and 10 s waits."""
    headers = {"X-API-Key": live_plant.tokens["viewer"]}
    paths = ["/v1/sites", "/v1/sites/foundry", "/metrics"] * 30

    def get(path: str) -> int:
        r = httpx.get(f"{live_server.base}{path}", headers=headers, timeout=30, verify=TLS)
        return r.status_code

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(get, paths))
    assert codes == [200] * len(paths)


def test_concurrent_snapshots_share_one_build(live_server: Server) -> None:
    """Requests that arrive while a snapshot is being built await that build: twenty at
    once cost one round of queries, and all get the same snapshot."""
    hub = live_server.hub
    build = hub._build
    builds = 0

    async def counted(now: dt.datetime) -> Any:
        nonlocal builds
        builds += 1
        return await build(now)

    async def twenty() -> list[Any]:
        hub._cached = None  # no snapshot younger than max_age_s from an earlier request
        return await asyncio.gather(*(hub.snapshot() for _ in range(20)))

    hub._build = counted  # type: ignore[method-assign]
    try:
        snaps = asyncio.run_coroutine_threadsafe(twenty(), live_server.loop).result(30)
    finally:
        hub._build = build  # type: ignore[method-assign]
    assert builds == 1
    assert all(s is snaps[0] for s in snaps)


def test_live_is_a_503_problem_when_the_snapshot_gets_no_connection(
    live_plant: LivePlant, live_server: Server
) -> None:
    """A snapshot build the pool cannot lend a connection to (PoolTimeout) answers /v1/live
    with the database-unavailable problem, as /v1/sites does, not with a 500."""
    hub = live_server.hub
    build = hub._build

    async def starved(now: dt.datetime) -> Any:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")

    hub._build = starved  # type: ignore[method-assign]
    hub._cached = None
    try:
        r = httpx.get(
            f"{live_server.base}/v1/live",
            headers={"X-API-Key": live_plant.tokens["viewer"]},
            timeout=30,
        )
    finally:
        hub._build = build  # type: ignore[method-assign]
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/database-unavailable")
