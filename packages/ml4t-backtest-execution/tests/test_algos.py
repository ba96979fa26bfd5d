import numpy as np
import pytest

from ml4t.backtest.core.enums import OrderSide, OrderStatus, TimeInForce
from ml4t.backtest.core.errors import ConfigError, OrderError
from ml4t.backtest.execution.algos import (
    IcebergAlgorithm,
    TWAPAlgorithm,
    VWAPAlgorithm,
    volume_profile,
)
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.fills import FillTiming

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def a(*values):
    return np.array(values, dtype=np.float64)


def run(broker, bars, start=0):
    out = []
    for t, (o, h, lo, c, v) in enumerate(bars, start):
        fills = broker.process_bar(t, t, a(o), a(h), a(lo), a(c), a(v))
        fills += broker.process_close(t, t, a(c), a(v))
        out.append([(f.quantity, f.price) for f in fills])
    return out


class TestTWAP:
    def test_equal_children_from_next_bar_and_average_price(self):
        b = SimulationBroker(["X"])
        b.process_bar(0, 0, a(9), a(9), a(9), a(9), a(1e6))
        algo = b.submit_algo(TWAPAlgorithm("X", BUY, 300, slices=3))
        assert b.process_close(0, 0, a(9), a(1e6)) == []  # nothing on the decision bar
        got = run(b, [(10, 10, 10, 10, 1e6), (11, 11, 11, 11, 1e6), (12, 12, 12, 12, 1e6)], 1)
        assert got == [[(100.0, 10.0)], [(100.0, 11.0)], [(100.0, 12.0)]]
        assert algo.done
        assert algo.average_price == pytest.approx(11.0)
        assert all(c.time_in_force is TimeInForce.IOC for c in algo.children)

    def test_volume_capped_slices_are_caught_up(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        algo = b.submit_algo(TWAPAlgorithm("X", BUY, 300, slices=3))
        bars = [(10.0 + t, 10.0 + t, 10.0 + t, 10.0 + t, 800.0) for t in range(5)]
        got = run(b, bars)
        # cap 80 a bar: targets 100, 200, 300 -> children 100, 120, 140, then the rest 60
        assert [c.quantity for c in algo.children] == [100.0, 120.0, 140.0, 60.0]
        assert got == [[(80.0, 10.0)], [(80.0, 11.0)], [(80.0, 12.0)], [(60.0, 13.0)], []]
        assert algo.average_price == pytest.approx((800 + 880 + 960 + 780) / 300)
        assert [c.status for c in algo.children[:3]] == [OrderStatus.CANCELED] * 3

    def test_children_fill_at_close_under_same_bar_close(self):
        b = SimulationBroker(["X"], fill_timing=FillTiming.SAME_BAR_CLOSE)
        algo = b.submit_algo(TWAPAlgorithm("X", SELL, 20, slices=2))
        got = run(b, [(10, 11, 9, 10.5, 1e6), (10, 11, 9, 9.5, 1e6)])
        assert got == [[(10.0, 10.5)], [(10.0, 9.5)]]
        assert algo.average_price == pytest.approx(10.0)

    def test_invalid_slices_raise(self):
        with pytest.raises(ConfigError, match="slices"):
            TWAPAlgorithm("X", BUY, 10, slices=0)


class TestVWAP:
    def test_slices_follow_profile(self):
        b = SimulationBroker(["X"])
        algo = b.submit_algo(VWAPAlgorithm("X", BUY, 1000, profile=[3.0, 1.0, 1.0]))
        got = run(b, [(10, 10, 10, 10, 1e6), (20, 20, 20, 20, 1e6), (30, 30, 30, 30, 1e6)])
        assert got == [[(600.0, 10.0)], [(200.0, 20.0)], [(200.0, 30.0)]]
        assert algo.average_price == pytest.approx(16.0)

    def test_profile_from_history(self):
        hist = [[100.0, 50.0, 50.0], [300.0, 100.0, 100.0], [0.0, 0.0, 0.0]]
        # day shares: [.5,.25,.25] and [.6,.2,.2]; empty day skipped
        assert volume_profile(hist) == pytest.approx([0.55, 0.225, 0.225])

    def test_bad_profile_raises(self):
        with pytest.raises(ConfigError, match="weights"):
            VWAPAlgorithm("X", BUY, 10, profile=[0.0, 0.0])


class TestIceberg:
    def test_one_displayed_slice_at_a_time(self):
        b = SimulationBroker(["X"])
        ice = b.submit_algo(
            IcebergAlgorithm("X", SELL, 250, display_quantity=100, limit_price=101.0)
        )
        bars = [
            (100, 102, 99, 101, 1e6),  # slice 1 fills at 101
            (100, 100.5, 99, 100, 1e6),  # slice 2 shown, not reached
            (100, 101.5, 99, 101, 1e6),  # slice 2 fills
            (102, 103, 101, 102, 1e6),  # slice 3 (50) gaps: fills at the open 102
        ]
        got = run(b, bars)
        assert got == [[(100.0, 101.0)], [], [(100.0, 101.0)], [(50.0, 102.0)]]
        assert [c.quantity for c in ice.children] == [100.0, 100.0, 50.0]
        assert ice.average_price == pytest.approx((20200 + 5100) / 250)
        assert ice.done

    def test_display_below_lot_raises(self):
        with pytest.raises(ConfigError, match="display_quantity"):
            IcebergAlgorithm("X", BUY, 10, display_quantity=0.5)


def test_cancel_algo_cancels_working_child():
    b = SimulationBroker(["X"])
    ice = b.submit_algo(IcebergAlgorithm("X", BUY, 100, display_quantity=10, limit_price=1.0))
    run(b, [(10, 10, 10, 10, 1e6)])
    b.cancel_algo(ice.algo_id)
    assert ice.children[0].status is OrderStatus.CANCELED
    assert ice.done
    assert ice.reason == "canceled by user"
    with pytest.raises(OrderError):
        b.cancel_algo(ice.algo_id)
