"""Commission models: what the broker charges for one fill, in account currency.

Every model has one method::

    commission(quantity, price, *, multiplier=1.0, monthly_volume=0.0, maker=False) -> float

`quantity` is unsigned; ``value = quantity * price * multiplier`` is the trade value.
`monthly_volume` is the number of units already traded this calendar month before this
fill (for tiered schedules; the broker keeps it). `maker` is True when the fill added
liquidity (a resting limit order filled at its own price). The result is never negative.

Models add up: ``CompositeCommission((PerShareCommission(0.0035), PerTradeCommission(1.0)))``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution._checks import check_non_negative

__all__ = [
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
    "DEFAULT_PER_SHARE",
]

DEFAULT_PER_SHARE: Final = 0.005  # USD per share (Interactive Brokers "Fixed" US equity rate)

IB_US_EQUITY_TIERS: Final[tuple[tuple[float, float], ...]] = (
    (300_000.0, 0.0035),
    (3_000_000.0, 0.0020),
    (20_000_000.0, 0.0015),
    (100_000_000.0, 0.0010),
    (math.inf, 0.0005),
)
"""Interactive Brokers US stock "Tiered" schedule: (monthly shares up to, USD per share).

Source: Interactive Brokers, "Commissions - Stocks, ETFs and Warrants - North America,
Tiered" (https://www.interactivebrokers.com/en/pricing/commissions-stocks.php): <= 300,000
shares a month USD 0.0035; 300,001 - 3,000,000 USD 0.0020; 3,000,001 - 20,000,000
USD 0.0015; 20,000,001 - 100,000,000 USD 0.0010; > 100,000,000 USD 0.0005; minimum per order
USD 0.35; maximum per order 1.0% of trade value. Exchange, clearing and regulatory fees,
which IB passes through on top, are not included.
"""


class CommissionModel(ABC):
    """Cost the broker charges for one fill."""

    @abstractmethod
    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return the commission in account currency, >= 0.

        Args:
            quantity: Unsigned fill quantity.
            price: Fill price per unit.
            multiplier: Contract multiplier of the asset.
            monthly_volume: Units traded earlier this calendar month (tiered schedules).
            maker: True when the fill added liquidity.
        """

    def commission_many(
        self,
        quantity: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        multiplier: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64] | None:
        """Return `commission` for many fills at once, or None when there is no array form.

        Only for models that do not depend on `monthly_volume` or `maker` (the broker's
        batch fill uses it for taker fills); every element must equal the scalar
        `commission` of the same arguments bit for bit. The default (None) makes the broker
        fill one by one.
        """
        return None


@dataclass(frozen=True, slots=True)
class NoCommission(CommissionModel):
    """Free trading: ``commission = 0``.

    Example:
        >>> NoCommission().commission(100, 10.0)
        0.0
    """

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return 0."""
        return 0.0

    def commission_many(
        self,
        quantity: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        multiplier: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `commission` for each fill (the same numbers)."""
        return np.zeros(quantity.shape[0])


@dataclass(frozen=True, slots=True)
class PerShareCommission(CommissionModel):
    """Charge per unit, with a minimum and maxima per order.

    Formula::

        c = max(quantity * per_share, minimum)
        c = min(c, maximum, max_fraction * quantity * price * multiplier)

    Example:
        >>> ib_fixed = PerShareCommission(0.005, minimum=1.0, max_fraction=0.01)
        >>> ib_fixed.commission(100, 50.0)   # 0.50 -> minimum 1.00
        1.0
        >>> ib_fixed.commission(1000, 50.0)
        5.0
        >>> ib_fixed.commission(1000, 0.30)  # capped at 1% of 300
        3.0
    """

    per_share: float = DEFAULT_PER_SHARE  # currency per unit
    minimum: float = 0.0  # currency per order
    maximum: float = math.inf  # currency per order
    max_fraction: float = math.inf  # of trade value

    def __post_init__(self) -> None:
        check_non_negative("PerShareCommission", "per_share", self.per_share)
        check_non_negative("PerShareCommission", "minimum", self.minimum)
        check_non_negative("PerShareCommission", "maximum", self.maximum, allow_inf=True)
        check_non_negative("PerShareCommission", "max_fraction", self.max_fraction, allow_inf=True)

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return the per-share charge clamped to [minimum, maximum caps]."""
        value = abs(quantity) * price * multiplier
        fee = max(abs(quantity) * self.per_share, self.minimum)
        return max(min(fee, self.maximum, self.max_fraction * value), 0.0)

    def commission_many(
        self,
        quantity: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        multiplier: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `commission` for each fill (the same numbers)."""
        value = np.abs(quantity) * price * multiplier
        fee = np.maximum(np.abs(quantity) * self.per_share, self.minimum)
        with np.errstate(invalid="ignore"):  # inf * 0 value: a NaN cap
            cap = self.max_fraction * value
        # fmin: a NaN cap loses, as in Python's min(fee, ...)
        return np.maximum(np.fmin(np.fmin(fee, self.maximum), cap), 0.0)


