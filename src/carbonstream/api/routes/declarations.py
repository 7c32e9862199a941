"""Exports of a product's footprint: the ISO 14067 / GB/T 24067 declaration (JSON, PDF),
the EU Battery Regulation template and CBAM specific embedded emissions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import PlantDep
from carbonstream.api.footprint_common import PeriodDep
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.config.products import Product
from carbonstream.footprint import cbam, declaration, service
from carbonstream.i18n import Msg

router = APIRouter(prefix="/v1", tags=["footprints"], responses=PROBLEM_RESPONSES)
PDF_MEDIA = "application/pdf"


def _product(plant: PlantDep, product_id: str) -> Product:
    p = plant.footprint.product(product_id)
    if p is None:
        raise Problem(
            404,
            "Not found",
            Msg(
                "problems.detail.no-such",
                {"what": Msg("problems.noun.product"), "name": product_id},
            ),
            "not-found",
        )
    return p


@router.get(
    "/products/{product_id}/declaration",
    summary="Footprint declaration (ISO 14067 / GB/T 24067, partial, cradle-to-gate)",
    responses={200: {"content": {PDF_MEDIA: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_declaration(
    product_id: str,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    period: PeriodDep,
    format: Annotated[Literal["json", "pdf"], Query(description="json or pdf")] = "json",
) -> Any:
    product = _product(plant, product_id)
    r = await service.product_period(conn, plant, product_id, period[0], period[1])
    d = declaration.declaration(plant, product, r.footprint, r.lots)
    if format == "pdf":
        # matplotlib is imported by the first PDF, not at the API's start-up (monthly too).
        from carbonstream.footprint import pdf

        name = f"footprint-{product_id}-{period[0].date()}-{period[1].date()}.pdf"
        return Response(
            pdf.render(d),
            media_type=PDF_MEDIA,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return d


@router.get(
    "/products/{product_id}/battery",
    summary="EU Battery Regulation Art. 7 template: kg CO2e per kWh, by life-cycle stage",
)
async def get_battery(
    product_id: str, _: Viewer, conn: Connection, plant: PlantDep, period: PeriodDep
) -> dict[str, Any]:
    product = _product(plant, product_id)
    if product.battery is None:
        raise Problem(
            404,
            "Not found",
            Msg("problems.detail.not-battery", {"id": product_id}),
            "not-found",
        )
    r = await service.product_period(conn, plant, product_id, period[0], period[1])
    site = next((m.site for m in plant.meters if m.line in product.lines), None)
    return declaration.battery(plant, product, r.footprint, site)


@router.get(
    "/products/{product_id}/cbam",
    summary="CBAM specific embedded emissions, direct and indirect, per tonne",
)
async def get_cbam(
    product_id: str, _: Viewer, conn: Connection, plant: PlantDep, period: PeriodDep
) -> cbam.Cbam:
    product = _product(plant, product_id)
    if product.cbam is None:
        raise Problem(
            404,
            "Not found",
            Msg("problems.detail.not-cbam", {"id": product_id}),
            "not-found",
        )
    r = await service.product_period(conn, plant, product_id, period[0], period[1])
    return cbam.cbam_report(
        plant.name,
        product,
        period[0].isoformat(),
        period[1].isoformat(),
        r.lots,
        cbam.precursors_of(r.lots),
    )
