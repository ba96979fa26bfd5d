"""ml4t-backtest: institutional-grade event-driven backtesting.

This facade is owned by the ``ml4t-backtest`` meta-package. It re-exports the public API of
the distributions beneath it so that ``from ml4t.backtest import DataFeed`` works.
"""

# The next two statements must stay first: ``ml4t.backtest`` is a regular package here, so its
# path is extended to the sibling distributions' ``ml4t/backtest`` folders. Without this the
# sub-packages (core, execution, ...) cannot be found in editable workspace installs, where each
# distribution lives in its own source folder. See docs/architecture/0001-namespace-layout.md.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from ml4t.backtest._version import __version__  # noqa: E402
from ml4t.backtest.core import (  # noqa: E402
    Asset,
    AssetRegistry,
    BacktestError,
    ConfigError,
    Crypto,
    DataValidationError,
    Equity,
    Future,
    FXPair,
    Option,
    OrderSide,
    OrderType,
    TimeInForce,
)

__all__ = [
    "__version__",
    "Asset",
    "AssetRegistry",
    "BacktestError",
    "ConfigError",
    "Crypto",
    "DataValidationError",
    "Equity",
    "Future",
    "FXPair",
    "Option",
    "OrderSide",
    "OrderType",
    "TimeInForce",
]
