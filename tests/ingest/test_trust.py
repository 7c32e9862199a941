"""Attacks at the edge, replayed on a real Mosquitto (private, on a free port) and PostgreSQL:
every reading from a sender that may not report it is refused with its reason, and the
real readings of the same (meter, time) are stored and counted as if the attack had not
happened (ingest's totals equal ``carbonstream compute`` on the real readings alone).

The ingest runs with the plant's bindings (``gateway_binding: required``): the example
plant with foundry-steam taken from gw-foundry and mapped from a Sparkplug B edge node
instead, so the Sparkplug rule is tested beside the v1 one.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError
from carbonstream.ingest.service import Service
from carbonstream.store.common import ns_to_datetime
from carbonstream.transport.payload import Reading, ReadingsMessage, encode_readings
from tests.ingest import helpers as h
from tests.ingest.sparkplug_encode import DOUBLE, M, payload
from tests.services import Mosquitto

# slow: ingests the example plant and its attacks through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

NODE = "plant1/neuron-hall2"  # the Sparkplug edge node that reports foundry-steam
STEAM_METRIC = "SteamTotal"
ASSEMBLY = {"assembly-grid", "assembly-pv", "assembly-export", "assembly-diesel", "warehouse-power"}
FOUNDRY_V1 = {"foundry-grid", "foundry-gas", "foundry-output"}


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    with tempfile.TemporaryDirectory(prefix="carbonstream-trust-") as d:
        b = Mosquitto(Path(d))
        try:
            yield b
        finally:
            b.stop()


def _plant() -> Plant:
    """The example plant, foundry-steam bound to no v1 gateway (Sparkplug maps it)."""
    plant = load_plant(h.PLANT_FILE)
    gateways = [
        g.model_copy(update={"meters": [m for m in g.meters if m != "foundry-steam"]})
        for g in plant.gateways
    ]
    return plant.model_copy(update={"gateways": gateways})


def _reading(ex: h.Example, i: int, value: float | None = None) -> Reading:
    b = ex.batch
    m, q = int(b.meter[i]), int(b.quality[i])
    v = float(b.value[i]) if q == 0 else None
    return Reading(
        m=ex.ids[m],
        t=int(b.ts[i]) // 1_000_000,
        v=v if value is None else value,
        u=ex.plant.meters[m].unit,
        q=h.QUALITIES[q] if value is None else h.QUALITIES[0],
    )


def _v1(site: str, gateway: str, rs: list[Reading], seq: int, stream: str) -> tuple[str, bytes]:
    msg = ReadingsMessage(v=1, gateway=gateway, stream=stream, seq=seq, readings=rs)
    return f"carbonstream/v1/{site}/{gateway}/readings", encode_readings(msg)


def _real_messages(ex: h.Example) -> list[tuple[str, bytes]]:
    """The example readings as their own gateways send them: v1 per site, steam by Sparkplug."""
    out: list[tuple[str, bytes]] = []
    b = ex.batch
    ids = np.array(ex.ids)[b.meter]
    for site, gw, meters in (
        ("assembly", "gw-assembly", ASSEMBLY),
        ("foundry", "gw-foundry", FOUNDRY_V1),
    ):
        idx = np.flatnonzero(np.isin(ids, sorted(meters)))
        for seq, lo in enumerate(range(0, len(idx), 100), start=1):
            rs = [_reading(ex, int(i)) for i in idx[lo : lo + 100]]
            out.append(_v1(site, gw, rs, seq, "real"))
    steam = np.flatnonzero(ids == "foundry-steam")
    for lo in range(0, len(steam), 50):
        metrics = []
        for i in steam[lo : lo + 50].tolist():
            t = int(b.ts[i]) // 1_000_000
            if b.quality[i] == 0:
                metrics.append(
                    M(STEAM_METRIC, timestamp=t, datatype=DOUBLE, value=float(b.value[i]))
                )
            else:
                metrics.append(M(STEAM_METRIC, timestamp=t, datatype=DOUBLE, is_null=True))
        group, node = NODE.split("/")
        out.append(
            (f"spBv1.0/{group}/NDATA/{node}", payload(metrics, timestamp=metrics[0].timestamp))
        )
    return out


def _first(ex: h.Example, meter: str, k: int = 0) -> int:
    """Index of the k-th good reading of a meter in the example."""
    i = ex.ids.index(meter)
    return int(np.flatnonzero((ex.batch.meter == i) & (ex.batch.quality == 0))[k])


def test_every_attack_is_refused_and_the_real_readings_count(
    db_url: str, broker: Mosquitto
) -> None:
    ex = h.example()
    s = h.settings(
        db_url,
        "+",
        broker=("127.0.0.1", broker.port),
        gateway_binding="required",
        sparkplug={
            "enabled": True,
            "group_ids": ["plant1"],
            "metrics": {f"{NODE}/{STEAM_METRIC}": "foundry-steam"},
        },
    )
    run = h.Running(s, db_url, plant=_plant())
    # Each attack writes, before the real reading, a value of its own at the real reading's
    # (meter, time): if it were stored, the real one would be a duplicate and lost.
    fg, fs, fo = (
        _first(ex, "foundry-grid"),
        _first(ex, "foundry-steam"),
        _first(ex, "foundry-output"),
    )
    ag, ag2 = _first(ex, "assembly-grid", 3), _first(ex, "assembly-grid", 4)
    forged = 9.99e9
    attacks = [
        # a login the plant does not know, on a site the plant does not have
        _v1("nosuchsite", "gw-rogue", [_reading(ex, fg, forged)], 1, "x"),
        # a real gateway on another site's topic
        _v1("foundry", "gw-assembly", [_reading(ex, fo, forged)], 1, "x"),
        # a real gateway on a site that does not exist
        _v1("nosuchsite", "gw-foundry", [_reading(ex, fg, forged)], 1, "x"),
        # a foreign meter inside the gateway's own message: refused alone, its own reading
        # (a real one, the same value as the real stream's) goes through
        _v1("assembly", "gw-assembly", [_reading(ex, ag), _reading(ex, fs, forged)], 1, "y"),
        # a Sparkplug edge node the map does not name
        (
            "spBv1.0/plant1/NDATA/rogue-node",
            payload([M(STEAM_METRIC, timestamp=_reading(ex, fs).t, value=forged)], timestamp=0),
        ),
        # a mapped edge node cannot reach meters mapped to another node or gateway: its
        # unmapped metric names are skipped, never mapped by name
        (
            "spBv1.0/plant1/NDATA/neuron-hall2",
            payload([M("assembly-grid", timestamp=_reading(ex, ag2).t, value=forged)], 0),
        ),
    ]
    try:
        h.publish(attacks, mqtt=("127.0.0.1", broker.port))
        h.wait_until(lambda: run.service.totals.messages >= len(attacks), 30, "the attacks")
        real = _real_messages(ex)
        h.publish(real, mqtt=("127.0.0.1", broker.port))
        h.wait_until(
            lambda: run.service.totals.messages >= len(attacks) + len(real), 60, "the real data"
        )
    finally:
        run.stop()

    unauthorised = {
        s.labels["reason"]: s.value
        for metric in run.service.metrics.unauthorised.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    }
    assert unauthorised == {
        "unknown_gateway": 1,
        "wrong_site": 2,
        "meter_not_bound": 1,
        "unmapped_node": 1,
    }
    assert run.service.totals.unauthorised == 5

    with psycopg.connect(db_url) as c:
        reasons = [str(r[0]) for r in c.execute("SELECT reason FROM dead_letters ORDER BY id")]
        forged_rows = c.execute(
            "SELECT count(*) FROM readings WHERE value = %s", (forged,)
        ).fetchone()
    assert forged_rows == (0,)
    assert len(reasons) == 5
    want = [
        "gateway 'gw-rogue' (topic site 'nosuchsite') is not in the plant's gateways: section; "
        "its 1 readings refused (meters 'foundry-grid')",
        "gateway 'gw-assembly' is bound to site 'assembly', not 'foundry' of its topic; its 1 "
        "readings refused (meters 'foundry-output')",
        "gateway 'gw-foundry' is bound to site 'foundry', not 'nosuchsite' of its topic; its 1 "
        "readings refused (meters 'foundry-grid')",
        "1 of 2 readings rejected: readings[1]: unauthorised: meter 'foundry-steam' (site "
        "'foundry') is not bound to gateway 'gw-assembly' (site 'assembly'); no gateway",
        "unauthorised: Sparkplug edge node plant1/rogue-node (gateway 'spb:plant1/rogue-node') "
        "is mapped to no meter in sparkplug.metrics; its 1 metrics refused (meters 'SteamTotal')",
    ]
    for w in want:
        assert any(w in r for r in reasons), (w, reasons)

    # Every real reading stored, once, with its own value; the account is compute's.
    assert h.count(db_url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))
    with psycopg.connect(db_url) as c:
        rows = c.execute(
            "SELECT m.id, r.value FROM readings r JOIN meters m ON m.key = r.meter"
            " WHERE (m.id, r.ts) IN (SELECT * FROM unnest(%s::text[], %s::timestamptz[]))",
            (
                [ex.ids[int(ex.batch.meter[i])] for i in (fg, fs, fo, ag2)],
                [ns_to_datetime(int(ex.batch.ts[i])) for i in (fg, fs, fo, ag2)],
            ),
        ).fetchall()
    got = {str(m): float(v) for m, v in rows}
    assert got == {
        ex.ids[int(ex.batch.meter[i])]: float(ex.batch.value[i]) for i in (fg, fs, fo, ag2)
    }
    assert not any(math.isclose(v, forged) for v in got.values())


def test_without_a_gateways_section_ingest_refuses_to_start() -> None:
    plant = load_plant(h.PLANT_FILE).model_copy(update={"gateways": []})
    s = h.settings("postgresql://unused", "+", gateway_binding="required")
    with pytest.raises(ConfigError, match="gateways: missing: ingest accepts a reading only"):
        Service(s, db_url="postgresql://unused", plant=plant)
    # A test bench says so explicitly (and the log warns).
    off = s.model_copy(update={"gateway_binding": "off"})
    Service(off, db_url="postgresql://unused", plant=plant)


def test_a_meter_has_one_source() -> None:
    s = h.settings(
        "postgresql://unused",
        "+",
        gateway_binding="required",
        sparkplug={
            "enabled": True,
            "metrics": {"plant1/ign/Energy": "assembly-grid", "plant1/other/E": "foundry-grid"},
        },
    )
    with pytest.raises(ConfigError) as e:
        Service(s, db_url="postgresql://unused")
    assert e.value.problems == [
        "sparkplug.metrics['plant1/ign/Energy']: meter 'assembly-grid' is bound to gateway "
        "'gw-assembly' in the plant; a meter has one source: remove it here or from that gateway",
        "sparkplug.metrics['plant1/other/E']: meter 'foundry-grid' is bound to gateway "
        "'gw-foundry' in the plant; a meter has one source: remove it here or from that gateway",
    ]
