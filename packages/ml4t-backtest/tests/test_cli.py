"""End-to-end tests of the installed ``ml4t-backtest`` command, run in subprocesses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.strategy.result import BacktestResult

EXE = shutil.which("ml4t-backtest", path=str(Path(sys.executable).parent)) or shutil.which(
    "ml4t-backtest"
)
pytestmark = pytest.mark.skipif(EXE is None, reason="the ml4t-backtest command is not installed")


def pdf_pages(path: Path) -> int:
    # pypdf is not a dependency of this package: count the page objects in the raw file
    # (matplotlib writes object dictionaries uncompressed). The PDF content itself is tested
    # with pypdf in ml4t-backtest-reporting's tests.
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [str(EXE), *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


STRATEGIES = textwrap.dedent(
    """
    from ml4t.backtest.strategy.strategy import Strategy

    class BuyAndHold(Strategy):
        def __init__(self, asset="AAPL", percent=0.9):
            self.asset = asset
            self.percent = percent

        def on_bar(self, bar):
            if self.get_position(self.asset) == 0:
                self.order_target_percent(self.asset, self.percent)

    class Broken(Strategy):
        def on_bar(self, bar):
            raise ZeroDivisionError("deliberate failure in on_bar")
    """
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    prices = load_sample_prices(["AAPL", "MSFT", "JPM"], start="2016-01-01", end="2016-12-31")
    prices.write_parquet(root / "prices.parquet")
    (root / "strategies.py").write_text(STRATEGIES)
    (root / "run.toml").write_text(
        textwrap.dedent(
            """
            [data]
            path = "prices.parquet"

            [strategy]
            path = "strategies.py:BuyAndHold"
            [strategy.params]
            asset = "MSFT"
            percent = 0.5

            [backtest]
            initial_cash = 50000.0

            [output]
            directory = "out/buy_and_hold"
            tearsheet = "both"
            """
        )
    )
    return root


@pytest.fixture(scope="module")
def ran(workdir: Path) -> subprocess.CompletedProcess[str]:
    return cli("run", "run.toml", cwd=workdir)


class TestUsage:
    def test_version_lists_every_distribution(self, tmp_path: Path) -> None:
        proc = cli("--version", cwd=tmp_path)
        assert proc.returncode == 0
        assert proc.stdout.startswith("ml4t-backtest 0.")
        for dist in ("core", "execution", "portfolio", "strategy", "reporting"):
            assert f"ml4t-backtest-{dist} " in proc.stdout

    def test_unknown_command_is_usage_error_exit_2(self, tmp_path: Path) -> None:
        proc = cli("frobnicate", cwd=tmp_path)
        assert proc.returncode == 2
        assert "No such command 'frobnicate'" in proc.stderr


class TestRun:
    def test_run_writes_result_and_both_tearsheets(
        self, workdir: Path, ran: subprocess.CompletedProcess[str]
    ) -> None:
        assert ran.returncode == 0, ran.stderr
        out = workdir / "out" / "buy_and_hold"
        assert f"Result directory: {out}" in ran.stdout
        assert "bars/s" in ran.stdout
        assert "total_return" in ran.stdout
        assert (out / "tearsheet.html").read_text().startswith("<!DOCTYPE html>")
        assert pdf_pages(out / "tearsheet.pdf") == 5

    def test_result_holds_config_fingerprint_and_run_description(
        self, workdir: Path, ran: subprocess.CompletedProcess[str]
    ) -> None:
        out = workdir / "out" / "buy_and_hold"
        result = BacktestResult.load(out)
        assert result.config is not None
        assert result.config.initial_cash == 50_000.0
        assert result.equity_curve.get_column("equity")[0] == pytest.approx(50_000.0)
        assert result.data["assets"] == ["AAPL", "JPM", "MSFT"]
        assert result.data["hash"]
        assert result.metadata["run"]["strategy"]["params"] == {"asset": "MSFT", "percent": 0.5}
        # Only MSFT was bought, about half of equity.
        assert set(result.fills.get_column("asset").to_list()) == {"MSFT"}
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["complete"] is True

    def test_existing_output_is_one_line_error_without_traceback(
        self, workdir: Path, ran: subprocess.CompletedProcess[str]
    ) -> None:
        proc = cli("run", "run.toml", "--tearsheet", "none", cwd=workdir)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert lines[0].startswith("error: result directory")
        assert "already exists" in lines[0]
        assert lines[1].startswith("hint:")
        assert len(lines) == 2
        assert "Traceback" not in proc.stderr

    def test_debug_shows_the_traceback(self, workdir: Path) -> None:
        proc = cli("--debug", "run", "missing.toml", cwd=workdir)
        assert proc.returncode == 1
        assert "Traceback (most recent call last)" in proc.stderr


class TestReportAndCompare:
    def test_report_pdf_from_result_dir(
        self, workdir: Path, ran: subprocess.CompletedProcess[str]
    ) -> None:
        target = workdir / "report.pdf"
        proc = cli(
            "report", "out/buy_and_hold", "--pdf", "-o", str(target), "--title", "BH", cwd=workdir
        )
        assert proc.returncode == 0, proc.stderr
        assert pdf_pages(target) == 5
        assert b"/Title (BH)" in target.read_bytes()

    def test_compare_two_results(
        self, workdir: Path, ran: subprocess.CompletedProcess[str]
    ) -> None:
        proc = cli("compare", "out/buy_and_hold", "out/buy_and_hold", "-o", "cmp.html", cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert "buy_and_hold (2)" in proc.stdout
        assert 'id="chart-compare"' in (workdir / "cmp.html").read_text()


class TestValidateData:
    def test_lists_every_problem_with_row_numbers(self, tmp_path: Path) -> None:
        (tmp_path / "bad.csv").write_text(
            "timestamp,asset,open,high,low,close,volume\n"
            "2020-01-02,AAPL,10,11,9,10,100\n"
            "2020-01-02,MSFT,20,21,19,20,100\n"
            "2020-01-03,AAPL,10,9,9.5,10,100\n"  # row 2: high below low
            "2020-01-03,MSFT,20,21,19,-1,100\n"  # row 3: negative close
            "2020-01-06,AAPL,10,11,9,10,-5\n"  # row 4: negative volume
            "2020-01-07,MSFT,20,21,19,,100\n"  # row 5: missing close
            "2020-01-08,MSFT,20,19,21,20,100\n"  # row 6: high below low
        )
        proc = cli("validate-data", "bad.csv", cwd=tmp_path)
        assert proc.returncode == 1
        table = {
            line.split("│")[1].strip(): line.split("│")[3].strip()
            for line in proc.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()
        }
        assert table["non_finite_price"] == "5"
        assert table["non_positive_price"] == "3"
        assert table["negative_volume"] == "4"
        assert table["high_below_low"] == "2, 6"
        assert "error: 4 problem(s) in 5 row(s) of bad.csv" in proc.stderr


class TestDemo:
    def test_demo_prints_metrics_and_writes_result_and_tearsheet(self, tmp_path: Path) -> None:
        proc = cli("demo", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        folder = tmp_path / "ml4t-backtest-demo"
        assert f"Result directory: {folder / 'result'}" in proc.stdout
        assert f"Tearsheet: {folder / 'tearsheet.html'}" in proc.stdout
        assert "sharpe" in proc.stdout
        result = BacktestResult.load(folder / "result")
        stored = json.loads((folder / "result" / "metrics.json").read_text())
        assert result.metrics == stored
        total = f"{stored['total_return']:.2%}"
        assert total in proc.stdout
