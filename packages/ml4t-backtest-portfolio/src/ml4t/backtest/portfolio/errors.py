"""Errors raised by the portfolio layer.

They derive from `ml4t.backtest.core.errors.BacktestError` (and from the builtin they refine),
so callers can catch them with ``except BacktestError`` or the builtin.
"""

from __future__ import annotations

from ml4t.backtest.core.errors import BacktestError

__all__ = ["LedgerInvariantError"]


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
