"""Series buckets (store.queries.series.bucket_spans): every bucket of a range, in the plant's
zone, with the seconds of it inside the range. The fixed-size path (minute, 15 min, hour:
arithmetic on a UTC start) equals stepping bucket by bucket with next_bucket, across DST
changes and zones with half-hour offsets."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from carbonstream.store.queries.series import (
    Bucket,
    _ceil_minute,
    bucket_spans,
    floor_bucket,
    next_bucket,
)

ZONES = ["Asia/Shanghai", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]
T0 = dt.datetime(2026, 10, 24, tzinfo=dt.UTC)  # Berlin falls back on the 25th


def stepped(
    start: dt.datetime, end: dt.datetime, bucket: Bucket, zone: ZoneInfo
) -> list[tuple[dt.datetime, float]]:
    first, last = _ceil_minute(start), _ceil_minute(end)
    b0, out = floor_bucket(first, bucket, zone), []
    while b0 < last:
        u0, u1 = b0.astimezone(dt.UTC), next_bucket(b0, bucket, zone).astimezone(dt.UTC)
        out.append((u0, (min(u1, last) - max(u0, first)).total_seconds()))
        b0 = u1.astimezone(zone)
    return out


@given(
    zone=st.sampled_from(ZONES),
    bucket=st.sampled_from([Bucket.MINUTE, Bucket.QUARTER, Bucket.HOUR]),
    at_s=st.integers(0, 3 * 86400),
    length_s=st.integers(1, 2 * 86400),
    micro=st.sampled_from([0, 5]),
)
def test_fixed_buckets_equal_stepping(
    zone: str, bucket: Bucket, at_s: int, length_s: int, micro: int
) -> None:
    start = T0 + dt.timedelta(seconds=at_s, microseconds=micro)
    end = start + dt.timedelta(seconds=length_s)
    spans = bucket_spans(start, end, bucket, ZoneInfo(zone))
    assert spans == stepped(start, end, bucket, ZoneInfo(zone))
    assert sum(s for _, s in spans) == (_ceil_minute(end) - _ceil_minute(start)).total_seconds()


def test_fall_back_day_has_25_hour_buckets() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 10, 25, tzinfo=zone)
    spans = bucket_spans(start, start + dt.timedelta(days=1), Bucket.HOUR, zone)
    assert len(spans) == 25 and all(s == 3600 for _, s in spans)
    days = bucket_spans(start, dt.datetime(2026, 10, 27, tzinfo=zone), Bucket.DAY, zone)
    assert [s for _, s in days] == [25 * 3600, 24 * 3600]
