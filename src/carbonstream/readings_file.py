"""Read a readings file (CSV or Parquet) into a ReadingBatch for batch accounting.

CSV columns: ``ts,meter,value[,quality]``; ``ts`` is ISO-8601 with a UTC offset
(``2026-11-23T08:00:00+08:00``, ``...Z``) or epoch seconds; ``quality`` is 0 for
good (default) or a non-zero reason code. Parquet: the same columns, ``ts`` may
also be a timezone-aware datetime column.

A bad row is an error naming its line, unless ``skip_bad`` is set: then it is
counted and reported. An unknown meter id is always an error: it usually
means the wrong plant file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from carbonstream.core.batch import ReadingBatch
from carbonstream.errors import ReadingsError

_EPOCH = r"^\s*-?\d+(\.\d+)?\s*$"
_MAX_REPORTED = 20


@dataclass
class BadRows:
    count: int = 0
    examples: list[str] = field(default_factory=list)  # "line N: reason", first few


@dataclass
class LoadedReadings:
    batch: ReadingBatch
    bad: BadRows


def load_readings(path: str | Path, meter_ids: list[str], skip_bad: bool = False) -> LoadedReadings:
    path = Path(path)
    if not path.is_file():
        raise ReadingsError(f"readings file {path} not found")
    if path.suffix.lower() == ".parquet":
        df = _parquet(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        try:
            df = pl.read_csv(path, infer_schema=False)
        except pl.exceptions.PolarsError as e:
            raise ReadingsError(f"{path}: cannot read as CSV: {e}") from None
    else:
        raise ReadingsError(f"{path}: unknown file type (use .csv or .parquet)")
    return _parse(df, meter_ids, skip_bad, str(path))


def _parquet(path: Path) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except pl.exceptions.PolarsError as e:
        raise ReadingsError(f"{path}: cannot read as Parquet: {e}") from None
    if "ts" in df.columns and isinstance(df.schema["ts"], pl.Datetime):
        if df.schema["ts"].time_zone is None:
            raise ReadingsError(f"{path}: column ts has no time zone; store it as UTC")
        df = df.with_columns(
            pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
        )
    return df.select(pl.all().cast(pl.String))


def _parse(df: pl.DataFrame, meter_ids: list[str], skip_bad: bool, where: str) -> LoadedReadings:
    # The evidence export's readings.csv gives times as integer nanoseconds (ts_ns) and no
    # value for a reading of bad quality: it reads as it was stored.
    exported = "ts" not in df.columns and "ts_ns" in df.columns
    missing = [c for c in ("ts", "meter", "value") if c not in df.columns]
    if exported:
        missing.remove("ts")
    if missing:
        raise ReadingsError(
            f"{where}: missing column(s) {', '.join(missing)} (need ts,meter,value)"
        )
    if "quality" not in df.columns:
        df = df.with_columns(pl.lit("0").alias("quality"))
    ts = pl.col("ts_ns" if exported else "ts").str.strip_chars()
    epoch_ns = (ts.cast(pl.Float64, strict=False) * 1e6).round(0).cast(pl.Int64) * 1000
    iso_ns = (
        ts.str.to_datetime("%+", time_zone="UTC", time_unit="us", strict=False).dt.epoch("us")
        * 1000
    )
    parsed = df.with_row_index("line", offset=2).select(
        "line",
        pl.col("meter").str.strip_chars().alias("meter"),
        (
            ts.cast(pl.Int64, strict=False)
            if exported
            else pl.when(ts.str.contains(_EPOCH)).then(epoch_ns).otherwise(iso_ns)
        ).alias("ts_ns"),
        pl.col("value").str.strip_chars().cast(pl.Float64, strict=False).alias("value"),
        pl.col("quality").str.strip_chars().cast(pl.UInt8, strict=False).alias("quality"),
    )
    if exported:
        parsed = parsed.with_columns(
            pl.when(pl.col("value").is_null() & (pl.col("quality") != 0))
            .then(float("nan"))
            .otherwise(pl.col("value"))
            .alias("value")
        )
    reason = (
        pl.when(pl.col("ts_ns").is_null())
        .then(pl.lit("ts is not ISO-8601 with an offset or epoch seconds"))
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
        if not skip_bad:
            raise ReadingsError(
                f"{where}: {bad.count} bad row(s), first: {bad.examples[0]} "
                "(use --skip-bad to count and skip them)"
            )
    good = parsed.filter(pl.col("reason").is_null())
    index = pl.DataFrame({"meter": meter_ids, "idx": np.arange(len(meter_ids), dtype=np.int32)})
    joined = good.join(index, on="meter", how="left")
    unknown = joined.filter(pl.col("idx").is_null())
    if unknown.height:
        first = unknown.row(0, named=True)
        names = sorted(set(unknown["meter"].unique().head(10).to_list()))
        raise ReadingsError(
            f"{where}: unknown meter id(s) {', '.join(names)} (first at line {first['line']}); "
            "is this the right plant file?"
        )
    batch = ReadingBatch(
        meter=joined["idx"].to_numpy().astype(np.int32),
        ts=joined["ts_ns"].to_numpy().astype(np.int64),
        value=joined["value"].to_numpy().astype(np.float64),
        quality=joined["quality"].to_numpy().astype(np.uint8),
    )
    return LoadedReadings(batch, bad)
