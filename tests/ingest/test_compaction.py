"""Compaction of partial emission lines: each batch appends one row per (meter, minute) it
touches; once a meter's minute is closed its rows are merged into one, and no total moves,
also while late readings are being recomputed by two writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
import yaml
from prometheus_client import generate_latest

from carbonstream.config.loader import load_plant
from carbonstream.core.batch import ReadingBatch
from tests.ingest import helpers as h
from tests.services import unique

# slow: ingests the example plant through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

METERS = 4
STEP_S = 5
STEPS = 150  # 12.5 minutes of readings every 5 s
T0_NS = 1_790_000_000 * 10**9  # 2026-09-21, in the past: within the sane time range


def _plant(tmp_path: Path) -> Path:
    path = tmp_path / "plant.yaml"
    meters = [
        {
            "id": f"grid{i}",
            "site": f"site{i % 2}",
            "kind": "grid_import",
            "measures": "counter",
            "unit": "kWh",
            "rating": 5000.0,
        }
        for i in range(METERS)
    ]
    plant = {
        "name": "compaction test plant",
        "timezone": "Asia/Shanghai",
        "grid_region": "CN",
        "sites": [{"id": "site0"}, {"id": "site1"}],
        "meters": meters,
    }
    path.write_text(yaml.safe_dump(plant))
    return path


def _example(plant_file: Path) -> h.Example:
    """Counters rising at 100-400 kW, a reading every 5 s, starting mid-minute."""
    start = T0_NS - T0_NS % (60 * 10**9) + 20 * 10**9
    steps = np.arange(STEPS, dtype=np.int64)
    meter = np.tile(np.arange(METERS, dtype=np.int32), STEPS)
    ts = np.repeat(start + steps * STEP_S * 10**9, METERS)
    kw = 100.0 * (1 + meter)
    value = (1000.0 + kw * (ts - start) / 3.6e12).astype(np.float64)  # kWh
    batch = ReadingBatch(meter, ts, value, np.zeros(len(meter), np.uint8))
    return h.Example(load_plant(plant_file), batch)


def _lines(url: str) -> tuple[int, int, dict[str, float]]:
    """(meter-minutes with more than one row below the meter's last minute, rows in
    those closed minutes, MWh per meter)."""
    with psycopg.connect(url) as c:
        split = c.execute(
            "SELECT count(*) FROM (SELECT e.meter, e.bucket FROM emission_lines e"
            " JOIN meter_state s ON s.meter = e.meter"
            " WHERE e.bucket < date_trunc('minute', to_timestamp(s.max_ts_ns / 1000000000))"
            " GROUP BY 1, 2 HAVING count(*) > 1) AS x"
        ).fetchone()
        rows = c.execute(
            "SELECT count(*) FROM emission_lines e JOIN meter_state s ON s.meter = e.meter"
            " WHERE e.bucket < date_trunc('minute', to_timestamp(s.max_ts_ns / 1000000000))"
        ).fetchone()
        mwh = c.execute(
            "SELECT m.id, sum(e.quantity) FROM emission_lines e JOIN meters m ON m.key = e.meter"
            " GROUP BY m.id"
        ).fetchall()
    assert split is not None and rows is not None
    return int(split[0]), int(rows[0]), {str(r[0]): float(r[1]) for r in mwh}


def _compacted(run: h.Running) -> float:
    text = generate_latest(run.service.metrics.registry).decode()
    line = next(x for x in text.splitlines() if x.startswith("carbonstream_ingest_lines_compacted"))
    return float(line.split()[-1])


@pytest.mark.parametrize("shuffled", [False, True], ids=["in-order", "late-readings"])
def test_closed_minutes_are_merged_and_no_total_moves(
    db_url: str, tmp_path: Path, shuffled: bool
) -> None:
    plant_file = _plant(tmp_path)
    ex = _example(plant_file)
    gw = unique("gw")
    msgs = h.payloads(ex, gw, per_msg=METERS)  # one time step per message
    if shuffled:  # late readings, recomputed while compaction runs
        # Every seventh time step held back to the end: it arrives after later readings
        # of the same meters were committed, whatever the batching. (Swapping neighbours
        # left both in one batch under CPU load, and then nothing was late.)
        held = set(range(3, len(msgs) - 3, 7))
        msgs = [m for i, m in enumerate(msgs) if i not in held] + [msgs[i] for i in sorted(held)]
    s = h.settings(
        db_url,
        gw,
        plant=str(plant_file),
        batch={"max_wait_ms": 5},
        compact_lines_s=0.3,
        lateness_s=86_400,
    )
    run = h.Running(s, db_url)
    try:
        h.publish(msgs, pause_every=2, pause_s=0.01)  # many small batches: many partial rows
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
        h.wait_until(lambda: _lines(db_url)[0] == 0, 30, "closed minutes merged")
        merged = _compacted(run)
    finally:
        run.stop()
    split, rows, mwh = _lines(db_url)
    assert split == 0
    assert merged > 0, "nothing was compacted: the test made no partial rows"
    # Exactly one row per meter and closed minute: the first reading is 20 s into a
    # minute, the last (20 + 745 s) in the 13th, still open.
    closed = (20 + (STEPS - 1) * STEP_S) // 60
    assert rows == METERS * closed
    # Counter deltas: 100-400 kW for (STEPS - 1) x 5 s.
    hours = (STEPS - 1) * STEP_S / 3600
    for i in range(METERS):
        assert mwh[f"grid{i}"] == pytest.approx(0.1 * (1 + i) * hours, rel=1e-9)
    if shuffled:
        assert run.service.totals.late_recomputed > 0
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))


def test_compaction_can_be_switched_off(db_url: str, tmp_path: Path) -> None:
    plant_file = _plant(tmp_path)
    ex = _example(plant_file)
    gw = unique("gw")
    msgs = h.payloads(ex, gw, per_msg=METERS)
    s = h.settings(db_url, gw, plant=str(plant_file), batch={"max_wait_ms": 5}, compact_lines_s=0)
    run = h.Running(s, db_url)
    try:
        h.publish(msgs, pause_every=2, pause_s=0.01)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
    finally:
        run.stop()
    split, _, _ = _lines(db_url)
    assert split > 0  # the partial rows the other test sees merged
