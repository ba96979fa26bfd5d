"""ml4t.backtest.strategy: the Strategy API, configuration, risk rules and the backtest engine.

Example:
    >>> from ml4t.backtest.strategy import BacktestConfig, BacktestEngine, Strategy
    >>> BacktestConfig().fill_timing.value
    'next_open'
"""

from ml4t.backtest.strategy._version import __version__
from ml4t.backtest.strategy.bar import Bar
from ml4t.backtest.strategy.config import (
    PRESETS,
    AccountPolicy,
    AccountSpec,
    BacktestConfig,
    CashShortfallPolicy,
    CompiledMode,
    FillTiming,
    IntrabarPolicy,
    RiskConfig,
    ShareRounding,
    SizingSpec,
    register_preset,
)
from ml4t.backtest.strategy.engine import PHASES, BacktestEngine, run_backtest
from ml4t.backtest.strategy.interface import PortfolioView, TradingInterface
from ml4t.backtest.strategy.lookahead import LookaheadReport, LookaheadViolation, check_lookahead
from ml4t.backtest.strategy.result import BacktestResult
from ml4t.backtest.strategy.risk import RiskManager, atr
from ml4t.backtest.strategy.signals import (
    SignalStrategy,
    WeightStrategy,
    fast_path_unsupported,
    run_signals,
)
from ml4t.backtest.strategy.sizers import (
    FixedQuantitySizer,
    FixedValueSizer,
    KellySizer,
    PercentEquitySizer,
    PositionSizer,
    VolatilityTargetSizer,
    kelly_fraction,
    risk_parity_weights,
)
from ml4t.backtest.strategy.strategy import DataWindow, Strategy, StrategyContext, round_quantity

__all__ = [
    "__version__",
    # engine and results
    "BacktestEngine",
    "BacktestResult",
    "PHASES",
    "run_backtest",
    # configuration
    "AccountPolicy",
    "AccountSpec",
    "BacktestConfig",
    "CashShortfallPolicy",
    "FillTiming",
    "IntrabarPolicy",
    "PRESETS",
    "RiskConfig",
    "ShareRounding",
    "CompiledMode",
    "SizingSpec",
    "register_preset",
    # strategy API
    "Bar",
    "DataWindow",
    "PortfolioView",
    "Strategy",
    "StrategyContext",
    "TradingInterface",
    "round_quantity",
    # signals and fast path
    "SignalStrategy",
    "WeightStrategy",
    "fast_path_unsupported",
    "run_signals",
    # sizing and risk
    "FixedQuantitySizer",
    "FixedValueSizer",
    "KellySizer",
    "PercentEquitySizer",
    "PositionSizer",
    "RiskManager",
    "VolatilityTargetSizer",
    "atr",
    "kelly_fraction",
    "risk_parity_weights",
    # audit
    "LookaheadReport",
    "LookaheadViolation",
    "check_lookahead",
]
