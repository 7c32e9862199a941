"""What arrives besides readings: dead letters and gateway stream positions."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from carbonstream.logsafe import escape
from carbonstream.store.common import Cur

# --- dead letters and stream positions ----------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    payload: bytes  # the first bytes kept (dead_letters.keep_kb), or all of it
    reason: str
    received_at: dt.datetime
    digest: bytes  # SHA-256 of topic, NUL, whole payload: one row per distinct letter
    size: int = -1  # the whole payload's length (-1: payload is all of it)
    sha256: bytes = b""  # the whole payload's SHA-256 (empty: of payload)

    def whole(self) -> tuple[int, bytes]:
        """Length and SHA-256 of the whole payload."""
        if self.size < 0:
            return len(self.payload), hashlib.sha256(self.payload).digest()
        return self.size, self.sha256


def add_dead_letters(cur: Cur, letters: Sequence[DeadLetter]) -> None:
    if not letters:
        return
    # One row per digest: a redelivered or repeated bad payload counts, not duplicates.
    unique: dict[bytes, DeadLetter] = {}
    for d in letters:
        unique.setdefault(d.digest, d)
    rows = sorted(unique.values(), key=lambda d: d.digest)
    cur.execute(
        "INSERT INTO dead_letters (received_at, topic, payload, reason, digest, payload_bytes,"
        " payload_sha256) SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::bytea[],"
        " %s::text[], %s::bytea[], %s::int[], %s::bytea[])"
        " ON CONFLICT (digest) DO UPDATE SET seen = dead_letters.seen + 1",
        (
            [d.received_at for d in rows],
            [d.topic for d in rows],
            [d.payload for d in rows],
            # A reason quotes what it refuses; the store keeps text without control characters.
            [escape(d.reason) for d in rows],
            [d.digest for d in rows],
            [d.whole()[0] for d in rows],
            [d.whole()[1] for d in rows],
        ),
    )


def prune_dead_letters(cur: Cur, retention_days: float, max_rows: int) -> int:
    """Delete dead letters first received more than retention_days ago (0: none), then the
    oldest beyond max_rows (0: no cap); returns how many rows went."""
    n = 0
    if retention_days > 0:
        cur.execute(
            "DELETE FROM dead_letters WHERE received_at < now() - make_interval(secs => %s)",
            (retention_days * 86_400,),
        )
        n += cur.rowcount
    if max_rows > 0:
        cur.execute(
            "DELETE FROM dead_letters WHERE id <= (SELECT id FROM dead_letters"
            " ORDER BY id DESC OFFSET %s LIMIT 1)",
            (max_rows,),
        )
        n += cur.rowcount
    return n


@dataclass
class StreamUpdate:
    """Sequence numbers of one gateway stream seen in a batch."""

    gateway: str
    stream: str
    seqs: list[int]


def update_streams(cur: Cur, updates: Sequence[StreamUpdate]) -> tuple[int, int]:
    """Advance gateway stream positions; returns (gaps, replays) seen in these messages."""
    if not updates:
        return 0, 0
    ups = sorted(updates, key=lambda x: (x.gateway, x.stream))
    rows = cur.execute(
        "SELECT p.gateway, p.stream, p.last_seq FROM stream_positions AS p"
        " JOIN unnest(%s::text[], %s::text[]) AS u (gateway, stream)"
        " ON p.gateway = u.gateway AND p.stream = u.stream"
        " ORDER BY p.gateway, p.stream FOR NO KEY UPDATE OF p",
        ([u.gateway for u in ups], [u.stream for u in ups]),
    ).fetchall()
    known = {(str(g), str(st)): int(seq) for g, st, seq in rows}
    gaps = replays = 0
    out: list[tuple[str, str, int, int, int, int, int]] = []
    for u in ups:
        last = known.get((u.gateway, u.stream))
        g = r = missing = 0
        for seq in sorted(u.seqs):
            if last is not None and seq <= last:
                r += 1
                continue
            if last is not None and seq > last + 1:
                g += 1
                missing += seq - last - 1
            last = seq
        assert last is not None
        out.append((u.gateway, u.stream, last, len(u.seqs), g, missing, r))
        gaps += g
        replays += r
    cols = list(zip(*out, strict=True))
    cur.execute(
        "INSERT INTO stream_positions (gateway, stream, last_seq, messages, gaps, missing,"
        " replays) SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[], %s::int8[],"
        " %s::int8[], %s::int8[], %s::int8[])"
        " ON CONFLICT (gateway, stream) DO UPDATE SET"
        " last_seq = greatest(stream_positions.last_seq, excluded.last_seq),"
        " messages = stream_positions.messages + excluded.messages,"
        " gaps = stream_positions.gaps + excluded.gaps,"
        " missing = stream_positions.missing + excluded.missing,"
        " replays = stream_positions.replays + excluded.replays, updated_at = now()",
        [list(c) for c in cols],
    )
    return gaps, replays
