"""The monthly inventory report as PDF (charts) or XLSX (native charts)."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from carbonstream import monthly
from carbonstream.api.admission import TOO_MANY, Gate
from carbonstream.api.auth import Viewer
from carbonstream.api.catalog import Catalog
from carbonstream.api.db import unavailable
from carbonstream.api.deps import XLSX_MEDIA, CatalogDep, MetricsDep, PlantDep, timed
from carbonstream.api.metrics import ApiMetrics
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem, not_found, request_locale
from carbonstream.api.selection import MONTH_MAX_CHARS
from carbonstream.config.plant import Plant
from carbonstream.evidence.export import code_version
from carbonstream.store.db import AsyncConn

router = APIRouter(prefix="/v1", tags=["reports"], responses=PROBLEM_RESPONSES)

PDF_MEDIA = "application/pdf"
_version = functools.cache(code_version)


@router.get(
    "/reports/monthly",
    summary="Monthly inventory report: PDF with charts, or XLSX with native charts",
    response_class=Response,
    responses={
        200: {
            "description": "The report (a file to download)",
            "content": {
                PDF_MEDIA: {"schema": {"type": "string", "format": "binary"}},
                XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **TOO_MANY,
    },
)
async def monthly_report(
    request: Request,
    who: Viewer,
    plant: PlantDep,
    catalog: CatalogDep,
    metrics: MetricsDep,
    # No pattern here: monthly.month_bounds refuses a malformed or out-of-range month in
    # the reader's language (a pattern's refusal is pydantic's English).
    month: Annotated[
        str, Query(max_length=MONTH_MAX_CHARS, description="YYYY-MM (2000-2100), plant time.")
    ],
    site: Annotated[list[str] | None, Query(description="Site ids (default: all).")] = None,
    scope2_basis: Annotated[
        Literal["market", "location"], Query(description="Scope 2 basis of the net figure.")
    ] = "market",
    format: Annotated[Literal["pdf", "xlsx"], Query(description="File format.")] = "pdf",
) -> Response:
    gate: Gate = request.app.state.renders
    with gate.slot(who.key_id):  # gathering and rendering: seconds of a core
        return await _render(request, plant, catalog, metrics, month, site, scope2_basis, format)


async def _render(
    request: Request,
    plant: Plant,
    catalog: Catalog,
    metrics: ApiMetrics,
    month: str,
    site: list[str] | None,
    scope2_basis: Literal["market", "location"],
    format: Literal["pdf", "xlsx"],
) -> Response:
    # A pooled connection only while the figures are read: rendering takes a second or two.
    pool: AsyncConnectionPool[AsyncConn] = request.app.state.pool
    try:
        async with pool.connection(timeout=10) as conn:
            keys = await catalog.site_keys(conn, site)
            if site is not None:
                missing = sorted(set(site) - set(keys))
                if missing:
                    raise not_found("site", ", ".join(missing))
            async with timed(metrics, "report"):
                report = await monthly.gather(
                    conn,
                    plant,
                    request.app.state.params,
                    month,
                    None if site is None else sorted(set(site)),
                    scope2_basis,
                    _version(),
                    library=request.app.state.library,
                )
    except monthly.ReportError as e:
        raise Problem(422, "Invalid request", e.detail, "invalid-request") from None
    except (psycopg.OperationalError, PoolTimeout) as e:
        raise unavailable(e) from None
    locale = request_locale(request)  # Accept-Language, else the plant's; says Vary
    if format == "pdf":
        body, media = await asyncio.to_thread(monthly.render_pdf, report, locale), PDF_MEDIA
    else:
        body, media = await asyncio.to_thread(monthly.render_xlsx, report, locale), XLSX_MEDIA
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="report-{month}.{format}"',
            "Content-Language": str(locale),
        },
    )
