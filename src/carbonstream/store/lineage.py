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
        """Database ids for these engine-local ids (inserting unseen records)."""
        if not len(local):
            return np.zeros(0, dtype=np.int64)
        for i in np.unique(local).tolist():
            if i not in self._ids and i not in self._pending:
                self._pending[i] = self._write(cur, lineages[i])
        top = int(local.max()) + 1
        table = np.zeros(max(top, len(self._table)), dtype=np.int64)
        table[: len(self._table)] = self._table
        for i, db in (self._ids | self._pending).items():
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

    def _write(self, cur: Cursor[TupleRow], lin: Lineage) -> int:
        key = digest(lin)
        record = json.dumps(dataclasses.asdict(lin), default=str)
        row = cur.execute(
            "INSERT INTO lineage (digest, subject, month, method, gwp, quantity_unit,"
            " ef_co2, ef_ch4, ef_n2o, ef_co2e, flags, record)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest RETURNING id",
            (
                key,
                lin.meter,
                lin.month,
                lin.method,
                lin.gwp,
                lin.quantity_unit,
                lin.ef_co2,
                lin.ef_ch4,
                lin.ef_n2o,
                lin.ef_co2e,
                lin.flags,
                record,
            ),
        ).fetchone()
        assert row is not None
        db_id = int(row[0])
        for f in lin.factors:
            cur.execute(
                "INSERT INTO factors (factor_id, version, value, unit, source, source_table,"
                " data_year, verified) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (
                    f.factor_id,
                    f.version,
                    f.value,
                    f.unit,
                    f.source,
                    f.table,
                    f.data_year,
                    f.verified,
                ),
            )
            cur.execute(
                "INSERT INTO lineage_factors (lineage_id, role, factor_id, version, fallback)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (db_id, f.role, f.factor_id, f.version, f.fallback),
            )
        return db_id
