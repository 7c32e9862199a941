"""Gateway public keys in the plant file: which key may sign which gateway's batches, and when.

    gateways:
      - id: gw-assembly
        site: assembly
        meters: [...]
        keys:
          - public_key: "q5V0...="              # base64 of the raw 32-byte Ed25519 key
            valid_from: 2026-12-01T00:00:00Z
            valid_to: 2027-12-01T00:00:00Z        # optional: rotation (source times)
            revoked_at: 2026-12-06T08:00:00Z      # optional: compromise (arrival time)

When a key counts:

- ``valid_from`` / ``valid_to`` (rotation) are judged on the batch's **source
  times**: every reading of the batch must lie in [valid_from, valid_to). A batch
  sealed with the old key before the switch and delivered late (the gateway was
  offline for days) is still accepted.
- ``revoked_at`` (compromise) is judged on **arrival** at ingest: nothing that
  arrives at or after it is accepted, whatever source times it claims, because
  whoever holds a stolen key also chooses the source times. Batches stored before
  the revocation stay valid (``carbonstream verify`` checks their arrival time).

The key id is computed from the key (transport.signing.key_id), never typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonstream.transport import signing

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class GatewayKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public_key: str = Field(
        description="Ed25519 public key, base64 of the raw 32 bytes "
        "(printed by `carbonstream gateway keygen`)."
    )
    valid_from: AwareDatetime = Field(
        description="Earliest source time this key may sign (UTC offset required)."
    )
    valid_to: AwareDatetime | None = Field(
        default=None, description="Source times from here on need the next key (rotation)."
    )
    revoked_at: AwareDatetime | None = Field(
        default=None,
        description="Batches arriving from here on are refused, whatever their source times.",
    )
    note: str = Field(default="", max_length=200)

    @field_validator("public_key")
    @classmethod
    def _key(cls, v: str) -> str:
        try:
            signing.public_from_text(v)
        except ValueError as e:
            raise ValueError(f"not an Ed25519 public key ({e})") from None
        return v

    @model_validator(mode="after")
    def _window(self) -> GatewayKey:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    @property
    def kid(self) -> str:
        return signing.key_id(signing.public_from_text(self.public_key))


GatewayKeys = Mapping[str, Sequence[GatewayKey]]  # gateway id -> its keys


class _HasKeys(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def keys(self) -> list[GatewayKey]: ...


def key_problems(gateways: Sequence[_HasKeys]) -> list[str]:
    """One key, one gateway: a key registered twice would let one gateway sign as another."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for i, g in enumerate(gateways):
        for j, k in enumerate(g.keys):
            other = seen.get(k.kid)
            if other is not None:
                problems.append(
                    f"gateways[{i}] (id {g.id!r}).keys[{j}]: key {k.kid} is already registered "
                    f"for gateway {other!r}; make a new key on each gateway"
                )
            seen[k.kid] = g.id
    return problems


def plant_keys(gateways: Sequence[_HasKeys]) -> dict[str, list[GatewayKey]]:
    return {g.id: list(g.keys) for g in gateways}


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    gateway: str
    kid: str
    public: Ed25519PublicKey
    valid_from_ms: int
    valid_to_ms: int | None
    revoked_at: dt.datetime | None


class KeyRing:
    """The registered keys by key id (parsed once: ingest looks one up per batch)."""

    def __init__(self, keys: GatewayKeys) -> None:
        self.by_kid: dict[str, RegisteredKey] = {}
        for gw, ks in keys.items():
            for k in ks:
                self.by_kid[k.kid] = RegisteredKey(
                    gw,
                    k.kid,
                    signing.public_from_text(k.public_key),
                    _ms(k.valid_from),
                    _ms(k.valid_to) if k.valid_to is not None else None,
                    k.revoked_at,
                )

    def __len__(self) -> int:
        return len(self.by_kid)

    def get(self, kid: str) -> RegisteredKey | None:
        return self.by_kid.get(kid)

    def gateways(self) -> set[str]:
        return {k.gateway for k in self.by_kid.values()}


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)
