"""Prometheus metrics of one ingest service (its own registry, so several can run in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, float("inf"))


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "carbonstream_ingest_"
        self.queue = Gauge(p + "queue_messages", "Messages received, not yet committed", registry=r)
        self.inflight_bytes = Gauge(
            p + "inflight_bytes",
            "Payload bytes received, not yet committed (bounded by max_inflight_bytes)",
            registry=r,
        )
        self.messages = Counter(p + "messages_total", "Messages received", registry=r)
        self.readings = Counter(
            p + "readings_total", "Readings by outcome", ["outcome"], registry=r
        )
        self.dead_letters = Counter(
            p + "dead_letters_total", "Payloads (or parts) sent to dead_letters", registry=r
        )
        self.unauthorised = Counter(
            p + "unauthorised_total",
            "Readings refused because their sender may not report them, by reason",
            ["reason"],
            registry=r,
        )
        self.implausible = Counter(
            p + "implausible_readings_total",
            "Readings stored with an implausible quality (negative, above rating, jump)",
            registry=r,
        )
        self.signature_refusals = Counter(
            p + "signature_refusals_total",
            "Batches refused by the signature check (dead-lettered), by reason",
            ["reason"],
            registry=r,
        )
        self.unsigned_readings = Counter(
            p + "unsigned_readings_total",
            "Readings accepted without a signature (allowed by the signatures settings)",
            registry=r,
        )
        self.commits = Counter(p + "commits_total", "Committed transactions", registry=r)
        self.lag = Histogram(
            p + "lag_seconds",
            "Source time to commit, oldest reading of each batch",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.last_lag = Gauge(
            p + "last_lag_seconds",
            "Source time to commit, newest reading of the last batch",
            registry=r,
        )
        self.db_latency = Histogram(
            p + "db_transaction_seconds", "Duration of one writer transaction", registry=r
        )
        self.db_errors = Counter(
            p + "db_errors_total", "Transactions retried after a database error", registry=r
        )
        self.waiting_for_db = Gauge(
            p + "waiting_for_database", "1 while writes fail and ingest holds back", registry=r
        )
        self.lines_compacted = Counter(
            p + "lines_compacted_total",
            "Partial emission-line rows merged away by compaction",
            registry=r,
        )
        self.stream_gaps = Counter(p + "stream_gaps_total", "Sequence gaps seen", registry=r)
        self.stream_replays = Counter(
            p + "stream_replays_total", "Messages replayed by a gateway", registry=r
        )

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
