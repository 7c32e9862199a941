"""The public disclosure: opt-in, keyless, read-only, aggregates only, signed (Ed25519).

``/public/{slug}/disclosure.json`` is the signed document (the signature in the
``X-Signature-Ed25519`` header, base64, and at ``disclosure.json.sig`` as raw bytes);
``disclosure.pub.pem`` the public key; ``/public/{slug}`` the page, in Chinese (default)
or English (``?lang=en``). A document is built at most once a minute per year and served
from memory in between, so the JSON and its signature always match and anonymous
readers cannot load the database.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from carbonstream.api.db import Connection
from carbonstream.api.deps import PlantDep
from carbonstream.api.disclosure_page import render_page
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.config.plant import Plant
from carbonstream.footprint import disclosure
from carbonstream.footprint.signing import Signer, canonical, load_signer
from carbonstream.i18n import Msg
from carbonstream.refusals import SigningKeyError

router = APIRouter(tags=["disclosure"], responses=PROBLEM_RESPONSES)
CACHE_S = 60.0
SIG_HEADER = "X-Signature-Ed25519"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Access-Control-Allow-Origin": "*",  # anyone may read and check it
}
YearQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="Calendar year (default: this year).")
]


def _enabled(plant: Plant, slug: str) -> None:
    d = plant.footprint.disclosure
    if not d.enabled or slug != d.slug:
        raise Problem(
            404,
            "Not found",
            Msg(
                "problems.detail.no-such",
                {"what": Msg("problems.noun.public-disclosure"), "name": slug},
            ),
            "not-found",
        )


def _signer(request: Request, plant: Plant) -> Signer:
    cached: Signer | None = getattr(request.app.state, "disclosure_signer", None)
    if cached is not None:
        return cached
    try:
        signer = load_signer(plant.footprint.disclosure.key_file_env)
    except SigningKeyError as e:
        raise Problem(
            503, "Disclosure signing key missing", e.detail, "signing-key-missing"
        ) from None
    request.app.state.disclosure_signer = signer
    return signer


async def _document(
    request: Request, conn: Connection, plant: Plant, year: int | None
) -> tuple[bytes, bytes, dict[str, Any]]:
    signer = _signer(request, plant)
    y = year or dt.datetime.now(plant.zone).year
    cache: dict[int, tuple[float, bytes, bytes, dict[str, Any]]] = (
        request.app.state.__dict__.setdefault("disclosure_cache", {})
    )
    lock: asyncio.Lock = request.app.state.__dict__.setdefault("disclosure_lock", asyncio.Lock())
    async with lock:
        hit = cache.get(y)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1], hit[2], hit[3]
        doc = await disclosure.disclosure(conn, plant, y, request.app.state.energy)
        body = canonical(doc)
        sig = signer.sign(body)
        cache[y] = (time.monotonic(), body, sig, doc)
        return body, sig, doc


_SIG_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "The signing key is not configured"}
}


@router.get(
    "/public/{slug}/disclosure.json",
    summary="Public disclosure of a plant's year (signed, keyless, aggregates only)",
    responses={
        **_SIG_RESPONSES,
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
    },
)
async def get_disclosure(
    slug: str, request: Request, conn: Connection, plant: PlantDep, year: YearQuery = None
) -> Response:
    _enabled(plant, slug)
    body, sig, _ = await _document(request, conn, plant, year)
    return Response(
        body,
        media_type="application/json",
        headers={
            **HEADERS,
            SIG_HEADER: base64.b64encode(sig).decode(),
            "Cache-Control": "max-age=60",
        },
    )


@router.get(
    "/public/{slug}/disclosure.json.sig",
    summary="The raw Ed25519 signature (64 bytes) of disclosure.json",
    responses={
        **_SIG_RESPONSES,
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
    },
)
async def get_signature(
    slug: str, request: Request, conn: Connection, plant: PlantDep, year: YearQuery = None
) -> Response:
    _enabled(plant, slug)
    _, sig, _ = await _document(request, conn, plant, year)
    return Response(sig, media_type="application/octet-stream", headers=HEADERS)


@router.get(
    "/public/{slug}/disclosure.pub.pem",
    summary="The public key that checks the disclosure's signature",
    responses={
        **_SIG_RESPONSES,
        200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}},
    },
)
async def get_public_key(slug: str, request: Request, plant: PlantDep) -> Response:
    _enabled(plant, slug)
    return Response(
        _signer(request, plant).public_pem(), media_type="application/x-pem-file", headers=HEADERS
    )


@router.get(
    "/public/{slug}",
    summary="The public disclosure page (zh, or en with ?lang=en)",
    response_class=HTMLResponse,
    responses=_SIG_RESPONSES,
)
async def get_page(
    slug: str,
    request: Request,
    conn: Connection,
    plant: PlantDep,
    year: YearQuery = None,
    lang: Annotated[Literal["zh", "en"], Query(description="Page language.")] = "zh",
) -> HTMLResponse:
    _enabled(plant, slug)
    _, _, doc = await _document(request, conn, plant, year)
    return HTMLResponse(render_page(doc, lang), headers=HEADERS)
