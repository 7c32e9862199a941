"""deploy/mosquitto run for real: a private Mosquitto on free ports with the deploy config
(paths and ports adapted, a test CA for its TLS listener), users made by add-user.sh, and
the ACL that ``carbonstream deploy acl`` generates from the example plant's gateways.

A gateway may publish only its own readings and status on its own site's topic, over
TLS, and reads nothing; ingest (carbonstream's own subscriber, password from the
environment) receives them through a shared subscription; strangers are refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import queue
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from carbonstream.cli import main
from carbonstream.ingest.mqtt import Subscriber
from carbonstream.ingest.settings import MqttSettings
from tests.services import _wait_port, free_port, unique
from tests.tools import require_tool

# slow: runs Mosquitto with the deploy ACLs (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mosquitto"
PLANT = ROOT / "config" / "plant.example.yaml"
NOT_AUTHORIZED = 135


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
) -> x509.Certificate:  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def make_certs(d: Path) -> Path:
    """A test CA and the broker's certificate for 127.0.0.1; returns the CA file."""
    d.mkdir()
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("carbonstream test CA", ca_key, None, None)
    server = _cert("127.0.0.1", key, ca, ca_key)
    pem = serialization.Encoding.PEM
    (d / "ca.crt").write_bytes(ca.public_bytes(pem))
    (d / "server.crt").write_bytes(server.public_bytes(pem))
    (d / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return d / "ca.crt"


@dataclass
class Broker:
    tls_port: int
    port: int
    ca: Path
    passwords: dict[str, str]
    workdir: Path


@pytest.fixture
def broker() -> Iterator[Broker]:
    mosquitto = require_tool("mosquitto")
    require_tool("mosquitto_passwd")
    # Not under pytest's tmp (0700, root's): mosquitto runs as its own user when root starts it.
    tmp_path = Path(tempfile.mkdtemp(prefix="carbonstream-mqtt-"))
    try:
        yield from _broker(mosquitto, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _broker(mosquitto: str, tmp_path: Path) -> Iterator[Broker]:
    conf_dir = tmp_path / "config"
    shutil.copytree(DEPLOY, conf_dir)
    (conf_dir / "acl").unlink()
    assert main(["deploy", "acl", "--config", str(PLANT), "--output", str(conf_dir / "acl")]) == 0
    passwords = {}
    for user in ("gw-assembly", "gw-foundry", "gw-rogue", "carbonstream-ingest", "healthcheck"):
        out = subprocess.run(
            [str(conf_dir / "add-user.sh"), user], capture_output=True, text=True, check=True
        )
        passwords[user] = out.stdout.strip().splitlines()[-1]
    assert len(set(passwords.values())) == 5 and all(len(p) >= 24 for p in passwords.values())
    ca = make_certs(tmp_path / "certs")
    (tmp_path / "data").mkdir()
    tls_port, port = free_port(), free_port()
    text = (DEPLOY / "mosquitto.conf").read_text()
    assert "listener 8883\n" in text and "listener 1883\n" in text
    text = (
        text.replace("/mosquitto/config/", f"{conf_dir}/")
        .replace("/mosquitto/certs/", f"{tmp_path}/certs/")
        .replace("/mosquitto/data/", f"{tmp_path}/data/")
        .replace("listener 8883\n", f"listener {tls_port} 127.0.0.1\n")
        .replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
        .replace("log_dest stdout", f"log_dest file {tmp_path}/mosquitto.log")
    )
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    if os.geteuid() == 0:  # mosquitto drops root for its own user, which must read the files
        owner = pwd.getpwnam("mosquitto")
        for p in [tmp_path, *tmp_path.rglob("*")]:
            os.chown(p, owner.pw_uid, owner.pw_gid)
    proc = subprocess.Popen([mosquitto, "-c", str(conf)])
    try:
        _wait_port(port, 10)
        _wait_port(tls_port, 10)
        yield Broker(tls_port, port, ca, passwords, tmp_path)
    finally:
        proc.terminate()
        proc.wait(10)


class Client:
    """A paho MQTT v5 client that records CONNACK, PUBACK reason codes and messages."""

    def __init__(
        self,
        b: Broker,
        user: str | None,
        password: str | None,
        tls: bool,
        port: int | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.messages: list[str] = []
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=unique("t-"), protocol=paho.MQTTv5)
        if user is not None:
            c.username_pw_set(user, password)
        if tls:
            c.tls_set(ca_certs=str(b.ca))
        c.on_connect = lambda cl, u, f, rc, p: self.connack.put(rc)
        c.on_publish = lambda cl, u, mid, rc, p: self.pubacks.__setitem__(mid, rc.value)
        c.on_message = lambda cl, u, m: self.messages.append(m.topic)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.subacks.__setitem__(mid, rcs)
        c.connect("127.0.0.1", port or (b.tls_port if tls else b.port))
        c.loop_start()
        self.client = c
        try:
            self.reason = self.connack.get(timeout=timeout_s)
        except queue.Empty:
            self.close()
            raise

    def publish(self, topic: str) -> int:
        """Publish at QoS 1; the PUBACK's reason code (135: not authorized)."""
        info = self.client.publish(topic, b'{"v":1}', qos=1)
        end = time.monotonic() + 10
        while info.mid not in self.pubacks and time.monotonic() < end:
            time.sleep(0.01)
        return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> list[ReasonCode]:
        """Subscribe at QoS 1; the SUBACK's reason codes, once the broker has answered."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        end = time.monotonic() + 10
        while mid not in self.subacks and time.monotonic() < end:
            time.sleep(0.01)
        return self.subacks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_gateway_publishes_only_its_own_topics(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MQTT_PASSWORD", broker.passwords["carbonstream-ingest"])
    ingest = Subscriber(
        MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            client_id=unique("ingest-"),
            username="carbonstream-ingest",
            password_env="TEST_MQTT_PASSWORD",
            shared_group="ingest",
        ),
        ["carbonstream/v1/+/+/readings", "carbonstream/v1/+/+/status"],
    )
    ingest.start()
    gw_a = Client(broker, "gw-assembly", broker.passwords["gw-assembly"], tls=True)
    gw_b = Client(broker, "gw-foundry", broker.passwords["gw-foundry"], tls=True)
    rogue = Client(broker, "gw-rogue", broker.passwords["gw-rogue"], tls=True)
    try:
        assert ingest.wait_connected(10)
        assert not any(c.reason.is_failure for c in (gw_a, gw_b, rogue))
        # A gateway reads nothing: its subscription is in place (SUBACK) before anything is
        # published, so a message it got would show below.
        assert gw_a.subscribe("carbonstream/v1/#")

        own = [
            "carbonstream/v1/assembly/gw-assembly/readings",
            "carbonstream/v1/assembly/gw-assembly/status",
        ]
        for topic in own:
            assert gw_a.publish(topic) != NOT_AUTHORIZED, topic
        for topic in (
            "carbonstream/v1/foundry/gw-assembly/readings",  # its own name, another site
            "carbonstream/v1/nosuchsite/gw-assembly/readings",  # a site the plant lacks
            "carbonstream/v1/foundry/gw-foundry/readings",  # impersonating another gateway
            "carbonstream/v1/assembly/gw-assembly/commands",  # not a topic it owns
            "carbonstream/v1/assembly/gw-assembly",
            "spBv1.0/plant1/NDATA/gw-assembly",
            "$SYS/broker/uptime",
        ):
            assert gw_a.publish(topic) == NOT_AUTHORIZED, topic
        # A broker user that is no gateway of the plant logs in but may publish nothing.
        for topic in (
            "carbonstream/v1/nosuchsite/gw-rogue/readings",
            "carbonstream/v1/foundry/gw-rogue/readings",
        ):
            assert rogue.publish(topic) == NOT_AUTHORIZED, topic
        assert gw_b.publish("carbonstream/v1/foundry/gw-foundry/readings") != NOT_AUTHORIZED

        # gw-foundry's was published last, after every refused one had its PUBACK: the broker
        # forwards in the order it accepted, so anything refused that went through anyway
        # arrives before it. Collect up to it, then whatever is already queued.
        want = [*own, "carbonstream/v1/foundry/gw-foundry/readings"]
        end = time.monotonic() + 30  # a hang bound
        got: list[str] = []
        while want[-1] not in got and time.monotonic() < end:
            with contextlib.suppress(queue.Empty):
                got.append(ingest.queue.get(timeout=0.1).topic)
        while not ingest.queue.empty():
            got.append(ingest.queue.get().topic)
        assert sorted(got) == sorted(want)
        assert gw_a.messages == []
    finally:
        gw_a.close()
        gw_b.close()
        rogue.close()
        ingest.stop()


def test_committed_acl_is_the_generated_one(tmp_path: Path) -> None:
    out = tmp_path / "acl"
    assert main(["deploy", "acl", "--config", str(PLANT), "--output", str(out)]) == 0
    assert out.read_text() == (DEPLOY / "acl").read_text()
    text = out.read_text()
    assert "topic write carbonstream/v1/assembly/gw-assembly/readings" in text
    assert "pattern" not in text and "carbonstream/v1/+/gw" not in text


def test_strangers_and_plain_text_are_refused(broker: Broker) -> None:
    for user, password in (
        (None, None),  # anonymous
        ("gw-assembly", "wrong password"),
        ("gw-z", broker.passwords["gw-assembly"]),  # a user not in the passwd file
    ):
        c = Client(broker, user, password, tls=True)
        try:
            assert c.reason.is_failure, (user, c.reason)
        finally:
            c.close()
    # A gateway's own credentials, without TLS, on the gateway listener: no CONNACK ever.
    with pytest.raises(queue.Empty):
        Client(broker, "gw-assembly", broker.passwords["gw-assembly"], tls=False,
               port=broker.tls_port,
               timeout_s=2)  # fmt: skip


def test_health_check_user(broker: Broker) -> None:
    """The compose health check: read the broker's uptime on the internal listener."""
    sub = shutil.which("mosquitto_sub")
    if sub is None:
        pytest.skip("mosquitto_sub not installed (Debian package mosquitto-clients)")
    out = subprocess.run(
        [sub, "-h", "127.0.0.1", "-p", str(broker.port), "-u", "healthcheck",
         "-P", broker.passwords["healthcheck"], "-t", "$SYS/broker/uptime", "-C", "1", "-W", "5"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    assert out.returncode == 0 and "seconds" in out.stdout
