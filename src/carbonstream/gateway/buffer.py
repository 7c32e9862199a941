"""Store-and-forward: an SQLite queue (WAL) between polling and publishing.

Every reading is written here before anything is sent. Readings wait in
``readings`` until a batch is sealed: sealing takes the oldest readings, gives
them the stream's next sequence number and stores the encoded message in
``messages`` in the same transaction, so a sequence number is never handed out
twice and never skipped. ``append(..., batch_max=n)`` seals full batches in the
transaction that stores the readings, so at thousands of readings a second
most readings go to disk once, inside their message, and only the remainder
waits as rows. The queue keeps a copy of the unsealed rows in memory (it is
their only writer), so sealing never reads them back. A message is deleted only when the broker has
acknowledged it (QoS 1 PUBACK). After a restart, unacknowledged messages are
sent again with the same number; the receiver drops duplicates by
(stream, seq).

Durability: WAL with synchronous=NORMAL survives a killed process (SIGKILL)
because a committed transaction is in the WAL file in the OS; synchronous=FULL
also survives a power cut, at the cost of an fsync per commit.

When full (``max_readings`` counted over both tables) the policy is:

- ``drop_oldest`` (default): delete the oldest sealed messages, then the oldest
  unsealed readings. The receiver sees the hole as a gap in ``seq``. For
  counters this loses resolution, not energy: the next counter value still
  carries everything consumed in between.
- ``drop_newest``: refuse the new readings and keep the backlog intact.

Either way every dropped reading is counted (``dropped_total``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from carbonstream.transport.payload import (
    PAYLOAD_VERSION,
    Quality,
    Reading,
    ReadingsMessage,
    encode_readings,
)
from carbonstream.transport.signing import SIGNED_VERSION, Signer

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    m TEXT NOT NULL, t INTEGER NOT NULL, v REAL, u TEXT NOT NULL, q TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    n INTEGER NOT NULL,
    oldest_ms INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Stats:
    unsealed: int  # readings waiting for a batch
    sealed: int  # readings inside messages not yet acknowledged
    messages: int
    oldest_ms: int | None  # source time of the oldest buffered reading
    dropped_total: int

    @property
    def depth(self) -> int:
        return self.unsealed + self.sealed


class Queue:
    """The queue itself; not thread-safe: use it from one thread (AsyncQueue does)."""

    def __init__(
        self,
        path: Path,
        gateway: str,
        *,
        max_readings: int = 2_000_000,
        when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
        synchronous: Literal["normal", "full"] = "normal",
        signer: Signer | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.gateway = gateway
        # Signed when sealed: the signature is on disk with the message, so a batch is
        # sent (and re-sent) as the bytes signed, whatever happens to the key later.
        self.signer = signer
        self.max_readings = max_readings
        self.when_full = when_full
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(_SCHEMA)
        with self._tx():
            row = self._db.execute("SELECT value FROM meta WHERE key='stream'").fetchone()
            if row is None:
                # The stream id is made once, with the queue: seq restarts only with a new file.
                self._db.execute(
                    "INSERT INTO meta VALUES ('stream', ?), ('next_seq', '1')", (uuid.uuid4().hex,)
                )
        self.stream: str = self._meta("stream")
        self._next_seq = int(self._meta("next_seq"))
        # The unsealed readings, oldest first, as (row id, reading): a copy of table readings.
        self._tail: deque[tuple[int, Reading]] = deque(
            (i, Reading(m=m, t=t, v=v, u=u, q=Quality(q)))
            for i, m, t, v, u, q in self._db.execute(
                "SELECT id, m, t, v, u, q FROM readings ORDER BY id"
            )
        )
        self._next_id = self._tail[-1][0] + 1 if self._tail else 1
        sealed = self._db.execute("SELECT count(*), coalesce(sum(n), 0) FROM messages").fetchone()
        self._messages, self._sealed = int(sealed[0]), int(sealed[1])
        self._dropped = int(self._meta("dropped", "0"))

    def _meta(self, key: str, default: str | None = None) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            if default is None:
                raise KeyError(key)
            return default
        return str(row[0])

    def _tx(self) -> _Tx:
        # isolation_level=None: explicit BEGIN/COMMIT through this context manager.
        return _Tx(self._db)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def append(self, readings: Sequence[Reading], *, batch_max: int | None = None) -> int:
        """Store readings; returns how many readings the full policy dropped.

        With ``batch_max``, every full batch of the unsealed readings is sealed in
        the same transaction (what ``seal(batch_max, force=False)`` would do after).
        """
        if not readings:
            return 0
        dropped = 0
        with self._tx():
            free = self.max_readings - len(self._tail) - self._sealed
            if len(readings) > free:
                if self.when_full == "drop_newest":
                    dropped = len(readings) - max(free, 0)
                    readings = readings[: max(free, 0)]
                else:
                    if len(readings) > self.max_readings:
                        dropped += len(readings) - self.max_readings
                        readings = readings[-self.max_readings :]
                    if len(readings) > free:
                        dropped += self._drop_oldest(len(readings) - free)
            first_new = self._next_id
            self._next_id += len(readings)
            rows = [*self._tail, *zip(range(first_new, self._next_id), readings, strict=True)]
            if batch_max is not None and len(rows) >= batch_max:
                # Full batches become messages now; only what is left is stored as rows.
                rows = self._seal_rows(rows, batch_max, force=False)
            self._db.executemany(
                "INSERT INTO readings (id, m, t, v, u, q) VALUES (?, ?, ?, ?, ?, ?)",
                [(i, r.m, r.t, r.v, r.u, r.q.value) for i, r in rows if i >= first_new],
            )
            self._tail = deque(rows)
            if dropped:
                self._dropped += dropped
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('dropped', ?)", (str(self._dropped),)
                )
        return dropped

    def _drop_oldest(self, need: int) -> int:
        dropped = 0
        while need > 0 and self._messages:
            seq, n = self._db.execute("SELECT seq, n FROM messages ORDER BY seq LIMIT 1").fetchone()
            self._db.execute("DELETE FROM messages WHERE seq=?", (seq,))
            self._messages -= 1
            self._sealed -= n
            dropped += n
            need -= n
        if need > 0 and self._tail:
            take = min(need, len(self._tail))
            last = self._tail[take - 1][0]
            self._db.execute("DELETE FROM readings WHERE id <= ?", (last,))
            for _ in range(take):
                self._tail.popleft()
            dropped += take
        return dropped

    def _seal_rows(
        self, rows: list[tuple[int, Reading]], batch_max: int, *, force: bool
    ) -> list[tuple[int, Reading]]:
        """Store full batches of rows (and with force the rest) as messages; returns the rest.

        Runs inside a transaction; ``rows`` starts with the unsealed tail. Rows of
        the tail that went into a message are deleted from table readings.
        """
        n = len(rows) if force else len(rows) // batch_max * batch_max
        for lo in range(0, n, batch_max):
            chunk = [r for _, r in rows[lo : lo + batch_max]]
            seq = self._next_seq
            version = PAYLOAD_VERSION if self.signer is None else SIGNED_VERSION
            msg = ReadingsMessage(
                v=version, gateway=self.gateway, stream=self.stream, seq=seq, readings=chunk
            )
            payload = encode_readings(msg)
            if self.signer is not None:
                payload = self.signer.envelope(payload)
            self._db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?)",
                (seq, len(chunk), min(r.t for r in chunk), payload),
            )
            self._next_seq = seq + 1
            self._sealed += len(chunk)
            self._messages += 1
        if n:
            self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (str(self._next_seq),))
            if self._tail:
                self._db.execute("DELETE FROM readings WHERE id <= ?", (rows[n - 1][0],))
        return rows[n:]

    def seal(self, batch_max: int, *, force: bool) -> int:
        """Make messages of up to batch_max readings: full ones, and with force the rest too."""
        if not (len(self._tail) >= batch_max or (force and self._tail)):
            return 0
        before = self._next_seq
        with self._tx():
            rest = self._seal_rows(list(self._tail), batch_max, force=force)
        taken = len(self._tail) - len(rest)
        for _ in range(taken):
            self._tail.popleft()
        return self._next_seq - before

    def pending(self, after_seq: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(seq, readings, payload) of unacknowledged messages after after_seq, oldest first."""
        rows = self._db.execute(
            "SELECT seq, n, payload FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(int(s), int(n), bytes(p)) for s, n, p in rows]

    def ack(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        with self._tx():
            for seq in seqs:
                row = self._db.execute(
                    "DELETE FROM messages WHERE seq=? RETURNING n", (seq,)
                ).fetchone()
                if row is not None:  # already dropped by the full policy: nothing to do
                    self._messages -= 1
                    self._sealed -= int(row[0])

    def stats(self) -> Stats:
        oldest: list[int] = []
        row = self._db.execute("SELECT oldest_ms FROM messages ORDER BY seq LIMIT 1").fetchone()
        if row:
            oldest.append(int(row[0]))
        if self._tail:
            oldest.append(self._tail[0][1].t)
        return Stats(
            len(self._tail),
            self._sealed,
            self._messages,
            min(oldest) if oldest else None,
            self._dropped,
        )

    def close(self) -> None:
        self._db.close()


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


class AsyncQueue:
    """The queue behind one worker thread, so SQLite never blocks the event loop."""

    def __init__(self, open_queue: Callable[[], Queue]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue")
        self._open = open_queue
        self._queue: Queue | None = None
        self.changed = asyncio.Event()  # set when new messages were sealed

    async def open(self) -> None:
        self._queue = await self._run(self._open)

    @property
    def q(self) -> Queue:
        if self._queue is None:
            raise RuntimeError("the queue is not open")
        return self._queue

    @property
    def stream(self) -> str:
        return self.q.stream

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn)

    async def append(self, readings: Sequence[Reading], *, batch_max: int | None = None) -> int:
        before = self.q.next_seq
        dropped = await self._run(lambda: self.q.append(readings, batch_max=batch_max))
        if self.q.next_seq != before:
            self.changed.set()
        return dropped

    async def seal(self, batch_max: int, *, force: bool) -> int:
        made: int = await self._run(lambda: self.q.seal(batch_max, force=force))
        if made:
            self.changed.set()
        return made

    async def pending(self, after_seq: int, limit: int) -> list[tuple[int, int, bytes]]:
        return await self._run(lambda: self.q.pending(after_seq, limit))

    async def ack(self, seqs: Sequence[int]) -> None:
        await self._run(lambda: self.q.ack(seqs))

    async def stats(self) -> Stats:
        return await self._run(self.q.stats)

    async def close(self) -> None:
        if self._queue is not None:
            await self._run(self._queue.close)
            self._queue = None
        self._pool.shutdown(wait=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
