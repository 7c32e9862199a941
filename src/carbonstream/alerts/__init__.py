"""Alerting: rules with duration and hysteresis over live signals, and signed webhooks."""

from carbonstream.alerts.engine import AlertEngine, Transition
from carbonstream.alerts.rules import AlertRule, AlertsConfig, RuleKind, Webhook

__all__ = ["AlertEngine", "AlertRule", "AlertsConfig", "RuleKind", "Transition", "Webhook"]
