"""Broker connection settings, shared by the gateway's publisher and any subscriber.

Secrets never live in a file in the repository: ``password_env`` names the
environment variable that holds the password.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream.envsecret import env_secret


class Tls(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path | None = Field(default=None, description="CA bundle; default: the system's.")
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = None
    insecure: bool = Field(
        default=False, description="Skip host name checks. Only for a test broker."
    )

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file, or neither")
        return self


class BrokerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str | None = Field(default=None, description="Default: the gateway id.")
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )
    tls: Tls | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest wait to reconnect.")
    topic_prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_.:-]+/)*$",
        description="Put before carbonstream/v1/... (a shared broker per tenant). End with '/'.",
    )

    def password(self) -> str | None:
        if self.password_env is None:
            return None
        return env_secret("broker.password_env", self.password_env)
