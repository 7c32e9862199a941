"""Database settings shared by every service that talks to PostgreSQL."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DB_URL_ENV = "CARBONSTREAM_DB_URL"


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr | None = Field(
        default=None,
        description=f"postgresql://... ; prefer ${DB_URL_ENV} for a URL with a password. "
        "Without either, an embedded PostgreSQL runs in data_dir.",
    )
    data_dir: str = ".carbonstream/postgres"
    writers: int = Field(
        default=2, ge=1, le=8, description="Writer connections; sites are split among them."
    )
    migrate_on_start: bool = True


def resolve_url(cli_url: str | None, settings: DatabaseSettings) -> str | None:
    """Command line, then the settings file, then the environment; None = embedded."""
    if cli_url:
        return cli_url
    if settings.url is not None:
        return settings.url.get_secret_value()
    return os.environ.get(DB_URL_ENV) or None
