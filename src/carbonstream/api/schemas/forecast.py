"""A site's forecast: the next hours at 15-minute resolution and projected period totals."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from carbonstream.api.schemas.values import LocalTime


class ForecastMethod(BaseModel):
    name: str = Field(description="The model and its parameters, in words.")
    model: Literal["ETS(A,N,A)", "ETS(A,N,M)"] = Field(
        description="Holt-Winters with a weekly season, no trend: ETS(A,N,A) level + season, "
        "ETS(A,N,M) level x season (the history's own backtest chooses)."
    )
    season: str = Field(description="The seasonal pattern the model keeps.")
    alpha: float = Field(description="Level smoothing constant (per quarter-hour).")
    gamma: float = Field(description="Season smoothing constant (per week).")
    chosen_by: str = Field(description="How the form, alpha and gamma were chosen.")
    day_ahead_mape_pct: float | None = Field(
        description="Day-ahead MAPE of the chosen model on this history (slots above 5 % of "
        "the maximum); null when the history is too short to score."
    )
    history_start: LocalTime = Field(description="First quarter-hour of history used.")
    history_end: LocalTime = Field(description="End of the history (exclusive): the cut.")
    history_days: float = Field(description="Length of the history used, in days.")
    history_quarters: int = Field(description="Quarter-hours with stored data in it.")
    history_missing: int = Field(description="Quarter-hours in it with nothing stored.")


class ForecastPoint(BaseModel):
    start: LocalTime = Field(description="Start of the quarter-hour, plant time zone.")
    t: float = Field(description="Forecast tCO2e in this quarter-hour.")


class PeriodForecast(BaseModel):
    period: Literal["day", "month", "year"]
    start: LocalTime = Field(description="Plant-local start of the period.")
    end: LocalTime = Field(description="Plant-local end of the period (exclusive).")
    actual_t: float = Field(description="Stored tCO2e from the start to actual_until.")
    forecast_t: float = Field(description="Forecast tCO2e from actual_until to the end.")
    projected_t: float = Field(description="actual_t + forecast_t: the period's total.")
    budget_t: float | None = Field(
        description="The site's budget for the period (null: none, or another scope asked)."
    )
    projected_pct: float | None = Field(description="projected_t as % of budget_t.")
    budget_reached_at: LocalTime | None = Field(
        description="Start of the quarter-hour in which actual + forecast passes the budget "
        "(null: not within the period, or already passed by actual_t)."
    )


class SiteForecast(BaseModel):
    site: str
    scope: str = Field(description="The measure forecast (the budget's basis by default).")
    unit: Literal["tCO2e"] = "tCO2e"
    timezone: str
    generated_at: LocalTime
    status: Literal["ok", "insufficient_history"] = Field(
        description="insufficient_history: under a week of stored data since the site's "
        "first; method and next_t are null, points and periods empty, detail says why."
    )
    detail: str | None = Field(default=None, description="Why there is no forecast.")
    history_days: float = Field(description="Days of stored history the forecast can use.")
    needed_days: float = Field(description="Days of history a forecast needs.")
    actual_until: LocalTime = Field(
        description="The cut: the last quarter-hour boundary a minute or more before now; "
        "stored data before it, forecast after it."
    )
    step_s: Literal[900] = 900
    horizon_h: int
    method: ForecastMethod | None
    next_t: float | None = Field(description="Sum of points: forecast tCO2e over the horizon.")
    points: list[ForecastPoint]
    periods: list[PeriodForecast]
