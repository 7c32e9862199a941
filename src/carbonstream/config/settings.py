"""Loading a service's settings file, the same way for ingest and the API.

A settings file is one validated model (YAML or TOML, every problem named by its
field, see ``config.loader``); its ``plant`` path is relative to the file; a
secret never sits in the file: a ``*_env`` field names the environment variable
that holds it, read when it is needed (``carbonstream.envsecret``). Each service keeps
its own model (``IngestSettings``, ``ApiSettings``) built on ``ServiceSettings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.config.database import DatabaseSettings
from carbonstream.config.loader import load_model


class ServiceSettings(BaseModel):
    """What every service's settings have: the plant it serves and its database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plant: str = Field(description="Plant file (YAML or TOML), relative to this file.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)


S = TypeVar("S", bound=ServiceSettings)


def load_settings(path: str | Path, model: type[S]) -> S:
    """Load a settings file; a relative plant path is resolved against the file's folder."""
    path = Path(path)
    s = load_model(path, model)
    plant = Path(s.plant)
    if plant.is_absolute():
        return s
    return s.model_copy(update={"plant": str((path.parent / plant).resolve())})
