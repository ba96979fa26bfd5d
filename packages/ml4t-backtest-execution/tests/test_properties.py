"""Property tests of the broker's fill rules (hypothesis).

Stated precisely:

* A BUY limit never fills above its limit and a SELL limit never below it, costs included.
* A SELL stop's reference price is ``min(open, stop)``: exactly the stop when the bar opened
  at or above it, the open (below the stop) only when the bar opened below it; costs only
  lower the price further. Hence a sell stop never fills above its stop. A BUY stop mirrors.
* All fills on one asset in one bar add up to at most ``fraction * volume``.
* Commission, slippage and impact on every fill are >= 0.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.enums import OrderSide, TimeInForce
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.commission import PerShareCommission
from ml4t.backtest.execution.fills import FillTiming
from ml4t.backtest.execution.impact import SquareRootImpact
from ml4t.backtest.execution.orders import Order
from ml4t.backtest.execution.slippage import CompositeSlippage, FixedSlippage, VolumeShareSlippage

price = st.floats(50.0, 150.0, allow_nan=False)


@st.composite
def ohlc(draw):
    o, c, x, y = draw(price), draw(price), draw(price), draw(price)
    return o, max(o, c, x, y), min(o, c, x, y), c


def a(v):
    return np.array([v], dtype=np.float64)


def costly_broker(**kw):
    return SimulationBroker(
        ["X"],
        slippage=CompositeSlippage((FixedSlippage(0.05), VolumeShareSlippage())),
        impact=SquareRootImpact(1.0),
        commission=PerShareCommission(0.005, minimum=1.0),
        **kw,
    )


def one_bar(broker, bar, volume=1e5):
    o, h, lo, c = bar
    return broker.process_bar(0, 0, a(o), a(h), a(lo), a(c), a(volume))


@settings(max_examples=80, deadline=None)
@given(
    bar=ohlc(),
    limit=price,
    side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    qty=st.integers(1, 5000),
)
def test_limit_never_fills_through_its_limit(bar, limit, side, qty):
    b = costly_broker()
    b.submit(Order.limit("X", side, qty, limit))
    for fill in one_bar(b, bar):
        assert (fill.price - limit) * int(side) <= 1e-9


@settings(max_examples=80, deadline=None)
@given(bar=ohlc(), stop=price, qty=st.integers(1, 5000))
def test_sell_stop_never_fills_above_stop(bar, stop, qty):
    b = costly_broker()
    order = b.submit(Order.stop("X", OrderSide.SELL, qty, stop))
    stop = order.stop_price  # after tick rounding (down for a sell stop)
    o = bar[0]
    for fill in one_bar(b, bar):
        assert fill.reference_price == min(o, stop)
        assert fill.price <= fill.reference_price <= stop
        if o >= stop:
            assert fill.reference_price == stop


@settings(max_examples=80, deadline=None)
@given(bar=ohlc(), stop=price, qty=st.integers(1, 5000))
def test_buy_stop_never_fills_below_stop(bar, stop, qty):
    b = costly_broker()
    order = b.submit(Order.stop("X", OrderSide.BUY, qty, stop))
    stop = order.stop_price
    for fill in one_bar(b, bar):
        assert fill.reference_price == max(bar[0], stop)
        assert fill.price >= fill.reference_price >= stop


@settings(max_examples=60, deadline=None)
@given(
    bar=ohlc(),
    fraction=st.floats(0.01, 1.0),
    volume=st.floats(0.0, 1e5),
    orders=st.lists(
        st.tuples(
            st.sampled_from([OrderSide.BUY, OrderSide.SELL]), st.integers(1, 20_000), st.booleans()
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_fills_never_exceed_volume_cap(bar, fraction, volume, orders):
    b = costly_broker(volume_limit=fraction)
    for side, qty, market in orders:
        if market:
            b.submit(Order.market("X", side, qty))
        else:
            b.submit(Order.limit("X", side, qty, bar[3]))
    for t in range(2):
        fills = b.process_bar(t, t, a(bar[0]), a(bar[1]), a(bar[2]), a(bar[3]), a(volume))
        fills += b.process_close(t, t, a(bar[3]), a(volume))
        assert sum(f.quantity for f in fills) <= fraction * volume + 1e-9
        for f in fills:
            assert f.commission >= 0.0
            assert f.slippage >= 0.0
            assert f.impact >= 0.0


ORDER_KINDS = ["market", "limit", "stop", "stop_limit", "trailing", "moo", "moc"]


def make_order(kind, side, level, tif_ioc):
    tif = TimeInForce.IOC if tif_ioc else TimeInForce.GTC
    if kind == "market":
        return Order.market("X", side, 10, time_in_force=tif)
    if kind == "limit":
        return Order.limit("X", side, 10, level, time_in_force=tif)
    if kind == "stop":
        return Order.stop("X", side, 10, level, time_in_force=tif)
    if kind == "stop_limit":
        return Order.stop_limit("X", side, 10, level, level * 1.01, time_in_force=tif)
    if kind == "trailing":
        return Order.trailing_stop("X", side, 10, trail_percent=0.02, time_in_force=tif)
    if kind == "moo":
        return Order.market_on_open("X", side, 10)
    return Order.market_on_close("X", side, 10)


@settings(max_examples=60, deadline=None)
@given(
    bars=st.lists(ohlc(), min_size=2, max_size=2),
    orders=st.lists(
        st.tuples(
            st.sampled_from(ORDER_KINDS),
            st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
            price,
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_decision_bar_prices_are_never_used(bars, orders):
    """Orders decided on bar 0: nothing fills on bar 0 under NEXT_BAR_OPEN, and under
    SAME_BAR_CLOSE only at bar 0's close."""
    for timing in (FillTiming.NEXT_BAR_OPEN, FillTiming.SAME_BAR_CLOSE):
        b = SimulationBroker(["X"], fill_timing=timing)
        o, h, lo, c = bars[0]
        assert b.process_bar(0, 0, a(o), a(h), a(lo), a(c), a(1e6)) == []
        for kind, side, level, ioc in orders:
            b.submit(make_order(kind, side, level, ioc))
        fills = b.process_close(0, 0, a(c), a(1e6))
        if timing is FillTiming.NEXT_BAR_OPEN:
            assert fills == []
        else:
            assert all(f.reference_price == c for f in fills)
