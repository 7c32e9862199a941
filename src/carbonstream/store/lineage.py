"""Persist the core's lineage records so any figure can be re-derived from the database.

The core numbers lineages per process; the database numbers them by content
(a digest of the record), so every worker and every restart agrees on ids.
Ids learnt inside a transaction only become trusted once it commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
from numpy.typing import NDArray
from psycopg import Cursor
from psycopg.rows import TupleRow

from carbonstream.core.resolve import Lineage


def digest(lin: Lineage) -> str:
    record = dataclasses.asdict(lin)
    record.pop("id")
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class LineageStore:
    """Maps one engine's lineage ids to database ids, writing new records as needed."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._pending: dict[int, int] = {}
        self._table = np.zeros(0, dtype=np.int64)

    def to_db(
        self, cur: Cursor[TupleRow], lineages: list[Lineage], local: NDArray[np.int32]
    ) -> NDArray[np.int64]:
        """Database ids for these engine-local ids (inserting unseen records, in one go)."""
        if not len(local):
            return np.zeros(0, dtype=np.int64)
        unseen = [
            i for i in np.unique(local).tolist() if i not in self._ids and i not in self._pending
        ]
        if unseen:
            self._pending.update(self._write(cur, [lineages[i] for i in unseen]))
        top = int(local.max()) + 1
        table = np.zeros(max(top, len(self._table)), dtype=np.int64)
        table[: len(self._table)] = self._table
        for i, db in self._pending.items():
            if i < len(table):
                table[i] = db
        return table[local]

    def committed(self) -> None:
        self._ids.update(self._pending)
        self._pending.clear()
        top = max(self._ids, default=-1) + 1
        self._table = np.zeros(top, dtype=np.int64)
        for i, db in self._ids.items():
            self._table[i] = db

    def rolled_back(self) -> None:
        self._pending.clear()

    def _write(self, cur: Cursor[TupleRow], lins: list[Lineage]) -> dict[int, int]:
        """Insert (or find) these records, their factors and links; local id -> database id."""
        all_keys = [digest(x) for x in lins]
        unique_: dict[str, Lineage] = {}
        for k, x in zip(all_keys, lins, strict=True):
            unique_.setdefault(k, x)
        keys = sorted(unique_)  # one lock order for all workers
        ids_by_local = dict(zip([x.id for x in lins], all_keys, strict=True))
        lins = [unique_[k] for k in keys]
        rows = cur.execute(
            "INSERT INTO lineage (digest, subject, month, method, gwp, quantity_unit,"
            " ef_co2, ef_ch4, ef_n2o, ef_co2e, flags, record)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::int[],"
            " %s::jsonb[])"
            " ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest RETURNING digest, id",
            (
                keys,
                [x.meter for x in lins],
                [x.month for x in lins],
                [x.method for x in lins],
                [x.gwp for x in lins],
                [x.quantity_unit for x in lins],
                [x.ef_co2 for x in lins],
                [x.ef_ch4 for x in lins],
                [x.ef_n2o for x in lins],
                [x.ef_co2e for x in lins],
                [x.flags for x in lins],
                [json.dumps(dataclasses.asdict(x), default=str) for x in lins],
            ),
        ).fetchall()
        by_digest = {str(d): int(i) for d, i in rows}
        uses = {(f.factor_id, f.version): f for x in lins for f in x.factors}
        if uses:
            fs = [uses[k] for k in sorted(uses)]
            cur.execute(
                "INSERT INTO factors (factor_id, version, value, unit, source, source_table,"
                " data_year, verified) SELECT * FROM unnest(%s::text[], %s::int[], %s::float8[],"
                " %s::text[], %s::text[], %s::text[], %s::int[], %s::text[])"
                " ON CONFLICT DO NOTHING",
                (
                    [f.factor_id for f in fs],
                    [f.version for f in fs],
                    [f.value for f in fs],
                    [f.unit for f in fs],
                    [f.source for f in fs],
                    [f.table for f in fs],
                    [f.data_year for f in fs],
                    [f.verified for f in fs],
                ),
            )
        links = [(by_digest[k], f) for k, x in zip(keys, lins, strict=True) for f in x.factors]
        if links:
            cur.execute(
                "INSERT INTO lineage_factors (lineage_id, role, factor_id, version, fallback)"
                " SELECT * FROM unnest(%s::int8[], %s::text[], %s::text[], %s::int[], %s::text[])"
                " ON CONFLICT DO NOTHING",
                (
                    [i for i, _ in links],
                    [f.role for _, f in links],
                    [f.factor_id for _, f in links],
                    [f.version for _, f in links],
                    [f.fallback for _, f in links],
                ),
            )
        return {local: by_digest[k] for local, k in ids_by_local.items()}
