"""Hand-computed ledger cases: open, increase, reduce, close, reverse, fees, futures, views."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Crypto, Future
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import BacktestError, ConfigError, UnknownAssetError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import (
    FuturesMargin,
    LedgerInvariantError,
    Portfolio,
    RegTMargin,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(asset: str, side: OrderSide, qty: float, price: float, **kw: object) -> FillEvent:
    ts = int(kw.pop("ts", 0))  # type: ignore[call-overload]
    return FillEvent(ts, 1, asset, side, qty, price, **kw)  # type: ignore[arg-type]


class TestLongPositions:
    def test_open_increase_reduce_close_with_commissions_matches_hand_ledger(self) -> None:
        pf = Portfolio(["AAPL"], initial_cash=10_000.0)
        pf.apply_fill(fill("AAPL", BUY, 10, 100.0, commission=1.0))
        assert pf.cash == 8_999.0
        pf.apply_fill(fill("AAPL", BUY, 10, 110.0, commission=1.0))
        pos = pf.get_position("AAPL")
        assert (pos.quantity, pos.avg_cost) == (20.0, 105.0)
        assert pf.cash == 7_898.0
        pf.apply_fill(fill("AAPL", SELL, 5, 120.0, commission=1.0))
        pos = pf.get_position("AAPL")
        assert (pos.quantity, pos.avg_cost, pos.realized_pnl) == (15.0, 105.0, 75.0)
        assert pf.cash == 8_497.0
        pf.mark(1, np.array([130.0]))
        assert pf.market_value == 1_950.0
        assert pf.equity == 10_447.0  # 10000 + 75 realized + 375 unrealized - 3 commission
        assert pf.unrealized_pnl().tolist() == [375.0]
        pf.check_invariant()
        pf.apply_fill(fill("AAPL", SELL, 15, 100.0))
        pos = pf.get_position("AAPL")
        assert (pos.quantity, pos.avg_cost, pos.realized_pnl) == (0.0, 0.0, 0.0)
        assert pf.cash == 9_997.0
        assert pf.equity == 9_997.0
        assert pf.totals["commission"] == 3.0
        pf.check_invariant()

    def test_fractional_quantities_book_exact_realized_pnl(self) -> None:
        reg = AssetRegistry([Crypto(asset_id="BTC")])
        pf = Portfolio(["BTC"], reg, initial_cash=50_000.0)
        pf.apply_fill(fill("BTC", BUY, 0.5, 40_000.0))
        pf.apply_fill(fill("BTC", SELL, 0.2, 42_000.0))
        pos = pf.get_position("BTC")
        assert pos.quantity == pytest.approx(0.3, abs=1e-15)
        assert pos.realized_pnl == pytest.approx(400.0, rel=1e-12)
        assert pf.cash == pytest.approx(50_000.0 - 20_000.0 + 8_400.0, rel=1e-12)
        pf.check_invariant()


class TestShortsAndReversals:
    def test_long_to_short_reversal_realizes_closed_part_and_opens_rest_at_fill_price(
        self,
    ) -> None:
        pf = Portfolio(["X"], initial_cash=10_000.0, account=RegTMargin())
        pf.apply_fill(fill("X", BUY, 10, 100.0))
        pf.apply_fill(fill("X", SELL, 25, 90.0))
        pos = pf.get_position("X")
        assert (pos.quantity, pos.avg_cost, pos.realized_pnl) == (-15.0, 90.0, -100.0)
        assert pf.cash == 11_250.0
        pf.mark(1, np.array([80.0]))
        assert pf.market_value == -1_200.0
        assert pf.equity == 10_050.0  # 10000 - 100 realized + 150 short profit
        assert pf.short_exposure == -1_200.0
        pf.check_invariant()
        pf.apply_fill(fill("X", BUY, 20, 85.0))
        pos = pf.get_position("X")
        assert (pos.quantity, pos.avg_cost, pos.realized_pnl) == (5.0, 85.0, -25.0)
        assert pf.cash == 9_550.0
        pf.mark(2, np.array([85.0]))
        assert pf.equity == 9_975.0
        pf.check_invariant()

    def test_increase_short_averages_entry_price(self) -> None:
        pf = Portfolio(["X"], initial_cash=1_000.0, account=RegTMargin())
        pf.apply_fill(fill("X", SELL, 10, 50.0))
        pf.apply_fill(fill("X", SELL, 30, 54.0))
        pos = pf.get_position("X")
        assert (pos.quantity, pos.avg_cost) == (-40.0, 53.0)
        assert pf.cash == 1_000.0 + 500.0 + 1_620.0
        pf.apply_fill(fill("X", BUY, 40, 43.0))
        assert pf.get_position("X").realized_pnl == 400.0
        assert pf.equity == 1_400.0
        pf.check_invariant()


class TestFutures:
    def test_futures_move_only_realized_pnl_into_cash_and_value_is_open_pnl(self) -> None:
        es = Future(
            asset_id="ES", multiplier=50.0, initial_margin=12_000.0, maintenance_margin=11_000.0
        )
        pf = Portfolio(["ES"], AssetRegistry([es]), initial_cash=100_000.0, account=FuturesMargin())
        pf.apply_fill(fill("ES", BUY, 2, 5_000.0, commission=4.0))
        assert pf.cash == 99_996.0
        pf.mark(1, np.array([5_010.0]))
        assert pf.market_value == 1_000.0
        assert pf.equity == 100_996.0
        assert pf.gross_exposure == 2 * 5_010.0 * 50.0
        assert pf.initial_requirement() == 24_000.0
        assert pf.maintenance_requirement() == 22_000.0
        pf.apply_fill(fill("ES", SELL, 1, 5_020.0))
        assert pf.cash == 100_996.0
        pf.mark(2, np.array([5_020.0]))
        assert pf.equity == 101_996.0
        pf.apply_fill(fill("ES", SELL, 3, 5_030.0))
        pos = pf.get_position("ES")
        assert (pos.quantity, pos.avg_cost) == (-2.0, 5_030.0)
        assert pf.cash == 102_496.0
        pf.mark(3, np.array([5_030.0]))
        assert pf.equity == 102_496.0  # 100000 + 1000 + 1500 realized - 4 commission
        pf.check_invariant()


class TestMarking:
    def test_nan_close_keeps_the_last_price(self) -> None:
        pf = Portfolio(["A", "B"], initial_cash=1_000.0)
        pf.apply_fill(fill("A", BUY, 1, 10.0))
        pf.apply_fill(fill("B", BUY, 1, 20.0))
        pf.mark(1, np.array([11.0, 21.0]))
        pf.mark(2, np.array([np.nan, 22.0]))
        assert pf.last_prices.tolist() == [11.0, 22.0]
        assert pf.equity == 1_000.0 - 30.0 + 33.0

    def test_exposures_and_leverage_from_mixed_book(self) -> None:
        pf = Portfolio(["A", "B"], initial_cash=10_000.0, account=RegTMargin())
        pf.apply_fill(fill("A", BUY, 100, 100.0))
        pf.apply_fill(fill("B", SELL, 50, 100.0))
        pf.mark(1, np.array([100.0, 100.0]))
        assert pf.long_exposure == 10_000.0
        assert pf.short_exposure == -5_000.0
        assert pf.gross_exposure == 15_000.0
        assert pf.net_exposure == 5_000.0
        assert pf.leverage == 1.5
        frame = pf.positions_frame()
        assert frame.get_column("asset").to_list() == ["A", "B"]
        assert set(pf.positions()) == {"A", "B"}


class TestErrors:
    def test_fill_for_unknown_asset_raises_unknown_asset_error_naming_it(self) -> None:
        pf = Portfolio(["A"], initial_cash=1.0)
        with pytest.raises(UnknownAssetError, match="'ZZZ'"):
            pf.apply_fill(fill("ZZZ", BUY, 1, 1.0))

    def test_negative_initial_cash_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="initial_cash"):
            Portfolio(["A"], initial_cash=-1.0)

    def test_broken_ledger_raises_invariant_error_naming_both_sides(self) -> None:
        pf = Portfolio(["A"], initial_cash=1_000.0)
        pf.apply_fill(fill("A", BUY, 1, 10.0))
        pf._cash[0] += 0.5  # simulate a booking path that moved one side only
        with pytest.raises(LedgerInvariantError, match=r"difference 0\.5") as info:
            pf.check_invariant()
        assert isinstance(info.value, BacktestError)
        assert info.value.balance_sheet == 1_000.5
        assert info.value.pnl_ledger == 1_000.0

    def test_tiny_float_noise_is_within_tolerance(self) -> None:
        pf = Portfolio(["A"], initial_cash=1e9)
        pf.apply_fill(fill("A", BUY, 3, 0.1))
        pf._cash[0] += 1e-3  # 1e-12 relative to the book
        pf.check_invariant()
