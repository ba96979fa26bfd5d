"""Batch paths of the portfolio give what the one-at-a-time paths give."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import Portfolio, RegTMargin
from ml4t.backtest.portfolio.trades import TradeTracker


def _fills(seed: int, n_a: int, n: int) -> list[FillEvent]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = int(rng.integers(0, n_a))
        side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
        qty = float(rng.integers(1, 50))
        price = float(np.round(rng.uniform(20, 80), 2))
        out.append(
            FillEvent(
                k // 5,
                k + 1,
                f"A{a}",
                side,
                qty,
                price,
                commission=float(rng.choice([0.0, 1.0, 0.35])),
                slippage=0.01 * qty,
                impact=0.002 * qty,
                tag="x" if k % 3 else "",
            )
        )
    return out


@pytest.mark.parametrize("seed", range(5))
def test_apply_fills_equals_apply_fill_in_a_loop(seed: int) -> None:
    n_a = 6
    names = [f"A{j}" for j in range(n_a)]
    fills = _fills(seed, n_a, 300)
    one = Portfolio(names, initial_cash=1e6, account=RegTMargin())
    many = Portfolio(names, initial_cash=1e6, account=RegTMargin())
    rng = np.random.default_rng(seed)
    for t in range(0, 300, 20):
        chunk = fills[t : t + 20]
        for f in chunk:
            one.apply_fill(f)
        many.apply_fills(chunk)
        row = rng.uniform(20, 80, n_a)
        for pf in (one, many):
            pf.mark(t, row, row * 1.01, row * 0.99)
        assert many.equity == one.equity
        assert many.buying_power() == one.buying_power()
    assert many.cash == one.cash
    assert many.quantities.tolist() == one.quantities.tolist()
    assert many.totals == one.totals
    assert_frame_equal(many.tracker.to_polars(), one.tracker.to_polars())
    many.check_invariant()


def test_memoized_account_values_follow_every_change() -> None:
    pf = Portfolio(["A"], initial_cash=1_000.0, account=RegTMargin())
    before = (pf.equity, pf.buying_power(), pf.initial_requirement())
    pf.apply_fill(FillEvent(0, 1, "A", OrderSide.BUY, 5.0, 100.0, commission=1.0))
    assert pf.equity == 999.0
    assert (pf.equity, pf.buying_power(), pf.initial_requirement()) != before
    pf.mark(1, np.array([110.0]))
    assert pf.equity == 1049.0
    assert pf.initial_requirement() == pytest.approx(0.5 * 550.0)
    pf.deposit(100.0)
    assert pf.equity == 1149.0
    assert pf.buying_power() == pytest.approx((1149.0 - 275.0) / 0.5)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_excursions_equal_the_numpy_ones(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ml4t.backtest.execution.nb  # noqa: F401, PLC0415 - make the compiled path available

    rng = np.random.default_rng(seed)
    n_a = 8
    trackers = [TradeTracker([f"A{j}" for j in range(n_a)]) for _ in range(2)]
    for k in range(40):
        a = int(rng.integers(0, n_a))
        q = float(rng.choice([-3.0, -1.0, 2.0, 5.0]))
        p = float(rng.uniform(90, 110))
        high = rng.uniform(100, 120, n_a)
        low = rng.uniform(80, 100, n_a)
        high[rng.random(n_a) < 0.2] = np.nan
        low[rng.random(n_a) < 0.2] = np.nan
        for tt in trackers:
            tt.on_fill(a, q, p, k)
        trackers[0].update_excursions(high, low)
        with monkeypatch.context() as m:
            m.delitem(sys.modules, "ml4t.backtest.execution.nb")
            trackers[1].update_excursions(high, low)
    assert trackers[0].open_lot_count > 0
    frames = [tt.open_trades() for tt in trackers]
    assert_frame_equal(frames[0], frames[1])
    assert_frame_equal(trackers[0].to_polars(), trackers[1].to_polars())
    assert isinstance(frames[0], pl.DataFrame)
