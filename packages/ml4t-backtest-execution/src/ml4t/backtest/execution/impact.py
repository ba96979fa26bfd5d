"""Market-impact models: how much trading moves the price, split into temporary and permanent.

Every model has one method::

    impact(price, quantity, *, volume, volatility, adv) -> MarketImpact

returning per-unit price moves (>= 0, price units) against the trader. The fill pays both
parts; the *permanent* part also stays in the market for the rest of the bar, so later
orders on the same asset in the same bar see a price moved by it (the broker keeps the
running shift and resets it at the next bar).

Inputs: `volume` is the current bar's volume, `adv` the average daily volume in units and
`volatility` the daily return volatility (0.02 = 2%); NaN or non-positive `adv` gives zero
impact (nothing to scale by).

Models add up: ``CompositeImpact((LinearImpact(0.1), KyleLambdaImpact(1e-6)))``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final, NamedTuple

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution._checks import check_non_negative

__all__ = [
    "MarketImpact",
    "ImpactModel",
    "NoImpact",
    "LinearImpact",
    "SquareRootImpact",
    "AlmgrenChrissImpact",
    "KyleLambdaImpact",
    "CompositeImpact",
    "ALMGREN_GAMMA",
    "ALMGREN_ETA",
    "ALMGREN_BETA",
]

ALMGREN_GAMMA: Final = 0.314  # permanent coefficient, Almgren et al. (2005), table 3
ALMGREN_ETA: Final = 0.142  # temporary coefficient, Almgren et al. (2005), table 3
ALMGREN_BETA: Final = 0.6  # temporary exponent (3/5), Almgren et al. (2005)


class MarketImpact(NamedTuple):
    """Per-unit price impact of one fill, in price units, both parts >= 0."""

    temporary: float
    permanent: float

    @property
    def total(self) -> float:
        """Return ``temporary + permanent``."""
        return self.temporary + self.permanent


_ZERO: Final = MarketImpact(0.0, 0.0)


def _participation(quantity: float, adv: float) -> float:
    # quantity / adv, or NaN when adv is unusable (not > 0, infinite, or so small that the
    # ratio overflows: such statistics say nothing about the market and are treated as missing)
    if not adv > 0.0 or math.isinf(adv):
        return math.nan
    share = abs(quantity) / adv
    return share if math.isfinite(share) else math.nan


def _split(total: float, permanent_fraction: float) -> MarketImpact:
    if not 0.0 < total < math.inf:  # also catches NaN (e.g. 0 * inf) and overflow
        return _ZERO
    permanent = total * permanent_fraction if permanent_fraction > 0.0 else 0.0
    temporary = total * (1.0 - permanent_fraction) if permanent_fraction < 1.0 else 0.0
    return MarketImpact(temporary, permanent)


def _check_permanent_fraction(owner: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{owner}: `permanent_fraction` must be in [0, 1], was {value!r}")


class ImpactModel(ABC):
    """Price move caused by one fill."""

    @abstractmethod
    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return the temporary and permanent per-unit impact (both >= 0).

        Args:
            price: Reference price per unit.
            quantity: Unsigned fill quantity.
            volume: The bar's volume.
            volatility: Daily return volatility (fraction).
            adv: Average daily volume, units.
        """


@dataclass(frozen=True, slots=True)
class NoImpact(ImpactModel):
    """No market impact.

    Example:
        >>> NoImpact().impact(100.0, 1e6).total
        0.0
    """

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return zero impact."""
        return _ZERO


@dataclass(frozen=True, slots=True)
class LinearImpact(ImpactModel):
    """Impact proportional to participation in daily volume.

    Formula::

        total     = coefficient * price * quantity / adv
        permanent = permanent_fraction * total;  temporary = total - permanent

    Example:
        >>> LinearImpact(0.5).impact(100.0, 10_000, adv=1_000_000)  # 0.5 * 100 * 1%
        MarketImpact(temporary=0.5, permanent=0.0)
    """

    coefficient: float = 0.1
    permanent_fraction: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("LinearImpact", "coefficient", self.coefficient)
        _check_permanent_fraction("LinearImpact", self.permanent_fraction)

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return ``coefficient * price * quantity / adv`` split by `permanent_fraction`."""
        return _split(
            self.coefficient * price * _participation(quantity, adv), self.permanent_fraction
        )


