"""Errors as RFC 9457 problem details (``application/problem+json``).

Routes raise :class:`Problem`; everything else (validation errors, unknown
paths, bugs) is turned into a problem document here, so a client sees one
error shape everywhere and a 500 never leaks a traceback.

Title and detail are in the client's language (Accept-Language, else the plant's
``locale``): the title from the catalogue by the problem's type, the detail when it
is a :class:`~carbonstream.i18n.Msg`. ``type`` never changes with the language.
"""

from __future__ import annotations

import csv
import logging
from http import HTTPStatus
from typing import Any, assert_never

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from carbonstream.domain.errors import NotFoundError, RefusalError
from carbonstream.errors import CarbonstreamError
from carbonstream.i18n import DEFAULT_LOCALE, Locale, Msg, catalogue, negotiate

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://carbonstream.dev/problems/"


class Problem(CarbonstreamError):  # noqa: N818 - RFC 9457 names it a "problem"
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | Msg = "",
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(str(detail) or title)
        self.status, self.title, self.detail = status, title, detail
        self.type = type_ if type_ == "about:blank" else TYPE_BASE + type_
        self.headers = headers or {}
        self.extra = extra


def implausible(detail: Msg, bound: float) -> Problem:
    """A quantity beyond the plant's plausible bound (carbonstream.domain.bounds)."""
    return Problem(422, "Implausible quantity", detail, "implausible-quantity", bound=bound)


# Data exceptions (SQLSTATE class 22) that only a value from the request can cause: text
# PostgreSQL cannot store (NUL), a number or date out of its type's range. The routes' types
# refuse these first; this is the net under them. Others of the class (division by zero,
# ...) are our bugs and stay 500s.
_CLIENT_DATA_ERRORS = (
    psycopg.errors.UntranslatableCharacter,  # 22P05: NUL in text
    psycopg.errors.CharacterNotInRepertoire,  # 22021
    psycopg.errors.NumericValueOutOfRange,  # 22003
    psycopg.errors.DatetimeFieldOverflow,  # 22008
    psycopg.errors.StringDataRightTruncation,  # 22001
    psycopg.errors.InvalidTextRepresentation,  # 22P02
)


def client_data_error(exc: psycopg.DataError) -> bool:
    """Also a DataError without a SQLSTATE: psycopg raised it adapting a parameter (text
    with a NUL) before anything reached the server."""
    return isinstance(exc, _CLIENT_DATA_ERRORS) or exc.sqlstate is None


# The mark (in the request's state) of a response whose body is in the reader's language;
# guards.SecurityHeaders then says Vary: Accept-Language on it.
LANGUAGE_MARK = "language_varies"


def vary_language(headers: MutableHeaders) -> None:
    """``Vary: Accept-Language`` on a response, once, beside any other Vary it has: a
    cache must not serve one reader's language to another."""
    have = {v.strip().lower() for v in headers.get("vary", "").split(",")}
    if "accept-language" not in have:
        headers.add_vary_header("Accept-Language")


def request_locale(request: Request) -> Locale:
    """The reader's locale: Accept-Language, else the plant's configured locale. Asking
    marks the response as varying by Accept-Language (:data:`LANGUAGE_MARK`)."""
    setattr(request.state, LANGUAGE_MARK, True)
    plant = getattr(request.app.state, "plant", None)
    default = plant.locale if plant is not None else DEFAULT_LOCALE
    return negotiate(request.headers.get("accept-language"), default)


def title_key(p: Problem) -> str:
    if p.type == "about:blank":
        code = f"http-{p.status}"
        key = f"problems.{code}.title"
        return key if key in catalogue().entries else "problems.http-error.title"
    return f"problems.{p.type.removeprefix(TYPE_BASE)}.title"


def _localized(value: Any, locale: Locale) -> Any:
    """An extra member in the reader's language: a Msg, or a list of them, rendered."""
    if isinstance(value, Msg):
        return value.render(locale)
    if isinstance(value, list):
        return [_localized(v, locale) for v in value]
    return value


def document(p: Problem, instance: str | None, locale: Locale = DEFAULT_LOCALE) -> dict[str, Any]:
    """The problem's JSON members, title and detail in ``locale``."""
    key = title_key(p)
    title = catalogue().text(key, locale) if key in catalogue().entries else p.title
    detail = p.detail.render(locale) if isinstance(p.detail, Msg) else p.detail
    body: dict[str, Any] = {"type": p.type, "title": title, "status": p.status}
    if detail:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update({k: _localized(v, locale) for k, v in p.extra.items()})
    return body


