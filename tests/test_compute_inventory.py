"""The whole inventory from the files: a PPA in kWh with an hourly profile matched annually
and hourly, offsets with the CCER-first priority, an over-offset, and --from/--to.

One day of site s1 in June 2023 (2023 factors: location 0.5306 t/MWh, residual proxy
0.6096 t/MWh): the grid counter reads 0 at 10:00 and 3 000 kWh more each hour to 14:00,
so 3 MWh in each of the hours 10, 11, 12 and 13 = 12 MWh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream import report
from carbonstream.cli import main
from carbonstream.compute import period_ns, run, window
from carbonstream.config.loader import load_plant
from carbonstream.core import Engine, FactorLibrary, ReadingBatch
from carbonstream.errors import ConfigError, ReadingsError
from tests.plants import meter, ns

LOC, RES = 0.5306, 0.6096
DAY = "2023-06-01"
READINGS = [("g", f"{DAY}T{h}:00:00+08:00", 3000.0 * (h - 10)) for h in range(10, 15)]
PROFILE = "hour,kwh\n2023-06-01T10:00,0\n2023-06-01T11:00,3000\n2023-06-01T12:00,5000\n" + (
    "2023-06-01T13:00+08:00,0\n"
)
PPA: dict[str, Any] = {
    "id": "PPA-1",
    "type": "ppa",
    "site": "s1",
    "kwh": 8000,
    "generation": {"start": DAY, "end": DAY},
    "hourly_profile": "ppa.csv",
}
CCER: dict[str, Any] = {
    "id": "CCER-A",
    "project": "offshore wind",
    "serials": "CCER1-CCER2",
    "vintage": 2022,
    "retirements": [
        {
            "serials": "CCER1-CCER2",
            "period": {"start": DAY, "end": DAY},
            "purpose": "June 1st",
            "retired_on": "2023-07-01",
        }
    ],
}
VCS: dict[str, Any] = {
    "id": "VCS-B",
    "standard": "vcs",
    "registry": "Verra",
    "project": "peatland",
    "serials": "VCU1-VCU3",
    "vintage": 2021,
    "corresponding_adjustment": "applied",
    "retirements": [
        {
            "serials": "VCU1-VCU3",
            "period": {"start": DAY, "end": DAY},
            "purpose": "residual",
            "retired_on": "2023-07-01",
        }
    ],
}


def write_plant(tmp_path: Path, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "name": "test plant",
        "timezone": "Asia/Shanghai",
        "grid_region": "CN",
        "sites": [{"id": "s1"}],
        "meters": [meter("g", rating=5000.0)],
    }
    data.update(extra)
    (tmp_path / "ppa.csv").write_text(PROFILE, encoding="utf-8")
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def build(path: Path, start: str | None = DAY, end: str | None = "2023-06-02") -> dict[str, Any]:
    p = load_plant(path)
    engine = Engine(p, FactorLibrary.load(p.factor_files))
    idx = engine.params.index
    batch = ReadingBatch.of(
        [idx[m] for m, _, _ in READINGS],
        [ns(t) for _, t, _ in READINGS],
        [v for _, _, v in READINGS],
    )
    lo, hi = period_ns(p.zone, start, end, 60)
    return report.build(window(run(engine, batch), lo, hi), "day")


def test_ppa_hourly_profile_matched_annually_and_hourly(tmp_path: Path) -> None:
    """PPA of 8 000 kWh with the hourly profile 0, 3 000, 5 000, 0 kWh at 10..13 h.

    Annual (volume): 8 MWh of 12 -> 8 covered, 4 uncovered, 66.67 %, market-based
    4 x 0.6096 = 2.4384 t (the stored account allocates by volume: the same).
    Hourly: min(3,0) + min(3,3) + min(3,5) + min(3,0) = 6 MWh covered, 6 uncovered, 50 %,
    market-based 6 x 0.6096 = 3.6576 t; 2 MWh surplus in the noon hour (5 > 3), shown.
    """
    rep = build(write_plant(tmp_path, instruments=[PPA]))
    (m,) = rep["matching"]
    assert m["annual"] == pytest.approx(
        {
            "consumption_mwh": 12.0,
            "instruments_mwh": 8.0,
            "covered_mwh": 8.0,
            "uncovered_mwh": 4.0,
            "surplus_mwh": 0.0,
            "coverage_pct": 100 * 8 / 12,
            "market_t": 4 * RES,
        }
    )
    assert m["hourly"] == pytest.approx(
        {
            "consumption_mwh": 12.0,
            "instruments_mwh": 8.0,
            "covered_mwh": 6.0,
            "uncovered_mwh": 6.0,
            "surplus_mwh": 2.0,
            "coverage_pct": 50.0,
            "market_t": 6 * RES,
        }
    )
    assert m["difference_t"] == pytest.approx(2 * RES)
    assert m["surplus_hours"] == [
        {
            "hour": "2023-06-01T12:00:00+08:00",
            "consumption_mwh": pytest.approx(3.0),
            "instruments_mwh": pytest.approx(5.0),
            "surplus_mwh": pytest.approx(2.0),
        }
    ]
    (listed,) = m["instruments"]
    assert listed["counted"] and listed["hourly"] and listed["hourly_mwh"] == pytest.approx(8.0)
    t = rep["totals"]["plant"]
    assert t["covered_mwh"] == pytest.approx(8.0) and t["scope2_market_t"] == pytest.approx(4 * RES)
    assert t["scope2_location_t"] == pytest.approx(12 * LOC)
    (ins,) = rep["instruments"]
    assert (ins["kwh"], ins["hourly_hours"]) == (8000.0, 4)


def test_ppa_in_kwh_is_not_rounded_to_certificates(tmp_path: Path) -> None:
    """An annual PPA of 1 200 kWh covers 1.2 MWh, not 2 certificates: market-based
    (12 - 1.2) x 0.6096 = 6.58368 t."""
    ppa = {k: v for k, v in PPA.items() if k != "hourly_profile"} | {"kwh": 1200}
    rep = build(write_plant(tmp_path, instruments=[ppa]))
    t = rep["totals"]["plant"]
    assert t["covered_mwh"] == pytest.approx(1.2, rel=1e-12)
    assert t["scope2_market_t"] == pytest.approx(10.8 * RES, rel=1e-12)
    (m,) = rep["matching"]
    assert m["annual"]["instruments_mwh"] == pytest.approx(1.2)
    assert m["hourly"]["covered_mwh"] == 0.0  # no hourly profile: annual matching only


def test_ccer_first_and_an_international_credit_over_offset(tmp_path: Path) -> None:
    """With the PPA above: market-based gross 0 + 2.4384 t, location-based 12 x 0.5306 =
    6.3672 t. Retired for the day: 3 t VCS (listed first) and 2 t CCER.

    Market: CCER first applies 2 t, VCS applies the 0.4384 t left, its other 2.5616 t are
    surplus; net = 2.4384 - 5 = -2.5616 t (never clamped): zero-carbon, over-offset 2.5616 t.
    Location: 6.3672 - 5 = 1.3672 t: not zero-carbon, 1.3672 t left.
    """
    rep = build(write_plant(tmp_path, instruments=[PPA], offsets=[VCS, CCER]))
    net = rep["offsetting"]
    mk, lo = net["market"], net["location"]
    assert (mk["gross_t"], mk["ccer_t"], mk["international_t"]) == pytest.approx(
        (4 * RES, 2.0, 3.0)
    )
    assert mk["net_t"] == pytest.approx(4 * RES - 5) and mk["net_t"] < 0
    assert mk["zero_carbon"] and mk["over_offset"]
    assert mk["over_offset_t"] == pytest.approx(5 - 4 * RES) and mk["remaining_t"] == 0
    assert [(c["id"], c["kind"]) for c in mk["credits"]] == [
        ("CCER-A:CCER1-CCER2", "ccer"),
        ("VCS-B:VCU1-VCU3", "international"),
    ]
    ccer, vcs = mk["credits"]
    assert (ccer["applied_t"], ccer["surplus_t"]) == pytest.approx((2.0, 0.0))
    assert (vcs["applied_t"], vcs["surplus_t"]) == pytest.approx((4 * RES - 2, 5 - 4 * RES))
    assert lo["net_t"] == pytest.approx(12 * LOC - 5) and not lo["zero_carbon"]
    assert not lo["over_offset"] and lo["remaining_t"] == pytest.approx(12 * LOC - 5)
    assert (net["zero_carbon_basis"], net["zero_carbon"], net["over_offset"]) == (
        "market",
        True,
        True,
    )
    assert {r["id"] for r in rep["retirements"]} == {"CCER-A:CCER1-CCER2", "VCS-B:VCU1-VCU3"}
    # Scope 1 and Scope 2 stay gross.
    assert rep["totals"]["plant"]["scope2_market_t"] == pytest.approx(4 * RES)
    # A day that does not hold the retirements' period counts none of them.
    other = build(
        write_plant(tmp_path, offsets=[VCS, CCER]), "2023-06-01T12:00", "2023-06-01T13:00"
    )
    assert other["offsetting"]["market"]["offsets_t"] == 0.0


def test_surrendered_for_the_ets_is_refused_at_load(tmp_path: Path) -> None:
    ets = CCER | {"ets_surrendered": True}
    with pytest.raises(ConfigError) as e:
        load_plant(write_plant(tmp_path, offsets=[ets]))
    text = str(e.value)
    assert "offsets[0] (id 'CCER-A')" in text and "retirements[0]" in text
    assert "surrendered for national ETS compliance" in text and "remove this retirement" in text
    # Held but not retired: it loads, and the output says it cannot be used.
    rep = build(write_plant(tmp_path, offsets=[ets | {"retirements": []}]))
    (h,) = rep["holdings"]
    assert not h["usable"] and "ets-surrendered" in h["refusal"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"corresponding_adjustment": "not_applied"}, "corresponding adjustment 'not_applied'"),
        ({"corresponding_adjustment": None}, "needs corresponding_adjustment"),
        ({"registry": ""}, "needs its registry"),
        (
            {"retirements": [VCS["retirements"][0] | {"serials": "VCU3-VCU4"}]},
            "not part of offset VCS-B",
        ),
    ],
)
def test_international_credit_rules_at_load(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_plant(write_plant(tmp_path, offsets=[VCS | change]))


def test_holdings_are_held_once(tmp_path: Path) -> None:
    twice = CCER | {"id": "CCER-B", "retirements": []}
    with pytest.raises(ConfigError, match="credits are held once"):
        load_plant(write_plant(tmp_path, offsets=[CCER, twice]))


def test_certificates_serials_match_and_are_claimed_once(tmp_path: Path) -> None:
    gec = {
        "id": "GEC-1",
        "type": "gec",
        "site": "s1",
        "mwh": 3,
        "serials": "GEC10-GEC12",
        "generation": {"start": DAY, "end": DAY},
    }
    load_plant(write_plant(tmp_path, instruments=[gec]))
    with pytest.raises(ConfigError, match="are 3 certificates but mwh is 4"):
        load_plant(write_plant(tmp_path, instruments=[gec | {"mwh": 4}]))
    again = gec | {"id": "GEC-2", "serials": "GEC12-GEC13", "mwh": 2}
    with pytest.raises(ConfigError, match=r"share serials .* claimed once"):
        load_plant(write_plant(tmp_path, instruments=[gec, again]))
    with pytest.raises(ConfigError, match="kwh is for ppa and green_power_trade"):
        load_plant(write_plant(tmp_path, instruments=[gec | {"mwh": None, "kwh": 3000}]))


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("hour,kw\n", "header must be 'hour,kwh' or 'hour,mwh'"),
        ("hour,kwh\n2023-06-01T10:00,-1\n", "ppa.csv row 2: -1.0 kwh is outside 0"),
        ("hour,kwh\n2023-06-01T10:00,1\n2023-06-01T10:00,2\n", "row 3: hour .* twice \\(row 2\\)"),
        ("hour,kwh\n2023-06-01T10:30,8000\n", "row 2: .* not the start of a local hour"),
        ("hour,kwh\n2023-06-01T10:00,abc\n", "row 2: 'abc' is not a number"),
        ("hour,kwh\nnoon,1\n", "row 2: 'noon' is not an ISO-8601 time"),
        ("hour,kwh\n2023-06-01T10:00,1e12\n", "row 2: .* outside 0 .. 1e\\+07"),
        ("hour,kwh\n2023-06-01T10:00,7000\n", "sums to 7000 kWh but the instrument is 8000"),
        ("hour,mwh\n2023-06-02T10:00,8\n", "outside its generation 2023-06-01..2023-06-01"),
    ],
)
def test_hourly_profile_errors_name_the_row(tmp_path: Path, profile: str, expected: str) -> None:
    path = write_plant(tmp_path, instruments=[PPA])
    (tmp_path / "ppa.csv").write_text(profile, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as e:
        load_plant(path)
    assert "instruments[0]" in str(e.value)


def test_ambiguous_local_hour_needs_its_offset(tmp_path: Path) -> None:
    """Europe/Berlin, 2023-10-29: 02:00 happens twice."""
    path = write_plant(tmp_path, instruments=[PPA], timezone="Europe/Berlin")
    (tmp_path / "ppa.csv").write_text("hour,kwh\n2023-10-29T02:00,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"happens twice .* give its offset"):
        load_plant(path)
    # With its offset it is one hour (the first 02:00, still summer time) ...
    ppa = PPA | {"kwh": 1, "generation": {"start": "2023-10-29", "end": "2023-10-29"}}
    path = write_plant(tmp_path, instruments=[ppa], timezone="Europe/Berlin")
    (tmp_path / "ppa.csv").write_text("hour,kwh\n2023-10-29T02:00+02:00,1\n", encoding="utf-8")
    (h,) = load_plant(path).instruments[0].hourly or []
    assert h.hour.isoformat() == "2023-10-29T00:00:00+00:00"
    # ... and 2023-03-26T02:00 never happened in Berlin (clocks went from 02:00 to 03:00).
    (tmp_path / "ppa.csv").write_text("hour,kwh\n2023-03-26T02:00,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="does not exist in Europe/Berlin"):
        load_plant(path)


def test_from_to_in_plant_time_with_or_without_offset(tmp_path: Path) -> None:
    """--from 11:00 --to 13:00 plant time holds 2 of the 4 hours: 6 MWh x 0.5306.
    The PPA's 8 MWh cover consumption first come: 3 MWh at 10 h, 3 at 11 h, 2 at 12 h;
    inside the window it covered 3 + 2 = 5 MWh, and the whole run left nothing unused."""
    path = write_plant(tmp_path, instruments=[PPA])
    a = build(path, "2023-06-01T11:00", "2023-06-01T13:00")
    b = build(path, "2023-06-01T03:00+00:00", "2023-06-01T05:00:00+00:00")
    for rep in (a, b):
        assert rep["totals"]["plant"]["scope2_location_t"] == pytest.approx(6 * LOC)
        assert rep["period"] == {
            "start": "2023-06-01T11:00:00+08:00",
            "end": "2023-06-01T13:00:00+08:00",
            "hours": 2.0,
        }
        (ins,) = rep["instruments"]
        assert ins["allocated_mwh"] == pytest.approx(5.0) and ins["surplus_mwh"] == 0.0
    with pytest.raises(ReadingsError, match="not on a 1-minute boundary"):
        build(path, "2023-06-01T11:00:30", None)
    with pytest.raises(ReadingsError, match="must be after"):
        build(path, "2023-06-02", "2023-06-01")


def test_cli_from_to_and_inventory_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_plant(tmp_path, instruments=[PPA], offsets=[VCS, CCER])
    csv_path = tmp_path / "r.csv"
    lines = [f"{t},{m},{v},0" for m, t, v in READINGS]
    csv_path.write_text("ts,meter,value,quality\n" + "\n".join(lines) + "\n", encoding="utf-8")
    args = ["compute", "--config", str(path), "--readings", str(csv_path), "--from", DAY]
    assert main([*args, "--to", "2023-06-02", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["period"]["hours"] == 24.0 and rep["offsetting"]["over_offset"] is True
    assert main([*args, "--to", "2023-06-02", "--format", "inventory-csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "section,item,field,value,unit"
    assert "zero carbon,(all),zero_carbon,True," in out
    assert "zero carbon,(all),over_offset,True," in out
    # A number and its unit on one row.
    assert any(x.startswith("totals,plant,scope1_t,") and x.endswith(",tCO2e") for x in out)
    assert main([*args, "--to", "2023-06-02"]) == 0
    table = capsys.readouterr().out
    assert "ZERO-CARBON; OVER-OFFSET" in table and "surplus hours: 1" in table
    # Without --to the report ends at the last reading (14:00): the day the credits offset
    # is not wholly inside, so they do not count.
    assert main([*args, "--format", "inventory-csv"]) == 0
    assert "zero carbon,(all),zero_carbon,False," in capsys.readouterr().out.splitlines()


def test_the_example_plant_shows_the_whole_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    """`carbonstream compute` on the example: certificates, the PPA with its hourly profile,
    CCER and an international credit, credits surrendered for the ETS refused, and the
    zero-carbon status."""
    root = Path(__file__).resolve().parents[1]
    args = ["compute", "--config", str(root / "config/plant.example.yaml")]
    args += ["--readings", str(root / "config/readings.example.csv"), "--bucket", "day"]
    assert main(args) == 0
    table = capsys.readouterr().out
    for text in (
        "GEC-2026-0001",
        "GPT-2026-11",
        "PPA-2026-SOLAR",
        "counted in annual and hourly matching (hourly profile of the plant file)",
        "CCER-2025-RUDONG",
        "VCS-2023-KALIMANTAN",
        "REFUSED: credits of CCER-2024-ETS were surrendered for national ETS compliance",
        "zero-carbon status (market-based):",
    ):
        assert text in table, text
    assert main([*args, "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    ppa = next(i for i in rep["instruments"] if i["id"] == "PPA-2026-SOLAR")
    assert ppa["kwh"] == 3775.0 and ppa["hourly_hours"] == 27
    kinds = [c["kind"] for c in rep["offsetting"]["market"]["credits"]]
    assert kinds == ["ccer", "international"]
    assert isinstance(rep["offsetting"]["zero_carbon"], bool)
