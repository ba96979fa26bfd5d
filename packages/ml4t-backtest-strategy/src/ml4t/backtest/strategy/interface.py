"""The broker-facing surface the `Strategy` helpers talk to.

`TradingInterface` is all a strategy's helpers (``buy``, ``rebalance``, ``portfolio``, ...)
need from whatever executes its orders. The backtest engine implements it over the simulated
broker and portfolio; a live runner can implement it over a real broker, and the strategy code
stays the same. `PortfolioView` is the read-only account summary behind ``self.portfolio``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderType, TimeInForce
from ml4t.backtest.core.types import AssetId, Timestamp

__all__ = ["PortfolioView", "TradingInterface"]


@runtime_checkable
class PortfolioView(Protocol):
    """Read-only account summary in account currency."""

    @property
    def cash(self) -> float:
        """Cash balance (may be negative on margin)."""
        ...

    @property
    def equity(self) -> float:
        """Cash plus the marked value of every position."""
        ...

    @property
    def market_value(self) -> float:
        """Signed marked value of all positions."""
        ...

    @property
    def positions(self) -> dict[AssetId, float]:
        """Signed quantity of every non-zero position."""
        ...

    @property
    def buying_power(self) -> float:
        """Currency available for new purchases under the account rules."""
        ...


@runtime_checkable
class TradingInterface(Protocol):
    """What `Strategy` helpers need from an execution venue (simulated or live)."""

    @property
    def timestamp(self) -> Timestamp:
        """Current instant (ns UTC)."""
        ...

    @property
    def assets(self) -> tuple[AssetId, ...]:
        """Tradable assets in column order."""
        ...

    @property
    def portfolio(self) -> PortfolioView:
        """The account summary."""
        ...

    def submit(
        self,
        asset: AssetId,
        quantity: float,
        *,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Any:
        """Submit an order for a signed `quantity` (> 0 buy, < 0 sell); return the order."""
        ...

    def submit_sized_at_fill(self, asset: AssetId, fraction: float, *, tag: str = "") -> Any:
        """Submit a market order sized at its fill by a signed `fraction` of buying power.

        The quantity is set when the order fills: the most lots that ``|fraction|`` of the
        buying power then available pays for, costs included (> 0 buys, < 0 sells).
        """
        ...

    def cancel(self, order_id: int) -> None:
        """Cancel a working order."""
        ...

    def open_orders(self, asset: AssetId | None = None) -> list[Any]:
        """Working orders, optionally of one asset."""
        ...

    def position(self, asset: AssetId) -> float:
        """Signed quantity held of `asset` (0.0 when flat)."""
        ...

    def pending_quantity(self, asset: AssetId) -> float:
        """Signed quantity of working market orders of `asset` not yet filled."""
        ...

    def price(self, asset: AssetId) -> float:
        """Latest known price of `asset` (NaN before its first bar)."""
        ...

    def prices(self) -> npt.NDArray[np.float64]:
        """Latest known price of every asset, aligned to `assets`."""
        ...

    def multiplier(self, asset: AssetId) -> float:
        """Contract multiplier of `asset`."""
        ...

    def quantities(self) -> npt.NDArray[np.float64]:
        """Signed quantity held of every asset, aligned to `assets` (read-only)."""
        ...

    def pending_quantities(self) -> npt.NDArray[np.float64]:
        """Signed unfilled quantity of working market orders per asset (read-only)."""
        ...

    def multipliers(self) -> npt.NDArray[np.float64]:
        """Contract multiplier of every asset (read-only)."""
        ...

    def quantity_steps(self) -> npt.NDArray[np.float64]:
        """Quantity grid step of every asset (0.0: no rounding; read-only)."""
        ...

    def quantity_step(self, asset: AssetId) -> float:
        """Grid step quantities of `asset` are rounded to (0.0: no rounding)."""
        ...

    def bracket(
        self,
        asset: AssetId,
        quantity: float,
        *,
        stop_loss: float | None,
        take_profit: float | None,
        limit_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Any:
        """Submit an entry whose fill arms a stop and a take-profit exit (one cancels other)."""
        ...
