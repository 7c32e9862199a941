"""The v2 signed wire format and gateway keys: exact bytes, refusals, key files, keygen."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.cli import main
from carbonstream.config.gateway_keys import GatewayKey
from carbonstream.transport import signing
from carbonstream.transport.payload import (
    PayloadError,
    Reading,
    ReadingsMessage,
    decode_readings,
    encode_readings,
)

SCHEMA = Path(__file__).resolve().parents[1] / "src/carbonstream/transport/schema/readings-v2.json"
ROOT = Path(__file__).resolve().parents[1]


def _body() -> bytes:
    r = Reading(m="assembly-grid", t=1_795_305_000_000, v=1000.1, u="kWh")
    return encode_readings(ReadingsMessage(v=2, gateway="gw-a", stream="s", seq=1, readings=[r]))


def test_schema_file_is_current() -> None:
    assert SCHEMA.read_text() == signing.schema_text(), "regenerate: signing.schema_text()"


def test_the_receiver_verifies_the_exact_bytes_it_was_sent() -> None:
    key = Ed25519PrivateKey.generate()
    body = _body()
    env = signing.Signer(key).envelope(body)
    assert json.loads(env)["body"] == json.loads(body)  # plain JSON for any reader
    opened = signing.open_envelope(env)
    assert opened.body == body and opened.kid == signing.key_id(key.public_key())
    assert signing.verifies(key.public_key(), opened.signature, opened.body)
    assert decode_readings(opened.body, version=2).readings[0].v == 1000.1
    # The same meaning in other bytes (a re-encoding with spaces) is not what was signed.
    spaced = env.replace(b'"v":1000.1', b'"v": 1000.1')
    again = signing.open_envelope(spaced)
    assert not signing.verifies(key.public_key(), again.signature, again.body)


def test_a_signature_is_bound_to_the_format_version() -> None:
    key = Ed25519PrivateKey.generate()
    body = _body()
    plain_sig = key.sign(body)  # a signature over the body alone (no domain): refused
    assert not signing.verifies(key.public_key(), plain_sig, body)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not a v2 signed readings payload"),
        (b'{"v":1,"gateway":"g","stream":"s","seq":1,"readings":[]}', "not a v2 signed"),
        (
            b'{"v":3,"alg":"ed25519","kid":"0123456789abcdef","sig":"' + b"A" * 88 + b'",'
            b'"body":{}}',
            "payload version 3 on a v2 topic",
        ),
        (
            b'{"v":2,"alg":"ed25519","kid":"0123456789abcdef","sig":"' + b"!" * 88 + b'",'
            b'"body":{}}',
            "signature is not base64",
        ),
        (
            b'{"v":2,"alg":"rsa","kid":"0123456789abcdef","sig":"' + b"A" * 88 + b'","body":{}}',
            "not a v2 signed readings payload",
        ),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        signing.open_envelope(payload)


def test_v1_decoding_is_unchanged() -> None:
    r = Reading(m="m", t=1, v=1.0, u="kWh")
    v1 = encode_readings(ReadingsMessage(v=1, gateway="g", stream="s", seq=1, readings=[r]))
    assert decode_readings(v1).readings == [r]
    with pytest.raises(PayloadError, match="payload version 2 is not supported here"):
        decode_readings(_body())


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "gw.key"
    key = signing.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = signing.load_private(path)
    assert signing.key_id(loaded.public_key()) == signing.key_id(key.public_key())
    with pytest.raises(FileExistsError):
        signing.generate(path)
    path.chmod(0o644)
    with pytest.raises(signing.SigningKeyError, match="chmod 600"):
        signing.load_private(path)


def test_keygen_writes_the_key_and_prints_its_registration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = yaml.safe_load((ROOT / "gateways" / "assembly.yaml").read_text())
    gw["plant"] = str((ROOT / "gateways" / gw["plant"]).resolve())
    gw["signing"] = {"private_key_file": "keys/gw-assembly.key"}
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(yaml.safe_dump(gw))
    assert main(["gateway", "keygen", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    key_file = tmp_path / "keys" / "gw-assembly.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = (tmp_path / "keys" / "gw-assembly.key.pub").read_text().strip()
    # What it prints is a plant-file entry that loads and names this key.
    entry = yaml.safe_load(out[out.index("    keys:") :])["keys"][0]
    registered = GatewayKey.model_validate(entry)
    assert registered.public_key == public
    assert registered.kid == signing.key_id(signing.load_private(key_file).public_key())
    assert f"key id:      {registered.kid}" in out
    # Never overwritten: a second keygen is refused and the key stays.
    assert main(["gateway", "keygen", "--config", str(cfg)]) == 1
    assert "a key is never overwritten" in capsys.readouterr().err
    assert (tmp_path / "keys" / "gw-assembly.key.pub").read_text().strip() == public
