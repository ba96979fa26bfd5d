"""Scenarios validated against Backtrader (daily ORCL 2003-2005 and minute data)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import polars as pl

from ml4t.backtest.core.assets import AssetRegistry, Future
from ml4t.backtest.strategy.config import BacktestConfig
from validation import datasets, ml4t_runs, signals
from validation import ml4t_strategies as ms
from validation.common import RunResult, fills_frame
from validation.peers import backtrader_runs as btr
from validation.registry import SCENARIOS, Scenario, attach_ml4t, register

__all__ = ["SWEEP_FASTS", "SWEEP_SLOWS", "orcl_cross"]

SIZE = 100


def orcl_cross() -> pl.DataFrame:
    """ORCL daily 2003-2005 with SMA(10)/SMA(30) cross signals."""
    return signals.sma_cross(datasets.backtrader_daily("orcl-2003-2005.txt"), 10, 30)


def _cross_market(s: Any) -> None:
    # Buy SIZE on a cross above when flat; close on a cross below.
    if not s.position and s.data.entry[0] > 0:
        s.buy(size=s.st.get("size", SIZE))
    elif s.position and s.data.exit[0] > 0:
        s.close()


def _limit_entry(s: Any) -> None:
    # Cross above: buy limit at 99% of the close (GTC; replaces an older working entry).
    # Cross below: cancel the working entry and close any position at market.
    pending = s.st.get("entry")
    if s.data.entry[0] > 0 and not s.position:
        if pending is not None and pending.alive():
            s.cancel(pending)
        s.st["entry"] = s.buy(size=SIZE, exectype=btr.bt.Order.Limit, price=s.data.close[0] * 0.99)
    elif s.data.exit[0] > 0:
        if pending is not None and pending.alive():
            s.cancel(pending)
        if s.position:
            s.close()


def _stop_entry(s: Any) -> None:
    # Cross above: buy stop at 101% of the close (breakout; gaps fill at the open).
    pending = s.st.get("entry")
    if s.data.entry[0] > 0 and not s.position:
        if pending is not None and pending.alive():
            s.cancel(pending)
        s.st["entry"] = s.buy(size=SIZE, exectype=btr.bt.Order.Stop, price=s.data.close[0] * 1.01)
    elif s.data.exit[0] > 0:
        if pending is not None and pending.alive():
            s.cancel(pending)
        if s.position:
            s.close()


def _stop_limit_entry(s: Any) -> None:
    # Cross above: buy stop-limit, trigger 101% of the close, limit 102%.
    pending = s.st.get("entry")
    if s.data.entry[0] > 0 and not s.position:
        if pending is not None and pending.alive():
            s.cancel(pending)
        c = s.data.close[0]
        s.st["entry"] = s.buy(
            size=SIZE, exectype=btr.bt.Order.StopLimit, price=c * 1.01, plimit=c * 1.015
        )
    elif s.data.exit[0] > 0:
        if pending is not None and pending.alive():
            s.cancel(pending)
        if s.position:
            s.close()


def _trailing(s: Any) -> None:
    # Cross above when flat (and no stop working): buy at market, then a 5% trailing sell stop.
    if not s.position and s.data.entry[0] > 0 and not s.st.get("open"):
        s.buy(size=SIZE)
        s.sell(size=SIZE, exectype=btr.bt.Order.StopTrail, trailpercent=0.05)
        s.st["open"] = True
    if not s.position and s.st.get("open") and s.st.get("seen_position"):
        s.st["open"] = False
        s.st["seen_position"] = False
    if s.position:
        s.st["seen_position"] = True


def _bracket(s: Any) -> None:
    # Cross above when flat: market entry with a stop 1.5% below and a target 1.5% above the
    # signal close (both often inside the same bar on this data). A bracket that ended on
    # this bar is forgotten first, so a new one may start on the bar of the exit (as ml4t's
    # BracketEntry: flat and no working order).
    live = s.st.get("live")
    if live and not any(o.alive() for o in live):
        s.st["live"] = None
    if not s.position and s.data.entry[0] > 0 and not s.st.get("live"):
        c = s.data.close[0]
        orders = s.buy_bracket(
            size=SIZE, exectype=btr.bt.Order.Market, stopprice=c * 0.985, limitprice=c * 1.015
        )
        s.st["live"] = orders


def _percent_sizer(s: Any) -> None:
    # Cross above when flat: buy with backtrader's PercentSizerInt (50% of cash, whole shares).
    if not s.position and s.data.entry[0] > 0:
        s.buy()
    elif s.position and s.data.exit[0] > 0:
        s.close()


def _reversal(s: Any) -> None:
    # Always in the market after the first signal: +100 after a cross above, -100 after below.
    if s.data.entry[0] > 0:
        s.order_target_size(target=SIZE)
    elif s.data.exit[0] > 0:
        s.order_target_size(target=-SIZE)


def _pyramid(s: Any) -> None:
    # Add 20 units each bar the close is above its SMA(20), up to 100; sell all below it.
    pos = s.position.size
    if s.data.entry[0] > 0 and pos < 100 and not s.st.get("pending"):
        s.buy(size=20)
    elif s.data.exit[0] > 0 and pos > 0:
        s.close()


class _MinCommission(btr.bt.CommInfoBase):
    # $0.005 per share with a $1.00 minimum per fill (backtrader's documented way: subclass).
    params = (("stocklike", True), ("commtype", btr.bt.CommInfoBase.COMM_FIXED))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return max(abs(size) * 0.005, 1.0)


def _per_share_min(cerebro: Any) -> None:
    cerebro.broker.addcommissioninfo(_MinCommission())


def _percent_commission(cerebro: Any) -> None:
    cerebro.broker.setcommission(commission=0.001)  # 0.1% of notional per fill


def _coc(cerebro: Any) -> None:
    cerebro.broker.set_coc(True)  # cheat-on-close: market orders fill at the signal bar's close


def _slip_fixed(cerebro: Any) -> None:
    cerebro.broker.set_slippage_fixed(0.05, slip_open=True)


def _slip_perc(cerebro: Any) -> None:
    cerebro.broker.set_slippage_perc(0.001, slip_open=True)


def _futures(cerebro: Any) -> None:
    # 6E: 125,000 EUR per contract, $2,500 margin, $2.00 per contract per fill.
    cerebro.broker.setcommission(
        commission=2.0, margin=2500.0, mult=125_000.0, commtype=btr.bt.CommInfoBase.COMM_FIXED
    )


_ORCL = "ORCL daily 2003-2005 (backtrader_datas/orcl-2003-2005.txt)"

register(
    Scenario(
        "bt_market_next_open",
        "backtrader",
        "market orders at next open",
        f"{_ORCL}; SMA(10)/SMA(30) cross: buy 100 at market, close on the opposite cross.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market),
    )
)
register(
    Scenario(
        "bt_market_same_close",
        "backtrader",
        "market orders at same-bar close",
        f"{_ORCL}; same rule with cheat-on-close (fills at the signal bar's close).",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market, broker=_coc),
    )
)
register(
    Scenario(
        "bt_limit_entry",
        "backtrader",
        "limit orders incl. gaps",
        f"{_ORCL}; buy limit at 99% of the signal close (GTC), market exit on the opposite cross;"
        " a bar opening below the limit fills at the open.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_limit_entry),
    )
)
register(
    Scenario(
        "bt_stop_entry",
        "backtrader",
        "stop orders incl. gaps",
        f"{_ORCL}; buy stop at 101% of the signal close; a gap above the stop fills at the open.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_stop_entry),
    )
)
register(
    Scenario(
        "bt_stop_limit_entry",
        "backtrader",
        "stop-limit orders",
        f"{_ORCL}; buy stop-limit: trigger 101%, limit 101.5% of the signal close.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_stop_limit_entry),
    )
)
register(
    Scenario(
        "bt_trailing_stop",
        "backtrader",
        "trailing stop incl. gaps",
        f"{_ORCL}; market entry with a 5% trailing sell stop (trails each bar's close; a gap"
        " below fills at the open).",
        orcl_cross,
        partial(btr.run_backtrader, logic=_trailing),
    )
)
register(
    Scenario(
        "bt_bracket_same_bar",
        "backtrader",
        "bracket with stop and target inside one bar",
        f"{_ORCL}; market entry with stop -1.5% and target +1.5% of the signal close.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_bracket),
    )
)
register(
    Scenario(
        "bt_percent_sizer",
        "backtrader",
        "percent-of-equity sizing",
        f"{_ORCL}; PercentSizerInt(50): int(cash * 50% / signal close) shares (flat, so cash ="
        " equity).",
        orcl_cross,
        partial(
            btr.run_backtrader,
            logic=_percent_sizer,
            sizer=(btr.bt.sizers.PercentSizerInt, {"percents": 50}),
        ),
    )
)
register(
    Scenario(
        "bt_commission_per_share_min",
        "backtrader",
        "per-share and minimum commissions",
        f"{_ORCL}; cross rule with $0.005/share, $1.00 minimum per fill.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market, broker=_per_share_min),
    )
)
register(
    Scenario(
        "bt_commission_percent",
        "backtrader",
        "percentage commissions",
        f"{_ORCL}; cross rule with 0.1% of notional per fill.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market, broker=_percent_commission),
    )
)
register(
    Scenario(
        "bt_slippage_fixed",
        "backtrader",
        "fixed slippage",
        f"{_ORCL}; cross rule with $0.05 per share slippage (slip_open=True), capped at the"
        " bar's high/low as backtrader does.",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market, broker=_slip_fixed),
    )
)
register(
    Scenario(
        "bt_slippage_percent",
        "backtrader",
        "percentage slippage",
        f"{_ORCL}; cross rule with 0.1% slippage (slip_open=True).",
        orcl_cross,
        partial(btr.run_backtrader, logic=_cross_market, broker=_slip_perc),
    )
)
register(
    Scenario(
        "bt_short_reversal",
        "backtrader",
        "short selling and reversals",
        f"{_ORCL}; target +100 after a cross above, -100 after a cross below (one 200-unit"
        " reversal order).",
        orcl_cross,
        partial(btr.run_backtrader, logic=_reversal),
    )
)
register(
    Scenario(
        "bt_pyramiding",
        "backtrader",
        "pyramiding",
        f"{_ORCL}; add 20 each bar close > SMA(20) up to 100, sell all when close < SMA(20).",
        lambda: signals.above_sma(datasets.backtrader_daily("orcl-2003-2005.txt"), 20),
        partial(btr.run_backtrader, logic=_pyramid),
    )
)
register(
    Scenario(
        "bt_intraday_minute",
        "backtrader",
        "one-minute intraday bars",
        "Euro STOXX 50 future, first 6,000 one-minute bars of 2006; SMA(10)/SMA(30) cross, buy 10.",
        lambda: signals.sma_cross(datasets.backtrader_minute(), 10, 30),
        partial(btr.run_backtrader, logic=_cross_market, daily=False, state={"size": 10}),
    )
)
register(
    Scenario(
        "bt_futures_multiplier",
        "backtrader",
        "futures multiplier",
        "CME 6EH4 one-minute bars (first 6,000); SMA(10)/SMA(30) cross, buy 10 contracts of"
        " 125,000 EUR, $2,500 margin, $2 per contract.",
        lambda: signals.sma_cross(datasets.futures_minute(), 10, 30),
        partial(
            btr.run_backtrader,
            logic=_cross_market,
            broker=_futures,
            daily=False,
            state={"size": 10},
        ),
    )
)

SWEEP_FASTS = [5, 6, 7, 8, 9, 10, 11, 12]
SWEEP_SLOWS = [20, 30, 40, 50, 60]


def _sweep(bars: pl.DataFrame) -> RunResult:
    # 40 runs of Backtrader's optimizer; `extra` holds "<params>:fills" and "<params>:value".
    runs = btr.run_backtrader_sweep(bars, SWEEP_FASTS, SWEEP_SLOWS, size=SIZE)
    extra: dict[str, float] = {}
    for key, (n, value) in runs.items():
        extra[f"{key}:fills"] = float(n)
        extra[f"{key}:value"] = value
    return RunResult(
        engine=btr.VERSION,
        fills=fills_frame([]),
        final_equity=sum(v for _, v in runs.values()),
        extra=extra,
    )


register(
    Scenario(
        "bt_optimizer_sweep_40",
        "backtrader",
        "40-run parameter sweep against Backtrader's optimizer",
        f"{_ORCL}; optstrategy over SMA fast {SWEEP_FASTS} x slow {SWEEP_SLOWS} (40 runs,"
        " backtrader's own SMA/CrossOver indicators), buy 100 / close; each run's fill count"
        " and final value are compared (final_equity is their sum).",
        lambda: datasets.backtrader_daily("orcl-2003-2005.txt"),
        _sweep,
    )
)


# ----------------------------------------------------------------------- ml4t-backtest side


def _ml4t(strategy_factory: Any, **config: Any) -> Any:
    # Run a fresh strategy under the backtrader preset (cash 100,000) plus `config`.

    def run(bars: pl.DataFrame, registry: Any = None) -> RunResult:
        cfg = BacktestConfig.preset("backtrader", initial_cash=100_000.0, **config)
        if registry is None:  # backtrader has no price grid: limit/stop prices stay unrounded
            registry = ml4t_runs.no_tick_registry(bars)
        return ml4t_runs.run_ml4t(bars, strategy_factory(), cfg, registry=registry)

    return run


def _attach() -> None:

    cross = lambda: ml4t_runs.CrossStrategy(SIZE)  # noqa: E731
    attach_ml4t("bt_market_next_open", _ml4t(cross))
    attach_ml4t("bt_market_same_close", _ml4t(cross, fill_timing="same_close"))
    attach_ml4t("bt_limit_entry", _ml4t(lambda: ms.PendingEntry(size=SIZE, limit=0.99)))
    attach_ml4t("bt_stop_entry", _ml4t(lambda: ms.PendingEntry(size=SIZE, stop=1.01)))
    attach_ml4t(
        "bt_stop_limit_entry",
        _ml4t(lambda: ms.PendingEntry(size=SIZE, stop=1.01, limit=1.015)),
    )
    # the backtrader preset trails the close (trail_reference="close") and arms a bracket's
    # children on the bar after the entry (bracket_activation="next_bar")
    attach_ml4t("bt_trailing_stop", _ml4t(lambda: ms.TrailingEntry(size=SIZE, trail=0.05)))
    attach_ml4t(
        "bt_bracket_same_bar", _ml4t(lambda: ms.BracketEntry(size=SIZE, stop=0.985, target=1.015))
    )
    attach_ml4t("bt_percent_sizer", _ml4t(lambda: ms.PercentEntry(0.5)))
    attach_ml4t(
        "bt_commission_per_share_min",
        _ml4t(cross, commission={"kind": "per_share", "per_share": 0.005, "minimum": 1.0}),
    )
    attach_ml4t(
        "bt_commission_percent", _ml4t(cross, commission={"kind": "percent", "rate": 0.001})
    )
    # the backtrader preset caps slipped prices at the bar's high/low (slippage_cap_to_bar)
    attach_ml4t("bt_slippage_fixed", _ml4t(cross, slippage={"kind": "fixed", "per_unit": 0.05}))
    attach_ml4t("bt_slippage_percent", _ml4t(cross, slippage={"kind": "fixed_bps", "bps": 10.0}))
    attach_ml4t("bt_short_reversal", _ml4t(lambda: ms.Reversal(SIZE)))
    attach_ml4t("bt_pyramiding", _ml4t(lambda: ms.Pyramid(step=20, cap=100)))
    attach_ml4t("bt_intraday_minute", _ml4t(lambda: ml4t_runs.CrossStrategy(10)))
    futures = _ml4t(
        lambda: ml4t_runs.CrossStrategy(10),
        commission={"kind": "per_share", "per_share": 2.0, "minimum": 0.0},
        # buying power is checked against the contract's initial margin (10 x $2,500), as
        # backtrader checks cash against margin * size; the backtrader preset's reject rule
        # stays on
    )
    registry = AssetRegistry(
        [
            Future(
                asset_id="6EH4",
                multiplier=125_000.0,
                tick_size=0.00005,
                initial_margin=2_500.0,
                maintenance_margin=2_500.0,
            )
        ]
    )
    attach_ml4t("bt_futures_multiplier", lambda bars: futures(bars, registry))
    attach_ml4t("bt_optimizer_sweep_40", _ml4t_sweep)
    for name, size in (("bt_market_next_open", SIZE), ("bt_intraday_minute", 10)):
        base = SCENARIOS[name]
        register(
            replace(
                base,
                name=f"{name}_on_market_data",
                covers=f"{base.covers} (ml4t on_market_data path)",
                run_ml4t=_ml4t(partial(ms.CrossOnMarketData, size)),
            )
        )


def _ml4t_sweep(bars: pl.DataFrame) -> RunResult:
    # The same 40 runs through ml4t-backtest (SMA cross computed with polars per run).

    cfg = BacktestConfig.preset("backtrader", initial_cash=100_000.0)
    extra: dict[str, float] = {}
    total = 0.0
    for fast in SWEEP_FASTS:
        for slow in SWEEP_SLOWS:
            run = ml4t_runs.run_ml4t(
                signals.sma_cross_exact(bars, fast, slow), ml4t_runs.CrossStrategy(SIZE), cfg
            )
            key = f"fast={fast},slow={slow}"
            extra[f"{key}:fills"] = float(run.fills.height)
            extra[f"{key}:value"] = run.final_equity
            total += run.final_equity
    return RunResult(
        engine=ml4t_runs.VERSION, fills=fills_frame([]), final_equity=total, extra=extra
    )


_attach()
