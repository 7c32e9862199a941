"""Prometheus ``/metrics``: live emission rates, cumulative totals, meter staleness, API latency.

The plant's figures are read from the database at scrape time (cumulative
totals are cached for ``_TOTALS_TTL_S``: they sum every stored minute). Needs
a viewer key unless the settings say ``public_metrics: true``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from carbonstream.api.auth import require_unless_public
from carbonstream.api.db import AsyncConn, borrow
from carbonstream.api.deps import LiveDep, MetricsDep, live_snapshot, timed
from carbonstream.api.problems import PROBLEM_RESPONSES
from carbonstream.domain.live import Rate
from carbonstream.store.queries import status

router = APIRouter(tags=["metrics"], responses=PROBLEM_RESPONSES)

_TOTALS_TTL_S = 30.0
_SCOPES = ("scope1", "scope2_location", "scope2_market")
_RATE_WINDOW_S = 900  # the live rate a scraper gets: its trailing quarter hour


class PlantSnapshot(Collector):
    def __init__(
        self,
        rates: dict[str, Rate],
        totals: dict[str, tuple[float, float, float]],
        meters: list[tuple[str, str, float | None]],
        now: float,
    ) -> None:
        self.rates, self.totals, self.meters, self.now = rates, totals, meters, now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rate = GaugeMetricFamily(
            "carbonstream_emission_rate_tco2e_per_hour",
            "Emission rate over the covered part of the last 15 complete minutes, tCO2e per "
            "hour (the live page's figure)",
            labels=["site", "scope"],
        )
        covered = GaugeMetricFamily(
            "carbonstream_emission_rate_covered_seconds",
            "Seconds of the rate's 15-minute window that the site's data covers",
            labels=["site"],
        )
        total = GaugeMetricFamily(
            "carbonstream_emissions_total_tco2e",
            "Emissions stored so far, tCO2e (market-based may be restated down)",
            labels=["site", "scope"],
        )
        for site, r in sorted(self.rates.items()):
            covered.add_metric([site], r.covered_s)
            per_h = (
                r.scope1_tco2e_per_h,
                r.scope2_location_tco2e_per_h,
                r.scope2_market_tco2e_per_h,
            )
            for scope, v in zip(_SCOPES, per_h, strict=True):
                if v is not None:  # no data yet: no sample rather than a false zero
                    rate.add_metric([site, scope], v)
        for site in sorted(self.totals):
            for i, scope in enumerate(_SCOPES):
                total.add_metric([site, scope], self.totals[site][i])
        stale = GaugeMetricFamily(
            "carbonstream_meter_silent_seconds",
            "Seconds since the meter's newest reading (any quality)",
            labels=["meter", "site"],
        )
        last = GaugeMetricFamily(
            "carbonstream_meter_last_reading_timestamp_seconds",
            "Source time of the meter's newest reading",
            labels=["meter", "site"],
        )
        for meter, site, ts in self.meters:
            if ts is None:
                continue
            stale.add_metric([meter, site], max(0.0, self.now - ts))
            last.add_metric([meter, site], ts)
        yield from (rate, covered, total, stale, last)


async def _totals(
    request: Request, conn: AsyncConn, metrics: Any
) -> dict[str, tuple[float, float, float]]:
    cache = getattr(request.app.state, "metrics_totals", None)
    if cache is not None and time.monotonic() - cache[0] < _TOTALS_TTL_S:
        totals: dict[str, tuple[float, float, float]] = cache[1]
        return totals
    async with timed(metrics, "metrics_totals"):
        totals = await status.site_totals(conn)
    request.app.state.metrics_totals = (time.monotonic(), totals)
    return totals


@router.get(
    "/metrics",
    summary="Prometheus metrics (a viewer key unless public_metrics is set)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    dependencies=[Depends(require_unless_public)],
)
async def prometheus_metrics(request: Request, metrics: MetricsDep, live: LiveDep) -> Response:
    snapshot = await live_snapshot(live)  # before borrowing: the build needs a connection
    now = dt.datetime.now(dt.UTC)
    rates = {s.id: next(r for r in s.rates if r.window_s == _RATE_WINDOW_S) for s in snapshot.sites}
    async with borrow(request) as conn:
        async with timed(metrics, "metrics_live"):
            meters = await status.meter_newest(conn)
        totals = await _totals(request, conn, metrics)
    snap = CollectorRegistry(auto_describe=True)
    snap.register(PlantSnapshot(rates, totals, meters, now.timestamp()))
    body = generate_latest(metrics.registry) + generate_latest(snap)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
