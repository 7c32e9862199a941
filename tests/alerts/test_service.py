"""The alert service against the real database: signals, fire and clear with hysteresis on a
replayed stream of site minutes, state across a restart, history, webhook outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from carbonstream.alerts import AlertsConfig
from carbonstream.alerts.notify import verify
from carbonstream.alerts.rules import bind
from carbonstream.alerts.store import ROUND_LOCK
from carbonstream.api.db import AsyncConn, make_pool
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError
from carbonstream.store.db import connect
from tests.alerts.conftest import FakeClock, Receiver, put_minute, service

B = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # 08:00 in the plant's zone (UTC+8)
T0 = B.timestamp()

RATE_RULE: dict[str, Any] = {
    "id": "foundry-rate",
    "kind": "rate",
    "site": "foundry",
    "measure": "scope1",
    "window_s": 60,
    "threshold": 10.0,
    "clear_threshold": 8.0,
    "for_s": 120,
    "clear_for_s": 60,
    "severity": "critical",
}
CONFIG: dict[str, Any] = {"evaluate_every_s": 3600, "settle_s": 0, "rules": [RATE_RULE]}
# tCO2e/h in minute j. 9-11 while firing sits between clear (8) and threshold (10): no flap.
RATES = [5.0, 12.0, 12.0, 12.0, 9.0, 11.0, 9.5, 9.0, 7.0, 7.0, 7.0, 12.0]


def at(k: int) -> float:
    """Evaluation k happens 5 s after minute k-1 closed."""
    return T0 + 60 * k + 5


def history(url: str) -> list[tuple[str, str, float]]:
    with connect(url) as conn:
        rows = conn.execute("SELECT rule, status, at FROM alert_history ORDER BY id").fetchall()
    return [(str(r[0]), str(r[1]), r[2].timestamp()) for r in rows]


async def replay(svc_of: Any, url: str, ks: range, clock: FakeClock) -> list[tuple[float, str]]:
    out = []
    for k in ks:
        put_minute(url, "foundry", B + dt.timedelta(minutes=k - 1), scope1_t=RATES[k - 1] / 60)
        clock.now = at(k)
        out += [(t.at, t.status) for t in await svc_of(k).evaluate()]
    return out


async def test_fires_and_clears_with_hysteresis(
    plant: Plant, pool: AsyncConnectionPool[AsyncConn], plant_db: str
) -> None:
    clock = FakeClock(T0)
    svc = service(CONFIG, plant, pool, clock)
    got = await replay(lambda k: svc, plant_db, range(1, len(RATES) + 1), clock)
    # breach from minute 1, held for_s=120 -> fires at k=4; below 8 from minute 8,
    # held clear_for_s=60 -> resolved at k=10; the breach at k=12 is only pending.
    assert got == [(at(4), "firing"), (at(10), "resolved")]
    assert history(plant_db) == [
        ("foundry-rate", "firing", at(4)),
        ("foundry-rate", "resolved", at(10)),
    ]
    with connect(plant_db) as conn:
        row = conn.execute("SELECT status, since, value FROM alert_state").fetchone()
    assert row is not None and row[0] == "pending" and row[1].timestamp() == at(12)
    assert row[2] == pytest.approx(12.0)
    m = svc.metrics
    assert m.value("carbonstream_alert_rounds_total", outcome="ok") == len(RATES)
    assert m.value("carbonstream_alert_transitions_total", status="firing") == 1
    assert m.value("carbonstream_alert_transitions_total", status="resolved") == 1
    assert m.value("carbonstream_alerts_active", severity="critical") == 0  # pending only
    assert m.value("carbonstream_alert_last_round_timestamp_seconds") > 0


async def test_state_survives_restart_without_refiring(
    plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn]
) -> None:
    clock = FakeClock(T0)
    first = service(CONFIG, plant, pool, clock)
    assert await replay(lambda k: first, plant_db, range(1, 6), clock) == [(at(4), "firing")]
    # A new process: new pool, new service, state from the table only.
    pool2 = make_pool(plant_db, 2)
    await pool2.open()
    try:
        second = service(CONFIG, plant, pool2, clock)
        got = await replay(lambda k: second, plant_db, range(6, len(RATES) + 1), clock)
    finally:
        await pool2.close()
    assert got == [(at(10), "resolved")]
    assert [s for _, s, _ in history(plant_db)] == ["firing", "resolved"]
    assert first.metrics.value("carbonstream_alerts_active", severity="critical") == 1
    assert second.metrics.value("carbonstream_alerts_active", severity="critical") == 0


async def test_signals(plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn]) -> None:
    now = T0 + 3 * 3600 + 30  # 11:00:30 local
    # Today (local) starts at 2026-11-29T16:00Z: the minute before it is yesterday.
    put_minute(plant_db, "foundry", B - dt.timedelta(hours=8, minutes=1), scope1_t=100.0)
    put_minute(plant_db, "foundry", B - dt.timedelta(hours=8), scope1_t=1.0, scope2_market_t=2.0)
    # The last 15 complete minutes: 10:45 .. 10:59 local, 0.05 t each -> 3 t/h scope 1.
    for i in range(15):
        minute = B + dt.timedelta(hours=2, minutes=45 + i)
        put_minute(plant_db, "foundry", minute, scope1_t=0.05, scope2_location_t=0.01)
        put_minute(plant_db, "assembly", minute, scope1_t=0.02)
    # The current, unfinished minute counts in totals, not in the rate.
    put_minute(plant_db, "foundry", B + dt.timedelta(hours=3), scope1_t=7.0)
    with connect(plant_db) as conn:
        conn.execute(
            "UPDATE meter_state SET last_ts_ns = %s WHERE meter = (SELECT key FROM meters"
            " WHERE id = 'foundry-gas')",
            (int((now - 300) * 1e9),),
        )
        for meter, seconds in (("foundry-gas", 60.0), ("foundry-grid", 30.0)):
            for i in range(15):
                conn.execute(
                    "INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s,"
                    " n_intervals, flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)"
                    " SELECT key, %s, site, 0, 1, %s, 1, 0, 0, 0, 0, 0, 0 FROM meters"
                    " WHERE id = %s",
                    (B + dt.timedelta(hours=2, minutes=45 + i), seconds, meter),
                )
        conn.commit()
    rules = [
        {"id": "rate", "kind": "rate", "site": "foundry", "measure": "scope1", "threshold": 1},
        {"id": "rate-loc", "kind": "rate", "site": "foundry", "measure": "scope2_location",
         "threshold": 1},
        {"id": "plant-rate", "kind": "rate", "measure": "scope1", "threshold": 1},
        {"id": "rate-1m", "kind": "rate", "site": "foundry", "window_s": 60, "threshold": 1,
         "measure": "total_location"},
        {"id": "empty-rate", "kind": "rate", "site": "assembly", "measure": "scope1",
         "window_s": 3600, "threshold": 1},
        {"id": "day", "kind": "total", "site": "foundry", "measure": "total_market",
         "threshold": 1},
        {"id": "projected", "kind": "projected_total", "site": "foundry", "measure": "scope1",
         "threshold": 1},
        {"id": "silence", "kind": "meter_silence", "meter": "foundry-gas", "threshold": 1},
        {"id": "never", "kind": "meter_silence", "meter": "foundry-steam", "threshold": 1},
        {"id": "coverage", "kind": "coverage", "site": "foundry", "threshold": 1},
    ]  # fmt: skip
    clock = FakeClock(now - 1000)  # the service started 1000 s before `now`
    svc = service({"settle_s": 15, "rules": rules}, plant, pool, clock)
    async with pool.connection() as conn:
        v = await svc.signals.values(conn, now)
    assert v["rate"] == pytest.approx(3.0)
    assert v["rate-loc"] == pytest.approx(0.6)
    assert v["plant-rate"] == pytest.approx(3.0 + 1.2)
    assert v["rate-1m"] == pytest.approx((0.05 + 0.01) * 60)
    # assembly's data began at 10:45 (its first reading), 15 minutes into its hour window:
    # 0.3 t over the 900 s covered is 1.2 t/h, as the live page shows (0.3 over the hour
    # would read a young site low)
    assert v["empty-rate"] == pytest.approx(1.2)
    total = 1.0 + 2.0 + 15 * 0.05 + 7.0  # market basis: scope 1 + scope 2 market
    assert v["day"] == pytest.approx(total)
    hours_left = (B + dt.timedelta(hours=16)).timestamp() - now
    assert v["projected"] == pytest.approx(1.0 + 15 * 0.05 + 7.0 + 3.0 * hours_left / 3600)
    assert v["silence"] == pytest.approx(300.0)
    assert v["never"] == pytest.approx(1000.0)
    # 4 foundry meters; gas fully covered, grid half: (900 + 450) / (4 * 900)
    assert v["coverage"] == pytest.approx(100 * 1350 / 3600)
    # No site minute at all in a window: no value (the rule keeps its state).
    async with pool.connection() as conn:
        quiet = await svc.signals.values(conn, now + 86400)
    assert quiet["rate"] is None and quiet["day"] == 0.0


def test_budget_rules_bind_to_the_plant(plant: Plant, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = AlertsConfig.model_validate(
        {
            "rules": [
                {"id": "b", "kind": "projected_total", "site": "foundry", "of_budget": True,
                 "threshold": 1.0, "clear_threshold": 0.9, "measure": "scope1"},
            ]
        }
    )  # fmt: skip
    [r] = bind(cfg, plant).rules
    assert (r.threshold, r.clear, r.measure.value) == (40.0, 36.0, "total_market")
    bad = AlertsConfig.model_validate(
        {
            "webhooks": [{"id": "ops", "url": "http://x/", "secret_env": "NO_SUCH_SECRET"}],
            "rules": [
                {"id": "y", "kind": "total", "site": "foundry", "period": "year",
                 "of_budget": True, "threshold": 1.0},
                {"id": "s", "kind": "rate", "site": "hall-9", "threshold": 1},
                {"id": "m", "kind": "meter_silence", "meter": "nope", "threshold": 1},
            ],
        }
    )  # fmt: skip
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    with pytest.raises(ConfigError) as e:
        bind(bad, plant)
    text = str(e.value)
    assert "rules[0] (id 'y').of_budget: site 'foundry' has no budget.yearly_t" in text
    assert "rules[1] (id 's').site: 'hall-9' is not a site" in text
    assert "rules[2] (id 'm').meter: 'nope' is not a meter" in text
    assert "NO_SUCH_SECRET is not set" in text


def _hooked(url: str, **hook: Any) -> dict[str, Any]:
    rule = RATE_RULE | {"for_s": 0, "webhooks": ["ops"]}
    return CONFIG | {"webhooks": [{"id": "ops", "url": url, **hook}], "rules": [rule]}


async def test_webhook_signed_retried_and_not_blocking(
    plant: Plant,
    plant_db: str,
    pool: AsyncConnectionPool[AsyncConn],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", "s3cret")
    slow = Receiver([500, 503], delay_s=0.3)
    try:
        clock = FakeClock(at(2))
        cfg = _hooked(slow.url, secret_env="OPS_HOOK_SECRET", backoff_s=0.05)
        svc = service(cfg, plant, pool, clock)
        put_minute(plant_db, "foundry", B + dt.timedelta(minutes=1), scope1_t=0.5)
        t = time.monotonic()
        [tr] = await svc.evaluate()
        assert tr.status == "firing"
        assert time.monotonic() - t < 0.3  # the receiver takes 0.3 s per attempt
        await svc.drain()
        await svc.stop()
    finally:
        slow.close()
    assert len(slow.calls) == 3
    body, sig = slow.calls[-1]
    assert sig is not None and verify("s3cret", body, sig)
    payload = json.loads(body)
    [(rule, status, _)] = history(plant_db)
    with connect(plant_db) as conn:
        hid = conn.execute("SELECT id FROM alert_history").fetchone()
        n = conn.execute(
            "SELECT status, attempts, http_status, webhook FROM alert_notifications"
        ).fetchone()
    assert hid is not None and payload["id"] == hid[0]
    assert payload["rule"] == rule == "foundry-rate" and payload["status"] == status == "firing"
    assert payload["value"] == pytest.approx(30.0) and payload["plant"] == plant.name
    assert n == ("delivered", 3, 200, "ops")
    delivered = {"webhook": "ops", "outcome": "delivered"}
    assert svc.metrics.value("carbonstream_alert_notifications_total", **delivered) == 1


async def test_pending_notification_is_sent_after_restart(
    plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn], receiver: Receiver
) -> None:
    clock = FakeClock(at(2))
    put_minute(plant_db, "foundry", B + dt.timedelta(minutes=1), scope1_t=0.5)
    # The receiver is down and the process stops while the delivery is backing off.
    down = service(_hooked("http://127.0.0.1:9/", backoff_s=30, max_attempts=5), plant, pool, clock)
    assert len(await down.evaluate()) == 1
    await asyncio.sleep(0.1)
    await down.stop()
    with connect(plant_db) as conn:
        row = conn.execute("SELECT status FROM alert_notifications").fetchone()
    assert row == ("pending",)
    # Next start (the receiver back, same webhook id): the pending notification goes out.
    up = service(_hooked(receiver.url), plant, pool, clock)
    await up.start()
    await up.drain()
    await up.stop()
    assert len(receiver.calls) == 1
    assert json.loads(receiver.calls[0][0])["status"] == "firing"
    with connect(plant_db) as conn:
        assert conn.execute("SELECT status FROM alert_notifications").fetchone() == ("delivered",)
        # the restarted service did not fire the alert again
        assert conn.execute("SELECT count(*) FROM alert_history").fetchone() == (1,)


async def test_one_process_evaluates_at_a_time(
    plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn]
) -> None:
    put_minute(plant_db, "foundry", B, scope1_t=1.0)
    svc = service(CONFIG | {"rules": [RATE_RULE | {"for_s": 0}]}, plant, pool, FakeClock(at(1)))
    with psycopg.connect(plant_db) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (ROUND_LOCK,))
        assert await svc.evaluate() == []  # another replica holds the round
    assert [t.status for t in await svc.evaluate()] == ["firing"]
    assert svc.metrics.value("carbonstream_alert_rounds_total", outcome="skipped") == 1
    assert svc.metrics.value("carbonstream_alert_rounds_total", outcome="ok") == 1


async def test_removed_firing_rule_is_resolved_in_history(
    plant: Plant, plant_db: str, pool: AsyncConnectionPool[AsyncConn]
) -> None:
    clock = FakeClock(T0)
    first = service(CONFIG, plant, pool, clock)
    assert await replay(lambda k: first, plant_db, range(1, 6), clock) == [(at(4), "firing")]
    # The operator deletes the rule while it fires and restarts the API.
    other = RATE_RULE | {"id": "foundry-rate-2", "threshold": 100.0, "clear_threshold": 90.0}
    second = service(CONFIG | {"rules": [other]}, plant, pool, clock)
    clock.now = at(6)
    assert await second.evaluate() == []
    assert history(plant_db) == [
        ("foundry-rate", "firing", at(4)),
        ("foundry-rate", "resolved", at(6)),
    ]
    with connect(plant_db) as conn:
        payload = conn.execute(
            "SELECT payload FROM alert_history WHERE status = 'resolved'"
        ).fetchone()
        rules = conn.execute("SELECT rule FROM alert_state").fetchall()
    assert payload is not None
    assert payload[0]["reason"] == "rule removed from the configuration"
    assert payload[0]["fired_at"] == at(4)
    assert rules == [("foundry-rate-2",)]
    # Evaluating again adds nothing: the removed rule is gone, not resolved twice.
    clock.now = at(7)
    await second.evaluate()
    assert len(history(plant_db)) == 2
