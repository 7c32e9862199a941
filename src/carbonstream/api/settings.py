"""API settings: one validated file (YAML or TOML), documented in config/api.example.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.alerts.rules import AlertsConfig
from carbonstream.config.database import DatabaseSettings
from carbonstream.config.loader import load_model


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plant: str = Field(description="Plant file (YAML or TOML), relative to this file.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_metrics: bool = Field(
        default=False, description="Serve /metrics without a key (for a Prometheus scraper)."
    )
    max_range_days: int = Field(default=400, ge=1, le=3660, description="Longest query range.")
    max_points: int = Field(default=200_000, ge=100, description="Most rows one query returns.")
    pool_size: int = Field(default=10, ge=1, le=100)
    alerts: AlertsConfig | None = Field(
        default=None, description="Alert rules and webhooks; none: no alert service."
    )
    silent_after_s: float = Field(
        default=300.0, gt=0, description="A meter with no reading for this long is silent."
    )


def load_api_settings(path: str | Path) -> ApiSettings:
    path = Path(path)
    s = load_model(path, ApiSettings)
    plant = Path(s.plant)
    if not plant.is_absolute():
        plant = (path.parent / plant).resolve()
    return s.model_copy(update={"plant": str(plant)})
