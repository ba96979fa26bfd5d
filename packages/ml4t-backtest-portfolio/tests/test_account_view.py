"""The Portfolio as the execution layer's AccountView, with the SimulationBroker."""

from __future__ import annotations

import numpy as np

from ml4t.backtest.core.enums import OrderSide, OrderStatus
from ml4t.backtest.execution import AccountView, Order, SimulationBroker
from ml4t.backtest.portfolio import CashAccount, Portfolio, RegTMargin


def _as_view(account: AccountView) -> AccountView:
    return account  # mypy checks that Portfolio satisfies the protocol statically


def test_portfolio_is_an_account_view() -> None:
    pf = Portfolio(["A"], initial_cash=1_000.0)
    assert isinstance(pf, AccountView)
    view = _as_view(pf)
    assert view.cash == 1_000.0
    assert view.equity == 1_000.0
    assert view.position("A") == 0.0
    assert view.buying_power() == 1_000.0
    assert view.can_short("A") is False
    assert view.check_order("A", OrderSide.BUY, 1.0, 10.0) is None


def _bar(price: float) -> tuple[np.ndarray, ...]:
    row = np.array([price, price])
    return row, row, row, row, np.array([1e9, 1e9])


def test_broker_rejects_orders_the_portfolio_refuses_and_fills_the_rest() -> None:
    pf = Portfolio(["A", "B"], initial_cash=10_000.0, account=CashAccount())
    broker = SimulationBroker(["A", "B"], account=pf)
    short = broker.submit(Order.market("B", OrderSide.SELL, 10))
    buy = broker.submit(Order.market("A", OrderSide.BUY, 50))
    fills = broker.process_bar(0, 0, *_bar(100.0))
    for fill in fills:
        pf.apply_fill(fill)
    pf.mark(0, np.array([100.0, 100.0]))
    assert short.status == OrderStatus.REJECTED
    assert "short sale not permitted" in short.reason
    assert buy.status == OrderStatus.FILLED
    assert pf.position("A") == 50.0
    assert pf.cash == 5_000.0
    pf.check_invariant()


def test_margin_portfolio_allows_the_short_through_the_broker() -> None:
    pf = Portfolio(["A", "B"], initial_cash=10_000.0, account=RegTMargin())
    broker = SimulationBroker(["A", "B"], account=pf)
    short = broker.submit(Order.market("B", OrderSide.SELL, 10))
    for fill in broker.process_bar(0, 0, *_bar(100.0)):
        pf.apply_fill(fill)
    assert short.status == OrderStatus.FILLED
    assert pf.position("B") == -10.0
    pf.check_invariant()
