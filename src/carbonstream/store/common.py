"""Types and conversions shared by the store's write modules."""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import NDArray
from psycopg import Cursor
from psycopg.rows import TupleRow

Cur = Cursor[TupleRow]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ns_to_datetime(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


# A column of thousands of values goes to PostgreSQL as one array literal built here, not as
# a Python list: psycopg dumps a list element by element in Python, which took most of the
# time of committing a backfill's per-minute rollups (benchmarks/rollups.py).


def array_literal(values: NDArray[np.integer] | NDArray[np.floating]) -> str:
    """'{1,2.5,...}' for a ``%s::int[]``/``float8[]`` parameter; repr of a float reads back
    as the same float8."""
    return "{" + ",".join(map(repr, values.tolist())) + "}"


def timestamptz_literal(ns: NDArray[np.int64]) -> str:
    """'{2026-11-01T00:00:00.000000Z,...}' for a ``%s::timestamptz[]`` parameter: each
    time truncated to the microsecond, as ns_to_datetime does."""
    us = (ns // 1000).astype("datetime64[us]")
    return "{" + ",".join(np.datetime_as_string(us, unit="us", timezone="UTC").tolist()) + "}"