def response(p: Problem, instance: str, locale: Locale = DEFAULT_LOCALE) -> JSONResponse:
    body = document(p, instance, locale)
    # The security headers here too: a 500 is sent from outside every middleware.
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        **p.headers,
        "Content-Language": str(locale),
    }
    r = JSONResponse(body, status_code=p.status, media_type=MEDIA_TYPE, headers=headers)
    vary_language(r.headers)  # here too: a 500 and a guard's refusal pass no middleware
    return r


def refused(exc: RefusalError) -> Problem:
    """The problem a domain refusal is answered with."""
    if isinstance(exc, NotFoundError):
        return not_found(exc.what, exc.name)
    match exc.kind:
        case "not-found":
            return Problem(404, "Not found", exc.detail, "not-found")
        case "invalid-request":
            return Problem(422, "Invalid request", exc.detail, "invalid-request")
        case "invalid-period":
            return Problem(422, "Invalid period", exc.detail, "invalid-period")
        case "already-claimed":
            return conflict(exc.detail)
        case "ledger-rule":
            return Problem(422, "Refused by the ledger", exc.detail, "ledger-rule")
        case _:
            assert_never(exc.kind)


def _http_detail(exc: StarletteHTTPException) -> str | Msg:
    """Starlette's own detail (the status phrase, for an unknown path or method) in the
    reader's language; any other detail as given."""
    key = f"problems.detail.http-{exc.status_code}"
    if exc.detail == HTTPStatus(exc.status_code).phrase and key in catalogue().entries:
        return Msg(key)
    return str(exc.detail)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return response(exc, request.url.path, request_locale(request))

    @app.exception_handler(RefusalError)
    async def _refused(request: Request, exc: RefusalError) -> JSONResponse:
        return response(refused(exc), request.url.path, request_locale(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return response(
            Problem(exc.status_code, title, _http_detail(exc), headers=dict(exc.headers or {})),
            request.url.path,
            request_locale(request),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(x) for x in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        # pydantic's reasons stay as it words them (English); the sentence around them
        # and the title are localised, and `errors` keeps the field paths for programs.
        fields = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        detail = Msg("problems.detail.invalid-fields", {"fields": fields})
        return response(
            Problem(422, "Invalid request", detail, "invalid-request", errors=errors),
            request.url.path,
            request_locale(request),
        )

    @app.exception_handler(psycopg.DataError)
    async def _data(request: Request, exc: psycopg.DataError) -> JSONResponse:
        if not client_data_error(exc):
            return await _bug(request, exc)
        log.warning(
            "refused a value the database cannot hold on %s %r: %s",
            request.method,
            request.url.path,
            exc.sqlstate,
        )
        return response(
            Problem(
                422,
                "Invalid value",
                Msg("problems.detail.invalid-value"),
                "invalid-value",
                sqlstate=exc.sqlstate,
            ),
            request.url.path,
            request_locale(request),
        )

    @app.exception_handler(csv.Error)
    async def _csv(request: Request, exc: csv.Error) -> JSONResponse:
        # Only a body we parse raises it here (a NUL, a lone CR, a field past the module's
        # limit): the client's CSV, not our bug. We write CSV with csv.writer, which does
        # not raise on our own rows.
        return response(
            Problem(
                422,
                "Invalid request",
                Msg("problems.detail.csv-unreadable", {"reason": str(exc)}),
                "invalid-request",
            ),
            request.url.path,
            request_locale(request),
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %r", request.method, request.url.path)
        return response(
            Problem(500, "Internal error", Msg("problems.detail.internal"), "internal"),
            request.url.path,
            request_locale(request),
        )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {MEDIA_TYPE: {"schema": {"type": "object"}}}}
    for code, text in (
        (401, "No valid API key"),
        (403, "The key's role may not do this"),
        (404, "No such resource (site, meter, contract, ...)"),
        (413, "The body is larger than the route takes"),
        (422, "Invalid request"),
        (503, "The database is unavailable"),
    )
}


def not_found(what: str, name: str) -> Problem:
    noun = f"problems.noun.{what}"
    thing: str | Msg = Msg(noun) if noun in catalogue().entries else what
    return Problem(
        404, "Not found", Msg("problems.detail.no-such", {"what": thing, "name": name}), "not-found"
    )


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Claimed or held already", "content": {"application/problem+json": {}}}
}


def conflict(detail: str | Msg) -> Problem:
    return Problem(409, "Already claimed", detail, "already-claimed")
