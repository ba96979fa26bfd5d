"""`Clock`: merge several time series into one point-in-time sequence of instants.

Each `ClockSource` is a named series of observations (a price feed, a signal frame, a
context series such as VIX or monthly macro data) with its own timestamps and an optional
publication lag. An observation stamped ``t`` with lag ``L`` becomes *visible* at
``t + L`` and never earlier. The clock's ticks are the sorted union of every visibility
instant; at each tick it reports which sources published something new, and `Clock.asof`
returns the latest observation visible at (or before) the current tick. Asking for a later
instant than the current tick raises `LookAheadError`.

Everything is computed once with ``numpy.searchsorted``; iterating costs one small tuple per
tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core._validation import ASSET, TS, normalise_frame, validate_keys
from ml4t.backtest.core.data import DataFeed, to_lag_ns
from ml4t.backtest.core.errors import ConfigError, DataValidationError, LookAheadError
from ml4t.backtest.core.types import Timestamp, format_timestamp, to_timestamp

__all__ = ["Clock", "ClockSource", "ClockTick"]

IntArray: TypeAlias = npt.NDArray[np.int64]
Values: TypeAlias = dict[str, npt.NDArray[np.float64]]


class ClockSource:
    """A named series of observations with its own timestamps and publication lag.

    Attributes:
        name: Unique name within a clock.
        timestamps: int64 ns UTC, shape (n,), non-decreasing: when each row was observed.
        lag: Publication lag in ns (>= 0); row ``i`` is visible from ``timestamps[i] + lag``.
        values: Column name -> array whose first axis has length n ((n,) or (n, A)).
        assets: Asset ids of the second axis for per-asset sources, else ().

    Example:
        >>> src = ClockSource.from_arrays("cpi", [0, 100], {"cpi": [1.0, 2.0]}, lag=10)
        >>> src.visible_at.tolist()
        [10, 110]
    """

    __slots__ = ("assets", "lag", "name", "timestamps", "values", "visible_at")

    def __init__(
        self,
        name: str,
        timestamps: npt.ArrayLike,
        values: Mapping[str, npt.ArrayLike],
        *,
        lag: int | timedelta = 0,
        assets: Iterable[str] = (),
    ) -> None:
        if not name:
            raise ConfigError("a clock source needs a non-empty `name`")
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
        if ts.ndim != 1:
            raise ConfigError(f"source {name!r}: `timestamps` must be 1-D, was shape {ts.shape}")
        if ts.size > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            bad = int(np.flatnonzero(ts[1:] < ts[:-1])[0]) + 1
            raise DataValidationError(
                f"source {name!r}: timestamps must be sorted; index {bad} "
                f"({format_timestamp(int(ts[bad]))}) is before the previous one; sort them",
                check="unsorted",
                rows=(bad,),
            )
        arrays: Values = {}
        for col, vals in values.items():
            arr = np.asarray(vals, dtype=np.float64)
            if arr.ndim == 0 or arr.shape[0] != ts.size:
                raise ConfigError(
                    f"source {name!r}: column {col!r} has shape {arr.shape}; its first axis "
                    f"must match the {ts.size} timestamps"
                )
            arr.flags.writeable = False
            arrays[col] = arr
        ts.flags.writeable = False
        self.name = name
        self.timestamps: IntArray = ts
        self.lag = to_lag_ns(lag)
        self.values = arrays
        self.assets = tuple(assets)
        visible = ts + self.lag
        visible.flags.writeable = False
        self.visible_at: IntArray = visible

    @classmethod
    def from_arrays(
        cls,
        name: str,
        timestamps: npt.ArrayLike,
        values: Mapping[str, npt.ArrayLike],
        *,
        lag: int | timedelta = 0,
    ) -> ClockSource:
        """Build a source from a timestamp array and columns of the same length."""
        return cls(name, timestamps, values, lag=lag)

    @classmethod
    def from_feed(cls, name: str, feed: DataFeed, *, lag: int | timedelta = 0) -> ClockSource:
        """Build a per-asset source from a `DataFeed` (its fields and context)."""
        values: dict[str, npt.ArrayLike] = dict(feed.fields)
        values.update(feed.context)
        return cls(name, feed.timestamps, values, lag=lag, assets=feed.assets)

    @classmethod
    def from_polars(
        cls,
        name: str,
        data: pl.DataFrame | pl.LazyFrame,
        *,
        timestamp_col: str = "timestamp",
        asset_col: str | None = None,
        lag: int | timedelta = 0,
    ) -> ClockSource:
        """Build a source from a frame of numeric columns.

        Without `asset_col` every value column becomes a (n,) series; with it, the frame is
        long format and each column becomes a (n_timestamps, n_assets) array, NaN where an
        asset has no row. Rows are sorted by time; duplicate keys raise.

        Example:
            >>> import polars as pl
            >>> from datetime import date
            >>> vix = pl.DataFrame({"timestamp": [date(2024, 1, 3), date(2024, 1, 2)],
            ...                     "vix": [14.0, 13.0]})
            >>> ClockSource.from_polars("vix", vix).values["vix"].tolist()
            [13.0, 14.0]
        """
        nf = normalise_frame(data, timestamp_col=timestamp_col, asset_col=asset_col, what=name)
        frame, _ = validate_keys(nf, what=name, repair=None, sort=True)
        if asset_col is None:
            values = {c: frame.get_column(c).to_numpy() for c in nf.value_columns}
            return cls(name, frame.get_column(TS).to_numpy(), values, lag=lag)
        ts = frame.get_column(TS).to_numpy()
        uniq, t_idx = np.unique(ts, return_inverse=True)
        assets = sorted(frame.get_column(ASSET).unique().to_list())
        codes = frame.get_column(ASSET).cast(pl.Enum(assets)).to_physical().to_numpy()
        grids: dict[str, npt.ArrayLike] = {}
        for col in nf.value_columns:
            grid = np.full((uniq.size, len(assets)), np.nan)
            grid[t_idx, codes.astype(np.intp)] = frame.get_column(col).to_numpy()
            grids[col] = grid
        return cls(name, uniq, grids, lag=lag, assets=assets)

    def __len__(self) -> int:
        return int(self.timestamps.size)

    def __repr__(self) -> str:
        return (
            f"ClockSource({self.name!r}, n={len(self)}, lag={self.lag}, "
            f"columns={list(self.values)})"
        )


class ClockTick(NamedTuple):
    """One instant of the merged sequence and the sources that published at it."""

    step: int  # position in the merged sequence, 0-based
    timestamp: Timestamp
    updated: tuple[str, ...]


class Clock:
    """Point-in-time merge of several `ClockSource`s.

    Iterating yields a `ClockTick` per instant at which at least one source publishes, in
    time order, and moves the clock's current time (`now`) there. `asof` reads the latest
    observation of a source visible at `now` (or at an earlier instant); reading after `now`
    raises `LookAheadError`.

    Example:
        >>> daily = ClockSource.from_arrays("daily", [10, 20, 30], {"close": [1.0, 2.0, 3.0]})
        >>> monthly = ClockSource.from_arrays("macro", [5], {"cpi": [300.0]}, lag=20)
        >>> clock = Clock(daily, monthly)
        >>> [(t.timestamp, t.updated) for t in clock]
        [(10, ('daily',)), (20, ('daily',)), (25, ('macro',)), (30, ('daily',))]
        >>> clock.asof("macro", 30)["cpi"], clock.asof("macro", 24) is None
        (300.0, True)
    """

    __slots__ = ("_cursor", "_positions", "_sources", "_updated", "timestamps")

    def __init__(self, *sources: ClockSource) -> None:
        if not sources:
            raise ConfigError("a Clock needs at least one source")
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"clock source names must be unique; repeated: {dupes}")
        self._sources = {s.name: s for s in sources}
        nonempty = [s.visible_at for s in sources if len(s)]
        times = np.unique(np.concatenate(nonempty)) if nonempty else np.empty(0, np.int64)
        times.flags.writeable = False
        self.timestamps: IntArray = times
        self._positions: dict[str, npt.NDArray[np.intp]] = {}
        self._updated: dict[str, npt.NDArray[np.bool_]] = {}
        for s in sources:
            pos = np.searchsorted(s.visible_at, times, side="right") - 1
            changed = np.empty(times.size, dtype=np.bool_)
            if times.size:
                changed[0] = pos[0] >= 0
                np.not_equal(pos[1:], pos[:-1], out=changed[1:])
            pos.flags.writeable = False
            changed.flags.writeable = False
            self._positions[s.name] = pos
            self._updated[s.name] = changed
        self._cursor = -1

    @classmethod
    def from_mapping(
        cls,
        sources: Mapping[str, DataFeed | pl.DataFrame | pl.LazyFrame | ClockSource],
        *,
        lags: Mapping[str, int | timedelta] | None = None,
        timestamp_col: str = "timestamp",
    ) -> Clock:
        """Build a clock from named feeds, frames (no asset column) or sources.

        Example:
            >>> import polars as pl
            >>> from datetime import date, timedelta
            >>> px = pl.DataFrame({"timestamp": [date(2024, 1, 2), date(2024, 1, 3)],
            ...                    "spy": [470.0, 468.0]})
            >>> cpi = pl.DataFrame({"timestamp": [date(2023, 12, 31)], "cpi": [308.7]})
            >>> clock = Clock.from_mapping({"px": px, "cpi": cpi},
            ...                            lags={"cpi": timedelta(days=3)})
            >>> [t.updated for t in clock]
            [('px',), ('px', 'cpi')]
        """
        lags = dict(lags or {})
        unknown = sorted(set(lags) - set(sources))
        if unknown:
            raise ConfigError(f"`lags` names unknown sources {unknown}; known: {sorted(sources)}")
        built: list[ClockSource] = []
        for name, src in sources.items():
            lag = lags.get(name, 0)
            if isinstance(src, ClockSource):
                lag_ns = src.lag if name not in lags else to_lag_ns(lag)
                if src.name == name and src.lag == lag_ns:
                    built.append(src)
                else:
                    built.append(
                        ClockSource(name, src.timestamps, src.values, lag=lag_ns, assets=src.assets)
                    )
            elif isinstance(src, DataFeed):
                built.append(ClockSource.from_feed(name, src, lag=lag))
            else:
                built.append(
                    ClockSource.from_polars(name, src, timestamp_col=timestamp_col, lag=lag)
                )
        return cls(*built)

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[ClockTick]:
        self._cursor = -1
        names = list(self._sources)
        updated = [self._updated[n] for n in names]
        times = self.timestamps
        for i in range(times.size):
            self._cursor = i
            yield ClockTick(
                i, int(times[i]), tuple(n for n, u in zip(names, updated, strict=True) if u[i])
            )

    def __len__(self) -> int:
        return int(self.timestamps.size)

    def reset(self) -> None:
        """Move the clock back before its first tick."""
        self._cursor = -1

    @property
    def now(self) -> Timestamp | None:
        """Return the current tick's timestamp, or None before the first tick."""
        return None if self._cursor < 0 else int(self.timestamps[self._cursor])

    @property
    def sources(self) -> tuple[str, ...]:
        """Return the source names in the order given."""
        return tuple(self._sources)

    def source(self, name: str) -> ClockSource:
        """Return the source called `name`."""
        try:
            return self._sources[name]
        except KeyError:
            raise ConfigError(
                f"unknown clock source {name!r}; known: {list(self._sources)}"
            ) from None

    def positions(self, name: str) -> npt.NDArray[np.intp]:
        """Return, per tick, the row of `name` visible at that tick (-1 before its first).

        This is the vectorised form of `asof_index` for array engines: row ``positions[i]``
        is always visible at ``timestamps[i]``.
        """
        self.source(name)
        return self._positions[name]

    def updated(self, name: str) -> npt.NDArray[np.bool_]:
        """Return, per tick, whether `name` published a new row at that tick."""
        self.source(name)
        return self._updated[name]

    # ------------------------------------------------------------------ point-in-time reads
    def _check_time(self, name: str, ts: Any) -> Timestamp:
        now = self.now
        if ts is None:
            if now is None:
                raise LookAheadError(
                    f"read of {name!r} before the clock started; iterate the clock first or "
                    "pass an explicit timestamp"
                )
            return now
        when = to_timestamp(ts)
        if now is not None and when > now:
            raise LookAheadError(
                f"read of {name!r} at {format_timestamp(when)} but the clock is at "
                f"{format_timestamp(now)}; only values visible at or before the current "
                "time may be read"
            )
        return when

    def asof_index(self, name: str, ts: Any = None) -> int:
        """Return the row of `name` visible at `ts` (default: now), or -1 if none yet.

        Raises:
            LookAheadError: `ts` is after the current tick.
        """
        src = self.source(name)
        when = self._check_time(name, ts)
        return int(np.searchsorted(src.visible_at, when, side="right")) - 1

    def asof(self, name: str, ts: Any = None) -> dict[str, Any] | None:
        """Return the latest row of `name` visible at `ts` (default: now) as column -> value.

        Values are floats for series sources and (A,) arrays for per-asset sources; None
        when nothing is visible yet.

        Raises:
            LookAheadError: `ts` is after the current tick (once the clock is running).
        """
        row = self.asof_index(name, ts)
        if row < 0:
            return None
        src = self._sources[name]
        out: dict[str, Any] = {}
        for col, arr in src.values.items():
            out[col] = float(arr[row]) if arr.ndim == 1 else arr[row]
        return out

    def __repr__(self) -> str:
        return f"Clock(sources={list(self._sources)}, ticks={len(self)})"
