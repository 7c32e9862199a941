"""`carbonstream demo --duration 90` from a fresh clone of this repository serves a live
plant whose emissions grow, with the opportunities its stored weeks of history show, and
leaves nothing running when it stops.

The clone is run with this environment's interpreter and the clone's own sources
first on the path (no reinstall), from the clone's folder as a user would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
# Start-up takes 30-45 s on a busy 2-core host (4 s of it the stored history); the checks
# after it (totals growing over 15 s, the first lot's footprint) need the rest.
DURATION_S = 90
COMMAND = [sys.executable, "-m", "carbonstream", "demo"]


def _our_processes(marker: str) -> list[tuple[int, str]]:
    """Processes whose command line names ``marker`` (the clone's unique path)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append((int(proc.name), cmd.strip()))
    return found


def _today_total(base: str, key: str) -> tuple[float, dict[str, object]]:
    r = httpx.get(f"{base}/v1/live", headers={"X-API-Key": key}, timeout=10)
    assert r.status_code == 200, r.text
    snap = r.json()
    return sum(s["today"]["total_t"] for s in snap["sites"]), snap


@pytest.mark.slow
def test_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBONSTREAM_DB")}
    env |= {"PYTHONPATH": str(clone / "src"), "PYTHONUNBUFFERED": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import carbonstream; print(carbonstream.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(clone / "src")), where

    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*COMMAND, "--duration", str(DURATION_S), "--port", str(port)],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()
    try:
        key = None
        while key is None and time.monotonic() - t0 < 60 and proc.poll() is None:
            m = re.search(r"#key=(cs_[A-Za-z0-9_-]+)", "".join(lines))
            key = m.group(1) if m else None
            time.sleep(0.2)
        out = "".join(lines)
        assert key is not None, f"no live page link after 60 s:\n{out}"
        ready_s = time.monotonic() - t0
        assert "[1/9] starting PostgreSQL" in out  # the progress steps
        base = f"http://127.0.0.1:{port}"
        assert f"live page   {base}/#key={key}" in out

        first, _ = _today_total(base, key)
        with httpx.stream(
            "GET", f"{base}/v1/live/stream", headers={"X-API-Key": key}, timeout=10
        ) as r:
            assert r.status_code == 200
            assert any(line == "event: snapshot" for line in r.iter_lines())
        assert httpx.get(f"{base}/", timeout=10).status_code == 200
        time.sleep(15)
        second, snap = _today_total(base, key)
        assert second > first > 0, (first, second)
        for site in snap["sites"]:  # type: ignore[attr-defined]
            assert any(m["status"] in ("ok", "bad_quality") for m in site["meters"]), site
        # The foundry's castings: this shift so far, in kgCO2e per tonne; and the signed
        # public disclosure, read without a key.
        out = "".join(lines)
        link = re.search(r"footprint   (http\S+)", out)
        assert link is not None, out
        per_t = None
        while per_t is None and time.monotonic() - t0 < DURATION_S - 5:
            fp = httpx.get(link.group(1), headers={"X-API-Key": key}, timeout=10).json()
            if fp["footprint"]["lots"]:
                per_t = fp["footprint"]["parts"]["kgco2e_per_unit_market"]
            else:
                time.sleep(2)
        assert per_t is not None and per_t > 0, fp
        assert fp["footprint"]["declared_unit"] == "t" and "provisional" in fp["footprint"]["note"]
        pub = re.search(r"disclosure  (http\S+)", out)
        assert pub is not None, out
        d = httpx.get(pub.group(1) + "/disclosure.json", timeout=10)
        assert d.status_code == 200 and d.headers["X-Signature-Ed25519"]
        # The stored history's planted waste, found by the detectors (demo.history).
        assert "history     " in out and "/v1/opportunities" in out
        r = httpx.get(f"{base}/v1/opportunities", headers={"X-API-Key": key}, timeout=30)
        assert r.status_code == 200, r.text
        found = {(o["kind"], o["meter"]) for o in r.json()["opportunities"]}
        assert {("idle_load", "warehouse-power"), ("drift", "foundry-grid")} <= found, found

        rc = proc.wait(DURATION_S + 30)
        took = time.monotonic() - t0
        reader.join(5)
        out = "".join(lines)
        assert rc == 0, out
        assert "carbonstream demo stopped" in out
        assert took < DURATION_S + 20, f"took {took:.0f} s to stop"
        print(f"demo ready after {ready_s:.1f} s; stopped after {took:.1f} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        # Anything still running from the clone (its embedded PostgreSQL) is a leak.
        left = _our_processes(str(clone))
        for pid, _ in left:
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"left running: {left}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the API's port is free again
