"""Forecasts of emissions from a plant's own history (additive Holt-Winters, weekly season).

``model`` and ``projection`` are pure (numpy); ``service`` reads the history from the
database for the API and the alert service.
"""

from carbonstream.forecast.model import (
    Backtest,
    Forecast,
    HoltWintersWeekly,
    backtest,
    fit_auto,
    seasonal_naive,
)
from carbonstream.forecast.projection import NotEnoughHistoryError, PeriodProjection, Projection

__all__ = [
    "Backtest",
    "Forecast",
    "HoltWintersWeekly",
    "NotEnoughHistoryError",
    "PeriodProjection",
    "Projection",
    "backtest",
    "fit_auto",
    "seasonal_naive",
]
