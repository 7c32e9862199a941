"""What every request passes before routing, and the headers every response carries.

Plain ASGI, outside FastAPI: FastAPI reads a JSON body whole before it resolves a
route's dependencies (the key check among them), so a limit inside the app would
come too late. Six unauthenticated 200 MB POSTs took an API without this from
271 MB to 1,986 MB.

- A body is bounded in bytes before it is read: a ``Content-Length`` above the
  route's limit is answered 413 at once, and a chunked body is counted as it
  streams and cut off at the limit. The connection is closed after the 413, so
  the client cannot keep the server reading what it will not use. Every route has
  :attr:`ApiLimits.body_bytes`; a route marked with :data:`UPLOAD` has
  :attr:`ApiLimits.upload_bytes`.
- A path or query string with a control character (NUL, CR, ESC...) is refused
  422 before any route sees it: PostgreSQL text cannot hold NUL, and nothing a
  client names (site, meter, contract) has one.
- Every response says ``X-Content-Type-Options: nosniff``; every response but the
  live page's static files says ``Cache-Control: no-store`` (keyed data must not
  sit in a shared cache or a browser's history); every response in the reader's
  language (a problem, or a route that asked ``problems.request_locale``) says
  ``Vary: Accept-Language``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carbonstream.api import problems
from carbonstream.api.settings import ApiLimits
from carbonstream.errors import CarbonstreamError
from carbonstream.i18n import DEFAULT_LOCALE, Msg, negotiate

# A route that takes uploads says so in its OpenAPI operation (and so in the docs):
# openapi_extra=UPLOAD. Its body may be ApiLimits.upload_bytes long.
UPLOAD_MARK = "x-body-limit"
UPLOAD: dict[str, Any] = {UPLOAD_MARK: "upload"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_CACHEABLE_PREFIX = "/static/"  # the live page's script and style: no data, no key


class BodyTooLargeError(CarbonstreamError):
    """A request body went past its limit while it was read."""


def _flat(routes: Iterable[Any]) -> Iterable[Any]:
    """Every route, those of included routers too (newer FastAPI includes routers lazily:
    app.routes holds the routers; before, it held their routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return routes
    return iter_route_contexts(list(routes))


def upload_operations(routes: Iterable[Any]) -> list[tuple[str, re.Pattern[str]]]:
    """(METHOD, path regex) of every route marked with UPLOAD (its ``openapi_extra``, which
    the OpenAPI document shows). Read from the routes, not from ``app.openapi()``: building
    the document on an app's first request took most of that request's time."""
    found = []
    for route in _flat(routes):
        extra = getattr(route, "openapi_extra", None) or {}
        path = getattr(route, "path_format", None)
        if extra.get(UPLOAD_MARK) == "upload" and path:
            regex = compile_path(path)[0]
            found += [(method, regex) for method in sorted(route.methods or ())]
    return found


class RequestGuard:
    """Refuses control characters in the URL and bodies over their limit (see module doc)."""

    def __init__(
        self, app: ASGIApp, limits: ApiLimits, routes: Callable[[], Iterable[Any]]
    ) -> None:
        self.app = app
        self.limits = limits
        self._routes = routes
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    def limit(self, scope: Scope) -> int:
        if self._uploads is None:  # every route is registered by the first request
            self._uploads = upload_operations(self._routes())
        for method, path in self._uploads:
            if scope["method"] == method and path.match(scope["path"]):
                return self.limits.upload_bytes
        return self.limits.body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL.search(scope["path"]) or _CONTROL_BYTES.search(
            unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
        ):
            await _refuse(
                scope,
                send,
                problems.Problem(
                    422,
                    "Invalid request",
                    Msg("problems.detail.control-character"),
                    "control-character",
                ),
            )
            return
        limit = self.limit(scope)
        declared = _content_length(scope)
        if declared is None:
            await _refuse(
                scope,
                send,
                problems.Problem(
                    400, "Bad request", Msg("problems.detail.content-length-invalid"), "bad-request"
                ),
            )
            return
        if declared > limit:
            await _refuse(scope, send, _too_large(limit, declared), close=True)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the request on, counting the body as it streams (chunked bodies have no
        length to check first); past the limit the app's answer is replaced by a 413."""
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLargeError(f"request body over {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the app made of the cut-off body: the 413 below says why
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(scope, send, _too_large(limit, None), close=True)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; 0 without the header; None when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else None
    return 0


def _too_large(limit: int, declared: int | None) -> problems.Problem:
    detail = (
        Msg("problems.detail.body-over-limit-streamed", {"limit": limit})
        if declared is None
        else Msg("problems.detail.body-over-limit", {"limit": limit, "size": declared})
    )
    return problems.Problem(413, "Content too large", detail, "content-too-large", max_bytes=limit)


async def _refuse(scope: Scope, send: Send, p: problems.Problem, close: bool = False) -> None:
    if close:
        # uvicorn closes the connection after this response: the rest of the body is
        # never read, and the client learns at once.
        p.headers["Connection"] = "close"
    accept = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
    plant = getattr(getattr(scope.get("app"), "state", None), "plant", None)
    default = plant.locale if plant is not None else DEFAULT_LOCALE
    locale = negotiate(accept.decode("latin-1") or None, default)
    response = problems.response(p, scope["path"], locale)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


class SecurityHeaders:
    """nosniff on every response; no-store on every response but static files; Vary:
    Accept-Language on every response in the reader's language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(_CACHEABLE_PREFIX)
        # The request's state, shared with the routes' Request objects: where
        # request_locale leaves its mark.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
                if state.get(problems.LANGUAGE_MARK):
                    problems.vary_language(headers)
            await send(message)

        await self.app(scope, receive, with_headers)
