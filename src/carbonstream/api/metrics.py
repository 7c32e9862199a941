"""The API's own Prometheus metrics (one registry per app, so tests can run several apps).

Process metrics (request counts and latency, database query latency) are
kept here; the plant's live figures (emission rates, totals, meter
staleness) are read from the database on each scrape by routes/metrics.py.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from carbonstream.alerts.metrics import AlertMetrics

_DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self, alerts: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.db_seconds = Histogram(
            "carbonstream_api_db_query_seconds",
            "Database time of one API query, by query",
            ["query"],
            buckets=_DB_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "carbonstream_api_requests",
            "API requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "carbonstream_api_request_seconds",
            "API request duration by route template",
            ["route"],
            buckets=_DB_BUCKETS,
            registry=self.registry,
        )
        # Only where the alert service runs: an idle "last round" would read as stalled.
        self.alerts = AlertMetrics(self.registry) if alerts else None
