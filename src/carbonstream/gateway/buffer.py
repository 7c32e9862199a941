"""Store-and-forward: an SQLite queue (WAL) between polling and publishing.

Every reading is written here before anything is sent. Readings wait in
``readings`` until a batch is sealed: sealing takes the oldest readings, gives
them the stream's next sequence number and stores the encoded message in
``messages`` in the same transaction, so a sequence number is never handed out
twice and never skipped. A message is deleted only when the broker has
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
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.gateway = gateway
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
        self._unsealed = self._db.execute("SELECT count(*) FROM readings").fetchone()[0]
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

    def append(self, readings: Sequence[Reading]) -> int:
        """Store readings; returns how many readings the full policy dropped."""
        if not readings:
            return 0
        dropped = 0
        with self._tx():
            free = self.max_readings - self._unsealed - self._sealed
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
            self._db.executemany(
                "INSERT INTO readings (m, t, v, u, q) VALUES (?, ?, ?, ?, ?)",
                [(r.m, r.t, r.v, r.u, r.q.value) for r in readings],
            )
            self._unsealed += len(readings)
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
        if need > 0 and self._unsealed:
            take = min(need, self._unsealed)
            self._db.execute(
                "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)",
                (take,),
            )
            self._unsealed -= take
            dropped += take
        return dropped

    def seal(self, batch_max: int, *, force: bool) -> int:
        """Make messages of up to batch_max readings: full ones, and with force the rest too."""
        made = 0
        while self._unsealed >= batch_max or (force and self._unsealed > 0):
            with self._tx():
                rows = self._db.execute(
                    "SELECT id, m, t, v, u, q FROM readings ORDER BY id LIMIT ?", (batch_max,)
                ).fetchall()
                seq = self._next_seq
                msg = ReadingsMessage(
                    v=PAYLOAD_VERSION,
                    gateway=self.gateway,
                    stream=self.stream,
                    seq=seq,
                    readings=[
                        Reading(m=m, t=t, v=v, u=u, q=Quality(q)) for _, m, t, v, u, q in rows
                    ],
                )
                self._db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?)",
                    (seq, len(rows), min(r[2] for r in rows), encode_readings(msg)),
                )
                self._db.execute("DELETE FROM readings WHERE id <= ?", (rows[-1][0],))
                self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (str(seq + 1),))
            self._next_seq = seq + 1
            self._unsealed -= len(rows)
            self._sealed += len(rows)
            self._messages += 1
            made += 1
        return made

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
        row = self._db.execute("SELECT t FROM readings ORDER BY id LIMIT 1").fetchone()
        if row:
            oldest.append(int(row[0]))
        return Stats(
            self._unsealed,
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

    async def append(self, readings: Sequence[Reading]) -> int:
        return await self._run(lambda: self.q.append(readings))

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
