"""deploy/systemd: the gateway unit passes systemd-analyze verify, its hardening scores
at most 2.5 ("OK") in systemd-analyze security, and its commands are real CLI commands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from carbonstream.cli import _parser
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "carbonstream-gateway@.service"
BINARY = "/opt/carbonstream/bin/carbonstream"


def directives(text: str) -> list[tuple[str, str]]:
    return [
        (k.strip(), v.strip())
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith(("#", "["))
        for k, v in [line.split("=", 1)]
    ]


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An instance of the template with the executable pointing at this checkout's CLI."""
    exe = shutil.which("carbonstream") or str(Path(__file__).parents[2] / ".venv/bin/carbonstream")
    unit = tmp_path / "carbonstream-gateway@gw-assembly.service"
    unit.write_text(UNIT.read_text().replace(BINARY, exe))
    return unit


def test_unit_verifies(instance: Path) -> None:
    tool = require_tool("systemd-analyze")
    p = subprocess.run([tool, "verify", str(instance)], capture_output=True, text=True)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr


def test_hardening_exposure_is_low(instance: Path) -> None:
    tool = require_tool("systemd-analyze")
    p = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=25", "--no-pager", str(instance)],
        capture_output=True,
        text=True,
    )
    # --threshold is on systemd's 0-100 scale: 25 is an exposure of 2.5
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    assert "Overall exposure level" in p.stdout


def test_commands_and_settings() -> None:
    d = directives(UNIT.read_text())
    keys = dict(d)
    parser = _parser()
    for k in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(keys[k].replace("%i", "gw-assembly"))
        assert argv[0] == BINARY
        args = parser.parse_args(argv[1:])
        assert str(args.config) == "/etc/carbonstream/gateways/gw-assembly.yaml"
    assert "--check" in keys["ExecStartPre"]
    assert keys["User"] == "carbonstream" and keys["Restart"] == "always"
    assert keys["StateDirectory"] == "carbonstream/%i"
    assert keys["EnvironmentFile"] == "/etc/carbonstream/gateways/%i.env"
    for k in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert k in keys
    assert keys["CapabilityBoundingSet"] == ""
