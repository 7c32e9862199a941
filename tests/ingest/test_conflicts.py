"""Conflicting and implausible readings are visible, on a real (private) Mosquitto and
PostgreSQL: a second value for a stored (meter, time) is recorded with both values and
counted (an identical redelivery is not a conflict); a negative register, a value beyond
its register range and a rise faster than the meter's rating are stored with a quality
that says so, left out of the account, and shown in the meter's status in the API. The
account equals ``carbonstream compute`` over every reading that arrived."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.cli import main
from carbonstream.config.loader import load_plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.transport.payload import Reading, ReadingsMessage, encode_readings
from tests.api.conftest import serve
from tests.ingest import helpers as h
from tests.ingest import signed as s
from tests.services import Mosquitto, unique

# slow: ingests the example plant through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

T = 1_795_305_000_000  # 2026-11-22T20:30:00Z, ms
TOPIC = "carbonstream/v1/assembly/gw-assembly/readings"


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    with tempfile.TemporaryDirectory(prefix="carbonstream-conflicts-") as d:
        b = Mosquitto(Path(d))
        try:
            yield b
        finally:
            b.stop()


def _msg(seq: int, readings: list[tuple[int, float]]) -> tuple[str, bytes]:
    rs = [Reading(m="assembly-grid", t=T + s * 1000, v=v, u="kWh") for s, v in readings]
    msg = ReadingsMessage(v=1, gateway="gw-assembly", stream="s", seq=seq, readings=rs)
    return TOPIC, encode_readings(msg)


def _at_least(run: h.Running, n: int) -> Callable[[], bool]:
    return lambda: run.service.totals.messages >= n


def test_conflicts_and_implausible_readings_are_recorded_and_shown(
    db_url: str, broker: Mosquitto
) -> None:
    first = _msg(1, [(0, 2000.1), (60, 2000.2)])
    other = _msg(2, [(0, 2999.0)])  # another value for (assembly-grid, T)
    rest = _msg(
        3,
        [
            (120, -5.0),  # a register below zero
            (180, 2000.3),
            (240, 9000.0),  # +6999.7 in 60 s: the rating (2000 kW / CT 80) allows 0.46
            (270, 1e12),  # beyond the register's range (counter_range 1 000 000)
            (300, 2000.4),
            (300, 2000.9),  # the same time twice in one message: the lower one is kept
        ],
    )
    mqtt = ("127.0.0.1", broker.port)
    run = h.Running(h.settings(db_url, "+", broker=mqtt, gateway_binding="required"), db_url)
    try:
        for n, m in enumerate([first, other, first, other, rest], start=1):
            h.publish([m], mqtt=mqtt)  # one at a time: the arrival order is the test
            h.wait_until(_at_least(run, n), 30, f"message {n}")
    finally:
        run.stop()
    t = run.service.totals
    assert (t.stored, t.duplicates, t.conflicts, t.implausible) == (7, 2, 3, 3)
    assert run.service.metrics.readings.labels("conflict")._value.get() == 3

    with psycopg.connect(db_url) as c:
        rows = c.execute(
            "SELECT extract(epoch FROM ts)::int8 * 1000 - %s, value, quality FROM readings"
            " ORDER BY ts",
            (T,),
        ).fetchall()
        conflicts = c.execute(
            "SELECT extract(epoch FROM ts)::int8 * 1000 - %s, stored_value, stored_quality,"
            " value, quality, seen FROM reading_conflicts ORDER BY ts",
            (T,),
        ).fetchall()
        qty = c.execute("SELECT sum(quantity), bit_or(flags) FROM emission_lines").fetchone()
    assert rows == [
        (0, 2000.1, 0),
        (60_000, 2000.2, 0),
        (120_000, -5.0, 64),  # implausible_negative, its value kept
        (180_000, 2000.3, 0),
        (240_000, 9000.0, 66),  # implausible_jump
        (270_000, 1e12, 65),  # implausible_high
        (300_000, 2000.4, 0),
    ]
    assert conflicts == [
        (0, 2000.1, 0, 2999.0, 0, 2),  # arrived twice (a redelivery), one row
        (300_000, 2000.4, 0, 2000.9, 0, 1),
    ]
    # The account uses 2000.1 -> 2000.2 -> 2000.3 -> 2000.4: 0.3 kWh on the register x CT 80
    # = 24 kWh = 0.024 MWh, every interval counted (no reset or implausible flag).
    assert qty is not None and qty[0] == pytest.approx(0.3 * 80 / 1000, rel=1e-9)
    assert qty[1] & (4 | 32) == 0

    # carbonstream compute over everything that arrived gives the same account.
    ex = h.example()
    idx = ex.ids.index("assembly-grid")
    arrived = [(0, 2000.1), (60, 2000.2), (0, 2999.0), (120, -5.0), (180, 2000.3),
               (240, 9000.0), (270, 1e12), (300, 2000.4), (300, 2000.9)]  # fmt: skip
    batch = ReadingBatch.of(
        [idx] * len(arrived),
        [(T + s * 1000) * 1_000_000 for s, _ in arrived],
        [v for _, v in arrived],
        np.zeros(len(arrived), np.uint8),
    )
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(h.Example(ex.plant, batch)))

    for api in serve(db_url):
        r = api.client.get("/v1/meters/assembly-grid", headers=api.headers("viewer"))
        assert r.status_code == 200, r.text
        status = r.json()["status"]
        assert status["conflicts"] == 2
        assert status["implausible_readings"] == 3
        assert status["last_quality"] == "good"
        last = status["last_conflict"]
        assert dt.datetime.fromisoformat(last["at"]) == dt.datetime.fromtimestamp(
            (T + 300_000) / 1000, dt.UTC
        )
        assert (last["stored_value"], last["value"]) == (2000.4, 2000.9)
        listed = api.client.get("/v1/meters", headers=api.headers("viewer")).json()
        grid = next(m for m in listed if m["id"] == "assembly-grid")
        assert grid["status"]["conflicts"] == 2
        # the inventory's data quality of the month: 7 readings stored, 3 implausible
        inv = api.client.get("/v1/inventory?month=2026-11", headers=api.headers("viewer"))
        assert inv.status_code == 200, inv.text
        line = next(a for a in inv.json()["activity"] if a["meter"] == "assembly-grid")
        assert (line["readings"], line["implausible_readings"]) == (7, 3)


def test_a_signed_implausible_reading_still_verifies(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway signed the reading good; ingest stored it marked implausible. The
    evidence still checks against the signed bytes (the mark is ingest's, not a change)."""
    gw, key = unique("gw-assembly"), Ed25519PrivateKey.generate()
    base = load_plant(h.PLANT_FILE)
    meters = [m.id for m in base.meters if m.site == "assembly"]
    plant = s.bound(base, [s.gateway(gw, "assembly", meters, s.registered(key))])
    rs = [
        Reading(m="assembly-grid", t=T + sec * 1000, v=v, u="kWh")
        for sec, v in ((0, 2000.1), (60, -5.0), (120, 2000.2))
    ]
    msg = ReadingsMessage(v=1, gateway=gw, stream="s", seq=1, readings=rs)
    topic = f"carbonstream/v2/assembly/{gw}/readings"
    run = h.Running(
        h.settings(
            db_url,
            gw,
            mqtt={"topics": [topic]},
            signatures={"required": True},
            gateway_binding="required",
        ),
        db_url,
        plant,
    )
    try:
        h.publish([(topic, s.sign(key, s.body(msg)))])
        h.wait_until(lambda: run.service.totals.messages >= 1, 30, "the batch")
    finally:
        run.stop()
    assert (run.service.totals.stored, run.service.totals.implausible) == (3, 1)
    ev = ["--from", "2026-11-22", "--to", "2026-11-24"]
    assert main(["seal", "--db-url", db_url, "--until", "2026-11-25"]) == 0
    assert main(["export-evidence", "--db-url", db_url, *ev, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["verify", "--require-signed", str(tmp_path / "a")]) == 0
    assert "verified: every check passed" in capsys.readouterr().out
