"""The inventory a batch run prints: JSON (stable, documented), CSV and a text table.

JSON schema ``carbonstream.compute/v2`` (see docs/compute-json.md):
plant, timezone, bucket, gwp, period, buckets[], totals{plant, sites},
meters[], instruments[], lineage[], quality{}. Every mass names what it is a
mass of: ``*_t`` alone is tCO2e for totals, ``co2_t``/``ch4_t``/``n2o_t`` are
tonnes of that gas and ``ch4_co2e_t``/``n2o_co2e_t`` their CO2e by the GWP set;
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
from carbonstream.core.energy import for_plant
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.core.flags import describe
from carbonstream.core.library import FactorLibrary
from carbonstream.core.resolve import Lineage
from carbonstream.energy import tce
from carbonstream.fieldunits import tidy_rows

# v2: CH4 and N2O are given as gas mass and as CO2e side by side; lineage emission
# factors carry their unit in the name; meters give their own unit, gases and the
# intervals not counted.
SCHEMA = "carbonstream.compute/v2"
GAS_CO2E = ("scope1_ch4_co2e_t", "scope1_n2o_co2e_t")


def gwp_pair(library: FactorLibrary, gwp_set: str) -> tuple[float, float]:
    """kgCO2e per kg of CH4 and of N2O in the GWP set (the lineage's gwp_* factors)."""
    g = gwp_set.lower()
    return (
        library.get(f"gwp.{g}.ch4").value_in("kgCO2e/kg"),
        library.get(f"gwp.{g}.n2o").value_in("kgCO2e/kg"),
    )


def with_gas_co2e(t: dict[str, float], gwp: tuple[float, float]) -> dict[str, float]:
    # Every CH4/N2O tonne came through a lineage with these GWPs, so the CO2e of the
    # gas is its mass times the GWP: exactly the share of scope1_t it contributed.
    t["scope1_ch4_co2e_t"] = t["scope1_ch4_t"] * gwp[0]
    t["scope1_n2o_co2e_t"] = t["scope1_n2o_t"] * gwp[1]
    return t


def build(acc: Account, bucket_unit: str = "hour") -> dict[str, Any]:
    plant = acc.plant
    zone = plant.zone
    sites = [s.id for s in plant.sites]
    gwp = gwp_pair(acc.engine.library, plant.gwp.value)
    frame = _site_frame(acc, bucket_unit)
    buckets = [
        {"start": label(int(r["cal"]), zone), "site": sites[int(r["site"])]}
        | with_gas_co2e({k: float(r[k]) for k in SITE_COLUMNS}, gwp)
        for r in frame.iter_rows(named=True)
    ]
    by_site = frame.group_by("site").agg(pl.col(list(SITE_COLUMNS)).sum()).sort("site")
    site_totals = {
        sites[int(r["site"])]: with_derived({k: float(r[k]) for k in SITE_COLUMNS}, gwp)
        for r in by_site.iter_rows(named=True)
    }
    plant_total = with_derived(
        {k: float(frame[k].sum()) if frame.height else 0.0 for k in SITE_COLUMNS}, gwp
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
        "energy": energy_block(acc, bucket_unit),
    }


def energy_block(acc: Account, bucket_unit: str) -> dict[str, Any]:
    """Comprehensive energy in tce (GB/T 2589) of the same lines, per site and bucket."""
    zone = acc.plant.zone
    base = concat_parts(acc.line_bucket, np.int64)
    site_base = concat_parts(acc.bucket, np.int64)
    lines = tce.Lines(
        meter=concat_parts(acc.line_meter, np.int32).astype(np.intp),
        bucket=to_calendar(base, bucket_unit, zone) if len(base) else base,
        quantity=concat_parts(acc.line_qty, np.float64),
        green_site=concat_parts(acc.site, np.int32).astype(np.intp),
        green_bucket=to_calendar(site_base, bucket_unit, zone) if len(site_base) else site_base,
        green_mwh=acc.column("covered_mwh"),
    )
    return tce.assemble(for_plant(acc.plant, acc.engine.params.canonical_unit), lines, zone)


def with_derived(t: dict[str, float], gwp: tuple[float, float]) -> dict[str, float]:
    with_gas_co2e(t, gwp)
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
    line_qty = concat_parts(acc.line_qty, np.float64)

    def per_meter(parts: list[Any], dtype: Any = np.float64) -> Any:
        return np.bincount(meter, weights=concat_parts(parts, dtype), minlength=n)

    qty = np.bincount(meter, weights=line_qty, minlength=n)
    covered = per_meter(acc.line_covered, np.int64)
    co2, ch4, n2o, co2e = (
        per_meter(acc.line_co2),
        per_meter(acc.line_ch4),
        per_meter(acc.line_n2o),
        per_meter(acc.line_co2e),
    )
    energy = _energy_gj(acc, meter, line_qty, n)
    flags = np.zeros(n, dtype=np.uint16)
    np.bitwise_or.at(flags, meter, concat_parts(acc.line_flags, np.uint16))
    uncounted = _uncounted(acc)
    for i, items in uncounted.items():
        for u in items:
            flags[i] |= u["flag_bits"]
    gwp = gwp_pair(acc.engine.library, acc.plant.gwp.value)
    span = (
        (acc.last_ns - acc.first_ns) if acc.first_ns is not None and acc.last_ns is not None else 0
    )
    own = p.own_per_canonical
    out = []
    for i, m in enumerate(acc.plant.meters):
        conv = p.conversions[i]
        out.append(
            {
                "meter": m.id,
                "site": m.site,
                "kind": m.kind.value,
                "scope": m.effective_scope,
                "fuel": m.fuel,
                "combustion": m.combustion.value if m.fuel else None,
                "vehicle": m.vehicle,
                "quantity": float(qty[i]),
                "unit": p.canonical_unit[i],
                "quantity_meter_unit": float(qty[i] * own[i]),
                "meter_unit": conv.own_unit,
                "conversion": list(conv.steps),
                "energy_gj": float(energy[i]) if m.fuel else None,
                "co2_t": float(co2[i]),
                "ch4_t": float(ch4[i]),
                "ch4_co2e_t": float(ch4[i] * gwp[0]),
                "n2o_t": float(n2o[i]),
                "n2o_co2e_t": float(n2o[i] * gwp[1]),
                "co2e_t": float(co2e[i]),
                "coverage_pct": 100.0 * float(covered[i]) / span if span else 0.0,
                "flags": describe(int(flags[i])),
                "uncounted": [
                    {k: v for k, v in u.items() if k != "flag_bits"} for u in uncounted.get(i, [])
                ],
            }
        )
    return out


def _energy_gj(acc: Account, meter: Any, qty: Any, n: int) -> Any:
    """Fuel energy per meter: each line's quantity x the NCV of its lineage (GJ)."""
    lin = concat_parts(acc.line_lineage, np.int32)
    lineages = acc.engine.lineages
    ncv = np.zeros(len(lineages))
    for x in lineages:
        use = next((f for f in x.factors if f.role == "ncv"), None)
        if use is not None:
            ncv[x.id] = use.value
    return np.bincount(meter, weights=qty * ncv[lin], minlength=n) if len(lin) else np.zeros(n)


def _uncounted(acc: Account) -> dict[int, list[dict[str, Any]]]:
    """Each interval not counted, as a flag on its meter with its time span."""
    zone = acc.plant.zone
    out: dict[int, list[dict[str, Any]]] = {}
    meters = concat_parts(acc.uncounted_meter, np.int32)
    t0s = concat_parts(acc.uncounted_t0, np.int64)
    t1s = concat_parts(acc.uncounted_t1, np.int64)
    fl = concat_parts(acc.uncounted_flags, np.uint16)
    for m, t0, t1, f in zip(meters.tolist(), t0s.tolist(), t1s.tolist(), fl.tolist(), strict=True):
        out.setdefault(m, []).append(
            {
                "start": label(t0, zone),
                "end": label(t1, zone),
                "seconds": (t1 - t0) / NS_PER_S,
                "flags": describe(f),
                "flag_bits": f,
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
                # Of the whole run (a --from/--to window shows only part of the use).
                "surplus_mwh": None
                if ins.mwh is None
                else ins.mwh - acc.state.instrument_used_mwh.get(spec.id, 0.0),
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
        "ef_co2_t_per_unit": x.ef_co2,
        "ef_ch4_t_per_unit": x.ef_ch4,
        "ef_n2o_t_per_unit": x.ef_n2o,
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
    cols = ["start", "site", *SITE_COLUMNS, *GAS_CO2E]
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
        if t["scope1_ch4_t"] or t["scope1_n2o_t"]:
            lines.append(
                f"  {'':<12} Scope 1 CH4 {t['scope1_ch4_t']:.6f} tCH4 = "
                f"{t['scope1_ch4_co2e_t']:.4f} tCO2e   N2O {t['scope1_n2o_t']:.6f} tN2O = "
                f"{t['scope1_n2o_co2e_t']:.4f} tCO2e ({report['gwp']})"
            )
    lines += ["", "Meters (activity as metered and canonical, tCO2e, coverage, flags)"]
    for m in report["meters"]:
        own = (
            ""
            if m["meter_unit"] == m["unit"]
            else f" ({m['quantity_meter_unit']:.3f} {m['meter_unit']})"
        )
        lines.append(
            f"  {m['meter']:<18} {m['quantity']:.4f} {m['unit']}{own}  {m['co2e_t']:.4f} tCO2e  "
            f"{m['coverage_pct']:.2f} %  {', '.join(m['flags']) or '-'}"
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
    gaps = [(m["meter"], u) for m in report["meters"] for u in m["uncounted"]]
    if gaps:
        lines += ["", "Intervals not counted (missing coverage)"]
        lines += [
            f"  {m:<16} {u['start']} .. {u['end']} ({u['seconds']:.0f} s): {', '.join(u['flags'])}"
            for m, u in gaps
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
    """The whole inventory as a tidy table: section, item, field, value, unit (one row per
    observation; a number's unit on its row, from the field beside it or from its name)."""
    objects: list[tuple[str, str, dict[str, Any]]] = []
    for name, t in [("plant", report["totals"]["plant"]), *report["totals"]["sites"].items()]:
        objects.append(("totals", name, t))
    for i in report["instruments"]:
        objects.append(("instruments", i["id"], {k: v for k, v in i.items() if k != "id"}))
    for m in report.get("matching", []):
        for method in ("annual", "hourly"):
            objects.append((f"matching {method}", m["site"], m[method]))
        objects.append(("matching", m["site"], {"surplus_hours": len(m["surplus_hours"])}))
    for r in report.get("retirements", []):
        objects.append(("offsets retired", r["id"], {k: v for k, v in r.items() if k != "id"}))
    net = report.get("offsetting")
    if net is not None:
        keys = ("zero_carbon_basis", "zero_carbon", "over_offset")
        objects.append(("zero carbon", "(all)", {k: net[k] for k in keys}))
        for basis in ("market", "location"):
            for n in [net[basis], *net[f"sites_{basis}"]]:
                rest = {k: v for k, v in n.items() if k not in ("site", "credits")}
                objects.append((f"net {basis}", n["site"] or "(all)", rest))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "field", "value", "unit"])
    for section, item, obj in objects:
        fields = [k for k, v in obj.items() if not isinstance(v, dict)]
        w.writerows(
            tidy_rows(["section", "item"], fields, [{**obj, "section": section, "item": item}])
        )
    return buf.getvalue()
