"""The alert state machine: ok -> pending -> firing -> clearing -> ok.

    ok       --breach-->            pending (or firing when for_s == 0)
    pending  --breach for for_s-->  firing     [event: firing]
    pending  --no breach-->         ok
    firing   --cleared-->           clearing (or ok when clear_for_s == 0)
    clearing --cleared for clear_for_s--> ok   [event: resolved]
    clearing --not cleared-->       firing

Pure: values and times in, transitions out. The state is a plain dict, saved
by the caller (the store) so alerts survive a restart without re-firing.
A rule with no value this round (no data) keeps its state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from carbonstream.alerts.rules import AlertRule


@dataclass
class RuleState:
    status: str = "ok"  # ok | pending | firing | clearing
    since: float = 0.0  # when the current status began (unix seconds)
    value: float | None = None
    fired_at: float | None = None


@dataclass(frozen=True)
class Transition:
    rule: AlertRule
    status: str  # "firing" or "resolved"
    at: float
    value: float
    fired_at: float

    def payload(self) -> dict[str, Any]:
        r = self.rule
        return {
            "rule": r.id,
            "status": self.status,
            "kind": r.kind.value,
            "severity": r.severity,
            "site": r.site,
            "meter": r.meter,
            "measure": r.measure.value,
            "value": self.value,
            "threshold": r.threshold,
            "clear_threshold": r.clear,
            "at": self.at,
            "fired_at": self.fired_at,
            "description": r.description,
        }


class AlertEngine:
    def __init__(self, rules: list[AlertRule], state: dict[str, Any] | None = None) -> None:
        self.rules = {r.id: r for r in rules}
        self.state: dict[str, RuleState] = {r.id: RuleState() for r in rules}
        for rid, s in (state or {}).items():
            if rid in self.state:  # a rule removed from the config keeps no state
                self.state[rid] = RuleState(**s)

    def to_dict(self) -> dict[str, Any]:
        return {rid: asdict(s) for rid, s in self.state.items()}

    def active(self) -> list[tuple[AlertRule, RuleState]]:
        return [
            (self.rules[rid], s)
            for rid, s in self.state.items()
            if s.status in ("firing", "clearing")
        ]

    def evaluate(self, now: float, values: dict[str, float | None]) -> list[Transition]:
        out: list[Transition] = []
        for rid, rule in self.rules.items():
            value = values.get(rid)
            if value is None:
                continue
            t = self._step(rule, self.state[rid], now, value)
            if t is not None:
                out.append(t)
        return out

    @staticmethod
    def _step(rule: AlertRule, s: RuleState, now: float, value: float) -> Transition | None:
        s.value = value
        if s.status == "ok" and rule.breached(value):
            s.status, s.since = "pending", now
        if s.status == "pending":
            if not rule.breached(value):
                s.status, s.since = "ok", now
            elif now - s.since >= rule.for_s:
                s.status, s.since, s.fired_at = "firing", now, now
                return Transition(rule, "firing", now, value, now)
            return None
        if s.status == "firing" and rule.cleared(value):
            s.status, s.since = "clearing", now
        if s.status == "clearing":
            if not rule.cleared(value):
                s.status = "firing"
            elif now - s.since >= rule.clear_for_s:
                fired = s.fired_at if s.fired_at is not None else now
                s.status, s.since, s.fired_at = "ok", now, None
                return Transition(rule, "resolved", now, value, fired)
        return None


def projected_total(so_far: float, rate_per_h: float, now: float, period_end: float) -> float:
    """Total at the end of the period if the current rate holds: the budget forecast."""
    return so_far + max(rate_per_h, 0.0) * max(period_end - now, 0.0) / 3600.0
