"""The broker's batch lanes (array checks in `submit_many`, `_batch_fill`) change no number.

Each scenario drives two brokers through the same rebalance-like order flow: one with every
batch lane on (and an account that has the array `check_orders`), one with the batch fill
off and an account without it, so every order goes through `validate_order` and `_fill` one
by one. Fills, order events, order states and the broker's running sums must be identical.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.execution import (
    FixedSlippage,
    NoCommission,
    NoSlippage,
    PercentageCommission,
    PercentageSlippage,
    PerShareCommission,
    PerTradeCommission,
    SimpleAccount,
    SimulationBroker,
    SpreadSlippage,
    TieredCommission,
    _batch_fill,
)
from ml4t.backtest.execution import broker as broker_module
from ml4t.backtest.execution.fills import FillTiming, FundsPolicy, MatchCode

N_A = 30
N_T = 30


class ArrayAccount(SimpleAccount):
    """SimpleAccount with the array form of `check_order` the broker looks for."""

    def check_orders(
        self,
        assets: list[str],
        sides: npt.NDArray[np.float64],
        quantities: npt.NDArray[np.float64],
        prices: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        return np.array(
            [
                self.check_order(a, OrderSide.BUY if s > 0 else OrderSide.SELL, q, p) is None
                for a, s, q, p in zip(
                    assets, sides.tolist(), quantities.tolist(), prices.tolist(), strict=True
                )
            ],
            dtype=np.bool_,
        )


COMMISSIONS: list[Any] = [
    NoCommission(),
    PerShareCommission(0.01, minimum=1.0, max_fraction=0.005),
    PerShareCommission(0.005),  # no fraction cap: inf * value
    PercentageCommission(0.001, minimum=0.5),
    PerTradeCommission(1.25),
    TieredCommission(),  # no array form: the lane steps aside
]
SLIPPAGES: list[Any] = [
    NoSlippage(),
    FixedSlippage(0.02),
    PercentageSlippage(0.001),
    SpreadSlippage(spread=0.01, spread_bps=4.0),
]


def _drive(
    batch: bool, seed: int, timing: FillTiming, funds: FundsPolicy, *, record: bool = True
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = [f"S{j:02d}" for j in range(N_A)]
    lots = rng.choice([1.0, 1.0, 1.0, 10.0, 0.5], size=N_A)
    registry = AssetRegistry(
        [
            Equity(asset_id=n, lot_size=float(lot), tick_size=0.01, shortable=bool(ok))
            for n, lot, ok in zip(names, lots, rng.random(N_A) > 0.15, strict=True)
        ]
    )
    cash = float(rng.choice([20_000.0, 60_000.0, 400_000.0]))
    allow_short = bool(rng.random() < 0.8)
    cls = ArrayAccount if batch else SimpleAccount
    account = cls(cash, leverage=2.0, allow_short=allow_short, registry=registry)
    broker = SimulationBroker(
        names,
        registry,
        account=account,
        fill_timing=timing,
        funds_policy=funds,
        commission=COMMISSIONS[seed % len(COMMISSIONS)],
        slippage=SLIPPAGES[(seed // 2) % len(SLIPPAGES)],
        record_events=record,
    )
    broker._batch_fills = batch
    close = 40.0 * np.exp(np.cumsum(rng.normal(0.0, 0.03, (N_T, N_A)), axis=0))
    close[rng.random((N_T, N_A)) < 0.03] = np.nan
    opens = close * np.exp(rng.normal(0.0, 0.01, (N_T, N_A)))
    volume = np.full(N_A, 1e6)
    fills: list[Any] = []
    orders: list[Any] = []
    events: list[Any] = []
    for t in range(N_T):
        o, c = opens[t], close[t]
        got = broker.process_bar(t, t * 86_400 * 10**9, o, np.fmax(o, c), np.fmin(o, c), c, volume)
        account.apply_fills(got)
        fills.extend(got)
        account.mark(dict(zip(names, c.tolist(), strict=True)))
        k = int(rng.integers(8, N_A + 1))
        idx = rng.choice(N_A, size=k, replace=False)
        qty = rng.integers(-400, 400, size=k).astype(float) + rng.choice([0.0, 0.3], size=k)
        qty[qty == 0.0] = 7.0
        held = np.array([account.position(names[j]) for j in idx.tolist()])
        flatten = rng.random(k) < 0.2  # some exits and reversals of what is held
        qty = np.where(flatten & (held != 0.0), -held * rng.choice([1.0, 2.0], size=k), qty)
        order = np.argsort(np.sign(qty) * (held * qty < 0), kind="stable")  # sells first-ish
        orders.extend(broker.submit_many(idx[order], qty[order], tag=f"r{t}"))
        got = broker.process_close(t, t * 86_400 * 10**9, c, volume)
        account.apply_fills(got)
        fills.extend(got)
        events.extend(broker.drain_order_events())
    return {
        "fills": fills,
        "events": events,
        "orders": [
            (o.order_id, o.status, o.quantity, o.filled_quantity, o.average_fill_price, o.reason)
            for o in orders
        ],
        "pend_bp": broker._pend_bp,
        "month_volume": broker._month_volume,
        "cash": account.cash,
        "last_updates": broker.last_updates,
        "change_count": broker.change_count,
    }


@pytest.mark.parametrize("funds", [FundsPolicy.REJECT, FundsPolicy.RESIZE])
@pytest.mark.parametrize("timing", [FillTiming.NEXT_BAR_OPEN, FillTiming.SAME_BAR_CLOSE])
@pytest.mark.parametrize("seed", range(10))
def test_batch_lanes_give_the_one_by_one_results(
    seed: int, timing: FillTiming, funds: FundsPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = []
    real = _batch_fill.fill_market_batch

    def counting(*args: Any) -> Any:
        out = real(*args)
        used.append(out is not None)
        return out

    monkeypatch.setattr(broker_module, "fill_market_batch", counting)
    one = _drive(False, seed, timing, funds)
    assert not used  # the one-by-one broker never took the lane
    many = _drive(True, seed, timing, funds)
    assert one["fills"]
    for key in ("fills", "events", "orders", "month_volume", "cash"):
        assert many[key] == one[key], key
    assert many["pend_bp"] == one["pend_bp"] or (
        math.isnan(many["pend_bp"]) and math.isnan(one["pend_bp"])
    )
    if not isinstance(COMMISSIONS[seed % len(COMMISSIONS)], TieredCommission):
        assert any(used)  # the lane ran (and matched)


def test_batch_fill_reads_the_market_code_it_expects() -> None:
    assert int(MatchCode.MARKET) == _batch_fill._MARKET_CODE


def test_cost_models_array_forms_equal_their_scalar_forms() -> None:
    rng = np.random.default_rng(7)
    price = rng.uniform(0.5, 500.0, 200)
    qty = rng.integers(1, 5_000, 200).astype(float) + rng.choice([0.0, 0.5], 200)
    mult = rng.choice([1.0, 50.0], 200)
    volume = rng.uniform(1e3, 1e6, 200)
    price[:3] = 0.0  # zero value: the `max_fraction * value` cap is 0 or NaN (inf * 0)
    for model in COMMISSIONS:
        many = model.commission_many(qty, price, mult)
        if many is None:
            continue
        one = [
            model.commission(q, p, multiplier=m)
            for q, p, m in zip(qty.tolist(), price.tolist(), mult.tolist(), strict=True)
        ]
        assert many.tolist() == one, type(model).__name__
    for model in SLIPPAGES:
        many = model.slippage_many(price, qty, volume)
        assert many is not None
        one = [
            model.slippage(p, q, volume=v)
            for p, q, v in zip(price.tolist(), qty.tolist(), volume.tolist(), strict=True)
        ]
        assert many.tolist() == one, type(model).__name__


@pytest.mark.parametrize("seed", range(4))
def test_a_broker_without_events_keeps_the_same_update_times_and_counts(seed: int) -> None:
    for batch in (False, True):
        loud = _drive(batch, seed, FillTiming.NEXT_BAR_OPEN, FundsPolicy.RESIZE)
        quiet = _drive(batch, seed, FillTiming.NEXT_BAR_OPEN, FundsPolicy.RESIZE, record=False)
        assert loud["events"]
        assert not quiet["events"]
        assert quiet["change_count"] == loud["change_count"] == len(loud["events"])
        assert quiet["last_updates"] == loud["last_updates"]
        assert quiet["last_updates"] == {e.order_id: e.timestamp for e in loud["events"]}
        for key in ("fills", "orders", "cash"):
            assert quiet[key] == loud[key], key
