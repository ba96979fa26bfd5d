"""zipline-reloaded run live on the suite's bundle, against its stored results and ml4t."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "zipline", reason="needs the validation-zipline group (nox -s validation_zipline)"
)

from validation import ml4t_runs
from validation.common import TOLERANCE, compare
from validation.peers import zipline_expected as zle
from validation.registry import SCENARIOS
from validation.scenarios import zipline_scenarios as zs
from validation.zipline_live.runs import run_zipline
from zipline.api import order, symbol
from zipline.finance import commission, slippage

from ml4t.backtest.strategy.config import BacktestConfig

RESULTS = Path(__file__).resolve().parents[1] / "results.json"
_OUT: dict[str, Any] = {}


def _costs(context: Any) -> None:
    context.set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    context.set_slippage(slippage.VolumeShareSlippage())


def _buyapple_init(context: Any) -> None:
    context.asset = symbol("AAPL")
    _costs(context)


def _buyapple(context: Any, data: Any) -> None:
    order(context.asset, 10)


def _hold_init(context: Any) -> None:
    context.done = False
    _costs(context)


def _hold(context: Any, data: Any) -> None:
    if not context.done:
        for s in ("AAPL", "MSFT"):
            order(symbol(s), 100)
        context.done = True


@pytest.fixture(scope="module", autouse=True)
def _write_results() -> Any:
    yield None
    if _OUT:
        RESULTS.write_text(json.dumps(_OUT, indent=2) + "\n", encoding="utf-8")


def test_live_zipline_reproduces_its_stored_buyapple_results() -> None:
    live, perf = run_zipline(_buyapple_init, _buyapple, *zs.SESSIONS["buyapple"])
    stored = zle.expected_daily("buyapple")
    assert perf.shape[0] == stored.height
    diff = perf["portfolio_value"].to_numpy() - stored["portfolio_value"].to_numpy()
    assert float(abs(diff).max()) < 1e-6
    assert compare(zle.run_zipline_expected("buyapple"), live).fills_equal


def test_ml4t_matches_live_zipline_on_a_split() -> None:
    live, _ = run_zipline(_buyapple_init, _buyapple, *zs.SESSIONS["buyapple"])
    bars = zs.zipline_window("buyapple")
    ours = SCENARIOS["zl_buyapple_split"].run_ml4t(bars)  # type: ignore[misc]
    c = compare(live, ours)
    _OUT["zl_live_buyapple_split"] = _record(live, c, "7:1 AAPL split of 2014-06-09, RAW prices")
    assert c.fills_equal, c.first_mismatch
    assert c.relative_difference <= TOLERANCE


def test_ml4t_matches_live_zipline_when_dividends_are_paid() -> None:
    # pay_date = ex_date: zipline then pays MSFT's and AAPL's dividends, like ml4t does
    live, _ = run_zipline(_hold_init, _hold, *zs.SESSIONS["buy_and_hold"], pay_on_ex_date=True)
    bars = zs.zipline_window("buy_and_hold")
    cfg = BacktestConfig.preset("zipline", **zs._ZL_CONFIG)
    ours = ml4t_runs.run_ml4t(
        bars,
        zs.BuyOnce(),
        cfg,
        registry=ml4t_runs.no_tick_registry(bars),
        corporate_actions=sorted(zs.dividends(bars), key=lambda e: e.timestamp),
    )
    c = compare(live, ours)
    _OUT["zl_live_dividends_paid"] = _record(
        live, c, "100 AAPL + 100 MSFT held 2008-2012, cash dividends paid on the ex-date"
    )
    assert c.fills_equal, c.first_mismatch
    assert c.relative_difference <= TOLERANCE
    assert live.final_equity > zle.run_zipline_expected("buy_and_hold").final_equity


def _record(live: Any, c: Any, what: str) -> dict[str, Any]:
    return {
        "covers": what,
        "peer": live.engine,
        "fills_peer": c.trades_peer,
        "fills_ml4t": c.trades_ml4t,
        "fills_matched": c.trades_matched,
        "value_peer": c.value_peer,
        "value_ml4t": c.value_ml4t,
        "relative_difference": c.relative_difference,
        "status": "match" if c.fills_equal and c.value_within_tolerance else "MISMATCH",
        "run_at": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
