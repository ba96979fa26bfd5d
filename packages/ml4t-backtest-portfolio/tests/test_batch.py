"""Batch paths of the portfolio give what the one-at-a-time paths give."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import UnknownAssetError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import CashAccount, Portfolio, RegTMargin
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


def _distinct_batches(seed: int, n_a: int, n_bars: int) -> list[list[FillEvent]]:
    # Per bar, fills on distinct assets (a rebalance): buys, sells, exact closes, reversals.
    rng = np.random.default_rng(seed)
    held = np.zeros(n_a)
    out = []
    oid = 0
    for t in range(n_bars):
        k = int(rng.integers(8, n_a + 1))
        batch = []
        for a in rng.choice(n_a, size=k, replace=False).tolist():
            roll = rng.random()
            if held[a] != 0.0 and roll < 0.2:
                signed = -held[a]  # exact close
            elif held[a] != 0.0 and roll < 0.35:
                signed = -2.5 * held[a]  # reversal
            else:
                signed = float(rng.integers(-60, 60)) + float(rng.choice([0.0, 0.25]))
                signed = signed or 3.0
            held[a] += signed
            oid += 1
            batch.append(
                FillEvent(
                    t,
                    oid,
                    f"A{a}",
                    OrderSide.BUY if signed > 0 else OrderSide.SELL,
                    abs(signed),
                    float(np.round(rng.uniform(20, 80), 2)),
                    commission=float(rng.choice([0.0, 1.0, 0.35, 2.125])),
                    slippage=0.01 * abs(signed),
                    tag="rebalance" if oid % 4 else "",
                )
            )
        out.append(batch)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_batched_distinct_asset_fills_equal_the_loop(seed: int) -> None:
    n_a = 24
    names = [f"A{j}" for j in range(n_a)]
    one = Portfolio(names, initial_cash=1e6, account=RegTMargin())
    many = Portfolio(names, initial_cash=1e6, account=RegTMargin())
    rng = np.random.default_rng(seed + 50)
    for t, batch in enumerate(_distinct_batches(seed, n_a, 40)):
        for f in batch:
            one.apply_fill(f)
        many.apply_fills(batch)  # a list of >= 8 fills on distinct assets: the array path
        row = rng.uniform(20, 80, n_a)
        for pf in (one, many):
            pf.mark(t, row, row * 1.01, row * 0.99)
        assert many.equity == one.equity
        assert many.cash == one.cash
    assert many.quantities.tolist() == one.quantities.tolist()
    for name in ("_avg", "_realized", "_last", "_costs"):
        assert getattr(many, name).tolist() == getattr(one, name).tolist(), name
    assert many.totals == one.totals
    assert_frame_equal(many.tracker.to_polars(), one.tracker.to_polars())
    assert_frame_equal(many.tracker.open_trades(), one.tracker.open_trades())
    many.check_invariant()


def test_batched_fills_with_a_repeated_or_unknown_asset_take_the_loop() -> None:
    names = [f"A{j}" for j in range(10)]
    fills = [FillEvent(0, k + 1, f"A{k % 9}", OrderSide.BUY, 1.0, 10.0) for k in range(10)]
    pf = Portfolio(names, initial_cash=1e3)
    pf.apply_fills(fills)  # A0 twice: booked one by one, the same result
    assert pf.position("A0") == 2.0
    assert pf.cash == 900.0
    with pytest.raises(UnknownAssetError):
        pf.apply_fills([*fills[:8], FillEvent(0, 99, "ZZZ", OrderSide.BUY, 1.0, 10.0)])


@pytest.mark.parametrize("seed", range(6))
def test_check_orders_agrees_with_check_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a = 12
    names = [f"A{j}" for j in range(n_a)]
    registry = AssetRegistry(
        [Equity(asset_id=n, shortable=bool(rng.random() > 0.2)) for n in names]
    )
    account = RegTMargin() if seed % 2 else CashAccount()
    pf = Portfolio(names, registry, initial_cash=50_000.0, account=account)
    for batch in _distinct_batches(seed, n_a, 3):
        pf.apply_fills([f for f in batch if f.side is OrderSide.BUY])
    pf.mark(3, rng.uniform(20, 80, n_a))
    n = 400
    assets = [names[j] for j in rng.integers(0, n_a, n).tolist()]
    sides = rng.choice([1.0, -1.0], n)
    qty = rng.choice([1.0, 10.0, 200.0, 5_000.0], n) * rng.uniform(0.5, 1.5, n)
    price = rng.uniform(10, 90, n)
    got = pf.check_orders(assets, sides, qty, price)
    want = [
        pf.check_order(a, OrderSide.BUY if s > 0 else OrderSide.SELL, q, p) is None
        for a, s, q, p in zip(assets, sides.tolist(), qty.tolist(), price.tolist(), strict=True)
    ]
    assert got.tolist() == want
    assert 0 < sum(want) < n  # some refused (funds, shorts), some accepted
    rows = np.array([names.index(a) for a in assets])  # positions instead of ids
    assert pf.check_orders(rows, sides, qty, price).tolist() == want
    assert pf.check_orders(np.array([0, n_a]), np.ones(2), np.ones(2), np.ones(2))[1] == False  # noqa: E712
    odd = pf.check_orders(["A0", "nope"], np.array([1.0, 1.0]), np.ones(2), np.array([np.nan, 5.0]))
    assert odd.tolist() == [False, False]  # ask check_order for these (and the reason)


@pytest.mark.parametrize("policy", ["cash", "regt", "regt_100"])
@pytest.mark.parametrize("seed", range(4))
def test_buying_power_change_predicts_the_booked_change(policy: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a = 5
    names = [f"A{j}" for j in range(n_a)]
    account = {
        "cash": CashAccount(),
        "regt": RegTMargin(),
        "regt_100": RegTMargin(1.0, 1.0),
    }[policy]
    pf = Portfolio(names, initial_cash=1e6, account=account)
    pf.mark(0, rng.uniform(20, 80, n_a))
    checked = 0
    for k in range(300):
        a = int(rng.integers(0, n_a))
        held = pf.position(names[a])
        signed = float(rng.choice([-1.0, 1.0]) * rng.integers(1, 400))
        if policy == "cash" and held + signed < 0.0:
            signed = -held if held > 0.0 else abs(signed)  # no shorts in a cash account
        price = float(np.round(rng.uniform(20, 80), 2))
        commission = float(rng.choice([0.0, 1.0, 2.5]))
        predicted = pf.buying_power_change(names[a], held, signed, price, commission)
        arrays = pf.buying_power_changes(
            [names[a]],
            np.array([held]),
            np.array([signed]),
            np.array([price]),
            np.array([commission]),
        )
        assert arrays.tolist() == [predicted]  # the array form: the same number
        by_row = pf.buying_power_changes(
            np.array([a]),
            np.array([held]),
            np.array([signed]),
            np.array([price]),
            np.array([commission]),
        )
        assert by_row.tolist() == [predicted]
        before = pf.buying_power()
        excess_before = pf.equity - pf.initial_requirement()
        pf.apply_fill(
            FillEvent(
                k,
                k + 1,
                names[a],
                OrderSide.BUY if signed > 0 else OrderSide.SELL,
                abs(signed),
                price,
                commission=commission,
            )
        )
        after = pf.buying_power()
        if policy == "cash" or min(excess_before, pf.equity - pf.initial_requirement()) > 0:
            assert after - before == pytest.approx(predicted, rel=1e-9, abs=1e-6)
            checked += 1
        if k % 25 == 0:
            pf.mark(k, rng.uniform(20, 80, n_a))
    assert checked > 200


@pytest.mark.parametrize("seed", range(6))
def test_few_lot_excursions_equal_the_array_ones(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml4t.backtest.portfolio import trades as trades_module  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    n_a = 3
    trackers = [TradeTracker([f"A{j}" for j in range(n_a)]) for _ in range(2)]
    loops = 0
    for k in range(60):
        a = int(rng.integers(0, n_a))
        held = trackers[0].open_quantity(a)
        q = -held if held and rng.random() < 0.6 else float(rng.choice([-3.0, -1.0, 2.0, 5.0]))
        p = float(rng.uniform(90, 110))
        high = rng.uniform(100, 120, n_a)
        low = rng.uniform(80, 100, n_a)
        high[rng.random(n_a) < 0.2] = np.nan
        low[rng.random(n_a) < 0.2] = np.nan
        for tt in trackers:
            tt.on_fill(a, q, p, k)
        loops += trackers[0].open_lot_count <= trades_module._FEW_LOTS
        trackers[0].update_excursions(high, low)  # the Python loop for a few lots
        with monkeypatch.context() as m:
            m.setattr(trades_module, "_FEW_LOTS", 0)  # always the array path
            trackers[1].update_excursions(high, low)
    assert loops > 10
    assert_frame_equal(trackers[0].open_trades(), trackers[1].open_trades())
    assert_frame_equal(trackers[0].to_polars(), trackers[1].to_polars())


def test_buying_power_changes_rejects_a_row_out_of_range() -> None:
    pf = Portfolio(["A", "B"], initial_cash=1_000.0, account=RegTMargin())
    one = np.ones(1)
    with pytest.raises(UnknownAssetError, match=r"asset position 2 is out of range \[0, 2\)"):
        pf.buying_power_changes(np.array([2]), one, one, one, one)
    with pytest.raises(UnknownAssetError, match="'Z'"):
        pf.buying_power_changes(["Z"], one, one, one, one)


class _OddShorts(RegTMargin):
    """A policy of its own (not one of the frozen built-ins): shorts of odd assets blocked."""

    def short_block(self, asset: object) -> str | None:
        return "odd" if str(getattr(asset, "asset_id", "")).endswith(("1", "3")) else None


@pytest.mark.parametrize("account", [RegTMargin(), CashAccount(), _OddShorts()])
def test_can_short_many_agrees_with_can_short(account: object) -> None:
    names = [f"A{j}" for j in range(5)]
    registry = AssetRegistry([Equity(asset_id=n, shortable=n != "A2") for n in names])
    pf = Portfolio(names, registry, initial_cash=1e5, account=account)  # type: ignore[arg-type]
    want = [pf.can_short(n) for n in names]
    assert pf.can_short_many(names).tolist() == want
    assert pf.can_short_many(np.arange(5)).tolist() == want
    assert pf.can_short_many([*names, "nope"]).tolist() == [*want, False]
    assert not all(want)  # (A2 is not shortable; a cash account shorts nothing)
    assert any(want) != isinstance(account, CashAccount)
