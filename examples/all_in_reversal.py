"""Always in the market, all in: an SMA(10/20) reversal system sized at the next open.

The backtesting.py documentation's SmaCross on bundled AAPL bars (IEX, 2013-2018, daily):
on a cross above, close the short and go long with all the buying power; on a cross below,
close the long and go short. The entry is ``order_percent_at_fill``: its quantity is set
when it fills at the next open, at that open's price with the 0.2% commission included, on
the buying power the closing fill of the same open leaves. No decision uses a price it could
not have known (``check_lookahead`` audits it).

Prints the metrics, the first reversals with their sizes checked by hand, and the audit.
Run: ``uv run python examples/all_in_reversal.py`` (a few seconds).
"""

from __future__ import annotations

import math

import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.strategy import BacktestConfig, BacktestEngine, Strategy, check_lookahead

FAST, SLOW = 10, 20
COMMISSION = 0.002


class AllInReversal(Strategy):
    """Long all in after a cross above, short all in after a cross below."""

    def on_bar(self, bar):
        closes = self.history("close", SLOW + 1)[:, 0]  # ends at this bar
        if closes.shape[0] <= SLOW:
            return
        above_now = closes[-FAST:].mean() > closes[-SLOW:].mean()
        above_before = closes[-FAST - 1 : -1].mean() > closes[-SLOW - 1 : -1].mean()
        if above_now != above_before:
            asset = bar.assets[0]
            self.close_position(asset)  # fills first at the next open (exits first)
            self.order_percent_at_fill(asset, 1.0 if above_now else -1.0)


def main() -> None:
    prices = load_sample_prices(["AAPL"])
    feed = DataFeed.from_polars(prices)
    config = BacktestConfig.preset(
        "backtesting.py", initial_cash=100_000.0, commission={"kind": "percent", "rate": COMMISSION}
    )
    result = BacktestEngine(data_feed=feed, strategy=AllInReversal(), config=config).run()
    print(f"All-in SMA({FAST}/{SLOW}) reversal on AAPL, {feed.n_timestamps} days")
    print(result.summary())

    # By hand: each entry is the most whole shares the cash left by the cover pays for.
    fills = result.fills.sort("timestamp", "order_id")
    cash = config.initial_cash
    checked = 0
    for ts, group in fills.group_by("timestamp", maintain_order=True):
        rows = group.rows(named=True)
        for row in rows[:-1]:  # the closing fill(s) first
            cash -= row["side"] * row["quantity"] * row["price"] + row["commission"]
        entry = rows[-1]
        if len(rows) == 2:  # a reversal: the cover/sale, then the sized entry
            want = math.floor(cash / (entry["price"] * (1 + COMMISSION)))
            assert entry["quantity"] == want, (ts, entry["quantity"], want)
            checked += 1
        cash -= entry["side"] * entry["quantity"] * entry["price"] + entry["commission"]
    print(f"{checked} reversals sized by hand: the same shares as the engine")
    first = fills.head(6).select("timestamp", "side", "quantity", "price", "commission")
    with pl.Config(tbl_rows=6):
        print(first)

    report = check_lookahead(lambda f: AllInReversal(), feed, config, n_cuts=3, seed=7)
    print(
        f"look-ahead audit: {'passed' if report.passed else 'FAILED'} "
        f"({report.decisions_checked} decisions checked at cuts {report.cuts})"
    )
    report.raise_if_failed()


if __name__ == "__main__":
    main()
