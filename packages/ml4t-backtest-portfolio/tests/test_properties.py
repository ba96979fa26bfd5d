"""Property tests: random fills, prices and corporate actions keep the ledger invariant."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.assets import AssetRegistry, Crypto, Equity, Future
from ml4t.backtest.core.enums import CorporateActionType, OrderSide
from ml4t.backtest.core.events import CorporateActionEvent, FillEvent
from ml4t.backtest.portfolio import (
    BorrowCosts,
    FxRates,
    InterestRates,
    LotMatching,
    Portfolio,
    RegTMargin,
    apply_liquidation,
)

DAY = 86_400_000_000_000
ASSETS = ["EQ", "ES", "BTC", "SAP", "NEW"]
REGISTRY = AssetRegistry(
    [
        Equity(asset_id="EQ"),
        Future(asset_id="ES", multiplier=50.0, initial_margin=10_000.0),
        Crypto(asset_id="BTC"),
        Equity(asset_id="SAP", currency="EUR"),
        Equity(asset_id="NEW"),
    ]
)

price = st.floats(min_value=1.0, max_value=500.0, allow_nan=False)
fill_op = st.tuples(
    st.just("fill"),
    st.integers(0, 3),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.one_of(st.integers(1, 200).map(float), st.floats(0.001, 50.0)),
    price,
    st.floats(0.0, 5.0),
)
mark_op = st.tuples(
    st.just("mark"),
    st.lists(st.one_of(price, st.just(float("nan"))), min_size=4, max_size=4),
    st.integers(0, 3),
)
action_op = st.tuples(
    st.just("action"),
    st.sampled_from(
        [
            CorporateActionType.SPLIT,
            CorporateActionType.CASH_DIVIDEND,
            CorporateActionType.STOCK_DIVIDEND,
            CorporateActionType.DELISTING,
            CorporateActionType.MERGER,
            CorporateActionType.SYMBOL_CHANGE,
        ]
    ),
    st.sampled_from([0, 2, 3]),  # EQ, BTC, SAP (not the future)
    st.floats(0.1, 5.0),
    st.floats(0.0, 3.0),
    st.integers(0, 3),
)
ops = st.lists(st.one_of(fill_op, mark_op, action_op), min_size=1, max_size=40)


def _portfolio(matching: LotMatching) -> Portfolio:
    fx = FxRates("USD")
    fx.add("EUR", [0, 5 * DAY, 10 * DAY], [1.1, 1.05, 1.2])
    return Portfolio(
        ASSETS,
        REGISTRY,
        initial_cash=1_000_000.0,
        account=RegTMargin(),
        borrow=BorrowCosts(default_rate=0.02),
        interest=InterestRates(credit=0.01, debit=0.05),
        fx=fx,
        matching=matching,
    )


@settings(max_examples=120, deadline=None)
@given(ops, st.sampled_from(list(LotMatching)))
def test_random_event_sequences_keep_the_ledger_invariant(
    sequence: list[tuple[object, ...]], matching: LotMatching
) -> None:
    pf = _portfolio(matching)
    now = 0
    pf.mark(now, np.full(len(ASSETS), 100.0))
    for op in sequence:
        kind = op[0]
        if kind == "fill":
            _, k, side, qty, px, fee = op
            pf.apply_fill(
                FillEvent(now, 1, ASSETS[k], side, qty, px, commission=fee)  # type: ignore[arg-type,index]
            )
        elif kind == "mark":
            _, closes, days = op
            now += int(days) * DAY  # type: ignore[call-overload]
            row = np.array([*closes, np.nan])  # type: ignore[misc]
            pf.mark(now, row)
        else:
            _, action, k, ratio, cash, pay_days = op
            if action in (CorporateActionType.MERGER, CorporateActionType.SYMBOL_CHANGE):
                k = 0 if k == 3 else k  # SAP is quoted in EUR; the target NEW is in USD
            ev = CorporateActionEvent(
                now,
                ASSETS[k],  # type: ignore[index]
                action,  # type: ignore[arg-type]
                ratio=ratio,  # type: ignore[arg-type]
                cash_amount=cash,  # type: ignore[arg-type]
                new_asset="NEW",
                pay_timestamp=now + int(pay_days) * DAY,  # type: ignore[call-overload]
            )
            pf.apply_corporate_action(ev)
        pf.check_invariant()
        for i, asset in enumerate(ASSETS):
            assert pf.tracker.open_quantity(i) == pytest.approx(
                pf.position(asset), rel=1e-9, abs=1e-9
            )
    call = pf.margin_call()
    if call is not None:
        apply_liquidation(pf, call)
        pf.check_invariant()
        assert pf.margin_call() is None or pf.equity <= 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([OrderSide.BUY, OrderSide.SELL]), st.integers(1, 50), price),
        min_size=1,
        max_size=30,
    )
)
def test_closing_everything_leaves_equity_equal_to_capital_plus_trade_pnl(
    fills: list[tuple[OrderSide, int, float]],
) -> None:
    pf = Portfolio(["A"], initial_cash=100_000.0, account=RegTMargin())
    for side, qty, px in fills:
        pf.apply_fill(FillEvent(0, 1, "A", side, float(qty), px, commission=1.0))
    left = pf.position("A")
    if left:
        side = OrderSide.SELL if left > 0 else OrderSide.BUY
        pf.apply_fill(FillEvent(0, 2, "A", side, abs(left), 100.0, commission=1.0))
    trades = pf.tracker.to_polars()
    assert pf.position("A") == 0.0
    assert pf.cash == pytest.approx(100_000.0 + float(trades["net_pnl"].sum()), rel=1e-12)
    assert pf.equity == pytest.approx(pf.cash, rel=1e-15)
    assert float(trades["gross_pnl"].sum()) == pytest.approx(
        float(pf.realized_pnl().sum()), rel=1e-9, abs=1e-6
    )
