"""The inventory a batch run prints: JSON (stable, documented), CSV and a text table.

JSON schema ``carbonstream.compute/v1`` (see docs/compute-json.md):
plant, timezone, bucket, gwp, period, buckets[], totals{plant, sites},
meters[], instruments[], lineage[], quality{}. All masses in tCO2e (t),
electricity in MWh, heat in GJ; bucket starts in the plant's local time with
their UTC offset.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import polars as pl

from carbonstream.compute import Account, concat_parts
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.calendar import label, to_calendar
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.core.flags import describe
from carbonstream.core.resolve import Lineage

SCHEMA = "carbonstream.compute/v1"
DERIVED_TOTALS = ("ghg_total_location_t", "ghg_total_market_t", "cn_total_t")


def build(acc: Account, bucket_unit: str = "hour") -> dict[str, Any]:
    plant = acc.plant
    zone = plant.zone
    sites = [s.id for s in plant.sites]
    frame = _site_frame(acc, bucket_unit)
    buckets = [
        {"start": label(int(r["cal"]), zone), "site": sites[int(r["site"])]}
        | {k: float(r[k]) for k in SITE_COLUMNS}
        for r in frame.iter_rows(named=True)
    ]
    by_site = frame.group_by("site").agg(pl.col(list(SITE_COLUMNS)).sum()).sort("site")
    site_totals = {
        sites[int(r["site"])]: with_derived({k: float(r[k]) for k in SITE_COLUMNS})
        for r in by_site.iter_rows(named=True)
    }
    plant_total = with_derived(
        {k: float(frame[k].sum()) if frame.height else 0.0 for k in SITE_COLUMNS}
    )
    return {
        "schema": SCHEMA,
        "plant": plant.name,
        "timezone": plant.timezone,
        "bucket": bucket_unit,
        "gwp": plant.gwp.value,
        "method": plant.method.value,
        "period": _period(acc),
        "buckets": buckets,
        "totals": {"plant": plant_total, "sites": site_totals},
        "meters": _meters(acc),
        "instruments": _instruments(acc),
        "lineage": _lineage(acc),
        "quality": _quality(acc),
    }


def with_derived(t: dict[str, float]) -> dict[str, float]:
    # GHG Protocol totals never deduct exports; the China (GB/T 32150) total does.
    t["ghg_total_location_t"] = t["scope1_t"] + t["scope2_location_t"]
    t["ghg_total_market_t"] = t["scope1_t"] + t["scope2_market_t"]
    t["cn_total_t"] = t["scope1_t"] + t["scope2_location_t"] - t["export_deduction_t"]
    return t


def _site_frame(acc: Account, bucket_unit: str) -> pl.DataFrame:
    base = concat_parts(acc.bucket, np.int64)
    df = pl.DataFrame(
        {
            "site": concat_parts(acc.site, np.int32),
            "cal": to_calendar(base, bucket_unit, acc.plant.zone) if len(base) else base,
        }
        | {k: acc.column(k) for k in SITE_COLUMNS}
    )
    return df.group_by(["cal", "site"]).agg(pl.col(list(SITE_COLUMNS)).sum()).sort(["cal", "site"])


def _period(acc: Account) -> dict[str, Any]:
    if acc.first_ns is None or acc.last_ns is None:
        return {"start": None, "end": None, "hours": 0.0}
    zone = acc.plant.zone
    return {
        "start": label(acc.first_ns, zone),
        "end": label(acc.last_ns, zone),
        "hours": (acc.last_ns - acc.first_ns) / 3600 / NS_PER_S,
    }


def _meters(acc: Account) -> list[dict[str, Any]]:
    p = acc.engine.params
    n = len(p)
    meter = concat_parts(acc.line_meter, np.int32).astype(np.intp)
    qty = np.bincount(meter, weights=concat_parts(acc.line_qty, np.float64), minlength=n)
    co2e = np.bincount(meter, weights=concat_parts(acc.line_co2e, np.float64), minlength=n)
    covered = np.bincount(meter, weights=concat_parts(acc.line_covered, np.int64), minlength=n)
    flags = np.zeros(n, dtype=np.uint16)
    np.bitwise_or.at(flags, meter, concat_parts(acc.line_flags, np.uint16))
    span = (
        (acc.last_ns - acc.first_ns) if acc.first_ns is not None and acc.last_ns is not None else 0
    )
    out = []
    for i, m in enumerate(acc.plant.meters):
        out.append(
            {
                "meter": m.id,
                "site": m.site,
                "kind": m.kind.value,
                "scope": m.effective_scope,
                "quantity": float(qty[i]),
                "unit": p.canonical_unit[i],
                "co2e_t": float(co2e[i]),
                "coverage_pct": 100.0 * float(covered[i]) / span if span else 0.0,
                "flags": describe(int(flags[i])),
            }
        )
    return out


def _instruments(acc: Account) -> list[dict[str, Any]]:
    specs = acc.engine.instruments
    inst = concat_parts(acc.alloc_instrument, np.int32).astype(np.intp)
    mwh = np.bincount(inst, weights=concat_parts(acc.alloc_mwh, np.float64), minlength=len(specs))
    by_id = {i.id: i for i in acc.plant.instruments}
    out = []
    for k, spec in enumerate(specs):
        ins = by_id[spec.id]
        allocated = float(mwh[k])
        out.append(
            {
                "id": spec.id,
                "type": spec.type.value,
                "site": ins.site,
                "mwh": ins.mwh,
                "allocated_mwh": allocated,
                "surplus_mwh": None if ins.mwh is None else ins.mwh - allocated,
                "claim_period": {
                    "start": ins.claim_period.start.isoformat(),
                    "end": ins.claim_period.end.isoformat(),
                },
                "emission_factor_t_per_mwh": spec.ef,
            }
        )
    return out


def _lineage(acc: Account) -> list[dict[str, Any]]:
    used = set(np.unique(concat_parts(acc.line_lineage, np.int32)).tolist())
    used |= set(np.unique(concat_parts(acc.residual_lineage, np.int32)).tolist())
    return [_lineage_dict(x) for x in acc.engine.lineages if x.id in used]


def _lineage_dict(x: Lineage) -> dict[str, Any]:
    return {
        "id": x.id,
        "meter": x.meter,
        "month": x.month,
        "method": x.method,
        "gwp": x.gwp,
        "quantity_unit": x.quantity_unit,
        "ef_co2e_t_per_unit": x.ef_co2e,
        "ef_co2": x.ef_co2,
        "ef_ch4": x.ef_ch4,
        "ef_n2o": x.ef_n2o,
        "factors": [vars(f) for f in x.factors],
        "flags": describe(x.flags),
        "notes": list(x.notes),
    }


def _quality(acc: Account) -> dict[str, Any]:
    c = acc.counts
    meters = _meters(acc)
    cov = [m["coverage_pct"] for m in meters]
    return vars(c) | {
        "bad_rows": acc.bad.count,
        "bad_row_examples": acc.bad.examples,
        "implausible_readings": acc.implausible,
        "coverage_pct": float(np.mean(cov)) if cov else 0.0,
    }


# --- renderers ------------------------------------------------------------------


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    cols = ["start", "site", *SITE_COLUMNS]
    w = csv.DictWriter(buf, cols, lineterminator="\n")
    w.writeheader()
    for row in report["buckets"]:
        w.writerow({k: row[k] for k in cols})
    return buf.getvalue()


def to_table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['plant']} — {report['period']['start']} .. {report['period']['end']} "
        f"({report['timezone']}, GWP {report['gwp']}, per {report['bucket']})",
        "",
        f"{'bucket start':<26} {'site':<12} {'Scope 1':>10} {'S2 location':>12} "
        f"{'S2 market':>10} {'grid MWh':>10}",
    ]
    for b in report["buckets"]:
        lines.append(
            f"{b['start']:<26} {b['site']:<12} {b['scope1_t']:>10.4f} "
            f"{b['scope2_location_t']:>12.4f} {b['scope2_market_t']:>10.4f} "
            f"{b['grid_import_mwh']:>10.4f}"
        )
    lines += ["", "Totals (tCO2e)"]
    for name, t in [("plant", report["totals"]["plant"]), *report["totals"]["sites"].items()]:
        lines.append(
            f"  {name:<12} Scope 1 {t['scope1_t']:.4f}   "
            f"Scope 2 location {t['scope2_location_t']:.4f}   "
            f"Scope 2 market {t['scope2_market_t']:.4f}   China total (exports deducted) "
            f"{t['cn_total_t']:.4f}"
        )
    lines += ["", "Instruments (market-based Scope 2)"]
    for i in report["instruments"]:
        surplus = "" if i["surplus_mwh"] is None else f", surplus {i['surplus_mwh']:.3f} MWh"
        lines.append(
            f"  {i['id']:<16} {i['type']:<18} allocated {i['allocated_mwh']:.3f} MWh{surplus}"
        )
    q = report["quality"]
    lines += [
        "",
        "Data quality",
        f"  readings {q['readings']}, used {q['used']}, bad rows skipped {q['bad_rows']}, "
        f"bad quality {q['bad_quality']}, duplicates {q['duplicates']}, late {q['late']}",
        f"  intervals {q['intervals']}, rollovers {q['rollovers']}, resets {q['resets']}, "
        f"implausible {q['implausible']}, replacements {q['replacements']}, "
        f"gaps {q['gaps']} ({q['gap_s']:.0f} s), derived {q['derived']}",
        f"  mean meter coverage {q['coverage_pct']:.2f} %",
    ]
    fallbacks = sorted({n for x in report["lineage"] for n in x["notes"] if "data year" in n})
    if fallbacks:
        lines += ["", "Factor fallbacks"] + [f"  {n}" for n in fallbacks]
    return "\n".join(lines) + "\n"
