"""Benchmark: how many Modbus devices (20 registers each) one gateway process holds at 1 Hz.

The simulated devices run in a separate process (pymodbus servers, 200 unit ids
per port, each device on its own TCP connection, answering after
``--latency-ms`` like a real meter or gateway). The gateway is the real
service: grouping, decoding, the SQLite queue and QoS 1 publishing to the
broker at 127.0.0.1:1883. For each device count it polls for ``--seconds`` and
measures how late polls start after their scheduled time (p99 < 100 ms and no
skipped slots = held at 1 Hz). In the same run it measures sequential polling
(one device after another, the way many gateways do it) over the same devices.

Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from carbonstream.config.loader import validate
from carbonstream.gateway.config import Gateway, GatewayFile
from carbonstream.gateway.decode import DataType, encode
from carbonstream.gateway.metrics import GatewayMetrics
from carbonstream.gateway.service import GatewayService

UNITS_PER_PORT = 200
BASE_PORT = 25000


def _serve(ports: int, latency_s: float, ready: Any) -> None:
    from carbonstream.sim.modbus_server import RegisterServer, SimSpec

    regs = {
        a: r
        for i in range(10)
        for a, r in zip((2 * i, 2 * i + 1), encode(230.0 + i, DataType.F32), strict=True)
    }

    async def main() -> None:
        servers = [
            RegisterServer(
                [SimSpec(u, holding=dict(regs)) for u in range(1, UNITS_PER_PORT + 1)],
                port=BASE_PORT + p,
                latency_s=latency_s,
            )
            for p in range(ports)
        ]
        for s in servers:
            await s.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _gateway(n: int, tmp: Path, prefix: str) -> Gateway:
    devices = []
    links = []
    for i in range(n):
        links.append({"id": f"l{i}", "host": "127.0.0.1", "port": BASE_PORT + i // UNITS_PER_PORT})
        devices.append(
            {
                "id": f"d{i}",
                "link": f"l{i}",
                "unit": i % UNITS_PER_PORT + 1,
                "points": [
                    {
                        "meter": f"d{i}-q{q}",
                        "unit": "V",
                        "register": {"address": 2 * q, "type": "f32"},
                    }
                    for q in range(10)
                ],
            }
        )
    data = {
        "id": "bench",
        "site": "bench",
        "broker": {
            "host": "127.0.0.1",
            "port": 1883,
            "topic_prefix": prefix,
            "client_id": prefix[:-1],
        },
        "buffer": {"path": str(tmp / f"bench-{n}.sqlite")},
        "metrics": {"port": None},
        "publish": {"batch_max_readings": 500, "batch_interval_s": 1.0, "max_inflight": 50},
        "polling": {"interval_s": 1.0, "timeout_s": 2.0, "retries": 0, "backoff_max_s": 5.0},
        "links": links,
        "devices": devices,
    }
    return Gateway(file=validate(data, GatewayFile, "bench"), plant=None, base_dir=tmp)


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def concurrent(n: int, seconds: float, tmp: Path) -> dict[str, float]:
    metrics = GatewayMetrics(keep_lateness=True)
    service = GatewayService(_gateway(n, tmp, f"bench-{uuid.uuid4().hex[:8]}/"), metrics=metrics)
    task = asyncio.create_task(service.run())
    await asyncio.sleep(3)  # connect, first polls
    assert metrics.lateness_samples is not None
    metrics.lateness_samples.clear()
    skipped0 = sum(
        s.value
        for m in metrics.skipped_slots.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )
    published0 = sum(
        s.value
        for m in metrics.published_readings.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    samples = list(metrics.lateness_samples)
    skipped = (
        sum(
            s.value
            for m in metrics.skipped_slots.collect()
            for s in m.samples
            if s.name.endswith("_total")
        )
        - skipped0
    )
    published = (
        sum(
            s.value
            for m in metrics.published_readings.collect()
            for s in m.samples
            if s.name.endswith("_total")
        )
        - published0
    )
    errors = sum(
        s.value for m in metrics.errors.collect() for s in m.samples if s.name.endswith("_total")
    )
    service.stop()
    await task
    return {
        "polls_per_s": len(samples) / elapsed,
        "p99": _p(samples, 0.99),
        "p50": _p(samples, 0.50),
        "skipped": skipped,
        "errors": errors,
        "published_per_s": published / elapsed,
    }


async def sequential(n: int, seconds: float, tmp: Path) -> float:
    """Devices polled one after another in one loop: devices per second it manages."""
    gw = _gateway(n, tmp, "seq/")
    service = GatewayService(gw, metrics=GatewayMetrics())
    polls = [p.poll for p in service.pollers]
    for p in polls[:50]:
        await p()  # connect a few first
    done = 0
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        await polls[i % len(polls)]()
        done += 1
        i += 1
    rate = done / (time.perf_counter() - t0)
    for link in service.links.values():
        link.close()
    return rate


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    print(
        json.dumps(
            {"bench": "gateway", "metric": metric, "value": round(value, 4), "unit": unit} | extra
        ),
        flush=True,
    )


class Devices:
    """The simulated devices, in their own process: fresh for each step."""

    def __init__(self, n: int, latency_s: float) -> None:
        self.ready = mp.Event()
        ports = (n + UNITS_PER_PORT - 1) // UNITS_PER_PORT
        self.proc = mp.Process(target=_serve, args=(ports, latency_s, self.ready), daemon=True)

    def __enter__(self) -> Devices:
        self.proc.start()
        if not self.ready.wait(60):
            raise SystemExit("device simulator did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)


def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    latency = args.latency_ms / 1000
    best = 0
    best_stats: dict[str, float] = {}
    for n in args.devices:
        with Devices(n, latency):
            stats = asyncio.run(concurrent(n, args.seconds, tmp))
        held = (
            stats["p99"] < 0.1
            and stats["skipped"] == 0
            and stats["polls_per_s"] > 0.97 * n
            and stats["errors"] == 0
        )
        print(
            json.dumps(
                {"bench": "gateway", "step": n, "held": held}
                | {k: round(v, 4) for k, v in stats.items()}
            ),
            flush=True,
        )
        if not held:
            break
        best, best_stats = n, stats
    with Devices(200, latency):
        seq_rate = asyncio.run(sequential(200, args.seconds, tmp))
    emit("devices_at_1hz", best, "devices", latency_ms=args.latency_ms)
    emit("registers_per_s", best * 20, "registers/s")
    if best_stats:
        emit("cycle_lateness_p99_s", best_stats["p99"], "s", devices=best)
        emit("cycle_lateness_p50_s", best_stats["p50"], "s", devices=best)
        emit("published_readings_per_s", best_stats["published_per_s"], "readings/s", devices=best)
    emit("devices_at_1hz_sequential", seq_rate, "devices", latency_ms=args.latency_ms)
    emit(
        "devices_at_1hz_vs_sequential",
        best,
        "devices",
        vs="devices_at_1hz_sequential",
        ratio=round(best / seq_rate, 2) if seq_rate else None,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[500, 1000, 2000, 2500, 3000, 4000])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency-ms", type=float, default=10.0, help="device answer time")
    main(ap.parse_args())
