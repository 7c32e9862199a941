"""Gateway metrics on a Prometheus endpoint (one registry per gateway process).

Metrics (prefix carbonstream_gateway_):

- poll_duration_seconds{device} (histogram): time to read all points of a polled device
- poll_lateness_seconds (histogram): poll start after its scheduled time
- requests_per_poll{device} (gauge): requests in the last poll, retries included
- read_errors_total{device,kind} (counter): failed readings by quality
- polls_skipped_total{device} (counter): schedule slots missed because a poll overran
- device_up{device} (gauge): 1 when the device answered its last poll
- readings_total{quality} (counter): readings produced
- buffer_readings (gauge): readings in the disk queue, not yet acknowledged
- buffer_messages (gauge): sealed messages waiting for a PUBACK
- buffer_oldest_age_seconds (gauge): age of the oldest buffered reading
- buffer_dropped_readings_total (counter): readings dropped by the full-queue policy
- published_messages_total, published_readings_total (counters): acknowledged by the
  broker; the publish rate is rate() of these
- broker_connected (gauge): 1 while connected to the broker
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from carbonstream.gateway.buffer import Stats
from carbonstream.gateway.poller import PollObserver
from carbonstream.gateway.source import PollResult
from carbonstream.transport.payload import Quality, Reading

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics(PollObserver):
    def __init__(self, *, keep_lateness: bool = False) -> None:
        r = self.registry = CollectorRegistry()
        self.poll_duration = Histogram(
            "carbonstream_gateway_poll_duration_seconds",
            "Time to read every point of a device",
            ["device"],
            registry=r,
            buckets=_LATENCY,
        )
        self.poll_lateness = Histogram(
            "carbonstream_gateway_poll_lateness_seconds",
            "How late a poll started after its scheduled time",
            registry=r,
            buckets=_LATENCY,
        )
        self.requests = Gauge(
            "carbonstream_gateway_requests_per_poll",
            "Requests in the last poll",
            ["device"],
            registry=r,
        )
        self.errors = Counter(
            "carbonstream_gateway_read_errors",
            "Failed readings by kind",
            ["device", "kind"],
            registry=r,
        )
        self.skipped_slots = Counter(
            "carbonstream_gateway_polls_skipped", "Poll slots missed", ["device"], registry=r
        )
        self.up = Gauge("carbonstream_gateway_device_up", "Device answered", ["device"], registry=r)
        self.readings = Counter(
            "carbonstream_gateway_readings", "Readings produced", ["quality"], registry=r
        )
        self.buffer_depth = Gauge(
            "carbonstream_gateway_buffer_readings", "Readings in the disk queue", registry=r
        )
        self.buffer_messages = Gauge(
            "carbonstream_gateway_buffer_messages",
            "Sealed messages not yet acknowledged",
            registry=r,
        )
        self.buffer_age = Gauge(
            "carbonstream_gateway_buffer_oldest_age_seconds",
            "Age of the oldest buffered reading",
            registry=r,
        )
        self.dropped = Counter(
            "carbonstream_gateway_buffer_dropped_readings",
            "Readings dropped by the full-queue policy",
            registry=r,
        )
        self.published_messages = Counter(
            "carbonstream_gateway_published_messages",
            "Messages acknowledged by the broker",
            registry=r,
        )
        self.published_readings = Counter(
            "carbonstream_gateway_published_readings",
            "Readings acknowledged by the broker",
            registry=r,
        )
        self.connected = Gauge(
            "carbonstream_gateway_broker_connected", "1 while connected to the broker", registry=r
        )
        self._dropped_seen: int | None = None
        # labels() costs a lock and a dict lookup: per device, look the children up once.
        self._per_device: dict[str, tuple[Any, Any]] = {}
        self._by_quality = {q: self.readings.labels(q.value) for q in Quality}
        self.lateness_samples: list[float] | None = [] if keep_lateness else None
        self._server: Any = None

    # PollObserver
    def poll_done(
        self, device: str, duration_s: float, lateness_s: float, result: PollResult
    ) -> None:
        children = self._per_device.get(device)
        if children is None:
            children = (self.poll_duration.labels(device), self.requests.labels(device))
            self._per_device[device] = children
        children[0].observe(duration_s)
        self.poll_lateness.observe(max(lateness_s, 0.0))
        if self.lateness_samples is not None:
            self.lateness_samples.append(lateness_s)
        children[1].set(result.requests)

    def skipped(self, device: str, slots: int) -> None:
        self.skipped_slots.labels(device).inc(slots)

    def device_up(self, device: str, up: bool) -> None:
        self.up.labels(device).set(1 if up else 0)

    def observe_readings(self, device: str, readings: list[Reading]) -> None:
        good = Quality.GOOD
        failed = [r.q for r in readings if r.q is not good]
        self._by_quality[good].inc(len(readings) - len(failed))
        for q in failed:
            self._by_quality[q].inc()
            self.errors.labels(device, q.value).inc()

    def observe_buffer(self, stats: Stats) -> None:
        self.buffer_depth.set(stats.depth)
        self.buffer_messages.set(stats.messages)
        age = 0.0 if stats.oldest_ms is None else max(0.0, time.time() - stats.oldest_ms / 1000)
        self.buffer_age.set(age)
        if self._dropped_seen is not None and stats.dropped_total > self._dropped_seen:
            self.dropped.inc(stats.dropped_total - self._dropped_seen)
        self._dropped_seen = stats.dropped_total

    def serve(self, host: str, port: int) -> int:
        server, _thread = start_http_server(port, host, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
