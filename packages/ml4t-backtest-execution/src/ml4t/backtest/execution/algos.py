"""Execution algorithms: a parent quantity worked as child orders, at most one live child a bar.

Hand an algorithm to `SimulationBroker.submit_algo`; from the next bar on, the broker asks it
for a child whenever it has none working, fills the child like any other order (same fill
timing, costs and volume cap) and reports each fill back with `on_fill`.

* `TWAPAlgorithm`: equal slices over ``slices`` bars.
* `VWAPAlgorithm`: slices in proportion to a volume *profile* (e.g. the average volume of
  each intraday bucket over past days, from `volume_profile`), never the current bar's
  volume, which is not known at the decision.
* `IcebergAlgorithm`: a limit order that shows only ``display_quantity`` at a time; the
  next slice is shown on the bar after the previous one is filled.

TWAP and VWAP children are immediate-or-cancel market orders; their cumulative target
after slice ``k`` is ``quantity * sum(w[:k+1]) / sum(w)`` rounded down to the lot, so a
slice left unfilled (volume cap) is caught up by the next one; after the last slice the
rest is sent every bar until done.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderSide, TimeInForce
from ml4t.backtest.core.errors import ConfigError, InvalidQuantityError
from ml4t.backtest.core.types import AssetId
from ml4t.backtest.execution._rounding import floor_to_step
from ml4t.backtest.execution.orders import Order

__all__ = [
    "ExecutionAlgorithm",
    "TWAPAlgorithm",
    "VWAPAlgorithm",
    "IcebergAlgorithm",
    "volume_profile",
]


class ExecutionAlgorithm(ABC):
    """A parent order that produces child orders one bar at a time.

    Attributes:
        algo_id: Id given by the broker (0 before submission).
        asset: Asset id.
        side: BUY or SELL.
        quantity: Total quantity to execute, > 0.
        lot_size: Child quantities are whole multiples of it.
        filled_quantity: Sum of the child fills.
        average_price: Volume-weighted price of the child fills (NaN before any).
        children: Every child order sent, in order.
        steps: Bars at which a child was asked for so far.
        start_bar: First bar index the broker asks for a child (set on submission).
        done: True once filled, or stopped (see `reason`).
        reason: Why the algorithm stopped early ("" otherwise).
        tag: Carried by every child.
    """

    uses_market_orders: bool = True

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        lot_size: float = 1.0,
        tag: str = "",
    ) -> None:
        if not (math.isfinite(quantity) and quantity > 0.0):
            raise InvalidQuantityError(
                f"invalid `quantity`: must be finite and > 0, was {quantity!r}"
            )
        if not (math.isfinite(lot_size) and lot_size > 0.0):
            raise ConfigError(f"invalid `lot_size`: must be finite and > 0, was {lot_size!r}")
        self.algo_id = 0
        self.asset = asset
        self.side = OrderSide(side)
        self.quantity = floor_to_step(float(quantity), lot_size)
        self.lot_size = lot_size
        self.filled_quantity = 0.0
        self.average_price = math.nan
        self.children: list[Order] = []
        self.done = False
        self.reason = ""
        self.tag = tag
        self.steps = 0
        self.start_bar = 0

    @property
    def remaining(self) -> float:
        """Return the quantity not yet filled."""
        return max(self.quantity - self.filled_quantity, 0.0)

    def next_child(self) -> Order | None:
        """Return the child order for this bar, or None to skip the bar.

        Called by the broker once per bar while no child is working.
        """
        if self.done or self.remaining <= 0.0:
            self.done = True
            return None
        child = self._child()
        self.steps += 1
        if child is not None:
            self.children.append(child)
        return child

    @abstractmethod
    def _child(self) -> Order | None:
        """Return the next child (called with `steps` slices already scheduled)."""

    def on_fill(self, quantity: float, price: float) -> None:
        """Record a child fill of `quantity` at `price`."""
        total = self.filled_quantity + quantity
        if self.filled_quantity == 0.0:
            self.average_price = price
        else:
            self.average_price = (
                self.average_price * self.filled_quantity + price * quantity
            ) / total
        self.filled_quantity = total
        if self.filled_quantity >= self.quantity * (1.0 - 1e-12):
            self.done = True

    def stop(self, reason: str) -> None:
        """Stop sending children, recording `reason`."""
        self.done = True
        self.reason = reason

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self.algo_id}, {self.asset!r}, {self.side.name} "
            f"{self.quantity:g}, filled={self.filled_quantity:g}, avg={self.average_price:.6g})"
        )


class _ScheduledAlgorithm(ExecutionAlgorithm):
    # Cumulative-target scheduler shared by TWAP and VWAP.

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        weights: Sequence[float] | npt.NDArray[np.float64],
        *,
        lot_size: float = 1.0,
        tag: str = "",
    ) -> None:
        super().__init__(asset, side, quantity, lot_size=lot_size, tag=tag)
        w = np.asarray(weights, dtype=np.float64)
        if (
            w.ndim != 1
            or w.size == 0
            or not np.all(np.isfinite(w))
            or np.any(w < 0)
            or w.sum() <= 0
        ):
            raise ConfigError(
                "schedule weights must be a non-empty 1-D sequence of finite values >= 0 with a "
                f"positive sum, was {weights!r}"
            )
        self.weights = w / w.sum()
        self._cumulative = np.cumsum(self.weights)

    def target(self, step: int) -> float:
        """Return the cumulative quantity due after slice `step` (0-based)."""
        if step >= self.weights.size - 1:
            return self.quantity
        return floor_to_step(self.quantity * float(self._cumulative[step]), self.lot_size)

    def _child(self) -> Order | None:
        due = self.target(self.steps) - self.filled_quantity
        due = floor_to_step(min(due, self.remaining), self.lot_size)
        if due <= 0.0:
            return None
        return Order.market(self.asset, self.side, due, time_in_force=TimeInForce.IOC, tag=self.tag)


class TWAPAlgorithm(_ScheduledAlgorithm):
    """Time-weighted: ``quantity / slices`` per bar over `slices` bars.

    Example:
        >>> algo = TWAPAlgorithm("AAPL", OrderSide.BUY, 1000, slices=3)
        >>> [algo.target(k) for k in range(3)]
        [333.0, 666.0, 1000.0]
    """

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        slices: int,
        lot_size: float = 1.0,
        tag: str = "",
    ) -> None:
        if slices < 1:
            raise ConfigError(f"TWAPAlgorithm: `slices` must be >= 1, was {slices!r}")
        super().__init__(asset, side, quantity, np.ones(slices), lot_size=lot_size, tag=tag)


class VWAPAlgorithm(_ScheduledAlgorithm):
    """Volume-weighted: slice ``k`` is ``quantity * profile[k] / sum(profile)``.

    Example:
        >>> algo = VWAPAlgorithm("AAPL", OrderSide.BUY, 1000, profile=[3.0, 1.0, 1.0])
        >>> [algo.target(k) for k in range(3)]
        [600.0, 800.0, 1000.0]
    """

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        profile: Sequence[float] | npt.NDArray[np.float64],
        lot_size: float = 1.0,
        tag: str = "",
    ) -> None:
        super().__init__(asset, side, quantity, profile, lot_size=lot_size, tag=tag)


class IcebergAlgorithm(ExecutionAlgorithm):
    """Show `display_quantity` at a time as a GTC limit (or market) child.

    Example:
        >>> ice = IcebergAlgorithm(
        ...     "AAPL", OrderSide.SELL, 250, display_quantity=100, limit_price=101.0
        ... )
        >>> child = ice.next_child(); (child.quantity, child.limit_price)
        (100.0, 101.0)
    """

    uses_market_orders = False

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        display_quantity: float,
        limit_price: float | None = None,
        lot_size: float = 1.0,
        tag: str = "",
    ) -> None:
        super().__init__(asset, side, quantity, lot_size=lot_size, tag=tag)
        if not (math.isfinite(display_quantity) and display_quantity >= lot_size):
            raise ConfigError(
                f"IcebergAlgorithm: `display_quantity` must be >= one lot ({lot_size}), "
                f"was {display_quantity!r}"
            )
        self.display_quantity = floor_to_step(display_quantity, lot_size)
        self.limit_price = limit_price

    def _child(self) -> Order:
        size = min(self.display_quantity, self.remaining)
        if self.limit_price is None:
            return Order.market(self.asset, self.side, size, tag=self.tag)
        return Order.limit(self.asset, self.side, size, self.limit_price, tag=self.tag)


def volume_profile(volumes: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return the mean share of volume per bucket from a (days x buckets) volume matrix.

    Each day's row is normalised to sum to 1 (days with no volume are skipped); the result
    is their mean, also summing to 1. Use it as the `VWAPAlgorithm` profile.

    Example:
        >>> volume_profile([[30.0, 10.0, 10.0], [60.0, 20.0, 20.0]]).tolist()
        [0.6, 0.2, 0.2]
    """
    v = np.asarray(volumes, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] == 0:
        raise ConfigError(f"`volumes` must be a 2-D (days x buckets) array, was shape {v.shape}")
    v = np.where(np.isfinite(v) & (v > 0), v, 0.0)
    totals = v.sum(axis=1)
    keep = totals > 0
    if not keep.any():
        raise ConfigError("`volumes` holds no positive volume; cannot build a profile")
    shares = v[keep] / totals[keep, None]
    profile: npt.NDArray[np.float64] = shares.mean(axis=0)
    return profile
