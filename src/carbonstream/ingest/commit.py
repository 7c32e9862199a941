"""One partition's share of a batch, committed in one transaction, all or nothing.

    lock meter state (key order) ─► drop what is already stored ─► COPY readings
      ─► core on the new readings ─► COPY lines, add site minutes, allocations
      ─► late readings: recompute the meter from the bucket before them, rebuild
         the touched site minutes ─► save meter state ─► (dead letters, streams)

Meter state is read from the database under a row lock in every transaction,
so two workers that see readings of the same meter serialise on it and each
continues from the other's commit. A retried transaction (connection lost,
deadlock, ambiguous commit) finds its readings stored and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.core import plausible
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.buckets import Lines
from carbonstream.core.engine import EmissionLines, Engine
from carbonstream.core.market import Allocation, InstrumentSpec
from carbonstream.core.state import NO_TIME
from carbonstream.store import batches, intake, market, readings, reallocate, rollups
from carbonstream.store.common import Cur
from carbonstream.store.db import Conn
from carbonstream.store.lineage import LineageStore
from carbonstream.store.plant import Keys


@dataclass
class Part:
    """Readings of one partition (meter = the core's dense index)."""

    meter: NDArray[np.int32]
    ts: NDArray[np.int64]
    value: NDArray[np.float64]
    quality: NDArray[np.uint8]
    # Per reading: index into ``signed`` of the batch that brought it; -1 (or no
    # array at all) = unsigned, stored with no batch.
    batch: NDArray[np.int32] | None = None
    signed: list[batches.BatchRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.meter)

    def batch_index(self) -> NDArray[np.int32]:
        return self.batch if self.batch is not None else np.full(len(self.meter), -1, np.int32)

    @classmethod
    def empty(cls) -> Part:
        return cls(
            np.empty(0, np.int32),
            np.empty(0, np.int64),
            np.empty(0, np.float64),
            np.empty(0, np.uint8),
        )


@dataclass
class Meta:
    """What rides along with one partition's transaction: dead letters, stream positions."""

    dead: list[intake.DeadLetter] = field(default_factory=list)
    streams: list[intake.StreamUpdate] = field(default_factory=list)


@dataclass
class Outcome:
    readings: int = 0
    stored: int = 0
    duplicates: int = 0  # identical to a stored reading (or one earlier in the batch)
    conflicts: int = 0  # another value or quality for a stored (meter, time): recorded, not stored
    implausible: int = 0  # stored with an implausible quality (core.plausible), not accounted
    late_recomputed: int = 0
    too_late: int = 0
    lines: int = 0
    gaps: int = 0
    replays: int = 0


class Committer:
    """Owns one engine and its lineage map; runs transactions for one writer thread."""

    def __init__(self, engine: Engine, keys: Keys, lateness_s: float) -> None:
        self.engine = engine
        self.keys = keys
        self.lateness_ns = int(lateness_s * 1e9)
        self.state = engine.new_state()
        self.lineage = LineageStore()
        p = engine.params
        self._role = p.role.astype(np.int16)
        self._meter_site = keys.site[p.site]
        top = int(keys.meter.max()) + 1 if len(keys.meter) else 1
        self._index_of_key = np.full(top, -1, dtype=np.int32)
        self._index_of_key[keys.meter] = np.arange(len(keys.meter), dtype=np.int32)
        self._instruments_of_site: dict[int, list[str]] = {}
        self._ledger_version: int | None = None
        self._set_instruments(engine.instruments)

    def _set_instruments(self, specs: list[InstrumentSpec]) -> None:
        self.engine.instruments = specs
        self._instruments_of_site = {}
        for spec in specs:
            self._instruments_of_site.setdefault(spec.site, []).append(spec.id)

    def _refresh_instruments(self, cur: Cur) -> bool:
        """Reload the instruments when the API changed them (ledger version moved)."""
        version = reallocate.ledger_version(cur)
        if version == self._ledger_version:
            return False
        self._set_instruments(reallocate.load_specs(cur, self.engine.plant))
        self._ledger_version = version
        return True

    def warm(self, conn: Conn, when: dt.datetime) -> None:
        """Resolve this month's factors and store their lineage now, not in the first batch."""
        local = when.astimezone(self.engine.plant.zone)
        months = {(local.year, local.month)}
        nxt = local + dt.timedelta(days=1)
        months.add((nxt.year, nxt.month))  # the month turns within a day: warm it too
        for y, m in sorted(months):
            self.engine.resolver.month(y, m)
        ids = np.array([x.id for x in self.engine.lineages], dtype=np.int32)
        try:
            with conn.transaction(), conn.cursor() as cur:
                self.lineage.to_db(cur, self.engine.lineages, ids)
        except BaseException:
            self.lineage.rolled_back()
            raise
        self.lineage.committed()

    def commit(self, conn: Conn, part: Part, meta: Meta | None) -> Outcome:
        # The signed batches first, in a short transaction of their own: two writers
        # whose readings came in the same batch then wait for each other only that long,
        # not for each other's whole commit. A batch stored without its readings (the
        # next transaction failed) is found by digest when they are written again.
        batch_ids = _store_batches(conn, part)
        try:
            with conn.transaction(), conn.cursor() as cur:
                out = self._run(cur, part, meta, batch_ids)
        except BaseException:
            self.lineage.rolled_back()
            raise
        self.lineage.committed()
        return out

    # --- the transaction --------------------------------------------------------

    def _run(
        self, cur: Cur, part: Part, meta: Meta | None, batch_ids: NDArray[np.int64]
    ) -> Outcome:
        out = Outcome(readings=len(part))
        if len(part):
            self._readings(cur, part, out, batch_ids)
        if meta is not None:
            intake.add_dead_letters(cur, meta.dead)
            out.gaps, out.replays = intake.update_streams(cur, meta.streams)
        return out

    def _readings(self, cur: Cur, part: Part, out: Outcome, batch_ids: NDArray[np.int64]) -> None:
        # Same meter and time twice in the batch: keep one (the lowest value, as the core does);
        # a repeat with another value or quality is a conflict, recorded with both.
        order = np.lexsort((part.value, part.ts, part.meter))
        m, t = part.meter[order], part.ts[order]
        v, q = part.value[order], part.quality[order]
        bt = batch_ids[order]
        first = np.ones(len(m), dtype=bool)
        first[1:] = (m[1:] != m[:-1]) | (t[1:] != t[:-1])
        conflicts: list[readings.ConflictRows] = []
        if not first.all():
            rep = np.flatnonzero(~first)
            head = np.maximum.accumulate(np.where(first, np.arange(len(m)), 0))[rep]
            differs = _differs(v[head], q[head], v[rep], q[rep])
            out.duplicates = int((~differs).sum())
            c, h = rep[differs], head[differs]
            conflicts.append(
                readings.ConflictRows(
                    self.keys.meter[m[c]], t[c], v[h], q[h].astype(np.int16), v[c],
                    q[c].astype(np.int16),
                )
            )  # fmt: skip
        m, t, v, q, bt = m[first], t[first], v[first], q[first], bt[first]

        meters = np.unique(m)
        mkeys = self.keys.meter[meters]
        st = readings.lock_state(cur, np.sort(mkeys))
        pos = np.searchsorted(st.meter, mkeys)
        if len(st.meter) != len(meters) or not np.array_equal(st.meter[pos], mkeys):
            raise RuntimeError("meter_state rows are missing: restart ingest to sync the plant")
        last_ts, last_value, max_ts = st.last_ts[pos], st.last_value[pos], st.max_ts[pos]
        slot = np.searchsorted(meters, m)

        # Anything at or before the newest stored reading may already be stored.
        maybe = np.flatnonzero(t <= max_ts[slot])
        if len(maybe):
            there, sv, sq = readings.stored_values(cur, self.keys.meter[m[maybe]], t[maybe])
            if there.any():
                keep = np.ones(len(m), dtype=bool)
                keep[maybe[there]] = False
                found = maybe[there]
                differs = _differs(sv[there], sq[there], v[found], q[found])
                out.duplicates += int((~differs).sum())
                c = found[differs]
                conflicts.append(
                    readings.ConflictRows(
                        self.keys.meter[m[c]], t[c], sv[there][differs], sq[there][differs],
                        v[c], q[c].astype(np.int16),
                    )
                )  # fmt: skip
                m, t, v, q, slot = m[keep], t[keep], v[keep], q[keep], slot[keep]
                bt = bt[keep]
        for c_rows in conflicts:
            out.conflicts += len(c_rows)
            readings.record_conflicts(cur, c_rows)
        out.stored = len(m)
        if not len(m):
            return
        # Physically impossible readings get a quality that says so (core.plausible); the
        # jump check takes the meter's previous plausible reading from its state, and is
        # not made for readings older than it (late ones).
        p_ts, p_value = st.plausible_ts[pos][slot], st.plausible_value[pos][slot]
        q, cand = plausible.mark(m, t, v, q, self.engine.params, p_ts, p_value, t > p_ts)
        marked = np.isin(q, plausible.IMPLAUSIBLE)
        out.implausible = int(marked.sum())
        readings.copy_readings(cur, self.keys.meter[m], t, v, q, bt, null=(q != 0) & ~marked)
        batches.count_readings(cur, self.keys.meter[m], t, bt, marked)
        new_pts, new_pv = st.plausible_ts[pos].copy(), st.plausible_value[pos].copy()
        newer = np.flatnonzero(cand & (t > p_ts))
        if len(newer):  # sorted by (meter, time): the last of each meter is its newest
            s_ = slot[newer]
            last_of = newer[np.append(s_[1:] != s_[:-1], True)]
            new_pts[slot[last_of]], new_pv[slot[last_of]] = t[last_of], v[last_of]
        n_marked = np.bincount(slot[marked], minlength=len(meters)).astype(np.int64)

        good = q == 0
        last = last_ts[slot]
        normal = good & (t > last)
        late = good & (t < last)
        within = late & (last - t <= self.lateness_ns)
        too_late = late & ~within

        usage_sites = {int(s) for s in self.engine.params.site[meters]}
        self._refresh_instruments(cur)
        self.state.instrument_used_mwh = market.lock_usage(cur, self._instruments(usage_sites))
        while self._refresh_instruments(cur):  # the API committed a change while we waited
            self.state.instrument_used_mwh = market.lock_usage(cur, self._instruments(usage_sites))
        self.state.meters.last_ts[meters] = last_ts
        self.state.meters.last_value[meters] = last_value
        if normal.any():
            idx = np.flatnonzero(normal)
            batch = ReadingBatch(m[idx], t[idx], v[idx], q[idx])
            res = self.engine.process(batch, self.state)
            out.lines += self._write_lines(cur, res.lines, None)
            s = res.sites
            rollups.add_site_minutes(
                cur,
                rollups.SiteRows(
                    self.keys.site[s.site],
                    s.bucket,
                    s.values,
                    self._db_lineage(cur, s.residual_lineage),
                ),
            )
            self._write_allocations(cur, res.allocation)
        if within.any():
            idx = np.flatnonzero(within)
            with readings.index_probes(cur):
                touched = self._recompute(cur, m[idx], t[idx])
                self._rebuild(cur, touched)
            out.late_recomputed = len(idx)
        if too_late.any():
            idx = np.flatnonzero(too_late)
            readings.record_late(cur, self.keys.meter[m[idx]], t[idx], (last[idx] - t[idx]) / 1e9)
            out.too_late = len(idx)

        new_max = max_ts.copy()
        np.maximum.at(new_max, slot, t)
        rows = np.argsort(mkeys)
        readings.save_state(
            cur,
            readings.StateRows(
                mkeys[rows],
                self.state.meters.last_ts[meters][rows],
                self.state.meters.last_value[meters][rows],
                new_max[rows],
                new_pts[rows],
                new_pv[rows],
                n_marked[rows],
            ),
        )
        market.save_usage(cur, self.state.instrument_used_mwh)

    # --- late readings ------------------------------------------------------------

    def _recompute(
        self, cur: Cur, lm: NDArray[np.int32], lt: NDArray[np.int64]
    ) -> set[tuple[int, int]]:
        """Recompute the lines of meters with late readings, in the buckets they change.

        A late reading L between stored good readings A < L < C splits the interval
        (A, C]; nothing before A or after C changes. Each late reading gives a window
        of buckets, from the one holding A's interval start (B0) to the one holding C
        (B1); overlapping windows of a meter merge. The core reruns each window from
        the last reading at or before B0 to the first at or after the end of B1, and
        the meter's lines in the window are replaced. (Between two windows of a meter
        the rerun may bridge readings it did not fetch; those buckets are not kept.)
        """
        base = self.engine.base_ns
        keys_all = self.keys.meter[lm]
        a = readings.neighbour_good(cur, keys_all, lt, before=True, inclusive=False)
        c = readings.neighbour_good(cur, keys_all, lt, before=False, inclusive=False)
        lo_all = np.where(a == NO_TIME, lt // base * base, a // base * base)
        hi_all = np.where(c == NO_TIME, lt, c - 1) // base * base
        meters, b0, b1 = _merge_windows(lm, lo_all, hi_all, base)
        keys = self.keys.meter[meters]
        a2 = readings.neighbour_good(cur, keys, b0, before=True, inclusive=True)
        c2 = readings.neighbour_good(cur, keys, b1 + base, before=False, inclusive=True)
        since = np.where(a2 == NO_TIME, 0, a2)
        until = np.where(c2 == NO_TIME, np.iinfo(np.int64).max // 2, c2)
        rk, rt, rv = readings.good_readings_between(cur, keys, since, until)
        ri = self._index_of_key[rk]
        scratch = self.engine.new_state()
        res = self.engine.process(ReadingBatch(ri, rt, rv, np.zeros(len(ri), np.uint8)), scratch)
        touched = rollups.delete_lines_between(cur, keys, b0, b1)
        lines = res.lines.lines
        keep = np.zeros(len(lines), dtype=bool)
        for m, lo, hi in zip(meters.tolist(), b0.tolist(), b1.tolist(), strict=True):
            keep |= (lines.meter == m) & (lines.bucket >= lo) & (lines.bucket <= hi)
        self._write_lines(cur, res.lines, keep)
        sel = np.flatnonzero(keep)
        site_keys = self._meter_site[lines.meter[sel]]
        touched |= set(zip(site_keys.tolist(), lines.bucket[sel].tolist(), strict=True))
        return touched

    def _rebuild(self, cur: Cur, touched: set[tuple[int, int]]) -> None:
        """Rebuild (site, minute) rows and their instrument allocations from stored lines."""
        keys = sorted(touched)
        rollups.lock_site_minutes(cur, keys)
        sites = {self.keys.site_index[s] for s, _ in keys}
        more = [i for i in self._instruments(sites) if i not in self.state.instrument_used_mwh]
        self.state.instrument_used_mwh.update(market.lock_usage(cur, more))
        for ins, mwh in market.take_allocations(cur, keys).items():
            self.state.instrument_used_mwh[ins] = self.state.instrument_used_mwh.get(ins, 0.0) - mwh
        rows = rollups.lines_of_site_buckets(cur, keys)
        idx = self._index_of_key[rows.meter]
        lines = Lines(
            idx, rows.bucket, rows.quantity, rows.covered_ns, rows.n_intervals, rows.flags
        )
        e = EmissionLines(
            lines,
            rows.co2_t,
            rows.ch4_t,
            rows.n2o_t,
            rows.co2e_t,
            np.zeros(len(idx), np.int32),
            rows.flags,
        )
        sums, alloc = self.engine.site_sums(e, self.state)
        site_keys = self.keys.site[sums.site]
        found = set(zip(site_keys.tolist(), sums.bucket.tolist(), strict=True))
        empty = [k for k in keys if k not in found]
        values = {c: np.concatenate([a, np.zeros(len(empty))]) for c, a in sums.values.items()}
        rollups.add_site_minutes(
            cur,
            rollups.SiteRows(
                np.concatenate([site_keys, np.array([k[0] for k in empty], np.int32)]),
                np.concatenate([sums.bucket, np.array([k[1] for k in empty], np.int64)]),
                values,
                np.concatenate(
                    [self._db_lineage(cur, sums.residual_lineage), np.zeros(len(empty), np.int64)]
                ),
            ),
            replace=True,
        )
        self._write_allocations(cur, alloc)

    # --- helpers --------------------------------------------------------------------

    def _instruments(self, sites: set[int]) -> list[str]:
        return [i for s in sorted(sites) for i in self._instruments_of_site.get(s, [])]

    def _db_lineage(self, cur: Cur, local: NDArray[np.int32]) -> NDArray[np.int64]:
        return self.lineage.to_db(cur, self.engine.lineages, local)

    def _write_lines(self, cur: Cur, e: EmissionLines, keep: NDArray[np.bool_] | None) -> int:
        sel = np.arange(len(e)) if keep is None else np.flatnonzero(keep)
        if not len(sel):
            return 0
        ln = e.lines
        meter = ln.meter[sel]
        rollups.copy_lines(
            cur,
            rollups.LineRows(
                meter=self.keys.meter[meter],
                bucket=ln.bucket[sel],
                site=self._meter_site[meter],
                role=self._role[meter],
                quantity=ln.quantity[sel],
                covered_ns=ln.covered_ns[sel],
                n_intervals=ln.n_intervals[sel],
                flags=e.flags[sel],
                co2_t=e.co2_t[sel],
                ch4_t=e.ch4_t[sel],
                n2o_t=e.n2o_t[sel],
                co2e_t=e.co2e_t[sel],
                lineage=self._db_lineage(cur, e.lineage[sel]),
            ),
        )
        return len(sel)

    def _write_allocations(self, cur: Cur, alloc: Allocation) -> None:
        if not len(alloc.instrument):
            return
        ids = [self.engine.instruments[int(k)].id for k in alloc.instrument]
        market.add_allocations(cur, ids, self.keys.site[alloc.site], alloc.bucket, alloc.mwh)


def _differs(
    v0: NDArray[np.float64], q0: NDArray[Any], v1: NDArray[np.float64], q1: NDArray[Any]
) -> NDArray[np.bool_]:
    """Another quality, or another value of a good reading (bad ones have no value). A
    stored implausible reading came in as good: compared as such."""
    q0 = np.where(np.isin(q0, plausible.IMPLAUSIBLE), 0, q0)
    out: NDArray[np.bool_] = (q0 != q1) | ((q1 == 0) & (v0 != v1))
    return out


def _store_batches(conn: Conn, part: Part) -> NDArray[np.int64]:
    """The stored batch id of each reading of the part (-1: unsigned), storing the batches."""
    bt = part.batch_index()
    ids = np.full(len(bt), -1, np.int64)
    signed = bt >= 0
    if not signed.any():
        return ids
    used = np.unique(bt[signed])
    lookup = np.full(len(part.signed), -1, np.int64)
    with conn.transaction(), conn.cursor() as cur:
        lookup[used] = batches.store(cur, [part.signed[i] for i in used.tolist()])
    ids[signed] = lookup[bt[signed]]
    return ids


def _merge_windows(
    meter: NDArray[np.int32], lo: NDArray[np.int64], hi: NDArray[np.int64], base: int
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]:
    """Merge each meter's overlapping or adjacent [lo, hi] bucket windows."""
    order = np.lexsort((lo, meter))
    out: list[tuple[int, int, int]] = []
    for m, a, b in zip(meter[order].tolist(), lo[order].tolist(), hi[order].tolist(), strict=True):
        if out and out[-1][0] == m and a <= out[-1][2] + base:
            if b > out[-1][2]:
                out[-1] = (m, out[-1][1], b)
        else:
            out.append((m, a, b))
    return (
        np.array([w[0] for w in out], dtype=np.int32),
        np.array([w[1] for w in out], dtype=np.int64),
        np.array([w[2] for w in out], dtype=np.int64),
    )
