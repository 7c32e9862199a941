"""Shared pieces of the ingest tests: the example plant, payloads, a running service, totals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from carbonstream.compute import mark_implausible
from carbonstream.compute import run as compute_run
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.ingest.service import Service
from carbonstream.ingest.settings import IngestSettings
from carbonstream.readings_file import load_readings
from carbonstream.transport.payload import Quality, Reading, ReadingsMessage, encode_readings
from tests.services import mqtt_host_port, unique

ROOT = Path(__file__).resolve().parents[2]
PLANT_FILE = ROOT / "config" / "plant.example.yaml"
READINGS_FILE = ROOT / "config" / "readings.example.csv"
COMPARED = (
    "scope1_t",
    "scope1_co2_t",
    "scope1_ch4_t",
    "scope1_n2o_t",
    "scope2_location_t",
    "scope2_heat_t",
    "grid_import_mwh",
    "heat_import_gj",
    "grid_export_mwh",
    "heat_export_gj",
    "export_deduction_t",
    "generation_mwh",
)
MARKET = ("scope2_market_t", "covered_mwh", "supplier_mwh", "residual_mwh")
QUALITIES = list(Quality)


@dataclass
class Example:
    plant: Plant
    batch: ReadingBatch  # in time order

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.plant.meters]


def example() -> Example:
    plant = load_plant(PLANT_FILE)
    engine = Engine(plant, FactorLibrary.load(plant.factor_files))
    batch = load_readings(READINGS_FILE, engine.params.ids).batch
    order = np.argsort(batch.ts, kind="stable")
    return Example(plant, batch.take(order))


def example_ids() -> set[str]:
    return {m.id for m in load_plant(PLANT_FILE).meters}


def payloads(
    ex: Example, gateway: str, per_msg: int = 100, stream: str = "s1", site: str = "plant"
) -> list[tuple[str, bytes]]:
    """The example readings as v1 messages of ``per_msg`` readings, seq 1, 2, ..."""
    units = [m.unit for m in ex.plant.meters]
    ids = ex.ids
    b = ex.batch
    topic = f"carbonstream/v1/{site}/{gateway}/readings"
    out = []
    for seq, lo in enumerate(range(0, len(b), per_msg), start=1):
        rs = []
        for i in range(lo, min(lo + per_msg, len(b))):
            m, q = int(b.meter[i]), int(b.quality[i])
            rs.append(
                Reading(
                    m=ids[m],
                    t=int(b.ts[i]) // 1_000_000,
                    v=float(b.value[i]) if q == 0 else None,
                    u=units[m],
                    q=QUALITIES[q],
                )
            )
        msg = ReadingsMessage(v=1, gateway=gateway, stream=stream, seq=seq, readings=rs)
        out.append((topic, encode_readings(msg)))
    return out


def settings(
    db_url: str,
    gateway: str,
    client_id: str | None = None,
    broker: tuple[str, int] | None = None,
    **extra: Any,
) -> IngestSettings:
    host, port = broker or mqtt_host_port()
    data: dict[str, Any] = {
        "plant": str(PLANT_FILE),
        "mqtt": {
            "host": host,
            "port": port,
            "client_id": client_id or unique("ingest-"),
            "topics": [f"carbonstream/v1/+/{gateway}/readings"],
            "session_expiry_s": 60,
        },
        "database": {"url": db_url, "writers": 2},
        "batch": {"max_wait_ms": 50},
        # These tests publish unsigned v1 batches, accepted by configuration (stored
        # marked unsigned); signed input: tests/ingest/test_signatures.py.
        "signatures": {"required": False},
        "metrics_port": None,
        # Each test publishes the whole example plant as one gateway of its own (a unique
        # name keeps tests apart on the shared broker): no binding. tests/ingest/test_trust.py
        # runs with the plant's bindings.
        "gateway_binding": "off",
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = data[k] | v
        else:
            data[k] = v
    return IngestSettings.model_validate(data)


class Running:
    """An ingest service in a thread of the test process."""

    def __init__(self, s: IngestSettings, db_url: str, plant: Plant | None = None) -> None:
        self.service = Service(s, db_url=db_url, plant=plant)
        self.service.prepare()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.service.ready.wait(30)
        assert self.service.subscriber.wait_connected(30)
        assert self.service.subscriber.wait_subscribed(10)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as e:
            self.error = e

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error


def publish(
    messages: Iterable[tuple[str, bytes]],
    mqtt: tuple[str, int] | None = None,
    pause_every: int = 0,
    pause_s: float = 0.0,
) -> int:
    """Publish at QoS 1 and wait until the broker acknowledged every message."""
    host, port = mqtt or mqtt_host_port()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub-"), protocol=paho.MQTTv5)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    infos = []
    n = 0
    for topic, data in messages:
        infos.append(c.publish(topic, data, qos=1))
        n += 1
        if pause_every and n % pause_every == 0:
            time.sleep(pause_s)
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()
    return n


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds: every 10 ms at first, backing off to every 100 ms (a
    condition that holds soon is seen soon; a long wait polls, often with a database
    query, no more often than before)."""
    end = time.monotonic() + timeout
    pause = 0.01
    while time.monotonic() < end:
        if check():
            return
        time.sleep(pause)
        pause = min(0.1, pause * 1.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as c:
        row = c.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def db_totals(url: str) -> dict[str, dict[str, float]]:
    cols = COMPARED + MARKET
    sums = ", ".join(f"sum({c})" for c in cols)
    with psycopg.connect(url) as c:
        rows = c.execute(
            f"SELECT s.id, {sums} FROM site_minute m JOIN sites s ON s.key = m.site GROUP BY s.id"
        ).fetchall()
    return {str(r[0]): {c: float(v or 0.0) for c, v in zip(cols, r[1:], strict=True)} for r in rows}


def line_totals(url: str) -> dict[str, float]:
    """Per meter: quantity and CO2e summed over emission_lines."""
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT m.id, sum(e.quantity), sum(e.co2e_t) FROM emission_lines e"
            " JOIN meters m ON m.key = e.meter GROUP BY m.id"
        ).fetchall()
    return {str(r[0]): float(r[2]) for r in rows}


def compute_totals(ex: Example) -> dict[str, dict[str, float]]:
    engine = Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files))
    batch, _ = mark_implausible(engine, ex.batch)  # as carbonstream compute does
    acc = compute_run(engine, batch)
    site = np.concatenate(acc.site)
    out: dict[str, dict[str, float]] = {}
    for s_idx, s in enumerate(ex.plant.sites):
        sel = site == s_idx
        out[s.id] = {c: float(acc.column(c)[sel].sum()) for c in COMPARED + MARKET}
    return out


def assert_totals_equal(
    got: dict[str, dict[str, float]], want: dict[str, dict[str, float]], rel: float = 1e-9
) -> None:
    problems = []
    for site, cols in want.items():
        for c, v in cols.items():
            g = got.get(site, {}).get(c, 0.0)
            if abs(g - v) > rel * max(abs(v), 1e-12) and abs(g - v) > 1e-12:
                problems.append(f"{site}.{c}: ingest {g!r} != compute {v!r}")
    assert not problems, "\n".join(problems)
