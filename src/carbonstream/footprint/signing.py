"""Ed25519 signatures over the disclosure's exact bytes, checkable with standard tools:

    openssl pkeyutl -verify -pubin -inkey disclosure.pub.pem -rawin \
        -in disclosure.json -sigfile disclosure.json.sig

The private key is a PEM (PKCS#8) file named by an environment variable; it is never in
the plant file or the repository.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.i18n import Msg
from carbonstream.refusals import SigningKeyError

MAX_KEY_FILE_BYTES = 16_384


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_signer(env_var: str) -> Signer:
    """The key in the file named by ``$env_var``, or SigningKeyError saying what to do."""
    path = os.environ.get(env_var, "").strip()
    if not path:
        raise SigningKeyError(Msg("problems.detail.signing-key-unset", {"env": env_var}))
    p = Path(path)
    try:
        if p.stat().st_size > MAX_KEY_FILE_BYTES:
            raise SigningKeyError(
                Msg("problems.detail.signing-key-too-large", {"env": env_var, "path": path})
            )
        data = p.read_bytes()
    except OSError as e:
        raise SigningKeyError(
            Msg(
                "problems.detail.signing-key-unreadable",
                {"env": env_var, "path": path, "reason": e.strerror},
            )
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(
            Msg("problems.detail.signing-key-not-pem", {"env": env_var, "path": path})
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            Msg("problems.detail.signing-key-not-ed25519", {"env": env_var, "path": path})
        )
    return Signer(key)


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes served and signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_key_pem() -> bytes:
    """A fresh private key as PKCS#8 PEM (for the demo and tests)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
