"""Alert state, history and the webhook outbox in PostgreSQL (migration 0005).

One evaluation round is one transaction: load the state, evaluate, save the
state, append the transitions to ``alert_history`` and queue their webhook
notifications in ``alert_notifications``. A crash before the commit loses the
round, not an alert: the next round sees the same signals and the same state.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from carbonstream.alerts.engine import AlertEngine, Transition
from carbonstream.alerts.notify import Delivery

AsyncConn = psycopg.AsyncConnection[TupleRow]

# One advisory lock id for "an alert round is running": with several API
# replicas configured for alerts, one evaluates at a time, on the shared state.
ROUND_LOCK = 0x0C0_2_A1E7


_INSERT_HISTORY = (
    "INSERT INTO alert_history (rule, status, at, fired_at, value, kind, severity,"
    " site, meter, measure, threshold, clear_threshold, description, payload)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


def _ts(x: float | None) -> dt.datetime | None:
    return None if x is None else dt.datetime.fromtimestamp(x, dt.UTC)


def _or_nan(x: float | None) -> float:
    return float("nan") if x is None else x


def _unix(x: dt.datetime | None) -> float | None:
    return None if x is None else x.timestamp()


async def try_lock_round(conn: AsyncConn) -> bool:
    """Inside a transaction: take the round lock, or learn another process holds it."""
    row = await (
        await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (ROUND_LOCK,))
    ).fetchone()
    return bool(row and row[0])


async def load_state(conn: AsyncConn) -> dict[str, dict[str, Any]]:
    rows = await (
        await conn.execute("SELECT rule, status, since, value, fired_at FROM alert_state")
    ).fetchall()
    return {
        str(r[0]): {"status": r[1], "since": _unix(r[2]), "value": r[3], "fired_at": _unix(r[4])}
        for r in rows
    }


async def save_state(conn: AsyncConn, engine: AlertEngine, now: float) -> None:
    rows = []
    for rid, s in engine.state.items():
        r = engine.rules[rid]
        rows.append(
            (
                rid,
                s.status,
                _ts(s.since),
                s.value,
                _ts(s.fired_at),
                r.kind.value,
                r.severity,
                r.site,
                r.meter,
                r.measure.value,
                r.threshold,
                r.clear,
                r.description,
                _ts(now),
            )
        )
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO alert_state (rule, status, since, value, fired_at, kind, severity,"
            " site, meter, measure, threshold, clear_threshold, description, evaluated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (rule) DO UPDATE SET status = excluded.status,"
            " since = excluded.since, value = excluded.value, fired_at = excluded.fired_at,"
            " kind = excluded.kind, severity = excluded.severity, site = excluded.site,"
            " meter = excluded.meter, measure = excluded.measure,"
            " threshold = excluded.threshold, clear_threshold = excluded.clear_threshold,"
            " description = excluded.description, evaluated_at = excluded.evaluated_at",
            rows,
        )
    await _retire_removed(conn, list(engine.rules), now)


async def _retire_removed(conn: AsyncConn, kept: list[str], now: float) -> None:
    """A rule taken out of the configuration is no longer active. If it was firing, its
    history gets a 'resolved' row, so a receiver reading the history is not left with an
    alert that never ends. No webhook is sent: the rule's receivers went with it."""
    removed = await (
        await conn.execute(
            "DELETE FROM alert_state WHERE rule <> ALL(%s)"
            " RETURNING rule, fired_at, value, kind, severity, site, meter, measure,"
            " threshold, clear_threshold, description, status IN ('firing', 'clearing')",
            (kept,),
        )
    ).fetchall()
    for *r, active in removed:
        if not active:
            continue
        payload = {
            "rule": r[0],
            "status": "resolved",
            "kind": r[3],
            "severity": r[4],
            "site": r[5],
            "meter": r[6],
            "measure": r[7],
            "value": r[2],
            "threshold": r[8],
            "clear_threshold": r[9],
            "at": now,
            "fired_at": _unix(r[1]),
            "description": r[10],
            "reason": "rule removed from the configuration",
        }
        # A firing rule has been evaluated, so value is set; NaN only guards the column.
        row = (r[0], "resolved", _ts(now), r[1], _or_nan(r[2]), *r[3:], json.dumps(payload))
        await _insert_history(conn, row)


