"""The gateway file: which broker, which devices, which meters, how to poll them.

Every field is documented in ``gateways/assembly.yaml``. A bad file fails at
start with each problem as ``field.path: reason`` (pydantic checks the shape;
``load_gateway`` adds the checks that need the plant file and the profiles).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from carbonstream.config.loader import load_model, load_plant
from carbonstream.config.plant import Identifier, Plant
from carbonstream.errors import ConfigError
from carbonstream.gateway.decode import DataType, Order
from carbonstream.gateway.grouping import MAX_READ_REGISTERS, Table
from carbonstream.transport import signing
from carbonstream.transport.settings import BrokerSettings
from carbonstream.transport.signing import Signer


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Register(_Model):
    """A register spelled out in the gateway file, for meters without a profile."""

    table: Table = Table.HOLDING
    address: int = Field(ge=0, le=65535, description="Zero-based address (register number - 1).")
    type: DataType = DataType.F32
    order: Order | None = Field(default=None, description="Overrides the device's order.")
    scale: float = 1.0
    unit: str | None = Field(default=None, description="Unit of the register after scale.")


class ModbusPoint(_Model):
    meter: Identifier
    quantity: str | None = Field(default=None, description="A quantity of the device's profile.")
    # "register" is the file's name for it; the attribute avoids BaseModel's own names.
    reg: Register | None = Field(default=None, alias="register")
    order: Order | None = Field(default=None, description="Overrides the profile's word order.")
    multiplier: float = Field(default=1.0, description="Device-side factor, e.g. a CT ratio.")
    offset: float = 0.0
    unit: str | None = Field(default=None, description="Needed when the gateway has no plant.")

    @model_validator(mode="after")
    def _one_source(self) -> ModbusPoint:
        if (self.quantity is None) == (self.reg is None):
            raise ValueError("give either 'quantity' (from the profile) or 'register'")
        return self


class Grouping(_Model):
    enabled: bool = True
    max_gap: int | None = Field(default=None, ge=0, description="Default: the profile's.")
    max_registers: int | None = Field(default=None, ge=1, le=MAX_READ_REGISTERS)


class Polling(_Model):
    interval_s: float = Field(default=1.0, gt=0, le=86400)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    backoff_max_s: float = Field(
        default=60.0, gt=0, description="Longest wait between attempts at a failing device."
    )


class Link(_Model):
    """A connection that devices share: a serial bus, or a Modbus TCP gateway."""

    id: Identifier
    transport: Literal["tcp", "rtu_over_tcp", "rtu"] = "tcp"
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    serial_port: str | None = Field(default=None, description="e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, ge=300)
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    pause_s: float = Field(
        default=0.0, ge=0, le=5, description="Quiet time between requests on this link."
    )

    @model_validator(mode="after")
    def _where(self) -> Link:
        if self.transport == "rtu":
            if not self.serial_port:
                raise ValueError("an rtu link needs 'serial_port'")
        elif not self.host:
            raise ValueError(f"a {self.transport} link needs 'host'")
        return self


class ModbusDevice(_Model):
    protocol: Literal["modbus"] = "modbus"
    id: Identifier
    link: Identifier | None = Field(default=None, description="A link id; or give host/port.")
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    transport: Literal["tcp", "rtu_over_tcp"] = "tcp"
    unit: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id.")
    profile: str | None = None
    order: Order | None = Field(default=None, description="Default word order of the device.")
    grouping: Grouping = Grouping()
    polling: Polling | None = None
    points: list[ModbusPoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _where(self) -> ModbusDevice:
        if (self.link is None) == (self.host is None):
            raise ValueError("give either 'link' (a shared connection) or 'host'")
        for i, p in enumerate(self.points):
            if p.quantity is not None and self.profile is None:
                raise ValueError(f"points[{i}] names a quantity but the device has no 'profile'")
        return self


class Security(_Model):
    policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None

    @model_validator(mode="after")
    def _pairs(self) -> Security:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("policy and mode are both None, or neither")
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError("a security policy needs 'certificate' and 'private_key'")
        return self


class OpcuaPoint(_Model):
    meter: Identifier
    node: str = Field(min_length=3, description="Node id, e.g. ns=2;s=foundry-steam")
    scale: float = 1.0
    unit: str | None = None


class OpcuaDevice(_Model):
    protocol: Literal["opcua"]
    id: Identifier
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    mode: Literal["subscription", "poll"] = "subscription"
    sampling_interval_ms: float = Field(default=1000, ge=0)
    publishing_interval_ms: float = Field(default=1000, gt=0)
    max_age_s: float | None = Field(
        default=None, gt=0, description="Older source timestamps are marked stale."
    )
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )
    security: Security = Security()
    polling: Polling | None = None
    points: list[OpcuaPoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _login(self) -> OpcuaDevice:
        if self.password_env is not None and self.username is None:
            raise ValueError("'password_env' needs 'username'")
        return self


def _protocol(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("protocol", "modbus"))
    return str(getattr(value, "protocol", "modbus"))


# protocol defaults to modbus, so the discriminator is a function rather than a field name.
Device = Annotated[
    Annotated[ModbusDevice, Tag("modbus")] | Annotated[OpcuaDevice, Tag("opcua")],
    Discriminator(_protocol),
]


class Publish(_Model):
    # 500: each batch carries one Ed25519 signature, which ingest verifies in about
    # 140 µs of CPU; at 500 readings that is 0.3 µs a reading (about 6 % of ingest's
    # cost per reading), at 100 it was 1.4 µs (about 25 %). A batch of 500 is about
    # 40 KB, far below the payload limits, and batch_interval_s still bounds latency.
    batch_max_readings: int = Field(default=500, ge=1, le=10_000)
    batch_interval_s: float = Field(default=1.0, gt=0, le=3600)
    max_inflight: int = Field(default=20, ge=1, le=1000)


class Buffer(_Model):
    path: Path = Field(description="SQLite queue file; relative to the gateway file's folder.")
    max_readings: int = Field(default=2_000_000, ge=100)
    when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="normal survives a killed process; full also survives power loss.",
    )


class Signing(_Model):
    """The gateway's Ed25519 key: every batch is signed with it (payload v2)."""

    private_key_file: Path | None = Field(
        default=None,
        description="PEM file made by `carbonstream gateway keygen` (mode 0600); relative to "
        "the gateway file.",
    )
    private_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of an environment variable holding the PEM text instead.",
    )

    @model_validator(mode="after")
    def _one(self) -> Signing:
        if (self.private_key_file is None) == (self.private_key_env is None):
            raise ValueError("give private_key_file or private_key_env (one of them)")
        return self


