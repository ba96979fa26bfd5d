"""Account policies (cash, Reg-T, futures, crypto margin) and financing costs.

An account policy says what an account may hold and how much equity each position ties up.
It is a small frozen value; the `Portfolio` asks it once per asset, at construction, for four
numbers and then computes requirements with vector operations:

* ``initial_rate`` / ``maintenance_rate``: fraction of a position's absolute market value
  (notional, base currency) that must be covered by equity to open it / to keep it;
* ``initial_per_contract`` / ``maintenance_per_contract``: a fixed amount per unit held (the
  exchange margins of a `Future`), in the asset's currency.

Requirement of the whole account::

    requirement = sum_i |quantity_i * price_i * multiplier_i * fx_i| * rate_i
                + sum_i |quantity_i| * per_contract_i * fx_i

Financing costs are separate values: `BorrowCosts` (stock-loan fee on shorts, hard-to-borrow
list) and `InterestRates` (credit interest on cash, debit interest on margin loans). Both use
an actual/`day_count` convention (actual calendar days elapsed, 360-day year by default).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from ml4t.backtest.core.assets import Asset, Future
from ml4t.backtest.core.errors import ConfigError

__all__ = [
    "AccountPolicy",
    "CashAccount",
    "RegTMargin",
    "FuturesMargin",
    "CryptoMargin",
    "MarginRates",
    "BorrowCosts",
    "InterestRates",
    "DEFAULT_REG_T_INITIAL",
    "DEFAULT_REG_T_MAINTENANCE",
    "DEFAULT_DAY_COUNT",
]

DEFAULT_REG_T_INITIAL = 0.50  # fraction of notional, Federal Reserve Regulation T
DEFAULT_REG_T_MAINTENANCE = 0.25  # fraction of notional, FINRA rule 4210 minimum
DEFAULT_DAY_COUNT = 360  # days per year for borrow fees and interest (actual/360)


def _check_rate(owner: str, name: str, value: float, *, upper: float = 1.0) -> None:
    if not math.isfinite(value) or value < 0.0 or value > upper:
        raise ConfigError(f"{owner}: `{name}` must be in [0, {upper}], was {value!r}")


@dataclass(frozen=True, slots=True)
class MarginRates:
    """The four margin numbers of one asset under one account policy.

    Attributes:
        initial_rate: Fraction of notional needed to open, in [0, 1].
        maintenance_rate: Fraction of notional needed to keep, in [0, initial_rate].
        initial_per_contract: Currency per unit held needed to open (futures), >= 0.
        maintenance_per_contract: Currency per unit held needed to keep (futures), >= 0.
    """

    initial_rate: float
    maintenance_rate: float
    initial_per_contract: float = 0.0
    maintenance_per_contract: float = 0.0


# Futures with exchange margins use them under every policy; other assets use `rates`.
def _rates_for(asset: Asset, initial: float, maintenance: float, scale: float) -> MarginRates:
    if isinstance(asset, Future) and asset.initial_margin > 0.0:
        maint = asset.maintenance_margin or asset.initial_margin
        return MarginRates(0.0, 0.0, asset.initial_margin * scale, maint * scale)
    return MarginRates(initial, maintenance)


class AccountPolicy(ABC):
    """What an account may hold and how much equity its positions tie up."""

    @property
    @abstractmethod
    def allows_short(self) -> bool:
        """Return True when short positions are permitted at all."""

    @property
    def is_cash_account(self) -> bool:
        """Return True for cash accounts (no loans; only settled cash is buying power)."""
        return False

    def short_block(self, asset: Asset) -> str | None:
        """Return why this policy forbids shorting `asset`, or None when it allows it."""
        if not self.allows_short:
            return f"{type(self).__name__} does not allow short positions"
        return None

    @property
    @abstractmethod
    def default_initial_rate(self) -> float:
        """Return the initial rate of a plain asset; buying power is excess / this rate."""

    @abstractmethod
    def margin_rates(self, asset: Asset) -> MarginRates:
        """Return the margin numbers of `asset` under this policy."""


@dataclass(frozen=True, slots=True)
class CashAccount(AccountPolicy):
    """A cash account: no shorts, no leverage; only settled cash buys.

    Every position must be fully paid (rate 1.0). Sale proceeds settle after the portfolio's
    ``settlement_days`` business days and only then count as buying power.

    Example:
        >>> from ml4t.backtest.core.assets import Equity
        >>> CashAccount().margin_rates(Equity(asset_id="AAPL"))
        MarginRates(initial_rate=1.0, maintenance_rate=1.0, initial_per_contract=0.0, maintenance_per_contract=0.0)
    """  # noqa: E501

    @property
    def allows_short(self) -> bool:
        """Return False: cash accounts cannot sell short."""
        return False

    @property
    def is_cash_account(self) -> bool:
        """Return True."""
        return True

    @property
    def default_initial_rate(self) -> float:
        """Return 1.0 (fully paid)."""
        return 1.0

    def margin_rates(self, asset: Asset) -> MarginRates:
        """Return rate 1.0 for everything (futures use their exchange margins)."""
        return _rates_for(asset, 1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class RegTMargin(AccountPolicy):
    """A Regulation-T margin account for securities.

    Formula::

        buying_power = max(equity - sum(|notional_i|) * initial, 0) / initial
        margin call when equity < sum(|notional_i|) * maintenance

    Args:
        initial: Initial margin fraction (0.5 = 2x buying power).
        maintenance: Maintenance margin fraction, <= `initial`.

    Example:
        >>> from ml4t.backtest.core.assets import Equity
        >>> RegTMargin().margin_rates(Equity(asset_id="AAPL")).maintenance_rate
        0.25
    """

    initial: float = DEFAULT_REG_T_INITIAL
    maintenance: float = DEFAULT_REG_T_MAINTENANCE

    def __post_init__(self) -> None:
        _check_rate("RegTMargin", "initial", self.initial)
        _check_rate("RegTMargin", "maintenance", self.maintenance, upper=self.initial)
        if self.initial == 0.0:
            raise ConfigError("RegTMargin: `initial` must be > 0, was 0.0")

    @property
    def allows_short(self) -> bool:
        """Return True."""
        return True

    @property
    def default_initial_rate(self) -> float:
        """Return `initial`."""
        return self.initial

    def margin_rates(self, asset: Asset) -> MarginRates:
        """Return `initial`/`maintenance` of notional (futures: exchange margins)."""
        return _rates_for(asset, self.initial, self.maintenance, 1.0)


@dataclass(frozen=True, slots=True)
class FuturesMargin(AccountPolicy):
    """A futures account: per-contract initial and maintenance margins from each `Future`.

    Non-future assets in this account must be fully paid and cannot be shorted through it
    (their rates are 1.0). `margin_scale` multiplies every exchange margin (a broker's
    house surcharge, e.g. 1.25).

    Example:
        >>> es = Future(asset_id="ES", multiplier=50.0, initial_margin=12_000.0,
        ...             maintenance_margin=11_000.0)
        >>> FuturesMargin().margin_rates(es).maintenance_per_contract
        11000.0
    """

    margin_scale: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.margin_scale) or self.margin_scale <= 0.0:
            raise ConfigError(f"FuturesMargin: `margin_scale` must be > 0, was {self.margin_scale}")

    @property
    def allows_short(self) -> bool:
        """Return True (futures can be sold short; see `margin_rates` for others)."""
        return True

    @property
    def default_initial_rate(self) -> float:
        """Return 1.0: buying power is the equity not tied up in margin."""
        return 1.0

    def short_block(self, asset: Asset) -> str | None:
        """Return a reason for non-futures: a futures account shorts futures only."""
        if not isinstance(asset, Future):
            return "FuturesMargin accounts short futures only"
        return None

    def margin_rates(self, asset: Asset) -> MarginRates:
        """Return the scaled exchange margins of futures, full payment for other assets."""
        return _rates_for(asset, 1.0, 1.0, self.margin_scale)


@dataclass(frozen=True, slots=True)
class CryptoMargin(AccountPolicy):
    """A crypto margin account with configurable leverage.

    Formula::

        initial_rate = 1 / leverage
        maintenance_rate = maintenance if given, else 0.5 / leverage

    Args:
        leverage: Maximum gross exposure per unit of equity, >= 1 (1 = no leverage).
        maintenance: Maintenance fraction of notional; None for half the initial rate.

    Example:
        >>> from ml4t.backtest.core.assets import Crypto
        >>> CryptoMargin(leverage=5.0).margin_rates(Crypto(asset_id="BTC-USD")).initial_rate
        0.2
    """

    leverage: float = 1.0
    maintenance: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.leverage) or self.leverage < 1.0:
            raise ConfigError(f"CryptoMargin: `leverage` must be >= 1, was {self.leverage!r}")
        if self.maintenance is not None:
            _check_rate("CryptoMargin", "maintenance", self.maintenance, upper=1 / self.leverage)

    @property
    def allows_short(self) -> bool:
        """Return True."""
        return True

    @property
    def default_initial_rate(self) -> float:
        """Return ``1 / leverage``."""
        return 1.0 / self.leverage

    def margin_rates(self, asset: Asset) -> MarginRates:
        """Return ``1/leverage`` initial and the maintenance rate of notional."""
        initial = 1.0 / self.leverage
        maint = 0.5 * initial if self.maintenance is None else self.maintenance
        return _rates_for(asset, initial, maint, 1.0)


@dataclass(frozen=True, slots=True)
class BorrowCosts:
    """Stock-loan fees on short positions and the hard-to-borrow list.

    Formula (charged for every calendar day a short is held, at the previous close)::

        fee = |short market value| * annual_rate / day_count * days

    Args:
        default_rate: Annual fee rate for assets not in `rates` (0.0025 = 25 bp).
        rates: Annual fee rate per asset id.
        hard_to_borrow: Asset ids that cannot be shorted (new shorts are rejected).
        day_count: Days per year of the convention (360 = actual/360).

    Example:
        >>> costs = BorrowCosts(default_rate=0.0025, rates={"GME": 0.30})
        >>> costs.rate("GME"), costs.rate("AAPL")
        (0.3, 0.0025)
    """

    default_rate: float = 0.0
    rates: Mapping[str, float] = field(default_factory=dict)
    hard_to_borrow: frozenset[str] = frozenset()
    day_count: int = DEFAULT_DAY_COUNT

    def __post_init__(self) -> None:
        _check_rate("BorrowCosts", "default_rate", self.default_rate, upper=math.inf)
        for asset, rate in self.rates.items():
            _check_rate("BorrowCosts", f"rates[{asset!r}]", rate, upper=math.inf)
        if self.day_count <= 0:
            raise ConfigError(f"BorrowCosts: `day_count` must be > 0, was {self.day_count}")
        object.__setattr__(self, "hard_to_borrow", frozenset(self.hard_to_borrow))

    def rate(self, asset: str) -> float:
        """Return the annual borrow rate of `asset`."""
        return float(self.rates.get(asset, self.default_rate))


@dataclass(frozen=True, slots=True)
class InterestRates:
    """Interest paid on positive cash and charged on negative cash (margin loans).

    Formula (per currency balance, per calendar day elapsed)::

        interest = cash * credit / day_count * days     if cash > 0
        interest = cash * debit / day_count * days      if cash < 0  (a charge)

    Args:
        credit: Annual rate earned on positive balances.
        debit: Annual rate paid on negative balances.
        day_count: Days per year of the convention.

    Example:
        >>> InterestRates(credit=0.036).daily_amount(10_000.0)
        1.0
    """

    credit: float = 0.0
    debit: float = 0.0
    day_count: int = DEFAULT_DAY_COUNT

    def __post_init__(self) -> None:
        _check_rate("InterestRates", "credit", self.credit, upper=math.inf)
        _check_rate("InterestRates", "debit", self.debit, upper=math.inf)
        if self.day_count <= 0:
            raise ConfigError(f"InterestRates: `day_count` must be > 0, was {self.day_count}")

    def daily_amount(self, cash: float) -> float:
        """Return one day's interest on balance `cash` (negative = charged)."""
        rate = self.credit if cash > 0.0 else self.debit
        return cash * rate / self.day_count
