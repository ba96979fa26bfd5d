"""The tearsheet writers: HTML self-contained with every section, PDF readable back."""

from __future__ import annotations

import datetime as dt
import re
from importlib import metadata
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.reporting import TearsheetContent, write_tearsheet
from ml4t.backtest.reporting.analysis import drawdown
from ml4t.backtest.reporting.html_report import CHART_IDS
from ml4t.backtest.reporting.synthetic import synthetic_result
from ml4t.backtest.strategy.result import BacktestResult


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return synthetic_result(40, 800, seed=11)


@pytest.fixture(scope="module")
def html_text(result: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_tearsheet(result, tmp_path_factory.mktemp("ts") / "report.html")
    return path.read_text(encoding="utf-8")


class TestHtml:
    def test_every_chart_is_present_once(self, html_text: str) -> None:
        for chart in CHART_IDS:
            assert html_text.count(f'id="chart-{chart}"') == 1, chart

    def test_plotly_js_is_inline_exactly_once_and_nothing_is_loaded_from_elsewhere(
        self, html_text: str
    ) -> None:
        # The plotly.js bundle starts with its version banner.
        assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", html_text)) == 1
        assert "<script src=" not in html_text
        assert "<link" not in html_text
        assert "@import" not in html_text

    def test_sections_and_tables(self, html_text: str, result: BacktestResult) -> None:
        for heading in (
            "Equity",
            "Underwater",
            "Monthly returns",
            "Yearly returns",
            "Rolling Sharpe and volatility",
            "Exposure and leverage",
            "Distribution of bar returns",
            "Trade P&amp;L distribution",
            "MAE vs MFE",
            "Costs breakdown",
            "Top drawdowns",
            "Per-asset contribution",
            "Configuration",
        ):
            assert heading in html_text, heading
        assert "best and worst 15 of 40" in html_text
        assert "initial_cash = 1000000.0" in html_text  # the config, as TOML
        assert f"{result.trades.height:,} trades" in html_text

    def test_benchmark_is_drawn_and_summarised(
        self, result: BacktestResult, tmp_path: Path
    ) -> None:
        ts = result.equity_curve.get_column("timestamp")
        bench = pl.DataFrame({"timestamp": ts, "close": [100.0 + i * 0.01 for i in range(len(ts))]})
        text = write_tearsheet(result, tmp_path / "b.html", benchmark=bench).read_text()
        assert '"name":"Benchmark"' in text
        assert "Benchmark total return" in text
        expected = f"{(100.0 + (len(ts) - 1) * 0.01) / 100.0 - 1.0:.2%}"
        assert expected in text

    def test_long_series_are_downsampled_for_display_only(self, tmp_path: Path) -> None:
        r = synthetic_result(3, 1_200, seed=2)
        before = r.equity_curve.clone()
        content = TearsheetContent.from_result(r, max_points=300)
        assert len(content.equity.x) == 300
        assert len(content.drawdown.y) == 300
        assert r.equity_curve.equals(before)
        # The deepest point of the drawdown survives downsampling.
        full = r.equity_curve.get_column("equity").to_numpy()
        assert content.drawdown.y.min() == pytest.approx(drawdown(full).min())

    def test_result_without_trades_still_renders(self, tmp_path: Path) -> None:
        r = synthetic_result(3, 100)
        empty = BacktestResult(
            r.equity_curve,
            r.trades.clear(),
            r.fills.clear(),
            r.orders.clear(),
            r.positions.clear(),
            {},
            r.config,
        )
        text = write_tearsheet(empty, tmp_path / "e.html").read_text()
        assert "No closed trades." in text
        assert "Total return" in text  # computed from the equity curve when metrics are empty

    def test_empty_equity_curve_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="equity_curve is empty"):
            write_tearsheet(BacktestResult.empty(), tmp_path / "x.html")

    def test_unknown_suffix_is_refused(self, result: BacktestResult, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"suffix '\.png'"):
            write_tearsheet(result, tmp_path / "x.png")

    def test_missing_directory_is_refused(self, result: BacktestResult, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="does not exist"):
            write_tearsheet(result, tmp_path / "nope" / "x.html")


class TestEntryPoint:
    def test_reporter_is_registered(self) -> None:
        eps = metadata.entry_points(group="ml4t.backtest.reporters", name="tearsheet")
        assert [ep.value for ep in eps] == ["ml4t.backtest.reporting.tearsheet:write_tearsheet"]

    def test_result_tearsheet_finds_the_writer(
        self, result: BacktestResult, tmp_path: Path
    ) -> None:
        out = result.tearsheet(tmp_path / "via_result.html")
        assert Path(out).read_text().startswith("<!DOCTYPE html>")

    def test_saved_and_loaded_result_renders_with_provenance(
        self, result: BacktestResult, tmp_path: Path
    ) -> None:
        saved = result.save(tmp_path / "run")
        loaded = BacktestResult.load(saved)
        text = write_tearsheet(loaded, tmp_path / "loaded.html").read_text()
        assert "Reproduction" in text
        assert "polars" in text  # library versions recorded by save()


class TestPdf:
    def test_pdf_has_five_pages_with_the_sections_as_text(
        self, result: BacktestResult, tmp_path: Path
    ) -> None:
        path = write_tearsheet(result, tmp_path / "report.pdf")
        reader = PdfReader(path)
        assert len(reader.pages) == 5
        text = "\n".join(page.extract_text() for page in reader.pages)
        for needle in (
            "Backtest tearsheet",
            "Summary",
            "Equity",
            "Underwater",
            "Monthly returns",
            "Rolling Sharpe",
            "Exposure",
            "Trade P&L distribution",
            "MAE vs MFE",
            "Costs breakdown",
            "Top drawdowns",
            "Per-asset contribution",
            "Configuration",
            "initial_cash",
        ):
            assert needle in text, needle
        assert reader.metadata is not None
        assert reader.metadata.title == "Backtest tearsheet"

    def test_pdf_title_and_metric_values(self, tmp_path: Path) -> None:
        r = synthetic_result(4, 120, seed=5)
        path = write_tearsheet(r, tmp_path / "r.pdf", title="My strategy")
        first = PdfReader(path).pages[0].extract_text()
        assert "My strategy" in first
        assert f"{r.metrics['total_return']:.2%}" in first


def test_daily_dates_are_shown_without_time(result: BacktestResult) -> None:
    content = TearsheetContent.from_result(result)
    first = result.equity_curve.get_column("timestamp")[0]
    assert content.equity.x[0] == first.date().isoformat()
    assert isinstance(first, dt.datetime)
