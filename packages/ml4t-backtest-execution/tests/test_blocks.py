"""Order blocks (`submit_block`) change the cost of a rebalance, never its result.

Each scenario drives two brokers through the same random rebalance flow: one submits every
batch with `submit_block` (falling back to `submit_many` when the block does not apply), the
other with `submit_many` only. Between submission and the next bar the flow sometimes reads
or changes the book (an order of the block, `open_orders`, `get_order`, `cancel`, another
order), which turns the block into objects; some bars miss an asset's open. Every fill,
order state, update time, change count and account number must be identical.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide, OrderStatus
from ml4t.backtest.core.errors import OrderError
from ml4t.backtest.execution import (
    FixedSlippage,
    NoCommission,
    Order,
    PercentageSlippage,
    PerShareCommission,
    SimpleAccount,
    SimulationBroker,
    TieredCommission,
)
from ml4t.backtest.execution.blocks import FillBlock, OrderBlock


class ArrayAccount(SimpleAccount):
    """SimpleAccount with an array `check_orders` (which the block lane needs)."""

    def check_orders(self, assets: Any, sides: Any, quantities: Any, prices: Any) -> Any:
        sides_l = [OrderSide.BUY if s > 0 else OrderSide.SELL for s in sides.tolist()]
        rows = zip(assets, sides_l, quantities.tolist(), prices.tolist(), strict=True)
        return np.array([self.check_order(*row) is None for row in rows], dtype=np.bool_)


N_A = 24
N_T = 40
DAY = 86_400 * 10**9

COMMISSIONS: list[Any] = [
    PerShareCommission(0.005, minimum=1.0),
    NoCommission(),
    TieredCommission(),  # no array form: blocks are filled order by order
]
SLIPPAGES: list[Any] = [FixedSlippage(0.02), PercentageSlippage(0.001)]


def _drive(use_blocks: bool, seed: int, cash: float | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = [f"S{j:02d}" for j in range(N_A)]
    lots = rng.choice([1.0, 1.0, 10.0], size=N_A)
    registry = AssetRegistry(
        [
            Equity(asset_id=n, lot_size=float(lot), tick_size=0.01, shortable=bool(ok))
            for n, lot, ok in zip(names, lots, rng.random(N_A) > 0.1, strict=True)
        ]
    )
    drawn = float(rng.choice([30_000.0, 200_000.0, 2_000_000.0]))
    cash = drawn if cash is None else cash
    account = ArrayAccount(cash, leverage=2.0, allow_short=True, registry=registry)
    broker = SimulationBroker(
        names,
        registry,
        account=account,
        commission=COMMISSIONS[seed % len(COMMISSIONS)],
        slippage=SLIPPAGES[seed % len(SLIPPAGES)],
        record_events=False,
    )
    close = 40.0 * np.exp(np.cumsum(rng.normal(0.0, 0.03, (N_T, N_A)), axis=0))
    opens = close * np.exp(rng.normal(0.0, 0.01, (N_T, N_A)))
    opens[rng.random((N_T, N_A)) < 0.01] = np.nan  # an asset without a bar now and then
    volume = np.full(N_A, 1e6)
    fills: list[Any] = []
    ids: list[int] = []
    blocks = lane_fills = 0
    for t in range(N_T):
        o, c = opens[t], close[t]
        got = broker.process_bar(t, t * DAY, o, np.fmax(o, c), np.fmin(o, c), c, volume)
        assert not isinstance(got, FillBlock) or use_blocks
        lane_fills += isinstance(got, FillBlock)
        account.apply_fills(got)
        fills.extend(got)
        account.mark(dict(zip(names, c.tolist(), strict=True)))
        k = int(rng.integers(4, N_A + 1))
        idx = rng.choice(N_A, size=k, replace=False)
        qty = rng.integers(-300, 300, size=k).astype(float)
        qty[qty == 0.0] = 3.0
        block = broker.submit_block(idx, qty, tag=f"r{t}") if use_blocks else None
        if block is None:
            submitted = broker.submit_many(idx, qty, tag=f"r{t}")
            ids.extend(o.order_id for o in submitted)
        else:
            blocks += 1
            assert len(block) == k
            ids.extend(block.ids.tolist())
        # now and then, something that needs the orders as objects (or changes the book)
        poke = rng.integers(0, 8)
        if poke == 0 and ids:
            order = broker.get_order(ids[-1])
            assert order.order_id == ids[-1]
        elif poke == 1:
            broker.open_orders()
        elif poke == 2 and ids:
            broker.cancel(ids[-1])
        elif poke == 3:
            broker.submit(Order.market(names[int(rng.integers(0, N_A))], OrderSide.BUY, 5.0))
        got = broker.process_close(t, t * DAY, c, volume)
        account.apply_fills(got)
        fills.extend(got)
    orders = [broker.get_order(i) for i in ids]
    return {
        "fills": fills,
        "orders": [
            (
                o.order_id,
                o.asset,
                o.side,
                o.status,
                o.quantity,
                o.filled_quantity,
                o.average_fill_price,
                o.reason,
                o.tag,
                o.created_at,
                o.submit_bar,
            )
            for o in orders
        ],
        "pend_bp": broker._pend_bp,
        "month_volume": broker._month_volume,
        "cash": account.cash,
        "positions": [account.position(n) for n in names],
        "last_updates": broker.last_updates,
        "change_count": broker.change_count,
        "active": broker.active_order_count,
        "blocks": blocks,
        "lane_fills": lane_fills,
    }


@pytest.mark.parametrize("seed", range(12))
def test_blocks_give_the_submit_many_results(seed: int) -> None:
    plain = _drive(False, seed)
    block = _drive(True, seed)
    assert plain["fills"]
    for key in (
        "fills",
        "orders",
        "month_volume",
        "cash",
        "positions",
        "last_updates",
        "change_count",
        "active",
    ):
        assert block[key] == plain[key], key
    assert (
        block["pend_bp"] == plain["pend_bp"] or np.isnan([block["pend_bp"], plain["pend_bp"]]).all()
    )
    assert block["blocks"] > 0  # the lane ran


@pytest.mark.parametrize("seed", [0, 1, 3, 4])  # (not TieredCommission: no array form)
def test_blocks_fill_as_columns_when_cash_is_ample(seed: int) -> None:
    plain = _drive(False, seed, cash=5e6)
    block = _drive(True, seed, cash=5e6)
    assert block["fills"] == plain["fills"]
    assert block["orders"] == plain["orders"]
    assert block["lane_fills"] >= 3  # blocks filled as columns (the others were poked)


def _small_broker(**kwargs: Any) -> tuple[SimulationBroker, ArrayAccount]:
    names = [f"A{j}" for j in range(10)]
    account = ArrayAccount(1e7, allow_short=True)
    broker = SimulationBroker(names, account=account, record_events=False, **kwargs)
    broker.process_bar(0, 0, *([np.full(10, 50.0)] * 5))
    return broker, account


def test_a_block_fills_as_columns_and_its_orders_appear_on_demand() -> None:
    broker, _account = _small_broker(commission=PerShareCommission(0.01))
    block = broker.submit_block(np.arange(10), np.array([10.0, -20.0] * 5), tag="rb")
    assert isinstance(block, OrderBlock)
    assert block.is_pending
    assert broker.active_order_count == 10
    prices = np.linspace(40.0, 49.0, 10)
    fills = broker.process_bar(1, DAY, *([prices] * 5))
    assert isinstance(fills, FillBlock)
    assert len(fills) == 10
    assert broker.active_order_count == 0
    assert not block.is_pending
    assert fills.rows.tolist() == list(range(10))  # nothing held: no exits, by order id
    assert fills.signed.tolist() == [10.0, -20.0] * 5
    assert [f.order_id for f in fills] == block.ids.tolist()
    assert fills[-1] == list(fills)[-1]
    assert fills[2:4] == list(fills)[2:4]
    order = block[3]  # built on demand, FILLED at its fill price
    assert block.is_materialized
    assert order.status is OrderStatus.FILLED
    assert order.average_fill_price == 43.0
    assert broker.get_order(order.order_id) is order
    assert pickle.loads(pickle.dumps(fills)) == list(fills)  # pickles as the plain list


def test_submit_block_declines_what_it_cannot_hold() -> None:
    broker, _ = _small_broker()
    assert broker.submit_block(np.arange(3), np.ones(3)) is None  # fewer than BATCH_MIN
    assert broker.submit_block(np.array([0, 0, 1, 2, 3, 4, 5, 6]), np.ones(8)) is None
    assert broker.submit_block(np.arange(10), np.r_[np.ones(9), 0.0]) is None
    broker.submit(Order.market("A0", OrderSide.BUY, 1.0))  # the book is not empty
    assert broker.submit_block(np.arange(10), np.ones(10)) is None
    loud = SimulationBroker(["A", "B"] * 1, record_events=True)
    assert loud.submit_block(np.arange(2), np.ones(2)) is None
    assert broker.active_order_count == 1
    with pytest.raises(OrderError):
        broker.get_order(999)
