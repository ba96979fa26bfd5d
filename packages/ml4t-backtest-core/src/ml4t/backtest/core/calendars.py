"""Trading calendars: which days are sessions, when they open and close, half days.

A session is named by its date, given here as int nanoseconds at midnight UTC of that date
(the way daily bars are stamped). Opens and closes are int nanoseconds UTC.

* `Crypto247Calendar` (built in): every day is a session from 00:00 to 24:00 UTC.
* `ExchangeCalendar`: any exchange of the maintained ``exchange-calendars`` library (NYSE is
  ``XNYS``), with its holidays and early closes. It is an optional extra because it pulls
  in pandas: ``pip install "ml4t-backtest-core[calendars]"``. The library is read once, when
  the calendar is built; every query afterwards is a numpy search.

`get_calendar` finds a calendar by name; `missing_sessions` and `calendar_gaps` compare a
feed with a calendar to find sessions without bars.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from abc import ABC, abstractmethod
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import CalendarError, MissingDependencyError
from ml4t.backtest.core.types import NS_PER_DAY, Timestamp, format_timestamp, to_timestamp

__all__ = [
    "CALENDAR_ALIASES",
    "TradingCalendar",
    "Crypto247Calendar",
    "ExchangeCalendar",
    "get_calendar",
    "missing_sessions",
    "non_session_days",
    "calendar_gaps",
]

IntArray: TypeAlias = npt.NDArray[np.int64]

CALENDAR_ALIASES: Final = {
    "NYSE": "XNYS",
    "XNYS": "XNYS",
    "NASDAQ": "XNAS",
    "XNAS": "XNAS",
    "24/7": "24/7",
    "CRYPTO": "24/7",
}
"""Names `get_calendar` knows besides any exchange-calendars code (upper-cased)."""

_INSTALL_HINT: Final = 'pip install "ml4t-backtest-core[calendars]"'
DEFAULT_START: Final = "1990-01-01"  # first session an ExchangeCalendar covers by default


def _day(value: Any) -> Timestamp:
    # The UTC date of `value`, as ns at midnight.
    ts = to_timestamp(value)
    return ts - ts % NS_PER_DAY


def _pandas_ns(values: Any) -> IntArray:
    # A pandas datetime Index/Series (any unit, naive or tz-aware) as int64 ns UTC.
    if hasattr(values, "dt"):  # Series
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif getattr(values, "tz", None) is not None:  # DatetimeIndex
        values = values.tz_convert("UTC").tz_localize(None)
    return np.asarray(values.to_numpy()).astype("datetime64[ns]").astype(np.int64)


class TradingCalendar(ABC):
    """Sessions of a market. Days are anything `to_timestamp` reads; their UTC date counts.

    Attributes:
        name: Calendar code, e.g. ``"XNYS"`` or ``"24/7"``.
        timezone: IANA name of the market's local time zone.
    """

    name: str
    timezone: str

    @abstractmethod
    def sessions(self, start: Any, end: Any) -> IntArray:
        """Return the sessions from `start` to `end` (both inclusive) as midnight-UTC ns."""

    @abstractmethod
    def is_session(self, day: Any) -> bool:
        """Return True when the market trades on `day`."""

    @abstractmethod
    def open_close(self, day: Any) -> tuple[Timestamp, Timestamp]:
        """Return the (open, close) instants of session `day` in ns UTC.

        Raises:
            CalendarError: `day` is not a session.
        """

    @abstractmethod
    def is_half_day(self, day: Any) -> bool:
        """Return True when session `day` closes early."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Crypto247Calendar(TradingCalendar):
    """Every day is a full session from 00:00 to 24:00 UTC; no holidays, no half days.

    Example:
        >>> cal = Crypto247Calendar()
        >>> len(cal.sessions("2024-01-01", "2024-01-31")), cal.is_session("2024-12-25")
        (31, True)
        >>> cal.open_close("2024-01-02")
        (1704153600000000000, 1704240000000000000)
    """

    name = "24/7"
    timezone = "UTC"

    def sessions(self, start: Any, end: Any) -> IntArray:
        """Return every day from `start` to `end` inclusive."""
        lo, hi = _day(start), _day(end)
        if hi < lo:
            return np.empty(0, dtype=np.int64)
        return np.arange(lo, hi + 1, NS_PER_DAY, dtype=np.int64)

    def is_session(self, day: Any) -> bool:
        """Return True: every day trades."""
        _day(day)
        return True

    def open_close(self, day: Any) -> tuple[Timestamp, Timestamp]:
        """Return midnight UTC of `day` and of the next day."""
        start = _day(day)
        return start, start + NS_PER_DAY

    def is_half_day(self, day: Any) -> bool:
        """Return False: no session closes early."""
        _day(day)
        return False


