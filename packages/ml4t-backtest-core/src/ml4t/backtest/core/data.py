"""`DataFeed`: long-format market data, validated once, held as (timestamps x assets) arrays.

Input is long format, one row per (timestamp, asset)::

    timestamp, asset, open, high, low, close, volume [, bid, ask] [, signal columns ...]

from a polars DataFrame or LazyFrame, a parquet file or a CSV file. Timestamps may be
``Date`` or ``Datetime`` of any unit; naive datetimes are read as UTC, timezone-aware ones
are converted to UTC. Every check runs once, when the feed is built (see `CHECKS` in the
user guide, docs/core.md); the first failing check raises `DataValidationError` naming the
rows. ``repair="drop"`` or ``repair="fix"`` repairs instead and records what was done in
`DataFeed.repair_report`.

The feed then holds one C-contiguous float64 array of shape (T, A) per field, NaN where an
asset has no bar, plus the boolean `has_bar` mask. When the frame has a row for every
(timestamp, asset), a float64 column held in one chunk is used as it is (a read-only view of
the frame's buffer, no copy); other columns are copied once. Separate ``signals=`` (per asset) and
``context=`` (market-wide, e.g. VIX) frames are aligned point-in-time: a value is visible
at the first feed timestamp at or after its own timestamp plus the declared lag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core._validation import (
    ASSET,
    PRICE_COLUMNS,
    QUOTE_COLUMNS,
    TS,
    VOLUME,
    RepairMode,
    normalise_frame,
    validate_keys,
    validate_prices,
)
from ml4t.backtest.core.assets import AssetRegistry
from ml4t.backtest.core.errors import ConfigError, DataValidationError, UnknownAssetError
from ml4t.backtest.core.types import AssetId, Timestamp, format_timestamp, to_timestamp

__all__ = [
    "BASE_FIELDS",
    "DataFeed",
    "FrameLike",
    "Lag",
    "SignalMode",
    "to_lag_ns",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
FrameLike: TypeAlias = "pl.DataFrame | pl.LazyFrame"
"""A polars DataFrame or LazyFrame (collected once)."""
Lag: TypeAlias = "int | timedelta"
"""A publication lag: int nanoseconds or a ``timedelta``."""
SignalMode = Literal["asof", "exact"]
TimeLike: TypeAlias = "int | str | datetime | date | np.datetime64"

BASE_FIELDS: Final = (*PRICE_COLUMNS, VOLUME)
"""The fields every feed has: open, high, low, close, volume."""


def to_lag_ns(lag: int | timedelta, name: str = "lag") -> int:
    """Convert a publication lag to int nanoseconds (>= 0).

    Example:
        >>> to_lag_ns(timedelta(days=5)) == 5 * 86_400 * 10**9
        True
    """
    if isinstance(lag, timedelta):
        ns = (lag.days * 86_400 + lag.seconds) * 1_000_000_000 + lag.microseconds * 1_000
    elif isinstance(lag, int | np.integer) and not isinstance(lag, bool):
        ns = int(lag)
    else:
        raise ConfigError(f"`{name}` must be int nanoseconds or a timedelta, was {lag!r}")
    if ns < 0:
        raise ConfigError(f"`{name}` must be >= 0, was {lag!r}")
    return ns


def _readonly(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return arr


def _asof_positions(feed_ts: IntArray, event_ts: IntArray, lag: int) -> npt.NDArray[np.intp]:
    # Index of the first feed timestamp at or after each event's visibility time (T = never).
    return np.searchsorted(feed_ts, event_ts + lag, side="left")


def _forward_index(updated: BoolArray) -> npt.NDArray[np.intp]:
    # For each (t, a): the last row <= t where `updated` is True, or -1.
    rows = np.arange(updated.shape[0], dtype=np.intp).reshape(-1, *([1] * (updated.ndim - 1)))
    idx = np.where(updated, rows, -1)
    return np.maximum.accumulate(idx, axis=0)


_NAN_BITS: Final = np.array([np.nan]).view(np.uint64)[0]


def _canonical_nan(arr: FloatArray) -> FloatArray:
    # `arr`, or a copy of it with every NaN replaced by np.nan's bit pattern when some NaN
    # has another one (sign or payload), so that equal data hashes equally
    nan = np.isnan(arr)
    if not nan.any() or bool(np.all(arr.view(np.uint64)[nan] == _NAN_BITS)):
        return arr
    out: FloatArray = np.where(nan, np.nan, arr)
    return out


def _le_bytes(arr: npt.NDArray[Any], dtype: str) -> memoryview | bytes:
    # the array's bytes as `dtype` (little-endian), without a copy when they already are
    want = np.dtype(dtype)
    if arr.dtype == want and arr.flags.c_contiguous:
        return arr.data.cast("B")
    return np.ascontiguousarray(arr, dtype=want).tobytes()


class DataFeed:
    """Validated market data as (timestamps x assets) float64 arrays.

    Build it with `from_polars`, `from_parquet` or `from_csv`; the constructor takes
    ready arrays (for tools that make their own). All arrays are read-only.

    Attributes:
        timestamps: int64 ns UTC, shape (T,), strictly increasing.
        assets: Asset ids, sorted.
        asset_index: Asset id -> column number.
        fields: Field name -> (T, A) float64, NaN where an asset has no bar.
        has_bar: (T, A) bool, True where the asset has a bar.
        context: Name -> (T,) float64, market-wide series aligned point-in-time.
        registry: The `AssetRegistry` (default: plain equities).
        repair_report: What ``repair=`` did (check, action, count, rows); None without repair.

    Example:
        >>> import polars as pl
        >>> from datetime import date
        >>> df = pl.DataFrame({
        ...     "timestamp": [date(2024, 1, 2), date(2024, 1, 2), date(2024, 1, 3)],
        ...     "asset": ["AAPL", "MSFT", "AAPL"],
        ...     "open": [10.0, 20.0, 11.0], "high": [11.0, 21.0, 12.0],
        ...     "low": [9.0, 19.0, 10.0], "close": [10.5, 20.5, 11.5],
        ...     "volume": [100, 200, 300],
        ... })
        >>> feed = DataFeed.from_polars(df)
        >>> feed.assets, feed.close.shape
        (('AAPL', 'MSFT'), (2, 2))
        >>> feed.close[:, 1].tolist()  # MSFT has no bar on 2024-01-03
        [20.5, nan]
    """

    __slots__ = (
        "_context",
        "_fields",
        "_fingerprint",
        "_signal_names",
        "asset_index",
        "assets",
        "has_bar",
        "registry",
        "repair_report",
        "timestamps",
    )

    def __init__(
        self,
        timestamps: npt.ArrayLike,
        assets: Sequence[AssetId],
        fields: Mapping[str, npt.ArrayLike],
        *,
        has_bar: npt.ArrayLike | None = None,
        context: Mapping[str, npt.ArrayLike] | None = None,
        signal_names: Iterable[str] | None = None,
        registry: AssetRegistry | None = None,
        repair_report: pl.DataFrame | None = None,
    ) -> None:
        ts = np.asarray(timestamps, dtype=np.int64)
        if ts.ndim != 1 or ts.size == 0:
            raise DataValidationError("`timestamps` must be a non-empty 1-D array", check="empty")
        if ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1])):
            bad = int(np.flatnonzero(ts[1:] <= ts[:-1])[0]) + 1
            raise DataValidationError(
                f"`timestamps` must be strictly increasing: index {bad} "
                f"({format_timestamp(int(ts[bad]))}) is not after the previous one; sort and "
                "de-duplicate them",
                check="unsorted",
                rows=(bad,),
            )
        names = tuple(str(a) for a in assets)
        if list(names) != sorted(set(names)):
            raise DataValidationError(
                f"`assets` must be unique and sorted, was {list(names)[:10]}", check="unsorted"
            )
        missing = [f for f in BASE_FIELDS if f not in fields]
        if missing:
            raise DataValidationError(
                f"`fields` lacks {missing}; a feed needs {list(BASE_FIELDS)}",
                check="missing_columns",
                column=missing[0],
            )
        shape = (ts.size, len(names))
        arrays: dict[str, FloatArray] = {}
        for name, values in fields.items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != shape:
                raise DataValidationError(
                    f"field {name!r} has shape {arr.shape}, expected {shape} (timestamps x assets)",
                    check="shape",
                    column=name,
                )
            arrays[name] = _readonly(arr)
        if has_bar is None:
            mask = ~np.isnan(arrays["close"])
        else:
            mask = np.asarray(has_bar, dtype=np.bool_)
            if mask.shape != shape:
                raise DataValidationError(
                    f"`has_bar` has shape {mask.shape}, expected {shape}", check="shape"
                )
        ctx: dict[str, FloatArray] = {}
        for name, values in (context or {}).items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (ts.size,):
                raise DataValidationError(
                    f"context {name!r} has shape {arr.shape}, expected ({ts.size},)",
                    check="shape",
                    column=name,
                )
            ctx[name] = _readonly(arr)
        if signal_names is None:
            signal_names = [n for n in arrays if n not in BASE_FIELDS and n not in QUOTE_COLUMNS]
        sig = tuple(signal_names)
        unknown = [n for n in sig if n not in arrays]
        if unknown:
            raise DataValidationError(f"signal names {unknown} are not fields", check="shape")
        reg = registry if registry is not None else AssetRegistry()
        for name in names:
            reg[name]  # a strict registry raises UnknownAssetError here
        self.timestamps: IntArray = _readonly(ts)
        self.assets: tuple[AssetId, ...] = names
        self.asset_index: dict[AssetId, int] = {a: i for i, a in enumerate(names)}
        self._fields = arrays
        self.has_bar: BoolArray = _readonly(mask)
        self._context = ctx
        self._signal_names = sig
        self.registry = reg
        self.repair_report = repair_report
        self._fingerprint: tuple[tuple[Any, ...], str] | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_polars(
        cls,
        data: pl.DataFrame | pl.LazyFrame,
        *,
        timestamp_col: str = "timestamp",
        asset_col: str = "asset",
        asset: AssetId | None = None,
        signals: pl.DataFrame | pl.LazyFrame | None = None,
        context: pl.DataFrame | pl.LazyFrame | None = None,
        signal_lag: int | timedelta = 0,
        context_lag: int | timedelta = 0,
        signal_mode: SignalMode = "asof",
        repair: RepairMode | None = None,
        registry: AssetRegistry | None = None,
    ) -> DataFeed:
        """Validate a long-format frame and build the feed.

        Args:
            data: Long-format prices: `timestamp_col`, `asset_col`, open, high, low, close,
                volume, and optional numeric columns (``bid``/``ask`` are quote fields, any
                other becomes a signal).
            timestamp_col: Name of the timestamp column (Date, Datetime or ISO text).
            asset_col: Name of the asset column (text, categorical or integer ids).
            asset: Asset id for a frame without `asset_col` (a single asset).
            signals: Per-asset values in long format (`timestamp_col`, `asset_col`,
                numeric columns), aligned as-of onto the feed's timestamps.
            context: Market-wide values (`timestamp_col`, numeric columns), aligned as-of.
            signal_lag: Publication lag of `signals` (int ns or timedelta): a row stamped
                ``t`` is visible from the first bar at or after ``t + signal_lag``.
            context_lag: Publication lag of `context`, the same way.
            signal_mode: ``"asof"`` keeps the last published value until the next one;
                ``"exact"`` shows it only on the bar where it became visible (NaN elsewhere).
            repair: None to raise on the first problem; ``"drop"`` drops bad rows (sorts and
                keeps the last duplicate); ``"fix"`` also clips high/low to contain
                open/close instead of dropping.
            registry: Asset definitions; unknown ids become plain equities unless strict.

        Returns:
            The validated feed.

        Raises:
            DataValidationError: A check failed; ``.check``, ``.rows`` and ``.column`` say
                which, where and what.
            UnknownAssetError: `registry` is strict and does not know an asset.
        """
        if repair not in (None, "drop", "fix"):
            raise ConfigError(f"`repair` must be None, 'drop' or 'fix', was {repair!r}")
        if signal_mode not in ("asof", "exact"):
            raise ConfigError(f"`signal_mode` must be 'asof' or 'exact', was {signal_mode!r}")
        nf = normalise_frame(
            data,
            timestamp_col=timestamp_col,
            asset_col=asset_col,
            asset=asset,
            required=[*PRICE_COLUMNS, VOLUME],
        )
        value_columns, naive_input, timezone = nf.value_columns, nf.naive, nf.timezone
        frame, report = validate_prices(nf, repair=repair)
        del nf  # keep only the validated frame alive (its value columns may be read below)
        timestamps, assets, flat = _grid(frame)
        shape = (timestamps.size, len(assets))
        fields = _scatter_fields(frame, value_columns, flat, shape)
        if flat is None:
            has_bar = np.ones(shape[0] * shape[1], dtype=np.bool_)
        else:
            has_bar = np.zeros(shape[0] * shape[1], dtype=np.bool_)
            has_bar[flat] = True
        del frame, flat
        signal_names = [n for n in value_columns if n not in BASE_FIELDS + QUOTE_COLUMNS]
        naive = {naive_input}
        aware = {timezone} - {None}
        if signals is not None:
            snf = normalise_frame(
                signals, timestamp_col=timestamp_col, asset_col=asset_col, what="signals"
            )
            naive.add(snf.naive)
            aware |= {snf.timezone} - {None}
            _check_timezones(naive, aware)
            clash = [c for c in snf.value_columns if c in fields]
            if clash:
                raise DataValidationError(
                    f"signals frame: column(s) {clash} also exist in the price frame; "
                    "rename one of them",
                    check="column_clash",
                    column=clash[0],
                )
            sframe, _ = validate_keys(snf, what="signals", repair=None, sort=True)
            aligned = _align_signals(
                sframe,
                columns=snf.value_columns,
                timestamps=timestamps,
                assets=assets,
                lag=to_lag_ns(signal_lag, "signal_lag"),
                mode=signal_mode,
            )
            fields.update(aligned)
            signal_names.extend(aligned)
        ctx: dict[str, FloatArray] = {}
        if context is not None:
            cnf = normalise_frame(
                context, timestamp_col=timestamp_col, asset_col=None, what="context"
            )
            naive.add(cnf.naive)
            aware |= {cnf.timezone} - {None}
            _check_timezones(naive, aware)
            clash = [c for c in cnf.value_columns if c in fields]
            if clash:
                raise DataValidationError(
                    f"context frame: column(s) {clash} also exist as per-asset fields; "
                    "rename one of them",
                    check="column_clash",
                    column=clash[0],
                )
            cframe, _ = validate_keys(cnf, what="context", repair=None, sort=True)
            ctx = _align_context(
                cframe, cnf.value_columns, timestamps, to_lag_ns(context_lag, "context_lag")
            )
        return cls(
            timestamps,
            assets,
            fields,
            has_bar=has_bar.reshape(shape),
            context=ctx,
            signal_names=signal_names,
            registry=registry,
            repair_report=report,
        )

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Any) -> DataFeed:
        """Read a long-format parquet file and build the feed (options as `from_polars`).

        Only the file's columns are read once, through ``polars.scan_parquet``.
        """
        return cls.from_polars(pl.scan_parquet(path), **options)

    @classmethod
    def from_csv(cls, path: str | Path, **options: Any) -> DataFeed:
        """Read a long-format CSV file (dates parsed) and build the feed (as `from_polars`).

        Compressed files (``.csv.gz``) are read too.
        """
        return cls.from_polars(pl.read_csv(path, try_parse_dates=True), **options)

    # ------------------------------------------------------------------ accessors
    @property
    def fields(self) -> dict[str, FloatArray]:
        """Return every per-asset field (OHLCV, quotes, signals) as (T, A) arrays."""
        return dict(self._fields)

    @property
    def signals(self) -> dict[str, FloatArray]:
        """Return the non-price per-asset fields as (T, A) arrays."""
        return {n: self._fields[n] for n in self._signal_names}

    @property
    def context(self) -> dict[str, FloatArray]:
        """Return the market-wide series as (T,) arrays."""
        return dict(self._context)

    @property
    def open(self) -> FloatArray:
        """Return opening prices, (T, A)."""
        return self._fields["open"]

    @property
    def high(self) -> FloatArray:
        """Return high prices, (T, A)."""
        return self._fields["high"]

    @property
    def low(self) -> FloatArray:
        """Return low prices, (T, A)."""
        return self._fields["low"]

    @property
    def close(self) -> FloatArray:
        """Return closing prices, (T, A)."""
        return self._fields["close"]

    @property
    def volume(self) -> FloatArray:
        """Return volumes, (T, A)."""
        return self._fields["volume"]

    @property
    def n_timestamps(self) -> int:
        """Return T, the number of timestamps."""
        return int(self.timestamps.size)

    @property
    def n_assets(self) -> int:
        """Return A, the number of assets."""
        return len(self.assets)

    @property
    def start(self) -> Timestamp:
        """Return the first timestamp (ns UTC)."""
        return int(self.timestamps[0])

    @property
    def end(self) -> Timestamp:
        """Return the last timestamp (ns UTC)."""
        return int(self.timestamps[-1])

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the feed's arrays."""
        total = self.timestamps.nbytes + self.has_bar.nbytes
        total += sum(a.nbytes for a in self._fields.values())
        return total + sum(a.nbytes for a in self._context.values())

    def column(self, asset: AssetId) -> int:
        """Return the column number of `asset`.

        Raises:
            UnknownAssetError: The feed has no such asset.
        """
        try:
            return self.asset_index[asset]
        except KeyError:
            known = ", ".join(self.assets[:10])
            raise UnknownAssetError(
                f"asset {asset!r} is not in the feed (first assets: {known})"
            ) from None

    # ------------------------------------------------------------------ derived feeds
    def slice(self, start: TimeLike | None = None, end: TimeLike | None = None) -> DataFeed:
        """Return the feed restricted to ``start <= timestamp <= end`` (both inclusive).

        Args:
            start: First instant kept (anything `to_timestamp` reads); None = from the start.
            end: Last instant kept; None = to the end.

        Raises:
            ConfigError: No timestamp falls in the range.

        Example:
            >>> from ml4t.backtest.core.datasets import sample_feed
            >>> january = sample_feed(["AAPL"]).slice("2014-01-01", "2014-01-31")
            >>> january.n_timestamps  # NYSE sessions in January 2014
            21
        """
        lo = 0 if start is None else int(np.searchsorted(self.timestamps, to_timestamp(start)))
        hi = (
            self.n_timestamps
            if end is None
            else int(np.searchsorted(self.timestamps, to_timestamp(end), side="right"))
        )
        if hi <= lo:
            raise ConfigError(
                f"no timestamps between {start!r} and {end!r}; the feed covers "
                f"{format_timestamp(self.start)} .. {format_timestamp(self.end)}"
            )
        return DataFeed(
            self.timestamps[lo:hi],
            self.assets,
            {n: a[lo:hi] for n, a in self._fields.items()},
            has_bar=self.has_bar[lo:hi],
            context={n: a[lo:hi] for n, a in self._context.items()},
            signal_names=self._signal_names,
            registry=self.registry,
            repair_report=self.repair_report,
        )

    def select(self, assets: Iterable[AssetId]) -> DataFeed:
        """Return the feed restricted to `assets` (timestamps where none has a bar dropped).

        Raises:
            UnknownAssetError: An asset is not in the feed.
            ConfigError: `assets` is empty.

        Example:
            >>> from ml4t.backtest.core.datasets import sample_feed
            >>> sample_feed(["AAPL", "JPM", "MSFT"]).select(["MSFT", "AAPL"]).assets
            ('AAPL', 'MSFT')
        """
        chosen = sorted(set(assets))
        if not chosen:
            raise ConfigError("`assets` must name at least one asset")
        cols = np.array([self.column(a) for a in chosen], dtype=np.intp)
        has_bar = self.has_bar[:, cols]
        keep = has_bar.any(axis=1)
        return DataFeed(
            self.timestamps[keep],
            chosen,
            {n: a[np.ix_(keep, cols)] for n, a in self._fields.items()},
            has_bar=has_bar[keep],
            context={n: a[keep] for n, a in self._context.items()},
            signal_names=self._signal_names,
            registry=self.registry,
            repair_report=self.repair_report,
        )

    # ------------------------------------------------------------------ exports
    def to_polars(self, *, include_context: bool = False) -> pl.DataFrame:
        """Return the feed in long format, one row per bar, sorted by (timestamp, asset).

        ``timestamp`` is ``Datetime("ns", "UTC")``; fields follow in feed order; context
        columns are repeated on every row when `include_context` is True.

        Example:
            >>> from ml4t.backtest.core.datasets import sample_feed
            >>> sample_feed(["AAPL"], end="2013-02-11").to_polars().select("asset", "close").rows()
            [('AAPL', 67.8542), ('AAPL', 68.5614)]
        """
        t_idx, a_idx = np.nonzero(self.has_bar)
        ts = pl.Series("timestamp", self.timestamps[t_idx]).cast(pl.Datetime("ns", "UTC"))
        names = pl.Series("asset", list(self.assets), dtype=pl.String)
        columns: list[pl.Series] = [ts, names.gather(a_idx)]
        columns.extend(pl.Series(n, a[t_idx, a_idx]) for n, a in self._fields.items())
        if include_context:
            columns.extend(pl.Series(n, a[t_idx]) for n, a in self._context.items())
        return pl.DataFrame(columns)

    def summary(self) -> pl.DataFrame:
        """Return one row per asset: bars, first and last bar, and bars missing in between.

        ``missing`` counts feed timestamps between the asset's first and last bar where it
        has none.

        Example:
            >>> from ml4t.backtest.core.datasets import sample_feed
            >>> sample_feed(["AAPL", "MSFT"]).summary().select("asset", "bars", "missing").rows()
            [('AAPL', 1259, 0), ('MSFT', 1259, 0)]
        """
        has = self.has_bar
        bars = has.sum(axis=0).astype(np.int64)
        first = np.argmax(has, axis=0)
        last = has.shape[0] - 1 - np.argmax(has[::-1], axis=0)
        present = bars > 0
        first_ts = np.where(present, self.timestamps[first], 0)
        last_ts = np.where(present, self.timestamps[last], 0)
        missing = np.where(present, last - first + 1 - bars, 0)
        return pl.DataFrame(
            {
                "asset": list(self.assets),
                "bars": bars,
                "first": pl.Series(first_ts).cast(pl.Datetime("ns", "UTC")),
                "last": pl.Series(last_ts).cast(pl.Datetime("ns", "UTC")),
                "missing": missing.astype(np.int64),
            }
        ).with_columns(
            pl.when(pl.col("bars") > 0).then(pl.col("first")).alias("first"),
            pl.when(pl.col("bars") > 0).then(pl.col("last")).alias("last"),
        )

    def fingerprint(self) -> str:
        """Return a sha256 hex digest of timestamps, assets, fields, mask and context.

        Equal data gives equal digests on any machine (little-endian float64 and int64;
        every NaN hashed as the same NaN). The digest is computed on first use and kept:
        the feed's arrays are read-only. It hashes the arrays' bytes in place (copying a
        field only when it holds a NaN with a non-standard bit pattern).

        Example:
            >>> from ml4t.backtest.core.datasets import sample_feed
            >>> feed = sample_feed(["AAPL"])
            >>> feed.fingerprint() == sample_feed(["AAPL"]).fingerprint()
            True
        """
        # the cache is keyed on the identity of what is hashed, so that replacing an
        # attribute (rather than writing into a read-only array) still gives a fresh digest
        key = (
            id(self.timestamps),
            self.assets,
            id(self.has_bar),
            tuple((name, id(arr)) for name, arr in self._fields.items()),
            tuple((name, id(arr)) for name, arr in self._context.items()),
            self._signal_names,
        )
        cached: tuple[tuple[Any, ...], str] | None = getattr(self, "_fingerprint", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        digest = hashlib.sha256()
        digest.update(b"ml4t-datafeed-v1\x00")
        digest.update(_le_bytes(self.timestamps, "<i8"))
        digest.update("\x1f".join(self.assets).encode())
        digest.update(_le_bytes(self.has_bar, "|b1"))
        for group, arrays in (("f", self._fields), ("c", self._context)):
            for name in sorted(arrays):
                digest.update(f"\x00{group}:{name}\x00".encode())
                digest.update(_le_bytes(_canonical_nan(arrays[name]), "<f8"))
        digest.update(("\x1f".join(self._signal_names)).encode())
        value = digest.hexdigest()
        self._fingerprint = (key, value)
        return value

    # ------------------------------------------------------------------ dunder
    def __getstate__(self) -> dict[str, Any]:
        # the cached fingerprint is not pickled: it is keyed on this process's array ids
        state = {name: getattr(self, name) for name in self.__slots__ if name != "_fingerprint"}
        return state | {"_fingerprint": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            elif name in ("_fields", "_context"):
                for arr in value.values():
                    arr.flags.writeable = False
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return self.n_timestamps

    def __repr__(self) -> str:
        return (
            f"DataFeed(n_timestamps={self.n_timestamps}, n_assets={self.n_assets}, "
            f"start={format_timestamp(self.start)!r}, end={format_timestamp(self.end)!r}, "
            f"fields={list(self._fields)}, context={list(self._context)})"
        )


def _check_timezones(naive: set[bool], aware: set[str | None]) -> None:
    if True in naive and aware:
        raise DataValidationError(
            "timestamps mix naive datetimes with timezone-aware ones "
            f"({sorted(str(a) for a in aware)}); give every frame a timezone (naive values are "
            "read as UTC) or make all naive",
            check="timezone_mismatch",
        )


def _grid(frame: pl.DataFrame) -> tuple[IntArray, list[str], npt.NDArray[np.intp] | None]:
    # Unique sorted timestamps, sorted assets, and the flat (t * A + a) index of every row;
    # None instead of the index when the frame fills the whole grid. The frame is sorted by
    # (timestamp, asset) with unique keys, so its rows then are the grid's cells in order.
    ts = frame.get_column(TS).to_numpy()
    new = np.empty(ts.size, dtype=np.bool_)
    new[0] = True
    np.not_equal(ts[1:], ts[:-1], out=new[1:])
    stamps = ts[new]
    assets = sorted(frame.get_column(ASSET).unique().to_list())
    if ts.size == stamps.size * len(assets):
        return stamps, assets, None
    flat = np.cumsum(new, dtype=np.intp)
    flat -= 1
    flat *= len(assets)
    flat += frame.get_column(ASSET).cast(pl.Enum(assets)).to_physical().to_numpy()
    return stamps, assets, flat


def _scatter_fields(
    frame: pl.DataFrame,
    columns: Sequence[str],
    flat: npt.NDArray[np.intp] | None,
    shape: tuple[int, int],
) -> dict[str, FloatArray]:
    # One (T, A) float64 array per value column, NaN where an asset has no bar. A frame that
    # fills the grid (`flat` None) is already in (T, A) order: its float64 columns are used
    # as they are (a read-only view of the frame's buffer when it is one chunk without
    # nulls), so the feed holds no second copy of the data.
    out: dict[str, FloatArray] = {}
    for name in columns:
        values = frame.get_column(name).to_numpy()
        if flat is None:
            arr = values if values.dtype == np.float64 else values.astype(np.float64)
        else:
            arr = np.full(shape[0] * shape[1], np.nan)
            arr[flat] = values
        out[name] = arr.reshape(shape)
    return out


def _align_signals(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str],
    timestamps: IntArray,
    assets: Sequence[str],
    lag: int,
    mode: SignalMode,
) -> dict[str, FloatArray]:
    # Scatter long-format signal rows onto the (T, A) grid at their visibility bar.
    known = frame.get_column(ASSET).is_in(list(assets))
    if not known.all():
        bad = frame.filter(~known)
        names = bad.get_column(ASSET).unique(maintain_order=True).head(10).to_list()
        raise DataValidationError(
            f"signals frame: assets {names} are not in the price frame; filter the signals "
            "to the feed's assets",
            check="unknown_asset",
            rows=bad.get_column("__row").head(10).to_list(),
            column=ASSET,
        )
    n_t, n_a = timestamps.size, len(assets)
    pos = _asof_positions(timestamps, frame.get_column(TS).to_numpy(), lag)
    visible = pos < n_t
    codes = frame.get_column(ASSET).cast(pl.Enum(list(assets))).to_physical().to_numpy()
    flat = (pos * n_a + codes.astype(np.intp))[visible]
    # Rows are sorted by time, so for two rows landing on one cell the later one wins.
    order_last = np.unique(flat[::-1], return_index=True)[1]
    keep = flat.size - 1 - order_last
    flat = flat[keep]
    updated = np.zeros(n_t * n_a, dtype=np.bool_)
    updated[flat] = True
    updated_2d = updated.reshape(n_t, n_a)
    index = _forward_index(updated_2d) if mode == "asof" else None
    out: dict[str, FloatArray] = {}
    for name in columns:
        raw = np.full(n_t * n_a, np.nan)
        raw[flat] = frame.get_column(name).to_numpy()[visible][keep]
        grid = raw.reshape(n_t, n_a)
        if index is not None:
            filled = np.take_along_axis(grid, np.maximum(index, 0), axis=0)
            filled[index < 0] = np.nan
            grid = filled
        out[name] = grid
    return out


def _align_context(
    frame: pl.DataFrame, columns: Sequence[str], timestamps: IntArray, lag: int
) -> dict[str, FloatArray]:
    # As-of alignment of market-wide series: the latest row visible at each feed timestamp.
    visible_at = frame.get_column(TS).to_numpy() + lag
    idx = np.searchsorted(visible_at, timestamps, side="right") - 1
    out: dict[str, FloatArray] = {}
    for name in columns:
        values = frame.get_column(name).to_numpy()
        aligned = values[np.maximum(idx, 0)].astype(np.float64)
        aligned[idx < 0] = np.nan
        out[name] = aligned
    return out
