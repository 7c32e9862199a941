"""Versioned SQL migrations, applied in order, each in its own transaction.

Files are ``migrations/NNNN_name.sql``; a step that differs by flavour has
``NNNN_name.plain.sql`` and ``NNNN_name.timescale.sql`` and the one matching
the server is applied. ``schema_migrations`` records what ran and in which
flavour, so a database never mixes the two.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

import psycopg

from carbonstream.store.db import Conn
from carbonstream.store.errors import SchemaError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")
# One lock id for "a migration is running" (any two workers starting at once).
_LOCK_ID = 0x0C0_2_57EA


class Flavour(StrEnum):
    PLAIN = "plain"
    TIMESCALE = "timescale"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    flavour: Flavour | None  # None: the same for both
    sql: str


def available() -> list[Migration]:
    """Every migration file shipped in the package, by version then flavour."""
    out = []
    for entry in resources.files("carbonstream.store.migrations").iterdir():
        m = _NAME.match(entry.name)
        if not m:
            continue
        flavour = Flavour(m.group(3)) if m.group(3) else None
        out.append(Migration(int(m.group(1)), m.group(2), flavour, entry.read_text("utf-8")))
    return sorted(out, key=lambda x: (x.version, x.flavour or ""))


def plan(flavour: Flavour, applied: set[int]) -> list[Migration]:
    """The migrations still to run on a server of this flavour."""
    todo = [m for m in available() if m.version not in applied and m.flavour in (None, flavour)]
    versions = [m.version for m in todo]
    if len(versions) != len(set(versions)):
        raise SchemaError(f"two migration files share a version: {sorted(versions)}")
    return todo


def detect(conn: Conn) -> Flavour:
    """TimescaleDB when the extension is installed or can be, plain PostgreSQL otherwise."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'),"
        " (SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb')"
    ).fetchone()
    assert row is not None
    installed, available_ = int(row[0]), int(row[1])
    if installed or available_:
        return Flavour.TIMESCALE
    return Flavour.PLAIN


def migrate(conn: Conn) -> tuple[Flavour, list[Migration]]:
    """Bring the schema up to date; returns the flavour and what was applied."""
    was_autocommit = conn.autocommit
    if not was_autocommit:
        conn.commit()
        conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, flavour text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version, flavour FROM schema_migrations").fetchall()
        applied = {int(v) for v, _ in rows}
        flavours = {str(f) for _, f in rows} - {"any"}
        flavour = Flavour(flavours.pop()) if flavours else detect(conn)
        if flavour is Flavour.TIMESCALE:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            except psycopg.Error as e:
                if flavours:  # the schema is already TimescaleDB: this is fatal
                    raise SchemaError(
                        f"the schema uses TimescaleDB but the extension cannot load: {e}"
                    ) from None
                log.warning(
                    "TimescaleDB is installed but cannot be loaded (%s; add it to "
                    "shared_preload_libraries): using plain PostgreSQL",
                    str(e).strip(),
                )
                flavour = Flavour.PLAIN
        todo = plan(flavour, applied)
        for m in todo:
            log.info("applying migration %04d_%s (%s)", m.version, m.name, m.flavour or "any")
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, flavour) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.flavour or "any"),
                )
        return flavour, todo
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
        conn.autocommit = was_autocommit


def current_flavour(conn: Conn) -> Flavour | None:
    row = conn.execute(
        "SELECT flavour FROM schema_migrations WHERE flavour <> 'any' ORDER BY version LIMIT 1"
    ).fetchone()
    return Flavour(str(row[0])) if row else None