@dataclass(frozen=True, slots=True)
class PercentageCommission(CommissionModel):
    """A fraction of trade value with a minimum (``rate=0.001`` is 10 bp).

    Formula::

        c = max(rate * quantity * price * multiplier, minimum)

    Example:
        >>> PercentageCommission(0.001, minimum=1.0).commission(100, 50.0)
        5.0
    """

    rate: float = 0.001
    minimum: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("PercentageCommission", "rate", self.rate)
        check_non_negative("PercentageCommission", "minimum", self.minimum)

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return ``max(rate * value, minimum)``."""
        return max(self.rate * abs(quantity) * price * multiplier, self.minimum)

    def commission_many(
        self,
        quantity: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        multiplier: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `commission` for each fill (the same numbers)."""
        return np.maximum(self.rate * np.abs(quantity) * price * multiplier, self.minimum)


@dataclass(frozen=True, slots=True)
class PerTradeCommission(CommissionModel):
    """A flat fee per fill.

    Formula::

        c = amount

    Example:
        >>> PerTradeCommission(4.95).commission(1, 100.0)
        4.95
    """

    amount: float = 1.0

    def __post_init__(self) -> None:
        check_non_negative("PerTradeCommission", "amount", self.amount)

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return `amount`."""
        return self.amount

    def commission_many(
        self,
        quantity: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        multiplier: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `commission` for each fill (the same numbers)."""
        return np.full(quantity.shape[0], self.amount)


