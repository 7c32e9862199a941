"""Alert rule configuration (pydantic): what is watched, when it fires, when it clears.

Each rule has a threshold, a duration the breach must last before it fires
(``for_s``) and a separate clear threshold (hysteresis) that the value must
cross back, for ``clear_for_s``, before it resolves: a value hovering around
the threshold does not flap.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class RuleKind(StrEnum):
    RATE = "rate"  # live emission rate, tCO2e/h over a trailing window
    TOTAL = "total"  # total so far in the day / month, tCO2e (a carbon budget)
    PROJECTED_TOTAL = "projected_total"  # total so far + current rate x time left in the period
    METER_SILENCE = "meter_silence"  # seconds since a meter's last reading
    COVERAGE = "coverage"  # data coverage % of a site over a trailing window (fires *below*)


class Measure(StrEnum):
    SCOPE1 = "scope1"
    SCOPE2_LOCATION = "scope2_location"
    SCOPE2_MARKET = "scope2_market"
    TOTAL_LOCATION = "total_location"  # Scope 1 + Scope 2 location-based
    TOTAL_MARKET = "total_market"  # Scope 1 + Scope 2 market-based


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Webhook(_Model):
    id: Identifier
    url: str = Field(pattern=r"^https?://")
    # Name of the environment variable holding the HMAC secret: secrets never live in files.
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_s: float = Field(default=1.0, gt=0, le=60)
    max_backoff_s: float = Field(default=60.0, gt=0, le=3600)


class AlertRule(_Model):
    id: Identifier
    kind: RuleKind
    description: str = ""
    site: Identifier | None = Field(default=None, description="None: the whole plant")
    measure: Measure = Measure.TOTAL_MARKET
    meter: Identifier | None = Field(default=None, description="for meter_silence")
    window_s: Literal[60, 900, 3600] = 900
    period: Literal["day", "month"] = "day"
    threshold: float
    clear_threshold: float | None = Field(
        default=None, description="default: the threshold itself (no hysteresis)"
    )
    for_s: float = Field(default=0.0, ge=0)
    clear_for_s: float = Field(default=0.0, ge=0)
    severity: Literal["info", "warning", "critical"] = "warning"
    webhooks: list[Identifier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        clear = self.clear
        if self.fires_below and clear < self.threshold:
            raise ValueError(
                f"a {self.kind.value} rule fires below its threshold: clear_threshold "
                f"({clear}) must be at or above threshold ({self.threshold})"
            )
        if not self.fires_below and clear > self.threshold:
            raise ValueError(
                f"clear_threshold ({clear}) must be at or below threshold ({self.threshold})"
            )
        if self.kind is RuleKind.METER_SILENCE and self.meter is None:
            raise ValueError("a meter_silence rule needs 'meter'")
        if self.kind is RuleKind.COVERAGE and self.site is None:
            raise ValueError("a coverage rule needs 'site'")
        return self

    @property
    def fires_below(self) -> bool:
        return self.kind is RuleKind.COVERAGE

    @property
    def clear(self) -> float:
        return self.threshold if self.clear_threshold is None else self.clear_threshold

    def breached(self, value: float) -> bool:
        return value < self.threshold if self.fires_below else value > self.threshold

    def cleared(self, value: float) -> bool:
        return value > self.clear if self.fires_below else value < self.clear


class AlertsConfig(_Model):
    evaluate_every_s: float = Field(default=10.0, gt=0)
    webhooks: list[Webhook] = Field(default_factory=list)
    rules: list[AlertRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        hooks = {w.id for w in self.webhooks}
        for r in self.rules:
            missing = [h for h in r.webhooks if h not in hooks]
            if missing:
                raise ValueError(f"rule {r.id!r} names unknown webhook(s) {missing}")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self
