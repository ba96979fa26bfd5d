"""The one exception hierarchy of ml4t-backtest.

Every error raised on purpose by any ml4t-backtest distribution derives from
`BacktestError`. Each subclass also derives from the builtin it refines, so
``except ValueError`` keeps working for callers that do not know our types.

Messages name the field, the row or asset, the value that was found and the fix, e.g.::

    column 'high' below 'low' at row 1042 (asset='AAPL', 2024-03-01 09:31): high=99.5,
    low=100.1; drop or repair the row
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BacktestError",
    "CalendarError",
    "ConfigError",
    "DataValidationError",
    "InsufficientFundsError",
    "InvalidOrderTransitionError",
    "InvalidPriceError",
    "InvalidQuantityError",
    "LedgerInvariantError",
    "LookAheadError",
    "MissingDependencyError",
    "OrderError",
    "OrderRejectedError",
    "ResultFormatError",
    "StrategyError",
    "UnknownAssetError",
]


class BacktestError(Exception):
    """Base class of every error raised by ml4t-backtest."""


class DataValidationError(BacktestError, ValueError):
    """The input data breaks the price schema (columns, order, nulls, ranges).

    Attributes:
        check: Short name of the failed check, e.g. ``"high_below_low"``.
        rows: Row numbers (0-based, in the frame as given) of the first offending rows.
        column: The offending column, when one column is at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        check: str = "",
        rows: Sequence[int] = (),
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.check = check
        self.rows = tuple(rows)
        self.column = column


class ConfigError(BacktestError, ValueError):
    """A configuration value is missing, out of range or inconsistent with another."""


class InvalidQuantityError(BacktestError, ValueError):
    """A quantity is NaN, infinite, negative where it must not be, or off the lot grid."""


class InvalidPriceError(BacktestError, ValueError):
    """A price is NaN, infinite, not positive where it must be, or off the tick grid."""


class UnknownAssetError(BacktestError, KeyError):
    """An asset id is not known to the registry or the data feed."""

    def __str__(self) -> str:
        # KeyError repr()s its argument; we want the plain message.
        return str(self.args[0]) if self.args else ""


class OrderError(BacktestError):
    """Base class for errors about orders."""


class OrderRejectedError(OrderError, ValueError):
    """An order was refused; `reason` says why in words a user can act on.

    Attributes:
        reason: Human readable cause, e.g. ``"short sale not permitted for 'AAPL'"``.
        order_id: Id of the rejected order when it had one.
    """

    def __init__(self, reason: str, *, order_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.order_id = order_id


class InsufficientFundsError(OrderRejectedError):
    """An order needs more cash or buying power than the account has."""


class InvalidOrderTransitionError(OrderError, ValueError):
    """An order was moved between two states that `ORDER_TRANSITIONS` does not link."""


class LedgerInvariantError(BacktestError, ArithmeticError):
    """The balance sheet and the profit-and-loss ledger of a portfolio disagree.

    The message names the currency, both sides of the identity, their difference and the
    tolerance, e.g. ``ledger invariant broken in USD: cash + market value + receivables -
    liabilities = 100250.0 but capital + realized + unrealized + income - costs = 100000.0
    (difference 250.0, tolerance 1e-4)``.

    Attributes:
        currency: Currency whose ledger is out of balance.
        balance_sheet: ``cash + market_value + receivables - liabilities``.
        pnl_ledger: ``capital + realized + unrealized + income - costs``.
    """

    def __init__(
        self, message: str, *, currency: str, balance_sheet: float, pnl_ledger: float
    ) -> None:
        super().__init__(message)
        self.currency = currency
        self.balance_sheet = balance_sheet
        self.pnl_ledger = pnl_ledger


class LookAheadError(BacktestError, RuntimeError):
    """Code asked for, or a decision used, data from after the current instant."""


class CalendarError(BacktestError, ValueError):
    """A trading calendar is unknown or was asked about a range it does not cover."""


class MissingDependencyError(BacktestError, ImportError):
    """An optional dependency needed for a feature is not installed; the message names the extra."""


class ResultFormatError(BacktestError, ValueError):
    """A directory is not a complete, readable result directory (or a result cannot be saved)."""


class StrategyError(BacktestError, RuntimeError):
    """User strategy code raised; the run stopped at `timestamp` (and `asset`, if known).

    Attributes:
        timestamp: The bar at which the strategy failed (ISO text).
        asset: The asset being processed, when the callback was per asset.
        callback: Name of the strategy callback that raised.
        traceback_text: The formatted traceback of the original exception.
    """

    def __init__(
        self,
        message: str,
        *,
        timestamp: str | None = None,
        asset: str | None = None,
        callback: str | None = None,
        traceback_text: str = "",
    ) -> None:
        super().__init__(message)
        self.timestamp = timestamp
        self.asset = asset
        self.callback = callback
        self.traceback_text = traceback_text
