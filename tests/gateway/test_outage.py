"""Broker outage and SIGKILL: every reading arrives once, in order, with gap-free seq."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from carbonstream.gateway.buffer import Queue
from carbonstream.gateway.service import GatewayService
from carbonstream.sim.modbus_server import RegisterServer
from carbonstream.transport.payload import ReadingsMessage, encode_readings

from .conftest import Collector, Mosquitto, free_port, gateway_config, make_gateway
from .counters import counting_device, counting_spec


def check_stream(messages: list[ReadingsMessage], meters: list[str]) -> dict[str, list[float]]:
    """Seq gap-free from 1 (duplicates must be identical); per meter values 1, 2, 3, ..."""
    by_seq: dict[int, ReadingsMessage] = {}
    for m in messages:
        if m.seq in by_seq:  # QoS 1 may deliver twice; the receiver keeps one by (stream, seq)
            assert encode_readings(by_seq[m.seq]) == encode_readings(m)
        by_seq[m.seq] = m
    assert len({m.stream for m in messages}) == 1
    assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), "a gap in seq"
    values: dict[str, list[float]] = defaultdict(list)
    for seq in sorted(by_seq):
        for r in by_seq[seq].readings:
            assert r.v is not None, r
            values[r.m].append(r.v)
    for meter in meters:
        got = values[meter]
        assert got == [float(i) for i in range(1, len(got) + 1)], f"{meter}: lost or reordered"
    return values


@pytest.mark.slow
async def test_broker_outage_of_30_seconds(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    server = RegisterServer([counting_spec(u) for u in (1, 2, 3)], port=port)
    await server.start()
    devices = [counting_device(f"d{u}", port, u) for u in (1, 2, 3)]
    gw = make_gateway(tmp_path, devices, prefix="", broker_port=mosquitto.port)
    service = GatewayService(gw)
    async with Collector("127.0.0.1", mosquitto.port, "", persistent=True) as collector:
        task = asyncio.create_task(service.run())
        await collector.wait_for(lambda: len(collector.messages) >= 5, 30)
        mosquitto.stop()
        down_at = time.time()
        await asyncio.sleep(30)
        assert service.metrics.connected._value.get() == 0
        mosquitto.start()
        up_at = time.time()
        # Back until a reading taken after the broker returned has arrived: the backlog,
        # sent in order before it, is through (a fixed 3 s was not on a busy machine).
        await collector.wait_for(lambda: any(r.t > up_at * 1000 for r in collector.readings()), 60)
        service.stop()
        await asyncio.wait_for(task, 20)
        q = Queue(gw.buffer_path, gw.file.id)
        last_seq = q.pending(0, 1)
        next_seq = int(q._meta("next_seq"))
        q.close()
        assert last_seq == [], "everything was acknowledged before the gateway stopped"
        await collector.wait_for(
            lambda: {m.seq for m in collector.messages} >= set(range(1, next_seq)), 20
        )
    await server.stop()
    values = check_stream(collector.messages, ["d1-m", "d2-m", "d3-m"])
    during = [
        r for m in collector.messages for r in m.readings if down_at * 1000 < r.t < up_at * 1000
    ]
    assert len(during) > 3 * 30 * 3, "polling went on while the broker was away"
    assert min(len(v) for v in values.values()) > 150


@pytest.mark.slow
async def test_sigkill_then_restart_delivers_the_buffer(tmp_path: Path) -> None:
    port = free_port()
    server = RegisterServer([counting_spec(u) for u in (1, 2)], port=port)
    await server.start()
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")  # not started: the gateway can only buffer
    data = gateway_config(
        tmp_path,
        [counting_device(f"d{u}", port, u) for u in (1, 2)],
        prefix="",
        broker_port=broker.port,
    )
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump(data))
    cmd = [sys.executable, "-m", "carbonstream", "gateway", "--config", str(config)]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Wait on the buffer, not the clock: under CPU load the gateway takes seconds
        # to import and start, and a fixed sleep left too few readings to test with.
        await _wait_buffered(tmp_path / "gw1.queue.sqlite", 40, timeout_s=60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        q = Queue(tmp_path / "gw1.queue.sqlite", "gw1")
        buffered = {(r.m, r.v) for _, _, p in q.pending(0, 10_000) for r in _decode(p).readings}
        buffered |= {(m, v) for m, v in q._db.execute("SELECT m, v FROM readings")}
        stream = q.stream
        q.close()
        assert len(buffered) > 20
        broker.start()
        async with Collector("127.0.0.1", broker.port, "") as collector:
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await collector.wait_for(
                lambda: {(r.m, r.v) for r in collector.readings()} >= buffered, 20
            )
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        assert {m.stream for m in collector.messages} == {stream}
        # The device counters went on while the gateway was dead: values restart mid-way,
        # so check seq continuity and that the buffered readings came first and complete.
        seqs = sorted({m.seq for m in collector.messages})
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        broker.stop()
        await server.stop()


async def _wait_buffered(path: Path, n: int, timeout_s: float) -> None:
    """Until the gateway's disk queue holds at least n readings (as queued rows or in
    messages), read through a separate read-only SQLite connection."""
    end = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < end:
        if path.exists():
            try:
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                    rows = db.execute("SELECT count(*) FROM readings").fetchone()[0]
                    msgs = db.execute("SELECT coalesce(sum(n), 0) FROM messages").fetchone()[0]
                    count = int(rows) + int(msgs)
            except sqlite3.OperationalError:
                count = 0  # schema not created yet
            if count >= n:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the gateway buffered {count} readings in {timeout_s} s, wanted {n}")


def _decode(payload: bytes) -> ReadingsMessage:
    from carbonstream.transport.payload import decode_readings

    return decode_readings(payload)
