"""Benchmark: ingest end to end, MQTT to committed rows, against the database's own ceiling.

Measured in one run, on this machine, with the broker and the database on it too:

1. ``copy_readings_per_s``: binary COPY of the readings (numpy-built buffers, 2
   connections, 50k-row transactions) into an empty ``readings`` table of a freshly
   migrated schema (same table, same indexes), nothing else going on: the ceiling.
2. ``readings_per_s`` (drain): the same readings as 100-reading v1 payloads, queued
   in ingest's persistent session on a private Mosquitto, then drained by the ingest
   service (decode, validate, de-dup, core, COPY readings and lines, rollups, meter
   state, ack) into a fresh schema: readings committed / wall time.
3. ``readings_per_s_live``: the same with the publisher running at the same time
   (another process, competing for the 2 cores).
4. ``latency_p50_s`` / ``latency_p99_s``: a publisher process sends 10,000
   readings/s (100 messages of 100 readings, timestamped when sent); latency is
   commit time minus source time of every reading (committed = queryable).

5. ``readings_per_s_signed`` vs ``readings_per_s_unsigned``: the drain (2.) of the
   same readings as signed v2 batches (one Ed25519 key per gateway, every signature
   verified over the exact bytes, batch digest, signature and signed bytes stored
   with the readings) and as unsigned v1 batches (accepted by configuration), in
   alternating pairs; ratio = signed / unsigned (target: at least 0.8 at the
   gateway's default batch of 100 readings).

Prints one JSON object per line. ``--quick`` shrinks the run for a smoke test;
``--only signatures`` runs 5. alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import Mosquitto, unique, url_with_db  # noqa: E402

from carbonstream.config.gateway_keys import GatewayKey  # noqa: E402
from carbonstream.config.loader import load_plant  # noqa: E402
from carbonstream.config.plant import Plant  # noqa: E402
from carbonstream.gateway.config import Publish  # noqa: E402
from carbonstream.ingest.decode import Decoded  # noqa: E402
from carbonstream.ingest.service import Service  # noqa: E402
from carbonstream.ingest.settings import IngestSettings  # noqa: E402
from carbonstream.store import readings  # noqa: E402
from carbonstream.store.db import create_database, drop_database  # noqa: E402
from carbonstream.store.migrate import migrate  # noqa: E402
from carbonstream.store.plant import sync_plant  # noqa: E402
from carbonstream.transport import signing  # noqa: E402
from carbonstream.transport.payload import Reading, ReadingsMessage, encode_readings  # noqa: E402

ADMIN_URL = os.environ.get(
    "CARBONSTREAM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Readings per message: the gateway's default batch size, whatever it is today.
PER_MSG: int = Publish.model_fields["batch_max_readings"].default


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "ingest", **fields}), flush=True)


def write_plant(path: Path, n_meters: int, n_sites: int) -> None:
    meters = [
        {
            "id": f"m{i:05d}",
            "site": f"site{i % n_sites:02d}",
            "kind": "grid_import",
            "measures": "counter",
            "unit": "kWh",
            "rating": 100_000.0,
        }
        for i in range(n_meters)
    ]
    plant = {
        "name": "bench plant",
        "timezone": "Asia/Shanghai",
        "grid_region": "CN",
        "sites": [{"id": f"site{s:02d}"} for s in range(n_sites)],
        "meters": meters,
        # One gateway per site, bound to its meters: ingest checks every reading's binding.
        "gateways": [
            {
                "id": f"gw{s:03d}",
                "site": f"site{s:02d}",
                "meters": [m["id"] for m in meters if m["site"] == f"site{s:02d}"],
            }
            for s in range(n_sites)
        ],
    }
    path.write_text(yaml.safe_dump(plant), encoding="utf-8")


def make_messages(
    n_meters: int, steps: int, step_ms: int, n_sites: int, per_msg: int = PER_MSG
) -> list[tuple[str, bytes]]:
    """Every meter once per step; one gateway per site (its meters i = site mod n_sites).
    Each gateway's readings are cut into messages of per_msg readings in time order, as
    a gateway seals its queue: a backlog drains in full batches of the default size
    (PER_MSG); pass the gateway's readings per step for one message a second.

    Source times end now (the data a live plant sends): the service has warmed this
    month's factors and lineage at start, as it does in production."""
    t_start = int(time.time() * 1000) - steps * step_ms
    out: list[tuple[str, bytes]] = []
    pending: dict[int, list[Reading]] = {site: [] for site in range(n_sites)}
    seq = dict.fromkeys(range(n_sites), 0)

    def seal(site: int, rs: list[Reading]) -> None:
        seq[site] += 1
        gw = f"gw{site:03d}"
        msg = ReadingsMessage(v=1, gateway=gw, stream="bench", seq=seq[site], readings=rs)
        out.append((f"carbonstream/v1/site{site:02d}/{gw}/readings", encode_readings(msg)))

    for s in range(steps):
        t = t_start + s * step_ms
        for site in range(n_sites):
            queue = pending[site]
            queue.extend(
                Reading(m=f"m{i:05d}", t=t, v=float(s) * 0.5 + i % 7, u="kWh")
                for i in range(site, n_meters, n_sites)
            )
            while len(queue) >= per_msg:
                seal(site, queue[:per_msg])
                del queue[:per_msg]
    for site in range(n_sites):
        if pending[site]:
            seal(site, pending[site])
    return out


