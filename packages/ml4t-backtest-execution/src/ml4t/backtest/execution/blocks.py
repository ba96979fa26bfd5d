"""Order blocks: a rebalance's market orders kept as columns, not as `Order` objects.

`SimulationBroker.submit_block` accepts a batch of GTC market orders on distinct assets into
an empty book as one `OrderBlock`: ids, assets, sides and quantities in arrays, no `Order`
object, no book slot. When the next `process_bar` finds the block alone in the book and every
order of it fills in full there (each asset has a bar, no buying-power or short-sale case
that the one-by-one fill would treat specially, cost models with array forms), it books the
whole block with the batch fill's arithmetic (`plan_fills`) and returns a `FillBlock`: the
fill columns, a sequence of the same `FillEvent`s the object path returns (built on read).

Anything else turns the block into the `Order` objects and book slots `submit_many` would
have made (`SimulationBroker._materialize`): reading an order of the block, any other
submission, cancel, modify, `open_orders`, `get_order`, a split, or a fill that is not
plain. From then on the orders live exactly as if they had been submitted one by one, so a
block changes the cost of a rebalance, never its result; tests/test_blocks.py runs random
books both ways and compares every order, fill and account number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.execution.orders import Order

if TYPE_CHECKING:
    from ml4t.backtest.execution.broker import SimulationBroker

FloatArray = npt.NDArray[np.float64]

__all__ = ["FillBlock", "OrderBlock"]

_PENDING: Final = 0  # waiting in the book as columns
_FILLED: Final = 1  # filled in full by the block lane (orders built only on demand)
_MATERIALIZED: Final = 2  # turned into Order objects (which the broker now keeps)
_BUY: Final = OrderSide.BUY
_SELL: Final = OrderSide.SELL


class OrderBlock(Sequence[Order]):
    """GTC market orders submitted together, held as columns until something needs objects.

    A read-only sequence of the block's orders (in submission order). Reading an element
    turns the whole block into `Order` objects through its broker (the same objects
    `SimulationBroker.submit_many` returns); `len`, `ids`, `rows` and `signed` do not.

    Attributes:
        first_id: Id of the first order; the block's ids are ``first_id + arange(len)``.
        rows: Asset position (in the broker's `assets`) of each order, distinct.
        signed: Signed quantity of each order (rounded to the lot; + buy, - sell).
        tag: The tag of every order.
        created_at: Submission time (int ns).
        submit_bar: Bar index of the submission.
        eligible: First bar the orders may fill at.
    """

    __slots__ = (
        "_broker",
        "_orders",
        "created_at",
        "eligible",
        "fill_price",
        "filled_at",
        "first_id",
        "rows",
        "signed",
        "state",
        "submit_bar",
        "tag",
    )

    def __init__(  # noqa: PLR0917 - internal constructor, called by the broker only
        self,
        broker: SimulationBroker,
        first_id: int,
        rows: npt.NDArray[np.int64],
        signed: FloatArray,
        tag: str,
        created_at: Timestamp,
        submit_bar: int,
        eligible: int,
    ) -> None:
        self._broker = broker
        self.first_id = first_id
        self.rows = rows
        self.signed = signed
        self.tag = tag
        self.created_at = created_at
        self.submit_bar = submit_bar
        self.eligible = eligible
        self.state = _PENDING
        self.fill_price: FloatArray | None = None  # per order (block order), once filled
        self.filled_at: Timestamp = 0
        self._orders: list[Order] | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @overload
    def __getitem__(self, index: int) -> Order: ...

    @overload
    def __getitem__(self, index: slice) -> list[Order]: ...

    def __getitem__(self, index: int | slice) -> Order | list[Order]:
        return self.orders()[index]

    def __iter__(self) -> Iterator[Order]:
        return iter(self.orders())

    def __repr__(self) -> str:
        state = ("pending", "filled", "materialized")[self.state]
        return (
            f"OrderBlock(ids {self.first_id}..{self.first_id + len(self) - 1}, {state}, "
            f"tag={self.tag!r})"
        )

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        """Return the order ids, in submission order."""
        return np.arange(self.first_id, self.first_id + len(self), dtype=np.int64)

    @property
    def is_pending(self) -> bool:
        """Return True while the block waits in the book as columns."""
        return self.state == _PENDING

    @property
    def is_materialized(self) -> bool:
        """Return True once the block's orders are `Order` objects kept by the broker."""
        return self.state == _MATERIALIZED

    def orders(self) -> list[Order]:
        """Return the block's orders as `Order` objects (building them on first call)."""
        if self._orders is None:
            self._broker._materialize(self)
        assert self._orders is not None
        return self._orders

    def build_orders(self, names: Sequence[AssetId]) -> list[Order]:
        """Build the block's `Order` objects in their present state (the broker's helper).

        Pending: ACCEPTED, nothing filled. Filled: FILLED at `fill_price`. The orders are
        the ones `submit_many` would have made; the caller registers them and marks the
        block materialized (`mark_materialized`).
        """
        trusted = Order._trusted
        buy, sell = OrderSide.BUY, OrderSide.SELL
        market, gtc, tag = OrderType.MARKET, TimeInForce.GTC, self.tag
        filled = self.state == _FILLED
        status = OrderStatus.FILLED if filled else OrderStatus.ACCEPTED
        prices = self.fill_price.tolist() if filled and self.fill_price is not None else None
        out: list[Order] = []
        oid = self.first_id
        created, bar = self.created_at, self.submit_bar
        for k, (j, q) in enumerate(zip(self.rows.tolist(), self.signed.tolist(), strict=True)):
            if q > 0.0:
                order = trusted(names[j], buy, q, market, gtc, tag)
            else:
                order = trusted(names[j], sell, -q, market, gtc, tag)
            order.order_id = oid + k
            order.created_at = created
            order.submit_bar = bar
            order.status = status
            if prices is not None:
                order.filled_quantity = order.quantity
                order.average_fill_price = prices[k]
            out.append(order)
        return out

    def mark_materialized(self, orders: list[Order]) -> None:
        """Record that `orders` now stand for the block (the broker's helper)."""
        self._orders = orders
        self.state = _MATERIALIZED

    def mark_filled(self, fill_price: FloatArray, timestamp: Timestamp) -> None:
        """Record that every order filled in full at `fill_price` (block order)."""
        self.fill_price = fill_price
        self.filled_at = timestamp
        self.state = _FILLED


class FillBlock(Sequence[FillEvent]):
    """The fills of an `OrderBlock`, as columns: a read-only sequence of `FillEvent`.

    Reading an element (or iterating) builds the `FillEvent`s, the same the object path
    returns; consumers that know the columns (the portfolio, the engine) read those
    instead. Every fill is complete (``remaining`` is 0) and has no impact cost.

    Attributes:
        timestamp: Fill time (int ns), the same for every fill.
        order_id: Order id of each fill.
        rows: Asset position of each fill (in the broker's `assets`), distinct.
        assets: The broker's asset ids (what `rows` index).
        side: +1 (buy) or -1 (sell) per fill.
        quantity: Filled quantities (> 0).
        price: Fill prices.
        reference_price: Prices before slippage.
        commission: Commission of each fill.
        slippage: Slippage cost of each fill.
        multiplier: Contract multiplier of each fill's asset.
        tag: The tag of every fill.
        signed: ``quantity * side``.
    """

    __slots__ = (
        "assets",
        "commission",
        "multiplier",
        "order_id",
        "price",
        "quantity",
        "reference_price",
        "rows",
        "side",
        "signed",
        "slippage",
        "tag",
        "timestamp",
    )

    def __init__(  # noqa: PLR0917 - internal constructor, called by the broker only
        self,
        timestamp: Timestamp,
        order_id: npt.NDArray[np.int64],
        rows: npt.NDArray[np.int64],
        assets: tuple[AssetId, ...],
        side: FloatArray,
        quantity: FloatArray,
        price: FloatArray,
        reference_price: FloatArray,
        commission: FloatArray,
        slippage: FloatArray,
        multiplier: FloatArray,
        tag: str,
    ) -> None:
        self.timestamp = timestamp
        self.order_id = order_id
        self.rows = rows
        self.assets = assets
        self.side = side
        self.quantity = quantity
        self.price = price
        self.reference_price = reference_price
        self.commission = commission
        self.slippage = slippage
        self.multiplier = multiplier
        self.tag = tag
        self.signed = quantity * side

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @overload
    def __getitem__(self, index: int) -> FillEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[FillEvent]: ...

    def __getitem__(self, index: int | slice) -> FillEvent | list[FillEvent]:
        return self.events()[index]

    def __iter__(self) -> Iterator[FillEvent]:
        return iter(self.events())

    def __repr__(self) -> str:
        return f"FillBlock({len(self)} fills at {self.timestamp}, tag={self.tag!r})"

    def events(self) -> list[FillEvent]:
        """Return the fills as `FillEvent`s, in execution order."""
        names = self.assets
        ts, tag = self.timestamp, self.tag
        new = tuple.__new__
        return [
            new(
                FillEvent,
                (ts, oid, names[j], _BUY if s > 0.0 else _SELL, q, p, r, c, sl, 0.0, 0.0, m, tag),
            )
            for oid, j, s, q, p, r, c, sl, m in zip(
                self.order_id.tolist(),
                self.rows.tolist(),
                self.side.tolist(),
                self.quantity.tolist(),
                self.price.tolist(),
                self.reference_price.tolist(),
                self.commission.tolist(),
                self.slippage.tolist(),
                self.multiplier.tolist(),
                strict=True,
            )
        ]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (self.events(),))  # pickles as the plain list of fills
