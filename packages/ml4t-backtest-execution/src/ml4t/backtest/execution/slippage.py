"""Slippage models: how far from the reference price a fill lands, per unit.

Every model has one method, ``slippage(price, quantity, *, volume)``, returning the
adverse price move per unit (>= 0, in price units). The broker applies it against the
trader: a BUY pays ``price + s``, a SELL receives ``price - s``. The currency amount on a
`FillEvent` is ``s * quantity * multiplier``.

Models add up: ``CompositeSlippage((FixedSlippage(0.01), PercentageSlippage(0.0005)))``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution._checks import check_fraction, check_non_negative

__all__ = [
    "SlippageModel",
    "NoSlippage",
    "FixedSlippage",
    "PercentageSlippage",
    "VolumeShareSlippage",
    "SpreadSlippage",
    "CompositeSlippage",
    "DEFAULT_PRICE_IMPACT",
    "DEFAULT_VOLUME_LIMIT",
]

DEFAULT_PRICE_IMPACT: Final = 0.1  # zipline's VolumeShareSlippage default (dimensionless)
DEFAULT_VOLUME_LIMIT: Final = 0.025  # fraction of bar volume, zipline's default


class SlippageModel(ABC):
    """Adverse price move per unit for one fill."""

    @abstractmethod
    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return the per-unit slippage (>= 0) for `quantity` units at reference `price`.

        Args:
            price: Reference price per unit, > 0.
            quantity: Unsigned fill quantity.
            volume: Volume of the bar the fill happens in (NaN when unknown).
        """

    def slippage_many(
        self,
        price: npt.NDArray[np.float64],
        quantity: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64] | None:
        """Return `slippage` for many fills at once, or None when the model has no array form.

        The broker's batch fill uses it; every element must equal the scalar `slippage` of
        the same arguments bit for bit. The default (None) makes the broker fill one by one.
        """
        return None


@dataclass(frozen=True, slots=True)
class NoSlippage(SlippageModel):
    """No slippage: ``s = 0``.

    Example:
        >>> NoSlippage().slippage(100.0, 10)
        0.0
    """

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return 0."""
        return 0.0

    def slippage_many(
        self,
        price: npt.NDArray[np.float64],
        quantity: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `slippage` for each fill (the same numbers)."""
        return np.zeros(price.shape[0])


@dataclass(frozen=True, slots=True)
class FixedSlippage(SlippageModel):
    """A fixed amount per unit (e.g. one cent per share).

    Formula::

        s = per_unit

    Example:
        >>> FixedSlippage(0.02).slippage(50.0, 100)
        0.02
    """

    per_unit: float = 0.01  # price units per unit traded

    def __post_init__(self) -> None:
        check_non_negative("FixedSlippage", "per_unit", self.per_unit)

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return `per_unit`."""
        return self.per_unit

    def slippage_many(
        self,
        price: npt.NDArray[np.float64],
        quantity: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `slippage` for each fill (the same numbers)."""
        return np.full(price.shape[0], self.per_unit)


@dataclass(frozen=True, slots=True)
class PercentageSlippage(SlippageModel):
    """A fraction of the price (``rate=0.0005`` is 5 basis points).

    Formula::

        s = price * rate

    Example:
        >>> PercentageSlippage(0.001).slippage(200.0, 10)
        0.2
    """

    rate: float = 0.0005  # fraction of price

    def __post_init__(self) -> None:
        check_non_negative("PercentageSlippage", "rate", self.rate)

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return ``price * rate``."""
        return price * self.rate

    def slippage_many(
        self,
        price: npt.NDArray[np.float64],
        quantity: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `slippage` for each fill (the same numbers)."""
        return price * self.rate


@dataclass(frozen=True, slots=True)
class VolumeShareSlippage(SlippageModel):
    """Zipline's quadratic volume-share model.

    Formula::

        share = min(quantity / volume, volume_limit)      # volume_limit if volume unknown
        s     = price * price_impact * share ** 2

    Example:
        >>> # 500 of 10,000 shares = 5% > 2.5% limit -> 100 * 0.1 * 0.025**2
        >>> round(VolumeShareSlippage().slippage(100.0, 500, volume=10_000), 8)
        0.00625
        >>> round(VolumeShareSlippage().slippage(100.0, 100, volume=10_000), 8)
        0.001
    """

    price_impact: float = DEFAULT_PRICE_IMPACT
    volume_limit: float = DEFAULT_VOLUME_LIMIT

    def __post_init__(self) -> None:
        check_non_negative("VolumeShareSlippage", "price_impact", self.price_impact)
        check_fraction("VolumeShareSlippage", "volume_limit", self.volume_limit)

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return ``price * price_impact * min(quantity / volume, volume_limit) ** 2``."""
        if not volume > 0.0:
            share = self.volume_limit
        else:
            share = min(abs(quantity) / volume, self.volume_limit)
        return price * self.price_impact * share * share


@dataclass(frozen=True, slots=True)
class SpreadSlippage(SlippageModel):
    """Pay half of a modelled bid-ask spread (use when the data has no bid/ask columns).

    Formula::

        s = spread / 2 + price * spread_bps * 1e-4 / 2

    Example:
        >>> SpreadSlippage(spread_bps=10.0).slippage(100.0, 1)  # 10 bp spread -> 5 bp
        0.05
        >>> SpreadSlippage(spread=0.02).slippage(100.0, 1)
        0.01
    """

    spread: float = 0.0  # absolute spread, price units
    spread_bps: float = 0.0  # relative spread, basis points of price

    def __post_init__(self) -> None:
        check_non_negative("SpreadSlippage", "spread", self.spread)
        check_non_negative("SpreadSlippage", "spread_bps", self.spread_bps)

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return half the absolute plus half the relative spread."""
        return 0.5 * self.spread + 0.5 * price * self.spread_bps * 1e-4

    def slippage_many(
        self,
        price: npt.NDArray[np.float64],
        quantity: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `slippage` for each fill (the same numbers)."""
        return 0.5 * self.spread + 0.5 * price * self.spread_bps * 1e-4


@dataclass(frozen=True, slots=True)
class CompositeSlippage(SlippageModel):
    """The sum of several slippage models.

    Formula::

        s = sum(model.slippage(price, quantity, volume=volume) for model in models)

    Example:
        >>> both = CompositeSlippage((FixedSlippage(0.01), PercentageSlippage(0.001)))
        >>> round(both.slippage(100.0, 1), 10)
        0.11
    """

    models: tuple[SlippageModel, ...] = ()

    def __post_init__(self) -> None:
        for model in self.models:
            if not isinstance(model, SlippageModel):
                raise ConfigError(
                    "CompositeSlippage: every item of `models` must be a SlippageModel, "
                    f"was {model!r}"
                )

    def slippage(self, price: float, quantity: float, *, volume: float = math.nan) -> float:
        """Return the sum of the parts."""
        return sum(m.slippage(price, quantity, volume=volume) for m in self.models)
