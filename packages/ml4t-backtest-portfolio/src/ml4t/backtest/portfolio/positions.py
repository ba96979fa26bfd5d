"""The read-only `Position` view users get from a `Portfolio`.

The portfolio keeps positions in numpy arrays indexed like its assets; a `Position` is built
only when asked for (`Portfolio.get_position`, `Portfolio.positions`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ml4t.backtest.core.types import AssetId

__all__ = ["Position"]


@dataclass(frozen=True, slots=True)
class Position:
    """A snapshot of one holding; amounts are in the asset's own currency.

    Attributes:
        asset: Asset id.
        quantity: Signed units held (negative = short); fractional allowed.
        avg_cost: Average entry price per unit of the open quantity (0.0 when flat).
        last_price: Last marked price (NaN before any price is known).
        multiplier: Currency value of one unit of price move per unit held.
        currency: ISO code the asset is quoted in.
        realized_pnl: P&L realized on this asset so far, before commissions.
        is_future: True when the position is carried without notional cash exchange.

    Example:
        >>> p = Position("ES", 2.0, 5000.0, 5010.0, 50.0, "USD", 0.0, True)
        >>> p.notional, p.unrealized_pnl, p.market_value
        (501000.0, 1000.0, 1000.0)
    """

    asset: AssetId
    quantity: float
    avg_cost: float
    last_price: float
    multiplier: float
    currency: str
    realized_pnl: float
    is_future: bool = False

    @property
    def notional(self) -> float:
        """Return ``quantity * last_price * multiplier`` (signed exposure)."""
        return self.quantity * self.last_price * self.multiplier

    @property
    def unrealized_pnl(self) -> float:
        """Return ``quantity * (last_price - avg_cost) * multiplier``."""
        return self.quantity * (self.last_price - self.avg_cost) * self.multiplier

    @property
    def market_value(self) -> float:
        """Return the position's value in the ledger.

        The notional for cash-settled holdings (stocks, crypto, FX); the open P&L for futures,
        which carry no notional cash exchange (see docs/architecture/0005-futures-accounting.md).
        """
        return self.unrealized_pnl if self.is_future else self.notional

    @property
    def is_long(self) -> bool:
        """Return True when quantity > 0."""
        return self.quantity > 0.0

    @property
    def is_short(self) -> bool:
        """Return True when quantity < 0."""
        return self.quantity < 0.0
