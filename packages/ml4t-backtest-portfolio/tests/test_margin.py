"""Margin calls on hand-built books: largest loss first, partial and full liquidations."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Crypto, Future
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import (
    CryptoMargin,
    FuturesMargin,
    Portfolio,
    RegTMargin,
    apply_liquidation,
)
from ml4t.backtest.portfolio.margin import MARGIN_CALL_TAG

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(asset: str, side: OrderSide, qty: float, price: float) -> FillEvent:
    return FillEvent(0, 1, asset, side, qty, price)


def test_no_call_while_equity_covers_maintenance() -> None:
    pf = Portfolio(["A"], initial_cash=10_000.0, account=RegTMargin())
    pf.apply_fill(fill("A", BUY, 200, 100.0))
    pf.mark(1, np.array([70.0]))  # equity 4000, requirement 3500
    assert pf.margin_call() is None


def test_single_long_sells_just_enough_to_restore_maintenance() -> None:
    pf = Portfolio(["A"], initial_cash=10_000.0, account=RegTMargin())
    pf.apply_fill(fill("A", BUY, 200, 100.0))  # cash -10000 (loan)
    pf.mark(1, np.array([60.0]))  # equity 2000, requirement 0.25 * 12000 = 3000
    call = pf.margin_call()
    assert call is not None
    assert (call.equity, call.requirement, call.deficit) == (2_000.0, 3_000.0, 1_000.0)
    assert call.orders == (("A", -67.0),)  # ceil(1000 / (60 * 0.25)) = 67
    fills = apply_liquidation(pf, call, {"A": 60.0})
    assert fills[0].side is SELL
    assert fills[0].tag == MARGIN_CALL_TAG
    assert pf.position("A") == 133.0
    assert pf.equity == 2_000.0
    assert pf.maintenance_requirement() == 1_995.0
    assert pf.margin_call() is None
    pf.check_invariant()
    trades = pf.tracker.to_polars()
    assert trades.get_column("exit_reason").to_list() == [MARGIN_CALL_TAG]


def _two_position_book(maintenance: float) -> Portfolio:
    pf = Portfolio(
        ["A", "B"],
        initial_cash=10_000.0,
        account=RegTMargin(initial=max(0.5, maintenance), maintenance=maintenance),
    )
    pf.apply_fill(fill("A", BUY, 100, 100.0))  # cash 0
    pf.apply_fill(fill("B", SELL, 100, 50.0))  # cash 5000
    pf.mark(1, np.array([40.0, 70.0]))  # A loses 6000, B loses 2000: equity 2000
    return pf


def test_largest_loss_is_liquidated_first_and_only_partly() -> None:
    pf = _two_position_book(0.25)
    call = pf.margin_call()
    assert call is not None
    assert call.requirement == 2_750.0  # 0.25 * (4000 + 7000)
    assert call.deficit == 750.0
    assert call.orders == (("A", -75.0),)  # 750 / (40 * 0.25) = 75 shares of A
    apply_liquidation(pf, call)  # at the marked prices
    assert pf.equity == 2_000.0
    assert pf.maintenance_requirement() == 2_000.0
    assert pf.margin_call() is None


def test_deficit_larger_than_first_position_moves_on_to_the_next() -> None:
    pf = _two_position_book(0.5)
    call = pf.margin_call()
    assert call is not None
    assert call.deficit == 3_500.0  # 0.5 * 11000 - 2000
    # A frees 20 per share (100 -> 2000), then B frees 35 per share: ceil(1500 / 35) = 43
    assert call.orders == (("A", -100.0), ("B", 43.0))
    apply_liquidation(pf, call)
    assert pf.position("A") == 0.0
    assert pf.position("B") == -57.0
    assert pf.cash == 5_990.0
    assert pf.equity == 2_000.0
    assert pf.maintenance_requirement() == 1_995.0
    pf.check_invariant()


def test_futures_call_liquidates_whole_contracts() -> None:
    es = Future(
        asset_id="ES", multiplier=50.0, initial_margin=12_000.0, maintenance_margin=11_000.0
    )
    pf = Portfolio(["ES"], AssetRegistry([es]), initial_cash=30_000.0, account=FuturesMargin())
    pf.apply_fill(fill("ES", BUY, 2, 5_000.0))
    pf.mark(1, np.array([4_900.0]))  # loss 10000: equity 20000 < 22000
    call = pf.margin_call()
    assert call is not None
    assert call.orders == (("ES", -1.0),)
    apply_liquidation(pf, call)
    assert pf.equity == 20_000.0
    assert pf.cash == 25_000.0  # the closed contract's loss settled into cash
    assert pf.margin_call() is None


def test_crypto_call_rounds_up_to_the_lot_size() -> None:
    reg = AssetRegistry([Crypto(asset_id="BTC", lot_size=0.001)])
    pf = Portfolio(
        ["BTC"], reg, initial_cash=10_000.0, account=CryptoMargin(leverage=5.0, maintenance=0.1)
    )
    pf.apply_fill(fill("BTC", BUY, 1.0, 40_000.0))
    pf.mark(1, np.array([33_000.0]))  # equity 3000, requirement 3300
    call = pf.margin_call()
    assert call is not None
    assert call.orders[0][1] == pytest.approx(-0.091)  # ceil(300 / 3300 / 0.001) * 0.001
    apply_liquidation(pf, call)
    assert pf.margin_call() is None


def test_negative_equity_liquidates_everything() -> None:
    pf = Portfolio(["A"], initial_cash=1_000.0, account=RegTMargin())
    pf.apply_fill(fill("A", BUY, 20, 100.0))
    pf.mark(1, np.array([40.0]))  # equity -200
    call = pf.margin_call()
    assert call is not None
    assert call.orders == (("A", -20.0),)
