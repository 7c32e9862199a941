"""The FastAPI application: settings, the pool, problem handlers and the routers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carbonstream import __version__, logsafe
from carbonstream.alerts.rules import bind
from carbonstream.alerts.service import AlertService
from carbonstream.api import docs, footprint_common, problems, query
from carbonstream.api.admission import Gate
from carbonstream.api.catalog import Catalog
from carbonstream.api.db import make_pool
from carbonstream.api.deps import plant_times
from carbonstream.api.guards import RequestGuard, SecurityHeaders
from carbonstream.api.metrics import ApiMetrics
from carbonstream.api.routes import (
    alerts,
    contracts,
    declarations,
    disclosure,
    emissions,
    energy,
    factors,
    footprints,
    forecast,
    green,
    health,
    inventory,
    live,
    matching,
    me,
    metrics,
    offsets,
    opportunities,
    page,
    reports,
    sites,
)
from carbonstream.api.settings import ApiSettings
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.core.energy import for_plant as energy_params
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.core.upstream import load_library
from carbonstream.domain.bounds import Bounds
from carbonstream.domain.live import LiveHub
from carbonstream.forecast.service import Forecaster
from carbonstream.i18n import Msg
from carbonstream.store.db import connect
from carbonstream.store.plant import sync_plant

log = logging.getLogger(__name__)


def _sync_plant(db_url: str, plant: Plant) -> None:
    """Sites and meters exist before ingest ever ran (the ledgers refer to sites)."""
    try:
        with connect(db_url, connect_timeout=5) as conn:
            sync_plant(conn, plant)
    except Exception as e:  # the API still starts; /readyz says what is wrong
        log.warning("could not sync the plant into the database: %s", e)


def create_app(settings: ApiSettings, db_url: str) -> FastAPI:
    logsafe.install()  # input never reaches a log line with raw control characters
    plant = load_plant(settings.plant)
    library = FactorLibrary.load(plant.factor_files)
    load_library(plant.footprint.factor_files)  # a bad upstream factor file fails at start
    if settings.alerts is not None:
        bind(settings.alerts, plant)  # a bad rule or a missing webhook secret fails at start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_sync_plant, db_url, plant)
        pool = make_pool(db_url, settings.pool_size)
        await pool.open(wait=False)
        app.state.pool = pool
        app.state.alerts = None
        if settings.alerts is not None:
            app.state.alerts = AlertService(
                settings.alerts,
                plant,
                pool,
                forecaster=app.state.forecaster,
                metrics=app.state.metrics.alerts,
            )
            await app.state.alerts.start()
        try:
            yield
        finally:
            if app.state.alerts is not None:
                await app.state.alerts.stop()
            app.state.live.close()
            await pool.close()

    app = FastAPI(
        title="carbonstream",
        version=__version__,
        summary="Real-time Scope 1 / Scope 2 emissions of a factory, with lineage.",
        description=(
            "Every endpoint but /healthz and /readyz (and /metrics when configured public) "
            "needs an API key in the `X-API-Key` header (or `Authorization: Bearer`). "
            "Errors are RFC 9457 problem details (`application/problem+json`). "
            "Conventions (times, units, unknown parameters, series, CSV, XLSX): docs/api.md."
        ),
        lifespan=lifespan,
        # Every operation: unknown ?params are 422; times are rendered plant-local.
        dependencies=[Depends(query.known_query), Depends(plant_times)],
        docs_url=None,  # served by api.docs from local files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.plant = plant
    app.state.library = library
    app.state.params = build_params(plant, library)
    app.state.energy = energy_params(plant, app.state.params.canonical_unit)
    app.state.metrics = ApiMetrics(alerts=settings.alerts is not None)
    app.state.catalog = Catalog()
    app.state.bounds = Bounds.of(plant)
    app.state.live = LiveHub(
        plant, lambda: app.state.pool, settings.silent_after_s, energy=app.state.energy
    )
    app.state.forecaster = Forecaster(plant)
    limits = settings.limits
    app.state.streams = Gate(
        "live streams",
        Msg("problems.noun.live-streams"),
        limits.streams_per_key,
        limits.streams_total,
        limits.retry_after_s,
    )
    app.state.renders = Gate(
        "report renders",
        Msg("problems.noun.report-renders"),
        limits.renders_per_key,
        limits.renders_total,
        limits.retry_after_s,
    )
    problems.install(app)
    footprint_common.install(app)
    # Outermost last: headers on every answer, then counting, then the guard before routing.
    app.add_middleware(RequestGuard, limits=limits, routes=lambda: app.routes)
    app.add_middleware(_CountRequests, metrics=app.state.metrics)
    app.add_middleware(SecurityHeaders)
    for module in (
        health,
        me,
        sites,
        emissions,
        inventory,
        reports,
        factors,
        contracts,
        offsets,
        matching,
        green,
        metrics,
        alerts,
        live,
        forecast,
        footprints,
        declarations,
        disclosure,
        energy,
        opportunities,
    ):
        app.include_router(module.router)
    page.install(app)
    docs.install(app)
    return app


class _CountRequests:
    """Requests and their duration by route template (never the raw path: bounded labels).

    Plain ASGI, so streamed responses (server-sent events) pass through untouched.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - t0)
