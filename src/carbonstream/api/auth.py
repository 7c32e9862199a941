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

import psycopg
from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from carbonstream.api.db import AsyncConn, Connection, unavailable
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


def require(role: Role) -> Callable[[Request, Connection], Awaitable[Principal]]:
    async def dependency(request: Request, conn: Connection) -> Principal:
        token = _token(request)
        if token is None:
            raise _unauthorized(Msg("problems.detail.send-key", {"header": HEADER}))
        parsed = keys.parse_token(token)
        if parsed is None:
            raise _unauthorized(Msg("problems.detail.key-malformed"))
        key_id, secret = parsed
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

    dependency.role = role  # type: ignore[attr-defined]  # read by the route audit test
    return dependency


_viewer = require(Role.VIEWER)


async def require_unless_public(request: Request) -> Principal | None:
    """A viewer key, unless the settings serve ``/metrics`` publicly (checked on a released
    connection: ``/metrics`` waits for the shared live snapshot)."""
    if request.app.state.settings.public_metrics:
        return None
    return await viewer_released(request)


Viewer = Annotated[Principal, Depends(_viewer)]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


async def viewer_released(request: Request) -> Principal:
    """The viewer check of every route, on a connection held only for the check: a stream
    must not keep a pooled connection for its life, and a snapshot request must not hold
    one while it waits for the shared snapshot (which needs one: with the pool's every
    connection held by waiting requests, it would starve)."""
    pool: AsyncConnectionPool[AsyncConn] = request.app.state.pool
    try:
        async with pool.connection(timeout=10) as conn:
            return await require(Role.VIEWER)(request, conn)
    except (psycopg.OperationalError, PoolTimeout) as e:
        raise unavailable(e) from None


viewer_released.role = Role.VIEWER  # type: ignore[attr-defined]  # read by the route audit test
ViewerReleased = Annotated[Principal, Depends(viewer_released)]
