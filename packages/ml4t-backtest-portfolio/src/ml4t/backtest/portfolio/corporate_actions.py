"""Corporate actions: load them from a frame and release them point-in-time.

A corporate-actions frame has one row per action with the columns

========== ===================================================================================
column     meaning
========== ===================================================================================
ex_date    when the action takes effect (alias ``timestamp``); Date, Datetime or int ns UTC
asset      the asset id it applies to
action     ``split``, ``cash_dividend``, ``stock_dividend``, ``symbol_change``, ``merger``,
           ``delisting`` (case-insensitive, or the `CorporateActionType` integer)
ratio      split: new shares per old share (7.0 for 7:1, 0.1 for 1:10); stock dividend: new
           shares per share held (0.05 = 5%); merger: shares of `new_asset` per share
cash_amount cash dividend per share; merger cash per share; delisting value per share (null =
           last price)
new_asset  symbol change / merger target (null otherwise)
pay_date   cash dividend payment date (null = ex_date)
========== ===================================================================================

Only ``ex_date``, ``asset`` and ``action`` are required. `CorporateActionSchedule` sorts the
events and hands out, for each bar, the ones whose ex-date has been reached — the engine
applies them with `Portfolio.apply_corporate_action` *before* the bar's orders are matched,
so positions held at the previous close are the ones entitled (ex-date semantics).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ml4t.backtest.core.enums import CorporateActionType
from ml4t.backtest.core.errors import DataValidationError
from ml4t.backtest.core.events import CorporateActionEvent
from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.portfolio._frames import to_ns

__all__ = [
    "CorporateActionOutcome",
    "CorporateActionSchedule",
    "corporate_actions_from_polars",
]

_ACTION_NAMES = {t.name.lower(): t for t in CorporateActionType}
_ACTION_NAMES.update(
    {"dividend": CorporateActionType.CASH_DIVIDEND, "rename": CorporateActionType.SYMBOL_CHANGE}
)


@dataclass(frozen=True, slots=True)
class CorporateActionOutcome:
    """What applying one corporate action did to a portfolio.

    Attributes:
        asset: Asset the action applied to.
        action_type: Kind of action.
        quantity_before: Signed position before the action.
        quantity_after: Signed position of `asset` after the action.
        cash: Cash credited (+) or debited (-) now, in the asset's currency (dividends paid
            on the ex-date, merger cash, delisting proceeds, cash in lieu of fractions).
        accrued: Dividend booked as receivable (+) or payable (-) until the pay date.
        split_ratio: Factor by which quantities were multiplied (1.0 unless split or stock
            dividend); the engine passes it to ``broker.adjust_for_split(asset, ratio)`` so
            open orders follow (quantities x ratio, prices / ratio).
        new_asset: Target asset of a symbol change or merger ("" otherwise).
    """

    asset: AssetId
    action_type: CorporateActionType
    quantity_before: float
    quantity_after: float
    cash: float = 0.0
    accrued: float = 0.0
    split_ratio: float = 1.0
    new_asset: AssetId = ""


def _action_type(value: object, row: int) -> CorporateActionType:
    if isinstance(value, int | np.integer):
        return CorporateActionType(int(value))
    key = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return _ACTION_NAMES[key]
    except KeyError:
        raise DataValidationError(
            f"column 'action' at row {row}: unknown action {value!r}; use one of "
            f"{sorted(_ACTION_NAMES)}",
            check="unknown_action",
            rows=[row],
            column="action",
        ) from None


def _check_event(ev: CorporateActionEvent, row: int) -> None:
    kind = ev.action_type

    def bad(column: str, value: object, need: str) -> DataValidationError:
        return DataValidationError(
            f"column {column!r} at row {row} (asset={ev.asset!r}, {kind.name}): {need}, was "
            f"{value!r}; fix the corporate-actions frame",
            check="bad_action_value",
            rows=[row],
            column=column,
        )

    if kind == CorporateActionType.SPLIT and not (math.isfinite(ev.ratio) and ev.ratio > 0):
        raise bad("ratio", ev.ratio, "a split needs a finite ratio > 0")
    if kind == CorporateActionType.STOCK_DIVIDEND and not (
        math.isfinite(ev.ratio) and ev.ratio > -1.0
    ):
        raise bad("ratio", ev.ratio, "a stock dividend needs a finite ratio > -1")
    if kind == CorporateActionType.CASH_DIVIDEND and not math.isfinite(ev.cash_amount):
        raise bad("cash_amount", ev.cash_amount, "a cash dividend needs a finite cash_amount")
    if kind == CorporateActionType.SYMBOL_CHANGE and not ev.new_asset:
        raise bad("new_asset", ev.new_asset, "a symbol change needs new_asset")
    if kind == CorporateActionType.MERGER:
        has_stock = math.isfinite(ev.ratio) and ev.ratio > 0
        if has_stock and not ev.new_asset:
            raise bad("new_asset", ev.new_asset, "a stock merger needs new_asset")
        if not has_stock and not math.isfinite(ev.cash_amount):
            raise bad("cash_amount", ev.cash_amount, "a merger needs a ratio > 0 or cash_amount")


def corporate_actions_from_polars(frame: pl.DataFrame) -> list[CorporateActionEvent]:
    """Convert a corporate-actions frame into events sorted by ex-date.

    Args:
        frame: Columns as described in the module docstring.

    Returns:
        `CorporateActionEvent` list, sorted by (ex-date, row order).

    Raises:
        DataValidationError: A required column is missing, an action is unknown or a value
            the action needs is missing or out of range.

    Example:
        >>> import datetime as dt
        >>> df = pl.DataFrame({"ex_date": [dt.date(2014, 6, 9)], "asset": ["AAPL"],
        ...                    "action": ["split"], "ratio": [7.0]})
        >>> ev = corporate_actions_from_polars(df)[0]
        >>> ev.action_type.name, ev.ratio, ev.timestamp
        ('SPLIT', 7.0, 1402272000000000000)
    """
    if "ex_date" not in frame.columns and "timestamp" in frame.columns:
        frame = frame.rename({"timestamp": "ex_date"})
    missing = {"ex_date", "asset", "action"} - set(frame.columns)
    if missing:
        raise DataValidationError(
            f"corporate-actions frame is missing column(s) {sorted(missing)}; required: "
            "ex_date (or timestamp), asset, action",
            check="missing_columns",
        )
    n = frame.height
    ex = to_ns(frame.get_column("ex_date")).to_list()
    assets = frame.get_column("asset").cast(pl.String).to_list()
    actions = frame.get_column("action").to_list()

    def floats(name: str) -> list[float]:
        if name not in frame.columns:
            return [math.nan] * n
        return frame.get_column(name).cast(pl.Float64).fill_null(math.nan).to_list()

    ratio = floats("ratio")
    cash = floats("cash_amount")
    new_asset = (
        frame.get_column("new_asset").cast(pl.String).fill_null("").to_list()
        if "new_asset" in frame.columns
        else [""] * n
    )
    pay = (
        to_ns(frame.get_column("pay_date")).fill_null(0).to_list()
        if "pay_date" in frame.columns
        else [0] * n
    )
    events: list[tuple[int, int, CorporateActionEvent]] = []
    for row in range(n):
        if ex[row] is None or assets[row] is None:
            raise DataValidationError(
                f"corporate-actions row {row}: ex_date and asset must not be null; drop the row",
                check="null_key",
                rows=[row],
            )
        ev = CorporateActionEvent(
            int(ex[row]),
            str(assets[row]),
            _action_type(actions[row], row),
            float(ratio[row]),
            float(cash[row]),
            str(new_asset[row]),
            int(pay[row] or 0),
        )
        _check_event(ev, row)
        events.append((ev.timestamp, row, ev))
    events.sort(key=lambda item: (item[0], item[1]))
    return [ev for _, _, ev in events]


class CorporateActionSchedule:
    """Corporate actions in ex-date order, released once each as time reaches them.

    Args:
        events: Events in any order.

    Example:
        >>> s = CorporateActionSchedule([
        ...     CorporateActionEvent(10, "A", CorporateActionType.SPLIT, ratio=2.0),
        ...     CorporateActionEvent(20, "A", CorporateActionType.CASH_DIVIDEND, cash_amount=1.0)])
        >>> [e.timestamp for e in s.due(15)], s.due(15), [e.timestamp for e in s.due(25)]
        ([10], [], [20])
    """

    __slots__ = ("_cursor", "_events", "_times")

    def __init__(self, events: Iterable[CorporateActionEvent]) -> None:
        self._events: list[CorporateActionEvent] = sorted(events, key=lambda e: e.timestamp)
        self._times = np.array([e.timestamp for e in self._events], dtype=np.int64)
        self._cursor = 0

    @classmethod
    def from_polars(cls, frame: pl.DataFrame) -> CorporateActionSchedule:
        """Build a schedule from a corporate-actions frame (see the module docstring)."""
        return cls(corporate_actions_from_polars(frame))

    @property
    def events(self) -> Sequence[CorporateActionEvent]:
        """Return every event, sorted by ex-date."""
        return tuple(self._events)

    def due(self, timestamp: Timestamp) -> list[CorporateActionEvent]:
        """Return the not yet released events with ex-date <= `timestamp`, and release them."""
        if self._cursor >= len(self._events) or self._times[self._cursor] > timestamp:
            return []
        end = int(np.searchsorted(self._times, timestamp, side="right"))
        out = self._events[self._cursor : end]
        self._cursor = end
        return out

    def reset(self) -> None:
        """Start releasing from the first event again."""
        self._cursor = 0
