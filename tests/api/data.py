"""Real data for the API tests: the example plant's readings ingested through Mosquitto.

Ingest runs once per session into a template database; tests get clones
(``CREATE DATABASE ... TEMPLATE``), so a test that writes never disturbs another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.ingest import helpers as h
from tests.services import PG_ADMIN_URL, create_db, unique, url_with_db

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"


def plant_variant(path: Path, **changes: Any) -> Path:
    """A copy of the example plant with top-level fields changed (factor files made absolute)."""
    data = yaml.safe_load(PLANT.read_text(encoding="utf-8"))
    data["factor_files"] = [str((PLANT.parent / f).resolve()) for f in data["factor_files"]]
    for ins in data.get("instruments") or []:
        if ins.get("hourly_profile"):
            ins["hourly_profile"] = str((PLANT.parent / ins["hourly_profile"]).resolve())
    fp = data.get("footprint", {})
    fp["factor_files"] = [str((PLANT.parent / f).resolve()) for f in fp.get("factor_files", [])]
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def ingest_example(db_url: str, plant_file: Path = PLANT) -> None:
    """Publish the example readings and run ingest until every message is committed."""
    ex = h.example()
    gw = unique("gw")
    run = h.Running(h.settings(db_url, gw, plant=str(plant_file)), db_url)
    try:
        msgs = h.payloads(ex, gw)
        h.publish(msgs)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
    finally:
        run.stop()


def clone(template: str) -> str:
    """A copy of a database (no one may be connected to the template)."""
    name = unique("cs_test_")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def template(plant_file: Path = PLANT) -> str:
    name = create_db()
    ingest_example(url_with_db(PG_ADMIN_URL, name), plant_file)
    return name
