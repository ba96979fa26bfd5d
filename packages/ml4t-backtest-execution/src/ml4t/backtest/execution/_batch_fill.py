"""The broker's batch fill: many plain market orders on distinct assets, as arrays.

`SimulationBroker._fill` books one candidate at a time. When a pass holds many market
orders (a rebalance) on distinct assets, with no volume cap, no impact model, no bar cap on
costs and cost models that have an array form, the same arithmetic runs here on arrays:
ranking (exits first, then order id), reference price, slippage, the short-sale and
buying-power checks at fill time, commission, and the running ``pending`` buying power,
which is a running sum in rank order (``np.add.accumulate`` adds left to right, as the loop
does). Every number is bit for bit what the one-by-one path gives; the parity tests in
tests/test_batch_fill.py compare both on random books.

The first candidate that the loop would treat specially (a short sale the account refuses,
a buying-power shortfall, which rejects or resizes) and everything after it go through
`_fill` one by one, in rank order, after the batch has booked the candidates before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.arrays import all_distinct
from ml4t.backtest.core.enums import OrderStatus
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.execution.impact import NoImpact

if TYPE_CHECKING:
    from ml4t.backtest.execution.broker import SimulationBroker
    from ml4t.backtest.execution.orders import Order

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "BATCH_MIN",
    "FillPlan",
    "batch_applies",
    "book_state",
    "fill_market_batch",
    "plan_fills",
]

BATCH_MIN: Final = 8  # fewer candidates than this: the loop is as fast
_MARKET_CODE: Final = 1  # MatchCode.MARKET (checked against the enum in the tests)
_WORKING: Final = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
_FILLED: Final = OrderStatus.FILLED
_new_tuple = tuple.__new__


def batch_applies(broker: SimulationBroker) -> bool:
    """Return whether the broker's settings allow array fills.

    No volume cap, no impact model, no bar cap on costs, no execution algorithm's children.
    """
    return (
        broker.volume_limit is None
        and type(broker.impact) is NoImpact
        and not broker.slippage_cap_to_bar
        and not broker._algo_of
    )


def fill_market_batch(
    broker: SimulationBroker, cands: list[tuple[int, float, int]]
) -> list[FillEvent] | None:
    """Fill the candidates of one pass as `SimulationBroker._fill_cands` would.

    Args:
        broker: The broker (its book, account and cost models).
        cands: ``(slot, base price, match code)`` per candidate, as `_pass` finds them.

    Returns:
        The fills in execution order, or None (nothing done) when the batch does not apply:
        fewer than `BATCH_MIN` candidates, a priced order or one sized at fill, OCO/OTO
        links, execution algorithms, two orders on one asset, a volume cap, an impact
        model, the bar cap on costs, or a cost model without an array form.
    """
    n = len(cands)
    if n < BATCH_MIN or not batch_applies(broker):
        return None
    slot_order = broker._slot_order
    orders: list[Order] = []
    slot_l: list[int] = []
    base_l: list[float] = []
    qty_l: list[float] = []
    id_l: list[int] = []
    for s, p, code in cands:
        order = slot_order[s]
        if (
            code != _MARKET_CODE
            or order is None
            or order.status not in _WORKING
            or order.oco
            or order.children
            or order.size_fraction == order.size_fraction  # (not NaN) sized at fill
        ):
            return None
        orders.append(order)
        slot_l.append(s)
        base_l.append(p)
        qty_l.append(max(order.quantity - order.filled_quantity, 0.0))  # order.remaining
        id_l.append(order.order_id)
    slots = np.array(slot_l, dtype=np.intp)
    a = broker._s_asset[slots]
    if not all_distinct(a, len(broker.assets)):
        return None
    ids = np.array(id_l, dtype=np.int64)
    plan = plan_fills(
        broker,
        a,
        np.array(base_l, dtype=np.float64),
        np.array(qty_l, dtype=np.float64),
        broker._s_side[slots].astype(np.float64),
        ids,
    )
    if plan is None:
        return None
    rank = plan.rank
    cut = plan.cut
    orders = [orders[k] for k in rank.tolist()]
    broker._pend_bp = float(plan.pend[cut])
    fills = _book(
        broker,
        orders[:cut],
        plan.a[:cut],
        plan.qty[:cut],
        plan.sign[:cut],
        plan.price[:cut],
        plan.ref[:cut],
        plan.slip[:cut],
        plan.comm[:cut],
        plan.mult[:cut],
    )
    fill_one = broker._fill
    ranked_slots = slots[rank].tolist()
    base = plan.base
    for k in range(cut, n):  # the loop from the first special case on
        order = orders[k]
        if order.status not in _WORKING:
            continue
        fill = fill_one(order, ranked_slots[k], float(base[k]), _MARKET_CODE, auction=False)
        if fill is not None:
            fills.append(fill)
    return fills


class FillPlan(NamedTuple):
    """The arithmetic of a batch fill, in rank order (see `plan_fills`)."""

    rank: npt.NDArray[np.intp]  # candidate positions in execution order
    a: npt.NDArray[np.int64]  # asset positions
    base: FloatArray  # base prices (before slippage)
    qty: FloatArray
    sign: FloatArray  # +1.0 buy, -1.0 sell
    price: FloatArray  # fill prices
    ref: FloatArray  # reference prices (no impact: the base)
    slip: FloatArray  # slippage per unit
    comm: FloatArray
    mult: FloatArray
    pend: FloatArray  # running pending buying power before each fill and after the last
    cut: int  # fills before this position are plain; the first special case is here (or n)


def plan_fills(  # noqa: PLR0917 - internal, positional arrays
    broker: SimulationBroker,
    a: npt.NDArray[np.int64],
    base: FloatArray,
    qty: FloatArray,
    sign: FloatArray,
    ids: npt.NDArray[np.int64],
) -> FillPlan | None:
    """Rank and price market orders on distinct assets as `_fill` would, one after another.

    Args:
        broker: The broker (its account, cost models and running state; only
            `_roll_month` changes it, as the first `_fill` of the pass would).
        a: Asset position of each order (distinct).
        base: Base price of each (the market price, else the open).
        qty: Quantity left to fill of each.
        sign: +1.0 for a buy, -1.0 for a sell.
        ids: Order ids.

    Returns:
        The plan (ranked: exits first with an account, then by order id), or None when a
        cost model has no array form.
    """
    n = a.shape[0]
    volume = np.asarray(broker._volume, dtype=np.float64)[a]
    slip = broker.slippage.slippage_many(base, qty, volume)
    if slip is None:
        return None
    mult = broker._multiplier[a]
    account = broker.account
    pend_pos = broker._pend_pos
    held = broker._held(a) + pend_pos[a] if account is not None else np.zeros(n)
    # rank: exits first (with an account), then by order id, as `_fill_cands` sorts
    if broker.exit_first and account is not None:
        rank = np.lexsort((ids, ~(held * sign < 0.0)))
    else:
        rank = np.argsort(ids, kind="stable")
    base, qty, slip, mult, sign, held = (
        base[rank],
        qty[rank],
        slip[rank],
        mult[rank],
        sign[rank],
        held[rank],
    )
    a = a[rank]
    ref = base  # no impact: the permanent shift is zero
    slip = np.maximum(slip, 0.0)
    over = (sign < 0.0) & (slip > ref)  # a sell never pays more than the price
    if over.any():
        slip = np.where(over, slip * (ref / np.where(over, slip, 1.0)), slip)
    price = ref + sign * slip
    broker._roll_month()
    comm = broker.commission.commission_many(qty, price, mult)
    if comm is None:
        return None
    comm = np.maximum(comm, 0.0)
    cut = n
    margin = broker._bp_margin_arr[a]
    unit = np.where(margin != 0.0, margin, price * mult)  # `margin or price * mult`
    if account is not None:
        closing = np.where(held * sign < 0.0, np.minimum(qty, np.abs(held)), 0.0)
        opening = qty - closing
    else:  # no account: nothing counts as closing or opening
        closing = opening = np.zeros(n)
    # the running `pending` buying power before each candidate (and after the last): the
    # account's own effect of each fill when it has one, else the broker's estimate
    if broker._exact_bp:
        names = broker.assets
        step = account.buying_power_changes(  # type: ignore[union-attr]
            a if broker._account_rows else [names[j] for j in a.tolist()],
            held,
            sign * qty,
            price,
            comm,
        )
    else:
        step = (closing - opening) * unit - comm
    pend = np.add.accumulate(np.concatenate(([broker._pend_bp], step)))
    if account is not None:
        opens = opening > 0.0
        if opens.any():
            if broker._exact_bp:  # as `_available`, for each candidate in turn
                have = np.maximum(account.raw_buying_power() + pend[:-1], 0.0)  # type: ignore[attr-defined]
            else:
                have = account.buying_power() + pend[:-1]
            fail = opens & (opening * unit + comm > have * (1.0 + 1e-12))
            shorts = (opens & (sign < 0.0)).nonzero()[0]
            if shorts.size:  # (the first refusal is all that matters: it ends the batch)
                fail[shorts[~broker._short_allowed(a[shorts])]] = True
            bad = np.flatnonzero(fail)
            if bad.size:
                cut = int(bad[0])
    return FillPlan(rank, a, base, qty, sign, price, ref, slip, comm, mult, pend, cut)


def _book(  # noqa: PLR0917 - internal, positional arrays
    broker: SimulationBroker,
    orders: list[Order],
    a: npt.NDArray[np.int64],
    qty: FloatArray,
    sign: FloatArray,
    price: FloatArray,
    ref: FloatArray,
    slip: FloatArray,
    comm: FloatArray,
    mult: FloatArray,
) -> list[FillEvent]:
    # Book the ranked candidates `orders` (all of them): broker state, orders, fill events.
    m = len(orders)
    if not m:
        return []
    book_state(broker, a, qty, qty * sign)
    qty_l = qty.tolist()
    price_l = price.tolist()
    ref_l = ref.tolist()
    comm_l = comm.tolist()
    slip_cost = (slip * qty * mult).tolist()
    mult_l = mult.tolist()
    now = broker._now
    emit = broker._emit if broker.record_events else None
    fills: list[FillEvent] = []
    append = fills.append
    for k, order in enumerate(orders):
        q = qty_l[k]
        p = price_l[k]
        if order.filled_quantity == 0.0 and q >= order.quantity * (1.0 - 1e-12):
            # `Order.record_fill` of the whole order, inlined (ACCEPTED -> FILLED is allowed)
            order.average_fill_price = p
            order.filled_quantity = order.quantity
            order.status = _FILLED
        else:
            order.record_fill(q, p)
        side = order.side
        append(
            _new_tuple(
                FillEvent,
                (
                    now,
                    order.order_id,
                    order.asset,
                    side,
                    q,
                    p,
                    ref_l[k],
                    comm_l[k],
                    slip_cost[k],
                    0.0,  # no impact: (temp + perm) * qty * mult
                    max(order.quantity - order.filled_quantity, 0.0),  # order.remaining
                    mult_l[k],
                    order.tag,
                ),
            )
        )
        if emit is not None:
            emit(order)
    if emit is None:  # `_emit` without events, for all at once
        broker._updated.update(dict.fromkeys((o.order_id for o in orders), now))
        broker._changes += m
    broker._remove_slots([o for o in orders if o.status is _FILLED])
    return fills


def book_state(
    broker: SimulationBroker, a: npt.NDArray[np.int64], qty: FloatArray, signed: FloatArray
) -> None:
    """Book what fills of `qty` (signed: `signed`) on distinct assets `a` change in the broker.

    The first fill of a bar restarts the per-bar volume used and price shift; the monthly
    volume grows in rank order (one addition at a time, as `_fill` adds); the volume used
    and the pending positions of this pass grow per asset.
    """
    broker._start_bar_fills()
    volume = broker._month_volume
    for q in qty.tolist():  # the running monthly volume, added in rank order
        volume += q
    broker._month_volume = volume
    used = broker._used
    used[a] = used[a] + qty
    pend_pos = broker._pend_pos
    pend_pos[a] = pend_pos[a] + signed
