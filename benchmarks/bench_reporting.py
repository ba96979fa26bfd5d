"""Tearsheet rendering speed and size on a large result (500 assets, 10 years of daily bars).

Prints the time to build the synthetic result, to compute the tearsheet content, to write the
HTML and the PDF, the file sizes, and the peak RSS. Run:
``uv run python benchmarks/bench_reporting.py`` (``--assets`` / ``--bars`` to change the size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

from ml4t.backtest.reporting.content import TearsheetContent
from ml4t.backtest.reporting.html_report import write_html
from ml4t.backtest.reporting.pdf_report import write_pdf
from ml4t.backtest.reporting.synthetic import synthetic_result
from ml4t.backtest.strategy.persistence import load_result, save_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--minutes", action="store_true", help="1-minute bars instead of daily")
    args = parser.parse_args()
    step = dt.timedelta(minutes=1) if args.minutes else None

    t0 = time.perf_counter()
    result = synthetic_result(args.assets, args.bars, seed=0, step=step)
    t_build = time.perf_counter() - t0
    print(
        f"result: {args.assets} assets x {args.bars} bars; trades={result.trades.height:,} "
        f"fills={result.fills.height:,} position rows={result.positions.height:,} "
        f"(built in {t_build:.2f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        content = TearsheetContent.from_result(result)
        t_content = time.perf_counter() - t0
        t0 = time.perf_counter()
        html = write_html(content, folder / "report.html")
        t_html = time.perf_counter() - t0
        t0 = time.perf_counter()
        pdf = write_pdf(content, folder / "report.pdf")
        t_pdf = time.perf_counter() - t0
        t0 = time.perf_counter()
        saved = save_result(result, folder / "result")
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_result(saved)
        t_load = time.perf_counter() - t0
        size_dir = sum(f.stat().st_size for f in saved.iterdir())
        print(f"content (analysis + downsampling): {t_content:6.2f} s")
        html_mb, pdf_mb = html.stat().st_size / 1e6, pdf.stat().st_size / 1e6
        print(f"HTML write:                        {t_html:6.2f} s   {html_mb:6.2f} MB")
        print(f"PDF write:                         {t_pdf:6.2f} s   {pdf_mb:6.2f} MB")
        print(f"tearsheet total (content + HTML):  {t_content + t_html:6.2f} s")
        print(f"save_result:                       {t_save:6.2f} s   {size_dir / 1e6:6.2f} MB")
        print(f"load_result (checksums verified):  {t_load:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
