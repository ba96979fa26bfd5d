"""Run a small backtest, save it, reload it, and write HTML and PDF tearsheets and a comparison.

Two momentum rotations (3 and 6 assets held) on the bundled S&P 500 sample; prints where the
files are. Run: ``uv run python examples/report_demo.py`` (about 20 s).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from ml4t.backtest.cli_demo import MomentumRotation
from ml4t.backtest.core.datasets import load_sample_prices, sample_feed
from ml4t.backtest.reporting import compare, write_comparison, write_tearsheet
from ml4t.backtest.strategy import BacktestConfig, BacktestEngine, BacktestResult


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ml4t-report-demo-"))
    feed = sample_feed()
    config = BacktestConfig(initial_cash=100_000.0)
    results = []
    for top in (3, 6):
        result = BacktestEngine(feed, MomentumRotation(top=top), config).run()
        saved = result.save(folder / f"top{top}", feed=feed)
        results.append(BacktestResult.load(saved))  # exactly what was saved
    # An equal-weight benchmark built from the same prices: mean daily return of all stocks.
    prices = load_sample_prices()
    daily = (
        prices.sort("asset", "timestamp")
        .with_columns(pl.col("close").pct_change().over("asset").alias("r"))
        .group_by("timestamp")
        .agg(pl.col("r").mean())
        .sort("timestamp")
    )
    bench = daily.select("timestamp", (1.0 + pl.col("r").fill_null(0.0)).cum_prod().alias("value"))
    html = write_tearsheet(results[0], folder / "top3.html", benchmark=bench, title="Top 3")
    pdf = write_tearsheet(results[0], folder / "top3.pdf", benchmark=bench, title="Top 3")
    page = write_comparison(results, folder / "compare.html")
    table = compare(results)
    with pl.Config(tbl_rows=40, float_precision=4):
        print(table)
    print(f"result directories: {folder / 'top3'}, {folder / 'top6'}")
    print(f"tearsheets:         {html}, {pdf}")
    print(f"comparison:         {page}")


if __name__ == "__main__":
    main()