def count_readings(msgs: list[tuple[str, bytes]]) -> int:
    from carbonstream.transport.payload import decode_readings

    def readings_in(topic: str, data: bytes) -> int:
        if "/v2/" in topic:  # a signed envelope: the readings are in its body (version 2)
            return len(decode_readings(signing.open_envelope(data).body, 2).readings)
        return len(decode_readings(data).readings)

    return sum(readings_in(topic, data) for topic, data in msgs)


def sign_messages(
    msgs: list[tuple[str, bytes]], keys: dict[str, Ed25519PrivateKey]
) -> list[tuple[str, bytes]]:
    """The same batches as each gateway's queue seals them with a key: v2 body, envelope."""
    from carbonstream.transport.payload import decode_readings

    out = []
    for topic, data in msgs:
        m = decode_readings(data)
        body = encode_readings(
            ReadingsMessage(v=2, gateway=m.gateway, stream=m.stream, seq=m.seq, readings=m.readings)
        )
        env = signing.Signer(keys[m.gateway]).envelope(body)
        out.append((topic.replace("carbonstream/v1/", "carbonstream/v2/", 1), env))
    return out


def keyed_plant(plant_file: Path, keys: dict[str, Ed25519PrivateKey]) -> Plant:
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    plant = load_plant(plant_file)
    gateways = [
        g.model_copy(
            update={
                "keys": [
                    GatewayKey(
                        public_key=signing.public_text(keys[g.id].public_key()), valid_from=since
                    )
                ]
            }
        )
        for g in plant.gateways
    ]
    return plant.model_copy(update={"gateways": gateways})


def fresh_db() -> tuple[str, str]:
    name = unique("cs_bench_")
    create_database(ADMIN_URL, name)
    return name, url_with_db(ADMIN_URL, name)


# --- 1. the database's own ceiling --------------------------------------------------


def copy_ceiling(plant_file: Path, msgs: list[tuple[str, bytes]]) -> tuple[float, int]:
    from carbonstream.transport.payload import decode_readings

    plant = load_plant(plant_file)
    index = {m.id: i for i, m in enumerate(plant.meters)}
    cols: list[tuple[int, int, float]] = []
    for _, data in msgs:
        for r in decode_readings(data).readings:
            cols.append((index[r.m], r.t * 1_000_000, float(r.v or 0.0)))
    arr = np.array(cols, dtype=np.float64)
    meter = arr[:, 0].astype(np.int32)
    ts = np.array([c[1] for c in cols], dtype=np.int64)
    value = arr[:, 2]
    name, url = fresh_db()
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
            keys = sync_plant(conn, plant)
            conn.execute("CHECKPOINT")
        mkeys = keys.meter[meter]
        parts = [np.flatnonzero(mkeys % 2 == p) for p in range(2)]
        chunk = 50_000  # rows per transaction: what one ingest writer commits at most

        def writer(sel: np.ndarray[Any, Any]) -> None:
            with psycopg.connect(url) as conn:
                for lo in range(0, len(sel), chunk):
                    s = sel[lo : lo + chunk]
                    with conn.transaction(), conn.cursor() as cur:
                        readings.copy_readings(
                            cur, mkeys[s], ts[s], value[s], np.zeros(len(s), np.uint8)
                        )

        pg0 = _postgres_cpu()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(p,)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        COPY_PG_US_PER_ROW.append(round((_postgres_cpu() - pg0) / len(ts) * 1e6, 2))
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        assert row is not None and int(row[0]) == len(ts)
        return len(ts) / dt, len(ts)
    finally:
        drop_database(ADMIN_URL, name)


