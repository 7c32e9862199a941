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

from carbonstream import report_ledger
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
    span = report_ledger.span_ns(acc)
    ledger_part: dict[str, Any] = {}
    if span is not None:
        ledger_part = {
            "matching": report_ledger.matching(acc, *span),
            **report_ledger.offsets(plant, site_totals, *span),
        }
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
        **ledger_part,
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
    if acc.window_ns is not None:
        lo, hi = acc.window_ns
        zone = acc.plant.zone
        return {
            "start": label(lo, zone),
            "end": label(hi, zone),
            "hours": (hi - lo) / 3600 / NS_PER_S,
        }
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
                "kwh": ins.volume_kwh,
                "hourly_profile": ins.hourly_profile,
                "hourly_hours": len(ins.hourly) if ins.hourly is not None else 0,
                "serials": ins.serials,
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
    lines += _ledger_table(report)
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


def _ledger_table(report: dict[str, Any]) -> list[str]:
    if "offsetting" not in report:
        return []
    lines = ["", "Matching: annual (GHG Protocol 2015) vs hourly (revision, proposed)"]
    for m in report["matching"]:
        a, h = m["annual"], m["hourly"]
        lines.append(
            f"  {m['site']:<12} consumption {a['consumption_mwh']:.3f} MWh   annual: covered "
            f"{a['covered_mwh']:.3f} MWh ({a['coverage_pct']:.1f} %), market {a['market_t']:.4f} t"
            f"   hourly: covered {h['covered_mwh']:.3f} MWh ({h['coverage_pct']:.1f} %), "
            f"surplus {h['surplus_mwh']:.3f} MWh, market {h['market_t']:.4f} t"
        )
        for i in m["instruments"]:
            lines.append(f"    {i['instrument']:<16} {i['kwh']:.1f} kWh  {i['note']}")
        if m["surplus_hours"]:
            lines.append(f"    surplus hours: {len(m['surplus_hours'])}")
            for x in m["surplus_hours"][:24]:
                lines.append(
                    f"      {x['hour']}  generation {x['instruments_mwh']:.3f} MWh > "
                    f"consumption {x['consumption_mwh']:.3f} MWh"
                )
    lines += [
        "",
        f"Offsets held and retired (counted for {report['days']['first']} .. "
        f"{report['days']['last']}: the period they offset lies inside)",
    ]
    for o in report["holdings"]:
        status = "usable" if o["usable"] else f"REFUSED: {o['refusal']}"
        lines.append(
            f"  {o['id']:<18} {o['standard']:<14} {o['registry']:<16} vintage {o['vintage']} "
            f"{o['tco2e']:.0f} t held, {o['retired_t']:.0f} t retired, corresponding adjustment "
            f"{o['corresponding_adjustment']}; {status}"
        )
    net = report["offsetting"]
    lines += ["", "Net and zero-carbon status (gross is never reduced; net never clamped)"]
    for basis in ("market", "location"):
        n = net[basis]
        lines.append(
            f"  {basis:<8} gross {n['gross_t']:.4f} t - CCER {n['ccer_t']:.4f} t - international "
            f"{n['international_t']:.4f} t = net {n['net_t']:.4f} t   zero-carbon "
            f"{'yes' if n['zero_carbon'] else 'no'}"
            + (f", over-offset {n['over_offset_t']:.4f} t" if n["over_offset"] else "")
        )
    for c in net[net["zero_carbon_basis"]]["credits"]:
        lines.append(
            f"    {c['id']:<36} {c['kind']:<13} {c['tco2e']:.0f} t: applied {c['applied_t']:.4f} t,"
            f" surplus {c['surplus_t']:.4f} t"
        )
    lines.append(
        f"  zero-carbon status ({net['zero_carbon_basis']}-based): "
        f"{'ZERO-CARBON' if net['zero_carbon'] else 'not zero-carbon'}"
        + ("; OVER-OFFSET" if net["over_offset"] else "")
    )
    return lines


def to_inventory_csv(report: dict[str, Any]) -> str:
    """The whole inventory as one long table: section, item, field, value."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "field", "value"])
    for name, t in [("plant", report["totals"]["plant"]), *report["totals"]["sites"].items()]:
        for k, v in t.items():
            w.writerow(["totals", name, k, v])
    for i in report["instruments"]:
        for k, v in i.items():
            if k != "id" and not isinstance(v, dict):
                w.writerow(["instruments", i["id"], k, v])
    for m in report.get("matching", []):
        for method in ("annual", "hourly"):
            for k, v in m[method].items():
                w.writerow([f"matching {method}", m["site"], k, v])
        w.writerow(["matching", m["site"], "surplus_hours", len(m["surplus_hours"])])
    for r in report.get("retirements", []):
        for k, v in r.items():
            if k != "id" and not isinstance(v, dict):
                w.writerow(["offsets retired", r["id"], k, v])
    net = report.get("offsetting")
    if net is not None:
        for k in ("zero_carbon_basis", "zero_carbon", "over_offset"):
            w.writerow(["zero carbon", "(all)", k, net[k]])
        for basis in ("market", "location"):
            for n in [net[basis], *net[f"sites_{basis}"]]:
                for k, v in n.items():
                    if k not in ("site", "credits"):
                        w.writerow([f"net {basis}", n["site"] or "(all)", k, v])
    return buf.getvalue()
