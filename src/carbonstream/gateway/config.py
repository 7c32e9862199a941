"""The gateway file: which broker, which devices, which meters, how to poll them.

Every field is documented in ``gateways/assembly.yaml``. A bad file fails at
start with each problem as ``field.path: reason`` (pydantic checks the shape;
``load_gateway`` adds the checks that need the plant file and the profiles).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from carbonstream.config.loader import load_model, load_plant
from carbonstream.config.plant import Identifier, Plant
from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError
from carbonstream.gateway import registry
from carbonstream.gateway.links import Link
from carbonstream.gateway.source import ConfigModel, DeviceConfig, Polling, Site
from carbonstream.transport import signing
from carbonstream.transport.settings import BrokerSettings
from carbonstream.transport.signing import Signer

# A devices: entry is validated as the config model of its protocol: the union is built
# by the registry from every protocol module, so a new protocol needs no edit here.
Device = Annotated[DeviceConfig, PlainValidator(registry.validate_device)]


class Publish(ConfigModel):
    # 500: each batch carries one Ed25519 signature, which ingest verifies in about
    # 140 µs of CPU; at 500 readings that is 0.3 µs a reading (about 6 % of ingest's
    # cost per reading), at 100 it was 1.4 µs (about 25 %). A batch of 500 is about
    # 40 KB, far below the payload limits, and batch_interval_s still bounds latency.
    batch_max_readings: int = Field(default=500, ge=1, le=10_000)
    batch_interval_s: float = Field(default=1.0, gt=0, le=3600)
    max_inflight: int = Field(default=20, ge=1, le=1000)


class Buffer(ConfigModel):
    path: Path = Field(description="SQLite queue file; relative to the gateway file's folder.")
    max_readings: int = Field(default=2_000_000, ge=100)
    when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="normal survives a killed process; full also survives power loss.",
    )


_KEYGEN = "(create a key with `carbonstream gateway keygen --config <gateway file>`)"


class Signing(ConfigModel):
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


class Metrics(ConfigModel):
    host: str = "127.0.0.1"
    port: int | None = Field(default=9108, ge=0, le=65535, description="None turns it off.")


class GatewayFile(ConfigModel):
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
        links = Counter(link.id for link in self.links)
        twice = sorted(i for i, n in links.items() if n > 1)
        if twice:
            raise ValueError(f"duplicate link id(s): {', '.join(twice)}")
        meters = Counter(p.meter for d in self.devices for p in d.points)
        twice = sorted(m for m, n in meters.items() if n > 1)
        if twice:
            raise ValueError(f"meter(s) read by more than one point: {', '.join(twice)}")
        return self

    def polling_of(self, device: DeviceConfig) -> Polling:
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
            pem = env_secret(
                "signing.private_key_env",
                s.private_key_env,
                source="gateway file",
                fix=f"set it to the key's PEM text, or give signing.private_key_file {_KEYGEN}",
            )
            return Signer(signing.private_from_pem(pem.encode(), s.private_key_env))
        except signing.SigningKeyError as e:
            where = "private_key_file" if s.private_key_file else "private_key_env"
            raise ConfigError(
                "gateway file",
                [f"signing.{where}: {e} {_KEYGEN}"],
            ) from None

    @property
    def profile_dirs(self) -> tuple[Path, ...]:
        return tuple((self.base_dir / p).resolve() for p in self.file.profile_dirs)

    def site(self) -> Site:
        """What the protocols' hubs are told of this gateway."""
        return Site(
            id=self.file.site,
            plant=self.plant,
            profile_dirs=self.profile_dirs,
            links={link.id: link for link in self.file.links},
        )


def load_gateway(path: str | Path) -> Gateway:
    """Load and check a gateway file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        gw = load_model(path, GatewayFile)
    except ConfigError as e:
        # pydantic puts the device's protocol tag in the path: devices[0].modbus.unit
        tags = "|".join(re.escape(p) for p in registry.protocols())
        problems = [re.sub(rf"\)\.({tags})(\.|:)", r")\2", p) for p in e.problems]
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
    problems: list[str] = []
    gw, plant = gateway.file, gateway.plant
    if plant is not None and gw.site not in {s.id for s in plant.sites}:
        problems.append(f"site: {gw.site!r} is not a site of plant {plant.name!r}")
    try:
        gw.broker.password()
    except ConfigError as e:
        problems.extend(f"{e.source}: {p}" for p in e.problems)
    if gw.signing is not None:
        try:
            gateway.signer()
        except ConfigError as e:
            problems.extend(e.problems)
    problems += _binding_problems(gw, plant)
    site = gateway.site()
    hubs = {name: spec.hub(site) for name, spec in registry.protocols().items()}
    for i, device in enumerate(gw.devices):
        where = f"devices[{i}] (id {device.id!r})"
        problems.extend(f"{where}.{p}" for p in hubs[device.protocol].check(device))
    return problems
