"""A pool of one connection serves streams, snapshot readers and queries at once.

The key check returns its connection before the route runs, or uses the one the route
holds: no request holds two at once, and a route that holds none (a stream; /v1/sites,
/metrics and /v1/live, which wait for the shared live snapshot whose build needs one)
holds none for its key either. A request that held one while it waited would starve
the build, or the others, until the pool's 10 s timeout: a 503.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from carbonstream.api import ApiSettings, create_app
from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.settings import ApiLimits

from .fix_live import HTTP_TIMEOUT_S, PLANT, TLS, LivePlant, Server, live_plant, serve

__all__ = ["live_plant"]  # fixtures

STREAMS = 2


@pytest.fixture
def one_connection(live_plant: LivePlant, live_limits: ApiLimits) -> Iterator[Server]:
    app = create_app(ApiSettings(plant=str(PLANT), pool_size=1, limits=live_limits), live_plant.url)

    # The route's connection resolved before the key check: the check must use it, not
    # wait for a second one the pool does not have.
    @app.get("/test/connection-first")
    async def connection_first(conn: Connection, who: Viewer) -> dict[str, str]:
        await conn.execute("SELECT 1")
        return {"key": who.key_id}

    with serve(app) as srv:
        yield srv


def _first_event(lines: Iterator[str]) -> str:
    """The name of the stream's first event after its retry line."""
    for line in itertools.islice(lines, 20):
        if line.startswith("event: "):
            return line.removeprefix("event: ")
    return ""


def test_one_connection_serves_streams_snapshots_and_queries_at_once(
    live_plant: LivePlant, one_connection: Server
) -> None:
    base = one_connection.base
    headers = {"X-API-Key": live_plant.tokens["viewer"]}
    opened = threading.Barrier(STREAMS + 1, timeout=60)

    def listen(_: int) -> str:
        url = f"{base}/v1/live/stream"
        with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT_S, verify=TLS) as r:
            lines = r.iter_lines()  # kept: a dropped generator would close the response
            first = _first_event(lines) if r.status_code == 200 else str(r.status_code)
            opened.wait()  # every stream is open while the others ask
            opened.wait()
            return first

    def get(path: str) -> int:
        r = httpx.get(f"{base}{path}", headers=headers, timeout=HTTP_TIMEOUT_S, verify=TLS)
        return r.status_code

    paths = [
        "/v1/sites",
        "/metrics",
        "/v1/live",
        "/v1/me",
        "/v1/contracts",
        "/test/connection-first",
    ] * 4
    with ThreadPoolExecutor(STREAMS) as streams:
        firsts = [streams.submit(listen, i) for i in range(STREAMS)]
        opened.wait()
        assert one_connection.hub.streams == STREAMS
        with ThreadPoolExecutor(12) as askers:
            codes = list(askers.map(get, paths))
        opened.wait()
        assert [f.result() for f in firsts] == ["snapshot"] * STREAMS
    assert codes == [200] * len(paths), Counter(zip(paths, codes, strict=True))
