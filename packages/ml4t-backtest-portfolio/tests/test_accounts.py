"""Account policies: cash account and settlement, Reg-T, futures, crypto, borrow and interest."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Crypto, Equity, Future
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.core.types import to_timestamp
from ml4t.backtest.portfolio import (
    BorrowCosts,
    CashAccount,
    CryptoMargin,
    FuturesMargin,
    InterestRates,
    Portfolio,
    RegTMargin,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(asset: str, side: OrderSide, qty: float, price: float, ts: int = 0) -> FillEvent:
    return FillEvent(ts, 1, asset, side, qty, price)


def day(text: str) -> int:
    return to_timestamp(text)


class TestCashAccount:
    def test_short_sale_is_rejected_with_reason(self) -> None:
        pf = Portfolio(["AAPL"], initial_cash=10_000.0, account=CashAccount())
        assert not pf.can_short("AAPL")
        reason = pf.check_order("AAPL", SELL, 1, 100.0)
        assert reason is not None
        assert "short sale not permitted for 'AAPL'" in reason
        assert "CashAccount" in reason

    def test_buy_above_cash_is_rejected_and_within_cash_passes(self) -> None:
        pf = Portfolio(["AAPL"], initial_cash=10_000.0)
        assert pf.check_order("AAPL", BUY, 100, 100.0) is None
        reason = pf.check_order("AAPL", BUY, 101, 100.0)
        assert reason is not None
        assert "needs 10,100.00 USD of settled cash, available 10,000.00" in reason

    def test_selling_a_long_always_passes(self) -> None:
        pf = Portfolio(["AAPL"], initial_cash=10_000.0)
        pf.apply_fill(fill("AAPL", BUY, 100, 100.0))
        assert pf.check_order("AAPL", SELL, 100, 1.0) is None
        assert pf.check_order("AAPL", SELL, 101, 1.0) is not None  # 1 share would be short

    def test_t_plus_2_sale_proceeds_are_not_buying_power_until_settled(self) -> None:
        pf = Portfolio(["X"], initial_cash=10_000.0, settlement_days=2)
        pf.mark(day("2024-01-08"), np.array([50.0]))  # Monday
        pf.apply_fill(fill("X", BUY, 100, 50.0, day("2024-01-08")))
        assert pf.buying_power() == 5_000.0
        pf.mark(day("2024-01-09"), np.array([60.0]))
        pf.apply_fill(fill("X", SELL, 100, 60.0, day("2024-01-09")))  # settles Thursday
        assert pf.cash == 11_000.0
        assert pf.unsettled_cash() == 6_000.0
        assert pf.buying_power() == 5_000.0
        assert pf.check_order("X", BUY, 90, 60.0) is not None
        pf.mark(day("2024-01-10"), np.array([60.0]))
        assert pf.buying_power() == 5_000.0
        pf.mark(day("2024-01-11"), np.array([60.0]))
        assert pf.buying_power() == 11_000.0
        assert pf.check_order("X", BUY, 90, 60.0) is None

    def test_friday_sale_settles_after_the_weekend(self) -> None:
        pf = Portfolio(["X"], initial_cash=0.0, settlement_days=2)
        pf.deposit(1_000.0)
        pf.apply_fill(fill("X", BUY, 10, 100.0, day("2024-01-11")))
        pf.apply_fill(fill("X", SELL, 10, 100.0, day("2024-01-12")))  # Friday
        pf.mark(day("2024-01-15"), np.array([100.0]))  # Monday: still T+1
        assert pf.unsettled_cash() == 1_000.0
        pf.mark(day("2024-01-16"), np.array([100.0]))  # Tuesday: settled
        assert pf.unsettled_cash() == 0.0

    def test_margin_account_ignores_settlement(self) -> None:
        pf = Portfolio(["X"], initial_cash=1_000.0, account=RegTMargin(), settlement_days=2)
        pf.apply_fill(fill("X", BUY, 10, 100.0))
        pf.apply_fill(fill("X", SELL, 10, 100.0))
        assert pf.unsettled_cash() == 0.0


class TestRegT:
    def test_buying_power_is_twice_excess_equity(self) -> None:
        pf = Portfolio(["A"], initial_cash=10_000.0, account=RegTMargin())
        assert pf.buying_power() == 20_000.0
        pf.apply_fill(fill("A", BUY, 100, 100.0))
        # equity 10000, initial requirement 5000 -> excess 5000 -> buying power 10000
        assert pf.initial_requirement() == 5_000.0
        assert pf.buying_power() == 10_000.0
        assert pf.check_order("A", BUY, 100, 100.0) is None
        assert pf.check_order("A", BUY, 101, 100.0) is not None
        assert pf.cash == 0.0

    def test_short_needs_initial_margin_too(self) -> None:
        pf = Portfolio(["A"], initial_cash=10_000.0, account=RegTMargin())
        assert pf.can_short("A")
        assert pf.check_order("A", SELL, 200, 100.0) is None
        reason = pf.check_order("A", SELL, 201, 100.0)
        assert reason is not None
        assert "excess equity" in reason

    def test_maintenance_above_initial_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="maintenance"):
            RegTMargin(initial=0.3, maintenance=0.4)


class TestFuturesAndCrypto:
    def test_futures_order_needs_initial_margin_per_contract(self) -> None:
        es = Future(asset_id="ES", multiplier=50.0, initial_margin=12_000.0)
        pf = Portfolio(["ES"], AssetRegistry([es]), initial_cash=30_000.0, account=FuturesMargin())
        assert pf.check_order("ES", SELL, 2, 5_000.0) is None
        assert pf.check_order("ES", BUY, 3, 5_000.0) is not None
        pf.apply_fill(fill("ES", BUY, 2, 5_000.0))
        assert pf.initial_requirement() == 24_000.0
        assert pf.maintenance_requirement() == 24_000.0  # maintenance defaults to initial
        assert pf.buying_power() == 6_000.0

    def test_futures_account_does_not_short_stock(self) -> None:
        pf = Portfolio(["SPY"], initial_cash=1_000.0, account=FuturesMargin())
        assert not pf.can_short("SPY")

    def test_crypto_leverage_sets_buying_power(self) -> None:
        reg = AssetRegistry([Crypto(asset_id="BTC")])
        pf = Portfolio(["BTC"], reg, initial_cash=10_000.0, account=CryptoMargin(leverage=5.0))
        assert pf.buying_power() == 50_000.0
        assert pf.check_order("BTC", BUY, 1.25, 40_000.0) is None
        assert pf.check_order("BTC", BUY, 1.26, 40_000.0) is not None
        pf.apply_fill(fill("BTC", BUY, 1.0, 40_000.0))
        assert pf.maintenance_requirement() == pytest.approx(4_000.0)  # 0.5 / 5 of 40000

    def test_leverage_below_one_raises(self) -> None:
        with pytest.raises(ConfigError, match="leverage"):
            CryptoMargin(leverage=0.5)


class TestBorrowAndInterest:
    def test_hard_to_borrow_rejects_new_shorts_only(self) -> None:
        borrow = BorrowCosts(hard_to_borrow=frozenset({"GME"}))
        pf = Portfolio(["GME", "AAPL"], initial_cash=10_000.0, account=RegTMargin(), borrow=borrow)
        assert not pf.can_short("GME")
        assert pf.can_short("AAPL")
        reason = pf.check_order("GME", SELL, 1, 20.0)
        assert reason is not None
        assert "hard-to-borrow" in reason
        pf.apply_fill(fill("GME", BUY, 10, 20.0))
        assert pf.check_order("GME", SELL, 10, 20.0) is None  # closing a long is fine

    def test_unshortable_asset_is_rejected(self) -> None:
        reg = AssetRegistry([Equity(asset_id="X", shortable=False)])
        pf = Portfolio(["X"], reg, initial_cash=1_000.0, account=RegTMargin())
        assert "not shortable" in (pf.check_order("X", SELL, 1, 1.0) or "")

    def test_borrow_fee_is_charged_per_calendar_day_on_short_value(self) -> None:
        borrow = BorrowCosts(rates={"X": 0.036})  # 0.01% a day on actual/360
        pf = Portfolio(["X"], initial_cash=10_000.0, account=RegTMargin(), borrow=borrow)
        pf.mark(day("2024-01-05"), np.array([50.0]))  # Friday
        pf.apply_fill(fill("X", SELL, 100, 50.0, day("2024-01-05")))
        pf.mark(day("2024-01-08"), np.array([40.0]))  # Monday: 3 days at 5000 short value
        assert pf.totals["borrow_fees"] == pytest.approx(1.5, rel=1e-12)
        assert pf.cash == pytest.approx(15_000.0 - 1.5, rel=1e-12)
        pf.mark(day("2024-01-09"), np.array([40.0]))  # 1 day at 4000
        assert pf.totals["borrow_fees"] == pytest.approx(1.9, rel=1e-12)
        pf.check_invariant()

    def test_credit_and_debit_interest_accrue_per_day(self) -> None:
        rates = InterestRates(credit=0.036, debit=0.072)
        pf = Portfolio(["X"], initial_cash=10_000.0, account=RegTMargin(), interest=rates)
        pf.mark(day("2024-01-01"), np.array([100.0]))
        pf.mark(day("2024-01-03"), np.array([100.0]))  # 2 days credit on 10000
        assert pf.cash == pytest.approx(10_002.0, rel=1e-12)
        pf.apply_fill(fill("X", BUY, 150, 100.0, day("2024-01-03")))  # cash -4998
        pf.mark(day("2024-01-04"), np.array([100.0]))
        assert pf.cash == pytest.approx(-4_998.0 - 4_998.0 * 0.072 / 360, rel=1e-12)
        assert pf.totals["interest"] == pytest.approx(2.0 - 0.9996, rel=1e-12)
        pf.check_invariant()
