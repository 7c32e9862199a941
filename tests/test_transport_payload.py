"""The v1 wire format: round trip, the schema file, and refusals with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonstream.transport import topics
from carbonstream.transport.payload import (
    PayloadError,
    Quality,
    Reading,
    ReadingsMessage,
    decode_readings,
    decode_received,
    encode_readings,
    schema_text,
)

SCHEMA = Path(__file__).resolve().parents[1] / "src/carbonstream/transport/schema/readings-v1.json"


def test_schema_file_is_current() -> None:
    assert SCHEMA.read_text() == schema_text(), "regenerate: payload.schema_text()"


def test_round_trip() -> None:
    msg = ReadingsMessage(
        v=1,
        gateway="gw-1",
        stream="s1",
        seq=7,
        readings=[
            Reading(m="a", t=1_764_489_600_000, v=12.5, u="kWh"),
            Reading(m="b", t=1_764_489_600_000, v=None, u="kW", q=Quality.TIMEOUT),
        ],
    )
    assert decode_readings(encode_readings(msg)) == msg


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\xff", "not a v1 readings payload"),
        (b'{"v":2,"gateway":"g","stream":"s","seq":1,"readings":[]}', "version 2 is not supported"),
        (b'{"v":1,"gateway":"g","stream":"s","seq":0,"readings":[]}', "$.seq"),
        (
            b'{"v":1,"gateway":"g","stream":"s","seq":1,"readings":[{"m":"a","t":"x","v":1,"u":"kWh"}]}',
            "$.readings[0].t",
        ),
        (
            b'{"v":1,"gateway":"g","stream":"s","seq":1,"readings":[{"m":"a","t":1,"v":1,"u":"kWh","q":"meh"}]}',
            "$.readings[0].q",
        ),
        (b'{"v":1,"gateway":"g","stream":"s","seq":1,"extra":1,"readings":[]}', "extra"),
    ],
)
def test_bad_payload_has_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode_readings(payload)
    assert reason in str(err.value)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\xff", "not a v1 readings payload"),
        (b'{"v":2,"gateway":"g","stream":"s","seq":1,"readings":[]}', "version 2 is not supported"),
        (b'{"v":1,"gateway":"g","stream":"s","seq":0,"readings":[]}', "$.seq"),
        (b'{"v":1,"gateway":"-g","stream":"s","seq":1,"readings":[]}', "$.gateway"),
        (b'{"v":1,"gateway":"g","stream":"s\\u0000","seq":1,"readings":[]}', "$.stream"),
        (b'{"v":1,"gateway":"g","stream":"s","seq":1,"extra":1,"readings":[]}', "extra"),
        (
            b'{"v":1,"gateway":"g","stream":"s","seq":1,"readings":[{"m":"a","t":1,"v":1}]}',
            "$.readings[0]",
        ),
    ],
)
def test_the_receiver_view_refuses_a_bad_message_as_the_strict_one_does(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadError) as strict:
        decode_readings(payload)
    with pytest.raises(PayloadError) as received:
        decode_received(payload)
    assert reason in str(received.value)
    assert str(received.value) == str(strict.value)


def test_the_receiver_view_keeps_a_bad_reading_for_its_own_check() -> None:
    """A bad meter id, an unknown quality and a negative time refuse the whole message in
    the strict view; the receiver's view hands them on so that each is rejected alone."""
    payload = (
        b'{"v":1,"gateway":"g","stream":"s","seq":1,"readings":['
        b'{"m":"-a","t":1,"v":1,"u":"kWh"},{"m":"a","t":-1,"v":1,"u":"kWh"},'
        b'{"m":"a","t":1,"v":null,"u":"kWh","q":"meh"},{"m":"a","t":2,"v":3.5,"u":"kWh"}]}'
    )
    with pytest.raises(PayloadError):
        decode_readings(payload)
    msg = decode_received(payload)
    assert [(r.m, r.t, r.v, r.q) for r in msg.readings] == [
        ("-a", 1, 1.0, "good"),
        ("a", -1, 1.0, "good"),
        ("a", 1, None, "meh"),
        ("a", 2, 3.5, "good"),
    ]


def test_schema_is_valid_json_schema_shape() -> None:
    s = json.loads(SCHEMA.read_text())
    assert s["$defs"]["ReadingsMessage"]["required"] == [
        "v",
        "gateway",
        "stream",
        "seq",
        "readings",
    ]


def test_topics() -> None:
    assert topics.readings_topic("hall1", "gw-1") == "carbonstream/v1/hall1/gw-1/readings"
    assert topics.parse("carbonstream/v1/hall1/gw-1/status") == ("hall1", "gw-1", "status")
    assert topics.parse("other/x") is None
    with pytest.raises(ValueError, match="topic segment"):
        topics.readings_topic("hall/1", "gw")
