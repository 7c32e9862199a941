"""The demo's parts, configured for one run: ports, broker, gateway files, ingest, API.

Everything listens on 127.0.0.1 on ports the kernel hands out (the API on
8080 when that is free), so the demo never clashes with a PostgreSQL on 5432
or a Mosquitto on 1883 already running on the machine.
"""

from __future__ import annotations

import copy
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from carbonstream.config.database import DatabaseSettings
from carbonstream.config.loader import load_plant, validate
from carbonstream.config.plant import Plant
from carbonstream.errors import CarbonstreamError
from carbonstream.gateway.config import Gateway, GatewayFile, check
from carbonstream.ingest.settings import IngestSettings, MqttSettings
from carbonstream.transport.topics import SIGNED_READINGS_SUBSCRIPTION

PASSWORD_ENV = "CARBONSTREAM_DEMO_MQTT_PASSWORD"  # noqa: S105 - a variable's name, not a secret
DEFAULT_API_PORT = 8080


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        u = urlsplit(url)
        if u.scheme != "mqtt" or not u.hostname:
            raise CarbonstreamError(
                f"--broker-url {url!r}: expected mqtt://[user:password@]host[:port] "
                "(TLS brokers: run the parts with their own config files)"
            )
        return cls(
            u.hostname,
            u.port or 1883,
            unquote(u.username) if u.username else None,
            unquote(u.password) if u.password else None,
        )


def find_file(relative: str) -> Path:
    """An example file of the repository: from the working directory, else the source tree."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base / relative).exists():
            return (base / relative).resolve()
    raise CarbonstreamError(
        f"{relative} not found: run carbonstream demo from the repository's folder "
        "(or give --plant and --gateway)"
    )


def gateway(
    path: Path,
    plant_file: Path,
    broker: BrokerUrl,
    *,
    prefix: str,
    run_id: str,
    queue_dir: Path,
    modbus_port: int,
    opcua_port: int,
    key_file: Path | None = None,
) -> Gateway:
    """A gateway file adapted to this run: broker, simulator ports, queue, no metrics port."""
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))
    data["plant"] = str(plant_file)
    data["broker"] = {
        **data.get("broker", {}),
        "host": broker.host,
        "port": broker.port,
        "client_id": f"{data['id']}-{run_id}",
        "topic_prefix": prefix,
        "username": broker.username,
        "password_env": PASSWORD_ENV if broker.password else None,
    }
    data["buffer"] = {**data.get("buffer", {}), "path": str(queue_dir / f"{data['id']}.sqlite")}
    data["metrics"] = {"port": None}
    if key_file is not None:
        data["signing"] = {"private_key_file": str(key_file)}
    for link in data.get("links", []):
        if link.get("transport", "tcp") != "rtu":
            link["host"], link["port"] = "127.0.0.1", modbus_port
    for d in data["devices"]:
        if d.get("protocol") == "opcua":
            d["endpoint"] = f"opc.tcp://127.0.0.1:{opcua_port}/carbonstream/"
        elif "host" in d:
            d["host"], d["port"] = "127.0.0.1", modbus_port
    if broker.password:
        os.environ[PASSWORD_ENV] = broker.password
    gw = Gateway(
        file=validate(data, GatewayFile, str(path)),
        plant=load_plant(plant_file),
        base_dir=path.parent,
    )
    problems = check(gw)
    if problems:
        raise CarbonstreamError(f"{path}: " + "; ".join(problems))
    return gw


def demo_keys(files: list[Path], plant: Plant, key_dir: Path) -> tuple[dict[Path, Path], Plant]:
    """A fresh signing key per gateway file, and the plant with their public keys registered."""
    import datetime as dt

    from carbonstream.config.gateway_keys import GatewayKey
    from carbonstream.transport import signing

    files_keys: dict[Path, Path] = {}
    registered: dict[str, GatewayKey] = {}
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)  # the simulator's clock is now
    for path in files:
        gw_id = str(yaml.safe_load(path.read_text(encoding="utf-8"))["id"])
        key_file = key_dir / f"{gw_id}.key"
        private = signing.generate(key_file)
        files_keys[path] = key_file
        registered[gw_id] = GatewayKey(
            public_key=signing.public_text(private.public_key()),
            valid_from=since,
            note="made by carbonstream demo at start",
        )
    gateways = [
        g.model_copy(update={"keys": [registered[g.id]]}) if g.id in registered else g
        for g in plant.gateways
    ]
    return files_keys, plant.model_copy(update={"gateways": gateways})


def ingest_settings(
    plant_file: Path, broker: BrokerUrl, *, embedded_broker: bool, prefix: str, run_id: str
) -> IngestSettings:
    from pydantic import SecretStr

    return IngestSettings(
        plant=str(plant_file),
        mqtt=MqttSettings(
            host=broker.host,
            port=broker.port,
            client_id=f"carbonstream-demo-{run_id}",
            username=broker.username,
            password=SecretStr(broker.password) if broker.password else None,
            topics=[prefix + SIGNED_READINGS_SUBSCRIPTION],
            protocol="3.1.1" if embedded_broker else "5",
            session_expiry_s=600,
        ),
        database=DatabaseSettings(migrate_on_start=True),
        metrics_port=None,
    )
