"""API keys in the database: create, revoke, list, look up. Only hashes are stored.

A token reads ``cs_<id>_<secret>``: the id is public (it names the key in logs
and in ``carbonstream keys list``), the secret is 256 bits from ``secrets``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum

from carbonstream.store.db import Conn
from carbonstream.store.errors import StoreError

_TOKEN = re.compile(r"^cs_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


class Role(IntEnum):
    """Ordered: a role may do everything the ones below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise StoreError(f"unknown role {name!r}; use viewer, operator or admin") from None


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    m = _TOKEN.match(token.strip())
    return (m.group(1), m.group(2)) if m else None


def matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_sha256)


def create(conn: Conn, name: str, role: Role) -> tuple[ApiKey, str]:
    """A new key; the token is returned once and never stored."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (id, name, role, secret_sha256) VALUES (%s, %s, %s, %s)"
        " RETURNING created_at",
        (key_id, name, role.name.lower(), digest(secret)),
    ).fetchone()
    conn.commit()
    assert row is not None
    return ApiKey(key_id, name, role, row[0], None, None), f"cs_{key_id}_{secret}"


def revoke(conn: Conn, key_id: str) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,)
    )
    conn.commit()
    return cur.rowcount == 1


def list_keys(conn: Conn) -> list[ApiKey]:
    rows = conn.execute(
        "SELECT id, name, role, created_at, revoked_at, last_used_at FROM api_keys"
        " ORDER BY created_at"
    ).fetchall()
    return [ApiKey(r[0], r[1], Role.parse(r[2]), r[3], r[4], r[5]) for r in rows]


LOOKUP_SQL = "SELECT name, role, secret_sha256 FROM api_keys WHERE id = %s AND revoked_at IS NULL"
TOUCH_SQL = (
    "UPDATE api_keys SET last_used_at = now() WHERE id = %s"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"
)

# Lookup and last-use stamp in one round trip: the stamp is written (at most once a
# minute) only when the presented secret's digest matches.
AUTH_SQL = (
    "WITH k AS (SELECT id, name, role, secret_sha256 FROM api_keys"
    " WHERE id = %(id)s AND revoked_at IS NULL),"
    " t AS (UPDATE api_keys AS a SET last_used_at = now() FROM k"
    " WHERE a.id = k.id AND k.secret_sha256 = %(digest)s"
    " AND (a.last_used_at IS NULL OR a.last_used_at < now() - interval '1 minute'))"
    " SELECT name, role, secret_sha256 FROM k"
)
