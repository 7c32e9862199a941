"""Restatements: recompute a past period with a new factor set, beside the old account.

A corrected factor or a newly published one (e.g. the 2024 grid factors) never
rewrites stored figures. ``carbonstream restate`` recomputes the chosen
period from the stored readings — the same readings, context and late-data
exclusions the evidence export uses — with the plant's factor files plus the
given ones (a higher version of an id wins), and stores the result per site
and local day as a new, labelled version. The live account is untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carbonstream.compute import recompute, site_rows
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.calendar import to_calendar
from carbonstream.core.engine import SITE_COLUMNS, Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.evidence.export import code_version
from carbonstream.progress import NoSteps, Steps
from carbonstream.store import evidence as ev
from carbonstream.store import green
from carbonstream.store.db import Conn
from carbonstream.store.plant import site_keys, stored_plant


@dataclass(frozen=True)
class Restatement:
    id: int
    label: str
    first: dt.date
    last: dt.date
    totals: dict[str, dict[str, float]]  # site -> column -> tCO2e / MWh / GJ


def restate(
    conn: Conn,
    first: dt.date,
    last: dt.date,
    label: str,
    extra_factor_files: list[Path],
    steps: Steps | None = None,
) -> Restatement:
    """Recompute and store; ``steps`` hears each phase and each site-day written."""
    steps = steps or NoSteps()
    plant = stored_plant(conn)
    files = [Path(f) for f in plant.factor_files] + list(extra_factor_files)
    library = FactorLibrary.load(files)
    engine = Engine(plant, library)
    start, end = ev.local_bounds(first, last, plant.zone)
    ids = [m.id for m in plant.meters]
    steps.phase(f"restate {first}..{last}: reading the stored readings")
    batch = _stored_batch(conn, start, end, ids)
    steps.phase(f"restate {first}..{last}: computing {len(batch.meter):,} readings")
    acc = recompute(engine, batch, ev.usage_before(conn, start))
    rows = site_rows(acc, int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9)
    days = to_calendar(rows.bucket, "day", plant.zone) if len(rows.bucket) else rows.bucket
    used = sorted(
        {(f.factor_id, f.version, f.value, f.unit) for lin in engine.lineages for f in lin.factors}
    )
    keys = site_keys(conn)
    with conn.transaction():
        rid = green.insert_restatement(
            conn,
            label,
            first,
            last,
            code_version(),
            [_file_ref(f) for f in files],
            [dict(zip(("factor_id", "version", "value", "unit"), u, strict=True)) for u in used],
        )
        totals: dict[str, dict[str, float]] = {}
        n_site_days = sum(len(np.unique(days[rows.site == i])) for i in range(len(plant.sites)))
        steps.phase(f"restate {first}..{last}: writing site-days", n_site_days)
        for s_idx, site in enumerate(plant.sites):
            for day in np.unique(days[rows.site == s_idx]):
                sel = (rows.site == s_idx) & (days == day)
                cols = {k: float(v[sel].sum()) for k, v in rows.values.items()}
                local = dt.datetime.fromtimestamp(int(day) // 10**9, plant.zone).date()
                green.insert_restated_day(conn, rid, keys[site.id], local, cols)
                t = totals.setdefault(site.id, dict.fromkeys(SITE_COLUMNS, 0.0))
                for k, v in cols.items():
                    t[k] += v
                steps.advance()
    return Restatement(rid, label, first, last, totals)


def _stored_batch(conn: Conn, start: dt.datetime, end: dt.datetime, ids: list[str]) -> ReadingBatch:
    r = ev.readings(conn, start, end)
    index = {m: i for i, m in enumerate(ids)}
    late = ev.late(conn, start, end)
    meter = np.array([index[r.meter_ids[m]] for m in r.meter], dtype=np.int32)
    keep = np.array(
        [(r.meter_ids[m], int(t)) not in late for m, t in zip(r.meter, r.ts_ns, strict=True)],
        dtype=bool,
    )
    ctx = ev.context(conn, start, end, ids)
    return ReadingBatch(
        np.concatenate([meter[keep] if len(meter) else meter, ctx.meter]),
        np.concatenate([r.ts_ns[keep] if len(meter) else r.ts_ns, ctx.ts_ns]),
        np.nan_to_num(np.concatenate([r.value[keep] if len(meter) else r.value, ctx.value])),
        np.concatenate([r.quality[keep] if len(meter) else r.quality, ctx.quality]),
    )


def _file_ref(path: Path) -> dict[str, str]:
    return {"name": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
