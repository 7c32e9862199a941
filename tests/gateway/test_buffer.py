"""The SQLite queue: gap-free sequence numbers that survive a reopen, the full policies."""

from __future__ import annotations

import json
from pathlib import Path

from carbonstream.gateway.buffer import Queue
from carbonstream.transport.payload import Quality, Reading, decode_readings


def _readings(n: int, start: int = 0) -> list[Reading]:
    return [Reading(m="m1", t=1_000 + i, v=float(i), u="kWh") for i in range(start, start + n)]


def test_seq_is_gap_free_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = Queue(path, "gw1")
    stream = q.stream
    q.append(_readings(250))
    assert q.seal(100, force=False) == 2  # two full batches; 50 wait for time or more
    assert q.seal(100, force=True) == 1
    q.ack([1])
    q.close()
    q = Queue(path, "gw1")
    assert q.stream == stream  # made once, with the file
    q.append([Reading(m="m1", t=5, v=None, u="kWh", q=Quality.TIMEOUT)])
    q.seal(100, force=True)
    pending = q.pending(0, 10)
    assert [s for s, _, _ in pending] == [2, 3, 4]
    msgs = [decode_readings(p) for _, _, p in pending]
    assert [len(m.readings) for m in msgs] == [100, 50, 1]
    assert msgs[-1].readings[0].v is None and msgs[-1].readings[0].q is Quality.TIMEOUT
    assert all(m.stream == stream for m in msgs)
    values = [r.v for m in msgs[:2] for r in m.readings]
    assert values == [float(i) for i in range(100, 250)]  # oldest first, none lost
    q.close()


def test_drop_oldest_when_full(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite", "gw1", max_readings=100, when_full="drop_oldest")
    q.append(_readings(80))
    q.seal(40, force=False)  # messages 1 and 2, 40 readings each
    dropped = q.append(_readings(30, start=80))
    assert dropped == 40  # the oldest whole message goes
    stats = q.stats()
    assert stats.depth == 70 and stats.dropped_total == 40
    assert [s for s, _, _ in q.pending(0, 10)] == [2]  # the receiver will see seq 1 missing


def test_drop_newest_when_full(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite", "gw1", max_readings=100, when_full="drop_newest")
    q.append(_readings(90))
    assert q.append(_readings(30, start=90)) == 20
    q.seal(1000, force=True)
    ((_, n, payload),) = q.pending(0, 10)
    assert n == 100
    assert json.loads(payload)["readings"][-1]["v"] == 99.0  # the backlog kept, the newest refused
    assert q.stats().dropped_total == 20


def test_stats_report_oldest(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite", "gw1")
    assert q.stats().oldest_ms is None
    q.append(_readings(3))
    assert q.stats().oldest_ms == 1_000


def test_append_seals_full_batches_in_the_same_transaction(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = Queue(path, "gw1")
    q.append(_readings(30), batch_max=100)  # not a batch yet: 30 rows wait
    q.append(_readings(150, start=30), batch_max=100)  # 180: one message, 80 rows wait
    assert [(s, n) for s, n, _ in q.pending(0, 10)] == [(1, 100)]
    assert q._db.execute("SELECT count(*) FROM readings").fetchone()[0] == 80
    assert q.stats().unsealed == 80 and q.stats().oldest_ms == 1_000
    q.close()
    q = Queue(path, "gw1")  # the unsealed rows come back after a restart, in order
    q.append(_readings(20, start=180), batch_max=100)
    q.append(_readings(250, start=200), batch_max=100)
    q.seal(100, force=True)
    msgs = [decode_readings(p) for _, _, p in q.pending(0, 10)]
    assert [m.seq for m in msgs] == [1, 2, 3, 4, 5]
    assert [len(m.readings) for m in msgs] == [100, 100, 100, 100, 50]
    values = [r.v for m in msgs for r in m.readings]
    assert values == [float(i) for i in range(450)]  # every reading once, oldest first
    assert q._db.execute("SELECT count(*) FROM readings").fetchone()[0] == 0
    q.close()


def test_drop_oldest_takes_unsealed_rows_when_nothing_is_sealed(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite", "gw1", max_readings=100, when_full="drop_oldest")
    q.append(_readings(90))
    assert q.append(_readings(30, start=90)) == 20
    q.seal(1000, force=True)
    ((_, n, payload),) = q.pending(0, 10)
    values = [r.v for r in decode_readings(payload).readings]
    assert n == 100 and values == [float(i) for i in range(20, 120)]
