"""Schema checks and repairs for long-format price, signal and context frames (private).

Everything here works on whole polars columns: one pass computes a boolean mask per check,
then the first failing check raises `DataValidationError` (or, with ``repair=``, the bad
rows are dropped or fixed and the action is written to a report). Row numbers are 0-based
positions in the frame as the user gave it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import polars as pl

from ml4t.backtest.core.errors import ConfigError, DataValidationError
from ml4t.backtest.core.types import NS_PER_DAY, format_timestamp

__all__ = [
    "CHECKS",
    "PRICE_COLUMNS",
    "QUOTE_COLUMNS",
    "REPORT_SCHEMA",
    "RepairMode",
    "CheckSpec",
    "NormalisedFrame",
    "normalise_frame",
    "validate_prices",
    "validate_keys",
    "empty_report",
]

RepairMode = Literal["drop", "fix"]

ROW: Final = "__row"  # original 0-based row number
TS: Final = "__ts"  # int64 ns UTC
ASSET: Final = "__asset"  # String

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
VOLUME: Final = "volume"
QUOTE_COLUMNS: Final = ("bid", "ask")  # per-asset price fields that are not signals
MAX_LISTED: Final = 5  # offending rows spelled out in a message
MAX_ROWS: Final = 10  # row numbers kept in DataValidationError.rows
MAX_REPORT_ROWS: Final = 100  # row numbers kept per check in a repair report

REPORT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "check": pl.String(),
    "action": pl.String(),
    "count": pl.Int64(),
    "rows": pl.List(pl.Int64()),
}


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One validation check: its name, what it means, the fix, and what each repair does."""

    name: str
    description: str
    fix: str
    on_drop: str  # action under repair="drop" ("" = cannot be repaired)
    on_fix: str  # action under repair="fix"


CHECKS: Final = (
    CheckSpec("empty", "the frame has no rows", "pass a frame with at least one row", "", ""),
    CheckSpec(
        "missing_columns",
        "required columns are missing",
        "rename your columns or pass timestamp_col=/asset_col= (asset= for a single asset)",
        "",
        "",
    ),
    CheckSpec(
        "timestamp_dtype",
        "the timestamp column is not a date or datetime",
        "cast it, e.g. pl.col('timestamp').str.to_datetime()",
        "",
        "",
    ),
    CheckSpec(
        "timezone_mismatch",
        "timestamps mix naive and timezone-aware values",
        "give every timestamp the same timezone (naive values are read as UTC)",
        "",
        "",
    ),
    CheckSpec(
        "non_numeric",
        "a value column is not numeric",
        "cast it to a number or drop it before building the feed",
        "",
        "",
    ),
    CheckSpec(
        "null_key",
        "timestamp or asset is null",
        "drop the rows or fill the key; or pass repair='drop'",
        "dropped",
        "dropped",
    ),
    CheckSpec(
        "unsorted",
        "rows are not sorted by (timestamp, asset)",
        "sort with df.sort([timestamp_col, asset_col]) or pass repair='fix'",
        "sorted",
        "sorted",
    ),
    CheckSpec(
        "duplicate",
        "(timestamp, asset) appears more than once",
        "keep one row per (timestamp, asset), e.g. df.unique(subset=[timestamp_col, asset_col], "
        "keep='last', maintain_order=True), or pass repair='fix'",
        "kept last",
        "kept last",
    ),
    CheckSpec(
        "non_finite_price",
        "a price is null, NaN or infinite",
        "drop or fill the rows, or pass repair='drop'",
        "dropped",
        "dropped",
    ),
    CheckSpec(
        "non_positive_price",
        "a price is zero or negative",
        "drop the rows or fix the prices, or pass repair='drop'",
        "dropped",
        "dropped",
    ),
    CheckSpec(
        "non_finite_volume",
        "volume is null, NaN or infinite",
        "fill it (e.g. with 0) or drop the rows, or pass repair='drop'",
        "dropped",
        "dropped",
    ),
    CheckSpec(
        "negative_volume",
        "volume is negative",
        "drop the rows or fix the volume, or pass repair='drop'",
        "dropped",
        "dropped",
    ),
    CheckSpec(
        "high_below_low",
        "high is below low",
        "drop or repair the rows (repair='drop' or repair='fix')",
        "dropped",
        "clipped",
    ),
    CheckSpec(
        "high_below_open_close",
        "high is below max(open, close)",
        "drop or repair the rows (repair='fix' raises high to max(open, close))",
        "dropped",
        "clipped",
    ),
    CheckSpec(
        "low_above_open_close",
        "low is above min(open, close)",
        "drop or repair the rows (repair='fix' lowers low to min(open, close))",
        "dropped",
        "clipped",
    ),
    CheckSpec(
        "unknown_asset",
        "the signals frame names assets that the price frame does not have",
        "filter the signals to the feed's assets",
        "",
        "",
    ),
    CheckSpec(
        "column_clash",
        "a column name is used by more than one input",
        "rename one of the columns",
        "",
        "",
    ),
)
_SPEC: Final = {spec.name: spec for spec in CHECKS}
_ROW_CHECKS: Final = tuple(spec.name for spec in CHECKS[5:15])  # the row-level checks, in order


