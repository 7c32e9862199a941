"""Every metric name carbonstream exposes, for checking rules and dashboards against."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from carbonstream.api.metrics import ApiMetrics
from carbonstream.api.routes.metrics import PlantSnapshot
from carbonstream.gateway.metrics import GatewayMetrics
from carbonstream.ingest.metrics import Metrics

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
    "gauge": ("",),
}


def _names(registry: CollectorRegistry) -> set[str]:
    out = set()
    for family in registry.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            out.add(family.name + suffix)
    return out


def exposed() -> set[str]:
    """Series names ingest, the gateway and the API can expose, read off the code that
    exposes them (the API's plant figures from a one-site, one-meter snapshot)."""
    gateway = GatewayMetrics()
    snapshot = CollectorRegistry()
    snapshot.register(
        PlantSnapshot({"s": (1.0, 1.0, 1.0)}, {"s": (1.0, 1.0, 1.0)}, [("m", "s", 0.0)], 1.0)
    )
    api = ApiMetrics(alerts=True).registry
    return _names(Metrics().registry) | _names(gateway.registry) | _names(api) | _names(snapshot)
