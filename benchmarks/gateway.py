"""Benchmark: how many Modbus devices (20 registers each) one gateway process holds at 1 Hz.

The simulated devices run in a separate process (pymodbus servers, 200 unit ids
per port, each device on its own TCP connection, answering after
``--latency-ms`` like a real meter or gateway). The gateway is the real
service: grouping, decoding, the SQLite queue and QoS 1 publishing to the
broker at 127.0.0.1:1883. For each device count it polls for ``--seconds`` and
measures how late polls start after their scheduled time (p99 < 100 ms and no
skipped slots = held at 1 Hz), after the start has settled (``settle_s``: a
whole second of on-time polls, at most 30 s). In the same run it measures sequential polling
(one device after another, the way many gateways do it) over the same devices.

Every step is bounded: the gateway of a step runs in a process of its own with
a deadline (``--seconds`` + 90 s); a step that misses it is killed and reported
as not held with its reason, and the summary lines are printed anyway. The
machine may be shared: each step line carries the load average before it, and
``--attempts N`` tries a step that was not held up to N times (each printed).

Prints one JSON object per line: one per step, then the summary metrics, each
with its baseline from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from carbonstream.config.loader import validate
from carbonstream.gateway.config import Gateway, GatewayFile
from carbonstream.gateway.decode import DataType, encode
from carbonstream.gateway.metrics import GatewayMetrics
from carbonstream.gateway.service import GatewayService, run

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
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _total(counter: Any) -> float:
    return float(
        sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
    )


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _settle(metrics: GatewayMetrics, n: int, within_s: float = 30.0) -> float:
    """Wait for the start to be over: a whole second of n polls, none 0.1 s late.

    At start the gateway opens every connection and the simulator accepts them;
    the measurement is of the steady state that follows. Returns the seconds it
    took (at most ``within_s``, then the measurement starts anyway).
    """
    assert metrics.lateness_samples is not None
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < within_s:
        metrics.lateness_samples.clear()
        await asyncio.sleep(1.0)
        window = metrics.lateness_samples
        if len(window) >= 0.97 * n and max(window, default=1.0) < 0.1:
            break
    metrics.lateness_samples.clear()
    return time.perf_counter() - t0


async def concurrent(n: int, seconds: float, tmp: Path) -> dict[str, float]:
    metrics = GatewayMetrics(keep_lateness=True)
    service = GatewayService(_gateway(n, tmp, f"bench-{uuid.uuid4().hex[:8]}/"), metrics=metrics)
    task = asyncio.create_task(service.run())
    settle_s = await _settle(metrics, n)
    skipped0 = _total(metrics.skipped_slots)
    published0 = _total(metrics.published_readings)
    errors0 = _total(metrics.errors)
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    samples = list(metrics.lateness_samples or [])
    stats = {
        "polls_per_s": len(samples) / elapsed,
        "p99": _p(samples, 0.99),
        "p50": _p(samples, 0.50),
        "max": max(samples, default=float("nan")),
        "skipped": _total(metrics.skipped_slots) - skipped0,
        "errors": _total(metrics.errors) - errors0,
        "published_per_s": (_total(metrics.published_readings) - published0) / elapsed,
        "gateway_cpu": cpu / elapsed,  # cores used by the gateway process
        "settle_s": settle_s,
    }
    service.stop()
    await task
    return stats


async def sequential(n: int, seconds: float, tmp: Path) -> dict[str, float]:
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
    await service.close_sources()
    return {"polls_per_s": rate}


def _step(kind: str, n: int, seconds: float, tmp: Path, loop: str, out: Connection) -> None:
    """One measurement in a process of its own, so a stuck step can be killed."""
    job = concurrent(n, seconds, tmp) if kind == "concurrent" else sequential(n, seconds, tmp)
    stats = run(job, loop="uvloop" if loop == "uvloop" else "asyncio")
    out.send(stats)


def measure(
    kind: str, n: int, seconds: float, tmp: Path, loop: str, devices: Devices
) -> dict[str, Any]:
    """Run a step with a deadline; on a miss the step is killed and the reason returned."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_step, args=(kind, n, seconds, tmp, loop, send), daemon=True)
    deadline = seconds + 90
    sim0 = devices.cpu_s()
    t0 = time.perf_counter()
    proc.start()
    send.close()
    try:
        if recv.poll(deadline):
            stats: dict[str, Any] = recv.recv()
            stats["sim_cpu"] = (devices.cpu_s() - sim0) / (time.perf_counter() - t0)
        else:
            stats = {"error": f"no result within {deadline:.0f} s (step killed)"}
    except EOFError:
        stats = {"error": "the step process died"}
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return stats


