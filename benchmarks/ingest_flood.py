"""Benchmark: ingest's peak memory under a flood of oversized MQTT payloads, bounded vs not.

The flood of issue 10: 160 distinct payloads of 4.5 MB, with the example plant's
readings between them, published to a private Mosquitto (no size limit of its
own) and taken by ``carbonstream ingest`` in its own process. Measured in one run:

1. ``peak_rss_mb``: the defaults (max_payload_bytes 4 MB checked on arrival,
   max_inflight_bytes 64 MB, dead letters keep 64 KB);
2. ``peak_rss_mb_unbounded``: the same flood with the byte bounds out of the way
   (max_payload_bytes 5 MB, so the payloads are taken in and decoded,
   max_inflight_bytes 5 GB, dead letters keep 4 MB): memory bounded by message
   count only, as before the bounds.

Peak = VmHWM of the ingest process; idle = VmRSS before the flood. Each run checks
that every payload was dead-lettered and every real reading stored. One JSON
object per line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ingest import helpers as h  # noqa: E402
from tests.ingest.test_bounds import FLOOD, FLOOD_BYTES, Ingest, publish_flood, status_kb  # noqa: E402
from tests.services import PG_ADMIN_URL, Mosquitto, create_db, drop_db, unique, url_with_db  # noqa: E402


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "ingest_flood", **fields}), flush=True)


def run(extra: dict[str, Any]) -> tuple[float, float, float]:
    """(idle MB, peak MB, flood seconds) of one ingest process under the flood."""
    ex = h.example()
    real = h.payloads(ex, "gw-assembly", per_msg=500, site="assembly")
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    with tempfile.TemporaryDirectory(prefix="carbonstream-flood-") as d:
        broker = Mosquitto(Path(d))
        try:
            settings: dict[str, Any] = {
                "plant": str(h.PLANT_FILE),
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": broker.port,
                    "client_id": unique("ingest-"),
                    "session_expiry_s": 120,
                },
                "database": {"url": url, "writers": 2},
                "gateway_binding": "off",
                "signatures": {"required": False},
                "metrics_port": None,
            } | extra
            ingest = Ingest(settings, Path(d))
            try:
                time.sleep(1.0)
                idle = status_kb(ingest.proc.pid, "VmRSS") / 1024
                t0 = time.monotonic()
                publish_flood(broker.port, real, "carbonstream/v1/assembly/gw-assembly/readings")
                h.wait_until(
                    lambda: (
                        h.count(url, "dead_letters") == FLOOD
                        and h.count(url, "readings") == len(ex.batch)
                    ),
                    300,
                    "every payload stored or dead-lettered",
                )
                took = time.monotonic() - t0
                peak = status_kb(ingest.proc.pid, "VmHWM") / 1024
            finally:
                ingest.stop()
        finally:
            broker.stop()
            drop_db(name)
    return idle, peak, took


def main() -> None:
    idle, peak, took = run({"dead_letters": {"keep_kb": 64}})
    u_idle, u_peak, u_took = run(
        {
            "max_payload_bytes": 5_000_000,
            "max_inflight_bytes": 5_000_000_000,
            "dead_letters": {"keep_kb": 4096},
        }
    )
    emit(metric="peak_rss_mb_unbounded", value=round(u_peak), unit="MB",
         idle_mb=round(u_idle), flood_s=round(u_took, 1), payloads=FLOOD,
         payload_bytes=FLOOD_BYTES)  # fmt: skip
    emit(metric="peak_rss_mb", value=round(peak), unit="MB", idle_mb=round(idle),
         flood_s=round(took, 1), payloads=FLOOD, payload_bytes=FLOOD_BYTES,
         vs="peak_rss_mb_unbounded", ratio=round(peak / u_peak, 3), bound_mb=400)  # fmt: skip


if __name__ == "__main__":
    main()
