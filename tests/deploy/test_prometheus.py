"""deploy/prometheus and deploy/alertmanager: promtool unit tests of the alert rules, the
scrape config and the Alertmanager config checked by their own tools, metric names real."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.metric_names import exposed
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
ALERTMANAGER = ROOT / "deploy" / "alertmanager"
METRIC = re.compile(r"\bcarbonstream_[a-z0-9_]+")


def run(cmd: list[str], cwd: Path | None = None) -> str:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"{' '.join(cmd)} failed:\n{out}"
    return out


@pytest.mark.slow
def test_alert_rules_pass_their_unit_tests() -> None:
    promtool = require_tool("promtool")
    out = run([promtool, "test", "rules", "carbonstream.test.yml"], cwd=PROM / "tests")
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((PROM / "rules" / "carbonstream.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((PROM / "tests" / "carbonstream.test.yml").read_text())
    tested = {
        case["alertname"]
        for t in tests["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a test that sees it fire, not only stay quiet
    }
    assert alerts == tested


def test_scrape_config_is_valid(tmp_path: Path) -> None:
    """promtool check config on a copy with /etc/prometheus pointing at the copy (it also
    checks the rule files and needs the credentials file to exist)."""
    promtool = require_tool("promtool")
    etc = tmp_path / "etc"
    shutil.copytree(PROM, etc)
    (etc / "secrets").mkdir()
    (etc / "secrets" / "prometheus_api_key").write_text("cs_test_token\n")
    conf = etc / "prometheus.yml"
    conf.write_text(conf.read_text().replace("/etc/prometheus/", f"{etc}/"))
    out = run([promtool, "check", "config", str(conf)])
    assert "SUCCESS" in out and "17 rules found" in out
    jobs = {j["job_name"] for j in yaml.safe_load(conf.read_text())["scrape_configs"]}
    assert {"carbonstream-api", "carbonstream-ingest", "carbonstream-gateway"} <= jobs
    for f in (PROM / "gateways").glob("*.yml"):
        for group in yaml.safe_load(f.read_text()):
            assert group["targets"] and {"gateway", "site"} <= set(group["labels"])


def test_alertmanager_config_is_valid() -> None:
    amtool = require_tool("amtool")
    out = run([amtool, "check-config", str(ALERTMANAGER / "alertmanager.yml")])
    assert "SUCCESS" in out


def test_rules_use_only_metrics_carbonstream_exposes() -> None:
    known = exposed()
    text = (PROM / "rules" / "carbonstream.yml").read_text()
    exprs = " ".join(r["expr"] for g in yaml.safe_load(text)["groups"] for r in g["rules"])
    used = set(METRIC.findall(exprs))
    assert used, "the rules should use carbonstream metrics"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"
