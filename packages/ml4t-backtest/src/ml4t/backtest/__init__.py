"""ml4t-backtest: institutional-grade event-driven backtesting.

This facade is owned by the ``ml4t-backtest`` meta-package. It re-exports the names most
programs need, so that one import line is enough::

    from ml4t.backtest import BacktestConfig, BacktestEngine, DataFeed, Strategy

Everything else stays available from the distributions themselves: ``ml4t.backtest.core``,
``ml4t.backtest.execution``, ``ml4t.backtest.portfolio``, ``ml4t.backtest.strategy`` and
``ml4t.backtest.reporting``. The reporting names (`write_tearsheet`, `compare`) are loaded on
first use, so importing the facade does not pay for plotly and matplotlib.
"""

# The next two statements must stay first: ``ml4t.backtest`` is a regular package here, so its
# path is extended to the sibling distributions' ``ml4t/backtest`` folders. Without this the
# sub-packages (core, execution, ...) cannot be found in editable workspace installs, where each
# distribution lives in its own source folder. See docs/architecture/0001-namespace-layout.md.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ml4t.backtest._version import __version__
from ml4t.backtest.core import (
    Asset,
    AssetClass,
    AssetRegistry,
    BacktestError,
    Clock,
    ConfigError,
    Crypto,
    DataFeed,
    DataValidationError,
    Equity,
    FillEvent,
    Future,
    FXPair,
    InsufficientFundsError,
    LookAheadError,
    MarketEvent,
    MissingDependencyError,
    Option,
    OrderEvent,
    OrderRejectedError,
    OrderSide,
    OrderStatus,
    OrderType,
    StrategyError,
    TimeInForce,
    get_calendar,
    load_sample_prices,
    sample_feed,
)
from ml4t.backtest.execution import (
    AlmgrenChrissImpact,
    FixedSlippage,
    Order,
    PercentageCommission,
    PercentageSlippage,
    PerShareCommission,
    SimulationBroker,
    SquareRootImpact,
    TieredCommission,
    VolumeLimit,
    VolumeShareSlippage,
)
from ml4t.backtest.portfolio import (
    CashAccount,
    Portfolio,
    RegTMargin,
    TradeTracker,
    compute_metrics,
)
from ml4t.backtest.strategy import (
    BacktestConfig,
    BacktestEngine,
    BacktestResult,
    Bar,
    FillTiming,
    FixedQuantitySizer,
    IntrabarPolicy,
    KellySizer,
    PercentEquitySizer,
    RiskConfig,
    SignalStrategy,
    Strategy,
    StrategyContext,
    VolatilityTargetSizer,
    WeightStrategy,
    check_lookahead,
    risk_parity_weights,
    run_backtest,
    run_signals,
)

if TYPE_CHECKING:
    from ml4t.backtest.reporting import compare, write_tearsheet

_LAZY = {"compare": "ml4t.backtest.reporting", "write_tearsheet": "ml4t.backtest.reporting"}


def __getattr__(name: str) -> Any:
    # Reporting pulls in plotly and matplotlib: import it only when a reporting name is used.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ml4t.backtest' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "__version__",
    # engine and strategy API
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "Bar",
    "RiskConfig",
    "SignalStrategy",
    "Strategy",
    "StrategyContext",
    "WeightStrategy",
    "check_lookahead",
    "run_backtest",
    "run_signals",
    # sizing
    "FixedQuantitySizer",
    "KellySizer",
    "PercentEquitySizer",
    "VolatilityTargetSizer",
    "risk_parity_weights",
    # data, assets, time
    "Asset",
    "AssetClass",
    "AssetRegistry",
    "Clock",
    "Crypto",
    "DataFeed",
    "Equity",
    "FXPair",
    "Future",
    "Option",
    "get_calendar",
    "load_sample_prices",
    "sample_feed",
    # orders and events
    "FillEvent",
    "MarketEvent",
    "Order",
    "OrderEvent",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "TimeInForce",
    # execution models
    "AlmgrenChrissImpact",
    "FillTiming",
    "FixedSlippage",
    "IntrabarPolicy",
    "PercentageCommission",
    "PercentageSlippage",
    "PerShareCommission",
    "SimulationBroker",
    "SquareRootImpact",
    "TieredCommission",
    "VolumeLimit",
    "VolumeShareSlippage",
    # portfolio
    "CashAccount",
    "Portfolio",
    "RegTMargin",
    "TradeTracker",
    "compute_metrics",
    # reporting (loaded on first use)
    "compare",
    "write_tearsheet",
    # errors
    "BacktestError",
    "ConfigError",
    "DataValidationError",
    "InsufficientFundsError",
    "LookAheadError",
    "MissingDependencyError",
    "OrderRejectedError",
    "StrategyError",
]
