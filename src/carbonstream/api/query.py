"""Unknown query parameters are refused (422), on every route, by one dependency.

A client that sends ``?limit=10`` to a route without ``limit`` must learn that the
limit was not applied: an ignored parameter looks like an answer to the question it
did not ask. :func:`known_query` is an app-level dependency, so every operation of the
OpenAPI document gets it (the live page's HTML, outside the document, takes a person's
bookmark as it is); it compares the request's query parameter names with the ones the operation
declares (its own and those of its dependencies, by alias: what the OpenAPI document
lists), and the problem names the unknown ones and the allowed ones.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from carbonstream.api.problems import Problem
from carbonstream.i18n import Msg

_DECLARED: dict[int, frozenset[str]] = {}


def _names(dependant: Dependant) -> set[str]:
    found = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        found |= _names(sub)
    return found


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameter names (aliases) an operation declares, dependencies included."""
    hit = _DECLARED.get(id(route))
    if hit is None:
        hit = _DECLARED[id(route)] = frozenset(_names(route.dependant))
    return hit


async def known_query(request: Request) -> None:
    """Refuse a request whose query string names a parameter the route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the live page's own HTML and messages: not API operations
    allowed = declared_query(route)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if not unknown:
        return
    names = ", ".join(unknown)
    detail = (
        Msg(
            "problems.detail.unknown-query-parameter",
            {"names": names, "allowed": ", ".join(sorted(allowed))},
        )
        if allowed
        else Msg("problems.detail.no-query-parameters", {"names": names})
    )
    raise Problem(
        422,
        "Unknown parameter",
        detail,
        "unknown-parameter",
        unknown=unknown,
        allowed=sorted(allowed),
    )
