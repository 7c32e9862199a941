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

from carbonstream.config.plant import Plant
from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class RuleKind(StrEnum):
    RATE = "rate"  # live emission rate, tCO2e/h over a trailing window
    TOTAL = "total"  # total so far in the day / month, tCO2e (a carbon budget)
    PROJECTED_TOTAL = "projected_total"  # total so far + current rate x time left in the period
    FORECAST_TOTAL = "forecast_total"  # total so far + the site's forecast for the rest of it
    METER_SILENCE = "meter_silence"  # seconds since a meter's last reading
    COVERAGE = "coverage"  # data coverage % of a site over a trailing window (fires *below*)
    IDLE_LOAD = "idle_load"  # tCO2e/yr of a meter's idle load outside the production calendar
    DRIFT = "drift"  # tCO2e/yr of a meter's drift above its own profile (energy/)


METER_KINDS = frozenset({RuleKind.METER_SILENCE, RuleKind.IDLE_LOAD, RuleKind.DRIFT})


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
    meter: Identifier | None = Field(
        default=None, description="for meter_silence, idle_load and drift"
    )
    window_s: Literal[60, 900, 3600] = 900
    period: Literal["day", "month", "year"] = "day"
    threshold: float
    clear_threshold: float | None = Field(
        default=None, description="default: the threshold itself (no hysteresis)"
    )
    of_budget: bool = Field(
        default=False,
        description="total/projected_total/forecast_total: threshold and clear_threshold are "
        "fractions of the site's budget for the period (1.0 = the budget), on the budget's basis",
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
        if self.kind in METER_KINDS and self.meter is None:
            raise ValueError(f"a {self.kind.value} rule needs 'meter'")
        if self.kind in (RuleKind.COVERAGE, RuleKind.FORECAST_TOTAL) and self.site is None:
            raise ValueError(f"a {self.kind.value} rule needs 'site'")
        if self.of_budget and (
            self.kind not in (RuleKind.TOTAL, RuleKind.PROJECTED_TOTAL, RuleKind.FORECAST_TOTAL)
            or self.site is None
        ):
            raise ValueError(
                "of_budget is for total, projected_total and forecast_total rules of one site"
            )
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
    settle_s: float = Field(
        default=15.0,
        ge=0,
        le=600,
        description="rate and coverage windows end at the last minute boundary at least this "
        "long ago: a minute ingest is still filling is not read as a drop",
    )
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


def bind(config: AlertsConfig, plant: Plant, source: str = "alerts") -> AlertsConfig:
    """Check the rules against the plant and resolve budget-relative thresholds.

    Fails at start (ConfigError naming the rule) on an unknown site or meter, a
    budget rule whose site has no budget for the period, or a webhook secret
    unset or empty in the environment. ``of_budget`` rules come back with absolute
    thresholds (tCO2e) and the measure of the budget's basis.
    """
    sites = {s.id: s for s in plant.sites}
    meters = {m.id for m in plant.meters}
    problems: list[str] = []
    rules: list[AlertRule] = []
    for i, r in enumerate(config.rules):
        where = f"rules[{i}] (id {r.id!r})"
        if r.site is not None and r.site not in sites:
            problems.append(f"{where}.site: {r.site!r} is not a site of the plant")
            continue
        if r.meter is not None and r.meter not in meters:
            problems.append(f"{where}.meter: {r.meter!r} is not a meter of the plant")
            continue
        if r.of_budget:
            assert r.site is not None  # checked by the model
            budget = sites[r.site].budget
            field = {"day": "daily_t", "month": "monthly_t", "year": "yearly_t"}[r.period]
            amount = getattr(budget, field) if budget is not None else None
            if budget is None or amount is None:
                problems.append(f"{where}.of_budget: site {r.site!r} has no budget.{field}")
                continue
            basis = Measure.TOTAL_MARKET if budget.basis == "market" else Measure.TOTAL_LOCATION
            r = r.model_copy(
                update={
                    "threshold": r.threshold * amount,
                    "clear_threshold": r.clear * amount,
                    "measure": basis,
                    "of_budget": False,
                }
            )
        rules.append(r)
    for i, h in enumerate(config.webhooks):
        if h.secret_env:
            try:
                env_secret(f"webhooks[{i}] (id {h.id!r}).secret_env", h.secret_env, source=source)
            except ConfigError as e:
                problems += e.problems
    if problems:
        raise ConfigError(source, problems)
    return config.model_copy(update={"rules": rules})
