"""From the demo to the other commands: `carbonstream demo`, run from a fresh clone,
prints its database URL and three commands; each works against it while it runs
(the monthly report, compute on an evidence export, the API keys).

The demo is given a fresh database on the shared PostgreSQL (--db-url) so the test does
not depend on the embedded one; the commands are run exactly as printed (with this
interpreter standing in for the `carbonstream` script) from the clone's folder.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "carbonstream"]


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line)
    assert argv[0] == "carbonstream", line
    return subprocess.run(
        [*CLI, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_the_demos_printed_commands_work_against_it(db_url: str, tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBONSTREAM_DB")}
    env |= {"PYTHONPATH": str(clone / "src"), "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [*CLI, "demo", "--duration", "150", "--port", str(free_port()), "--db-url", db_url],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert demo.stdout is not None
    out_stream = demo.stdout
    threading.Thread(target=lambda: lines.extend(out_stream), daemon=True).start()
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 90 and demo.poll() is None:
            if any("carbonstream keys list" in line for line in lines):
                break
            time.sleep(0.2)
        out = "".join(lines)
        printed = re.search(r"^  database    (\S+)$", out, re.M)
        assert printed is not None, out
        assert printed.group(1) == db_url
        commands = [line.strip() for line in lines if line.startswith("  carbonstream ")]
        assert len(commands) == 3, out
        report, export_compute, keys = commands

        r = _run(report, clone, env)
        assert r.returncode == 0, r.stderr + r.stdout
        assert (clone / "demo-report.pdf").read_bytes()[:5] == b"%PDF-"
        assert (clone / "demo-report.xlsx").read_bytes()[:2] == b"PK"
        assert "Scope 1" in r.stdout

        export, compute = export_compute.split(" && ")
        r = _run(export, clone, env)
        assert r.returncode == 0, r.stderr + r.stdout
        n = int(re.search(r"exported (\d+) readings", r.stdout).group(1))  # type: ignore[union-attr]
        assert n > 0
        r = _run(compute, clone, env)
        assert r.returncode == 0, r.stderr + r.stdout
        assert "foundry" in r.stdout

        r = _run(keys, clone, env)
        assert r.returncode == 0, r.stderr + r.stdout
        assert "viewer" in r.stdout
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            try:
                demo.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(10)
