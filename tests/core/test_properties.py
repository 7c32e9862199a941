"""Property tests: the vectorized core against the plain-Python reference, batch
splits, and arrival order (hypothesis)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from carbonstream.compute import Account, run
from carbonstream.core import Engine, FactorLibrary, ReadingBatch, reference
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.core.library import parse_csv
from tests.hypothesis_profiles import examples
from tests.plants import NS, meter, ns, plant

# A plant's own fuel, declared with China-method factors in its own factor rows.
LIB = FactorLibrary.load().extended(
    parse_csv(
        "id,version,value,unit,gas,source\n"
        "t.tyre.ncv,1,31.4,GJ/t,,test lab\n"
        "t.tyre.cc,1,22.5,tC/TJ,CO2,test lab\n"
        "t.tyre.of,1,97,%,CO2,test lab\n",
        "test",
    )
)
PLANT = plant(
    [
        meter("grid", counter_range=10_000, rating=600.0, resolution=0.1),
        meter("pv", kind="onsite_generation", rating=300.0),
        meter("exp", kind="grid_export", rating=300.0),
        meter("feeder", measures="rate", unit="kW", rating=400.0, max_gap_s=240),
        meter(
            "gas",
            site="s2",
            kind="fuel",
            fuel="natural_gas",
            unit="m3",
            reference_conditions={"temperature_c": 20},
            rating=300.0,
        ),
        meter(
            "dg", site="s2", kind="fuel", fuel="diesel", unit="L", rating=200.0, method="ipcc2006"
        ),
        meter(
            "steam",
            site="s2",
            kind="heat_import",
            unit="t",
            rating=8.0,
            steam_enthalpy_kj_per_kg=2778,
        ),
        meter("grid2", site="s2", multiplier=20, rating=800.0, counter_range=100_000),
        meter("out", site="s2", kind="production", unit="kg", rating=5000.0),
        meter(
            "fork",
            site="s2",
            kind="fuel",
            fuel="diesel",
            unit="L",
            rating=20.0,
            method="ipcc2006",
            combustion="mobile",
            vehicle="offroad_industry",
        ),
        meter("tyre", site="s1", kind="fuel", fuel="tyre_chips", unit="kg", rating=900.0),
        meter(
            "hw", site="s1", kind="heat_import", unit="t", rating=30.0, hot_water_temperature_c=95
        ),
    ],
    fuels=[
        {
            "id": "tyre_chips",
            "state": "solid",
            "factors": {
                "ncv": "t.tyre.ncv",
                "carbon_content": "t.tyre.cc",
                "oxidation": "t.tyre.of",
            },
        }
    ],
    instruments=[
        {
            "id": "gec",
            "type": "gec",
            "site": "s1",
            "mwh": 1,
            "generation": {"start": "2023-01-01", "end": "2023-06-30"},
        },
        {
            "id": "ppa",
            "type": "ppa",
            "site": "s2",
            "mwh": 0.5,
            "emission_factor_t_per_mwh": 0.05,
            "generation": {"start": "2023-06-01", "end": "2023-06-01"},
        },
        {
            "id": "sup",
            "type": "supplier_factor",
            "site": "s2",
            "emission_factor_t_per_mwh": 0.45,
            "generation": {"start": "2023-06-01", "end": "2023-06-30"},
        },
    ],
    replacements=[
        {
            "meter": "grid",
            "at": "2023-06-01T09:00:00+08:00",
            "old_final": 5000.0,
            "new_initial": 0.0,
        }
    ],
    gwp="AR6",
)
ENGINE_IDS = [m.id for m in PLANT.meters]
T0 = ns("2023-06-01T07:30:00+08:00")


@st.composite
def readings(draw: st.DrawFn) -> list[tuple[str, int, float, int]]:
    out: list[tuple[str, int, float, int]] = []
    for m in PLANT.meters:
        n = draw(st.integers(0, 25))
        gaps = draw(st.lists(st.integers(1, 900), min_size=n, max_size=n))
        t = T0 + draw(st.integers(0, 600)) * NS
        value = draw(st.floats(0, m.counter_range or 1e5))
        for g in gaps:
            t += g * NS
            if m.measures.value == "rate":
                value = draw(st.floats(-10, m.rating * 1.3))
            else:
                step = draw(
                    st.one_of(
                        st.floats(
                            0, m.rating / m.multiplier * g / 3600 * 1.2
                        ),  # normal (some too fast)
                        st.floats(-(m.counter_range or 1e5), 0),  # a drop: wrap or reset
                    )
                )
                value = value + step
                if m.counter_range:
                    value %= m.counter_range
            quality = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 0, 0, 0, 3]))
            out.append((m.id, t, round(value, 3), quality))
            if draw(st.integers(0, 20)) == 0:
                out.append((m.id, t, round(value, 3), quality))  # exact duplicate (replay)
    return out


def batch_of(rows: list[tuple[str, int, float, int]]) -> ReadingBatch:
    index = {m: i for i, m in enumerate(ENGINE_IDS)}
    return ReadingBatch.of(
        [index[r[0]] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


def by_site_bucket(acc: Account) -> dict[tuple[str, int], dict[str, float]]:
    out: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sites = [s.id for s in PLANT.sites]
    site = np.concatenate(acc.site) if acc.site else np.empty(0, np.int32)
    bucket = np.concatenate(acc.bucket) if acc.bucket else np.empty(0, np.int64)
    for col in SITE_COLUMNS:
        for s, b, v in zip(site, bucket, acc.column(col), strict=True):
            out[(sites[int(s)], int(b))][col] += float(v)
    return out


def assert_close(a: float, b: float, what: str) -> None:
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9), what


COMPARED = (
    "scope1_t",
    "scope1_co2_t",
    "scope1_ch4_t",
    "scope1_n2o_t",
    "scope2_location_t",
    "scope2_market_t",
    "grid_import_mwh",
    "heat_import_gj",
    "grid_export_mwh",
    "export_deduction_t",
    "generation_mwh",
    "production",
)
FAST = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FAST
@given(readings())
def test_core_equals_plain_python_reference(rows: list[tuple[str, int, float, int]]) -> None:
    engine = Engine(PLANT, LIB)
    acc = run(engine, batch_of(rows))
    ref = reference.account(PLANT, LIB, rows)
    got = by_site_bucket(acc)
    keys = {k for k, v in got.items() if any(abs(x) > 0 for x in v.values())}
    ref_keys = {k for k, v in ref.sites.items() if any(abs(x) > 0 for x in v.values())}
    assert keys == ref_keys
    for key in keys:
        for col in COMPARED:
            assert_close(got[key][col], ref.sites[key].get(col, 0.0), f"{key} {col}")
    for inst, mwh in ref.instrument_mwh.items():
        assert_close(engine_alloc(acc, inst), mwh, inst)


def engine_alloc(acc: Account, inst: str) -> float:
    k = [s.id for s in acc.engine.instruments].index(inst)
    ids = np.concatenate(acc.alloc_instrument)
    return float(np.concatenate(acc.alloc_mwh)[ids == k].sum())


@FAST
@given(readings(), st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_any_split_into_batches_gives_the_same_totals(
    rows: list[tuple[str, int, float, int]], cuts: list[int]
) -> None:
    stream = sorted(rows, key=lambda r: r[1])  # a time-ordered stream, as gateways send
    assume(len(stream) > 1)
    whole = run(Engine(PLANT, LIB), batch_of(stream))
    engine = Engine(PLANT, LIB)
    state = engine.new_state()
    pieces: list[Account] = []
    edges = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    for lo, hi in itertools.pairwise(edges):
        pieces.append(run(engine, batch_of(stream[lo:hi]), state=state))
    split = _merge(pieces)
    a, b = by_site_bucket(whole), by_site_bucket(split)
    for key in set(a) | set(b):
        for col in COMPARED:
            if col == "scope2_market_t":
                continue  # first-come allocation: compared as a period total below
            assert_close(a[key][col], b[key][col], f"{key} {col}")
    for col in COMPARED:
        assert_close(whole.column(col).sum(), split.column(col).sum(), col)
    assert whole.counts.used == split.counts.used
    assert whole.counts.intervals == split.counts.intervals


def _merge(parts: list[Account]) -> Account:
    out = parts[0]
    for p in parts[1:]:
        out.site += p.site
        out.bucket += p.bucket
        for k in SITE_COLUMNS:
            out.values[k] += p.values[k]
        out.counts.add(p.counts)
    return out


@FAST
@given(readings(), st.randoms(use_true_random=False))
def test_totals_do_not_depend_on_arrival_order(
    rows: list[tuple[str, int, float, int]], rnd: object
) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = run(Engine(PLANT, LIB), batch_of(rows))
    b = run(Engine(PLANT, LIB), batch_of(shuffled))
    for col in COMPARED:
        assert np.array_equal(np.sort(a.column(col)), np.sort(b.column(col))), col
