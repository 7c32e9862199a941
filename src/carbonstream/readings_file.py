"""Read a readings file (CSV or Parquet, any size) for batch accounting.

CSV columns: ``ts,meter,value[,quality]``, separated by comma, semicolon or tab
(detected from the header, or given). ``ts`` is ISO-8601 with a UTC offset
(``2026-11-23T08:00:00+08:00``, ``...Z``), epoch seconds, or a plant-local time
without an offset (``2026-11-23 08:00:00``) when the plant's time zone is known;
a local time the clock shows twice (DST fall-back) or never (spring-forward) is an
error naming its lines. ``quality`` is 0 for good (default) or a non-zero reason
code. Parquet: the same columns, ``ts`` may also be a datetime column (without a
time zone: plant-local).

The file may be plain, gzip or zstd compressed: the kind is read from the first
bytes, not from the name. It is read in blocks of about ``BLOCK_BYTES`` with
polars' CSV parser (Parquet: polars' streaming engine, ``collect_batches``), so
memory stays bounded whatever the file's size. A file out of time order is put in
order by an external merge sort (:meth:`ReadingsReader.sorted_batches`): each parsed
block is sorted and spilled to a temporary file, then the sorted runs are merged a
bounded number of readings at a time.

A bad row is an error naming its line, unless ``skip_bad`` is set: then it is
counted and reported. An unknown meter id is always an error: it usually
means the wrong plant file.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import zstandard

from carbonstream.core.batch import ReadingBatch
from carbonstream.errors import ReadingsError

_EPOCH = r"^\s*-?\d+(\.\d+)?\s*$"
_OFFSET = r"(?i)(z|[+-]\d\d(:?\d\d)?)\s*$"
_MAX_REPORTED = 20
_MAX_NAMED_LINES = 5  # lines named in a clock-change error
BLOCK_BYTES = 4 << 20  # decompressed CSV bytes parsed at once: the memory bound's unit
PARQUET_ROWS = 500_000  # Parquet rows per streamed batch
MERGE_ROWS = 250_000  # readings held by the merge of an out-of-order file (~5 MB)
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t"}
_GZIP, _ZSTD, _PARQUET = b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PAR1"


@dataclass
class BadRows:
    count: int = 0
    examples: list[str] = field(default_factory=list)  # "line N: reason", first few


@dataclass
class LoadedReadings:
    batch: ReadingBatch
    bad: BadRows


@dataclass
class _ClockLines:
    """Local times without an offset that the clock shows twice or never."""

    ambiguous: list[int] = field(default_factory=list)  # first few lines
    n_ambiguous: int = 0
    missing: list[int] = field(default_factory=list)
    n_missing: int = 0

    def add(self, ambiguous: pl.Series, missing: pl.Series) -> None:
        self.n_ambiguous += ambiguous.len()
        self.n_missing += missing.len()
        self.ambiguous += ambiguous.head(_MAX_NAMED_LINES - len(self.ambiguous)).to_list()
        self.missing += missing.head(_MAX_NAMED_LINES - len(self.missing)).to_list()

    def error(self, where: str, zone: ZoneInfo) -> ReadingsError | None:
        parts = []
        if self.n_ambiguous:
            parts.append(
                f"{self.n_ambiguous} local time(s) happen twice in {zone.key} (clock set back), "
                f"line(s) {_lines(self.ambiguous, self.n_ambiguous)}"
            )
        if self.n_missing:
            parts.append(
                f"{self.n_missing} local time(s) do not exist in {zone.key} (clock set forward), "
                f"line(s) {_lines(self.missing, self.n_missing)}"
            )
        if not parts:
            return None
        return ReadingsError(f"{where}: {'; '.join(parts)}: give these times their UTC offset")


def _lines(first: list[int], n: int) -> str:
    text = ", ".join(str(x) for x in first)
    return text + (", …" if n > len(first) else "")


def delimiter_of(hint: str | None) -> str | None:
    """The ``--delimiter`` hint as a character (``,``, ``;``, ``tab``), or None to detect."""
    if hint is None:
        return None
    if hint not in DELIMITERS:
        raise ReadingsError(f"--delimiter {hint!r}: use ',', ';' or 'tab'")
    return DELIMITERS[hint]


def detect_delimiter(header: str) -> str:
    """The separator of a header line: the one that splits out the required columns, else
    the most frequent of comma, semicolon and tab."""
    candidates = [",", ";", "\t"]
    for sep in candidates:
        cols = {c.strip() for c in header.split(sep)}
        if {"meter", "value"} <= cols and cols & {"ts", "ts_ns"}:
            return sep
    return max(candidates, key=header.count)


def _kind(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_ZSTD):
        return "zstd"
    if head.startswith(_PARQUET):
        return "parquet"
    return "plain"


class ReadingsReader:
    """A readings file as a stream of ReadingBatch blocks, in file order.

    ``bytes_done``/``bytes_total`` give progress in bytes of the file on disk. Bad rows
    (unless skipped), and local times the clock shows twice or never, are counted to the
    end of the file and then raised, naming the first lines and the count."""

    def __init__(
        self,
        path: str | Path,
        meter_ids: list[str],
        skip_bad: bool = False,
        zone: ZoneInfo | None = None,
        delimiter: str | None = None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ReadingsError(f"readings file {self.path} not found")
        self.meter_ids = meter_ids
        self.skip_bad = skip_bad
        self.zone = zone
        self.delimiter = delimiter_of(delimiter)
        self.block_bytes = block_bytes
        self.bad = BadRows()
        self.rows = 0
        self.blocks = 0
        self.bytes_total = self.path.stat().st_size
        self.bytes_done = 0
        self._raw: BinaryIO | None = None

    def batches(self) -> Iterator[ReadingBatch]:
        where = str(self.path)
        clock = _ClockLines()
        failing = False  # an error is pending: keep counting, stop yielding
        for frame in self._frames():
            batch, bad, clock_block = _parse(frame, self.meter_ids, where, self.zone)
            self.rows += frame.height
            self.blocks += 1
            self.bad.count += bad.count
            self.bad.examples += bad.examples[: _MAX_REPORTED - len(self.bad.examples)]
            clock.add(*clock_block)
            failing = failing or clock.n_ambiguous + clock.n_missing > 0
            failing = failing or (self.bad.count > 0 and not self.skip_bad)
            if self._raw is not None:
                self.bytes_done = self._raw.tell()
            if not failing:
                yield batch
        self.bytes_done = self.bytes_total
        if self.zone is not None and (err := clock.error(where, self.zone)):
            raise err
        if self.bad.count and not self.skip_bad:
            raise ReadingsError(
                f"{where}: {self.bad.count} bad row(s), first: {self.bad.examples[0]} "
                "(use --skip-bad to count and skip them)"
            )

    def sorted_batches(self, rows: int = MERGE_ROWS) -> Iterator[ReadingBatch]:
        """The file's readings in time order whatever the file's order, as batches of
        about ``rows``: each block of :meth:`batches` sorted by time and spilled to one
        temporary file (21 bytes a reading, in the system's temporary directory), then
        the runs merged. Memory holds about ``rows`` readings of the merge besides one
        block; a tie in time keeps file order. Errors are raised as by :meth:`batches`,
        after the whole file is read and before anything is yielded."""
        with tempfile.TemporaryFile(prefix="carbonstream-sort-") as spill:
            runs: list[_Run] = []
            for batch in self.batches():
                if len(batch):
                    runs.append(_Run.spill(spill, batch.take(np.argsort(batch.ts, kind="stable"))))
            if runs:
                yield from _merge(spill, runs, max(rows // len(runs), 1))

    def _frames(self) -> Iterator[pl.DataFrame]:
        kind = _kind(self.path)
        if kind == "parquet":
            yield from _parquet(self.path)
            return
        with self.path.open("rb") as raw:
            self._raw = raw
            yield from self._csv(_decompressed(raw, kind, self.block_bytes))

    def _csv(self, chunks: Iterator[bytes]) -> Iterator[pl.DataFrame]:
        where = str(self.path)
        cols: list[str] = []
        sep = ","
        line = 1  # the line the next block starts at
        rest = b""
        while True:
            try:
                chunk = next(chunks, b"")
            except (OSError, zstandard.ZstdError, EOFError) as e:
                raise ReadingsError(f"{where}: cannot decompress near line {line}: {e}") from None
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                data, rest = data[: cut + 1], data[cut + 1 :]
            else:
                rest = b""
            if not cols:
                header, _, data = data.partition(b"\n")
                text_header = header.decode("utf-8-sig", errors="replace").rstrip("\r")
                sep = self.delimiter or detect_delimiter(text_header)
                cols = [c.strip() for c in text_header.split(sep)]
                line += 1
            if data.strip():
                yield self._block(data, cols, sep, line)
            line += data.count(b"\n")
            if not chunk:
                return

    def _block(self, data: bytes, cols: list[str], sep: str, line: int) -> pl.DataFrame:
        try:
            df = pl.read_csv(
                io.BytesIO(data),
                has_header=False,
                new_columns=cols,
                separator=sep,
                schema=dict.fromkeys(cols, pl.String),
            )
        except pl.exceptions.PolarsError as e:
            last = line + data.count(b"\n") - 1
            raise ReadingsError(
                f"{self.path}: cannot read lines {line}-{last} as CSV: {e}"
            ) from None
        return df.with_row_index("line", offset=line).with_columns(pl.col("line").cast(pl.Int64))


_COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("meter", np.int32),
    ("ts", np.int64),
    ("value", np.float64),
    ("quality", np.uint8),
)


class _Run:
    """One time-sorted block spilled to the sort file (column after column), and the
    part of it read back and not yet merged."""

    def __init__(self, offset: int, n: int) -> None:
        self.offset, self.n = offset, n
        self.read = 0  # readings read back from the file
        self.buf = ReadingBatch.of([], [], [])

    @classmethod
    def spill(cls, f: BinaryIO, batch: ReadingBatch) -> _Run:
        offset = f.seek(0, io.SEEK_END)
        for name, _ in _COLUMNS:
            f.write(getattr(batch, name).tobytes())
        return cls(offset, len(batch))

    @property
    def more_on_disk(self) -> bool:
        return self.read < self.n

    def fill(self, f: BinaryIO, want: int) -> None:
        """Read back until ``want`` readings are buffered, or the run is all read."""
        k = min(want - len(self.buf), self.n - self.read)
        if k <= 0:
            return
        cols = []
        start = self.offset
        for _, dtype in _COLUMNS:
            size = np.dtype(dtype).itemsize
            f.seek(start + self.read * size)
            cols.append(np.frombuffer(f.read(k * size), dtype=dtype))
            start += self.n * size
        self.read += k
        self.buf = ReadingBatch.concat([self.buf, ReadingBatch(*cols)])

    def take_until(self, cut: int | None) -> ReadingBatch:
        """The buffered readings up to time ``cut`` inclusive (all when None)."""
        end = len(self.buf) if cut is None else int(np.searchsorted(self.buf.ts, cut, "right"))
        out, self.buf = self.buf.take(slice(0, end)), self.buf.take(slice(end, None))
        return out


def _merge(f: BinaryIO, runs: list[_Run], per_run: int) -> Iterator[ReadingBatch]:
    """The runs merged in time order. Each round buffers up to ``per_run`` readings of
    every run and emits all buffered readings up to the earliest last-buffered time of a
    run with more on disk: nothing unread can be earlier, and that run empties its buffer,
    so every round moves on. Readings at the cut time still on disk come in the next
    batch, which then starts at the time the previous one ended (allowed)."""
    while True:
        for r in runs:
            r.fill(f, per_run)
        runs = [r for r in runs if len(r.buf) or r.more_on_disk]
        if not runs:
            return
        bounds = [int(r.buf.ts[-1]) for r in runs if r.more_on_disk]
        cut = min(bounds) if bounds else None
        out = ReadingBatch.concat([r.take_until(cut) for r in runs])
        yield out.take(np.argsort(out.ts, kind="stable"))


def _decompressed(raw: BinaryIO, kind: str, size: int) -> Iterator[bytes]:
    """The file's bytes, decompressed, in pieces of about ``size``. A compressed stream
    that ends before its end marker (a truncated file) is an error, never a short read."""
    match kind:
        case "gzip":
            with gzip.GzipFile(fileobj=raw) as g:
                while piece := g.read(size):
                    yield piece
        case "zstd":
            d = zstandard.ZstdDecompressor().decompressobj()
            # CSV compresses about 5-10x: read a fraction so a piece stays near ``size``
            while packed := raw.read(max(size // 8, 1 << 12)):
                while packed:
                    if out := d.decompress(packed):  # an empty piece would read as the end
                        yield out
                    packed = d.unused_data if d.eof else b""
                    if packed:  # the next frame of a multi-frame file
                        d = zstandard.ZstdDecompressor().decompressobj()
            if not d.eof:
                raise EOFError("the zstd stream ends before its end marker (truncated file?)")
        case _:
            while piece := raw.read(size):
                yield piece


def _parquet(path: Path) -> Iterator[pl.DataFrame]:
    try:
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        ts = schema.get("ts")
        if isinstance(ts, pl.Datetime):
            # a zone-less column holds plant-local times: as text without an offset it
            # takes the same path as a CSV's (clock-change rows named, no zone: bad rows)
            fmt = "%Y-%m-%dT%H:%M:%S%.f" if ts.time_zone is None else "%Y-%m-%dT%H:%M:%S%.f%:z"
            col = pl.col("ts") if ts.time_zone is None else pl.col("ts").dt.convert_time_zone("UTC")
            lf = lf.with_columns(col.dt.strftime(fmt))
        lf = lf.select(pl.all().cast(pl.String)).with_row_index("line", offset=1)
        for df in lf.collect_batches(chunk_size=PARQUET_ROWS, engine="streaming"):
            yield df.with_columns(pl.col("line").cast(pl.Int64))
    except pl.exceptions.PolarsError as e:
        raise ReadingsError(f"{path}: cannot read as Parquet: {e}") from None


def load_readings(
    path: str | Path,
    meter_ids: list[str],
    skip_bad: bool = False,
    zone: ZoneInfo | None = None,
    delimiter: str | None = None,
) -> LoadedReadings:
    """The whole file as one batch (file order)."""
    reader = ReadingsReader(path, meter_ids, skip_bad=skip_bad, zone=zone, delimiter=delimiter)
    parts = list(reader.batches())
    batch = ReadingBatch(
        meter=np.concatenate([b.meter for b in parts]) if parts else np.empty(0, np.int32),
        ts=np.concatenate([b.ts for b in parts]) if parts else np.empty(0, np.int64),
        value=np.concatenate([b.value for b in parts]) if parts else np.empty(0, np.float64),
        quality=np.concatenate([b.quality for b in parts]) if parts else np.empty(0, np.uint8),
    )
    return LoadedReadings(batch, reader.bad)


def _naive(ts: pl.Expr) -> pl.Expr:
    """A time without an offset (``T`` or a space between date and time, seconds optional)."""
    t = ts.str.replace(" ", "T")
    return pl.coalesce(
        t.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False),
        t.str.to_datetime("%Y-%m-%dT%H:%M", time_unit="us", strict=False),
    )


def _local_ns(naive: pl.Expr, zone: ZoneInfo, ambiguous: str) -> pl.Expr:
    return (
        naive.dt.replace_time_zone(zone.key, ambiguous=ambiguous, non_existent="null").dt.epoch(  # type: ignore[arg-type]
            "us"
        )
        * 1000
    )


def _with_local(parsed: pl.DataFrame, df: pl.DataFrame, zone: ZoneInfo) -> pl.DataFrame:
    """Times without an offset read as plant-local, and those the clock shows twice or
    never marked. Only the rows that need it are converted: a time-zone conversion of
    every row would cost more than the rest of the parse."""
    ts = pl.col("ts").str.strip_chars()
    local = parsed["ts_ns"].is_null() & df.select(
        ~ts.str.contains(_EPOCH) & ~ts.str.contains(_OFFSET)
    ).to_series().fill_null(value=False)
    idx = np.flatnonzero(local.to_numpy())
    if not len(idx):
        return parsed
    naive = _naive(ts)
    sub = df[idx].select(
        _local_ns(naive, zone, "null").alias("ns"),
        naive.is_not_null().alias("parsed"),
        # "earliest" resolves a time shown twice, never one the clock skipped
        _local_ns(naive, zone, "earliest").is_not_null().alias("earliest"),
    )
    shown = sub["parsed"] & sub["ns"].is_null()
    return parsed.with_columns(
        parsed["ts_ns"].scatter(idx, sub["ns"]),
        parsed["_ambiguous"].scatter(idx, shown & sub["earliest"]),
        parsed["_missing"].scatter(idx, shown & ~sub["earliest"]),
    )


def _parse(
    df: pl.DataFrame, meter_ids: list[str], where: str, zone: ZoneInfo | None
) -> tuple[ReadingBatch, BadRows, tuple[pl.Series, pl.Series]]:
    # The evidence export's readings.csv gives times as integer nanoseconds (ts_ns) and no
    # value for a reading of bad quality: it reads as it was stored.
    exported = "ts" not in df.columns and "ts_ns" in df.columns
    missing = [c for c in ("ts", "meter", "value") if c not in df.columns]
    if exported:
        missing.remove("ts")
    if missing:
        raise ReadingsError(
            f"{where}: missing column(s) {', '.join(missing)} (need ts,meter,value; "
            f"found {', '.join(c for c in df.columns if c != 'line')}; "
            "is the delimiter right? see --delimiter)"
        )
    if "quality" not in df.columns:
        df = df.with_columns(pl.lit("0").alias("quality"))
    ts = pl.col("ts_ns" if exported else "ts").str.strip_chars()
    epoch_ns = (ts.cast(pl.Float64, strict=False) * 1e6).round(0).cast(pl.Int64) * 1000
    iso_ns = (
        ts.str.to_datetime("%+", time_zone="UTC", time_unit="us", strict=False).dt.epoch("us")
        * 1000
    )
    is_epoch = ts.str.contains(_EPOCH)
    if exported:
        ts_ns = ts.cast(pl.Int64, strict=False)
    else:
        ts_ns = pl.when(is_epoch).then(epoch_ns).otherwise(iso_ns)
    parsed = df.select(
        "line",
        pl.col("meter").str.strip_chars().alias("meter"),
        ts_ns.alias("ts_ns"),
        pl.col("value").str.strip_chars().cast(pl.Float64, strict=False).alias("value"),
        pl.col("quality").str.strip_chars().cast(pl.UInt8, strict=False).alias("quality"),
        pl.lit(value=False).alias("_ambiguous"),
        pl.lit(value=False).alias("_missing"),
    )
    if zone is not None and not exported:
        parsed = _with_local(parsed, df, zone)
    if exported:
        parsed = parsed.with_columns(
            pl.when(pl.col("value").is_null() & (pl.col("quality") != 0))
            .then(float("nan"))
            .otherwise(pl.col("value"))
            .alias("value")
        )
    clock_lines = (
        parsed.filter(pl.col("_ambiguous"))["line"],
        parsed.filter(pl.col("_missing"))["line"],
    )
    no_zone = "ts has no UTC offset and the plant's time zone is not known"
    reason = (
        pl.when(pl.col("_ambiguous") | pl.col("_missing"))
        .then(pl.lit(None, pl.String))  # reported on their own, never skipped
        .when(pl.col("ts_ns").is_null())
        .then(
            pl.lit(
                "ts is not ISO-8601 (with an offset, or plant-local) or epoch seconds"
                if zone is not None
                else f"ts is not ISO-8601 with an offset or epoch seconds ({no_zone}?)"
            )
        )
        .when(pl.col("meter").is_null() | (pl.col("meter") == ""))
        .then(pl.lit("meter is empty"))
        .when(pl.col("value").is_null())
        .then(pl.lit("value is not a number"))
        # no value (NaN) is how a reading of bad quality is stored: not a bad row then
        .when(~pl.col("value").is_finite() & ~(pl.col("value").is_nan() & (pl.col("quality") != 0)))
        .then(pl.lit("value is not finite"))
        .when(pl.col("quality").is_null())
        .then(pl.lit("quality is not an integer 0-255"))
        .otherwise(None)
    )
    parsed = parsed.with_columns(reason.alias("reason"))
    bad_rows = parsed.filter(pl.col("reason").is_not_null())
    bad = BadRows(count=bad_rows.height)
    if bad.count:
        bad.examples = [
            f"line {r['line']}: {r['reason']}"
            for r in bad_rows.head(_MAX_REPORTED).iter_rows(named=True)
        ]
    good = parsed.filter(
        pl.col("reason").is_null() & ~pl.col("_ambiguous") & ~pl.col("_missing")
    ).with_columns(
        pl.col("meter")
        .replace_strict(
            meter_ids,
            np.arange(len(meter_ids), dtype=np.int32),
            default=None,
            return_dtype=pl.Int32,
        )
        .alias("idx")
    )
    unknown = good.filter(pl.col("idx").is_null())
    if unknown.height:
        first = unknown.row(0, named=True)
        names = sorted(set(unknown["meter"].unique().head(10).to_list()))
        raise ReadingsError(
            f"{where}: unknown meter id(s) {', '.join(names)} (first at line {first['line']}); "
            "is this the right plant file?"
        )
    batch = ReadingBatch(
        meter=good["idx"].to_numpy().astype(np.int32),
        ts=good["ts_ns"].to_numpy().astype(np.int64),
        value=good["value"].to_numpy().astype(np.float64),
        quality=good["quality"].to_numpy().astype(np.uint8),
    )
    return batch, bad, clock_lines
