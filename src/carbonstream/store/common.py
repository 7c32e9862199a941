"""Types and conversions shared by the store's write modules."""

from __future__ import annotations

import datetime as dt

from psycopg import Cursor
from psycopg.rows import TupleRow

Cur = Cursor[TupleRow]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ns_to_datetime(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)
