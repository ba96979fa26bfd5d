"""ml4t.backtest.execution: orders, fill simulation, cost models and the simulated broker.

Usable on its own with only ``ml4t-backtest-core`` installed: price a list of trades with
the cost models, or feed your own bars to `SimulationBroker` to simulate fills.
"""

from ml4t.backtest.execution._version import __version__
from ml4t.backtest.execution.account import AccountView, SimpleAccount
from ml4t.backtest.execution.algos import (
    ExecutionAlgorithm,
    IcebergAlgorithm,
    TWAPAlgorithm,
    VWAPAlgorithm,
    volume_profile,
)
from ml4t.backtest.execution.blocks import FillBlock, OrderBlock
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.commission import (
    IB_US_EQUITY_TIERS,
    CommissionModel,
    CompositeCommission,
    CryptoCommission,
    FuturesCommission,
    NoCommission,
    PercentageCommission,
    PerShareCommission,
    PerTradeCommission,
    TieredCommission,
)
from ml4t.backtest.execution.fills import (
    BracketActivation,
    FillTiming,
    FundsPolicy,
    IntrabarPolicy,
    MatchCode,
    TrailReference,
    first_touch,
    intrabar_path,
    match_order,
    match_orders,
)
from ml4t.backtest.execution.impact import (
    AlmgrenChrissImpact,
    CompositeImpact,
    ImpactModel,
    KyleLambdaImpact,
    LinearImpact,
    MarketImpact,
    NoImpact,
    SquareRootImpact,
)
from ml4t.backtest.execution.liquidity import VolumeLimit
from ml4t.backtest.execution.orders import Bracket, Order, bracket_order, link_oco, link_oto
from ml4t.backtest.execution.quotes import mid_price, quote_price, quote_prices
from ml4t.backtest.execution.slippage import (
    CompositeSlippage,
    FixedSlippage,
    NoSlippage,
    PercentageSlippage,
    SlippageModel,
    SpreadSlippage,
    VolumeShareSlippage,
)
from ml4t.backtest.execution.validation import normalize_order, validate_order

__all__ = [
    "__version__",
    # orders
    "Order",
    "Bracket",
    "bracket_order",
    "link_oco",
    "link_oto",
    # account
    "AccountView",
    "SimpleAccount",
    # validation
    "normalize_order",
    "validate_order",
    # fills
    "BracketActivation",
    "FillTiming",
    "FundsPolicy",
    "IntrabarPolicy",
    "MatchCode",
    "TrailReference",
    "match_order",
    "match_orders",
    "intrabar_path",
    "first_touch",
    # quotes and liquidity
    "quote_price",
    "quote_prices",
    "mid_price",
    "VolumeLimit",
    # slippage
    "SlippageModel",
    "NoSlippage",
    "FixedSlippage",
    "PercentageSlippage",
    "VolumeShareSlippage",
    "SpreadSlippage",
    "CompositeSlippage",
    # commission
    "CommissionModel",
    "NoCommission",
    "PerShareCommission",
    "PercentageCommission",
    "PerTradeCommission",
    "TieredCommission",
    "FuturesCommission",
    "CryptoCommission",
    "CompositeCommission",
    "IB_US_EQUITY_TIERS",
    # impact
    "MarketImpact",
    "ImpactModel",
    "NoImpact",
    "LinearImpact",
    "SquareRootImpact",
    "AlmgrenChrissImpact",
    "KyleLambdaImpact",
    "CompositeImpact",
    # algorithms
    "ExecutionAlgorithm",
    "TWAPAlgorithm",
    "VWAPAlgorithm",
    "IcebergAlgorithm",
    "volume_profile",
    # broker
    "SimulationBroker",
    "OrderBlock",
    "FillBlock",
]