@dataclass(frozen=True, slots=True)
class NormalisedFrame:
    """A frame with ``__row``, ``__ts`` (int64 ns UTC), optional ``__asset`` and float columns."""

    frame: pl.DataFrame
    value_columns: tuple[str, ...]
    timezone: str | None  # tz of the input timestamps; None for naive datetimes
    naive: bool  # True when the input was a naive Datetime (Date counts as neither)
    timestamp_col: str
    asset_col: str | None


def empty_report() -> pl.DataFrame:
    """Return a repair report with no rows."""
    return pl.DataFrame(schema=REPORT_SCHEMA)


def _raise(
    check: str,
    detail: str,
    *,
    what: str,
    rows: Sequence[int] = (),
    column: str | None = None,
) -> None:
    spec = _SPEC[check]
    raise DataValidationError(
        f"{what} frame: {spec.description}: {detail}; {spec.fix}",
        check=check,
        rows=rows,
        column=column,
    )


_OFFSET_PATTERN: Final = r"(Z|[+-]\d\d:?\d\d)$"


def _timestamp_expr(frame: pl.DataFrame, col: str, what: str) -> tuple[pl.Expr, str | None, bool]:
    # Build the int64-ns-UTC expression for `col`; return (expr, timezone, was_naive_datetime).
    dtype = frame.schema[col]
    if dtype == pl.Date:
        return pl.col(col).cast(pl.Int64) * NS_PER_DAY, None, False
    if isinstance(dtype, pl.Datetime):
        expr = pl.col(col).dt.cast_time_unit("ns").to_physical().cast(pl.Int64)
        return expr, dtype.time_zone, dtype.time_zone is None
    if dtype == pl.String:
        texts = frame.get_column(col)
        has_offset = texts.str.contains(_OFFSET_PATTERN).fill_null(False)
        n_offset = int(has_offset.sum())
        if 0 < n_offset < texts.len() - texts.null_count():
            minority = has_offset if n_offset * 2 < texts.len() else ~has_offset
            bad = minority & texts.is_not_null()
            rows = bad.arg_true().head(MAX_ROWS).to_list()
            shown = ", ".join(f"row {r}: {texts[r]!r}" for r in rows[:MAX_LISTED])
            _raise(
                "timezone_mismatch", f"in column {col!r}: {shown}", what=what, rows=rows, column=col
            )
        try:
            parsed = texts.str.to_datetime(time_unit="ns", strict=True)
        except pl.exceptions.PolarsError as exc:
            _raise(
                "timestamp_dtype",
                f"column {col!r} is text that does not parse as dates ({str(exc).splitlines()[0]})",
                what=what,
                column=col,
            )
        tz = parsed.dtype.time_zone if isinstance(parsed.dtype, pl.Datetime) else None
        return pl.lit(parsed.to_physical()).cast(pl.Int64), tz, tz is None
    _raise("timestamp_dtype", f"column {col!r} has dtype {dtype}", what=what, column=col)
    raise AssertionError  # pragma: no cover - _raise always raises


