"""Forecasts of emissions from a plant's own history (additive Holt-Winters, weekly season)."""

from carbonstream.forecast.model import (
    Backtest,
    Forecast,
    HoltWintersWeekly,
    backtest,
    seasonal_naive,
)

__all__ = ["Backtest", "Forecast", "HoltWintersWeekly", "backtest", "seasonal_naive"]
