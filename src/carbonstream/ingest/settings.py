"""Ingest settings: one validated file (YAML or TOML), documented in config/ingest.example.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from carbonstream.config.settings import ServiceSettings, load_settings
from carbonstream.envsecret import env_secret
from carbonstream.transport.topics import READINGS_SUBSCRIPTION, SIGNED_READINGS_SUBSCRIPTION

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


GroupFilter = Annotated[str, Field(pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: Identifier = Field(
        default="carbonstream-ingest",
        description="Stable per worker: the broker keeps this id's session (unacked messages).",
    )
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the environment variable holding the password (production: "
        "keeps the secret out of the file).",
    )
    topics: list[str] = Field(
        default_factory=lambda: [SIGNED_READINGS_SUBSCRIPTION, READINGS_SUBSCRIPTION],
        min_length=1,
        description="carbonstream/v2/... carries signed batches, carbonstream/v1/... unsigned.",
    )
    shared_group: Identifier | None = Field(
        default=None,
        description="Subscribe as $share/<group>/<topic> so several workers split the messages.",
    )
    session_expiry_s: int = Field(
        default=7 * 86_400,
        ge=60,
        description="How long the broker keeps the session (and queues) while ingest is away.",
    )
    receive_maximum: int = Field(
        default=2000,
        ge=1,
        le=65535,
        description="Unacknowledged messages the broker may send at once: the in-memory bound.",
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        description="MQTT version. 3.1.1 for brokers without MQTT 5 (amqtt, the demo's "
        "embedded broker): the session persists by clean_session=false and lasts as long as "
        "the broker keeps it; receive_maximum does not apply (no flow control in 3.1.1).",
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _version_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v

    @model_validator(mode="after")
    def _one_password(self) -> MqttSettings:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        return self

    def secret(self) -> str | None:
        """The broker password; a password_env naming an unset variable is a config error."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env is None:
            return None
        return env_secret("mqtt.password_env", self.password_env)


class BatchSettings(_Model):
    max_readings: int = Field(default=100_000, ge=1, le=1_000_000)
    max_wait_ms: int = Field(default=100, ge=1, le=60_000)


class SparkplugSettings(_Model):
    enabled: bool = False
    group_ids: list[GroupFilter] = Field(
        default_factory=lambda: ["+"], description="Sparkplug group ids to subscribe to; + = all."
    )
    metrics: dict[str, Identifier] = Field(
        default_factory=dict,
        description="'group/edge_node/metric' or 'group/edge_node/device/metric' -> meter id.",
    )


class DeadLetterSettings(_Model):
    keep_kb: int = Field(
        default=64,
        ge=0,
        le=4096,
        description="Raw payload kept per dead letter, KB (1 KB = 1024 bytes); the length "
        "and SHA-256 of the whole payload are kept as well.",
    )
    retention_days: float = Field(
        default=90,
        ge=0,
        description="Dead letters first received longer ago are deleted; 0 = kept.",
    )
    max_rows: int = Field(
        default=100_000,
        ge=0,
        description="At most this many rows (oldest deleted first); 0 = no cap.",
    )
    prune_every_s: float = Field(
        default=600, gt=0, description="How often retention runs (also once at start)."
    )


class SignatureSettings(_Model):
    """Which input must be signed (see ingest.signature and docs/security.md)."""

    required: bool = Field(
        default=True,
        description="Production: only batches signed with a registered gateway key (v2) are "
        "accepted, apart from the unsigned sources allowed below. false accepts every "
        "unsigned batch (development only); its readings are marked unsigned.",
    )
    unsigned_gateways: list[Identifier] = Field(
        default_factory=list,
        description="Gateways whose unsigned v1 batches are still accepted (marked unsigned), "
        "e.g. while their keys are rolled out.",
    )
    unsigned_sparkplug: bool = Field(
        default=False,
        description="Accept Sparkplug B (which has no signatures); its readings are marked "
        "unsigned.",
    )


class IngestSettings(ServiceSettings):
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    sparkplug: SparkplugSettings = Field(default_factory=SparkplugSettings)
    gateway_binding: Literal["required", "off"] = Field(
        default="required",
        description="required: a reading is accepted only from the gateway the plant's "
        "gateways: section binds its meter to, on that gateway's site (ingest refuses to start "
        "without the section). off: any gateway may report any meter (test benches only).",
    )
    signatures: SignatureSettings = Field(default_factory=SignatureSettings)
    lateness_s: float = Field(
        default=86_400,
        ge=0,
        description="Readings up to this much older than their meter's newest are recomputed "
        "into the account; older ones are stored and reported in late_readings.",
    )
    earliest: dt.datetime = Field(
        default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        description="Source times before this are rejected.",
    )
    future_s: float = Field(default=300, ge=0, description="Allowed clock skew into the future.")
    compact_lines_s: float = Field(
        default=10,
        ge=0,
        description="How often the partial emission lines of closed minutes are merged into "
        "one row per meter and minute (each batch appends its own); 0 switches it off.",
    )
    compact_window_s: float = Field(
        default=3600,
        gt=0,
        description="How far back before each meter's newest reading a compaction round looks.",
    )
    max_payload_bytes: int = Field(
        default=4_000_000,
        ge=1024,
        description="Larger payloads are dead-lettered unread (checked on arrival, before any "
        "decoding; only dead_letters.keep_kb of them is kept in memory).",
    )
    max_inflight_bytes: int = Field(
        default=64_000_000,
        ge=1024,
        description="Payload bytes received and not yet committed: past this ingest stops "
        "reading from the broker (backpressure in bytes, beside receive_maximum in messages).",
    )
    dead_letters: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(
        default=9108, ge=0, le=65535, description="Prometheus /metrics; none to switch it off."
    )

    @model_validator(mode="after")
    def _signed_input_reachable(self) -> IngestSettings:
        sig = self.signatures
        if not sig.required:
            return self
        if self.sparkplug.enabled and not sig.unsigned_sparkplug:
            raise ValueError(
                "sparkplug.enabled: Sparkplug B is unsigned and signatures.required is true, "
                "so every Sparkplug message would be refused; set "
                "signatures.unsigned_sparkplug: true to accept it (marked unsigned)"
            )
        if not any("carbonstream/v2/" in t for t in self.mqtt.topics):
            raise ValueError(
                "mqtt.topics: signatures are required but no carbonstream/v2/... topic "
                f"(signed batches) is subscribed; add {SIGNED_READINGS_SUBSCRIPTION!r}"
            )
        return self

    @model_validator(mode="after")
    def _bytes(self) -> IngestSettings:
        if self.max_inflight_bytes < self.max_payload_bytes:
            raise ValueError(
                f"max_inflight_bytes {self.max_inflight_bytes} is below max_payload_bytes "
                f"{self.max_payload_bytes}: one accepted payload must fit; raise it"
            )
        return self


def load_ingest_settings(path: str | Path) -> IngestSettings:
    """Load a settings file; a relative plant path is resolved against the file's folder."""
    return load_settings(path, IngestSettings)
