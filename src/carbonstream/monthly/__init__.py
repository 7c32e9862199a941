"""The monthly inventory report: the stored account of a month as a PDF with charts and
an XLSX workbook with native charts (``carbonstream report``, ``GET /v1/reports/monthly``)."""

from __future__ import annotations

from typing import Literal

import psycopg

from carbonstream.config.plant import Plant
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.evidence.export import code_version
from carbonstream.i18n import DEFAULT_LOCALE, Locale
from carbonstream.monthly.gather import MonthlyReport, ReportError, gather, month_bounds
from carbonstream.store.errors import DatabaseUnavailableError
from carbonstream.store.plant import stored_plant_async

__all__ = [
    "MonthlyReport",
    "ReportError",
    "from_database",
    "gather",
    "month_bounds",
    "render_pdf",
    "render_xlsx",
]


async def from_database(
    url: str,
    month: str,
    sites: list[str] | None = None,
    basis: Literal["market", "location"] = "market",
    plant: Plant | None = None,
) -> MonthlyReport:
    """Gather a month's report on its own async connection; the plant is the one stored
    by ingest (the configuration the account was computed with) unless one is given."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.OperationalError as e:
        raise DatabaseUnavailableError(f"cannot connect to the database: {e}".strip()) from None
    async with conn:
        if plant is None:
            plant = await stored_plant_async(conn)
        library = FactorLibrary.load(plant.factor_files)
        params = build_params(plant, library)
        return await gather(
            conn, plant, params, month, sites, basis, code_version(), library=library
        )


# matplotlib (with fontTools) and openpyxl are imported by the first report drawn, not with
# this package: the API imports it for its routes, and loading them took about a third of
# `carbonstream serve`'s import time, for requests most servers never get.


def render_pdf(report: MonthlyReport, locale: Locale = DEFAULT_LOCALE) -> bytes:
    """The report as PDF bytes, in zh-CN or en (monthly.pdf)."""
    from carbonstream.monthly import pdf

    return pdf.render_pdf(report, locale)


def render_xlsx(report: MonthlyReport, locale: Locale = DEFAULT_LOCALE) -> bytes:
    """The report as an XLSX workbook with native charts (monthly.xlsx)."""
    from carbonstream.monthly import xlsx

    return xlsx.render_xlsx(report, locale)
