"""Export the evidence for a period: everything a verifier needs to re-derive the figures.

A folder with:

    manifest.json      schema, plant, period, code version, sha256 of every other file
    plant.json         the plant configuration the account used
    factors_used.csv   every factor (id, version, value, unit, source, table) behind a figure
    user_factors.csv   the plant's own factor files (built-in tables ship with the code)
    readings.csv       every stored reading of the period (NULL values for non-good quality),
                       with the id of the signed batch it came in (empty: unsigned)
    batches.jsonl      those signed batches: the exact bytes the gateway signed (base64),
                       the Ed25519 signature, key id, gateway and arrival time; the public
                       keys are in plant.json (gateways[].keys)
    context.csv        each meter's last good reading before the period and first after it
                       (the ends of the intervals that cross the period's edges)
    late_readings.csv  readings stored but older than the lateness: not in the account
    usage_at_start.json  instrument MWh already allocated before the period
    totals.json        the stored account for the period, per site (site_minute sums)
    lineage.json       the lineage records of the period (method, factors, GWP set)
    chain.json         the sealed hash chain of the period's days (and the digest before)
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from carbonstream import __version__
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.progress import NoSteps, Steps
from carbonstream.store import evidence as ev
from carbonstream.store.db import Conn
from carbonstream.store.plant import stored_plant

SCHEMA = "carbonstream.evidence/v1"


def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


_ROWS_PER_STEP = 10_000  # readings written between two progress updates


def export(
    conn: Conn, first: dt.date, last: dt.date, out: Path, steps: Steps | None = None
) -> dict[str, Any]:
    """Write the period's evidence into ``out``; ``steps`` hears each phase and the readings
    written."""
    steps = steps or NoSteps()
    plant = stored_plant(conn)
    zone = plant.zone
    start, end = ev.local_bounds(first, last, zone)
    out.mkdir(parents=True, exist_ok=True)

    user_files = [Path(f) for f in plant.factor_files]
    _write_user_factors(out / "user_factors.csv", user_files)
    plant_doc = plant.model_dump(mode="json") | {"factor_files": ["user_factors.csv"]}
    _write_json(out / "plant.json", plant_doc)

    steps.phase(f"export {first}..{last}: reading the stored readings")
    stored = ev.readings(conn, start, end)
    steps.phase(f"export {first}..{last}: writing readings.csv", len(stored.ts_ns))
    with (out / "readings.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["meter", "ts_ns", "value", "quality", "batch"])
        assert stored.batch is not None
        for i, (m, t, v, q, b) in enumerate(
            zip(stored.meter, stored.ts_ns, stored.value, stored.quality, stored.batch, strict=True)
        ):
            if i and i % _ROWS_PER_STEP == 0:
                steps.advance(_ROWS_PER_STEP)
            w.writerow(
                [
                    stored.meter_ids[m],
                    int(t),
                    "" if v != v else repr(float(v)),
                    int(q),
                    "" if b < 0 else int(b),
                ]
            )
    steps.phase(f"export {first}..{last}: batches, context, account and lineage")
    signed = ev.batches(conn, start, end)
    with (out / "batches.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(b, sort_keys=True) + "\n" for b in signed)

    ids = [m.id for m in plant.meters]
    ctx = ev.context(conn, start, end, ids)
    with (out / "context.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["meter", "ts_ns", "value", "quality"])
        for m, t, v, q in zip(ctx.meter, ctx.ts_ns, ctx.value, ctx.quality, strict=True):
            w.writerow([ids[m], int(t), repr(float(v)), int(q)])
    with (out / "late_readings.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["meter", "ts_ns"])
        w.writerows(sorted(ev.late(conn, start, end)))
    _write_json(out / "usage_at_start.json", ev.usage_before(conn, start))

    cols = ", ".join(f"sum({c})" for c in SITE_COLUMNS)
    rows = conn.execute(
        f"SELECT s.id, {cols} FROM site_minute x JOIN sites s ON s.key = x.site"  # noqa: S608 - fixed column names
        " WHERE x.bucket >= %s AND x.bucket < %s GROUP BY s.id ORDER BY s.id",
        (start, end),
    ).fetchall()
    totals = {r[0]: dict(zip(SITE_COLUMNS, (float(v) for v in r[1:]), strict=True)) for r in rows}
    _write_json(out / "totals.json", totals)

    lineage = conn.execute(
        "SELECT DISTINCT l.id, l.record FROM lineage l JOIN emission_lines e ON e.lineage_id = l.id"
        " WHERE e.bucket >= %s AND e.bucket < %s ORDER BY l.id",
        (start, end),
    ).fetchall()
    _write_json(out / "lineage.json", [r[1] for r in lineage])
    _query_csv(
        conn,
        out / "factors_used.csv",
        ["factor_id", "version", "value", "unit", "source", "table", "data_year", "verified"],
        "SELECT DISTINCT f.factor_id, f.version, f.value, f.unit, f.source, f.source_table,"
        " f.data_year, f.verified FROM factors f"
        " JOIN lineage_factors lf ON lf.factor_id = f.factor_id AND lf.version = f.version"
        " JOIN emission_lines e ON e.lineage_id = lf.lineage_id"
        " WHERE e.bucket >= %s AND e.bucket < %s ORDER BY 1, 2",
        (start, end),
    )
    chain = ev.chain(conn, first, last)
    _write_json(out / "chain.json", [vars(d) for d in chain])

    manifest = {
        "schema": SCHEMA,
        "plant": plant.name,
        "timezone": plant.timezone,
        "period": {"first": first.isoformat(), "last": last.isoformat()},
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "code_version": code_version(),
        "readings": len(stored.ts_ns),
        "unsigned_readings": int((stored.batch < 0).sum()),
        "signed_batches": len(signed),
        "sealed_days": len(chain),
        "files": {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.name != "manifest.json"},
    }
    _write_json(out / "manifest.json", manifest)
    return manifest


def _write_user_factors(path: Path, files: list[Path]) -> None:
    header: str | None = None
    lines: list[str] = []
    for f in files:
        text = f.read_text(encoding="utf-8").splitlines()
        if not text:
            continue
        if header is None:
            header = text[0]
        elif text[0] != header:
            raise ValueError(f"factor file {f} has other columns than {files[0]}: merge by hand")
        lines += [x for x in text[1:] if x.strip()]
    path.write_text(
        "\n".join([header or "id,version,value,unit,source", *lines]) + "\n", encoding="utf-8"
    )


def _query_csv(
    conn: Conn, path: Path, header: list[str], query: str, params: tuple[object, ...]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in conn.execute(query.encode(), params):
            w.writerow(["" if v is None else v for v in row])


def _write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
