"""A meter's health: its state and the quality of its data, derived together, once.

The state and the quality shown beside it are one derivation, so they never
contradict each other: a meter silent for longer than ``silent_after_s`` has
*stale* data, whatever the quality of its last reading was (the live page once
showed a silent meter with quality "good"). The newest reading's own quality
stays available to who asks for it (``last_quality`` in the meters API).

| state | quality |
|---|---|
| ``no_data`` (never read) | none |
| ``silent`` (nothing for longer than ``silent_after_s``) | ``stale`` |
| ``bad_quality`` (the newest reading is unusable) | that reading's quality, never ``good`` |
| ``ok`` | ``good`` |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from carbonstream.core import plausible
from carbonstream.transport.payload import Quality

_QUALITIES = list(Quality)


class MeterState(StrEnum):
    OK = "ok"
    BAD_QUALITY = "bad_quality"  # the newest reading has a non-good quality
    SILENT = "silent"  # nothing received for longer than silent_after_s
    NO_DATA = "no_data"  # never read


@dataclass(frozen=True)
class MeterHealth:
    state: MeterState
    quality: str | None  # the quality of the meter's data now (see the module's table)
    silent_s: float | None  # seconds since the newest reading (0 when it is in the future)


def quality_name(code: int) -> str:
    """The name of a stored quality code: the wire's qualities, then the core's implausible."""
    if 0 <= code < len(_QUALITIES):
        return _QUALITIES[code].value
    return plausible.QUALITY_NAMES.get(code, f"code_{code}")


def meter_health(
    last_reading_at: dt.datetime | None,
    last_quality: int | None,
    now: dt.datetime,
    silent_after_s: float,
) -> MeterHealth:
    """State and quality of a meter from its newest reading (any quality) at ``now``."""
    if last_reading_at is None:
        return MeterHealth(MeterState.NO_DATA, None, None)
    silent_s = max(0.0, (now - last_reading_at).total_seconds())
    if silent_s > silent_after_s:
        return MeterHealth(MeterState.SILENT, Quality.STALE.value, silent_s)
    code = 0 if last_quality is None else last_quality
    if code != 0:
        return MeterHealth(MeterState.BAD_QUALITY, quality_name(code), silent_s)
    return MeterHealth(MeterState.OK, Quality.GOOD.value, silent_s)