@dataclass(frozen=True, slots=True)
class SquareRootImpact(ImpactModel):
    """The square-root law of market impact (Torre 1997; Toth et al. 2011).

    Formula::

        total     = coefficient * volatility * sqrt(quantity / adv) * price
        permanent = permanent_fraction * total;  temporary = total - permanent

    Example:
        >>> # 1% of ADV, 2% daily vol: 1.0 * 0.02 * 0.1 * 50 = 0.1
        >>> round(SquareRootImpact(1.0).impact(50.0, 10_000, volatility=0.02, adv=1e6).total, 12)
        0.1
    """

    coefficient: float = 1.0  # dimensionless "Y", empirically of order 1
    permanent_fraction: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("SquareRootImpact", "coefficient", self.coefficient)
        _check_permanent_fraction("SquareRootImpact", self.permanent_fraction)

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return ``coefficient * volatility * sqrt(quantity / adv) * price``, split."""
        share = _participation(quantity, adv)
        if math.isnan(share) or not volatility > 0.0:
            return _ZERO
        return _split(
            self.coefficient * volatility * math.sqrt(share) * price, self.permanent_fraction
        )


@dataclass(frozen=True, slots=True)
class AlmgrenChrissImpact(ImpactModel):
    """Almgren-Chriss temporary and permanent impact with the 2005 empirical calibration.

    From Almgren, Thum, Hauptmann and Li (2005), "Direct Estimation of Equity Market
    Impact", Risk 18(7), with the turnover factor ``(shares outstanding / ADV) ** 0.25``
    set to 1 and the order executed over `horizon_days` (fraction of a trading day)::

        permanent = gamma * volatility * (quantity / adv) * price
        temporary = eta * volatility * (quantity / (adv * horizon_days)) ** beta * price

    Example:
        >>> ac = AlmgrenChrissImpact()
        >>> imp = ac.impact(100.0, 10_000, volatility=0.02, adv=1_000_000)
        >>> # permanent 0.314*0.02*0.01*100; temporary 0.142*0.02*0.01**0.6*100
        >>> round(imp.permanent, 6), round(imp.temporary, 6)
        (0.00628, 0.017919)
    """

    gamma: float = ALMGREN_GAMMA
    eta: float = ALMGREN_ETA
    beta: float = ALMGREN_BETA
    horizon_days: float = 1.0

    def __post_init__(self) -> None:
        check_non_negative("AlmgrenChrissImpact", "gamma", self.gamma)
        check_non_negative("AlmgrenChrissImpact", "eta", self.eta)
        if not (math.isfinite(self.beta) and self.beta > 0.0):
            raise ConfigError(f"AlmgrenChrissImpact: `beta` must be > 0, was {self.beta!r}")
        if not (math.isfinite(self.horizon_days) and self.horizon_days > 0.0):
            raise ConfigError(
                f"AlmgrenChrissImpact: `horizon_days` must be > 0, was {self.horizon_days!r}"
            )

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return the temporary (rate-driven) and permanent (size-driven) impact."""
        share = _participation(quantity, adv)
        if math.isnan(share) or not volatility > 0.0:
            return _ZERO
        permanent = self.gamma * volatility * share * price
        temporary = self.eta * volatility * (share / self.horizon_days) ** self.beta * price
        if not (math.isfinite(permanent) and math.isfinite(temporary)):
            return _ZERO  # overflowing statistics are treated like missing ones
        return MarketImpact(max(temporary, 0.0), max(permanent, 0.0))


@dataclass(frozen=True, slots=True)
class KyleLambdaImpact(ImpactModel):
    """Kyle's (1985) lambda: a permanent price move linear in signed order flow.

    Formula::

        permanent = kyle_lambda * quantity     # price units per unit traded
        temporary = 0

    Example:
        >>> KyleLambdaImpact(2.5e-6).impact(50.0, 40_000).permanent  # 2.5e-6 * 40,000
        0.1
    """

    kyle_lambda: float = 1e-6

    def __post_init__(self) -> None:
        check_non_negative("KyleLambdaImpact", "kyle_lambda", self.kyle_lambda)

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return ``kyle_lambda * quantity`` as permanent impact."""
        return MarketImpact(0.0, self.kyle_lambda * abs(quantity))


@dataclass(frozen=True, slots=True)
class CompositeImpact(ImpactModel):
    """The sum of several impact models, part by part.

    Example:
        >>> both = CompositeImpact((LinearImpact(0.5), KyleLambdaImpact(1e-6)))
        >>> both.impact(100.0, 10_000, adv=1_000_000)
        MarketImpact(temporary=0.5, permanent=0.01)
    """

    models: tuple[ImpactModel, ...] = ()

    def __post_init__(self) -> None:
        for model in self.models:
            if not isinstance(model, ImpactModel):
                raise ConfigError(
                    f"CompositeImpact: every item of `models` must be a ImpactModel, was {model!r}"
                )

    def impact(
        self,
        price: float,
        quantity: float,
        *,
        volume: float = math.nan,
        volatility: float = math.nan,
        adv: float = math.nan,
    ) -> MarketImpact:
        """Return the part-wise sum."""
        temporary = permanent = 0.0
        for model in self.models:
            part = model.impact(price, quantity, volume=volume, volatility=volatility, adv=adv)
            temporary += part.temporary
            permanent += part.permanent
        return MarketImpact(temporary, permanent)