async def _insert_history(conn: AsyncConn, row: tuple[Any, ...]) -> int:
    """One alert_history row (the columns of _INSERT_HISTORY, in order); its id."""
    got = await (await conn.execute(_INSERT_HISTORY, row)).fetchone()
    assert got is not None
    return int(got[0])


@dataclass(frozen=True)
class Notification:
    id: int
    webhook: str
    payload: dict[str, Any]


async def record(
    conn: AsyncConn, transitions: list[Transition], extra: dict[str, Any]
) -> list[Notification]:
    """Append transitions to the history and queue one notification per rule webhook."""
    out: list[Notification] = []
    for t in transitions:
        r = t.rule
        payload = t.payload() | extra
        history_id = await _insert_history(
            conn,
            (
                r.id,
                t.status,
                _ts(t.at),
                _ts(t.fired_at),
                t.value,
                r.kind.value,
                r.severity,
                r.site,
                r.meter,
                r.measure.value,
                r.threshold,
                r.clear,
                r.description,
                json.dumps(payload),
            ),
        )
        payload = payload | {"id": history_id}
        await conn.execute(
            "UPDATE alert_history SET payload = %s WHERE id = %s",
            (json.dumps(payload), history_id),
        )
        for hook in r.webhooks:
            n = await (
                await conn.execute(
                    "INSERT INTO alert_notifications (history_id, webhook) VALUES (%s, %s)"
                    " RETURNING id",
                    (history_id, hook),
                )
            ).fetchone()
            assert n is not None
            out.append(Notification(int(n[0]), hook, payload))
    return out


async def pending(conn: AsyncConn) -> list[Notification]:
    rows = await (
        await conn.execute(
            "SELECT n.id, n.webhook, h.payload FROM alert_notifications n"
            " JOIN alert_history h ON h.id = n.history_id"
            " WHERE n.status = 'pending' ORDER BY n.id"
        )
    ).fetchall()
    return [Notification(int(r[0]), str(r[1]), dict(r[2])) for r in rows]


async def finish(conn: AsyncConn, notification_id: int, d: Delivery) -> None:
    await conn.execute(
        "UPDATE alert_notifications SET status = %s, attempts = attempts + %s,"
        " http_status = %s, error = %s, finished_at = now() WHERE id = %s",
        ("delivered" if d.ok else "failed", d.attempts, d.status, d.error, notification_id),
    )


# --- reads for the API --------------------------------------------------------------------------

ACTIVE_SQL = (
    "SELECT rule, status, severity, site, meter, value, threshold, fired_at, kind"
    " FROM alert_state WHERE status IN ('firing', 'clearing')"
    " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
    " fired_at, rule"
)
HISTORY_SQL = (
    "SELECT id, rule, status, at, fired_at, value, threshold, clear_threshold, severity,"
    " kind, measure, site, meter, description FROM alert_history"
    " WHERE (%(before)s::bigint IS NULL OR id < %(before)s)"
    " AND (%(rule)s::text IS NULL OR rule = %(rule)s)"
    " AND (%(site)s::text IS NULL OR site = %(site)s)"
    " AND (%(status)s::text IS NULL OR status = %(status)s)"
    " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
    " ORDER BY id DESC LIMIT %(limit)s"
)


async def active(conn: AsyncConn) -> list[TupleRow]:
    """Alerts firing or clearing, most severe first: the columns of ``ACTIVE_SQL``."""
    return await (await conn.execute(ACTIVE_SQL)).fetchall()


async def history(
    conn: AsyncConn,
    *,
    limit: int,
    before: int | None,
    rule: str | None,
    site: str | None,
    status: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> list[TupleRow]:
    """Up to ``limit`` transitions older than ``before``, newest first, filtered (None: any):
    the columns of ``HISTORY_SQL``."""
    params = {
        "before": before,
        "rule": rule,
        "site": site,
        "status": status,
        "since": since,
        "until": until,
        "limit": limit,
    }
    return await (await conn.execute(HISTORY_SQL, params)).fetchall()
