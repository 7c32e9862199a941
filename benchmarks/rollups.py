"""Benchmark: writing per-(site, minute) rollups (``store.rollups.add_site_minutes``), the
step of ingest's commit that dominated storing a backfill (the demo's four weeks of
history, the energy tests' simulated plant).

The same rows (``--days`` of minutes for ``--sites`` sites, random values) are upserted
into ``site_minute`` of a freshly migrated database on the local PostgreSQL, in
``--batch``-row transactions, two ways in alternating rounds:

- ``literals``: the columns sent as array literals built from numpy (the code's path);
- ``lists``: the columns sent as Python lists, which psycopg dumps element by element
  (the previous path, kept here as the baseline).

Both must leave the same rows (compared after each round). Prints one JSON object per
line: rows per second of each, and the ratio literals / lists.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db  # noqa: E402

from carbonstream.core.engine import SITE_COLUMNS  # noqa: E402
from carbonstream.store.common import ns_to_datetime  # noqa: E402
from carbonstream.store.migrate import migrate  # noqa: E402
from carbonstream.store.rollups import _ADD_SITES, SiteRows, add_site_minutes  # noqa: E402

MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_790_000_000 * 1_000_000_000 // MINUTE_NS * MINUTE_NS


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    line = {"bench": "rollups", "metric": metric, "value": value, "unit": unit} | extra
    print(json.dumps(line), flush=True)


def rows_of(site_keys: list[int], minutes: int, seed: int) -> SiteRows:
    rng = np.random.default_rng(seed)
    n = len(site_keys) * minutes
    site = np.repeat(np.array(site_keys, np.int32), minutes)
    bucket = np.tile(START_NS + np.arange(minutes, dtype=np.int64) * MINUTE_NS, len(site_keys))
    values = {c: rng.random(n) * 1e-3 for c in SITE_COLUMNS}
    return SiteRows(site, bucket, values, np.zeros(n, np.int64))


def add_as_lists(cur: psycopg.Cursor[Any], rows: SiteRows) -> None:
    """The previous add_site_minutes: Python lists as the array parameters."""
    order = np.lexsort((rows.bucket, rows.site))
    params: list[object] = [
        rows.site[order].tolist(),
        [ns_to_datetime(t) for t in rows.bucket[order].tolist()],
    ]
    params += [rows.values[c][order].tolist() for c in SITE_COLUMNS]
    params.append(rows.residual_lineage[order].tolist())
    cur.execute(_ADD_SITES, params)


def store(url: str, rows: SiteRows, batch: int, how: str) -> float:
    """Seconds to upsert ``rows`` into an emptied site_minute, ``batch`` rows a commit."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE site_minute")
        conn.commit()
        t = time.perf_counter()
        for lo in range(0, len(rows), batch):
            sl = slice(lo, lo + batch)
            part = SiteRows(
                rows.site[sl],
                rows.bucket[sl],
                {c: a[sl] for c, a in rows.values.items()},
                rows.residual_lineage[sl],
            )
            with conn.cursor() as cur:
                if how == "literals":
                    add_site_minutes(cur, part)
                else:
                    add_as_lists(cur, part)
            conn.commit()
        return time.perf_counter() - t


def stored(url: str) -> list[tuple[Any, ...]]:
    cols = ", ".join(SITE_COLUMNS)
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT site, bucket, {cols}, residual_lineage_id FROM site_minute ORDER BY 1, 2"
        ).fetchall()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one day, one round")
    a = ap.parse_args()
    days, rounds = (1, 1) if a.quick else (a.days, a.rounds)
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
            keys = [
                r[0]
                for r in conn.execute(
                    "INSERT INTO sites (id) SELECT 'bench-' || g FROM generate_series(1, %s) g"
                    " RETURNING key",
                    (a.sites,),
                ).fetchall()
            ]
            conn.commit()
        rows = rows_of(keys, days * 1440, seed=1)
        took: dict[str, list[float]] = {"literals": [], "lists": []}
        for _ in range(rounds):
            got = {}
            for how in ("lists", "literals"):
                took[how].append(store(url, rows, a.batch, how))
                got[how] = stored(url)
            assert got["literals"] == got["lists"], "the two paths stored different rows"
        rate = {how: len(rows) / statistics.median(s) for how, s in took.items()}
        common = {"rows": len(rows), "batch": a.batch, "rounds": rounds}
        emit("rows_per_s", rate["lists"], "rows/s", path="lists", **common)
        emit(
            "rows_per_s",
            rate["literals"],
            "rows/s",
            path="literals",
            vs="lists",
            ratio=rate["literals"] / rate["lists"],
            **common,
        )
    finally:
        drop_db(name)


if __name__ == "__main__":
    main()
