"""The API's async connection pool and the dependency that lends a connection."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from carbonstream.api.problems import Problem
from carbonstream.i18n import Msg
from carbonstream.store.db import AsyncConn

__all__ = ["AsyncConn", "Connection", "borrow", "lent", "make_pool", "unavailable"]

_IDLE_CHECK_S = 10.0
_LENT = "lent_connection"  # the request's state: the connection its Connection holds
_returned: weakref.WeakKeyDictionary[AsyncConn, float] = weakref.WeakKeyDictionary()


async def _stamp(conn: AsyncConn) -> None:
    _returned[conn] = time.monotonic()


async def _check(conn: AsyncConn) -> None:
    """Check a connection only if it sat idle a while: a restarted server is survived
    without a round trip on every request of a busy API."""
    if time.monotonic() - _returned.get(conn, 0.0) > _IDLE_CHECK_S:
        await AsyncConnectionPool.check_connection(conn)


def make_pool(url: str, size: int) -> AsyncConnectionPool[AsyncConn]:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        open=False,
        check=_check,
        reset=_stamp,
        kwargs={"autocommit": True},
        name="carbonstream-api",
    )


def unavailable(e: Exception) -> Problem:
    """The problem a client gets while the database cannot be reached: retry later."""
    return Problem(
        503,
        "Database unavailable",
        Msg("problems.detail.database-unavailable", {"error": str(e).strip()}),
        "database-unavailable",
        headers={"Retry-After": "5"},
    )


@asynccontextmanager
async def borrow(request: Request) -> AsyncIterator[AsyncConn]:
    """A pooled connection for a block of a route: a route that first waits for the shared
    live snapshot (whose build needs a connection of its own) borrows only after it, so
    waiting requests never hold the pool's every connection and starve the build."""
    pool: AsyncConnectionPool[AsyncConn] = request.app.state.pool
    try:
        async with pool.connection(timeout=10) as conn:
            yield conn
    except psycopg.OperationalError as e:  # PoolTimeout included
        raise unavailable(e) from None


async def _connection(request: Request) -> AsyncIterator[AsyncConn]:
    async with borrow(request) as conn:
        setattr(request.state, _LENT, conn)
        try:
            yield conn
        finally:
            setattr(request.state, _LENT, None)


def lent(request: Request) -> AsyncConn | None:
    """The connection the request's route holds (its :data:`Connection`), if it holds one
    now: a check before the route (the key's) uses it rather than take a second."""
    conn: AsyncConn | None = getattr(request.state, _LENT, None)
    return conn


Connection = Annotated[AsyncConn, Depends(_connection)]
