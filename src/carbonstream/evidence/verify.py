"""Verify an evidence export: file integrity, the hash chain, and every figure re-derived.

1. Each file's SHA-256 matches the manifest.
2. Every signed batch verifies against its gateway's registered key, and every
   stored reading that names a batch is in it with the same value
   (evidence.signatures); unsigned readings are counted per meter.
3. The day digests recomputed from readings.csv match the sealed chain, and
   the chain links (each day's ``prev`` is the previous day's digest).
4. The account is recomputed from readings.csv (plus the readings just outside
   the period, minus late readings that were not in the account) with the
   exported plant and factors, through the same core, and each site's totals
   must match totals.json.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from carbonstream.compute import recompute, site_rows
from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.chain import DayDigest, day_digest, verify_chain
from carbonstream.core.engine import SITE_COLUMNS, Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.errors import FactorError
from carbonstream.evidence.export import SCHEMA
from carbonstream.evidence.signatures import StoredRows, verify_signatures
from carbonstream.store.evidence import local_bounds

REL_TOL = 1e-6
ABS_TOL = 1e-9


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(folder: Path, require_signed: bool = False) -> Report:
    rep = Report()
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    if manifest.get("schema") != SCHEMA:
        rep.problems.append(f"not a {SCHEMA} export (schema {manifest.get('schema')!r})")
        return rep
    _files(folder, manifest, rep)
    plant = validate(json.loads((folder / "plant.json").read_text("utf-8")), Plant, "plant.json")
    plant = plant.model_copy(update={"factor_files": [str(folder / "user_factors.csv")]})
    readings = _readings(folder / "readings.csv", plant)
    _chain(folder, plant, readings, rep)
    sig = verify_signatures(
        folder,
        plant,
        StoredRows(
            readings.meter_ids,
            readings.meter,
            readings.ts,
            readings.value,
            readings.quality,
            readings.batch,
        ),
        require_signed,
    )
    rep.problems += sig.problems
    rep.checked += sig.checked
    _factors(folder, plant, rep)
    _account(folder, plant, manifest, readings, rep)
    return rep


def _files(folder: Path, manifest: dict[str, Any], rep: Report) -> None:
    for name, digest in manifest["files"].items():
        p = folder / name
        if not p.is_file():
            rep.problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            rep.problems.append(f"{name}: content differs from the manifest's SHA-256")
    rep.checked.append(f"{len(manifest['files'])} files against the manifest")


@dataclass
class _Rows:
    meter_ids: list[str]
    meter: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    batch: np.ndarray  # signed batch id, -1: unsigned (or an export without the column)


def _readings(path: Path, plant: Plant) -> _Rows:
    ids = [m.id for m in plant.meters]
    index = {m: i for i, m in enumerate(ids)}
    meter, ts, value, quality, batch = [], [], [], [], []
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            meter.append(index[r["meter"]])
            ts.append(int(r["ts_ns"]))
            value.append(float(r["value"]) if r["value"] != "" else np.nan)
            quality.append(int(r["quality"]))
            batch.append(int(r["batch"]) if r.get("batch") else -1)
    return _Rows(
        ids,
        np.array(meter, dtype=np.int32),
        np.array(ts, dtype=np.int64),
        np.array(value, dtype=np.float64),
        np.array(quality, dtype=np.uint8),
        np.array(batch, dtype=np.int64),
    )


def _chain(folder: Path, plant: Plant, r: _Rows, rep: Report) -> None:
    sealed = [DayDigest(**d) for d in json.loads((folder / "chain.json").read_text("utf-8"))]
    if not sealed:
        rep.problems.append("no sealed days in the period: run `carbonstream seal` first")
        return
    for a, b in itertools.pairwise(sealed):
        if b.prev != a.digest:
            rep.problems.append(f"{b.day}: chain broken (prev does not match {a.day}'s digest)")
    # Each day is recomputed on the *sealed* previous digest, so one changed
    # reading is reported once, on its own day.
    recomputed = []
    for s in sealed:
        sel = _day_mask(r, plant, s.day)
        digest = day_digest(
            s.prev, s.day, r.meter_ids, r.meter[sel], r.ts[sel], r.value[sel], r.quality[sel]
        )
        recomputed.append(DayDigest(s.day, int(sel.sum()), digest, s.prev))
    rep.problems += verify_chain(sealed, recomputed)
    rep.checked.append(f"{len(sealed)} sealed days against the readings")


def _day_mask(r: _Rows, plant: Plant, day: str) -> np.ndarray:
    import datetime as dt

    d = dt.date.fromisoformat(day)
    lo, hi = local_bounds(d, d, plant.zone)
    lo_ns, hi_ns = int(lo.timestamp()) * 10**9, int(hi.timestamp()) * 10**9
    return (r.ts >= lo_ns) & (r.ts < hi_ns)


def _factors(folder: Path, plant: Plant, rep: Report) -> None:
    library = FactorLibrary.load(plant.factor_files)
    n = 0
    with (folder / "factors_used.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            n += 1
            fid, version = row["factor_id"], int(row["version"])
            if fid not in library:
                rep.problems.append(f"factor {fid} v{version}: not in this code's library")
                continue
            factor = library.get(fid, version)
            # The store keeps each value in the unit the formula used (e.g. t/GJ).
            try:
                have = factor.value_in(row["unit"])
            except FactorError:
                have = factor.value
            if abs(have - float(row["value"])) > ABS_TOL * max(1.0, abs(have)):
                rep.problems.append(
                    f"factor {fid} v{version}: exported {row['value']} {row['unit']}, "
                    f"library {have} {row['unit']}"
                )
    rep.checked.append(f"{n} factors against the library")


def _account(folder: Path, plant: Plant, manifest: dict[str, Any], r: _Rows, rep: Report) -> None:
    import datetime as dt

    context = _readings(folder / "context.csv", plant)
    with (folder / "late_readings.csv").open(encoding="utf-8") as f:
        late = {(row["meter"], int(row["ts_ns"])) for row in csv.DictReader(f)}
    keep = np.array(
        [(r.meter_ids[m], int(t)) not in late for m, t in zip(r.meter, r.ts, strict=True)],
        dtype=bool,
    )
    batch = ReadingBatch(
        np.concatenate([r.meter[keep], context.meter]),
        np.concatenate([r.ts[keep], context.ts]),
        np.nan_to_num(np.concatenate([r.value[keep], context.value])),
        np.concatenate([r.quality[keep], context.quality]),
    )
    engine = Engine(plant, FactorLibrary.load(plant.factor_files))
    usage = json.loads((folder / "usage_at_start.json").read_text("utf-8"))
    acc = recompute(engine, batch, {k: float(v) for k, v in usage.items()})
    first = dt.date.fromisoformat(manifest["period"]["first"])
    last = dt.date.fromisoformat(manifest["period"]["last"])
    lo, hi = local_bounds(first, last, plant.zone)
    rows = site_rows(acc, int(lo.timestamp()) * 10**9, int(hi.timestamp()) * 10**9)
    stored = json.loads((folder / "totals.json").read_text("utf-8"))
    sites = [s.id for s in plant.sites]
    for sid, got_cols in zip(sites, rows.totals(len(sites)), strict=True):
        for col in SITE_COLUMNS:
            got = got_cols[col]
            want = float(stored.get(sid, {}).get(col, 0.0))
            if abs(got - want) > max(ABS_TOL, REL_TOL * abs(want)):
                rep.problems.append(
                    f"site {sid} {col}: stored {want:.9g}, re-derived {got:.9g} from the readings"
                )
    n = int(keep.sum())
    rep.checked.append(
        f"{len(SITE_COLUMNS)} figures x {len(sites)} sites re-derived from {n} readings"
    )