class ExchangeCalendar(TradingCalendar):
    """An exchange calendar from the ``exchange-calendars`` library (optional extra).

    Args:
        code: An exchange-calendars code, e.g. ``"XNYS"`` (NYSE), ``"XLON"``.
        start: First session covered (default 1990-01-01).
        end: Last session covered (default: the library's, about a year ahead).

    Raises:
        MissingDependencyError: exchange-calendars is not installed.
        CalendarError: The code is unknown.
    """

    __slots__ = ("_closes", "_early", "_opens", "_sessions", "name", "timezone")

    def __init__(self, code: str, *, start: Any = DEFAULT_START, end: Any = None) -> None:
        try:
            xcals: Any = importlib.import_module("exchange_calendars")
        except ImportError as exc:
            raise MissingDependencyError(
                f"the {code!r} calendar needs exchange-calendars; install it with `{_INSTALL_HINT}`"
            ) from exc
        kwargs: dict[str, Any] = {"start": format_timestamp(_day(start))}
        if end is not None:
            kwargs["end"] = format_timestamp(_day(end))
        try:
            with warnings.catch_warnings():
                # exchange-calendars itself trips pandas deprecation warnings while building
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                cal = xcals.get_calendar(code, **kwargs)
        except xcals.errors.InvalidCalendarName:
            raise CalendarError(
                f"unknown calendar {code!r}; use 'NYSE', '24/7' or an exchange-calendars code "
                "such as 'XLON'"
            ) from None
        self.name: str = code
        self.timezone: str = str(cal.tz)
        sessions = _pandas_ns(cal.sessions)
        self._sessions: IntArray = sessions
        self._opens: IntArray = _pandas_ns(cal.opens)
        self._closes: IntArray = _pandas_ns(cal.closes)
        early = _pandas_ns(cal.early_closes)
        self._early = np.isin(sessions, early)

    @property
    def first_session(self) -> Timestamp:
        """Return the first session covered."""
        return int(self._sessions[0])

    @property
    def last_session(self) -> Timestamp:
        """Return the last session covered."""
        return int(self._sessions[-1])

    def _covered(self, day: Timestamp) -> None:
        if not self._sessions[0] <= day <= self._sessions[-1]:
            raise CalendarError(
                f"{self.name} calendar covers {format_timestamp(self.first_session)} .. "
                f"{format_timestamp(self.last_session)}, asked about {format_timestamp(day)}; "
                "build it with a wider start=/end="
            )

    def _index(self, day: Any) -> tuple[Timestamp, int]:
        d = _day(day)
        self._covered(d)
        i = int(np.searchsorted(self._sessions, d))
        return d, i

    def sessions(self, start: Any, end: Any) -> IntArray:
        """Return the sessions from `start` to `end` inclusive.

        Raises:
            CalendarError: The range reaches outside the covered sessions.
        """
        lo, hi = _day(start), _day(end)
        self._covered(lo)
        self._covered(hi)
        i = np.searchsorted(self._sessions, lo)
        j = np.searchsorted(self._sessions, hi, side="right")
        return self._sessions[i:j].copy()

    def is_session(self, day: Any) -> bool:
        """Return True when `day` is a trading session."""
        d, i = self._index(day)
        return i < self._sessions.size and int(self._sessions[i]) == d

    def open_close(self, day: Any) -> tuple[Timestamp, Timestamp]:
        """Return the (open, close) of session `day` in ns UTC.

        Raises:
            CalendarError: `day` is not a session (the message names the next one).
        """
        d, i = self._index(day)
        if i >= self._sessions.size or int(self._sessions[i]) != d:
            nxt = format_timestamp(int(self._sessions[i])) if i < self._sessions.size else "none"
            raise CalendarError(
                f"{format_timestamp(d)} is not a {self.name} session (next session: {nxt})"
            )
        return int(self._opens[i]), int(self._closes[i])

    def is_half_day(self, day: Any) -> bool:
        """Return True when session `day` closes early (False for non-sessions)."""
        d, i = self._index(day)
        return bool(i < self._sessions.size and self._sessions[i] == d and self._early[i])


