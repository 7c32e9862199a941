"""Benchmark: ``carbonstream compute`` on a large readings file, against polars reading it eagerly.

Generates a readings file for the example plant (config/plant.example.yaml): its
nine meters interleaved in time order, one reading each every 12 s from 2026-01-01
(plant-local times with their offset; counters integrate a random load between 30 %
and 70 % of their rating and wrap at their register range, rate meters sample it).
20 million rows is about 1 GB and ten months (inside the example factors, 2026).

Then, each in its own subprocess so that its peak RSS (VmHWM) is its own:
- compute: the file streamed through ``compute_file`` (readings_file + the numpy
  core), the whole account built;
- shuffled: the same rows in random order (``--no-shuffled`` skips it), through
  ``compute_file``'s external merge sort (spilled to a temporary file);
- baseline: ``polars.read_csv`` of the same file, eagerly, nothing else.

Prints one JSON object per line: rows per second and peak RSS / file size of each,
with the ratio compute / baseline (and shuffled / compute, the price of the sort).
Goal: compute's peak RSS / file size under 0.5, shuffled too.
Also the child's RSS after imports (idle), and peak minus idle per file size, since
at small sizes the interpreter and libraries dominate the peak.

``--rows`` sets the size (default 2 000 000; the issue's figure is 20 000 000);
``--compress gzip|zstd`` writes a compressed file instead.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import zstandard

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "config" / "plant.example.yaml"
STEP_S = 12  # 20 M rows end in early November 2026, inside the example factors
START = "2026-01-01T00:00:00"
CHUNK_ROWS = 1_000_000


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def generate(path: Path, rows: int, compress: str, seed: int = 3) -> int:
    """Write the readings file; returns its size in bytes."""
    from carbonstream.config.loader import load_plant

    plant = load_plant(PLANT)
    meters = plant.meters
    n_m = len(meters)
    rng = np.random.default_rng(seed)
    rating = np.array([m.rating for m in meters])
    mult = np.array([m.multiplier for m in meters])
    wrap = np.array([m.counter_range or np.inf for m in meters])
    counter = np.array([m.measures.value == "counter" for m in meters])
    ids = pl.Series([m.id for m in meters])
    register = rng.uniform(0, 1000, n_m)
    t0 = np.datetime64(START, "s")
    per_chunk = max(CHUNK_ROWS // n_m, 1)
    done = 0
    with path.open("wb") as raw:
        out: Any
        match compress:
            case "gzip":
                out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3)
            case "zstd":
                out = zstandard.ZstdCompressor(level=3).stream_writer(raw)
            case _:
                out = raw
        out.write(b"ts,meter,value,quality\n")
        step0 = 0
        while done < rows:
            k = min(per_chunk, -(-(rows - done) // n_m))
            load = rng.uniform(0.3, 0.7, (k, n_m)) * rating  # unit/h
            inc = load * STEP_S / 3600 / mult  # raw register units
            cum = register + np.cumsum(inc, axis=0)
            register = cum[-1]
            value = np.where(counter, np.mod(cum, wrap), load / mult).reshape(-1)
            steps = np.repeat(np.arange(step0, step0 + k), n_m)
            step0 += k
            ts = (t0 + steps * np.timedelta64(STEP_S, "s")).astype("datetime64[us]")
            df = pl.DataFrame(
                {
                    "ts": pl.Series(ts).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                    "meter": ids.gather(np.tile(np.arange(n_m), k)),
                    "value": np.round(value, 3),
                    "quality": np.zeros(k * n_m, dtype=np.uint8),
                }
            ).head(rows - done)
            out.write(df.write_csv(include_header=False).encode())
            done += df.height
        if out is not raw:
            out.close()
    return path.stat().st_size


def shuffle(path: Path, out: Path, compress: str, seed: int = 5) -> int:
    """The file's rows in random order (the parent's memory, not measured)."""
    df = pl.read_csv(path, infer_schema=False)
    data = df.sample(fraction=1.0, shuffle=True, seed=seed).write_csv().encode()
    del df
    match compress:
        case "gzip":
            data = gzip.compress(data, compresslevel=3)
        case "zstd":
            data = zstandard.ZstdCompressor(level=3).compress(data)
    out.write_bytes(data)
    return out.stat().st_size


def child(kind: str, path: Path) -> None:
    """Run one side and print rows, seconds and memory as JSON (own process)."""
    idle_kb = status_kb("VmRSS")
    t = time.perf_counter()
    if kind in ("compute", "shuffled"):
        from carbonstream import report
        from carbonstream.compute import compute_file

        idle_kb = status_kb("VmRSS")
        t = time.perf_counter()
        acc = compute_file(PLANT, path, base_s=900)
        rep = report.build(acc, "day")
        rows = None
        assert acc.bad.count == 0
        extra = {"scope2_location_t": rep["totals"]["plant"]["scope2_location_t"]}
        # the generated file is in time order and streams; its shuffle is merge-sorted
        assert acc.streamed == (kind == "compute")
    else:
        df = pl.read_csv(path)
        rows = df.height
        extra = {}
    seconds = time.perf_counter() - t
    print(
        json.dumps(
            {"rows": rows, "seconds": seconds, "peak_kb": status_kb("VmHWM"), "idle_kb": idle_kb}
            | extra
        )
    )


def run_child(kind: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    line = {"bench": "readings_file", "metric": metric, "value": value, "unit": unit} | extra
    print(json.dumps(line), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--compress", choices=["none", "gzip", "zstd"], default="none")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the file")
    ap.add_argument("--no-shuffled", action="store_true", help="skip the out-of-order file")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        suffix = {"none": ".csv", "gzip": ".csv.gz", "zstd": ".csv.zst"}[args.compress]
        path = Path(tmp) / f"readings{suffix}"
        t = time.perf_counter()
        size = generate(path, args.rows, args.compress)
        emit("file_size_bytes", size, "B", rows=args.rows, generate_s=time.perf_counter() - t)
        base = run_child("eager", path)
        comp = run_child("compute", path)
        shuf: dict[str, Any] | None = None
        if not args.no_shuffled:
            shuffled = Path(tmp) / f"shuffled{suffix}"
            shuf_size = shuffle(path, shuffled, args.compress)
            path.unlink()
            shuf = run_child("shuffled", shuffled)
    rows = args.rows
    vs = "polars_read_csv_eager"
    c_rate, b_rate = rows / comp["seconds"], rows / base["seconds"]
    c_mem, b_mem = comp["peak_kb"] * 1024 / size, base["peak_kb"] * 1024 / size
    c_above = (comp["peak_kb"] - comp["idle_kb"]) * 1024 / size
    b_above = (base["peak_kb"] - base["idle_kb"]) * 1024 / size
    emit("eager_rows_per_s", b_rate, "rows/s")
    emit("eager_peak_rss_per_file_size", b_mem, "1", peak_rss_mb=base["peak_kb"] / 1024)
    emit("compute_rows_per_s", c_rate, "rows/s", vs=vs, ratio=c_rate / b_rate)
    emit(
        "compute_peak_rss_per_file_size",
        c_mem,
        "1",
        vs=vs,
        ratio=c_mem / b_mem,
        peak_rss_mb=comp["peak_kb"] / 1024,
        goal="< 0.5",
    )
    emit(
        "compute_peak_rss_above_idle_per_file_size",
        c_above,
        "1",
        vs=vs,
        ratio=c_above / b_above,
        idle_rss_mb=comp["idle_kb"] / 1024,
    )
    emit("compute_scope2_location_t", comp["scope2_location_t"], "tCO2e")
    if shuf is None:
        return
    s_rate = rows / shuf["seconds"]
    s_mem = shuf["peak_kb"] * 1024 / shuf_size
    s_above = (shuf["peak_kb"] - shuf["idle_kb"]) * 1024 / shuf_size
    emit("shuffled_rows_per_s", s_rate, "rows/s", vs="compute", ratio=s_rate / c_rate)
    emit(
        "shuffled_peak_rss_per_file_size",
        s_mem,
        "1",
        vs="compute",
        ratio=s_mem / c_mem,
        peak_rss_mb=shuf["peak_kb"] / 1024,
        file_size_bytes=shuf_size,
        goal="< 0.5",
    )
    emit(
        "shuffled_peak_rss_above_idle_per_file_size",
        s_above,
        "1",
        vs="compute",
        ratio=s_above / c_above,
        idle_rss_mb=shuf["idle_kb"] / 1024,
    )
    emit(
        "shuffled_scope2_location_t",
        shuf["scope2_location_t"],
        "tCO2e",
        vs="compute",
        ratio=shuf["scope2_location_t"] / comp["scope2_location_t"],
    )


if __name__ == "__main__":
    main()
