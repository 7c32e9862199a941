"""The example plant's readings stored through ingest's commit path (no broker needed).

The same transactions the ingest service runs (``Committer.commit``), fed in
time order, optionally in slices so a test can interleave its own work with
the stream (alert replay).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.ingest.commit import Committer, Part
from carbonstream.store import intake as w
from carbonstream.store.db import Conn, connect
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant
from tests.ingest.helpers import example

NS = 1_000_000_000


@dataclass
class Feeder:
    """Commits the example readings up to a source time, in order, one slice at a time."""

    url: str
    plant: Plant
    batch: ReadingBatch
    committer: Committer
    done: int = 0  # readings committed so far

    @property
    def first_ns(self) -> int:
        return int(self.batch.ts[0])

    @property
    def last_ns(self) -> int:
        return int(self.batch.ts[-1])

    def until(self, ts_ns: int, conn: Conn | None = None) -> int:
        """Commit every reading with source time < ts_ns not yet committed; returns how many."""
        end = int(np.searchsorted(self.batch.ts, ts_ns, side="left"))
        if end <= self.done:
            return 0
        b = self.batch
        sl = slice(self.done, end)
        part = Part(
            b.meter[sl].astype(np.int32),
            b.ts[sl].astype(np.int64),
            b.value[sl].astype(np.float64),
            b.quality[sl].astype(np.uint8),
        )
        if conn is None:
            with connect(self.url) as c:
                self.committer.commit(c, part, None)
        else:
            self.committer.commit(conn, part, None)
        n, self.done = end - self.done, end
        return n

    def all(self) -> int:
        return self.until(self.last_ns + 1)


def feeder(url: str) -> Feeder:
    """Migrate a fresh database, sync the example plant, return a feeder of its readings."""
    ex = example()
    with connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        keys = sync_plant(conn, ex.plant)
    engine = Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files), base_s=60)
    return Feeder(url, ex.plant, ex.batch, Committer(engine, keys, lateness_s=86_400))


def add_quality_events(f: Feeder) -> None:
    """What ingest writes besides the account: a dead letter, a gateway stream with a gap,
    and a reading older than the lateness (stored, listed in late_readings)."""
    with connect(f.url) as conn, conn.transaction(), conn.cursor() as cur:
        w.add_dead_letters(
            cur,
            [
                w.DeadLetter(
                    "carbonstream/v1/assembly/gw1/readings",
                    b"{not json",
                    "cannot decode: malformed JSON",
                    dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC),
                    b"\x01" * 32,
                )
            ],
        )
        w.update_streams(cur, [w.StreamUpdate("gw1", "s1", [1, 2, 5])])
    late = dt.datetime(2026, 11, 22, 12, 0, 30, tzinfo=dt.UTC)
    meter = [m.id for m in f.plant.meters].index("assembly-grid")
    part = Part(
        np.array([meter], np.int32),
        np.array([int(late.timestamp()) * NS], np.int64),
        np.array([999_999.0]),
        np.zeros(1, np.uint8),
    )
    with connect(f.url) as conn:
        out = f.committer.commit(conn, part, None)
    assert out.too_late == 1, out


def ingest_example(url: str) -> Feeder:
    """The whole example stored, plus the data-quality events above."""
    f = feeder(url)
    f.all()
    add_quality_events(f)
    return f
