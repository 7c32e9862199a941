"""`carbonstream migrate` without a database URL starts a real embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from carbonstream.store.db import EmbeddedPostgres
from carbonstream.store.migrate import Flavour, available

# slow: starts an embedded PostgreSQL (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


def test_migrate_without_url_uses_embedded_postgres() -> None:
    # Not under pytest's tmp_path: the server runs as an unprivileged user that must
    # reach the directory.
    base = Path(tempfile.mkdtemp(prefix="carbonstream-embedded-"))
    base.chmod(0o755)
    cfg = base / "ingest.yaml"
    data_dir = base / "pg"
    plant = Path(__file__).resolve().parents[2] / "config" / "plant.example.yaml"
    cfg.write_text(f"plant: {plant}\ndatabase: {{data_dir: {data_dir}}}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CARBONSTREAM_DB_URL"}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "carbonstream", "migrate", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert "schema is current (plain): 0001_schema, 0002_rollups" in out.stdout
        shipped = {m.version for m in available() if m.flavour is not Flavour.TIMESCALE}
        assert (data_dir / "PG_VERSION").exists()
        # Started again on the same data directory: the schema is there, nothing to do.
        server = EmbeddedPostgres(data_dir)
        try:
            with psycopg.connect(server.url) as c:
                row = c.execute("SELECT count(*) FROM schema_migrations").fetchone()
            assert row == (len(shipped),)
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
