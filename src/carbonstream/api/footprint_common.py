"""Pieces the footprint, export and disclosure routes share: the period, bounded bodies,
and the problem a refused input becomes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from carbonstream.api.deps import PlantDep, SettingsDep, check_range, period_of
from carbonstream.api.problems import MEDIA_TYPE, Problem, request_locale, response
from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintError, FootprintInputError

_MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"


async def _period(
    plant: PlantDep,
    settings: SettingsDep,
    start: Annotated[
        dt.datetime | None, Query(description="Period start (plant-local without an offset).")
    ] = None,
    end: Annotated[dt.datetime | None, Query(description="Period end, exclusive.")] = None,
    month: Annotated[str | None, Query(pattern=_MONTH, description="YYYY-MM, plant time.")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year.")] = None,
) -> tuple[dt.datetime, dt.datetime]:
    s, e = period_of(start, end, month, year, plant.zone)
    check_range(s, e, settings, "period")
    return s, e


PeriodDep = Annotated[tuple[dt.datetime, dt.datetime], Depends(_period)]


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(size: int, limit: int) -> Problem:
    return Problem(
        413,
        "Body too large",
        Msg("problems.detail.body-at-least", {"size": size, "limit": limit}),
        "body-too-large",
        max_bytes=limit,
    )


MAX_PROBLEMS_LISTED = 100  # items of a refused input listed in the problem's `problems`


def refused(e: FootprintInputError) -> Problem:
    """Each item in the reader's language, as the detail is (api.problems renders them)."""
    return Problem(
        422, "Input refused", e.detail, "input-refused", problems=e.problems[:MAX_PROBLEMS_LISTED]
    )


def _problem(text: str) -> dict[str, object]:
    return {"description": text, "content": {MEDIA_TYPE: {"schema": {"type": "object"}}}}


CONFLICT_RESPONSE: dict[int | str, dict[str, object]] = {
    409: _problem("Already recorded (a lot id, a factor version)")
}
TOO_LARGE_RESPONSE: dict[int | str, dict[str, object]] = {413: _problem("Body too large")}


def install(app: FastAPI) -> None:
    """A footprint that cannot be computed as asked (too many lot-minutes for one request,
    an unknown factor a stored BOM names) is the client's 422, never a 500."""

    async def _footprint(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FootprintError)  # registered for FootprintError only
        return response(
            Problem(422, "Footprint not computable", exc.detail, "footprint-not-computable"),
            request.url.path,
            request_locale(request),
        )

    app.add_exception_handler(FootprintError, _footprint)
