"""`carbonstream gateway keygen`: the gateway's signing key, made on the gateway.

The private key never leaves the machine that made it (PEM file, mode 0600,
never overwritten); what is printed, and written beside it as ``<key>.pub``, is
the public half and the plant-file entry that registers it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from carbonstream.config.loader import load_model
from carbonstream.errors import CarbonstreamError
from carbonstream.gateway.config import GatewayFile
from carbonstream.transport import signing


def keygen(config: Path | None, key: Path | None, gateway: str | None) -> str:
    """Make the key; returns the text to show (what to register in the plant file)."""
    if config is not None:
        gw = load_model(config, GatewayFile)
        s = gw.signing
        if s is None or s.private_key_file is None:
            raise CarbonstreamError(
                f"{config}: no signing.private_key_file to write the key to; add "
                "`signing: {private_key_file: <path>}` or give --key and --gateway"
            )
        path = (config.parent / s.private_key_file).resolve()
        gateway = gw.id
    elif key is not None and gateway is not None:
        path = key
    else:
        raise CarbonstreamError("give --config (a gateway file), or --key and --gateway")
    if path.exists():
        raise CarbonstreamError(
            f"{path} exists: a key is never overwritten. To rotate, write the new key to a "
            "new file, register it, then point signing.private_key_file at it"
        )
    private = signing.generate(path)
    public = signing.public_text(private.public_key())
    kid = signing.key_id(private.public_key())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    path.with_name(path.name + ".pub").write_text(public + "\n", encoding="utf-8")
    return (
        f"private key: {path} (mode 0600; keep it on this gateway)\n"
        f"public key:  {path}.pub\n"
        f"key id:      {kid}\n"
        "\n"
        f"Register it under gateway {gateway}'s entry of the plant file's gateways: section\n"
        "(next to id, site and meters), then restart ingest:\n"
        "\n"
        "    keys:\n"
        f'      - public_key: "{public}"\n'
        f"        valid_from: {now}\n"
    )
