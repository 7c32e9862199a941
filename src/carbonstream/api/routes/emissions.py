"""Emission time series by site and scope, or by meter, in plant-local calendar buckets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic_core import to_json

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    Format,
    FormatQuery,
    MetricsDep,
    PlantDep,
    SettingsDep,
    timed,
    wanted_format,
)
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.api.render import csv_response
from carbonstream.api.schemas.emissions import (
    MeterPointPublic,
    MeterSeries,
    Scope,
    SiteSeries,
)
from carbonstream.api.selection import BucketQuery, MeterDep, SeriesRangeDep, SeriesSelectionDep
from carbonstream.api.settings import ApiSettings
from carbonstream.core.flags import describe
from carbonstream.i18n import Msg
from carbonstream.store.queries import series
from carbonstream.store.queries.series import Bucket

router = APIRouter(prefix="/v1", tags=["emissions"], responses=PROBLEM_RESPONSES)

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The series"}
}


def _check_points(n: int, bucket: Bucket, settings: ApiSettings, series_n: int) -> None:
    if n * series_n > settings.max_points:
        coarser = {
            Bucket.MINUTE: "15min or hour",
            Bucket.QUARTER: "hour",
            Bucket.HOUR: "day",
            Bucket.DAY: "month",
            Bucket.MONTH: "month",
        }[bucket]
        raise Problem(
            422,
            "Too many points",
            Msg(
                "problems.detail.too-many-points",
                {
                    "points": n * series_n,
                    "n": n,
                    "bucket": bucket.value,
                    "series": series_n,
                    "max": settings.max_points,
                    "coarser": coarser,
                },
            ),
            "too-many-points",
            max_points=settings.max_points,
        )


def _pct(covered_s: float, span_s: float) -> float:
    return min(100.0, 100.0 * covered_s / span_s) if span_s > 0 else 0.0


@router.get(
    "/emissions",
    summary="Emissions by site and scope (Scope 2 location- and market-based)",
    response_model=SiteSeries,
    response_model_exclude_none=True,
    responses=CSV_RESPONSE,
)
async def site_emissions(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    sel: SeriesSelectionDep,
    scope: Annotated[list[Scope] | None, Query(description="Scopes (default: all).")] = None,
    bucket: BucketQuery = Bucket.HOUR,
    format: FormatQuery = None,
) -> Any:
    fmt = wanted_format(request, format, (Format.JSON, Format.CSV))
    zone = plant.zone
    s, e = sel.start, sel.end
    _check_points(series.estimate_buckets(s, e, bucket), bucket, settings, max(len(sel.sites), 1))
    scopes = scope or list(Scope)
    async with timed(metrics, "emissions_site"):
        rows = await series.site_series(
            conn, sel.site_keys, s, e, bucket, plant.timezone, settings.max_points + 1
        )
    if len(rows) > settings.max_points:
        _check_points(len(rows), bucket, settings, 1)
    names = dict(zip(sel.site_keys, sel.sites, strict=True))
    want = {sc.value + "_t" for sc in scopes}
    cols = [
        "start",
        "site",
        *[c for c in series.SCOPE_COLUMNS if c in want],
        "grid_import_mwh",
        "coverage_pct",
    ]
    # Plain dicts, serialised once by pydantic-core: a month of minutes is 43 200 points
    # (the response model documents the same shape). Every bucket of every site has a
    # point: one without data is zeros with coverage 0.
    # Rows come ordered by (bucket, site key), as the buckets and the keys here are: one
    # walk pairs them (no hashing of 43 200 datetimes).
    order = sel.site_keys
    points: list[dict[str, Any]] = []
    i, n = 0, len(rows)
    for b0, span in series.bucket_spans(s, e, bucket, zone):
        local_b0 = b0.astimezone(zone)
        per_minute = 6000.0 / span if span > 0 else 0.0  # minutes with data -> % of span
        for key in order:
            r = rows[i] if i < n else None
            # In UTC: a time of a repeated hour in the session's zone equals no UTC time.
            if r is not None and r[1] == key and r[0].astimezone(dt.UTC) == b0:
                i += 1
                cov = min(100.0, r[6] * per_minute)
            else:
                r, cov = (b0, key, 0.0, 0.0, 0.0, 0.0, 0), 0.0
            points.append(
                {
                    "start": local_b0,
                    "site": names[key],
                    "scope1_t": r[2],
                    "scope2_location_t": r[3],
                    "scope2_market_t": r[4],
                    "grid_import_mwh": r[5],
                    "coverage_pct": cov,
                }
            )
    if i != n:  # a stored bucket that matches none of the range's: never drop it silently
        raise RuntimeError(f"series: {n - i} rows outside the buckets of {s} .. {e}")
    drop = [c for c in series.SCOPE_COLUMNS if c not in want]
    for p in points if drop else ():
        for c in drop:
            del p[c]
    if fmt is Format.CSV:
        return csv_response(cols[:2], cols[2:], points, f"emissions-{bucket.value}.csv")
    body = {
        "timezone": plant.timezone,
        "bucket": bucket.value,
        "start": s.astimezone(zone),
        "end": e.astimezone(zone),
        "sites": sorted(sel.sites),
        "scopes": [sc.value for sc in scopes],
        "unit": "tCO2e",
        "points": points,
    }
    return Response(to_json(body), media_type="application/json")


@router.get(
    "/meters/{meter_id}/emissions",
    summary="One meter's activity and emissions",
    response_model=MeterSeries,
    responses=CSV_RESPONSE,
)
async def meter_emissions(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    period: SeriesRangeDep,
    meter: MeterDep,
    bucket: BucketQuery = Bucket.HOUR,
    format: FormatQuery = None,
) -> Any:
    fmt = wanted_format(request, format, (Format.JSON, Format.CSV))
    zone = plant.zone
    s, e = period
    meter_id = meter.id
    _check_points(series.estimate_buckets(s, e, bucket), bucket, settings, 1)
    async with timed(metrics, "emissions_meter"):
        rows = await series.meter_series(
            conn, meter.key, s, e, bucket, plant.timezone, settings.max_points + 1
        )
    params = request.app.state.params
    unit = str(params.canonical_unit[params.ids.index(meter_id)])
    by_start = {r.start.astimezone(dt.UTC): r for r in rows}
    points = []
    for b0, span in series.bucket_spans(s, e, bucket, zone):
        r = by_start.get(b0) or series.MeterPoint(b0, 0.0, 0.0, 0.0, 0)
        points.append(
            MeterPointPublic(
                start=b0,
                quantity=r.quantity,
                co2e_t=r.co2e_t,
                coverage_pct=_pct(r.covered_s, span),
                flags=describe(r.flags),
            )
        )
    if fmt is Format.CSV:
        return csv_response(
            ["start"],
            ["quantity", "co2e_t", "coverage_pct", "flags"],
            ({**p.model_dump(), "quantity_unit": unit} for p in points),
            f"{meter_id}-{bucket.value}.csv",
        )
    return MeterSeries(
        timezone=plant.timezone,
        bucket=bucket,
        start=s.astimezone(zone),
        end=e.astimezone(zone),
        meter=meter_id,
        site=meter.conf.site,
        scope=meter.conf.effective_scope,
        quantity_unit=unit,
        points=points,
    )
