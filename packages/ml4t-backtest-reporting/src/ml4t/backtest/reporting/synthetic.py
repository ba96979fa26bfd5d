"""A reproducible, internally consistent synthetic result, for reporter tests and benchmarks.

`synthetic_result` simulates a long/short book on random-walk prices with exact accounting:
every `rebalance_every` bars all positions are closed and new ones opened (one fill each, at the
bar's price moved against the trader by `slippage_bps`, plus a per-share commission), shorts pay
a borrow fee each bar, and equity is ``cash + sum(quantity * price)`` on every bar. The frames
follow the contract schemas, so anything that renders them renders a real run's result too.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

import numpy as np
import polars as pl

from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.result import (
    EQUITY_CURVE_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    POSITIONS_SCHEMA,
    TRADES_SCHEMA,
    BacktestResult,
)

__all__ = ["synthetic_result"]

_COMMISSION_PER_SHARE: Final = 0.005  # USD per share
_BORROW_RATE: Final = 0.005  # per year, on short market value
_BARS_PER_YEAR: Final = 252


def synthetic_result(
    n_assets: int = 20,
    n_bars: int = 756,
    *,
    seed: int = 0,
    initial_cash: float = 1_000_000.0,
    rebalance_every: int = 21,
    holdings_fraction: float = 0.2,
    slippage_bps: float = 2.0,
    start: dt.date = dt.date(2015, 1, 2),
    step: dt.timedelta | None = None,
) -> BacktestResult:
    """Return a synthetic long/short `BacktestResult` on weekday bars from `start`.

    Args:
        n_assets: Number of assets (named ``A000``, ``A001``, ...), >= 2.
        n_bars: Number of daily bars, >= 2.
        seed: Seed of the random prices and picks.
        initial_cash: Starting cash.
        rebalance_every: Bars between rebalances, >= 1.
        holdings_fraction: Fraction of assets held long, and the same fraction short.
        slippage_bps: Fill price moved against the trader by this many basis points.
        start: First bar's date; daily bars are stamped 21:00 UTC on weekdays.
        step: Fixed time between bars (e.g. one minute) instead of weekday daily bars; the
            borrow fee and the Sharpe metric still assume 252 bars a year.

    Returns:
        A result whose frames follow the contract schemas; metrics hold ``borrow_cost``,
        ``total_return`` and ``sharpe``.

    Example:
        >>> r = synthetic_result(4, 30, seed=1)
        >>> r.equity_curve.height, r.trades.height > 0
        (30, True)
        >>> eq = r.equity_curve.row(-1, named=True)
        >>> abs(eq["equity"] - eq["cash"] - eq["market_value"]) < 1e-6
        True
    """
    if n_assets < 2 or n_bars < 2 or rebalance_every < 1:
        raise ValueError(
            f"need n_assets >= 2, n_bars >= 2, rebalance_every >= 1; were {n_assets}, {n_bars}, "
            f"{rebalance_every}"
        )
    rng = np.random.default_rng(seed)
    assets = [f"A{i:03d}" for i in range(n_assets)]
    if step is None:
        times = _weekday_times(start, n_bars)
    else:
        first = dt.datetime(start.year, start.month, start.day, 14, 30, tzinfo=dt.UTC)
        times = [first + i * step for i in range(n_bars)]
    drift = rng.normal(0.0002, 0.0003, n_assets)
    vol = rng.uniform(0.01, 0.025, n_assets)
    if step is not None:  # scale daily drift and volatility to the bar length (6.5 h day)
        scale = step.total_seconds() / (6.5 * 3600)
        drift, vol = drift * scale, vol * math.sqrt(scale)
    log_ret = rng.normal(drift, vol, (n_bars, n_assets))
    log_ret[0] = 0.0
    prices = 50.0 * np.exp(rng.normal(0, 0.5, n_assets)) * np.exp(np.cumsum(log_ret, axis=0))

    k = max(1, int(n_assets * holdings_fraction))
    slip = slippage_bps * 1e-4
    cash = initial_cash
    qty = np.zeros(n_assets)
    entry_price = np.zeros(n_assets)
    entry_bar = np.zeros(n_assets, dtype=np.int64)
    borrow_rate_bar = _BORROW_RATE / _BARS_PER_YEAR

    equity = np.empty(n_bars)
    cash_path = np.empty(n_bars)
    long_mv = np.empty(n_bars)
    short_mv = np.empty(n_bars)
    fills: dict[str, list[object]] = {name: [] for name in FILLS_SCHEMA}
    trades: dict[str, list[object]] = {name: [] for name in TRADES_SCHEMA}
    trade_cost: dict[int, tuple[float, float]] = {}  # asset -> entry (commission, slippage)
    pos_t: list[np.ndarray] = []
    pos_a: list[np.ndarray] = []
    pos_q: list[np.ndarray] = []
    order_id = 0
    borrow_total = 0.0

    def fill(t: int, a: int, signed: float, tag: str) -> tuple[float, float, float]:
        nonlocal cash, order_id
        side = 1 if signed > 0 else -1
        ref = prices[t, a]
        price = ref * (1.0 + side * slip)
        quantity = abs(signed)
        commission = quantity * _COMMISSION_PER_SHARE
        slippage = quantity * ref * slip
        cash -= signed * price + commission
        order_id += 1
        for name, value in zip(
            FILLS_SCHEMA,
            (
                times[t],
                order_id,
                assets[a],
                side,
                quantity,
                price,
                ref,
                commission,
                slippage,
                0.0,
                0.0,
                1.0,
                tag,
            ),
            strict=True,
        ):
            fills[name].append(value)
        return price, commission, slippage

    def close(t: int, a: int, reason: str) -> None:
        signed = float(qty[a])
        price, commission, slippage = fill(t, a, -signed, reason)
        side = 1 if signed > 0 else -1
        e0 = int(entry_bar[a])
        path = prices[e0 : t + 1, a] / entry_price[a] - 1.0
        entry_commission, entry_slippage = trade_cost.pop(a)
        gross = (price - entry_price[a]) * signed
        total_commission = entry_commission + commission
        net = gross - total_commission
        for name, value in zip(
            TRADES_SCHEMA,
            (
                assets[a],
                side,
                abs(signed),
                times[e0],
                times[t],
                float(entry_price[a]),
                price,
                gross,
                net,
                total_commission,
                entry_slippage + slippage,
                net / (entry_price[a] * abs(signed)),
                float(path.min() if side > 0 else -path.max()),
                float(path.max() if side > 0 else -path.min()),
                t - e0,
                reason,
            ),
            strict=True,
        ):
            trades[name].append(value)
        qty[a] = 0.0

    for t in range(n_bars):
        if t % rebalance_every == 0 and t < n_bars - 1:
            for a in np.flatnonzero(qty):
                close(t, int(a), "rebalance")
            equity_now = cash
            picks = rng.permutation(n_assets)
            target = np.zeros(n_assets)
            target[picks[:k]] = 0.5 / k
            target[picks[k : 2 * k]] = -0.5 / k
            for a in np.flatnonzero(target):
                wanted = abs(target[a]) * equity_now / max(prices[t, a], 1e-9)
                shares = math.floor(wanted) if math.isfinite(wanted) else 0
                if shares == 0:
                    continue
                signed = math.copysign(shares, target[a])
                price, commission, slippage = fill(t, int(a), signed, "rebalance")
                qty[a] = signed
                entry_price[a] = price
                entry_bar[a] = t
                trade_cost[int(a)] = (commission, slippage)
        if t == n_bars - 1:
            for a in np.flatnonzero(qty):
                close(t, int(a), "end")
        mv = qty * prices[t]
        borrow = float(-mv[mv < 0].sum()) * borrow_rate_bar
        cash -= borrow
        borrow_total += borrow
        held = np.flatnonzero(qty)
        pos_t.append(np.full(held.size, t))
        pos_a.append(held)
        pos_q.append(qty[held].copy())
        long_mv[t] = mv[mv > 0].sum()
        short_mv[t] = mv[mv < 0].sum()
        cash_path[t] = cash
        equity[t] = cash + mv.sum()

    equity_curve = _equity_frame(times, equity, cash_path, long_mv, short_mv)
    pt = np.concatenate(pos_t) if pos_t else np.empty(0, dtype=np.int64)
    pa = np.concatenate(pos_a) if pos_a else np.empty(0, dtype=np.int64)
    pq = np.concatenate(pos_q) if pos_q else np.empty(0)
    positions = pl.DataFrame(
        {
            "timestamp": pl.Series([times[i] for i in pt], dtype=POSITIONS_SCHEMA["timestamp"]),
            "asset": [assets[i] for i in pa],
            "quantity": pq,
            "market_value": pq * prices[pt, pa],
        },
        schema=POSITIONS_SCHEMA,
    )
    fills_frame = pl.DataFrame(fills, schema=FILLS_SCHEMA)
    orders = fills_frame.select(
        "order_id",
        pl.col("timestamp").alias("created_at"),
        pl.col("timestamp").alias("updated_at"),
        "asset",
        "side",
        "quantity",
        pl.lit("MARKET").alias("order_type"),
        pl.lit(None, dtype=pl.Float64).alias("limit_price"),
        pl.lit(None, dtype=pl.Float64).alias("stop_price"),
        pl.lit("DAY").alias("time_in_force"),
        pl.lit("FILLED").alias("status"),
        pl.col("quantity").alias("filled_quantity"),
        pl.col("price").alias("average_fill_price"),
        pl.lit("").alias("reason"),
        "tag",
    ).cast(ORDERS_SCHEMA)  # type: ignore[arg-type]
    returns = equity_curve.get_column("returns").to_numpy()[1:]
    std = float(np.std(returns, ddof=1)) if returns.size > 1 else 0.0
    metrics = {
        "total_return": float(equity[-1] / equity[0] - 1.0),
        "sharpe": float(np.mean(returns) / std * math.sqrt(_BARS_PER_YEAR)) if std else math.nan,
        "max_drawdown": float(equity_curve.get_column("drawdown").min()),  # type: ignore[arg-type]
        "borrow_cost": borrow_total,
        "trades": float(len(trades["asset"])),
    }
    return BacktestResult(
        equity_curve=equity_curve,
        trades=pl.DataFrame(trades, schema=TRADES_SCHEMA),
        fills=fills_frame,
        orders=orders,
        positions=positions,
        metrics=metrics,
        config=BacktestConfig(initial_cash=initial_cash),
        metadata={"strategy": "synthetic long/short", "seed": seed},
    )


def _weekday_times(start: dt.date, n: int) -> list[dt.datetime]:
    out: list[dt.datetime] = []
    day = start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(dt.datetime(day.year, day.month, day.day, 21, tzinfo=dt.UTC))
        day += dt.timedelta(days=1)
    return out


def _equity_frame(
    times: list[dt.datetime],
    equity: np.ndarray,
    cash: np.ndarray,
    long_mv: np.ndarray,
    short_mv: np.ndarray,
) -> pl.DataFrame:
    gross = long_mv - short_mv
    returns = np.zeros_like(equity)
    returns[1:] = equity[1:] / equity[:-1] - 1.0
    peak = np.maximum.accumulate(equity)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(times, dtype=EQUITY_CURVE_SCHEMA["timestamp"]),
            "equity": equity,
            "cash": cash,
            "market_value": long_mv + short_mv,
            "gross_exposure": gross,
            "net_exposure": long_mv + short_mv,
            "long_exposure": long_mv,
            "short_exposure": short_mv,
            "leverage": gross / equity,
            "returns": returns,
            "drawdown": equity / peak - 1.0,
        },
        schema=EQUITY_CURVE_SCHEMA,
    )
