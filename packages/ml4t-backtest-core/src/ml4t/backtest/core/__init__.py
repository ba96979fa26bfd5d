"""ml4t.backtest.core: foundations shared by every ml4t-backtest distribution.

Types, enums, the error hierarchy, events, assets, precision rules, validated data feeds,
the point-in-time clock, trading calendars and the bundled sample data. Nothing here knows
about orders being filled, portfolios or strategies.
"""

from ml4t.backtest.core._validation import CHECKS as VALIDATION_CHECKS
from ml4t.backtest.core._validation import CheckSpec
from ml4t.backtest.core._version import __version__
from ml4t.backtest.core.assets import Asset, AssetRegistry, Crypto, Equity, Future, FXPair, Option
from ml4t.backtest.core.calendars import (
    Crypto247Calendar,
    ExchangeCalendar,
    TradingCalendar,
    calendar_gaps,
    get_calendar,
    missing_sessions,
    non_session_days,
)
from ml4t.backtest.core.clock import Clock, ClockSource, ClockTick
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.datasets import (
    DatasetInfo,
    dataset_path,
    list_datasets,
    load_sample_prices,
    sample_feed,
)
from ml4t.backtest.core.enums import (
    ORDER_TRANSITIONS,
    TERMINAL_ORDER_STATUSES,
    AssetClass,
    CorporateActionType,
    EventType,
    OptionRight,
    OrderSide,
    OrderStatus,
    OrderType,
    RoundingMode,
    TimeInForce,
)
from ml4t.backtest.core.errors import (
    BacktestError,
    CalendarError,
    ConfigError,
    DataValidationError,
    InsufficientFundsError,
    InvalidOrderTransitionError,
    InvalidPriceError,
    InvalidQuantityError,
    LedgerInvariantError,
    LookAheadError,
    MissingDependencyError,
    OrderError,
    OrderRejectedError,
    ResultFormatError,
    StrategyError,
    UnknownAssetError,
)
from ml4t.backtest.core.events import (
    CorporateActionEvent,
    FillEvent,
    MarketEvent,
    OrderEvent,
    SignalEvent,
)
from ml4t.backtest.core.precision import (
    GRID_EPSILON,
    is_on_grid,
    is_on_grid_array,
    round_limit_price,
    round_money,
    round_price,
    round_prices,
    round_quantities,
    round_quantity,
    round_to_grid,
    round_to_grid_array,
)
from ml4t.backtest.core.types import (
    NS_PER_DAY,
    NS_PER_SECOND,
    AssetId,
    Money,
    Price,
    PriceValue,
    Quantity,
    QuantityValue,
    Timestamp,
    format_timestamp,
    to_timestamp,
)

__all__ = [
    "__version__",
    # data validation checks (what DataFeed verifies, with the fix for each)
    "VALIDATION_CHECKS",
    "CheckSpec",
    # assets
    "Asset",
    "AssetRegistry",
    "Crypto",
    "Equity",
    "FXPair",
    "Future",
    "Option",
    # calendars
    "Crypto247Calendar",
    "ExchangeCalendar",
    "TradingCalendar",
    "calendar_gaps",
    "get_calendar",
    "missing_sessions",
    "non_session_days",
    # clock
    "Clock",
    "ClockSource",
    "ClockTick",
    # data
    "DataFeed",
    # datasets
    "DatasetInfo",
    "dataset_path",
    "list_datasets",
    "load_sample_prices",
    "sample_feed",
    # enums
    "ORDER_TRANSITIONS",
    "TERMINAL_ORDER_STATUSES",
    "AssetClass",
    "CorporateActionType",
    "EventType",
    "OptionRight",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "RoundingMode",
    "TimeInForce",
    # errors
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
    # events
    "CorporateActionEvent",
    "FillEvent",
    "MarketEvent",
    "OrderEvent",
    "SignalEvent",
    # precision
    "GRID_EPSILON",
    "is_on_grid",
    "is_on_grid_array",
    "round_limit_price",
    "round_money",
    "round_price",
    "round_prices",
    "round_quantities",
    "round_quantity",
    "round_to_grid",
    "round_to_grid_array",
    # types
    "NS_PER_DAY",
    "NS_PER_SECOND",
    "AssetId",
    "Money",
    "Price",
    "PriceValue",
    "Quantity",
    "QuantityValue",
    "Timestamp",
    "format_timestamp",
    "to_timestamp",
]
