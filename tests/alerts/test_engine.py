"""Alert rules fire and clear with duration and hysteresis, and survive a restart."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from carbonstream.alerts import AlertEngine, AlertRule, AlertsConfig
from carbonstream.alerts.engine import projected_total

RATE = AlertRule(
    id="hall-rate",
    kind="rate",
    site="foundry",
    threshold=10.0,
    clear_threshold=8.0,
    for_s=60,
    clear_for_s=30,
)


def replay(engine: AlertEngine, stream: list[tuple[float, float]]) -> list[tuple[float, str]]:
    out = []
    for t, v in stream:
        out += [(tr.at, tr.status) for tr in engine.evaluate(t, {RATE.id: v})]
    return out


def test_fires_after_duration_and_clears_with_hysteresis() -> None:
    # every 10 s: 9 (ok), 11 from t=10 (pending), still 11 at t=70 -> fires at 70;
    # then hovering 9-10.5 (between clear 8 and threshold 10): no flapping;
    # 7.5 from t=200 held 30 s -> resolved at 230.
    stream = [(0.0, 9.0)] + [(float(t), 11.0) for t in range(10, 80, 10)]
    stream += [(float(t), 9.0 if t % 20 else 10.5) for t in range(80, 200, 10)]
    stream += [(float(t), 7.5) for t in range(200, 260, 10)]
    assert replay(AlertEngine([RATE]), stream) == [(70.0, "firing"), (230.0, "resolved")]


def test_short_breach_does_not_fire() -> None:
    stream = [(0.0, 11.0), (30.0, 11.0), (50.0, 9.0), (70.0, 11.0), (100.0, 11.0)]
    assert replay(AlertEngine([RATE]), stream) == []


def test_clear_must_hold_for_clear_for_s() -> None:
    stream = [(0.0, 11.0), (60.0, 11.0), (70.0, 7.0), (80.0, 9.5), (90.0, 7.0), (125.0, 7.0)]
    assert replay(AlertEngine([RATE]), stream) == [(60.0, "firing"), (125.0, "resolved")]


def test_state_survives_restart_without_refiring() -> None:
    e = AlertEngine([RATE])
    assert replay(e, [(0.0, 11.0), (60.0, 11.0)]) == [(60.0, "firing")]
    saved = json.dumps(e.to_dict())
    restarted = AlertEngine([RATE], json.loads(saved))
    assert [r.id for r, _ in restarted.active()] == ["hall-rate"]
    assert replay(restarted, [(70.0, 12.0), (80.0, 7.0), (110.0, 7.0)]) == [(110.0, "resolved")]


def test_no_data_keeps_state() -> None:
    e = AlertEngine([RATE])
    replay(e, [(0.0, 11.0), (60.0, 11.0)])
    assert e.evaluate(500.0, {}) == []
    assert e.state[RATE.id].status == "firing"


def test_coverage_fires_below() -> None:
    cov = AlertRule(id="cov", kind="coverage", site="s", threshold=95.0, clear_threshold=98.0)
    e = AlertEngine([cov])
    assert [t.status for t in e.evaluate(0, {"cov": 90.0})] == ["firing"]
    assert e.evaluate(10, {"cov": 96.0}) == []
    assert [t.status for t in e.evaluate(20, {"cov": 99.0})] == ["resolved"]


def test_projected_total() -> None:
    # 30 t so far, 2 t/h, 6 h left in the day: 42 t at midnight.
    assert projected_total(30.0, 2.0, now=0.0, period_end=6 * 3600.0) == pytest.approx(42.0)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "r", "kind": "rate", "threshold": 10, "clear_threshold": 12}, "at or below"),
        (
            {"id": "r", "kind": "coverage", "site": "s", "threshold": 90, "clear_threshold": 80},
            "at or above",
        ),
        ({"id": "r", "kind": "meter_silence", "threshold": 300}, "needs 'meter'"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertRule.model_validate(rule)


def test_config_checks_webhook_references() -> None:
    with pytest.raises(ValidationError, match="unknown webhook"):
        AlertsConfig.model_validate(
            {"rules": [{"id": "r", "kind": "rate", "threshold": 1, "webhooks": ["ops"]}]}
        )
