"""The FastAPI application: settings, the pool, problem handlers and the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from carbonstream import __version__
from carbonstream.alerts.rules import bind
from carbonstream.alerts.service import AlertService
from carbonstream.api import problems
from carbonstream.api.db import make_pool
from carbonstream.api.live import LiveHub
from carbonstream.api.routes import alerts, health, live, me, page
from carbonstream.api.settings import ApiSettings
from carbonstream.config.loader import load_plant


def create_app(settings: ApiSettings, db_url: str) -> FastAPI:
    plant = load_plant(settings.plant)
    if settings.alerts is not None:
        bind(settings.alerts, plant)  # a bad rule or a missing webhook secret fails at start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(db_url, settings.pool_size)
        await pool.open(wait=False)
        app.state.pool = pool
        app.state.alerts = None
        if settings.alerts is not None:
            app.state.alerts = AlertService(settings.alerts, plant, pool)
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
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.plant = plant
    app.state.live = LiveHub(plant, lambda: app.state.pool)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(alerts.router)
    app.include_router(live.router)
    page.install(app)
    return app
