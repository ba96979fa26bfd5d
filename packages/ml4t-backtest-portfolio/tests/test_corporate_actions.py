"""Corporate actions: each kind by hand, the frame loader, and real data (Quandl WIKI 2014)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import CorporateActionType, OrderSide
from ml4t.backtest.core.errors import ConfigError, DataValidationError
from ml4t.backtest.core.events import CorporateActionEvent, FillEvent
from ml4t.backtest.portfolio import (
    CorporateActionSchedule,
    Portfolio,
    RegTMargin,
    corporate_actions_from_polars,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
CA = CorporateActionType
DATA = Path(__file__).parent / "data"


def fill(asset: str, side: OrderSide, qty: float, price: float, ts: int = 0) -> FillEvent:
    return FillEvent(ts, 1, asset, side, qty, price)


def held(asset: str, qty: float, cost: float, last: float, **kw: object) -> Portfolio:
    assets = kw.pop("assets", [asset])
    pf = Portfolio(assets, initial_cash=100_000.0, account=RegTMargin(), **kw)  # type: ignore[arg-type]
    side = BUY if qty > 0 else SELL
    pf.apply_fill(fill(asset, side, abs(qty), cost))
    row = np.full(len(assets), np.nan)  # type: ignore[arg-type]
    row[0] = last
    pf.mark(1, row)
    return pf


class TestSplits:
    def test_forward_split_multiplies_quantity_divides_cost_and_reports_ratio(self) -> None:
        pf = held("AAPL", 10, 600.0, 645.57)
        equity = pf.equity
        out = pf.apply_corporate_action(CorporateActionEvent(2, "AAPL", CA.SPLIT, ratio=7.0))
        pos = pf.get_position("AAPL")
        assert pos.quantity == 70.0
        assert pos.avg_cost == pytest.approx(600.0 / 7, rel=1e-15)
        assert pos.last_price == pytest.approx(645.57 / 7, rel=1e-15)
        assert (out.split_ratio, out.quantity_before, out.quantity_after) == (7.0, 10.0, 70.0)
        assert out.cash == 0.0
        assert pf.equity == pytest.approx(equity, rel=1e-15)
        pf.check_invariant()

    def test_reverse_split_pays_cash_in_lieu_of_the_fraction(self) -> None:
        pf = held("X", 25, 2.0, 3.0)
        out = pf.apply_corporate_action(CorporateActionEvent(2, "X", CA.SPLIT, ratio=0.1))
        pos = pf.get_position("X")
        assert pos.quantity == 2.0  # 2.5 -> 2 shares
        assert pos.avg_cost == pytest.approx(20.0)
        assert out.cash == pytest.approx(15.0)  # 0.5 share at the adjusted price 30
        assert pos.realized_pnl == pytest.approx(5.0)  # 0.5 * (30 - 20)
        pf.check_invariant()
        trades = pf.tracker.to_polars()
        assert trades.get_column("exit_reason").to_list() == ["cash_in_lieu"]

    def test_split_scales_short_positions_too(self) -> None:
        pf = held("X", -30, 90.0, 90.0)
        pf.apply_corporate_action(CorporateActionEvent(2, "X", CA.SPLIT, ratio=3.0))
        assert pf.position("X") == -90.0
        assert pf.get_position("X").avg_cost == 30.0

    def test_stock_dividend_adds_shares_at_diluted_cost(self) -> None:
        pf = held("X", 100, 10.0, 10.5)
        out = pf.apply_corporate_action(CorporateActionEvent(2, "X", CA.STOCK_DIVIDEND, ratio=0.05))
        pos = pf.get_position("X")
        assert pos.quantity == pytest.approx(105.0)
        assert pos.avg_cost == pytest.approx(10.0 / 1.05)
        assert out.split_ratio == pytest.approx(1.05)
        assert pos.last_price == pytest.approx(10.0)
        pf.check_invariant()


class TestCashDividends:
    def test_long_receives_dividend_booked_at_ex_date_paid_at_pay_date(self) -> None:
        pf = held("X", 100, 50.0, 50.0)
        cash = pf.cash
        out = pf.apply_corporate_action(
            CorporateActionEvent(10, "X", CA.CASH_DIVIDEND, cash_amount=0.5, pay_timestamp=20)
        )
        assert (out.cash, out.accrued) == (0.0, 50.0)
        assert pf.receivables == 50.0
        pf.mark(10, np.array([49.5]))  # the price drops by the dividend on the ex-date
        assert pf.equity == pytest.approx(100_000.0)
        pf.check_invariant()
        pf.mark(20, np.array([49.5]))
        assert pf.cash == cash + 50.0
        assert pf.receivables == 0.0
        assert pf.totals["dividends"] == 50.0
        pf.check_invariant()

    def test_short_pays_the_dividend(self) -> None:
        pf = held("X", -100, 50.0, 50.0)
        pf.apply_corporate_action(
            CorporateActionEvent(10, "X", CA.CASH_DIVIDEND, cash_amount=0.5, pay_timestamp=20)
        )
        assert pf.liabilities == 50.0
        pf.check_invariant()
        cash = pf.cash
        pf.mark(20, np.array([49.5]))
        assert pf.cash == cash - 50.0
        assert pf.liabilities == 0.0
        assert pf.equity == pytest.approx(100_000.0)

    def test_dividend_without_pay_date_is_cash_on_the_ex_date(self) -> None:
        pf = held("X", 100, 50.0, 50.0)
        out = pf.apply_corporate_action(
            CorporateActionEvent(10, "X", CA.CASH_DIVIDEND, cash_amount=0.25)
        )
        assert out.cash == 25.0
        assert pf.receivables == 0.0


class TestSymbolChangesMergersDelistings:
    def test_symbol_change_moves_position_cost_and_price(self) -> None:
        pf = held("FB", 10, 200.0, 210.0, assets=["FB", "META"])
        equity = pf.equity
        out = pf.apply_corporate_action(
            CorporateActionEvent(2, "FB", CA.SYMBOL_CHANGE, new_asset="META")
        )
        assert out.new_asset == "META"
        meta = pf.get_position("META")
        assert (meta.quantity, meta.avg_cost, meta.last_price) == (10.0, 200.0, 210.0)
        assert pf.position("FB") == 0.0
        assert pf.equity == equity
        pf.check_invariant()
        pf.apply_fill(fill("META", SELL, 10, 220.0))
        trade = pf.tracker.to_polars().row(0, named=True)
        assert (trade["asset"], trade["gross_pnl"]) == ("META", 200.0)

    def test_stock_and_cash_merger_closes_old_and_opens_new_position(self) -> None:
        pf = Portfolio(["A", "B"], initial_cash=100_000.0, account=RegTMargin())
        pf.apply_fill(fill("A", BUY, 100, 40.0))
        pf.mark(1, np.array([50.0, 80.0]))
        cash = pf.cash
        out = pf.apply_corporate_action(
            CorporateActionEvent(2, "A", CA.MERGER, ratio=0.5, cash_amount=10.0, new_asset="B")
        )
        assert pf.position("A") == 0.0
        b = pf.get_position("B")
        assert (b.quantity, b.avg_cost) == (50.0, 80.0)
        assert pf.get_position("A").realized_pnl == 1_000.0  # exit value 0.5*80+10 = 50
        assert out.cash == pf.cash - cash == 1_000.0  # 10 per share
        pf.check_invariant()

    def test_merger_into_asset_without_price_uses_implied_price(self) -> None:
        pf = held("A", 15, 40.0, 50.0, assets=["A", "B"])
        pf.apply_corporate_action(
            CorporateActionEvent(2, "A", CA.MERGER, ratio=0.3, cash_amount=2.0, new_asset="B")
        )
        b = pf.get_position("B")
        implied = (50.0 - 2.0) / 0.3
        assert b.quantity == 4.0  # 4.5 -> 4, half a share paid in cash
        assert b.last_price == pytest.approx(implied)
        assert pf.equity == pytest.approx(100_000.0 + 15 * 10.0)
        pf.check_invariant()

    def test_cash_merger_closes_at_the_cash_amount(self) -> None:
        pf = held("A", 100, 40.0, 50.0)
        pf.apply_corporate_action(CorporateActionEvent(2, "A", CA.MERGER, cash_amount=55.0))
        assert pf.position("A") == 0.0
        assert pf.get_position("A").realized_pnl == 1_500.0
        assert pf.equity == 101_500.0
        pf.check_invariant()

    def test_delisting_at_given_value_and_at_last_price(self) -> None:
        pf = held("A", 100, 40.0, 30.0)
        pf.apply_corporate_action(CorporateActionEvent(2, "A", CA.DELISTING, cash_amount=1.0))
        assert pf.position("A") == 0.0
        assert pf.equity == 100_000.0 - 3_900.0
        assert pf.tracker.to_polars().get_column("exit_reason").to_list() == ["delisting"]
        pf2 = held("A", -100, 40.0, 30.0)
        pf2.apply_corporate_action(CorporateActionEvent(2, "A", CA.DELISTING))
        assert pf2.position("A") == 0.0
        assert pf2.equity == 101_000.0
        pf2.check_invariant()


def test_split_with_float_noise_snaps_to_whole_shares_keeping_cost_basis() -> None:
    assert 50 * 1.1 != 55.0  # 55.00000000000001
    pf = held("X", 50, 11.0, 11.0)
    pf.apply_corporate_action(CorporateActionEvent(2, "X", CA.STOCK_DIVIDEND, ratio=0.1))
    pos = pf.get_position("X")
    assert pos.quantity == 55.0
    assert pos.quantity * pos.avg_cost == pytest.approx(550.0, rel=1e-15)
    assert pf.tracker.to_polars().height == 0  # no cash-in-lieu trade for float noise
    pf.check_invariant()


def test_delisting_without_any_price_names_the_fix() -> None:
    pf = Portfolio(["A", "B"], initial_cash=1_000.0)
    pf.apply_fill(fill("A", BUY, 1, 10.0))
    pf.apply_corporate_action(CorporateActionEvent(1, "A", CA.SYMBOL_CHANGE, new_asset="B"))
    pf._last[1] = np.nan  # a target that never traded and lost its carried price
    with pytest.raises(ConfigError, match="cash_amount"):
        pf.apply_corporate_action(CorporateActionEvent(2, "B", CA.DELISTING))


class TestLoader:
    def test_frame_becomes_sorted_validated_events(self) -> None:
        frame = pl.DataFrame(
            {
                "ex_date": [dt.date(2024, 2, 1), dt.date(2024, 1, 2)],
                "asset": ["A", "B"],
                "action": ["Cash Dividend", "split"],
                "ratio": [None, 2.0],
                "cash_amount": [0.5, None],
                "new_asset": [None, None],
                "pay_date": [dt.date(2024, 2, 15), None],
            }
        )
        events = corporate_actions_from_polars(frame)
        assert [e.action_type for e in events] == [CA.SPLIT, CA.CASH_DIVIDEND]
        assert events[1].pay_timestamp == 1707955200000000000
        assert math.isnan(events[1].ratio)

    def test_unknown_action_names_row_and_choices(self) -> None:
        frame = pl.DataFrame({"ex_date": [0], "asset": ["A"], "action": ["spinoff"]})
        with pytest.raises(DataValidationError, match="row 0: unknown action 'spinoff'"):
            corporate_actions_from_polars(frame)

    def test_split_without_ratio_is_rejected(self) -> None:
        frame = pl.DataFrame({"timestamp": [0], "asset": ["A"], "action": ["split"]})
        with pytest.raises(DataValidationError, match="'ratio' at row 0"):
            corporate_actions_from_polars(frame)

    def test_schedule_releases_each_event_once_point_in_time(self) -> None:
        s = CorporateActionSchedule(
            [CorporateActionEvent(t, "A", CA.CASH_DIVIDEND, cash_amount=1.0) for t in (5, 5, 9)]
        )
        assert s.due(4) == []
        assert len(s.due(5)) == 2
        assert s.due(8) == []
        assert len(s.due(100)) == 1


# -- real data: Quandl WIKI 2014, AAPL and MSFT ------------------------------------------------
ASSETS = ["AAPL", "MSFT"]


@pytest.fixture(scope="module")
def wiki() -> dict[str, object]:
    df = pl.read_csv(DATA / "quandl_wiki_aapl_msft_2014.csv", try_parse_dates=True)

    def wide(col: str) -> np.ndarray:
        return (
            df.pivot(on="ticker", index="date", values=col).sort("date").select(ASSETS).to_numpy()
        )

    dates = df.pivot(on="ticker", index="date", values="close").sort("date").get_column("date")
    actions = pl.concat(
        [
            df.filter(pl.col("ex-dividend") > 0).select(
                pl.col("date").alias("ex_date"),
                pl.col("ticker").alias("asset"),
                pl.lit("cash_dividend").alias("action"),
                pl.lit(None, pl.Float64).alias("ratio"),
                pl.col("ex-dividend").alias("cash_amount"),
            ),
            df.filter(pl.col("split_ratio") != 1.0).select(
                pl.col("date").alias("ex_date"),
                pl.col("ticker").alias("asset"),
                pl.lit("split").alias("action"),
                pl.col("split_ratio").alias("ratio"),
                pl.lit(None, pl.Float64).alias("cash_amount"),
            ),
        ]
    )
    return {
        "ts": dates.cast(pl.Datetime("ns")).dt.epoch("ns").to_numpy(),
        "close": wide("close"),
        "adj": wide("adj_close"),
        "actions": actions,
    }


def run(
    prices: np.ndarray,
    ts: np.ndarray,
    actions: pl.DataFrame | None,
    *,
    weights: tuple[float, ...] | None,
    rebalance_every: int = 0,
    reinvest: bool,
    fractional: bool = True,
) -> Portfolio:
    """Buy at the first close (fixed 100 shares, or target weights) and hold or rebalance.

    Per bar: apply due corporate actions (ex-date, before trading), optionally reinvest the
    dividend cash received into the paying asset at the close, rebalance on schedule, mark.
    """
    lot = 1e-9 if fractional else 1.0
    reg = AssetRegistry([Equity(asset_id=a, lot_size=lot) for a in ASSETS])
    start = 1_000_000.0 if weights else float(100 * prices[0].sum())
    pf = Portfolio(ASSETS, reg, initial_cash=start, account=RegTMargin())
    schedule = CorporateActionSchedule.from_polars(actions) if actions is not None else None

    def rebalance(t: int) -> None:
        assert weights is not None
        equity = pf.equity
        for k, a in enumerate(ASSETS):
            delta = weights[k] * equity / prices[t, k] - pf.position(a)
            if abs(delta) > 1e-12:
                side = BUY if delta > 0 else SELL
                pf.apply_fill(FillEvent(int(ts[t]), t, a, side, abs(delta), prices[t, k]))

    if weights is None:
        for k, a in enumerate(ASSETS):
            pf.apply_fill(FillEvent(int(ts[0]), 0, a, BUY, 100.0, prices[0, k]))
    pf.mark(int(ts[0]), prices[0])
    if weights is not None:
        rebalance(0)
    for t in range(1, len(ts)):
        pf.advance_to(int(ts[t]))
        for ev in schedule.due(int(ts[t])) if schedule else []:
            out = pf.apply_corporate_action(ev)
            if reinvest and ev.action_type == CA.CASH_DIVIDEND:
                k = ASSETS.index(ev.asset)
                qty = out.cash / prices[t, k]
                pf.apply_fill(FillEvent(int(ts[t]), t, ev.asset, BUY, qty, prices[t, k]))
        pf.mark(int(ts[t]), prices[t])
        if rebalance_every and t % rebalance_every == 0:
            rebalance(t)
        pf.check_invariant()
    return pf


def test_buy_and_hold_100_shares_matches_the_hand_oracle(wiki: dict[str, object]) -> None:
    # SOURCE.md oracle (end value = shares at the last close + dividend cash):
    # AAPL 55,313 -> 78,558 incl. 1,292 dividends; MSFT 3,716 -> 4,760 incl. 115.
    pf = run(
        wiki["close"],  # type: ignore[arg-type]
        wiki["ts"],  # type: ignore[arg-type]
        wiki["actions"],  # type: ignore[arg-type]
        weights=None,
        reinvest=False,
        fractional=False,
    )
    assert pf.position("AAPL") == 700.0
    assert pf.position("MSFT") == 100.0
    assert pf.totals["dividends"] == pytest.approx(1_292.0 + 115.0, rel=1e-12)
    values = pf.position_values()
    assert values[0] + 1_292.0 == pytest.approx(78_558.0, rel=1e-12)
    assert values[1] + 115.0 == pytest.approx(4_760.0, rel=1e-12)
    assert pf.equity == pytest.approx(78_558.0 + 4_760.0, rel=1e-12)
    assert (values[0] + 1_292.0) / 55_313.0 - 1.0 == pytest.approx(0.420245, abs=5e-7)
    assert (values[1] + 115.0) / 3_716.0 - 1.0 == pytest.approx(0.280947, abs=5e-7)


def test_buy_and_hold_on_raw_prices_plus_actions_equals_back_adjusted_total_return(
    wiki: dict[str, object],
) -> None:
    # Quandl's adjustment credits the dividend at the ex-date close: (close_t + D) / close_t-1.
    # The same strategy on raw prices reinvests the dividend cash at that close.
    raw = run(wiki["close"], wiki["ts"], wiki["actions"], weights=(0.5, 0.5), reinvest=True)  # type: ignore[arg-type]
    adj = run(wiki["adj"], wiki["ts"], None, weights=(0.5, 0.5), reinvest=False)  # type: ignore[arg-type]
    raw_return = raw.equity / 1e6 - 1.0
    adj_return = adj.equity / 1e6 - 1.0
    assert raw_return == pytest.approx(0.5 * (0.4262320353 + 0.2840251201), rel=1e-9)
    assert raw_return == pytest.approx(adj_return, rel=1e-9)


def test_monthly_rebalance_on_raw_prices_plus_actions_equals_back_adjusted(
    wiki: dict[str, object],
) -> None:
    kwargs = {"weights": (0.6, 0.4), "rebalance_every": 21}
    raw = run(wiki["close"], wiki["ts"], wiki["actions"], reinvest=True, **kwargs)  # type: ignore[arg-type]
    adj = run(wiki["adj"], wiki["ts"], None, reinvest=False, **kwargs)  # type: ignore[arg-type]
    assert raw.equity / 1e6 - 1.0 == pytest.approx(adj.equity / 1e6 - 1.0, rel=1e-9)
    # without reinvestment the dividend cash idles until the next rebalance: close, not equal
    idle = run(wiki["close"], wiki["ts"], wiki["actions"], reinvest=False, **kwargs)  # type: ignore[arg-type]
    assert idle.equity / 1e6 - 1.0 == pytest.approx(adj.equity / 1e6 - 1.0, abs=1e-3)