# --- 2, 3. ingest end to end ----------------------------------------------------------


def settings_for(
    plant_file: Path, url: str, port: int, client_id: str, signed: bool = False
) -> IngestSettings:
    return IngestSettings.model_validate(
        {
            "plant": str(plant_file),
            "mqtt": {
                "host": "127.0.0.1",
                "port": port,
                "client_id": client_id,
                "receive_maximum": 2000,
                "session_expiry_s": 3600,
            },
            "database": {"url": url, "writers": 2},
            "batch": {"max_readings": 100_000, "max_wait_ms": 100},  # the defaults
            "lateness_s": 10 * 86_400,
            "future_s": 10 * 86_400 * 365,
            "metrics_port": None,
            # unsigned runs: v1 accepted by configuration (marked unsigned), as before
            "signatures": {"required": signed},
        }
    )


def publish(port: int, msgs: list[tuple[str, bytes]], rate_msgs: float = 0.0) -> None:
    """QoS 1 publisher; with ``rate_msgs``, paced and timestamped at send time."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub-"), protocol=paho.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    start = time.monotonic()
    for k, (topic, data) in enumerate(msgs):
        if rate_msgs:
            due = start + k / rate_msgs
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            data = restamp(data, int(time.time() * 1000))
        infos.append(c.publish(topic, data, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def restamp(data: bytes, t_ms: int) -> bytes:
    from carbonstream.transport.payload import decode_readings

    msg = decode_readings(data)
    rs = [Reading(m=r.m, t=t_ms, v=r.v, u=r.u) for r in msg.readings]
    return encode_readings(
        ReadingsMessage(v=1, gateway=msg.gateway, stream=msg.stream, seq=msg.seq, readings=rs)
    )


class Probe:
    """Counts committed readings and records per-reading latency."""

    def __init__(self) -> None:
        self.committed = 0
        self.first_commit: float | None = None
        self.last_commit = 0.0
        self.lags: list[np.ndarray[Any, Any]] = []
        self.started = 0.0
        self.cpu0: dict[str, float] = {}

    def __call__(self, decoded: list[Decoded], commit_s: float) -> None:
        for d in decoded:
            self.committed += len(d)
            self.lags.append(commit_s - d.ts / 1e9)
        if self.first_commit is None:
            self.first_commit = commit_s
        self.last_commit = commit_s


def run_service(
    s: IngestSettings,
    url: str,
    probe: Probe,
    settle_s: float = 0.3,
    broker: Mosquitto | None = None,
    plant: Plant | None = None,
) -> tuple[Service, threading.Thread]:
    """Prepare (migrate, sync, warm: untimed), then start taking messages."""
    svc = Service(s, db_url=url, on_commit=probe, plant=plant)
    svc.prepare()
    if broker is not None:
        probe.cpu0 = cpu_seconds(broker)
    probe.started = time.perf_counter()
    th = threading.Thread(target=svc.run, daemon=True)
    th.start()
    assert svc.ready.wait(30) and svc.subscriber.wait_connected(10)
    time.sleep(settle_s)
    return svc, th


def wait_for(probe: Probe, n: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while probe.committed < n and time.monotonic() < end:
        time.sleep(0.005)
    if probe.committed < n:
        raise RuntimeError(f"only {probe.committed} of {n} readings committed in {timeout}s")


def drain(
    plant_file: Path, msgs: list[tuple[str, bytes]], broker: Mosquitto, plant: Plant | None = None
) -> float:
    """Readings per second draining the queued messages; signed when a keyed plant is given."""
    n = count_readings(msgs)
    name, url = fresh_db()
    client = unique("ingest-")
    signed = plant is not None
    try:
        # Create the session, leave, queue everything, then measure the drain.
        probe = Probe()
        s = settings_for(plant_file, url, broker.port, client, signed)
        svc, th = run_service(s, url, probe, plant=plant)
        svc.stop()
        th.join(30)
        publish(broker.port, msgs)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        probe = Probe()
        svc, th = run_service(s, url, probe, 0, broker, plant)
        wait_for(probe, n, 600)
        dt = time.perf_counter() - probe.started
        cpu = {k: round((v - probe.cpu0[k]) / n * 1e6, 2) for k, v in cpu_seconds(broker).items()}
        svc.stop()
        th.join(30)
        check_rows(url, n, signed)
        CPU_US_PER_READING.append(cpu)
        return n / dt
    finally:
        drop_database(ADMIN_URL, name)


def live(plant_file: Path, msgs: list[tuple[str, bytes]], broker: Mosquitto) -> float:
    n = count_readings(msgs)
    name, url = fresh_db()
    try:
        probe = Probe()
        svc, th = run_service(settings_for(plant_file, url, broker.port, unique("i-")), url, probe)
        pub = mp.get_context("fork").Process(target=publish, args=(broker.port, msgs))
        t0 = time.perf_counter()
        pub.start()
        wait_for(probe, n, 600)
        dt = time.perf_counter() - t0
        pub.join(60)
        svc.stop()
        th.join(30)
        check_rows(url, n)
        return n / dt
    finally:
        drop_database(ADMIN_URL, name)


def latency(
    plant_file: Path, msgs: list[tuple[str, bytes]], broker: Mosquitto, rate: float
) -> tuple[float, float, float, int]:
    n = count_readings(msgs)
    name, url = fresh_db()
    try:
        probe = Probe()
        s = settings_for(plant_file, url, broker.port, unique("i-"))
        svc, th = run_service(s, url, probe)
        pub = mp.get_context("fork").Process(
            target=publish, args=(broker.port, msgs), kwargs={"rate_msgs": rate * len(msgs) / n}
        )
        t0 = time.perf_counter()
        pub.start()
        wait_for(probe, n, 120 + n / rate)
        achieved = n / (time.perf_counter() - t0)
        pub.join(60)
        svc.stop()
        th.join(30)
        lags = np.concatenate(probe.lags)
        return float(np.percentile(lags, 50)), float(np.percentile(lags, 99)), achieved, n
    finally:
        drop_database(ADMIN_URL, name)


CPU_US_PER_READING: list[dict[str, float]] = []
COPY_PG_US_PER_ROW: list[float] = []


def _proc_cpu(pid: int | str) -> float:
    """utime + stime of a process from /proc, in seconds (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    pg = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    pg += _proc_cpu(d.name)
            except OSError:
                continue
    return pg


def cpu_seconds(broker: Mosquitto) -> dict[str, float]:
    """CPU time so far of this process, the broker and every PostgreSQL process."""
    return {
        "ingest": _proc_cpu(os.getpid()),
        "broker": _proc_cpu(broker.proc.pid),
        "postgres": _postgres_cpu(),
    }


def check_rows(url: str, n: int, signed: bool = False) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(batch) FROM readings").fetchone()
    assert row is not None and int(row[0]) == n, f"{row} rows, expected {n}"
    assert int(row[1]) == (n if signed else 0), f"{row[1]} of {n} readings name a signed batch"


def signatures(
    plant_file: Path, msgs: list[tuple[str, bytes]], broker: Mosquitto, reps: int
) -> None:
    """5. Signed vs unsigned drains of the same readings, alternating; ratios per pair."""
    gateways = sorted({decode_gateway(data) for _, data in msgs})
    keys = {gw: Ed25519PrivateKey.generate() for gw in gateways}
    signed_msgs = sign_messages(msgs, keys)
    plant = keyed_plant(plant_file, keys)
    n = count_readings(msgs)
    plain, signed = [], []
    cpu: dict[str, list[dict[str, float]]] = {"plain": [], "signed": []}
    for _ in range(reps):
        plain.append(drain(plant_file, msgs, broker))
        cpu["plain"].append(CPU_US_PER_READING[-1])
        signed.append(drain(plant_file, signed_msgs, broker, plant))
        cpu["signed"].append(CPU_US_PER_READING[-1])
    ratios = [a / b for a, b in zip(signed, plain, strict=True)]
    emit(
        metric="readings_per_s_unsigned",
        value=round(statistics.median(plain)),
        unit="1/s",
        readings=n,
        per_message=PER_MSG,
        runs=[round(x) for x in plain],
        cpu_us_per_reading=_median_cpu(cpu["plain"]),
        note="drain of v1 batches accepted unsigned (signatures.required: false)",
    )
    emit(
        metric="readings_per_s_signed",
        value=round(statistics.median(signed)),
        unit="1/s",
        readings=n,
        per_message=PER_MSG,
        runs=[round(x) for x in signed],
        vs="readings_per_s_unsigned",
        ratio=round(statistics.median(ratios), 3),
        pair_ratios=[round(x, 3) for x in ratios],
        target_ratio=0.8,
        cpu_us_per_reading=_median_cpu(cpu["signed"]),
        note="Ed25519 verified per batch; digest, signature and signed bytes stored",
    )


def _median_cpu(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per process (ingest, broker, postgres): the median CPU µs per reading over the runs."""
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}


def decode_gateway(data: bytes) -> str:
    from carbonstream.transport.payload import decode_readings

    return decode_readings(data).gateway


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--meters", type=int, default=2000)
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--steps", type=int, default=400, help="readings per meter (1 s apart)")
    p.add_argument("--latency-s", type=float, default=20.0)
    p.add_argument("--rate", type=float, default=10_000.0, help="readings/s for the latency run")
    p.add_argument("--reps", type=int, default=3, help="ceiling/ingest pairs")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["signatures"], help="run one comparison alone")
    a = p.parse_args()
    if a.quick:
        a.meters, a.sites, a.steps, a.latency_s = 500, 5, 40, 3.0
        a.reps = 1 if a.only is None else a.reps  # one comparison alone: keep its pairs
    with tempfile.TemporaryDirectory(prefix="carbonstream-bench-") as tmp:
        work = Path(tmp)
        plant_file = work / "plant.yaml"
        write_plant(plant_file, a.meters, a.sites)
        msgs = make_messages(a.meters, a.steps, 1000, a.sites)
        n = count_readings(msgs)
        broker = Mosquitto(work)
        try:
            if a.only == "signatures":
                signatures(plant_file, msgs, broker, a.reps)
                return
            # Noisy shared host: alternate ceiling and ingest runs; medians, ratios per pair.
            copies, drains = [], []
            for _ in range(a.reps):
                copies.append(copy_ceiling(plant_file, msgs)[0])
                drains.append(drain(plant_file, msgs, broker))
            copy_rate = statistics.median(copies)
            ratios = [d / c for d, c in zip(drains, copies, strict=True)]
            emit(
                metric="copy_readings_per_s",
                value=round(copy_rate),
                unit="1/s",
                readings=n,
                runs=[round(x) for x in copies],
                postgres_cpu_us_per_row=COPY_PG_US_PER_ROW[-1],
                note="binary COPY, 2 connections, same table and indexes, nothing else",
            )
            emit(
                metric="readings_per_s",
                value=round(statistics.median(drains)),
                unit="1/s",
                readings=n,
                meters=a.meters,
                mode="drain",
                runs=[round(x) for x in drains],
                vs="copy_readings_per_s",
                ratio=round(statistics.median(ratios), 3),
                cpu_us_per_reading=CPU_US_PER_READING[-1],
            )
            rate_live = live(plant_file, msgs, broker)
            emit(
                metric="readings_per_s_live",
                value=round(rate_live),
                unit="1/s",
                readings=n,
                mode="live (publisher running)",
                vs="copy_readings_per_s",
                ratio=round(rate_live / copy_rate, 3),
            )
            steps = max(1, int(a.latency_s * a.rate / a.meters))
            # Live: each gateway seals what one second brings (batch_interval_s), not a
            # full batch of PER_MSG.
            per_step = -(-a.meters // a.sites)
            lat_msgs = make_messages(a.meters, steps, 1000, a.sites, per_msg=per_step)
            p50, p99, achieved, n_lat = latency(plant_file, lat_msgs, broker, a.rate)
            emit(
                metric="latency_p50_s",
                value=round(p50, 4),
                unit="s",
                rate=round(achieved),
                readings=n_lat,
                note="source time to commit (queryable)",
            )
            emit(
                metric="latency_p99_s",
                value=round(p99, 4),
                unit="s",
                rate=round(achieved),
                readings=n_lat,
                target=1.0,
            )
            signatures(plant_file, msgs, broker, a.reps)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
