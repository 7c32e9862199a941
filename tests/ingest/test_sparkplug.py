"""Sparkplug B payloads: decoding, alias handling, mapping to meters, and through ingest."""

from __future__ import annotations

import datetime as dt
import math

import psycopg
import pytest

from carbonstream.config.loader import load_plant
from carbonstream.ingest.decode import Limits, Validator
from carbonstream.ingest.settings import SparkplugSettings
from carbonstream.ingest.sparkplug import SparkplugDecoder, parse_payload
from carbonstream.transport.payload import PayloadError
from tests.ingest import helpers as h
from tests.ingest.sparkplug_encode import DOUBLE, FLOAT, INT32, INT64, STRING, UINT32, M, payload
from tests.services import unique

# slow: ingests through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

T = 1_795_305_000_000
NOW = T / 1000 + 60


def _decoder(mapping: dict[str, str]) -> SparkplugDecoder:
    plant = load_plant(h.PLANT_FILE)
    limits = Limits(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), 300, 4_000_000)
    return SparkplugDecoder(
        plant, SparkplugSettings(enabled=True, metrics=mapping), Validator(plant, limits)
    )


def test_value_types_round_trip() -> None:
    ts, ms = parse_payload(
        payload(
            [
                M("a", datatype=DOUBLE, value=1.25),
                M("b", datatype=FLOAT, value=0.5),
                M("c", datatype=INT32, value=-7),
                M("d", datatype=UINT32, value=4_000_000_000),
                M("e", datatype=INT64, value=-(2**40)),
                M("f", datatype=STRING, value="x"),
                M("g", is_null=True),
            ],
            timestamp=T,
        )
    )
    assert ts == T
    assert [m.value for m in ms[:5]] == [1.25, 0.5, -7.0, 4e9, -(2.0**40)]
    assert ms[5].value is None
    assert ms[6].is_null


def test_birth_aliases_mapping_and_rejections() -> None:
    d = _decoder(
        {
            "plant1/neuron/pm1/EnergyImport": "assembly-grid",
            "plant1/neuron/GasTotal": "foundry-gas",
        }
    )
    birth = payload(
        [
            M("EnergyImport", alias=5, timestamp=T, value=100.0),
            M("Temperature", alias=6, value=21.0),
        ],
        timestamp=T,
    )
    b = d.decode("spBv1.0/plant1/DBIRTH/neuron/pm1", birth, now_s=NOW)
    assert b is not None and len(b) == 1 and b.value[0] == 100.0
    data = payload(
        [
            M(alias=5, timestamp=T + 60_000, value=101.5),  # alias only, learnt from the birth
            M(alias=6, value=22.0),  # mapped to no meter: skipped, not an error
            M(alias=99, value=1.0),  # never born
            M(alias=5, timestamp=T + 120_000, is_null=True),
        ],
        timestamp=T + 60_000,
    )
    r = d.decode("spBv1.0/plant1/DDATA/neuron/pm1", data, now_s=NOW)
    assert r is not None
    assert list(r.value[:1]) == [101.5] and math.isnan(r.value[1])
    assert list(r.quality) == [0, 6]
    assert r.ts[0] == (T + 60_000) * 1_000_000
    assert r.n_rejected == 1 and "alias 99 unknown" in r.rejected[0]
    node = d.decode(
        "spBv1.0/plant1/NDATA/neuron",
        payload([M("GasTotal", value=float("inf"))], timestamp=T),
        now_s=NOW,
    )
    assert node is not None and len(node) == 0 and "not a finite number" in node.rejected[0]
    assert d.decode("spBv1.0/plant1/NDEATH/neuron", b"", now_s=NOW) is None


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x12\x05ab", b"\x0f"])
def test_garbage_is_a_payload_error(garbage: bytes) -> None:
    with pytest.raises(PayloadError, match="not a Sparkplug B payload"):
        _decoder({}).decode("spBv1.0/g/NDATA/n", garbage, now_s=NOW)


def test_sparkplug_through_ingest(db_url: str) -> None:
    group = unique("grp")
    s = h.settings(
        db_url,
        unique("gw"),
        sparkplug={
            "enabled": True,
            "group_ids": [group],
            "metrics": {f"{group}/ign/meter/Energy": "assembly-grid"},
        },
    )
    run = h.Running(s, db_url)
    try:
        h.publish(
            [
                (
                    f"spBv1.0/{group}/DBIRTH/ign/meter",
                    payload([M("Energy", alias=1, value=10.0)], T),
                ),
                (
                    f"spBv1.0/{group}/DDATA/ign/meter",
                    payload([M(alias=1, value=10.25)], T + 60_000),
                ),
                (
                    f"spBv1.0/{group}/DDATA/ign/meter",
                    payload([M(alias=1, value=10.5)], T + 120_000),
                ),
            ]
        )
        h.wait_until(lambda: run.service.totals.messages >= 3, 30, "three messages")
    finally:
        run.stop()
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT value FROM readings ORDER BY ts").fetchall()
        qty = c.execute("SELECT sum(quantity) FROM emission_lines").fetchone()
    assert rows == [(10.0,), (10.25,), (10.5,)]
    assert qty is not None and qty[0] == pytest.approx(0.5 * 80 / 1000)  # 0.5 kWh x CT 80, in MWh
