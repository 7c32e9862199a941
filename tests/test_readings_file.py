"""Readings files: compression by content, delimiters, plant-local times, streaming.

Streamed accounting (small blocks, many of them) is checked against the whole file read
at once and sorted (compute.run), on the example readings, for every bucket."""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
import zstandard

from carbonstream import report
from carbonstream.cli import main
from carbonstream.compute import Account, compute_file, mark_implausible, run, stream
from carbonstream.config.loader import load_plant
from carbonstream.core.batch import ReadingBatch
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.errors import ReadingsError
from carbonstream.progress import ByteProgress
from carbonstream.readings_file import ReadingsReader, detect_delimiter, load_readings

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "config" / "plant.example.yaml"
READINGS = ROOT / "config" / "readings.example.csv"
BUCKETS = {"minute": 60, "15min": 900, "hour": 900, "day": 900, "month": 900}


def _engine(base_s: int) -> Engine:
    plant = load_plant(PLANT)
    return Engine(plant, FactorLibrary.load(plant.factor_files), base_s=base_s)


def _ids() -> list[str]:
    return _engine(900).params.ids


def _same_batch(a: Path, b: Path, **kw: object) -> None:
    x = load_readings(a, _ids()).batch
    y = load_readings(b, _ids(), **kw).batch  # type: ignore[arg-type]
    assert len(x) == 11211
    for name in ("meter", "ts", "value", "quality"):
        np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


def test_gzip_and_zstd_are_read_by_content(tmp_path: Path) -> None:
    gz = tmp_path / "r.csv.gz"
    with READINGS.open("rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    zst = tmp_path / "r.csv.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(READINGS.read_bytes()))
    misnamed = tmp_path / "r.csv"  # gzip content under a plain name
    shutil.copy(gz, misnamed)
    for packed in (gz, zst, misnamed):
        _same_batch(READINGS, packed)


def test_broken_compressed_file_is_an_error(tmp_path: Path) -> None:
    zst = tmp_path / "r.csv.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(READINGS.read_bytes())[:2000])
    with pytest.raises(ReadingsError, match=r"cannot decompress|cannot read"):
        load_readings(zst, _ids())


def test_delimiters_detected_or_hinted(tmp_path: Path) -> None:
    text = READINGS.read_text()
    semi, tab = tmp_path / "semi.csv", tmp_path / "tab.tsv"
    semi.write_text(text.replace(",", ";"))
    tab.write_text(text.replace(",", "\t"))
    _same_batch(READINGS, semi)
    _same_batch(READINGS, tab)
    _same_batch(READINGS, semi, delimiter=";")
    _same_batch(READINGS, tab, delimiter="tab")
    assert detect_delimiter("ts;meter;value;quality") == ";"
    assert detect_delimiter("ts\tmeter\tvalue") == "\t"
    # a wrong hint names the columns it found and points at --delimiter
    with pytest.raises(ReadingsError, match=r"found ts;meter;value;quality.*--delimiter"):
        load_readings(semi, _ids(), delimiter=",")


