"""The ingest service loop: receive, decode, batch, commit per partition, then ack.

    paho thread ──► queue ──► main thread: decode + validate, batch (≤ max_readings
    or max_wait_ms), split by site into partitions ──► writer threads (one per
    partition, one pooled connection each): one transaction per partition ──►
    all committed ──► ack every message of the batch, in arrival order.

The next batch is decoded while the current one is being written. A message
is acknowledged only after every transaction holding its readings (and its
dead letter, if any) has committed; a crash before that means redelivery,
and redelivered readings are found stored and change nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg_pool import PoolTimeout

from carbonstream.config.gateway_keys import KeyRing, plant_keys
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.errors import CarbonstreamError
from carbonstream.ingest.authorise import Bindings, UnauthorisedError, check_start
from carbonstream.ingest.commit import Committer, Meta, Outcome, Part
from carbonstream.ingest.decode import Decoded, Limits, Validator
from carbonstream.ingest.metrics import Metrics
from carbonstream.ingest.mqtt import ByteLimits, Message, Subscriber, digest
from carbonstream.ingest.settings import IngestSettings
from carbonstream.ingest.signature import SignatureRefusedError, Verifier
from carbonstream.ingest.sparkplug import SPARKPLUG_PREFIX, SparkplugDecoder
from carbonstream.store import db as store_db
from carbonstream.store import intake, rollups
from carbonstream.store.batches import BatchRow
from carbonstream.store.factors import load_added
from carbonstream.store.intake import DeadLetter, StreamUpdate
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant
from carbonstream.transport import topics as transport_topics
from carbonstream.transport.payload import PayloadError
from carbonstream.transport.signing import SIGNED_VERSION

log = logging.getLogger(__name__)
_RETRY: tuple[type[BaseException], ...] = (*store_db.TRANSIENT, PoolTimeout)
# Meters per compaction transaction: a batch of one of them waits at most this long.
COMPACT_CHUNK = 50

CommitHook = Callable[[list[Decoded], float], None]


class StoreRejectedError(CarbonstreamError):
    """The database refused a batch for a reason retrying will not fix (its messages are
    dead-lettered so ingest never stalls on them)."""


class StoppingError(CarbonstreamError):
    """Shutdown was requested while a write was still retrying: nothing is acknowledged."""


@dataclass
class Batch:
    messages: list[Message] = field(default_factory=list)
    decoded: list[Decoded] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    streams: dict[tuple[str, str], StreamUpdate] = field(default_factory=dict)
    signed: list[BatchRow] = field(default_factory=list)
    readings: int = 0


@dataclass
class Totals:
    messages: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    implausible: int = 0  # stored with an implausible quality (also in stored)
    late_recomputed: int = 0
    too_late: int = 0
    rejected: int = 0
    unauthorised: int = 0  # readings refused for their sender (also in rejected, or not decoded)
    dead_letters: int = 0
    batches: int = 0


class Service:
    def __init__(
        self,
        settings: IngestSettings,
        db_url: str | None = None,
        on_commit: CommitHook | None = None,
        plant: Plant | None = None,
    ) -> None:
        self.settings = settings
        # plant: the demo passes its plant with the keys it made at start.
        self.plant: Plant = plant if plant is not None else load_plant(settings.plant)
        self.library = FactorLibrary.load(self.plant.factor_files)
        self.metrics = Metrics()
        self.totals = Totals()
        self.on_commit = on_commit
        self._stop = threading.Event()
        self._embedded: store_db.EmbeddedPostgres | None = None
        url = db_url or (
            settings.database.url.get_secret_value() if settings.database.url else None
        )
        if url is None:
            self._embedded = store_db.EmbeddedPostgres(settings.database.data_dir)
            url = self._embedded.url
        self.db_url = url
        required = settings.gateway_binding == "required"
        check_start(self.plant, settings.plant, required, settings.sparkplug)
        if not required:
            log.warning(
                "gateway_binding: off: any gateway may report any meter (test benches only)"
            )
        self.validator = Validator(
            self.plant,
            Limits(settings.earliest, settings.future_s, settings.max_payload_bytes),
            Bindings(self.plant) if required else None,
        )
        self.sparkplug = SparkplugDecoder(self.plant, settings.sparkplug, self.validator)
        self.verifier = Verifier(KeyRing(plant_keys(self.plant.gateways)), settings.signatures)
        topics = list(settings.mqtt.topics)
        if settings.sparkplug.enabled:
            topics += self.sparkplug.subscriptions()
        self.keep_bytes = settings.dead_letters.keep_kb * 1024
        self.subscriber = Subscriber(
            settings.mqtt,
            topics,
            ByteLimits(settings.max_payload_bytes, self.keep_bytes, settings.max_inflight_bytes),
        )
        self.n_writers = settings.database.writers
        self._site_part = (np.arange(len(self.plant.sites)) % self.n_writers).astype(np.int32)
        self._meter_part = np.empty(0, np.int32)
        self.committers: list[Committer] = []
        self._pool: store_db.Pool | None = None
        self._writers: list[ThreadPoolExecutor] = []
        self._outage_logged = False
        self._compactor: ThreadPoolExecutor | None = None
        self._compaction: Future[tuple[int, int]] | None = None
        self._janitor = ThreadPoolExecutor(1, thread_name_prefix="janitor")
        self._pruning: Future[int] | None = None
        self.ready = threading.Event()

    # --- lifecycle ----------------------------------------------------------------

    def prepare(self) -> None:
        """Migrate (if asked), sync the plant, open the pool; fail fast on config errors."""
        with store_db.connect(self.db_url) as conn:
            if self.settings.database.migrate_on_start:
                flavour, applied = migrate(conn)
                log.info(
                    "database schema: %s%s",
                    flavour,
                    f" (applied {len(applied)} migrations)" if applied else "",
                )
            conn.autocommit = False
            keys = sync_plant(conn, self.plant)
            added = load_added(conn)  # factor versions added through the API
            conn.commit()
        if added:
            self.library = self.library.extended(added)
            log.info("factor versions added through the API: %d", len(added))
        self.committers = [
            Committer(Engine(self.plant, self.library, base_s=60), keys, self.settings.lateness_s)
            for _ in range(self.n_writers)
        ]
        with store_db.connect(self.db_url) as conn:
            now = dt.datetime.now(dt.UTC)
            for c in self.committers:
                c.warm(conn, now)
        engine = self.committers[0].engine
        self._meter_part = self._site_part[engine.params.site]
        self._pool = store_db.make_pool(self.db_url, self.n_writers + 2)
        if self.settings.compact_lines_s:
            self._compactor = ThreadPoolExecutor(1, thread_name_prefix="compactor")
        self._writers = [
            ThreadPoolExecutor(1, thread_name_prefix=f"writer-{i}") for i in range(self.n_writers)
        ]
        if self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_host, self.settings.metrics_port)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> Totals:
        """Run until :meth:`stop`; returns what was done."""
        if not self.committers:
            self.prepare()
        self.subscriber.start()
        self.ready.set()
        # One batch is written while the next one is collected and decoded. A batch closes
        # at max_readings, or max_wait_ms after its first message once the writers are
        # free: at plant rates that is max_wait_ms (latency), under load batches grow
        # while the database is busy (throughput).
        pending: tuple[Batch, list[Future[Outcome]]] | None = None

        def writers_free() -> bool:
            return pending is None or all(f.done() for f in pending[1])

        every = self.settings.compact_lines_s
        next_compact = time.monotonic() + every
        prune_every = self.settings.dead_letters.prune_every_s
        next_prune = time.monotonic()  # once at start
        try:
            while not self._stop.is_set():
                if every and time.monotonic() >= next_compact:
                    self._compact_round()
                    next_compact = time.monotonic() + every
                if time.monotonic() >= next_prune:
                    self._prune_round()
                    next_prune = time.monotonic() + prune_every
                batch = self._collect(writers_free)
                if pending is not None:
                    self._finish(*pending)
                    pending = None
                if batch.messages:
                    pending = (batch, self._submit(batch))
            if pending is not None:
                self._finish(*pending)
        except StoppingError:
            log.info("stopped while the database was unavailable; unacked messages stay queued")
        finally:
            self._close()
        return self.totals

    def _close(self) -> None:
        self.subscriber.stop()
        if self._compactor is not None:
            self._compactor.shutdown(wait=True, cancel_futures=True)
        self._janitor.shutdown(wait=True, cancel_futures=True)
        for ex in self._writers:
            ex.shutdown(wait=True)
        if self._pool is not None:
            self._pool.close()
        if self._embedded is not None:
            self._embedded.stop()

    # --- receive and decode ---------------------------------------------------------

    def _collect(self, writers_free: Callable[[], bool]) -> Batch:
        b = Batch()
        q = self.subscriber.queue
        max_wait = self.settings.batch.max_wait_ms / 1000
        limit = self.settings.batch.max_readings
        deadline: float | None = None
        while not self._stop.is_set():
            if deadline is None:
                timeout = 0.02
            else:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    if writers_free():
                        break
                    timeout = 0.002  # the database is busy: keep filling this batch
            try:
                m = q.get(timeout=timeout)
            except queue.Empty:
                if deadline is None and writers_free():
                    break
                continue
            if deadline is None:
                deadline = time.monotonic() + max_wait
            self._take(b, m)
            if b.readings >= limit:
                break
        self.metrics.queue.set(q.qsize())
        self.metrics.inflight_bytes.set(self.subscriber.held_bytes)
        return b

    def _take(self, b: Batch, m: Message) -> None:
        b.messages.append(m)
        self.metrics.messages.inc()
        if m.cut:  # over max_payload_bytes: cut on arrival, never decoded
            self._dead(
                b,
                m,
                f"payload of {m.size} bytes exceeds max_payload_bytes "
                f"{self.settings.max_payload_bytes} (not decoded)",
            )
            return
        try:
            if m.topic.startswith(SPARKPLUG_PREFIX):
                d = self.sparkplug.decode(m.topic, m.payload)
                if d is not None and len(d):
                    self.verifier.allow_unsigned("sparkplug", d.gateway)
            elif transport_topics.is_signed(m.topic):
                d = self._signed(b, m)
            else:
                d = self.validator.v1(m.topic, m.payload)
                self.verifier.allow_unsigned("v1", d.gateway)
        except SignatureRefusedError as e:
            self.metrics.signature_refusals.labels(e.refusal.value).inc()
            self._dead(b, m, str(e))
            return
        except UnauthorisedError as e:
            self._dead(b, m, str(e))
            self._unauthorised(e.kind.value, e.readings)
            return
        except PayloadError as e:
            self._dead(b, m, str(e))
            return
        if d is None:  # e.g. a Sparkplug death certificate: nothing to account
            return
        if d.batch < 0 and len(d):
            self.metrics.unsigned_readings.inc(len(d))
        if d.n_rejected:
            self._dead(b, m, d.reason())
            self.metrics.readings.labels("rejected").inc(d.n_rejected)
            self.totals.rejected += d.n_rejected
            for kind, n in d.unauthorised.items():
                self._unauthorised(kind.value, n)
        if len(d):
            b.decoded.append(d)
            b.readings += len(d)
        if d.seq is not None:
            key = (d.gateway, d.stream)
            u = b.streams.get(key)
            if u is None:
                b.streams[key] = StreamUpdate(d.gateway, d.stream, [d.seq])
            else:
                u.seqs.append(d.seq)

    def _signed(self, b: Batch, m: Message) -> Decoded:
        """A v2 payload: verify the signature over the exact body bytes, then decode them."""
        self.validator.check_size(m.payload)  # bounded before any work
        opened, key = self.verifier.open(m.payload, m.received_ns)
        d = self.validator.v1(m.topic, opened.body, version=SIGNED_VERSION)
        self.verifier.check(key, d)
        d.batch = len(b.signed)
        b.signed.append(self.verifier.row(opened, key, m.received_ns))
        return d

    def _unauthorised(self, reason: str, readings: int) -> None:
        self.metrics.unauthorised.labels(reason).inc(readings)
        self.totals.unauthorised += readings

    def _dead(self, b: Batch, m: Message, reason: str) -> None:
        if m.cut:
            size, sha, key = m.size, m.sha256, m.digest
        else:
            size, sha = len(m.payload), hashlib.sha256(m.payload).digest()
            key = digest(m.topic, m.payload)
        raw = m.payload[: self.keep_bytes]  # the evidence, not an unbounded blob
        if size > len(raw):
            reason += f" (raw bytes kept: the first {len(raw)} of {size})"
        b.dead.append(DeadLetter(m.topic, raw, reason[:2000], _utc(m.received_ns), key, size, sha))
        self.metrics.dead_letters.inc()

    # --- write and acknowledge -----------------------------------------------------

    def _submit(self, b: Batch) -> list[Future[Outcome]]:
        parts = self._split(b)
        meta = Meta(b.dead, list(b.streams.values()))
        futures = []
        for p, part in enumerate(parts):
            m = meta if p == 0 else None
            if not len(part) and (m is None or (not m.dead and not m.streams)):
                continue
            futures.append(self._writers[p].submit(self._write, p, part, m))
        return futures

    def _split(self, b: Batch) -> list[Part]:
        if not b.decoded:
            return [Part.empty() for _ in range(self.n_writers)]
        meter = np.concatenate([d.meter for d in b.decoded])
        ts = np.concatenate([d.ts for d in b.decoded])
        value = np.concatenate([d.value for d in b.decoded])
        quality = np.concatenate([d.quality for d in b.decoded])
        batch = np.repeat(
            np.array([d.batch for d in b.decoded], np.int32), [len(d) for d in b.decoded]
        )
        if self.n_writers == 1:
            return [Part(meter, ts, value, quality, batch, b.signed)]
        part = self._meter_part[meter]
        out = []
        for p in range(self.n_writers):
            sel = np.flatnonzero(part == p)
            out.append(Part(meter[sel], ts[sel], value[sel], quality[sel], batch[sel], b.signed))
        return out

    def _write(self, p: int, part: Part, meta: Meta | None) -> Outcome:
        assert self._pool is not None
        delay = 0.05
        failures = 0
        while True:
            t0 = time.monotonic()
            try:
                with self._pool.connection(timeout=5) as conn:
                    out = self.committers[p].commit(conn, part, meta)
            except _RETRY as e:
                self.metrics.db_errors.inc()
                self.metrics.waiting_for_db.set(1)
                if not self._outage_logged:
                    log.warning("database write failed (%s); holding back and retrying", e)
                    self._outage_logged = True
                if self._stop.is_set():
                    raise StoppingError from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except psycopg.Error as e:
                failures += 1
                log.error("database refused a batch (attempt %d): %s", failures, e)
                if failures >= 3:
                    raise StoreRejectedError(f"{type(e).__name__}: {e}") from None
                time.sleep(delay)
                continue
            self.metrics.db_latency.observe(time.monotonic() - t0)
            self.metrics.commits.inc()
            if self._outage_logged:
                log.info("database writes succeed again; catching up")
                self._outage_logged = False
                self.metrics.waiting_for_db.set(0)
            return out

    # --- compaction of partial lines -------------------------------------------------

    def _prune_round(self) -> None:
        """Dead-letter retention in the janitor thread, unless the last round still runs."""
        f = self._pruning
        if f is not None:
            if not f.done():
                return
            e = f.exception()
            if e is not None:
                log.warning("dead-letter retention failed (retried next round): %s", e)
            elif f.result():
                log.info("dead-letter retention removed %d rows", f.result())
        self._pruning = self._janitor.submit(self._prune)

    def _prune(self) -> int:
        assert self._pool is not None
        d = self.settings.dead_letters
        with self._pool.connection(timeout=5) as conn, conn.transaction(), conn.cursor() as cur:
            return intake.prune_dead_letters(cur, d.retention_days, d.max_rows)

    def _compact_round(self) -> None:
        """Start a compaction round in its own thread and connection, unless the last one
        is still running; log how the last one ended. Writers go on meanwhile: one that
        needs a meter of the chunk being merged waits for that chunk only."""
        f = self._compaction
        if f is not None:
            if not f.done():
                return
            e = f.exception()
            if e is not None:
                log.warning("compaction of emission lines failed (retried next round): %s", e)
            else:
                removed, written = f.result()
                self.metrics.lines_compacted.inc(removed - written)
        assert self._compactor is not None
        self._compaction = self._compactor.submit(self._compact, self.committers[0].keys.meter)

    def _compact(self, meter_keys: NDArray[np.int32]) -> tuple[int, int]:
        assert self._pool is not None
        removed = written = 0
        keys = np.sort(meter_keys)
        for lo in range(0, len(keys), COMPACT_CHUNK):
            if self._stop.is_set():
                break
            chunk = keys[lo : lo + COMPACT_CHUNK]
            with self._pool.connection(timeout=5) as conn, conn.transaction(), conn.cursor() as cur:
                r, w = rollups.compact_lines(cur, chunk, self.settings.compact_window_s)
            removed, written = removed + r, written + w
        if removed:
            log.debug("compacted %d partial emission lines into %d", removed, written)
        return removed, written

    def _finish(self, b: Batch, futures: list[Future[Outcome]]) -> None:
        outcomes: list[Outcome] = []
        rejected: StoreRejectedError | None = None
        for f in futures:
            try:
                outcomes.append(f.result())
            except StoreRejectedError as e:
                rejected = e
        if rejected is not None:
            self._reject(b, rejected)
        now = time.time()
        self._account(b, outcomes, now)
        self.subscriber.ack(b.messages)
        self.subscriber.release(b.messages)
        if self.on_commit is not None:
            self.on_commit(b.decoded, now)

    def _reject(self, b: Batch, e: StoreRejectedError) -> None:
        dead = Batch()
        for m in b.messages:
            self._dead(dead, m, f"store rejected the batch: {e}")
        self._write(0, Part.empty(), Meta(dead.dead, []))

    def _account(self, b: Batch, outcomes: list[Outcome], now: float) -> None:
        t = self.totals
        t.batches += 1
        t.messages += len(b.messages)
        t.readings += b.readings
        t.dead_letters += len(b.dead)
        m = self.metrics
        for o in outcomes:
            t.stored += o.stored
            t.duplicates += o.duplicates
            t.conflicts += o.conflicts
            t.implausible += o.implausible
            t.late_recomputed += o.late_recomputed
            t.too_late += o.too_late
            m.readings.labels("stored").inc(o.stored)
            m.readings.labels("duplicate").inc(o.duplicates)
            m.readings.labels("conflict").inc(o.conflicts)
            m.implausible.inc(o.implausible)
            m.readings.labels("late_recomputed").inc(o.late_recomputed)
            m.readings.labels("too_late").inc(o.too_late)
            m.stream_gaps.inc(o.gaps)
            m.stream_replays.inc(o.replays)
        if b.decoded:
            oldest = min(int(d.ts.min()) for d in b.decoded if len(d)) / 1e9
            newest = max(int(d.ts.max()) for d in b.decoded if len(d)) / 1e9
            m.lag.observe(max(now - oldest, 0.0))
            m.last_lag.set(now - newest)


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
