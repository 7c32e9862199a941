"""Response headers on every route of the OpenAPI schema, from a real uvicorn (issue 10):
``X-Content-Type-Options: nosniff`` everywhere, ``Cache-Control: no-store`` on keyed data,
and no ``server`` header naming the stack."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from .fix_live import HTTP_TIMEOUT_S, LivePlant, Server, live_plant, live_server

__all__ = ["live_plant", "live_server"]  # fixtures

# A value for every path parameter of the schema (a missing one fails the test).
PARAMS = {
    "site_id": "assembly",
    "meter_id": "assembly-grid",
    "contract_id": "nosuch",
    "offset_id": "nosuch",
    "factor_id": "nosuch",
    "restatement_id": "1",
    "line": "casting-1",
    "lot_id": "nosuch",
    "product_id": "nosuch",
    "slug": "nosuch",
}


def _check(r: httpx.Response, what: str) -> None:
    assert r.headers.get("x-content-type-options") == "nosniff", what
    assert r.headers.get("cache-control") == "no-store", what
    assert "server" not in r.headers, (what, r.headers.get("server"))


def _call(client: httpx.Client, method: str, url: str, headers: dict[str, str]) -> None:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    with client.stream(method, url, headers=headers, json=body) as r:
        _check(r, f"{method} {url} -> {r.status_code}")  # streams: the headers suffice


@pytest.mark.slow
def test_every_route_has_the_security_headers(live_plant: LivePlant, live_server: Server) -> None:
    base = live_server.base
    with httpx.Client(base_url=base, timeout=60) as client:
        spec = client.get("/openapi.json").json()
        operations = 0
        for path, ops in spec["paths"].items():
            names = re.findall(r"{(\w+)}", path)
            missing = set(names) - set(PARAMS)
            assert not missing, f"no test value for {missing} in {path}"
            url = re.sub(r"{(\w+)}", lambda m: PARAMS[m.group(1)], path)
            for method in ops:
                operations += 1
                admin = {"X-API-Key": live_plant.tokens["admin"]}
                _call(client, method.upper(), url, admin)  # keyed: 2xx, 404 or 422
                _call(client, method.upper(), url, {})  # no key: 401 (or public)
        assert operations >= 30
        for path in ("/", "/static/live.js", "/nosuch", "/openapi.json"):
            r = client.get(path)
            assert r.headers.get("x-content-type-options") == "nosniff", path
            assert "server" not in r.headers, path


@pytest.mark.parametrize("path", ["/static/live.js", "/static/live.css"])
def test_static_files_of_the_page_may_be_cached(
    live_plant: LivePlant, live_server: Server, path: str
) -> None:
    r = httpx.get(live_server.base + path, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200
    assert r.headers.get("cache-control") != "no-store"  # no data, no key: cacheable


# Responses in the reader's language: (what, method, path, role or None for no key, status).
# Problems from a route, from the guard before routing and from an unknown path; the
# forecast (its insufficient-history detail is localised); the stream; the page's
# messages; the monthly report.
IN_THE_READERS_LANGUAGE = [
    ("401 problem", "/v1/sites", None, 401),
    ("404 problem, unknown path", "/v1/nosuch", "viewer", 404),
    ("422 problem, unknown parameter", "/v1/sites?colour=blue", "viewer", 422),
    ("422 problem from the guard", "/v1/sites%01", "viewer", 422),
    ("forecast", "/v1/forecast?site=assembly", "viewer", 200),
    ("live stream", "/v1/live/stream", "viewer", 200),
    ("live page messages", "/i18n/live.json", None, 200),
    ("monthly report", "/v1/reports/monthly?month=2026-11&format=xlsx", "viewer", 200),
]


def _vary(r: httpx.Response) -> list[str]:
    return [v.strip().lower() for h in r.headers.get_list("vary") for v in h.split(",")]


def test_every_response_in_the_readers_language_says_vary_accept_language(
    live_plant: LivePlant, live_server: Server
) -> None:
    """A cache keyed without Accept-Language would serve one reader's language to another:
    each of these says ``Vary: Accept-Language`` once; a response that is the same in
    every language (the sites' figures, the OpenAPI document) does not."""
    with httpx.Client(base_url=live_server.base, timeout=HTTP_TIMEOUT_S) as client:
        for what, path, role, status in IN_THE_READERS_LANGUAGE:
            headers = {"Accept-Language": "zh-CN"}
            if role is not None:
                headers["X-API-Key"] = live_plant.tokens[role]
            with client.stream("GET", path, headers=headers) as r:
                assert r.status_code == status, (what, r.status_code)
                assert _vary(r).count("accept-language") == 1, (what, r.headers)
        viewer = {"X-API-Key": live_plant.tokens["viewer"], "Accept-Language": "zh-CN"}
        for path in ("/v1/sites", "/openapi.json"):
            r = client.get(path, headers=viewer)
            assert r.status_code == 200, (path, r.text[:200])
            assert "accept-language" not in _vary(r), (path, r.headers)