def emit(metric: str, value: float | None, unit: str, **extra: Any) -> None:
    print(
        json.dumps(
            {
                "bench": "gateway",
                "metric": metric,
                "value": None if value is None else round(value, 4),
                "unit": unit,
            }
            | extra
        ),
        flush=True,
    )


class Devices:
    """The simulated devices, in their own process: fresh for each step."""

    def __init__(self, n: int, latency_s: float) -> None:
        ctx = mp.get_context("spawn")
        self.ready = ctx.Event()
        ports = (n + UNITS_PER_PORT - 1) // UNITS_PER_PORT
        self.proc = ctx.Process(target=_serve, args=(ports, latency_s, self.ready), daemon=True)

    def __enter__(self) -> Devices:
        self.proc.start()
        if not self.ready.wait(60):
            self.__exit__()
            raise RuntimeError("the device simulator did not start within 60 s")
        return self

    def cpu_s(self) -> float:
        """CPU seconds the simulator process has used so far."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _held(stats: dict[str, Any], n: int) -> bool:
    return (
        "error" not in stats
        and stats["p99"] < 0.1
        and stats["skipped"] == 0
        and stats["polls_per_s"] > 0.97 * n
        and stats["errors"] == 0
    )


def step(kind: str, n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """One measurement with fresh devices; a simulator that does not start is its error."""
    load = os.getloadavg()[0]  # the machine is shared: how busy it was before the step
    try:
        with Devices(n, args.latency_ms / 1000) as devices:
            stats = measure(kind, n, args.seconds, tmp, args.loop, devices)
    except RuntimeError as e:
        stats = {"error": str(e)}
    stats["load1_before"] = load
    return stats


def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))  # the steps' queue files
    try:
        sweep(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sweep(args: argparse.Namespace, tmp: Path) -> None:
    best = 0
    best_stats: dict[str, Any] = {}
    for n in args.devices:
        held = False
        for attempt in range(1, args.attempts + 1):
            stats = step("concurrent", n, args, tmp)
            held = _held(stats, n)
            print(
                json.dumps(
                    {"bench": "gateway", "step": n, "attempt": attempt, "held": held}
                    | {"loop": args.loop}
                    | {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}
                ),
                flush=True,
            )
            if held:
                break
        if not held:
            break
        best, best_stats = n, stats
    seq = step("sequential", 200, args, tmp)
    seq_rate = seq.get("polls_per_s")
    ratio = round(best / seq_rate, 2) if seq_rate else None
    emit(
        "devices_at_1hz_sequential",
        seq_rate,
        "devices",
        latency_ms=args.latency_ms,
        **({"error": seq["error"]} if "error" in seq else {}),
    )
    emit(
        "devices_at_1hz",
        best,
        "devices",
        vs="devices_at_1hz_sequential",
        ratio=ratio,
        latency_ms=args.latency_ms,
        loop=args.loop,
    )
    emit("registers_per_s", best * 20, "registers/s", vs="registers_per_s_sequential", ratio=ratio)
    if best_stats:
        emit("cycle_lateness_p99_s", best_stats["p99"], "s", devices=best, vs="limit", limit=0.1)
        emit("cycle_lateness_p50_s", best_stats["p50"], "s", devices=best)
        emit("published_readings_per_s", best_stats["published_per_s"], "readings/s", devices=best)
        emit("gateway_cpu_cores", best_stats["gateway_cpu"], "cores", devices=best)
        emit("simulator_cpu_cores", best_stats["sim_cpu"], "cores", devices=best)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "--devices", type=int, nargs="+", default=[500, 1000, 1500, 2000, 2500, 3000, 4000]
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency-ms", type=float, default=10.0, help="device answer time")
    ap.add_argument(
        "--attempts",
        type=int,
        default=1,
        help="tries per step before the sweep stops (the machine may be shared); each is printed",
    )
    ap.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default="uvloop", help="the gateway's event loop"
    )
    main(ap.parse_args())
