"""Every route needs a key with the right role: walked from the app's own route list, so a
new route without authentication (or with a weaker role than declared) fails here."""

from __future__ import annotations

import re
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from carbonstream.api.auth import require_unless_public
from carbonstream.store import keys
from carbonstream.store.db import connect
from carbonstream.store.keys import Role
from tests.api.conftest import Api

# "/" is the live page: static HTML, no data; /i18n/live.json its messages (no data either).
PUBLIC = {"/healthz", "/readyz", "/", "/i18n/live.json"}
# The opt-in public disclosure: keyless and read-only by design (tests/api/test_disclosure.py).
DISCLOSURE = {
    "/public/{slug}",
    "/public/{slug}/disclosure.json",
    "/public/{slug}/disclosure.json.sig",
    "/public/{slug}/disclosure.pub.pem",
}
PUBLIC |= DISCLOSURE
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _roles(dep: Dependant, found: set[Any]) -> set[Any]:
    for d in dep.dependencies:
        if d.call is require_unless_public:
            found.add("metrics")
        role = getattr(d.call, "role", None)
        if role is not None:
            found.add(role)
        _roles(d, found)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Flattened, whether FastAPI keeps included routers as objects or copies their routes."""
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):
            out += _api_routes(r.original_router.routes)
    return out


def routes(api: Api) -> list[tuple[str, str, Any]]:
    out = []
    app: Any = api.client.app
    for r in _api_routes(app.routes):
        roles = _roles(r.dependant, set())
        for method in sorted(r.methods or ()):
            out.append((method, r.path, max(roles, default=None, key=str)))
    return out


def test_every_route_declares_its_access(api: Api) -> None:
    found = routes(api)
    app: Any = api.client.app
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    undocumented = {(m, p) for m, p, _ in found} - documented
    # only the page and its messages are left out of the schema
    assert undocumented == {("GET", "/"), ("GET", "/i18n/live.json")}
    assert documented <= {(m, p) for m, p, _ in found}  # the walk sees every documented route
    assert len(found) >= 20
    for method, path, role in found:
        if path in PUBLIC:
            assert role is None, f"{method} {path} is meant to be public"
            continue
        assert role is not None, f"{method} {path} has no API key dependency"
        if method in WRITES:
            assert role in (Role.OPERATOR, Role.ADMIN), f"{method} {path} lets viewers write"


def test_every_route_refuses_missing_revoked_and_weaker_keys(api: Api) -> None:
    with connect(api.db_url) as conn:
        _, revoked = keys.create(conn, "to revoke", Role.ADMIN)
        assert keys.revoke(conn, keys.parse_token(revoked)[0])  # type: ignore[index]
    c = api.client
    below = {Role.OPERATOR: "viewer", Role.ADMIN: "operator"}
    checked = 0
    for method, path, role in routes(api):
        url = re.sub(r"\{[^}]+\}", "x", path)
        body: dict[str, Any] = {"json": {}} if method in WRITES else {}
        if path in PUBLIC:
            # No plant 'x' discloses anything: 404 without a key, never 401.
            want = 404 if path in DISCLOSURE else 200
            assert c.request(method, url).status_code == want
            continue
        r = c.request(method, url, **body)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        r = c.request(method, url, headers={"X-API-Key": revoked}, **body)
        assert r.status_code == 401, (method, path, "revoked", r.status_code)
        need = Role.VIEWER if role == "metrics" else role
        if need in below:
            r = c.request(method, url, headers=api.headers(below[need]), **body)
            assert r.status_code == 403, (method, path, below[need], r.status_code)
            assert "role" in r.json()["detail"]
        if path.endswith("/stream"):  # never ends: read the status line only
            with c.stream(method, url, headers=api.headers(need.name.lower())) as r:
                assert r.status_code == 200, (method, path, r.status_code)
        else:
            r = c.request(method, url, headers=api.headers(need.name.lower()), **body)
            assert r.status_code not in (401, 403), (method, path, r.status_code, r.text)
        checked += 1
    assert checked >= 20
