"""`carbonstream compute` end to end on files, through the real console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carbonstream.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "config" / "plant.example.yaml"
READINGS = ROOT / "config" / "readings.example.csv"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["compute", "--config", str(PLANT), "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_example_inventory_json(capsys: pytest.CaptureFixture[str]) -> None:
    rep = run_json(capsys, "--readings", str(READINGS), "--bucket", "day")
    assert rep["schema"] == "carbonstream.compute/v2"
    t = rep["totals"]["plant"]
    assert t["scope1_t"] > 0 and t["scope2_location_t"] > 0
    # Instruments lower the market-based figure; the location-based one never moves.
    assert t["scope2_market_t"] < t["scope2_location_t"] + 1e-9 or t["covered_mwh"] == 0
    assert t["ghg_total_market_t"] == pytest.approx(t["scope1_t"] + t["scope2_market_t"])
    assert t["cn_total_t"] == pytest.approx(
        t["scope1_t"] + t["scope2_location_t"] - t["export_deduction_t"]
    )
    # Buckets sum to the totals.
    assert sum(b["scope1_t"] for b in rep["buckets"]) == pytest.approx(t["scope1_t"])
    assert {b["start"][:10] for b in rep["buckets"]} == {"2026-11-22", "2026-11-23", "2026-11-24"}
    q = rep["quality"]
    assert q["bad_quality"] == 1 and q["gaps"] == 1 and q["rollovers"] == 1
    assert q["replacements"] == 1 and q["resets"] == 0
    assert q["readings"] == q["used"] + q["bad_quality"] + q["duplicates"] + q["late"]
    # Lineage names every factor with source and version.
    ids = {f["factor_id"] for x in rep["lineage"] for f in x["factors"]}
    assert {"cn.elec.national_avg.2023", "example.gas.ncv.measured", "ipcc2006.diesel.co2"} <= ids
    assert all(f["source"] for x in rep["lineage"] for f in x["factors"])
    gec = next(i for i in rep["instruments"] if i["id"] == "GEC-2026-0001")
    assert gec["allocated_mwh"] == pytest.approx(20.0)


def test_example_meters_are_auditable(capsys: pytest.CaptureFixture[str]) -> None:
    rep = run_json(capsys, "--readings", str(READINGS), "--bucket", "day")
    meters = {m["meter"]: m for m in rep["meters"]}
    # The uncounted interval (the one gap of the quality counts) is a flag on its meter.
    gapped = [m for m in rep["meters"] if m["uncounted"]]
    assert len(gapped) == 1 and "gap" in gapped[0]["flags"]
    (u,) = gapped[0]["uncounted"]
    assert u["flags"] == ["derived", "gap"] and u["seconds"] == pytest.approx(
        rep["quality"]["gap_s"]
    )
    # Activity in the meter's own unit beside the canonical one.
    dg = meters["assembly-diesel"]
    assert (dg["meter_unit"], dg["unit"]) == ("L", "t")
    assert dg["quantity"] == pytest.approx(dg["quantity_meter_unit"] * 0.84e-3)  # 0.84 kg/L
    # Fuel energy = t x 43.0 GJ/t (IPCC 2006 NCV for gas/diesel oil)
    assert dg["energy_gj"] == pytest.approx(dg["quantity"] * 43.0)
    gas = meters["foundry-gas"]
    assert (gas["meter_unit"], gas["unit"]) == ("m3", "Nm3")
    assert gas["quantity"] == pytest.approx(gas["quantity_meter_unit"] * 273.15 / 293.15)
    assert gas["conversion"][0].startswith("m3 at 20 °C, 101.325 kPa -> Nm3")
    # CH4 and N2O: gas mass and CO2e side by side (AR5: 28 and 265).
    assert dg["ch4_t"] > 0 and dg["ch4_co2e_t"] == pytest.approx(dg["ch4_t"] * 28)
    assert dg["n2o_co2e_t"] == pytest.approx(dg["n2o_t"] * 265)
    assert dg["co2e_t"] == pytest.approx(dg["co2_t"] + dg["ch4_co2e_t"] + dg["n2o_co2e_t"])
    t = rep["totals"]["plant"]
    assert t["scope1_ch4_co2e_t"] == pytest.approx(t["scope1_ch4_t"] * 28)
    assert t["scope1_t"] == pytest.approx(
        t["scope1_co2_t"] + t["scope1_ch4_co2e_t"] + t["scope1_n2o_co2e_t"]
    )
    lin = next(x for x in rep["lineage"] if x["meter"] == "foundry-gas")
    ncv = next(f for f in lin["factors"] if f["role"] == "ncv")
    assert (ncv["source_value"], ncv["source_unit"]) == (38.93, "MJ/Nm3")
    assert ncv["value"] == pytest.approx(0.03893) and ncv["unit"] == "GJ/Nm3"


def test_csv_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                "compute",
                "--config",
                str(PLANT),
                "--readings",
                str(READINGS),
                "--format",
                "csv",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].startswith("start,site,scope1_t")
    assert len(lines) == 1 + 72 * 2  # 72 hours x 2 sites
    assert main(["compute", "--config", str(PLANT), "--readings", str(READINGS)]) == 0
    assert "Scope 2 market" in capsys.readouterr().out


def test_bad_row_is_named_or_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    text = READINGS.read_text().splitlines()
    text.insert(5, "22/11/2026 00:00,assembly-grid,12,0")  # not ISO-8601
    text.insert(9, "2026-11-22T00:00:00+08:00,assembly-grid,NaN,0")
    bad.write_text("\n".join(text) + "\n")
    assert main(["compute", "--config", str(PLANT), "--readings", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 6: ts is not ISO-8601" in err
    rep = run_json(capsys, "--readings", str(bad), "--skip-bad")
    assert rep["quality"]["bad_rows"] == 2
    assert "line 10: value is not finite" in rep["quality"]["bad_row_examples"][1]


def test_unknown_meter_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,meter,value\n1764000000,ghost-meter,1\n")
    assert main(["compute", "--config", str(PLANT), "--readings", str(bad), "--skip-bad"]) == 1
    assert "unknown meter id(s) ghost-meter" in capsys.readouterr().err


def test_epoch_seconds_and_parquet_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import polars as pl

    df = pl.read_csv(READINGS).with_columns(pl.col("ts").str.to_datetime("%+", time_zone="UTC"))
    pq = tmp_path / "r.parquet"
    df.write_parquet(pq)
    epoch = tmp_path / "epoch.csv"
    df.with_columns((pl.col("ts").dt.epoch("ms") / 1000).alias("ts")).write_csv(epoch)
    a = run_json(capsys, "--readings", str(READINGS))["totals"]["plant"]
    b = run_json(capsys, "--readings", str(pq))["totals"]["plant"]
    c = run_json(capsys, "--readings", str(epoch))["totals"]["plant"]
    assert a == b == c


@pytest.mark.slow
def test_console_script_runs() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonstream",
            "compute",
            "--config",
            str(PLANT),
            "--readings",
            str(READINGS),
            "--bucket",
            "month",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Totals (tCO2e)" in out.stdout
