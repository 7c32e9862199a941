"""Every secret a settings field names is read one way: ``carbonstream.envsecret``.

Each reader (ingest's MQTT password, the gateway's broker password, an OPC UA device's
password, the gateway's signing key, an alert webhook's HMAC secret) refuses an unset
variable, and one set to nothing or only whitespace, the same way: a ConfigError naming
the field, the variable and the fix; set, it reads the value as given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from carbonstream.alerts.rules import AlertsConfig, bind
from carbonstream.config.loader import load_plant, validate
from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError
from carbonstream.gateway.config import Gateway, GatewayFile, check
from carbonstream.gateway.protocols.opcua import OpcuaDevice, read_password
from carbonstream.ingest.settings import MqttSettings
from carbonstream.transport import signing
from carbonstream.transport.settings import BrokerSettings

VAR = "CARBONSTREAM_TEST_ENVSECRET"


def _device(**login: str) -> dict[str, object]:
    return {
        "protocol": "opcua",
        "id": "scada",
        "endpoint": "opc.tcp://127.0.0.1:4840/",
        **login,
        "points": [{"meter": "steam", "node": "ns=2;s=steam", "unit": "t"}],
    }


def _gateway(tmp_path: Path, **extra: object) -> Gateway:
    data = {
        "id": "gw1",
        "site": "s1",
        "broker": {},
        "buffer": {"path": str(tmp_path / "q.sqlite")},
        "metrics": {"port": None},
        "devices": [_device()],
        **extra,
    }
    return Gateway(file=validate(data, GatewayFile, "test"), plant=None, base_dir=tmp_path)


def _opcua() -> OpcuaDevice:
    device = _device(username="operator", password_env=VAR)
    return validate(device, OpcuaDevice, "test")


# (reader, the field its error names, the fix it gives)
READERS: list[tuple[str, Callable[[Path], object], str, str]] = [
    (
        "ingest mqtt",
        lambda _: MqttSettings(username="ingest", password_env=VAR).secret(),
        "mqtt.password_env",
        "set it, or remove mqtt.password_env",
    ),
    (
        "gateway broker",
        lambda _: BrokerSettings(username="gw", password_env=VAR).password(),
        "broker.password_env",
        "set it, or remove broker.password_env",
    ),
    ("opcua device", lambda _: read_password(_opcua()), "password_env", "remove password_env"),
    (
        "signing key",
        lambda tmp: _gateway(tmp, signing={"private_key_env": VAR}).signer(),
        "signing.private_key_env",
        "carbonstream gateway keygen",
    ),
]


# What the variable holds (None: unset), and how the refusal says it.
UNUSABLE = [(None, "is not set"), ("", "is empty"), (" \t\n", "is only whitespace")]


@pytest.mark.parametrize(("value", "state"), UNUSABLE, ids=["unset", "empty", "whitespace"])
@pytest.mark.parametrize(
    ("reader", "field", "fix"), [r[1:] for r in READERS], ids=[r[0] for r in READERS]
)
def test_an_unset_or_blank_secret_is_refused_naming_field_variable_and_fix(
    reader: Callable[[Path], object],
    field: str,
    fix: str,
    value: str | None,
    state: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if value is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, value)
    with pytest.raises(ConfigError) as e:
        reader(tmp_path)
    text = str(e.value)
    assert f"{field}: environment variable {VAR} {state}: " in text or (
        e.value.source == field and f"environment variable {VAR} {state}: " in text
    ), text
    assert fix in text, text


@pytest.mark.parametrize(("value", "state"), UNUSABLE, ids=["unset", "empty", "whitespace"])
def test_a_webhook_secret_is_read_the_same_way(
    value: str | None, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant = load_plant(Path(__file__).resolve().parents[1] / "config" / "plant.example.yaml")
    hooks = AlertsConfig.model_validate(
        {"webhooks": [{"id": "ops", "url": "http://127.0.0.1:9/", "secret_env": VAR}]}
    )
    if value is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, value)
    with pytest.raises(ConfigError) as e:
        bind(hooks, plant, source="alerts.yaml")
    assert e.value.source == "alerts.yaml"
    assert e.value.problems == [
        f"webhooks[0] (id 'ops').secret_env: environment variable {VAR} {state}: "
        "set it, or remove webhooks[0] (id 'ops').secret_env"
    ]
    monkeypatch.setenv(VAR, " s3cret ")
    assert bind(hooks, plant).webhooks[0].secret_env == VAR
    assert env_secret("secret_env", VAR) == " s3cret "  # as set: not stripped


def test_a_set_secret_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "s3cret")
    assert MqttSettings(username="ingest", password_env=VAR).secret() == "s3cret"
    assert BrokerSettings(username="gw", password_env=VAR).password() == "s3cret"
    assert read_password(_opcua()) == "s3cret"
    key = tmp_path / "gw.key"
    signing.generate(key)
    monkeypatch.setenv(VAR, key.read_text())
    signer = _gateway(tmp_path, signing={"private_key_env": VAR}).signer()
    assert signer is not None


def test_a_gateway_check_lists_an_unset_broker_secret_as_one_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VAR, raising=False)
    gateway = _gateway(tmp_path, broker={"username": "gw", "password_env": VAR})
    assert check(gateway) == [
        f"broker.password_env: environment variable {VAR} is not set: "
        "set it, or remove broker.password_env"
    ]
    monkeypatch.setenv(VAR, "s3cret")
    assert check(gateway) == []


def test_source_puts_the_field_in_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    with pytest.raises(ConfigError) as e:
        env_secret("password_env", VAR, source="device 'scada'", fix="ask the operator")
    assert e.value.source == "device 'scada'"
    assert e.value.problems == [
        f"password_env: environment variable {VAR} is not set: ask the operator"
    ]
