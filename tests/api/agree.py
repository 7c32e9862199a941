"""Comparing `carbonstream compute` with the API field by field, and loading a plant file's
offsets into the API ledger through its routes."""

from __future__ import annotations

import math
from typing import Any

from carbonstream.config.plant import Plant
from tests.api.conftest import Api


def differences(got: Any, want: Any, path: str = "", rel: float = 1e-9) -> list[str]:
    """Every field where ``got`` (the API) and ``want`` (compute) differ; floats to ``rel``."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [
                f"{path}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"
            ]
        return [d for k in want for d in differences(got[k], want[k], f"{path}.{k}", rel)]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: {got!r} != {want!r}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]", rel)
        ]
    if isinstance(want, float) and not isinstance(want, bool):
        ok = isinstance(got, int | float) and math.isclose(got, want, rel_tol=rel, abs_tol=1e-9)
        return [] if ok else [f"{path}: API {got!r} != compute {want!r}"]
    return [] if got == want else [f"{path}: API {got!r} != compute {want!r}"]


def register_offsets(api: Api, plant: Plant) -> None:
    """POST the plant file's holdings and their retirements to the API ledger."""
    h = api.headers("operator")
    for o in plant.offsets:
        body: dict[str, Any] = {
            "id": o.id,
            "project": o.project,
            "standard": o.standard.value,
            "registry": o.registry_name,
            "serials": o.serials,
            "vintage": o.vintage,
            "corresponding_adjustment": o.adjustment.value,
            "ets_surrendered": o.ets_surrendered,
        }
        r = api.client.post("/v1/offsets", json=body, headers=h)
        assert r.status_code == 201, r.text
        for x in o.retirements:
            body = {
                "serials": x.serials,
                "purpose": x.purpose,
                "period": {"start": x.period.start.isoformat(), "end": x.period.end.isoformat()},
                "site": x.site,
                "retired_on": x.retired_on.isoformat(),
            }
            r = api.client.post(f"/v1/offsets/{o.id}/retirements", json=body, headers=h)
            assert r.status_code == 201, r.text


def compare_inventory(inv: dict[str, Any], rep: dict[str, Any]) -> list[str]:
    """The inventory fields compute and the API both produce, side by side."""
    out = differences(inv["offsetting"], rep["offsetting"], "offsetting")
    plant = rep["totals"]["plant"]
    out += differences({k: inv["totals"][k] for k in plant}, plant, "totals")
    for s in inv["by_site"]:
        want = rep["totals"]["sites"].get(s["site"])
        if want is None:  # no activity at all in compute: every column 0
            want = dict.fromkeys(plant, 0.0)
        out += differences({k: s[k] for k in want}, want, f"by_site.{s['site']}")
    got_ret = {
        f"{o['offset']}:{o['serials']}": {
            "kind": o["kind"],
            "standard": o["standard"],
            "registry": o["registry"],
            "vintage": o["vintage"],
            "corresponding_adjustment": o["corresponding_adjustment"],
            "tco2e": o["tco2e"],
            "site": o["site"],
            "retired_on": o["retired_on"],
        }
        for o in inv["offsets"]
    }
    fields = ("kind", "standard", "registry", "vintage", "corresponding_adjustment", "tco2e")
    want_ret = {
        r["id"]: {k: r[k] for k in (*fields, "site", "retired_on")} for r in rep["retirements"]
    }
    out += differences(got_ret, want_ret, "offsets")
    allocated = {c["instrument"]: c["allocated_mwh"] for c in inv["certificates"]}
    for i in rep["instruments"]:
        out += differences(
            allocated.get(i["id"], 0.0), i["allocated_mwh"], f"certificates.{i['id']}"
        )
    return out


def compare_matching(api_report: dict[str, Any], mine: dict[str, Any]) -> list[str]:
    site = mine["site"]
    out = differences(api_report["annual"], mine["annual"], f"matching.{site}.annual")
    out += differences(api_report["hourly"], mine["hourly"], f"matching.{site}.hourly")
    got = {
        i["instrument"]: (i["counted"], i["hourly"], i["hourly_mwh"], i["mwh"])
        for i in api_report["instruments"]
    }
    want = {
        i["instrument"]: (i["counted"], i["hourly"], i["hourly_mwh"], i["mwh"])
        for i in mine["instruments"]
    }
    out += differences(
        {k: list(v) for k, v in got.items()},
        {k: list(v) for k, v in want.items()},
        f"matching.{site}.instruments",
    )
    return out