def _local(text: str, zone: str) -> str:
    """The example file with its UTC times written as naive plant-local times."""
    df = pl.read_csv(text.encode(), infer_schema=False)
    local = (
        df["ts"]
        .str.to_datetime("%+", time_zone="UTC")
        .dt.convert_time_zone(zone)
        .dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    return df.with_columns(local.alias("ts")).write_csv()


def test_plant_local_times_need_the_zone(tmp_path: Path) -> None:
    f = tmp_path / "local.csv"
    f.write_text(_local(READINGS.read_text(), "Asia/Shanghai"))
    _same_batch(READINGS, f, zone=ZoneInfo("Asia/Shanghai"))
    # first row: 2026-11-22 00:00:00 in Shanghai (UTC+8) is 2026-11-21T16:00Z =
    # 2026-01-01 (1_767_225_600 s) + 324 days * 86_400 s + 16 h * 3_600 s
    b = load_readings(f, _ids(), zone=ZoneInfo("Asia/Shanghai")).batch
    assert f.read_text().splitlines()[1].startswith("2026-11-22 00:00:00,")
    assert int(b.ts[0]) == (1_767_225_600 + 324 * 86_400 + 16 * 3_600) * 10**9
    with pytest.raises(ReadingsError, match=r"line 2: ts.*time zone is not known"):
        load_readings(f, _ids())


def test_clock_change_times_are_errors_naming_their_lines(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    rows = [
        "2026-10-25 01:30:00,assembly-grid,1,0",  # line 2: fine (CEST)
        "2026-10-25 02:30:00,assembly-grid,2,0",  # line 3: twice (clock set back at 03:00)
        "2026-10-25 02:45,assembly-grid,3,0",  # line 4: twice
        "2026-10-25T03:30:00+01:00,assembly-grid,4,0",  # line 5: has an offset: fine
        "2026-03-29 02:30:00,assembly-grid,5,0",  # line 6: never (clock set forward)
    ]
    f = tmp_path / "dst.csv"
    f.write_text("ts,meter,value,quality\n" + "\n".join(rows) + "\n")
    with pytest.raises(ReadingsError) as e:
        load_readings(f, _ids(), zone=berlin, skip_bad=True)  # never skipped
    msg = str(e.value)
    assert "2 local time(s) happen twice in Europe/Berlin" in msg
    assert "line(s) 3, 4" in msg
    assert "1 local time(s) do not exist in Europe/Berlin" in msg and "line(s) 6" in msg
    # counted to the end of the file across blocks, the first few named
    many = tmp_path / "many.csv"
    many.write_text(
        "ts,meter,value\n"
        + "2026-10-25 01:00:00,assembly-grid,1\n" * 500
        + "2026-10-25 02:10:00,assembly-grid,1\n" * 7
    )
    reader = ReadingsReader(many, _ids(), zone=berlin, block_bytes=1000)
    with pytest.raises(
        ReadingsError, match=r"7 local time\(s\) happen twice.*502, 503, 504, 505, 506, …"
    ):
        list(reader.batches())


def _json(acc: Account, bucket: str) -> dict:  # type: ignore[type-arg]
    return json.loads(report.to_json(report.build(acc, bucket)))  # type: ignore[no-any-return]


def _close(a: object, b: object) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (a, b)
    else:
        assert a == b


@pytest.mark.parametrize("bucket", list(BUCKETS))
@pytest.mark.slow
def test_streamed_equals_whole_file(bucket: str) -> None:
    base_s = BUCKETS[bucket]
    engine = _engine(base_s)
    loaded = load_readings(READINGS, engine.params.ids)
    batch, implausible = mark_implausible(engine, loaded.batch)
    whole = run(engine, batch)
    whole.implausible = implausible
    engine2 = _engine(base_s)
    # ~150 readings per block: about 75 blocks, each fed to the engine on its own
    reader = ReadingsReader(READINGS, engine2.params.ids, block_bytes=8000)
    streamed = stream(engine2, reader)
    assert reader.blocks > 60
    assert streamed.streamed
    a, b = _json(whole, bucket), _json(streamed, bucket)
    assert a["totals"]["plant"]["scope1_t"] > 0
    _close(a, b)


def _shuffled(tmp_path: Path, seed: int = 7) -> Path:
    lines = READINGS.read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    rng = np.random.default_rng(seed)
    body = [lines[1 + i] for i in rng.permutation(len(lines) - 1)]
    shuffled.write_text("\n".join([lines[0], *body]) + "\n")
    return shuffled


@pytest.mark.parametrize("bucket", ["minute", "day"])
def test_out_of_order_file_is_merge_sorted_to_the_sorted_files_account(
    tmp_path: Path, bucket: str
) -> None:
    shuffled = _shuffled(tmp_path)
    base_s = BUCKETS[bucket]
    acc = compute_file(PLANT, shuffled, base_s=base_s, block_bytes=20_000)
    ref = compute_file(PLANT, READINGS, base_s=base_s, block_bytes=20_000)
    assert ref.streamed and not acc.streamed
    a, b = _json(ref, bucket), _json(acc, bucket)
    assert a["totals"]["plant"]["scope1_t"] > 0
    # Every count, flag, id and time equal; sums equal but for their last bits, which move
    # with where chunks end (the sorted file read in blocks of another size moves them too).
    _close(a, b)


def test_merge_sort_yields_every_reading_in_time_order_in_bounded_batches(
    tmp_path: Path,
) -> None:
    shuffled = _shuffled(tmp_path, seed=11)
    reader = ReadingsReader(shuffled, _ids(), block_bytes=8000)
    batches = list(reader.sorted_batches(rows=600))
    assert reader.blocks > 60  # many runs: each gets a few readings per round
    assert len(batches) > 10 and max(len(b) for b in batches) <= 600
    ts = np.concatenate([b.ts for b in batches])
    assert (np.diff(ts) >= 0).all()
    got = ReadingBatch.concat(batches)
    want = load_readings(READINGS, _ids()).batch
    # the same readings: compare as sorted (meter, ts, value, quality) rows

    def key(b: ReadingBatch) -> np.ndarray:
        return np.lexsort((b.quality, b.value, b.ts, b.meter))

    for name in ("meter", "ts", "value", "quality"):
        np.testing.assert_array_equal(getattr(got, name)[key(got)], getattr(want, name)[key(want)])


def test_cli_semicolon_gzip_local(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "export.csv.gz"
    f.write_bytes(
        gzip.compress(_local(READINGS.read_text(), "Asia/Shanghai").replace(",", ";").encode())
    )
    args = ["compute", "--config", str(PLANT), "--format", "json", "--bucket", "day"]
    assert main([*args, "--readings", str(READINGS)]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main([*args, "--readings", str(f), "--delimiter", ";"]) == 0
    out = capsys.readouterr()
    assert "reading" not in out.err  # no progress bar when standard error is not a terminal
    _close(ref["totals"], json.loads(out.out)["totals"])


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Work:
    bytes_done = 50
    bytes_total = 100


def test_progress_bar_only_on_a_terminal_after_its_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    late = ByteProgress("reading late.csv", show_after_s=60)
    late(_Work())
    late.close()
    assert err.getvalue() == ""  # a short run draws nothing
    bar = ByteProgress("reading big.csv", show_after_s=0)
    bar(_Work())
    bar.close()
    assert "reading big.csv" in err.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: never
    assert not ByteProgress("x", show_after_s=0).enabled


def test_parquet_naive_datetimes_are_plant_local(tmp_path: Path) -> None:
    df = pl.read_csv(READINGS, infer_schema=False)
    utc = df["ts"].str.to_datetime("%+", time_zone="UTC")
    naive = df.with_columns(
        utc.dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None).alias("ts")
    )
    f = tmp_path / "local.parquet"
    naive.write_parquet(f)
    _same_batch(READINGS, f, zone=ZoneInfo("Asia/Shanghai"))
    with pytest.raises(ReadingsError, match=r"line 1: ts.*time zone is not known"):
        load_readings(f, _ids())
