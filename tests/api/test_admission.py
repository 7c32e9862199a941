"""Per-key and total limits on live streams and report renders: 429, Retry-After, problem
details (issue 10: one viewer key opened 400 streams; eight parallel monthly PDFs took
32 s of CPU on two cores)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from carbonstream.api.admission import Gate
from carbonstream.api.problems import MEDIA_TYPE
from carbonstream.api.settings import ApiLimits
from carbonstream.store import keys
from tests.api.conftest import Api

from .fix_live import HTTP_TIMEOUT_S, LivePlant, Server, live_plant, live_server

# slow: renders reports in parallel against the live server's limits (out of make test-fast)
pytestmark = pytest.mark.slow

__all__ = ["live_plant", "live_server"]  # fixtures


@pytest.fixture
def live_limits() -> ApiLimits:
    return ApiLimits(streams_per_key=2, streams_total=3, retry_after_s=7)


_KEEP: list[Iterator[str]] = []


def _open(stack: ExitStack, base: str, token: str) -> httpx.Response:
    r = stack.enter_context(
        httpx.stream(
            "GET", f"{base}/v1/live/stream", headers={"X-API-Key": token}, timeout=HTTP_TIMEOUT_S
        )
    )
    if r.status_code == 200:
        lines = r.iter_lines()
        _KEEP.append(lines)  # a dropped line iterator would close the response
        stack.callback(_KEEP.remove, lines)
        next(lines)  # the stream is open and admitted: its first line came
    else:
        r.read()
    return r


def _too_many(r: httpx.Response, limit: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "7"
    assert r.headers["content-type"] == MEDIA_TYPE
    body = r.json()
    assert body["type"].endswith("/too-many-requests")
    assert body["limit"] == limit


def test_one_key_gets_429_past_its_streams_and_all_keys_past_the_total(
    live_plant: LivePlant, live_server: Server
) -> None:
    viewer, operator, admin = (live_plant.tokens[r] for r in ("viewer", "operator", "admin"))
    base = live_server.base
    with ExitStack() as first:
        assert _open(first, base, viewer).status_code == 200
        with ExitStack() as second:
            assert _open(second, base, viewer).status_code == 200
            third = _open(second, base, viewer)
            _too_many(third, "live streams")
            assert "holds 2 live streams" in third.json()["detail"]
            assert _open(second, base, operator).status_code == 200  # another key: admitted
            over = _open(second, base, admin)  # 3 open in all: the server's limit
            _too_many(over, "live streams")
            assert "runs 3 live streams" in over.json()["detail"]
        # the second viewer stream and the operator's are closed: their slots come back
        end = time.monotonic() + 30  # a hang bound
        while True:
            with ExitStack() as again:
                if _open(again, base, viewer).status_code == 200:
                    break
            assert time.monotonic() < end, "a closed stream kept its slot"
            time.sleep(0.1)


def _key_id(token: str) -> str:
    parsed = keys.parse_token(token)
    assert parsed is not None
    return parsed[0]


def _report(api: Api, role: str) -> httpx.Response:
    r: httpx.Response = api.client.get(
        "/v1/reports/monthly?month=2026-11&format=xlsx", headers=api.headers(role)
    )
    return r


def test_a_render_past_the_keys_or_the_servers_limit_gets_429(api: Api) -> None:
    """The default limits: one render per key, two in all. A render in progress is held
    in the app's gate directly (deterministic), and released when it ends."""
    gate: Gate = api.client.app.state.renders  # type: ignore[attr-defined]
    assert (gate.per_key, gate.total) == (1, 2)
    viewer = _key_id(api.tokens["viewer"])
    with gate.slot(viewer):
        r = _report(api, "viewer")
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == str(ApiLimits().retry_after_s)
        assert _report(api, "operator").status_code == 200  # another key renders
        with gate.slot("someone-else"):
            r = _report(api, "admin")  # two running in all
            assert r.status_code == 429
            assert "runs 2 report renders" in r.json()["detail"]
    assert _report(api, "viewer").status_code == 200
    assert gate.in_use == 0  # every render gave its slot back, refused ones took none


def test_parallel_renders_of_one_key_run_one_at_a_time(api: Api) -> None:
    def render(_: int) -> Any:
        return _report(api, "viewer").status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(render, range(6)))
    assert set(codes) <= {200, 429}, codes
    assert 200 in codes
    assert 429 in codes, codes