def get_calendar(name: str, **options: Any) -> TradingCalendar:
    """Return the calendar called `name` (case-insensitive).

    ``"NYSE"``/``"XNYS"`` and other exchange codes need the ``calendars`` extra;
    ``"24/7"``/``"CRYPTO"`` is built in.

    Args:
        name: Calendar name or exchange-calendars code.
        **options: Passed to `ExchangeCalendar` (``start=``, ``end=``).

    Raises:
        MissingDependencyError: An exchange calendar was asked for without the extra.
        CalendarError: The name is unknown.

    Example:
        >>> get_calendar("crypto").name
        '24/7'
    """
    key = name.strip().upper()
    code = CALENDAR_ALIASES.get(key, key)
    if code == "24/7":
        return Crypto247Calendar()
    start = options.pop("start", DEFAULT_START)
    end = options.pop("end", None)
    if options:
        raise CalendarError(f"unknown calendar options {sorted(options)}; use start= and end=")
    return _exchange_calendar(code, _day(start), None if end is None else _day(end))


@functools.lru_cache(maxsize=16)
def _exchange_calendar(code: str, start: int, end: int | None) -> ExchangeCalendar:
    # Calendars are read-only after construction, so one instance per (code, range) is shared.
    return ExchangeCalendar(code, start=start, end=end)


def _feed_days(timestamps: npt.ArrayLike) -> IntArray:
    ts = np.asarray(timestamps, dtype=np.int64)
    return ts - ts % NS_PER_DAY


def missing_sessions(timestamps: DataFeed | npt.ArrayLike, calendar: TradingCalendar) -> IntArray:
    """Return the sessions between the first and last timestamp that have no timestamp.

    A timestamp belongs to the session of its UTC date (true for daily bars stamped with
    their date, and for NYSE intraday bars).

    Example:
        >>> from ml4t.backtest.core.types import to_timestamp
        >>> ts = [to_timestamp(d) for d in ("2024-01-01", "2024-01-02", "2024-01-04")]
        >>> [format_timestamp(s) for s in missing_sessions(ts, Crypto247Calendar())]
        ['2024-01-03']
    """
    ts = timestamps.timestamps if isinstance(timestamps, DataFeed) else timestamps
    days = np.unique(_feed_days(ts))
    if days.size == 0:
        return np.empty(0, dtype=np.int64)
    sessions = calendar.sessions(int(days[0]), int(days[-1]))
    return sessions[~np.isin(sessions, days)]


def non_session_days(timestamps: DataFeed | npt.ArrayLike, calendar: TradingCalendar) -> IntArray:
    """Return the distinct UTC dates of `timestamps` that are not sessions (e.g. weekend bars).

    Example:
        >>> from ml4t.backtest.core.types import to_timestamp
        >>> non_session_days([to_timestamp("2024-01-06")], Crypto247Calendar()).size
        0
    """
    ts = timestamps.timestamps if isinstance(timestamps, DataFeed) else timestamps
    days = np.unique(_feed_days(ts))
    if days.size == 0:
        return np.empty(0, dtype=np.int64)
    sessions = calendar.sessions(int(days[0]), int(days[-1]))
    return days[~np.isin(days, sessions)]


def calendar_gaps(feed: DataFeed, calendar: TradingCalendar) -> pl.DataFrame:
    """Return, per asset, the sessions between its first and last bar on which it has none.

    Returns:
        Columns ``asset`` (String) and ``session`` (Date), sorted by asset then session.
    """
    days = _feed_days(feed.timestamps)
    uniq, starts = np.unique(days, return_index=True)
    # A day has a bar for an asset when any of that day's rows has one.
    day_has = np.asarray(np.logical_or.reduceat(feed.has_bar, starts, axis=0), dtype=np.bool_)
    sessions = calendar.sessions(int(uniq[0]), int(uniq[-1]))
    pos = np.searchsorted(uniq, sessions)
    pos_c = np.minimum(pos, uniq.size - 1)
    in_feed = uniq[pos_c] == sessions
    sess_has = np.where(in_feed[:, None], day_has[pos_c], False)
    any_bar: npt.NDArray[np.bool_] = np.asarray(day_has.any(axis=0), dtype=np.bool_)
    first = uniq[np.argmax(day_has, axis=0)]
    last = uniq[day_has.shape[0] - 1 - np.argmax(day_has[::-1], axis=0)]
    inside = (sessions[:, None] >= first[None, :]) & (sessions[:, None] <= last[None, :])
    gap = inside & ~sess_has & any_bar[None, :]
    s_idx, a_idx = np.nonzero(gap)
    order = np.lexsort((s_idx, a_idx))
    s_idx, a_idx = s_idx[order], a_idx[order]
    return pl.DataFrame(
        {
            "asset": pl.Series(list(feed.assets), dtype=pl.String).gather(a_idx),
            "session": pl.Series(sessions[s_idx] // NS_PER_DAY, dtype=pl.Int32).cast(pl.Date),
        }
    )
