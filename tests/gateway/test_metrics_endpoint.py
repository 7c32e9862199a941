"""The Prometheus endpoint, scraped over HTTP while the gateway polls a live and a dead
device and publishes to the shared broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from carbonstream.gateway.service import GatewayService
from carbonstream.sim.modbus_server import RegisterServer

from .conftest import Collector, free_port, make_gateway
from .counters import counting_device, counting_spec

P = "carbonstream_gateway_"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.slow
async def test_metrics_over_http(tmp_path: Path, prefix: str) -> None:
    port = free_port()
    server = RegisterServer([counting_spec(1)], port=port)
    await server.start()
    devices = [
        counting_device("live", port, 1),
        counting_device("dead", free_port(), 1),  # nothing listens there: comm_error
    ]
    gw = make_gateway(tmp_path, devices, prefix=prefix, metrics={"host": "127.0.0.1", "port": 0})
    service = GatewayService(gw)
    async with Collector("127.0.0.1", 1883, prefix) as collector:
        task = asyncio.create_task(service.run())
        try:
            await collector.wait_for(lambda: len(collector.readings()) >= 5, 30)
            await asyncio.sleep(0.5)  # a sealer round: buffer gauges refreshed
            assert service.metrics_port
            async with httpx.AsyncClient() as http:
                response = await http.get(f"http://127.0.0.1:{service.metrics_port}/metrics")
        finally:
            service.stop()
            await asyncio.wait_for(task, 15)
    await server.stop()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)

    def get(name: str, **labels: str) -> float:
        return m[(P + name, frozenset(labels.items()))]

    assert get("poll_duration_seconds_count", device="live") >= 5
    assert get("poll_duration_seconds_count", device="dead") >= 1
    assert get("poll_lateness_seconds_count") >= 5
    assert get("requests_per_poll", device="live") == 1
    assert get("device_up", device="live") == 1
    assert get("device_up", device="dead") == 0
    assert get("read_errors_total", device="dead", kind="comm_error") >= 1
    assert (P + "read_errors_total", frozenset({("device", "live"), ("kind", "timeout")})) not in m
    assert get("readings_total", quality="good") >= 5
    assert get("readings_total", quality="comm_error") >= 1
    assert get("published_readings_total") >= 5
    assert get("published_messages_total") >= 1
    assert get("broker_connected") == 1
    assert get("buffer_readings") >= 0
    assert get("buffer_oldest_age_seconds") >= 0
    assert get("buffer_dropped_readings_total") == 0
