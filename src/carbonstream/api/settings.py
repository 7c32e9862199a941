"""API settings: one validated file (YAML or TOML), documented in config/api.example.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.alerts.rules import AlertsConfig
from carbonstream.config.settings import ServiceSettings, load_settings


class ApiLimits(BaseModel):
    """Every limit on what one request or one key may cost the API, defined once here.

    Bodies are bounded in bytes before they are read (and before the key is checked:
    an unauthenticated client must not make the server buffer anything); heavy work
    (event streams, report renders) is bounded per key and in all, answered 429 with
    Retry-After beyond that.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body on any route (JSON objects are far smaller).",
    )
    upload_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest body on the upload routes (a contract's hourly profile).",
    )
    streams_per_key: int = Field(
        default=4, ge=1, le=1000, description="Live event streams one API key may hold open."
    )
    streams_total: int = Field(
        default=200, ge=1, le=100_000, description="Live event streams open in all."
    )
    renders_per_key: int = Field(
        default=1, ge=1, le=100, description="Report renders (PDF, XLSX) one key may run at once."
    )
    renders_total: int = Field(
        default=2,
        ge=1,
        le=100,
        description="Report renders running at once in all (each keeps a core busy for seconds).",
    )
    retry_after_s: int = Field(
        default=5, ge=1, le=3600, description="Retry-After of a 429 over these limits."
    )


class ApiSettings(ServiceSettings):
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
    limits: ApiLimits = Field(
        default_factory=ApiLimits, description="Body sizes, streams and renders (429 beyond)."
    )
    silent_after_s: float = Field(
        default=300.0, gt=0, description="A meter with no reading for this long is silent."
    )


def load_api_settings(path: str | Path) -> ApiSettings:
    return load_settings(path, ApiSettings)
