"""Use ml4t-backtest-execution on its own: price a trade list, then simulate fills on bars.

Needs only ``ml4t-backtest-execution`` (and the core it brings). Data: the real daily bars of
AAPL and MSFT bundled with the core distribution (IEX, 2013-2018; "Data provided for free
by IEX").

Part 1 prices five trades with Interactive Brokers' tiered commission, a 2 bp half spread
and square-root market impact scaled by each stock's 20-day volatility and average volume.

Part 2 feeds 60 days of bars to a `SimulationBroker`: a bracket entry on AAPL and a TWAP sell
of MSFT, with a 2.5% volume cap; a `SimpleAccount` applies the fills.

Run: ``uv run python examples/execution_costs.py``
"""

from __future__ import annotations

import numpy as np

from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.types import format_timestamp
from ml4t.backtest.execution import (
    Order,
    SimpleAccount,
    SimulationBroker,
    SpreadSlippage,
    SquareRootImpact,
    TieredCommission,
    TWAPAlgorithm,
    bracket_order,
)

ASSETS = ["AAPL", "MSFT"]


def load_bars() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    prices = load_sample_prices(ASSETS).sort("timestamp", "asset")
    ts = prices.filter(prices["asset"] == ASSETS[0])["timestamp"].cast(int).to_numpy()
    cols = {}
    for field in ("open", "high", "low", "close", "volume"):
        cols[field] = prices[field].to_numpy().reshape(-1, len(ASSETS))  # (days, assets)
    return ts, cols


def price_trades(cols: dict[str, np.ndarray], day: int) -> None:
    close, volume = cols["close"], cols["volume"]
    returns = np.diff(np.log(close[day - 21 : day + 1]), axis=0)
    vol = returns.std(axis=0, ddof=1)  # daily volatility per asset
    adv = volume[day - 20 : day].mean(axis=0)  # 20-day average daily volume
    commission = TieredCommission.interactive_brokers_us_equity()
    slippage = SpreadSlippage(spread_bps=4.0)  # 4 bp spread -> pay 2 bp
    impact = SquareRootImpact(coefficient=1.0)
    trades = [("AAPL", 500), ("AAPL", 20_000), ("AAPL", 400_000), ("MSFT", 100), ("MSFT", 250_000)]
    print("Part 1: cost of a trade list")
    header = ("asset", "qty", "price", "commission", "spread", "impact", "bp")
    print("{:6} {:>8} {:>9} {:>11} {:>9} {:>10} {:>6}".format(*header))
    for asset, qty in trades:
        j = ASSETS.index(asset)
        price = float(close[day, j])
        fee = commission.commission(qty, price)
        spread = slippage.slippage(price, qty) * qty
        imp = impact.impact(price, qty, volatility=float(vol[j]), adv=float(adv[j])).total * qty
        bps = (fee + spread + imp) / (qty * price) * 1e4
        row = f"{asset:6} {qty:>8,} {price:>9.2f} {fee:>11.2f} {spread:>9.2f} {imp:>10.2f}"
        print(f"{row} {bps:>6.1f}")


def simulate(ts: np.ndarray, cols: dict[str, np.ndarray], start: int, days: int) -> None:
    print("\nPart 2: simulated fills for 60 daily bars")
    account = SimpleAccount(1_000_000.0)
    broker = SimulationBroker(
        ASSETS,
        commission=TieredCommission.interactive_brokers_us_equity(),
        slippage=SpreadSlippage(spread_bps=4.0),
        volume_limit=0.025,
        account=account,
    )
    o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    for t in range(start, start + days):
        fills = broker.process_bar(t, int(ts[t]), o[t], h[t], lo[t], c[t], v[t])
        account.apply_fills(fills)
        if t == start:  # decisions made after seeing the first bar
            entry = float(c[t, 0])
            bracket = bracket_order(
                "AAPL", OrderSide.BUY, 2_000, take_profit=entry * 1.05, stop_loss=entry * 0.97
            )
            broker.submit(bracket.entry)
            broker.submit(Order.market("MSFT", OrderSide.BUY, 10_000))  # sold later by TWAP
        if t == start + 2:
            twap = broker.submit_algo(TWAPAlgorithm("MSFT", OrderSide.SELL, 10_000, slices=5))
        close_fills = broker.process_close(t, int(ts[t]), c[t], v[t])
        account.apply_fills(close_fills)
        for f in fills + close_fills:
            print(
                f"{format_timestamp(f.timestamp)} {f.asset:5} {f.side.name:4} {f.quantity:>7,.0f} "
                f"@ {f.price:8.3f} (ref {f.reference_price:8.3f}) commission {f.commission:6.2f} "
                f"slippage {f.slippage:7.2f} left {f.remaining:>6,.0f}"
            )
        account.mark({a: float(c[t, j]) for j, a in enumerate(ASSETS)})
    print(f"TWAP: {twap.filled_quantity:,.0f} sold at average {twap.average_price:.3f}")
    target, stop = bracket.take_profit.status.name, bracket.stop_loss.status.name
    print(f"AAPL bracket: target {target}, stop {stop}")
    print(f"account: cash {account.cash:,.2f}, equity {account.equity:,.2f}, {account.positions}")


def main() -> None:
    ts, cols = load_bars()
    day = 400  # a day with 20 days of history before it
    price_trades(cols, day)
    simulate(ts, cols, day, 60)


if __name__ == "__main__":
    main()
