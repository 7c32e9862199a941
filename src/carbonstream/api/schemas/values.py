"""Values a client may send, bounded by type so that every route refuses the same way.

Text never holds a control character PostgreSQL or a log cannot hold: PostgreSQL text
cannot store NUL (a request with one was a 500), and CR, ESC and the like forge log
lines and terminal output. Every free-text field of a request body is a Line or a Text;
the pattern is in the OpenAPI schema, so clients see the rule.

A time lies in years no plant's data has a reason to leave: Python's datetime ends at
year 9999, so "0001-01-05" minus 30 days, or a plant zone applied to
"9999-12-31T23:00", was an OverflowError (a 500).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field

from carbonstream.localtime import LOCAL_TIME_PATTERN, LocalTime, set_zone

__all__ = [
    "EARLIEST",
    "LATEST",
    "LOCAL_TIME_PATTERN",
    "Instant",
    "Line",
    "LocalTime",
    "Text",
    "set_zone",
]

# One line: no C0 control character, no DEL.
Line = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
# Free text (notes, purposes): tab and line breaks allowed, no other control character.
Text = Annotated[str, Field(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]

EARLIEST = dt.datetime(1970, 1, 1)
LATEST = dt.datetime(2200, 1, 1)


def _plausible_time(t: dt.datetime) -> dt.datetime:
    naive = t.replace(tzinfo=None)
    if not EARLIEST <= naive < LATEST:
        raise ValueError(f"a time from {EARLIEST.year} to {LATEST.year - 1}, not {t.isoformat()}")
    return t


Instant = Annotated[dt.datetime, AfterValidator(_plausible_time)]
