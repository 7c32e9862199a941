"""API key authentication with roles (viewer < operator < admin).

The key is sent as ``X-API-Key: cs_<id>_<secret>`` (or ``Authorization:
Bearer ...``). Every route but health, and ``/metrics`` when configured public,
depends on :func:`require`. A missing or unknown key is 401, a revoked one too
(it no longer exists for the API); a key whose role is too low is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from carbonstream.api.db import AsyncConn, borrow, lent
from carbonstream.api.problems import Problem
from carbonstream.i18n import Msg
from carbonstream.store import keys
from carbonstream.store.keys import Role

HEADER = "X-API-Key"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: Role

    @property
    def label(self) -> str:
        """Who did it, for the ledgers: the key's id and name."""
        return f"{self.key_id} ({self.name})"


def _token(request: Request) -> str | None:
    token = request.headers.get(HEADER)
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _unauthorized(detail: Msg) -> Problem:
    return Problem(
        401, "Unauthorized", detail, "unauthorized", headers={"WWW-Authenticate": "ApiKey"}
    )


def _parsed(request: Request) -> tuple[str, str]:
    """The key's id and secret; no key or a malformed one is refused before any query."""
    token = _token(request)
    if token is None:
        raise _unauthorized(Msg("problems.detail.send-key", {"header": HEADER}))
    parsed = keys.parse_token(token)
    if parsed is None:
        raise _unauthorized(Msg("problems.detail.key-malformed"))
    return parsed


async def _principal(conn: AsyncConn, key_id: str, secret: str, role: Role) -> Principal:
    row = await (
        await conn.execute(keys.AUTH_SQL, {"id": key_id, "digest": keys.digest(secret)})
    ).fetchone()
    if row is None or not keys.matches(secret, row[2]):
        raise _unauthorized(Msg("problems.detail.key-unknown"))
    have = Role.parse(row[1])
    if have < role:
        raise Problem(
            403,
            "Forbidden",
            Msg(
                "problems.detail.role-needed",
                {"role": role.name.lower(), "key_id": key_id, "have": have.name.lower()},
            ),
            "forbidden",
        )
    return Principal(key_id, row[0], have)


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """The key check of a route: on the connection the route holds (its ``Connection``,
    when resolved first), else on one borrowed for the check and returned before the route
    runs. So a request never holds two connections at once, and a route that holds none
    (a stream, one that waits for the shared live snapshot, whose build needs one) holds
    none for its key either: with the pool's every connection held by such requests, the
    build would starve."""

    async def dependency(request: Request) -> Principal:
        key_id, secret = _parsed(request)
        held = lent(request)
        if held is not None:
            return await _principal(held, key_id, secret, role)
        async with borrow(request) as conn:
            return await _principal(conn, key_id, secret, role)

    dependency.role = role  # type: ignore[attr-defined]  # read by the route audit test
    return dependency


check_viewer = require(Role.VIEWER)
"""The viewer check as a call: also mid-stream, so a revoked key loses its stream."""


async def require_unless_public(request: Request) -> Principal | None:
    """A viewer key, unless the settings serve ``/metrics`` publicly."""
    if request.app.state.settings.public_metrics:
        return None
    return await check_viewer(request)


Viewer = Annotated[Principal, Depends(check_viewer)]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
