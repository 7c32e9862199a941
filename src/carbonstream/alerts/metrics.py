"""The alert service's own Prometheus metrics, served on the API's /metrics.

They let Prometheus watch the watcher: a stalled evaluation loop or webhooks
that keep failing are alerts of their own (deploy/prometheus/rules).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

SEVERITIES = ("info", "warning", "critical")


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry
        self.rounds = Counter(
            "carbonstream_alert_rounds",
            "Alert evaluation rounds by outcome: ok, failed, or skipped (another process "
            "held the round)",
            ["outcome"],
            registry=registry,
        )
        self.last_round = Gauge(
            "carbonstream_alert_last_round_timestamp_seconds",
            "When this process last finished a round, ok or skipped (unix seconds)",
            registry=registry,
        )
        self.active = Gauge(
            "carbonstream_alerts_active",
            "Rules firing (or clearing) after this process's last round, by severity",
            ["severity"],
            registry=registry,
        )
        self.transitions = Counter(
            "carbonstream_alert_transitions",
            "Alerts fired and resolved by this process",
            ["status"],
            registry=registry,
        )
        self.notifications = Counter(
            "carbonstream_alert_notifications",
            "Webhook notifications finished, by webhook and outcome (delivered, failed)",
            ["webhook", "outcome"],
            registry=registry,
        )

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent); needs a registry."""
        assert self.registry is not None, "AlertMetrics(registry=...) to read values"
        return self.registry.get_sample_value(name, labels) or 0.0
