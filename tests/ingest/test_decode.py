"""Decoding and validating v1 payloads (no services needed)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from carbonstream.config.loader import load_plant
from carbonstream.errors import ConfigError
from carbonstream.ingest.decode import Limits, Validator
from carbonstream.ingest.settings import load_ingest_settings
from carbonstream.transport.payload import PayloadError, Quality, Reading, ReadingsMessage
from carbonstream.transport.payload import encode_readings as enc
from tests.ingest import helpers as h

T = 1_795_305_000_000
NOW = T / 1000 + 60
TOPIC = "carbonstream/v1/plant/gw1/readings"


def _v() -> Validator:
    limits = Limits(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), 300, 100_000)
    return Validator(load_plant(h.PLANT_FILE), limits)


def _msg(*readings: Reading, gateway: str = "gw1") -> bytes:
    return enc(ReadingsMessage(v=1, gateway=gateway, stream="s", seq=7, readings=list(readings)))


def test_good_payload_to_columns() -> None:
    d = _v().v1(
        TOPIC,
        _msg(
            Reading("assembly-grid", T, 5.5, "kWh"),
            Reading("foundry-gas", T + 1, None, "m3", Quality.TIMEOUT),
        ),
        now_s=NOW,
    )
    assert (d.gateway, d.stream, d.seq, d.n_rejected) == ("gw1", "s", 7, 0)
    assert list(d.meter) == [0, 5]
    assert list(d.ts) == [T * 1_000_000, (T + 1) * 1_000_000]
    assert d.value[0] == 5.5 and math.isnan(d.value[1])
    assert list(d.quality) == [0, 1]


@pytest.mark.parametrize(
    ("reading", "why"),
    [
        (Reading("nope", T, 1.0, "kWh"), "unknown meter 'nope'"),
        (Reading("assembly-grid", T, 1.0, "MWh"), "unit 'MWh' is not meter 'assembly-grid'"),
        (Reading("assembly-grid", 253_402_300_799_000, 1.0, "kWh"), "after the sane range"),
        (Reading("assembly-grid", 1000, 1.0, "kWh"), "before the sane range"),
        (Reading("assembly-grid", T, float("inf"), "kWh"), "need a finite number"),
        (Reading("assembly-grid", T, None, "kWh"), "need a finite number"),
    ],
)
def test_bad_readings_are_rejected_with_a_reason(reading: Reading, why: str) -> None:
    d = _v().v1(TOPIC, _msg(reading, Reading("assembly-grid", T + 5, 2.0, "kWh")), now_s=NOW)
    assert len(d) == 1 and d.n_rejected == 1
    assert why in d.reason()
    assert d.reason().startswith("1 of 2 readings rejected: readings[0]: ")


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "not a v1 readings payload"),
        (b'{"v": 2, "gateway": "gw1", "stream": "s", "seq": 1, "readings": []}', "version 2"),
        (_msg(gateway="gw2"), "differs from 'gw1' in the topic"),
        (b"x" * 100_001, "exceeds max_payload_bytes"),
    ],
)
def test_bad_payloads_raise(payload: bytes, why: str) -> None:
    with pytest.raises(PayloadError, match=why):
        _v().v1(TOPIC, payload, now_s=NOW)


def test_example_ingest_settings_load() -> None:
    s = load_ingest_settings(h.ROOT / "config" / "ingest.example.yaml")
    assert Path(s.plant) == h.PLANT_FILE
    assert s.mqtt.receive_maximum >= 1 and s.database.url is None


def test_bad_settings_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "ingest.yaml"
    f.write_text("plant: p.yaml\nbatch: {max_readings: 0}\nmqtt: {shared_group: 'a b'}\n")
    with pytest.raises(ConfigError) as e:
        load_ingest_settings(f)
    assert "batch.max_readings" in str(e.value) and "mqtt.shared_group" in str(e.value)


def test_ingest_decoder_agrees_with_the_transport_structs() -> None:
    """Every example payload decodes to the same readings with both views of the wire."""
    from carbonstream.transport.payload import decode_readings, decode_received

    ex = h.example()
    for _topic, data in h.payloads(ex, "gw1"):
        ref, fast = decode_readings(data), decode_received(data)
        assert (ref.gateway, ref.stream, ref.seq) == (fast.gateway, fast.stream, fast.seq)
        assert [(r.m, r.t, r.v, r.u, r.q.value) for r in ref.readings] == [
            (r.m, r.t, r.v, r.u, r.q) for r in fast.readings
        ]
