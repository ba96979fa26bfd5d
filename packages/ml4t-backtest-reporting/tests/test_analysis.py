"""Hand-computed checks of the numbers behind the tearsheet charts."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.reporting import analysis
from ml4t.backtest.reporting.synthetic import synthetic_result


def _curve(days: list[dt.date], equity: list[float]) -> pl.DataFrame:
    ts = [dt.datetime(d.year, d.month, d.day, 21, tzinfo=dt.UTC) for d in days]
    return pl.DataFrame(
        {"timestamp": pl.Series(ts, dtype=pl.Datetime("ns", "UTC")), "equity": equity}
    )


class TestDrawdown:
    def test_drawdown_is_fraction_below_running_peak(self) -> None:
        out = analysis.drawdown(np.array([100.0, 80.0, 120.0, 90.0, 120.0]))
        np.testing.assert_allclose(out, [0.0, -0.2, 0.0, -0.25, 0.0])

    def test_top_drawdowns_ranks_episodes_by_depth_with_dates(self) -> None:
        days = [dt.date(2021, 1, d) for d in range(4, 12)]
        # peak 100 (d4) -> 80 (d5) -> recovers 100 (d6); peak 120 (d8) -> 90 (d9) -> never back.
        curve = _curve(days, [100.0, 80.0, 100.0, 110.0, 120.0, 90.0, 95.0, 100.0])
        top = analysis.top_drawdowns(curve, 5)
        assert top.get_column("rank").to_list() == [1, 2]
        np.testing.assert_allclose(top.get_column("depth").to_numpy(), [-0.25, -0.2])
        first, second = top.rows(named=True)
        assert first["peak"].date() == dt.date(2021, 1, 8)
        assert first["trough"].date() == dt.date(2021, 1, 9)
        assert first["recovery"] is None
        assert first["bars_to_trough"] == 1
        assert first["bars_underwater"] == 3  # peak at index 4, last bar index 7
        assert second["recovery"].date() == dt.date(2021, 1, 6)
        assert second["bars_underwater"] == 2

    def test_top_drawdowns_of_rising_equity_is_empty(self) -> None:
        curve = _curve([dt.date(2021, 1, 4), dt.date(2021, 1, 5)], [1.0, 2.0])
        assert analysis.top_drawdowns(curve).height == 0


class TestPeriodReturns:
    def test_monthly_returns_chain_month_end_equity(self) -> None:
        days = [
            dt.date(2020, 12, 30),
            dt.date(2020, 12, 31),
            dt.date(2021, 1, 29),
            dt.date(2021, 3, 31),
        ]
        curve = _curve(days, [100.0, 102.0, 91.8, 110.16])
        months = analysis.period_returns(curve, "1mo")
        # Dec: 102/100-1; Jan: 91.8/102-1; Mar: 110.16/91.8-1 (Feb has no bars).
        np.testing.assert_allclose(months.get_column("return").to_numpy(), [0.02, -0.1, 0.2])
        table = analysis.monthly_returns_table(curve)
        assert table.get_column("year").to_list() == [2020, 2021]
        row_2021 = table.row(1, named=True)
        assert row_2021["2"] is None
        assert row_2021["1"] == pytest.approx(-0.1)
        assert row_2021["total"] == pytest.approx(0.9 * 1.2 - 1.0)

    def test_yearly_returns(self) -> None:
        curve = _curve(
            [dt.date(2020, 1, 2), dt.date(2020, 12, 31), dt.date(2021, 12, 31)],
            [100.0, 110.0, 99.0],
        )
        years = analysis.period_returns(curve, "1y")
        assert years.get_column("year").to_list() == [2020, 2021]
        np.testing.assert_allclose(years.get_column("return").to_numpy(), [0.1, -0.1])

    def test_periods_per_year_of_weekday_bars_is_about_261(self) -> None:
        curve = synthetic_result(2, 600).equity_curve
        ppy = analysis.periods_per_year(curve.get_column("timestamp"))
        assert 258 < ppy < 263  # weekdays per year = 365.25 * 5 / 7 = 260.9


class TestRolling:
    def test_rolling_volatility_matches_numpy(self) -> None:
        r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
        out = analysis.rolling_volatility(r, 3, 252.0)
        assert np.isnan(out[:2]).all()
        expected = [np.std(r[i - 2 : i + 1], ddof=1) * math.sqrt(252) for i in range(2, 5)]
        np.testing.assert_allclose(out[2:], expected)

    def test_rolling_sharpe_of_flat_returns_is_nan(self) -> None:
        out = analysis.rolling_sharpe(np.zeros(5), 3, 252.0)
        assert np.isnan(out).all()


class TestCostsAndContribution:
    def test_cost_breakdown_prefers_equity_borrow_column(self) -> None:
        fills = pl.DataFrame(
            {"commission": [1.0, 2.0], "slippage": [0.5, 0.25], "impact": [0.1, float("nan")]}
        )
        curve = pl.DataFrame({"borrow_cost": [0.5, 0.5]})
        out = analysis.cost_breakdown(fills, curve, {"borrow_cost": 99.0})
        assert out == {"commission": 3.0, "slippage": 0.75, "impact": 0.1, "borrow": 1.0}

    def test_contribution_counts_open_position_at_end(self) -> None:
        # Buy 10 A at 100 (commission 1), still held at the end, worth 1_050.
        fills = pl.DataFrame(
            {"asset": ["A"], "side": [1], "quantity": [10.0], "price": [100.0], "commission": [1.0]}
        )
        positions = pl.DataFrame(
            {"timestamp": [1, 2], "asset": ["A", "A"], "market_value": [1_000.0, 1_050.0]}
        )
        out = analysis.asset_contribution(fills, positions, pl.DataFrame(), end=2)
        assert out.rows() == [("A", 49.0)]
        # A position that ended before the run's end is worth 0 then.
        closed = analysis.asset_contribution(fills, positions, pl.DataFrame(), end=3)
        assert closed.rows() == [("A", -1_001.0)]

    def test_contribution_sums_to_trade_pnl_when_everything_is_closed(self) -> None:
        r = synthetic_result(12, 200, seed=4)
        end = r.equity_curve.get_column("timestamp")[-1]
        contribution = analysis.asset_contribution(r.fills, r.positions, r.trades, end=end)
        assert contribution.get_column("pnl").sum() == pytest.approx(
            r.trades.get_column("net_pnl").sum(), rel=1e-9
        )
        by_trades = analysis.asset_contribution(pl.DataFrame(), r.positions, r.trades)
        assert_frame_equal(contribution, by_trades, check_exact=False, rel_tol=1e-9)

    def test_exposure_fractions(self) -> None:
        curve = pl.DataFrame(
            {
                "equity": [100.0, 50.0],
                "gross_exposure": [150.0, 50.0],
                "net_exposure": [50.0, -25.0],
                "leverage": [1.5, 1.0],
            }
        )
        out = analysis.exposure(curve)
        np.testing.assert_allclose(out["gross"], [1.5, 1.0])
        np.testing.assert_allclose(out["net"], [0.5, -0.5])
        np.testing.assert_allclose(out["leverage"], [1.5, 1.0])


class TestSummary:
    def test_summary_metrics_by_hand(self) -> None:
        curve = _curve(
            [dt.date(2020, 1, 1), dt.date(2020, 7, 1), dt.date(2021, 1, 1)], [100.0, 90.0, 121.0]
        )
        m = analysis.summary_metrics(curve)
        assert m["total_return"] == pytest.approx(0.21)
        assert m["max_drawdown"] == pytest.approx(-0.1)
        years = (dt.date(2021, 1, 1) - dt.date(2020, 1, 1)).days / 365.25
        assert m["cagr"] == pytest.approx(1.21 ** (1 / years) - 1)
        r = np.array([-0.1, 121 / 90 - 1])
        ppy = 2 / years
        assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(ppy))


class TestSynthetic:
    def test_equity_identity_and_final_equity_equals_cash_plus_trade_pnl(self) -> None:
        r = synthetic_result(10, 300, seed=7)
        eq = r.equity_curve
        np.testing.assert_allclose(
            eq.get_column("equity").to_numpy(),
            (eq.get_column("cash") + eq.get_column("market_value")).to_numpy(),
        )
        final = eq.get_column("equity")[-1]
        expected = 1_000_000.0 + r.trades.get_column("net_pnl").sum() - r.metrics["borrow_cost"]
        assert final == pytest.approx(expected, rel=1e-12)

    def test_synthetic_is_reproducible(self) -> None:
        a, b = synthetic_result(5, 100, seed=3), synthetic_result(5, 100, seed=3)
        assert_frame_equal(a.fills, b.fills)
        assert a.metrics == b.metrics