class Metrics(_Model):
    host: str = "127.0.0.1"
    port: int | None = Field(default=9108, ge=0, le=65535, description="None turns it off.")


class GatewayFile(_Model):
    id: Identifier
    site: Identifier
    plant: Path | None = Field(default=None, description="Plant file, for meter ids and units.")
    profile_dirs: list[Path] = Field(default_factory=list)
    broker: BrokerSettings
    publish: Publish = Publish()
    buffer: Buffer
    signing: Signing | None = Field(
        default=None,
        description="Sign every batch (v2). Without it batches go unsigned (v1), which "
        "ingest refuses unless it allows this gateway's unsigned input.",
    )
    metrics: Metrics = Metrics()
    polling: Polling = Polling()
    links: list[Link] = Field(default_factory=list)
    devices: list[Device] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> GatewayFile:
        ids = Counter(d.id for d in self.devices)
        dupes = sorted(i for i, n in ids.items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate device id(s): {', '.join(dupes)}")
        link_ids = {link.id for link in self.links}
        for d in self.devices:
            if isinstance(d, ModbusDevice) and d.link is not None and d.link not in link_ids:
                raise ValueError(f"device {d.id!r} names unknown link {d.link!r}")
        meters = Counter(p.meter for d in self.devices for p in d.points)
        twice = sorted(m for m, n in meters.items() if n > 1)
        if twice:
            raise ValueError(f"meter(s) read by more than one point: {', '.join(twice)}")
        return self

    def polling_of(self, device: ModbusDevice | OpcuaDevice) -> Polling:
        return device.polling or self.polling


class Gateway(BaseModel):
    """A loaded gateway file with paths resolved and the plant attached."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    file: GatewayFile
    plant: Plant | None
    base_dir: Path

    @property
    def buffer_path(self) -> Path:
        return (self.base_dir / self.file.buffer.path).resolve()

    @property
    def private_key_path(self) -> Path | None:
        s = self.file.signing
        if s is None or s.private_key_file is None:
            return None
        return (self.base_dir / s.private_key_file).resolve()

    def signer(self) -> Signer | None:
        """The batch signer, from the key file or variable; a bad key is a config error."""
        s = self.file.signing
        if s is None:
            return None
        try:
            path = self.private_key_path
            if path is not None:
                return Signer(signing.load_private(path))
            assert s.private_key_env is not None
            pem = os.environ.get(s.private_key_env)
            if pem is None:
                raise signing.SigningKeyError(
                    f"environment variable {s.private_key_env} is not set"
                )
            return Signer(signing.private_from_pem(pem.encode(), s.private_key_env))
        except signing.SigningKeyError as e:
            where = "private_key_file" if s.private_key_file else "private_key_env"
            raise ConfigError(
                "gateway file",
                [
                    f"signing.{where}: {e} (create a key with "
                    "`carbonstream gateway keygen --config <gateway file>`)"
                ],
            ) from None

    @property
    def profile_dirs(self) -> tuple[Path, ...]:
        return tuple((self.base_dir / p).resolve() for p in self.file.profile_dirs)


def load_gateway(path: str | Path) -> Gateway:
    """Load and check a gateway file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        gw = load_model(path, GatewayFile)
    except ConfigError as e:
        # pydantic puts the device's protocol tag in the path: devices[0].modbus.unit
        problems = [re.sub(r"\)\.(modbus|opcua)(\.|:)", r")\2", p) for p in e.problems]
        raise ConfigError(e.source, problems) from None
    base = path.parent
    plant = load_plant((base / gw.plant).resolve()) if gw.plant else None
    gateway = Gateway(file=gw, plant=plant, base_dir=base)
    problems = check(gateway)
    if problems:
        raise ConfigError(str(path), problems)
    return gateway


def _binding_problems(gw: GatewayFile, plant: Plant | None) -> list[str]:
    """A gateway the plant's gateways: section names must read only its bound meters, on
    its bound site: anything else ingest would refuse, so it fails here, at start."""
    bound = next((g for g in plant.gateways if g.id == gw.id), None) if plant else None
    if bound is None:
        return []
    problems = []
    if gw.site != bound.site:
        problems.append(
            f"site: {gw.site!r} is not {bound.site!r}, the site the plant binds gateway "
            f"{gw.id!r} to (gateways: section)"
        )
    mine = set(bound.meters)
    for i, device in enumerate(gw.devices):
        for j, point in enumerate(device.points):
            assert isinstance(point, ModbusPoint | OpcuaPoint)
            if point.meter not in mine:
                problems.append(
                    f"devices[{i}] (id {device.id!r}).points[{j}] (meter {point.meter!r}): "
                    f"the plant does not bind meter {point.meter!r} to gateway {gw.id!r}; "
                    "ingest would refuse its readings: add it to the gateway's meters in the "
                    "plant's gateways: section, or remove the point"
                )
    return problems


def check(gateway: Gateway) -> list[str]:
    """Checks that need the plant and the profiles; each problem names its field."""
    from carbonstream.gateway.points import resolve_device

    problems: list[str] = []
    gw, plant = gateway.file, gateway.plant
    if plant is not None and gw.site not in {s.id for s in plant.sites}:
        problems.append(f"site: {gw.site!r} is not a site of plant {plant.name!r}")
    if gw.broker.password_env and gw.broker.password_env not in os.environ:
        problems.append(
            f"broker.password_env: environment variable {gw.broker.password_env} is not set"
        )
    if gw.signing is not None:
        try:
            gateway.signer()
        except ConfigError as e:
            problems.extend(e.problems)
    problems += _binding_problems(gw, plant)
    for i, device in enumerate(gw.devices):
        where = f"devices[{i}] (id {device.id!r})"
        env = getattr(device, "password_env", None)
        if env is not None and env not in os.environ:
            problems.append(f"{where}.password_env: environment variable {env} is not set")
        try:
            resolve_device(gateway, device)
        except ConfigError as e:
            problems.extend(f"{where}.{p}" for p in e.problems)
    return problems
