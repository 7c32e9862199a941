"""Every metric name carbonstream exposes, for checking rules and dashboards against."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from carbonstream.gateway.metrics import GatewayMetrics
from carbonstream.ingest.metrics import Metrics

# Served by the API's /metrics (agreed names; the API builds them).
API_METRICS = frozenset(
    {
        "carbonstream_emission_rate_tco2e_per_hour",  # {site, scope}
        "carbonstream_emissions_total_tco2e",  # {site, scope}
        "carbonstream_meter_silent_seconds",  # {meter, site}
    }
)
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
    """Series names ingest, the gateway and the API can expose."""
    gateway = GatewayMetrics()
    return _names(Metrics().registry) | _names(gateway.registry) | set(API_METRICS)
