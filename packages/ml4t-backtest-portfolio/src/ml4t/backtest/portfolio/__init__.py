"""ml4t.backtest.portfolio: positions, cash, accounts, corporate actions, trades, metrics.

Example:
    >>> import numpy as np
    >>> from ml4t.backtest.core.enums import OrderSide
    >>> from ml4t.backtest.core.events import FillEvent
    >>> from ml4t.backtest.portfolio import Portfolio, RegTMargin
    >>> pf = Portfolio(["AAPL", "MSFT"], initial_cash=100_000.0, account=RegTMargin())
    >>> pf.apply_fill(FillEvent(0, 1, "AAPL", OrderSide.BUY, 100.0, 150.0))
    >>> pf.apply_fill(FillEvent(0, 2, "MSFT", OrderSide.SELL, 50.0, 300.0))
    >>> pf.mark(1, np.array([160.0, 290.0]))
    >>> pf.equity, pf.gross_exposure, pf.net_exposure
    (101500.0, 30500.0, 1500.0)
"""

from ml4t.backtest.portfolio import metrics
from ml4t.backtest.portfolio._version import __version__
from ml4t.backtest.portfolio.accounts import (
    AccountPolicy,
    BorrowCosts,
    CashAccount,
    CryptoMargin,
    FuturesMargin,
    InterestRates,
    MarginRates,
    RegTMargin,
)
from ml4t.backtest.portfolio.corporate_actions import (
    CorporateActionOutcome,
    CorporateActionSchedule,
    corporate_actions_from_polars,
)
from ml4t.backtest.portfolio.errors import LedgerInvariantError
from ml4t.backtest.portfolio.fx import FxRates
from ml4t.backtest.portfolio.margin import MarginCall, apply_liquidation, plan_liquidation
from ml4t.backtest.portfolio.metrics import compute_metrics, infer_periods_per_year
from ml4t.backtest.portfolio.portfolio import Portfolio
from ml4t.backtest.portfolio.positions import Position
from ml4t.backtest.portfolio.snapshots import SnapshotRecorder
from ml4t.backtest.portfolio.trades import TRADE_COLUMNS, LotMatching, TradeTracker

__all__ = [
    "__version__",
    # ledger
    "Portfolio",
    "Position",
    "LedgerInvariantError",
    "FxRates",
    # accounts
    "AccountPolicy",
    "CashAccount",
    "RegTMargin",
    "FuturesMargin",
    "CryptoMargin",
    "MarginRates",
    "BorrowCosts",
    "InterestRates",
    "MarginCall",
    "plan_liquidation",
    "apply_liquidation",
    # corporate actions
    "CorporateActionOutcome",
    "CorporateActionSchedule",
    "corporate_actions_from_polars",
    # trades, snapshots, metrics
    "LotMatching",
    "TradeTracker",
    "TRADE_COLUMNS",
    "SnapshotRecorder",
    "metrics",
    "compute_metrics",
    "infer_periods_per_year",
]
