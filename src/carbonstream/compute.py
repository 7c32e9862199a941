"""Batch accounting of a readings file: the wiring behind ``carbonstream compute``.

Readings are put in time order and fed to the engine in streaming-sized
chunks, exactly as ingest will feed live batches, so the batch result is the
reference the live pipeline is checked against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.core import plausible
from carbonstream.core.batch import NS_PER_S, ReadingBatch
from carbonstream.core.engine import SITE_COLUMNS, BatchResult, Engine
from carbonstream.core.intervals import Counts
from carbonstream.core.library import FactorLibrary
from carbonstream.core.state import NO_TIME, EngineState
from carbonstream.errors import CarbonstreamError, ReadingsError
from carbonstream.readings_file import BLOCK_BYTES, BadRows, ReadingsReader

CHUNK = 100_000
S = TypeVar("S", bound=np.generic)


@dataclass
class Account:
    """Everything a batch run produced, concatenated over chunks."""

    engine: Engine
    state: EngineState
    counts: Counts = field(default_factory=Counts)
    bad: BadRows = field(default_factory=BadRows)
    first_ns: int | None = None
    last_ns: int | None = None
    # (site, base bucket) rows
    site: list[NDArray[np.int32]] = field(default_factory=list)
    bucket: list[NDArray[np.int64]] = field(default_factory=list)
    values: dict[str, list[NDArray[np.float64]]] = field(
        default_factory=lambda: {k: [] for k in SITE_COLUMNS}
    )
    residual_lineage: list[NDArray[np.int32]] = field(default_factory=list)
    # (meter, base bucket) lines
    line_meter: list[NDArray[np.int32]] = field(default_factory=list)
    line_bucket: list[NDArray[np.int64]] = field(default_factory=list)
    line_qty: list[NDArray[np.float64]] = field(default_factory=list)
    line_co2e: list[NDArray[np.float64]] = field(default_factory=list)
    line_co2: list[NDArray[np.float64]] = field(default_factory=list)
    line_ch4: list[NDArray[np.float64]] = field(default_factory=list)
    line_n2o: list[NDArray[np.float64]] = field(default_factory=list)
    # intervals not counted (reset, gap, implausible), per meter
    uncounted_meter: list[NDArray[np.int32]] = field(default_factory=list)
    uncounted_t0: list[NDArray[np.int64]] = field(default_factory=list)
    uncounted_t1: list[NDArray[np.int64]] = field(default_factory=list)
    uncounted_flags: list[NDArray[np.uint16]] = field(default_factory=list)
    line_covered: list[NDArray[np.int64]] = field(default_factory=list)
    line_flags: list[NDArray[np.uint16]] = field(default_factory=list)
    line_lineage: list[NDArray[np.int32]] = field(default_factory=list)
    alloc_instrument: list[NDArray[np.int32]] = field(default_factory=list)
    alloc_mwh: list[NDArray[np.float64]] = field(default_factory=list)
    alloc_bucket: list[NDArray[np.int64]] = field(default_factory=list)
    # The reporting window [lo, hi) in UTC ns, when --from/--to cut the run (see window()).
    window_ns: tuple[int, int] | None = None

    implausible: dict[str, int] = field(default_factory=dict)  # marked readings by kind
    streamed: bool = True  # False: the file was out of time order, merge-sorted on disk

    @property
    def plant(self) -> Plant:
        return self.engine.plant

    def add(self, r: BatchResult) -> None:
        self.counts.add(r.counts)
        s = r.sites
        self.site.append(s.site)
        self.bucket.append(s.bucket)
        for k in SITE_COLUMNS:
            self.values[k].append(s.values[k])
        self.residual_lineage.append(s.residual_lineage)
        ln = r.lines
        self.line_meter.append(ln.lines.meter)
        self.line_bucket.append(ln.lines.bucket)
        self.line_qty.append(ln.lines.quantity)
        self.line_co2e.append(ln.co2e_t)
        self.line_co2.append(ln.co2_t)
        self.line_ch4.append(ln.ch4_t)
        self.line_n2o.append(ln.n2o_t)
        if r.uncounted is not None:
            self.uncounted_meter.append(r.uncounted.meter)
            self.uncounted_t0.append(r.uncounted.t0)
            self.uncounted_t1.append(r.uncounted.t1)
            self.uncounted_flags.append(r.uncounted.flags)
        self.line_covered.append(ln.lines.covered_ns)
        self.line_flags.append(ln.flags)
        self.line_lineage.append(ln.lineage)
        self.alloc_instrument.append(r.allocation.instrument)
        self.alloc_mwh.append(r.allocation.mwh)
        self.alloc_bucket.append(r.allocation.bucket)

    def column(self, name: str) -> NDArray[np.float64]:
        return concat_parts(self.values[name], np.float64)


def concat_parts(parts: Sequence[NDArray[S]], dtype: type[S]) -> NDArray[S]:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def run(
    engine: Engine,
    batch: ReadingBatch,
    state: EngineState | None = None,
    chunk: int = CHUNK,
) -> Account:
    state = state or engine.new_state()
    acc = Account(engine, state)
    if len(batch):
        order = np.argsort(batch.ts, kind="stable")
        batch = batch.take(order)
        acc.first_ns, acc.last_ns = int(batch.ts[0]), int(batch.ts[-1])
    for lo in range(0, len(batch), chunk):
        acc.add(engine.process(batch.take(slice(lo, lo + chunk)), state))
    return acc


def compute_file(
    plant_path: str | Path,
    readings_path: str | Path,
    skip_bad: bool = False,
    base_s: int = 60,
    delimiter: str | None = None,
    progress: Callable[[ReadingsReader], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Account:
    """The account of a readings file, streamed block by block when the file is in time
    order, else sorted by an external merge sort and streamed (memory bounded by the block
    and merge sizes either way; see docs)."""
    plant = load_plant(plant_path)
    library = FactorLibrary.load(plant.factor_files)
    engine = Engine(plant, library, base_s=base_s)

    def reader() -> ReadingsReader:
        return ReadingsReader(
            readings_path,
            engine.params.ids,
            skip_bad=skip_bad,
            zone=plant.zone,
            delimiter=delimiter,
            block_bytes=block_bytes,
        )

    try:
        return stream(engine, reader(), progress)
    except _OutOfOrderError:
        pass
    acc = stream(engine, reader(), progress, in_order=False)
    acc.streamed = False
    return acc


class _OutOfOrderError(CarbonstreamError):
    """A block starts before the previous one ends: the file is not in time order."""


def stream(
    engine: Engine,
    reader: ReadingsReader,
    progress: Callable[[ReadingsReader], None] | None = None,
    chunk: int = CHUNK,
    in_order: bool = True,
) -> Account:
    """The account of a file in time order, block by block: each block sorted by time and
    marked as ingest marks it (the previous plausible reading carried per meter), so the
    result equals ``run`` on the whole file. ``in_order=False`` reads the file through
    its external merge sort (``ReadingsReader.sorted_batches``), for a file out of order."""
    state = engine.new_state()
    acc = Account(engine, state)
    n = len(engine.params.ids)
    prev_t = np.full(n, NO_TIME, dtype=np.int64)
    prev_v = np.zeros(n, dtype=np.float64)
    implausible = dict.fromkeys(plausible.QUALITY_NAMES.values(), 0)
    for raw in reader.batches() if in_order else reader.sorted_batches():
        if progress is not None:
            progress(reader)
        if not len(raw):
            continue
        batch = raw.take(np.argsort(raw.ts, kind="stable"))
        if acc.last_ns is not None and int(batch.ts[0]) < acc.last_ns:
            raise _OutOfOrderError
        if acc.first_ns is None:
            acc.first_ns = int(batch.ts[0])
        acc.last_ns = int(batch.ts[-1])
        q = _mark_block(engine, batch, prev_t, prev_v)
        for code, name in plausible.QUALITY_NAMES.items():
            implausible[name] += int((q == code).sum())
        batch = ReadingBatch(batch.meter, batch.ts, batch.value, q)
        for lo in range(0, len(batch), chunk):
            acc.add(engine.process(batch.take(slice(lo, lo + chunk)), state))
    acc.bad = reader.bad
    acc.implausible = implausible
    return acc


def _mark_block(
    engine: Engine,
    batch: ReadingBatch,
    prev_t: NDArray[np.int64],
    prev_v: NDArray[np.float64],
) -> NDArray[np.uint8]:
    """``mark_batch`` of one block, the jump check continuing from the previous blocks'
    last plausible reading per meter (updated in place)."""
    m, t, v = batch.meter, batch.ts, batch.value
    order = np.lexsort((v, t, m))
    mo = m[order]
    marked, cand = plausible.mark(
        mo, t[order], v[order], batch.quality[order], engine.params, prev_t[mo], prev_v[mo]
    )
    chain = np.flatnonzero(cand & engine.params.is_counter[mo])
    if len(chain):
        cm = mo[chain]
        last = chain[np.r_[cm[1:] != cm[:-1], True]]
        prev_t[mo[last]] = t[order][last]
        prev_v[mo[last]] = v[order][last]
    out = np.empty_like(batch.quality)
    out[order] = marked
    return out


def mark_implausible(engine: Engine, batch: ReadingBatch) -> tuple[ReadingBatch, dict[str, int]]:
    """The batch with physically impossible readings marked as ingest marks them
    (core.plausible), and how many of each kind."""
    q = plausible.mark_batch(batch.meter, batch.ts, batch.value, batch.quality, engine.params)
    counts = {name: int((q == code).sum()) for code, name in plausible.QUALITY_NAMES.items()}
    return ReadingBatch(batch.meter, batch.ts, batch.value, q), counts


@dataclass
class SiteRows:
    """(site, base bucket) rows of an account, optionally cut to a time range."""

    site: NDArray[np.int32]
    bucket: NDArray[np.int64]
    values: dict[str, NDArray[np.float64]]

    def totals(self, n_sites: int) -> list[dict[str, float]]:
        """Per site index: each column summed."""
        return [
            {k: float(v[self.site == i].sum()) for k, v in self.values.items()}
            for i in range(n_sites)
        ]


def site_rows(acc: Account, lo_ns: int | None = None, hi_ns: int | None = None) -> SiteRows:
    site = concat_parts(acc.site, np.int32)
    bucket = concat_parts(acc.bucket, np.int64)
    keep = np.ones(len(site), dtype=bool)
    if lo_ns is not None:
        keep &= bucket >= lo_ns
    if hi_ns is not None:
        keep &= bucket < hi_ns
    return SiteRows(site[keep], bucket[keep], {k: acc.column(k)[keep] for k in SITE_COLUMNS})


def recompute(
    engine: Engine, batch: ReadingBatch, used_mwh: dict[str, float] | None = None
) -> Account:
    """An account of stored readings, starting from the instrument usage given."""
    state = engine.new_state()
    state.instrument_used_mwh = dict(used_mwh or {})
    return run(engine, batch, state=state)


def window(acc: Account, lo_ns: int | None, hi_ns: int | None) -> Account:
    """The account cut to the base buckets in [lo, hi): the whole run is computed first (a
    counter's first delta needs the reading before the window), then rows and lines outside
    are dropped. ``lo``/``hi`` must be base-bucket boundaries (the caller checks)."""
    if lo_ns is None and hi_ns is None:
        return acc
    lo = lo_ns if lo_ns is not None else (acc.first_ns if acc.first_ns is not None else 0)
    hi = hi_ns if hi_ns is not None else (acc.last_ns + 1 if acc.last_ns is not None else 0)
    out = Account(acc.engine, acc.state, acc.counts, acc.bad, lo, hi, window_ns=(lo, hi))
    out.implausible = acc.implausible

    def cut(names: list[str], by: NDArray[np.bool_]) -> None:
        for name in names:
            parts = getattr(acc, name)
            if parts:
                setattr(out, name, [np.concatenate(parts)[by]])

    def inside(b: NDArray[np.int64]) -> NDArray[np.bool_]:
        return (b >= lo) & (b < hi)

    names = [f.name for f in fields(Account)]
    bucket = concat_parts(acc.bucket, np.int64)
    cut(["site", "bucket", "residual_lineage"], inside(bucket))
    out.values = {c: [acc.column(c)[inside(bucket)]] for c in SITE_COLUMNS}
    cut(
        [n for n in names if n.startswith("line_")], inside(concat_parts(acc.line_bucket, np.int64))
    )
    cut(
        [n for n in names if n.startswith("alloc_")],
        inside(concat_parts(acc.alloc_bucket, np.int64)),
    )
    t0 = concat_parts(acc.uncounted_t0, np.int64)
    t1 = concat_parts(acc.uncounted_t1, np.int64)
    cut([n for n in names if n.startswith("uncounted_")], (t1 > lo) & (t0 < hi))
    return out


def period_ns(
    zone: ZoneInfo, start: str | None, end: str | None, base_s: int
) -> tuple[int | None, int | None]:
    """``--from``/``--to`` as UTC ns: an ISO date or datetime, plant-local without an offset."""
    lo = None if start is None else _instant(start, zone, base_s, "--from")
    hi = None if end is None else _instant(end, zone, base_s, "--to")
    if lo is not None and hi is not None and hi <= lo:
        raise ReadingsError(f"--to ({end}) must be after --from ({start})")
    return lo, hi


def _instant(text: str, zone: ZoneInfo, base_s: int, flag: str) -> int:
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReadingsError(
            f"{flag} {text!r} is not an ISO date or datetime (2026-11-22, 2026-11-22T08:00, "
            "2026-11-22T08:00+08:00)"
        ) from None
    if t.tzinfo is None:
        local = t.replace(tzinfo=zone)
        if local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != t:
            raise ReadingsError(f"{flag} {text} does not exist in {zone.key} (clock change)")
        if local.replace(fold=1).utcoffset() != local.utcoffset():
            raise ReadingsError(f"{flag} {text} happens twice in {zone.key}: give its offset")
        t = local
    s = t.timestamp()
    if s % base_s:
        raise ReadingsError(
            f"{flag} {text} is not on a {base_s // 60}-minute boundary: the account is kept in "
            f"{base_s // 60}-minute buckets (use --bucket minute for minute boundaries)"
        )
    return int(s) * NS_PER_S
