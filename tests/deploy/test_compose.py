"""deploy/compose.yaml: secrets made by make-secrets.sh, the file resolved by
`docker-compose config` (no Docker engine needed), and the pieces agreeing with each other:
health checks, published ports, secrets only through env_file, the carbonstream settings
files the containers read, the commands they run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.alerts.rules import bind
from carbonstream.api import load_api_settings
from carbonstream.cli import _parser
from carbonstream.config.loader import load_plant
from carbonstream.ingest.settings import load_ingest_settings
from tests.tools import require_tool

# slow: renders the compose stack (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = {"mosquitto", "db", "migrate", "ingest", "api", "prometheus", "alertmanager", "grafana"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY\b|DB_URL", re.IGNORECASE)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's deploy/ with secrets made, next to the package sources."""
    require_tool("mosquitto_passwd")  # make-secrets.sh adds the broker users
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(DEPLOY, repo / "deploy", ignore=shutil.ignore_patterns("secrets", "passwd"))
    for name in ("pyproject.toml", "README.md", "src"):
        (repo / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "config" / "plant.example.yaml", repo / "deploy/carbonstream/plant.yaml")
    # ... and every file it names (factor files, hourly profiles, lot and material files):
    # the example plant names only CSV files beside it; readings are not among them.
    for named in (ROOT / "config").glob("*.csv"):
        if named.name != "readings.example.csv":
            shutil.copy(named, repo / "deploy/carbonstream")
    p = subprocess.run(
        [str(repo / "deploy" / "make-secrets.sh")], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    return repo / "deploy"


@pytest.fixture(scope="module")
def config(deployed: Path) -> dict[str, Any]:
    tool = require_tool("docker-compose")
    p = subprocess.run(
        [tool, "-f", str(deployed / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    c: dict[str, Any] = yaml.safe_load(p.stdout)
    return c


def test_make_secrets_once(deployed: Path) -> None:
    s = deployed / "secrets"
    assert (s.stat().st_mode & 0o077) == 0, "secrets/ must be private to its owner"
    env = {
        k: v
        for f in s.glob("*.env")
        for k, v in (line.split("=", 1) for line in f.read_text().splitlines())
    }
    assert env["CARBONSTREAM_DB_URL"].startswith("postgresql://carbonstream:")
    assert len(env["POSTGRES_PASSWORD"]) == 32
    passwd = (deployed / "mosquitto" / "passwd").read_text()
    assert "carbonstream-ingest:" in passwd and "healthcheck:" in passwd
    assert env["CARBONSTREAM_MQTT_PASSWORD"] not in passwd  # hashed
    again = subprocess.run([str(deployed / "make-secrets.sh")], capture_output=True, text=True)
    assert again.returncode == 1 and "not overwriting" in again.stderr


def test_compose_services_and_health_checks(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == SERVICES
    for name, s in services.items():
        if name == "migrate":  # one shot, before ingest and the API
            assert s["restart"] == "no"
            continue
        assert s["restart"] == "unless-stopped", name
        assert s.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("ingest", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["ingest"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_published_ports(config: dict[str, Any]) -> None:
    published: dict[str, list[str]] = {}
    for name, s in config["services"].items():
        for p in s.get("ports", []):
            if isinstance(p, dict):  # docker-compose prints "a:b" as a mapping
                p = f"{p.get('host_ip', '0.0.0.0')}:{p['published']}:{p['target']}"
            published.setdefault(name, []).append(p.removesuffix("/tcp"))
    assert published == {
        "mosquitto": ["0.0.0.0:8883:8883"],  # TLS only; 1883 stays on the compose network
        "api": ["0.0.0.0:8080:8080"],
        "grafana": ["0.0.0.0:3000:3000"],
        "prometheus": ["127.0.0.1:9090:9090"],
        "alertmanager": ["127.0.0.1:9093:9093"],
    }


def test_secrets_only_through_env_files(config: dict[str, Any], deployed: Path) -> None:
    committed = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, s in committed["services"].items():
        for key in s.get("environment", {}):
            assert not SECRET_NAME.search(key), f"{name}: {key} must come from an env_file"
    for name, s in config["services"].items():
        for f in s.get("env_file", []):
            rel = Path(f).relative_to(deployed)
            assert rel.parts[0] == "secrets", f"{name}: env_file {f} outside deploy/secrets"
        for v in s.get("volumes", []):
            source = str(v).split(":")[0] if isinstance(v, str) else str(v.get("source"))
            if "secrets" in source:
                assert str(v).endswith(":ro") or (isinstance(v, dict) and v.get("read_only"))
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/secrets/db.env", "deploy/mosquitto/passwd"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["deploy/secrets/db.env", "deploy/mosquitto/passwd"]
    # and nothing in the committed deploy files looks like a literal secret
    tracked = subprocess.run(
        ["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # a key named like a secret with a long literal value (not a path, not a variable)
    literal = re.compile(r"(?i)(password|secret|token)\s*[:=]\s*['\"]?[A-Za-z0-9+]{12,}")
    for f in tracked:
        path = ROOT / f
        if path.exists():
            text = path.read_text(errors="replace")
            assert not literal.search(text), f"{f}: {literal.search(text)}"


def test_carbonstream_settings_agree_with_compose(config: dict[str, Any], deployed: Path) -> None:
    ingest = load_ingest_settings(deployed / "carbonstream" / "ingest.yaml")
    api = load_api_settings(deployed / "carbonstream" / "api.yaml")
    plant = load_plant(api.plant)
    assert api.alerts is not None
    bind(api.alerts, plant)
    assert ingest.mqtt.host in config["services"] and ingest.mqtt.port == 1883
    assert ingest.mqtt.password_env == "CARBONSTREAM_MQTT_PASSWORD"
    assert not ingest.database.migrate_on_start and not api.database.migrate_on_start
    assert ingest.metrics_host == "0.0.0.0" and api.host == "0.0.0.0"
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        j["job_name"]: j["static_configs"][0]["targets"]
        for j in prom["scrape_configs"]
        if "static_configs" in j
    }
    assert targets["carbonstream-ingest"] == [f"ingest:{ingest.metrics_port}"]
    assert targets["carbonstream-api"] == [f"api:{api.port}"]
    # every carbonstream command the containers run parses with the real CLI
    parser = _parser()
    for name in ("migrate", "ingest", "api"):
        args = parser.parse_args(config["services"][name]["command"])
        assert Path(args.config).parent == Path("/etc/carbonstream")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["carbonstream"]' in dockerfile and "USER carbonstream" in dockerfile
