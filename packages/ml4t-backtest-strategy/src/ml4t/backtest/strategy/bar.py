"""`Bar`: the whole universe at one timestamp, as ``Strategy.on_bar`` sees it.

A `Bar` holds no copies: ``bar.close`` is a zero-copy, read-only row view of the feed's
(timestamps x assets) close array, aligned to ``bar.assets``. Missing bars are NaN with
``bar.has_bar`` False. Nothing reachable from a `Bar` lies after its own timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.types import Timestamp

__all__ = ["Bar", "RowMapping", "readonly"]

FloatRow = npt.NDArray[np.float64]


def readonly(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """Return a read-only view of `array` (the array itself is left writeable).

    Example:
        >>> a = np.arange(3.0)
        >>> v = readonly(a)
        >>> v.flags.writeable, a.flags.writeable
        (False, True)
    """
    view = array.view()
    view.flags.writeable = False
    return view


class RowMapping(Mapping[str, object]):
    """Read-only mapping name -> row `t` of a (T, ...) array; rows are views, not copies.

    ``signals[name]`` gives an (A,) row aligned to the assets; ``context[name]`` (from (T,)
    arrays) gives a float.

    Example:
        >>> m = RowMapping({"vix": np.array([15.0, 16.5])}, 1)
        >>> m["vix"], list(m)
        (16.5, ['vix'])
    """

    __slots__ = ("_arrays", "_t")

    def __init__(self, arrays: Mapping[str, npt.NDArray[np.float64]], t: int) -> None:
        self._arrays = arrays
        self._t = t

    def __getitem__(self, name: str) -> object:
        try:
            array = self._arrays[name]
        except KeyError:
            known = ", ".join(sorted(self._arrays)) or "none"
            raise KeyError(f"no column {name!r} in this feed (known: {known})") from None
        row = array[self._t]
        return float(row) if array.ndim == 1 else row

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


class Bar:
    """All assets at one timestamp; fields are read-only row views aligned to `assets`.

    Attributes:
        timestamp: Nanoseconds UTC of this bar.
        index: Position of this bar in the feed (0-based).
        assets: Asset ids, the column order of every row.

    Example:
        >>> close = readonly(np.array([[10.0, 20.0], [11.0, np.nan]]))
        >>> fields = {"close": close}
        >>> bar = Bar(1, 5, ("A", "B"), fields=fields, signals={}, context={},
        ...           has_bar=readonly(~np.isnan(close)))
        >>> bar.close.tolist(), bar.has_bar.tolist()
        ([11.0, nan], [True, False])
        >>> bar.close.flags.writeable
        False
    """

    __slots__ = ("_context", "_fields", "_has_bar", "_signals", "assets", "index", "timestamp")

    def __init__(
        self,
        index: int,
        timestamp: Timestamp,
        assets: tuple[str, ...],
        *,
        fields: Mapping[str, npt.NDArray[np.float64]],
        signals: Mapping[str, npt.NDArray[np.float64]],
        context: Mapping[str, npt.NDArray[np.float64]],
        has_bar: npt.NDArray[np.bool_],
    ) -> None:
        self.index = index
        self.timestamp = timestamp
        self.assets = assets
        self._fields = fields
        self._signals = signals
        self._context = context
        self._has_bar = has_bar

    def field(self, name: str) -> FloatRow:
        """Return the row of any numeric per-asset column (OHLCV, bid/ask, signals)."""
        try:
            row: FloatRow = self._fields[name][self.index]
        except KeyError:
            known = ", ".join(sorted(self._fields))
            raise KeyError(f"no field {name!r} in this feed (known: {known})") from None
        return row

    @property
    def open(self) -> FloatRow:
        """Open prices, aligned to `assets` (NaN where no bar)."""
        row: FloatRow = self._fields["open"][self.index]
        return row

    @property
    def high(self) -> FloatRow:
        """High prices, aligned to `assets`."""
        row: FloatRow = self._fields["high"][self.index]
        return row

    @property
    def low(self) -> FloatRow:
        """Low prices, aligned to `assets`."""
        row: FloatRow = self._fields["low"][self.index]
        return row

    @property
    def close(self) -> FloatRow:
        """Close prices, aligned to `assets`."""
        row: FloatRow = self._fields["close"][self.index]
        return row

    @property
    def volume(self) -> FloatRow:
        """Volumes, aligned to `assets`."""
        row: FloatRow = self._fields["volume"][self.index]
        return row

    @property
    def has_bar(self) -> npt.NDArray[np.bool_]:
        """True where the asset has a bar at this timestamp."""
        row: npt.NDArray[np.bool_] = self._has_bar[self.index]
        return row

    @property
    def signals(self) -> RowMapping:
        """Signal columns: ``bar.signals["score"]`` is an (A,) row."""
        return RowMapping(self._signals, self.index)

    @property
    def context(self) -> RowMapping:
        """Context series: ``bar.context["vix"]`` is a float."""
        return RowMapping(self._context, self.index)

    def __repr__(self) -> str:
        return f"Bar(index={self.index}, timestamp={self.timestamp}, assets={len(self.assets)})"