def normalise_frame(
    data: pl.DataFrame | pl.LazyFrame,
    *,
    timestamp_col: str,
    asset_col: str | None,
    asset: str | None = None,
    required: Sequence[str] = (),
    what: str = "prices",
) -> NormalisedFrame:
    """Check columns and dtypes; return int64-ns timestamps, string assets and float values.

    With ``asset_col=None`` the frame has no asset dimension (context series). When
    `asset_col` is missing from the frame and `asset` is given, every row belongs to `asset`.
    """
    frame = data.collect() if isinstance(data, pl.LazyFrame) else data
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"{what}: expected a polars DataFrame or LazyFrame, was {type(data)!r}")
    if frame.height == 0:
        _raise("empty", "0 rows", what=what)
    names = frame.columns
    missing = [c for c in (timestamp_col, *required) if c not in names]
    use_asset = asset_col is not None
    constant_asset = use_asset and asset_col not in names
    if use_asset and not constant_asset and asset is not None:
        raise ConfigError(
            f"{what}: `asset={asset!r}` is for a frame without an asset column, but the frame "
            f"has {asset_col!r}; drop the column or leave out asset="
        )
    if constant_asset and asset is None:
        missing.insert(1, str(asset_col))
    if missing:
        _raise(
            "missing_columns",
            f"{missing} not in {names}",
            what=what,
            column=missing[0],
        )
    ts_expr, timezone, naive = _timestamp_expr(frame, timestamp_col, what)
    key_cols = {timestamp_col} | ({asset_col} if use_asset and not constant_asset else set())
    value_columns = tuple(c for c in names if c not in key_cols)
    for col in value_columns:
        dtype = frame.schema[col]
        if not (dtype.is_numeric() or dtype in (pl.Boolean, pl.Null)):
            _raise("non_numeric", f"column {col!r} has dtype {dtype}", what=what, column=col)
    exprs: list[pl.Expr] = [pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW), ts_expr.alias(TS)]
    if use_asset:
        if constant_asset:
            exprs.append(pl.lit(asset, dtype=pl.String).alias(ASSET))
        else:
            col_dtype = frame.schema[str(asset_col)]
            if not (
                col_dtype == pl.String
                or col_dtype.is_integer()
                or isinstance(col_dtype, pl.Categorical | pl.Enum)
            ):
                _raise(
                    "non_numeric",
                    f"asset column {asset_col!r} has dtype {col_dtype}; use text or integer ids",
                    what=what,
                    column=asset_col,
                )
            exprs.append(pl.col(str(asset_col)).cast(pl.String).alias(ASSET))
    exprs.extend(pl.col(c).cast(pl.Float64) for c in value_columns)
    out = frame.select(exprs)
    return NormalisedFrame(
        out, value_columns, timezone, naive, timestamp_col, asset_col if use_asset else None
    )


def _describe_rows(
    frame: pl.DataFrame, mask: pl.Series, columns: Sequence[str], nf: NormalisedFrame
) -> tuple[list[int], str]:
    # Return (first offending row numbers, "row 3 (asset='X', 2024-01-02): high=1.0, ...").
    hits = frame.filter(mask).head(MAX_ROWS)
    rows = hits.get_column(ROW).to_list()
    parts = []
    for rec in hits.head(MAX_LISTED).iter_rows(named=True):
        where: list[str] = []
        if ASSET in rec:
            where.append(f"asset={rec[ASSET]!r}")
        ts = rec[TS]
        where.append(format_timestamp(ts) if ts is not None else "timestamp=null")
        values = ", ".join(f"{c}={rec[c]!r}" for c in columns if c in rec)
        parts.append(f"row {rec[ROW]} ({', '.join(where)})" + (f": {values}" if values else ""))
    n = int(mask.sum())
    more = f" (and {n - len(parts)} more)" if n > len(parts) else ""
    return rows, f"{n} row(s); " + "; ".join(parts) + more


def _key_masks(frame: pl.DataFrame, has_asset: bool) -> pl.DataFrame:
    ts, prev_ts = pl.col(TS), pl.col(TS).shift(1)
    if has_asset:
        asset, prev_asset = pl.col(ASSET), pl.col(ASSET).shift(1)
        null_key = ts.is_null() | asset.is_null()
        unsorted = (ts < prev_ts) | ((ts == prev_ts) & (asset < prev_asset))
        duplicate = (ts == prev_ts) & (asset == prev_asset)
    else:
        null_key = ts.is_null()
        unsorted = ts < prev_ts
        duplicate = ts == prev_ts
    return frame.select(
        null_key.fill_null(False).alias("null_key"),
        unsorted.fill_null(False).alias("unsorted"),
        duplicate.fill_null(False).alias("duplicate"),
    )


