"""What the broker asks of an account (`AccountView`) and a simple account (`SimpleAccount`).

The broker never changes positions or cash; the portfolio package does, from `FillEvent`s.
The broker only *reads* an account to decide whether an order is an exit or an entry,
whether a short sale is allowed and whether there is buying power.

`SimpleAccount` is a complete small account for tests and stand-alone use: you apply the
fills the broker returns yourself, e.g.::

    fills = broker.process_bar(t, ts, o, h, l, c, v)
    account.apply_fills(fills)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ml4t.backtest.core.assets import AssetRegistry
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.core.types import AssetId

__all__ = ["AccountView", "SimpleAccount"]


@runtime_checkable
class AccountView(Protocol):
    """The read-only account surface the broker relies on (see the layer contract)."""

    @property
    def cash(self) -> float:
        """Cash in account currency (may be negative on margin)."""
        ...

    @property
    def equity(self) -> float:
        """Cash plus the marked value of all positions."""
        ...

    def position(self, asset: AssetId) -> float:
        """Return the signed quantity held in `asset` (0 when flat)."""
        ...

    def buying_power(self) -> float:
        """Return the exposure that may still be added, in account currency (>= 0)."""
        ...

    def can_short(self, asset: AssetId) -> bool:
        """Return True when the account may open or add to a short in `asset`."""
        ...

    def check_order(
        self, asset: AssetId, side: OrderSide, quantity: float, price: float
    ) -> str | None:
        """Return why the account would refuse the order, or None when it is acceptable."""
        ...


class SimpleAccount:
    """A cash or margin account that applies fills itself; implements `AccountView`.

    Buying power::

        buying_power = max(equity * leverage - gross_exposure, 0)

    where ``gross_exposure = sum(|position| * mark * multiplier)``. With ``leverage=1`` and
    no shorts this is the cash left. Marks are the last fill price per asset unless updated
    with `mark`.

    Args:
        cash: Starting cash, finite.
        leverage: Gross exposure allowed per unit of equity, >= 1 (1 = cash account).
        allow_short: Whether short sales are allowed at all.
        registry: Gives contract multipliers and `Asset.shortable`; default equities.

    Example:
        >>> acct = SimpleAccount(10_000.0)
        >>> acct.apply_fill(FillEvent(0, 1, "AAPL", OrderSide.BUY, 10.0, 100.0, commission=1.0))
        >>> acct.cash, acct.position("AAPL"), acct.buying_power()
        (8999.0, 10.0, 8999.0)
        >>> acct.check_order("AAPL", OrderSide.BUY, 100.0, 100.0)
        "insufficient buying power for 'AAPL': needs 10000.00, has 8999.00"
    """

    __slots__ = ("_allow_short", "_cash", "_leverage", "_marks", "_positions", "_registry")

    def __init__(
        self,
        cash: float,
        *,
        leverage: float = 1.0,
        allow_short: bool = True,
        registry: AssetRegistry | None = None,
    ) -> None:
        if math.isnan(cash):
            raise ConfigError(f"`cash` must be a number, was {cash!r}")
        if not (math.isfinite(leverage) and leverage >= 1.0):
            raise ConfigError(f"`leverage` must be finite and >= 1, was {leverage!r}")
        self._cash = float(cash)
        self._leverage = float(leverage)
        self._allow_short = allow_short
        self._registry = registry if registry is not None else AssetRegistry()
        self._positions: dict[AssetId, float] = {}
        self._marks: dict[AssetId, float] = {}

    @property
    def cash(self) -> float:
        """Cash in account currency."""
        return self._cash

    @property
    def positions(self) -> dict[AssetId, float]:
        """Return a copy of the non-zero positions."""
        return dict(self._positions)

    def _multiplier(self, asset: AssetId) -> float:
        return self._registry[asset].multiplier

    @property
    def gross_exposure(self) -> float:
        """Sum of ``|position| * mark * multiplier`` over assets."""
        return sum(
            abs(q) * self._marks.get(a, 0.0) * self._multiplier(a)
            for a, q in self._positions.items()
        )

    @property
    def equity(self) -> float:
        """Cash plus ``position * mark * multiplier`` summed over assets."""
        return self._cash + sum(
            q * self._marks.get(a, 0.0) * self._multiplier(a) for a, q in self._positions.items()
        )

    def position(self, asset: AssetId) -> float:
        """Return the signed quantity held in `asset`."""
        return self._positions.get(asset, 0.0)

    def buying_power(self) -> float:
        """Return ``max(equity * leverage - gross_exposure, 0)``."""
        if math.isinf(self._cash):
            return self._cash if self._cash > 0 else 0.0
        return max(self.equity * self._leverage - self.gross_exposure, 0.0)

    def can_short(self, asset: AssetId) -> bool:
        """Return True when shorts are allowed here and the asset is shortable."""
        return self._allow_short and self._registry[asset].shortable

    def check_order(
        self, asset: AssetId, side: OrderSide, quantity: float, price: float
    ) -> str | None:
        """Return a rejection reason, or None.

        The part of the order that reduces the current position needs nothing; the part
        that opens or adds needs ``quantity * price * multiplier`` of buying power and,
        when it is a short, permission to short.
        """
        held = self.position(asset)
        closing = min(quantity, abs(held)) if held * int(side) < 0 else 0.0
        opening = quantity - closing
        if opening <= 0.0:
            return None
        if side is OrderSide.SELL and not self.can_short(asset):
            return f"short sale not permitted for {asset!r} (position {held:g}, sell {quantity:g})"
        if math.isnan(price):
            return None
        need = opening * price * self._multiplier(asset)
        have = self.buying_power()
        if need > have * (1.0 + 1e-12):
            return f"insufficient buying power for {asset!r}: needs {need:.2f}, has {have:.2f}"
        return None

    def apply_fill(self, fill: FillEvent) -> None:
        """Update cash and the position from one fill (cash -= signed notional + costs).

        Slippage and impact are already in ``fill.price``; only the commission is taken
        separately.
        """
        signed = fill.quantity * int(fill.side)
        self._cash -= signed * fill.price * fill.multiplier + fill.commission
        new = self._positions.get(fill.asset, 0.0) + signed
        if abs(new) < 1e-12:
            self._positions.pop(fill.asset, None)
        else:
            self._positions[fill.asset] = new
        self._marks[fill.asset] = fill.price

    def apply_fills(self, fills: Iterable[FillEvent]) -> None:
        """Apply each fill in order."""
        for fill in fills:
            self.apply_fill(fill)

    def mark(self, prices: dict[AssetId, float]) -> None:
        """Set the mark price of each asset in `prices` (NaN entries are skipped)."""
        for asset, price in prices.items():
            if not math.isnan(price):
                self._marks[asset] = float(price)

    def __repr__(self) -> str:
        return (
            f"SimpleAccount(cash={self._cash:.2f}, leverage={self._leverage}, "
            f"positions={self._positions!r})"
        )
