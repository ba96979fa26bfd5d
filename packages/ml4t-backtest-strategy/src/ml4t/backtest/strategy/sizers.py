"""Position sizers: how many units to trade, or which weights to rebalance to.

Each sizer turns account state and prices into a quantity, rounded toward zero to the
asset's quantity grid. `risk_parity_weights` turns a window of returns into weights for
``Strategy.rebalance``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.strategy import round_quantity

__all__ = [
    "FixedQuantitySizer",
    "FixedValueSizer",
    "KellySizer",
    "PercentEquitySizer",
    "PositionSizer",
    "VolatilityTargetSizer",
    "kelly_fraction",
    "risk_parity_weights",
]

TRADING_DAYS_PER_YEAR = 252  # periods per year for daily bars


def _check(name: str, value: float, *, low: float = 0.0, high: float = math.inf) -> None:
    if not math.isfinite(value) or not low < value <= high:
        raise ConfigError(f"invalid `{name}`: must be in ({low}, {high}], was {value!r}")


class PositionSizer(ABC):
    """Decide the unsigned quantity of a new position."""

    @abstractmethod
    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return the quantity (>= 0) to hold, rounded toward zero to `step`.

        Args:
            equity: Account equity in currency.
            price: Price per unit.
            multiplier: Contract multiplier.
            step: Quantity grid (0: no rounding).
            returns: Recent per-bar returns of the asset (used by volatility sizers).
        """


def _units(value: float, price: float, multiplier: float, step: float) -> float:
    if not math.isfinite(price) or price <= 0.0 or value <= 0.0:
        return 0.0
    return round_quantity(value / (price * multiplier), step)


@dataclass(frozen=True, slots=True)
class FixedQuantitySizer(PositionSizer):
    """Always the same number of units.

    Example:
        >>> FixedQuantitySizer(100).quantity(equity=1e5, price=50.0)
        100.0
    """

    units: float

    def __post_init__(self) -> None:
        _check("units", self.units)

    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return `units` on the grid."""
        return round_quantity(float(self.units), step)


@dataclass(frozen=True, slots=True)
class FixedValueSizer(PositionSizer):
    """Units worth `value` of currency: ``floor(value / (price * multiplier))``.

    Example:
        >>> FixedValueSizer(10_000).quantity(equity=1e5, price=30.0)
        333.0
    """

    value: float

    def __post_init__(self) -> None:
        _check("value", self.value)

    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return the units `value` buys."""
        return _units(self.value, price, multiplier, step)


@dataclass(frozen=True, slots=True)
class PercentEquitySizer(PositionSizer):
    """Units worth `percent` of equity: ``floor(percent * equity / (price * multiplier))``.

    Example:
        >>> PercentEquitySizer(0.1).quantity(equity=100_000.0, price=33.0)
        303.0
    """

    percent: float

    def __post_init__(self) -> None:
        _check("percent", self.percent, high=10.0)

    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return the units `percent` of equity buys."""
        return _units(self.percent * equity, price, multiplier, step)


@dataclass(frozen=True, slots=True)
class VolatilityTargetSizer(PositionSizer):
    """Size so the position's annualised volatility is `target` of equity.

    Formula::

        sigma  = std(returns, ddof=1) * sqrt(periods_per_year)
        weight = min(target / sigma, max_weight)
        units  = floor(weight * equity / (price * multiplier))

    Example:
        >>> r = np.array([0.01, -0.01] * 10)
        >>> sizer = VolatilityTargetSizer(target=0.10, periods_per_year=252)
        >>> sizer.quantity(equity=100_000.0, price=100.0, returns=r)
        613.0
    """

    target: float
    periods_per_year: int = TRADING_DAYS_PER_YEAR
    max_weight: float = 1.0

    def __post_init__(self) -> None:
        _check("target", self.target, high=10.0)
        _check("max_weight", self.max_weight, high=100.0)

    def weight(self, returns: npt.NDArray[np.float64]) -> float:
        """Return the equity weight the target volatility allows (0 when undefined)."""
        r = returns[np.isfinite(returns)]
        if r.shape[0] < 2:
            return 0.0
        sigma = float(np.std(r, ddof=1)) * math.sqrt(self.periods_per_year)
        if sigma <= 0.0:
            return self.max_weight
        return min(self.target / sigma, self.max_weight)

    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return the units that hit the volatility target; 0 without enough returns."""
        if returns is None:
            raise ConfigError("VolatilityTargetSizer needs `returns` (e.g. from history())")
        return _units(self.weight(returns) * equity, price, multiplier, step)


def kelly_fraction(win_rate: float, win_loss_ratio: float) -> float:
    """Return the Kelly fraction ``p - (1 - p) / b`` (may be negative: do not bet).

    Example:
        >>> kelly_fraction(0.6, 1.0)
        0.2
    """
    if not 0.0 <= win_rate <= 1.0:
        raise ConfigError(f"invalid `win_rate`: must be in [0, 1], was {win_rate!r}")
    _check("win_loss_ratio", win_loss_ratio)
    return round(win_rate - (1.0 - win_rate) / win_loss_ratio, 12)


@dataclass(frozen=True, slots=True)
class KellySizer(PositionSizer):
    """Bet `fraction` of the Kelly fraction of equity (half Kelly = 0.5), never below 0.

    Example:
        >>> KellySizer(win_rate=0.6, win_loss_ratio=1.0, fraction=0.5).quantity(
        ...     equity=100_000.0, price=100.0)
        100.0
    """

    win_rate: float
    win_loss_ratio: float
    fraction: float = 0.5
    max_weight: float = 1.0

    def __post_init__(self) -> None:
        kelly_fraction(self.win_rate, self.win_loss_ratio)
        _check("fraction", self.fraction, high=1.0)
        _check("max_weight", self.max_weight, high=100.0)

    @property
    def weight(self) -> float:
        """Return the equity weight bet: ``min(fraction * kelly, max_weight)``, >= 0."""
        k = kelly_fraction(self.win_rate, self.win_loss_ratio)
        return max(0.0, min(self.fraction * k, self.max_weight))

    def quantity(
        self,
        *,
        equity: float,
        price: float,
        multiplier: float = 1.0,
        step: float = 1.0,
        returns: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Return the units the Kelly weight buys."""
        return _units(self.weight * equity, price, multiplier, step)


def risk_parity_weights(
    returns: npt.NDArray[np.float64], *, gross: float = 1.0
) -> npt.NDArray[np.float64]:
    """Return inverse-volatility weights that sum to `gross` (columns = assets).

    Assets with fewer than two finite returns or zero volatility get weight 0.

    Args:
        returns: (bars, assets) per-bar returns, NaN allowed.
        gross: Sum of the weights.

    Example:
        >>> r = np.array([[0.01, 0.02], [-0.01, -0.02], [0.01, 0.02]])
        >>> risk_parity_weights(r).round(4).tolist()
        [0.6667, 0.3333]
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"`returns` must be 2-D (bars x assets), had shape {r.shape}")
    finite = np.isfinite(r)
    count = finite.sum(axis=0)
    filled = np.where(finite, r, 0.0)
    safe = np.maximum(count, 1)
    mean = filled.sum(axis=0) / safe
    var = np.where(finite, (r - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count - 1, 1)
    vol = np.sqrt(var)
    inv = np.where((count >= 2) & (vol > 0.0), 1.0 / np.where(vol > 0.0, vol, 1.0), 0.0)
    total = inv.sum()
    if total <= 0.0:
        return np.zeros(r.shape[1])
    out: npt.NDArray[np.float64] = gross * inv / total
    return out
