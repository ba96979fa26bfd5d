"""Margin calls: which positions to liquidate, and a helper that applies the liquidation.

Rule (largest loss first)::

    deficit = maintenance_requirement - equity            (a call only when > 0)
    relief_i = |price_i * multiplier_i * fx_i| * maintenance_rate_i
             + maintenance_per_contract_i * fx_i          (requirement freed per unit closed)
    order open positions by unrealized P&L in base currency, most negative first
    (ties: larger notional first, then asset order); for each, close
        min(|quantity_i|, ceil(deficit / relief_i / lot_i) * lot_i)
    units and reduce the deficit by units * relief_i, until the deficit is <= 0.

Closing at the marked price leaves equity unchanged (costs aside) and lowers the requirement,
so this restores the account to its maintenance level — no further. Positions that need no
margin (relief 0) are never liquidated. If every position is closed and a deficit remains
(negative equity), the account is flat and the deficit is a loss.

The `Portfolio` does not own the broker: `Portfolio.margin_call` returns a `MarginCall`
holding the signed order quantities; the engine submits them as market orders tagged
``"margin_call"``. `apply_liquidation` fills them directly at given prices (tests, simple loops).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.core.types import AssetId, Timestamp

if TYPE_CHECKING:
    from ml4t.backtest.portfolio.portfolio import Portfolio

__all__ = ["MarginCall", "MARGIN_CALL_TAG", "apply_liquidation", "plan_liquidation"]

MARGIN_CALL_TAG = "margin_call"


@dataclass(frozen=True, slots=True)
class MarginCall:
    """A maintenance-margin shortfall and the liquidation that cures it.

    Attributes:
        timestamp: When the call was computed (int ns UTC).
        equity: Account equity, base currency.
        requirement: Maintenance requirement, base currency.
        deficit: ``requirement - equity`` (> 0).
        orders: ``(asset, signed order quantity)`` pairs in liquidation order (a long
            position gives a negative quantity: sell).
    """

    timestamp: Timestamp
    equity: float
    requirement: float
    deficit: float
    orders: tuple[tuple[AssetId, float], ...]

    @property
    def quantities(self) -> dict[AssetId, float]:
        """Return the orders as a mapping asset -> signed quantity."""
        return dict(self.orders)


def plan_liquidation(
    quantities: npt.NDArray[np.float64],
    unrealized_base: npt.NDArray[np.float64],
    notional_base: npt.NDArray[np.float64],
    relief_per_unit: npt.NDArray[np.float64],
    lot_sizes: npt.NDArray[np.float64],
    *,
    deficit: float,
) -> npt.NDArray[np.float64]:
    """Return signed order quantities per asset that cure `deficit` (largest loss first).

    Args:
        quantities: Signed positions ``(A,)``.
        unrealized_base: Unrealized P&L per asset in base currency ``(A,)``.
        notional_base: Signed notional per asset in base currency ``(A,)`` (tie-break).
        relief_per_unit: Maintenance requirement freed per unit closed ``(A,)``, >= 0.
        lot_sizes: Smallest quantity increment per asset ``(A,)``.
        deficit: Requirement minus equity; nothing is planned when <= 0.

    Returns:
        Signed order quantities ``(A,)`` (0.0 where nothing is sold or bought).

    Example:
        >>> q = np.array([100.0, -50.0])
        >>> plan_liquidation(q, np.array([-500.0, -2000.0]), np.array([5000.0, -5000.0]),
        ...                  np.array([25.0, 30.0]), np.ones(2), deficit=1600.0).tolist()
        [-4.0, 50.0]
    """
    orders = np.zeros_like(quantities)
    if not deficit > 0.0:
        return orders
    held = np.flatnonzero((quantities != 0.0) & (relief_per_unit > 0.0))
    order = sorted(
        held.tolist(),
        key=lambda i: (float(unrealized_base[i]), -abs(float(notional_base[i])), i),
    )
    remaining = deficit
    for i in order:
        size = abs(float(quantities[i]))
        relief = float(relief_per_unit[i])
        lot = float(lot_sizes[i])
        if size * relief <= remaining:
            units = size
        else:
            units = min(size, math.ceil(remaining / relief / lot - 1e-9) * lot)
        orders[i] = -math.copysign(units, float(quantities[i]))
        remaining -= units * relief
        if remaining <= 0.0:
            break
    return orders


def apply_liquidation(
    portfolio: Portfolio,
    call: MarginCall,
    prices: Mapping[AssetId, float] | None = None,
    *,
    timestamp: Timestamp | None = None,
    commission: float = 0.0,
) -> list[FillEvent]:
    """Fill the orders of a margin call on `portfolio` at the given prices.

    Args:
        portfolio: The portfolio to liquidate.
        call: The call returned by `Portfolio.margin_call`.
        prices: Fill price per asset; missing assets fill at their last marked price.
        timestamp: Fill time (the call's timestamp when None).
        commission: Commission charged per fill, base currency.

    Returns:
        The `FillEvent` objects applied, tagged ``"margin_call"``.
    """
    when = call.timestamp if timestamp is None else timestamp
    fills: list[FillEvent] = []
    for k, (asset, qty) in enumerate(call.orders):
        price = (prices or {}).get(asset)
        if price is None:
            price = portfolio.get_position(asset).last_price
        side = OrderSide.BUY if qty > 0 else OrderSide.SELL
        fill = FillEvent(
            when,
            -(k + 1),
            asset,
            side,
            abs(qty),
            float(price),
            reference_price=float(price),
            commission=commission,
            tag=MARGIN_CALL_TAG,
        )
        portfolio.apply_fill(fill)
        fills.append(fill)
    return fills
