"""Every metric name carbonstream exposes, for checking rules and dashboards against."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from carbonstream.api.metrics import ApiMetrics
from carbonstream.api.routes.metrics import PlantSnapshot
from carbonstream.domain.live import Rate
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
    rate = Rate(
        window_s=900,
        covered_s=900,
        scope1_tco2e_per_h=1.0,
        scope2_location_tco2e_per_h=1.0,
        scope2_market_tco2e_per_h=1.0,
        total_tco2e_per_h=2.0,
    )
    snapshot.register(PlantSnapshot({"s": rate}, {"s": (1.0, 1.0, 1.0)}, [("m", "s", 0.0)], 1.0))
    api = ApiMetrics(alerts=True).registry
    return _names(Metrics().registry) | _names(gateway.registry) | _names(api) | _names(snapshot)