@dataclass(frozen=True, slots=True)
class TieredCommission(CommissionModel):
    """Per-unit rate chosen by the units already traded this month, with min and max.

    The whole fill is charged at the rate of the tier that `monthly_volume` (the month's
    volume *before* this fill) falls in, as Interactive Brokers does.

    Formula::

        rate = tiers[i].rate   for the first i with monthly_volume < tiers[i].up_to
        c    = min(max(quantity * rate, minimum), max_fraction * quantity * price * multiplier)

    Args:
        tiers: ``(up_to, rate)`` pairs with strictly increasing `up_to`; the last one
            should be ``math.inf``.
        minimum: Minimum per order.
        max_fraction: Cap as a fraction of trade value.

    Example:
        >>> ib = TieredCommission.interactive_brokers_us_equity()
        >>> ib.commission(1000, 50.0)                          # 1000 * 0.0035
        3.5
        >>> ib.commission(1000, 50.0, monthly_volume=500_000)  # second tier: 0.0020
        2.0
        >>> ib.commission(10, 50.0)                            # 0.035 -> minimum
        0.35
        >>> ib.commission(1000, 0.10)                          # 1% of 100 caps 3.50
        1.0
    """

    tiers: tuple[tuple[float, float], ...] = IB_US_EQUITY_TIERS
    minimum: float = 0.35
    max_fraction: float = 0.01

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ConfigError("TieredCommission: `tiers` must hold at least one (up_to, rate)")
        previous = 0.0
        for up_to, rate in self.tiers:
            if not up_to > previous:
                raise ConfigError(
                    f"TieredCommission: tier bounds must increase, was {up_to!r} after {previous!r}"
                )
            check_non_negative("TieredCommission", "rate", rate)
            previous = up_to
        check_non_negative("TieredCommission", "minimum", self.minimum)
        check_non_negative("TieredCommission", "max_fraction", self.max_fraction, allow_inf=True)

    @classmethod
    def interactive_brokers_us_equity(cls) -> TieredCommission:
        """Return the published IB US equity tiered schedule (`IB_US_EQUITY_TIERS`)."""
        return cls(IB_US_EQUITY_TIERS, minimum=0.35, max_fraction=0.01)

    def rate_for(self, monthly_volume: float) -> float:
        """Return the per-unit rate for a month that has traded `monthly_volume` units.

        Example:
            >>> TieredCommission().rate_for(299_999), TieredCommission().rate_for(300_000)
            (0.0035, 0.002)
        """
        for up_to, rate in self.tiers:
            if monthly_volume < up_to:
                return rate
        return self.tiers[-1][1]

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return the tiered per-unit charge clamped to [minimum, max_fraction * value]."""
        value = abs(quantity) * price * multiplier
        fee = max(abs(quantity) * self.rate_for(monthly_volume), self.minimum)
        return max(min(fee, self.max_fraction * value), 0.0)


@dataclass(frozen=True, slots=True)
class FuturesCommission(CommissionModel):
    """A fee per contract (broker plus exchange and clearing fees).

    Formula::

        c = quantity * (per_contract + exchange_fee)

    Example:
        >>> FuturesCommission(0.85, exchange_fee=1.38).commission(4, 5000.0, multiplier=50.0)
        8.92
    """

    per_contract: float = 0.85  # USD, IB US futures broker fee
    exchange_fee: float = 0.0  # USD per contract

    def __post_init__(self) -> None:
        check_non_negative("FuturesCommission", "per_contract", self.per_contract)
        check_non_negative("FuturesCommission", "exchange_fee", self.exchange_fee)

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return ``quantity * (per_contract + exchange_fee)``."""
        return round(abs(quantity) * (self.per_contract + self.exchange_fee), 10)


@dataclass(frozen=True, slots=True)
class CryptoCommission(CommissionModel):
    """Maker/taker fee in basis points of trade value (exchange style).

    Formula::

        c = quantity * price * multiplier * (maker_bps if maker else taker_bps) * 1e-4

    Example:
        >>> fees = CryptoCommission(maker_bps=2.0, taker_bps=5.0)
        >>> fees.commission(0.5, 40_000.0), fees.commission(0.5, 40_000.0, maker=True)
        (10.0, 4.0)
    """

    maker_bps: float = 10.0
    taker_bps: float = 10.0

    def __post_init__(self) -> None:
        check_non_negative("CryptoCommission", "maker_bps", self.maker_bps)
        check_non_negative("CryptoCommission", "taker_bps", self.taker_bps)

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return the maker or taker fee on the trade value."""
        bps = self.maker_bps if maker else self.taker_bps
        return abs(quantity) * price * multiplier * bps * 1e-4


@dataclass(frozen=True, slots=True)
class CompositeCommission(CommissionModel):
    """The sum of several commission models (e.g. broker fee + regulatory fee).

    Formula::

        c = sum(model.commission(...) for model in models)

    Example:
        >>> fee = CompositeCommission((PerShareCommission(0.005), PerTradeCommission(1.0)))
        >>> fee.commission(100, 20.0)
        1.5
    """

    models: tuple[CommissionModel, ...] = ()

    def __post_init__(self) -> None:
        for model in self.models:
            if not isinstance(model, CommissionModel):
                raise ConfigError(
                    "CompositeCommission: every item of `models` must be a CommissionModel, "
                    f"was {model!r}"
                )

    def commission(
        self,
        quantity: float,
        price: float,
        *,
        multiplier: float = 1.0,
        monthly_volume: float = 0.0,
        maker: bool = False,
    ) -> float:
        """Return the sum of the parts."""
        return sum(
            m.commission(
                quantity,
                price,
                multiplier=multiplier,
                monthly_volume=monthly_volume,
                maker=maker,
            )
            for m in self.models
        )
