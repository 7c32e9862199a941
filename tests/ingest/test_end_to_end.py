"""Mosquitto -> ingest -> PostgreSQL equals `carbonstream compute` on the same readings."""

from __future__ import annotations

import random

import psycopg
import pytest
from prometheus_client import generate_latest

from tests.ingest import helpers as h
from tests.services import unique

# slow: ingests the example plant through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


def test_totals_equal_compute_and_lineage_is_complete(db_url: str) -> None:
    ex = h.example()
    gw = unique("gw")
    run = h.Running(h.settings(db_url, gw), db_url)
    try:
        msgs = h.payloads(ex, gw)
        h.publish(msgs)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
    finally:
        run.stop()
    assert h.count(db_url, "readings") == len(ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))
    metrics = generate_latest(run.service.metrics.registry).decode()
    assert f'carbonstream_ingest_readings_total{{outcome="stored"}} {len(ex.batch)}.0' in metrics
    assert "carbonstream_ingest_dead_letters_total 0.0" in metrics
    assert f"carbonstream_ingest_lag_seconds_count {run.service.totals.batches}.0" in metrics
    assert "carbonstream_ingest_queue_messages 0.0" in metrics
    with psycopg.connect(db_url) as c:
        # Every line names a lineage whose factors are stored: re-derivable from the database.
        orphan = c.execute(
            "SELECT count(*) FROM emission_lines e LEFT JOIN lineage l ON l.id = e.lineage_id"
            " WHERE l.id IS NULL"
        ).fetchone()
        assert orphan == (0,)
        rederived = c.execute(
            "SELECT max(abs(e.co2e_t - e.quantity * l.ef_co2e)) FROM emission_lines e"
            " JOIN lineage l ON l.id = e.lineage_id"
        ).fetchone()
        assert rederived is not None and float(rederived[0]) < 1e-12
        factors = c.execute(
            "SELECT count(*) FROM lineage_factors lf JOIN factors f USING (factor_id, version)"
        ).fetchone()
        assert factors is not None and int(factors[0]) > 0
        state = c.execute(
            "SELECT count(*) FROM meter_state WHERE last_ts_ns IS NOT NULL"
        ).fetchone()
        assert state == (len(ex.plant.meters),)
        pos = c.execute("SELECT last_seq, messages, gaps, replays FROM stream_positions").fetchall()
        assert pos == [(len(msgs), len(msgs), 0, 0)]


def test_same_messages_twice_change_nothing(db_url: str) -> None:
    """QoS 1 redelivery and a gateway replaying its queue (same and new stream id)."""
    ex = h.example()
    gw = unique("gw")
    run = h.Running(h.settings(db_url, gw), db_url)
    try:
        msgs = h.payloads(ex, gw)
        h.publish(msgs)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "first pass")
        before = h.db_totals(db_url)
        lines_before = h.line_totals(db_url)
        h.publish(msgs)  # the same bytes again: a redelivery
        h.publish(h.payloads(ex, gw, per_msg=37, stream="s2"))  # a replay, re-batched
        total = 2 * len(msgs) + len(h.payloads(ex, gw, per_msg=37))
        h.wait_until(lambda: run.service.totals.messages >= total, 60, "replays")
    finally:
        run.stop()
    assert run.service.totals.duplicates == 2 * len(ex.batch)
    assert h.count(db_url, "readings") == len(ex.batch)
    assert h.db_totals(db_url) == before
    assert h.line_totals(db_url) == lines_before
    h.assert_totals_equal(before, h.compute_totals(ex))
    with psycopg.connect(db_url) as c:
        replays = c.execute("SELECT replays FROM stream_positions WHERE stream = 's1'").fetchone()
    assert replays == (len(msgs),)


def test_out_of_order_readings_land_in_the_right_buckets(db_url: str) -> None:
    """Messages in random order: late readings are recomputed into the same account."""
    ex = h.example()
    gw = unique("gw")
    msgs = h.payloads(ex, gw, per_msg=50)
    random.Random(4).shuffle(msgs)
    s = h.settings(db_url, gw, lateness_s=10 * 86_400, batch={"max_readings": 2000})
    run = h.Running(s, db_url)  # small batches: order inside one batch does not matter
    try:
        h.publish(msgs)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 90, "all messages")
    finally:
        run.stop()
    assert run.service.totals.late_recomputed > 0
    assert run.service.totals.too_late == 0
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex))


def test_readings_older_than_lateness_are_kept_and_reported(db_url: str) -> None:
    ex = h.example()
    gw = unique("gw")
    msgs = h.payloads(ex, gw)
    held_back = msgs[10:12]  # about 2 h of readings, sent after the rest (3 days later)
    run = h.Running(h.settings(db_url, gw, lateness_s=3600), db_url)
    try:
        h.publish(msgs[:10] + msgs[12:])
        h.wait_until(lambda: run.service.totals.messages >= len(msgs) - 2, 60, "on-time part")
        before = h.db_totals(db_url)
        h.publish(held_back)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "late part")
    finally:
        run.stop()
    late = run.service.totals.too_late
    assert late > 0
    assert h.count(db_url, "late_readings") == late
    assert h.count(db_url, "readings") == len(ex.batch)  # stored, not dropped
    assert h.db_totals(db_url) == before  # but not silently put into closed buckets
