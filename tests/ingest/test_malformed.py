"""Garbage on the topic: every bad payload lands in dead_letters with a reason, valid data
is intact and the service keeps going (thousands of payloads generated with hypothesis)."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonstream.transport.payload import Quality
from tests.hypothesis_profiles import examples
from tests.ingest import helpers as h
from tests.services import unique

# slow: publishes thousands of payloads through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

GW = unique("gw")
TOPIC = f"carbonstream/v1/plant/{GW}/readings"
QUALITY_NAMES = {q.value for q in Quality}
T0 = 1_795_305_000_000  # inside the example's period, ms
# Read once: the filter below runs for every drawn meter id, and parsing the plant file per
# draw took most of this test's time.
KNOWN_METERS = frozenset(h.example_ids())


def _msg(readings: list[dict[str, object]], **over: object) -> dict[str, object]:
    return {"v": 1, "gateway": GW, "stream": "bad", "seq": 1, "readings": readings} | over


def _reading(**over: object) -> dict[str, object]:
    return {"m": "assembly-grid", "t": T0, "v": 1.0, "u": "kWh", "q": "good"} | over


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)

random_bytes = st.binary(max_size=400)
not_str = json_values.filter(lambda v: not isinstance(v, str))
not_int = json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool))
WRONG = {
    "v": json_values.filter(lambda v: v != 1 or isinstance(v, bool)),
    "gateway": not_str,
    "stream": not_str,
    "seq": not_int | st.integers(max_value=0),
    "readings": json_values.filter(lambda v: not isinstance(v, list) or len(v) > 0),
}
wrong_types = st.sampled_from(sorted(WRONG)).flatmap(
    lambda f: WRONG[f].map(lambda v: _json(_msg([_reading()]) | {f: v}))
)
READING_WRONG = {
    "m": not_str,
    "t": not_int | st.integers(max_value=-1),
    "u": not_str,
    "q": not_str | st.text(max_size=5).filter(lambda q: q not in QUALITY_NAMES),
}
wrong_reading_types = st.sampled_from(sorted(READING_WRONG)).flatmap(
    lambda f: READING_WRONG[f].map(lambda v: _json(_msg([_reading(**{f: v})])))
)
not_numbers = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"]).map(
    lambda lit: _json(_msg([_reading(v="@")])).replace(b'"@"', lit)
)
unknown_meters = st.lists(
    st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z").filter(lambda m: m not in KNOWN_METERS),
    min_size=1,
    max_size=5,
).map(lambda ms: _json(_msg([_reading(m=m) for m in ms])))
year_9999 = st.integers(253_402_300_000_000, 253_402_300_799_999).map(
    lambda t: _json(_msg([_reading(t=t)]))
)
wrong_units = st.sampled_from(["Wh", "MWh", "kW", "m3", "", "KWH"]).map(
    lambda u: _json(_msg([_reading(u=u)]))
)
other_versions = st.integers(2, 10**6).map(lambda v: _json(_msg([_reading()], v=v)))
bad_gateway = st.just(_json(_msg([_reading()], gateway="someone-else")))
HUGE = _json(_msg([_reading(t=T0 + i) for i in range(10_001)]))
huge = st.just(HUGE)

bad_payloads = st.one_of(
    random_bytes,
    wrong_types,
    wrong_reading_types,
    not_numbers,
    unknown_meters,
    year_9999,
    wrong_units,
    other_versions,
    bad_gateway,
    huge,
)


def _digest(payload: bytes) -> bytes:
    return hashlib.sha256(TOPIC.encode() + b"\0" + payload).digest()


def test_thousands_of_malformed_payloads(db_url: str) -> None:
    ex = h.example()
    valid = h.payloads(ex, GW)
    run = h.Running(h.settings(db_url, GW), db_url)
    sent_bad: set[bytes] = set()
    n_bad = 0
    published = 0
    try:

        @settings(
            max_examples=examples(12),
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(st.lists(bad_payloads, min_size=150, max_size=250))
        def one_round(bad: list[bytes]) -> None:
            nonlocal published, n_bad
            chunk = valid[: 1 + len(valid) // 12]
            del valid[: len(chunk)]
            batch = [(TOPIC, b) for b in bad] + chunk
            published += h.publish(batch)
            sent_bad.update(_digest(b) for b in bad)
            n_bad += len(bad)
            h.wait_until(lambda: run.service.totals.messages >= published, 60, "this round")
            assert run.thread.is_alive()

        one_round()
        published += h.publish(valid)  # the rest of the valid data, after all the garbage
        h.wait_until(lambda: run.service.totals.messages >= published, 60, "the rest")
        assert run.thread.is_alive()
    finally:
        run.stop()
    # Every round ran, at least 150 each (2000 held only at CI depth, and not always there:
    # 12 x 150 is 1800). Repeats (same bytes) are one dead letter, counted in `seen`.
    assert n_bad >= 150 * examples(12)
    assert run.service.metrics.dead_letters._value.get() == n_bad
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT digest, reason, topic FROM dead_letters").fetchall()
    stored = {bytes(r[0]): (str(r[1]), str(r[2])) for r in rows}
    assert set(stored) == sent_bad
    assert all(reason and topic == TOPIC for reason, topic in stored.values())
    assert h.count(db_url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))


def test_good_readings_of_a_partly_bad_payload_go_through(db_url: str) -> None:
    run = h.Running(h.settings(db_url, GW), db_url)
    payload = _json(
        _msg(
            [
                _reading(t=T0, v=100.0),
                _reading(t=T0 + 60_000, v=101.0),
                _reading(m="no-such-meter"),
                _reading(t=T0 + 120_000, v=102.0),
                _reading(t=T0 + 180_000, u="MWh"),
            ]
        )
    )
    try:
        h.publish([(TOPIC, payload)])
        h.wait_until(lambda: run.service.totals.messages >= 1, 30, "the message")
    finally:
        run.stop()
    assert h.count(db_url, "readings") == 3
    with psycopg.connect(db_url) as c:
        [(reason,)] = c.execute("SELECT reason FROM dead_letters").fetchall()
    assert "2 of 5 readings rejected" in reason
    assert "readings[2]: unknown meter 'no-such-meter'" in reason
    assert "readings[4]: unit 'MWh'" in reason


def test_control_characters_are_dead_lettered_and_the_rest_of_the_batch_is_stored(
    db_url: str,
) -> None:
    """A NUL in a stream id or a meter id used to reach PostgreSQL (which refuses NUL in
    text) and the store then refused the whole batch, dead-lettering the good messages
    that shared it. Both are refused on their own now, with a reason, and the reason is
    stored with its control characters escaped."""
    run = h.Running(h.settings(db_url, GW), db_url)
    good = _json(_msg([_reading(t=T0, v=100.0), _reading(t=T0 + 60_000, v=101.0)], stream="good"))
    nul_stream = _json(_msg([_reading(t=T0 + 120_000, v=102.0)], stream="s\x00"))
    nul_meter = _json(_msg([_reading(m="assembly-grid\x00", t=T0 + 180_000)]))
    try:
        h.publish([(TOPIC, nul_stream), (TOPIC, nul_meter), (TOPIC, good)])
        h.wait_until(lambda: run.service.totals.messages >= 3, 30, "the messages")
        assert run.thread.is_alive()
    finally:
        run.stop()
    assert h.count(db_url, "readings") == 2
    with psycopg.connect(db_url) as c:
        reasons = [str(r[0]) for r in c.execute("SELECT reason FROM dead_letters").fetchall()]
    assert len(reasons) == 2
    assert not any("store rejected" in r for r in reasons), reasons
    assert not any("\x00" in r for r in reasons)
    assert any("stream" in r for r in reasons), reasons