def _price_masks(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    # Boolean mask per row-level price check, and the columns to show for each.
    o, h, lo, c, v = (pl.col(n) for n in (*PRICE_COLUMNS, VOLUME))
    non_finite = pl.any_horizontal(
        [(pl.col(n).is_null() | ~pl.col(n).is_finite()).fill_null(True) for n in PRICE_COLUMNS]
    )
    non_positive = pl.any_horizontal([(pl.col(n) <= 0).fill_null(False) for n in PRICE_COLUMNS])
    masks = frame.select(
        non_finite.alias("non_finite_price"),
        non_positive.alias("non_positive_price"),
        (v.is_null() | ~v.is_finite()).fill_null(True).alias("non_finite_volume"),
        (v < 0).fill_null(False).alias("negative_volume"),
        (h < lo).fill_null(False).alias("high_below_low"),
        (h < pl.max_horizontal(o, c)).fill_null(False).alias("high_below_open_close"),
        (lo > pl.min_horizontal(o, c)).fill_null(False).alias("low_above_open_close"),
    )
    ohlc = list(PRICE_COLUMNS)
    shown = {
        "non_finite_price": ohlc,
        "non_positive_price": ohlc,
        "non_finite_volume": [VOLUME],
        "negative_volume": [VOLUME],
        "high_below_low": ["high", "low"],
        "high_below_open_close": ["open", "high", "close"],
        "low_above_open_close": ["open", "low", "close"],
    }
    return masks, shown


def _first_column(frame: pl.DataFrame, mask: pl.Series, check: str) -> str | None:
    # The first OHLC column at fault in the first offending row, for DataValidationError.column.
    if check in ("non_finite_volume", "negative_volume"):
        return VOLUME
    if check == "high_below_low":
        return "high"
    if check == "high_below_open_close":
        return "high"
    if check == "low_above_open_close":
        return "low"
    row = frame.filter(mask).head(1).row(0, named=True)
    for name in PRICE_COLUMNS:
        value: Any = row[name]
        bad = value is None or not math.isfinite(value)
        if check == "non_positive_price":
            bad = value is not None and value <= 0
        if bad:
            return name
    return None  # pragma: no cover - the mask guarantees one column is at fault


def _report_row(check: str, action: str, rows: pl.Series) -> dict[str, Any]:
    return {
        "check": check,
        "action": action,
        "count": rows.len(),
        "rows": rows.sort().head(MAX_REPORT_ROWS).to_list(),
    }


def validate_keys(
    nf: NormalisedFrame, *, what: str, repair: RepairMode | None, sort: bool = False
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Check null keys, order and duplicates; with `repair` (or `sort`) fix them.

    Returns the checked frame (sorted, unique keys) and the repair report rows.
    """
    frame = nf.frame
    has_asset = ASSET in frame.columns
    key = [TS, ASSET] if has_asset else [TS]
    report: list[dict[str, Any]] = []
    for check in ("null_key", "unsorted", "duplicate"):
        mask = _key_masks(frame, has_asset).get_column(check)
        if not mask.any():
            continue
        if repair is None and not (sort and check == "unsorted"):
            rows, detail = _describe_rows(frame, mask, [], nf)
            _raise(check, detail, what=what, rows=rows)
        if check == "null_key":
            dropped = frame.filter(mask)[ROW]
            frame = frame.filter(~mask)
        elif check == "unsorted":
            dropped = frame.filter(mask)[ROW]
            frame = frame.sort(key, maintain_order=True)
            if repair is None:
                continue  # signal/context frames are sorted silently: row order carries nothing
        else:
            # The frame is sorted (stably), so among equal keys the last is the later input row.
            later = frame.select(pl.struct(key).is_last_distinct()).to_series()
            dropped = frame.filter(~later)[ROW]
            frame = frame.filter(later)
        report.append(_report_row(check, _SPEC[check].on_drop, dropped))
    if frame.height == 0:
        _raise("empty", "no rows left after repair", what=what)
    return frame, report


def validate_prices(
    nf: NormalisedFrame, *, repair: RepairMode | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Run every price check in order; raise on the first failure unless `repair` is given.

    Returns the clean frame (sorted by (timestamp, asset), unique keys, sane OHLCV) and the
    repair report (None when `repair` is None).
    """
    what = "prices"
    frame, report = validate_keys(nf, what=what, repair=repair)
    masks, shown = _price_masks(frame)
    clip_checks: list[str] = []
    drop = pl.Series("drop", np.zeros(frame.height, dtype=np.bool_))
    for check in _ROW_CHECKS[3:]:
        mask = masks.get_column(check)
        if repair is not None:
            mask = mask & ~drop  # a row already dropped is not reported again
        if not mask.any():
            continue
        if repair is None:
            rows, detail = _describe_rows(frame, mask, shown[check], nf)
            _raise(check, detail, what=what, rows=rows, column=_first_column(frame, mask, check))
        action = _SPEC[check].on_fix if repair == "fix" else _SPEC[check].on_drop
        report.append(_report_row(check, action, frame.filter(mask)[ROW]))
        if action == "clipped":
            clip_checks.append(check)
        else:
            drop = drop | mask
    if repair is None:
        return frame, None
    frame = frame.filter(~drop)
    if clip_checks:
        o, h, lo, c = (pl.col(n) for n in PRICE_COLUMNS)
        frame = frame.with_columns(
            pl.max_horizontal(h, o, c).alias("high"), pl.min_horizontal(lo, o, c).alias("low")
        )
    if frame.height == 0:
        _raise("empty", "no rows left after repair", what=what)
    return frame, pl.DataFrame(report, schema=REPORT_SCHEMA) if report else empty_report()
