"""Error paths and options of the command line, run in-process through `main()` (fast).

The end-to-end subprocess tests of the installed command are in test_cli.py.
"""

from __future__ import annotations

import datetime as dt
import inspect
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ml4t.backtest import cli as cli_module
from ml4t.backtest.cli import main
from ml4t.backtest.cli_run import RunSpec, load_strategy_class
from ml4t.backtest.cli_validate import find_problems
from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy import engine as engine_module
from ml4t.backtest.strategy.result import BacktestResult

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
RUN = '[data]\npath = "prices.parquet"\n[strategy]\npath = "strategies.py:BuyAndHold"\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    prices = load_sample_prices(["AAPL", "MSFT"], start="2016-01-01", end="2016-06-30")
    prices.write_parquet(tmp_path / "prices.parquet")
    (tmp_path / "strategies.py").write_text(STRATEGIES)
    (tmp_path / "run.toml").write_text(RUN + '[output]\ntearsheet = "none"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestUsage:
    def test_missing_argument_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run_main(capsys, "run")
        assert code == 2
        assert "Missing argument 'RUN_FILE'" in err

    def test_unknown_option_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run_main(capsys, "demo", "--colour")
        assert code == 2
        assert "No such option" in err
        assert "--colour" in err

    def test_help_lists_every_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run_main(capsys, "--help")
        assert code == 0
        for command in ("demo", "run", "report", "compare", "validate-data"):
            assert command in out


class TestRunErrors:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("[data\n", "is not valid TOML"),
            (
                '[data]\npath = "prices.parquet"\ncolour = 1\n[strategy]\npath = "a:B"\n',
                "unknown key(s) ['colour'] in [data]",
            ),
            (
                '[data]\npath = "prices.parquet"\n[strategy]\npath = "no_such_mod:X"\n',
                "cannot import strategy module 'no_such_mod'",
            ),
            (
                '[data]\npath = "nope.parquet"\n[strategy]\npath = "strategies.py:BuyAndHold"\n',
                "nope.parquet' does not exist",
            ),
            (RUN + "[strategy.params]\nbogus = 1\n", "[strategy.params] do not fit"),
            (RUN + "[backtest]\ninitial_cash = -5\n", "initial_cash"),
            (RUN + '[output]\ntearsheet = "png"\n', "tearsheet = 'png' is not one of"),
            ('[strategy]\npath = "a:B"\n', "needs a [data] table"),
        ],
    )
    def test_bad_run_file_is_exit_1_with_one_line_and_hint(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
    ) -> None:
        (workdir / "bad.toml").write_text(content)
        code, _, err = run_main(capsys, "run", "bad.toml")
        assert code == 1
        lines = err.strip().splitlines()
        assert lines[0].startswith("error: ")
        assert message in lines[0]
        assert lines[-1].startswith("hint: ")
        assert "Traceback" not in err

    def test_strategy_error_leaves_no_result_and_debug_prints_its_traceback(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "broken.toml").write_text(RUN.replace("BuyAndHold", "Broken"))
        code, _, err = run_main(capsys, "run", "broken.toml")
        assert code == 1
        assert "deliberate failure in on_bar" in err
        assert "hint: the strategy raised" in err
        assert not (workdir / "broken-result").exists()
        code, _, err = run_main(capsys, "--debug", "run", "broken.toml")
        assert code == 1
        assert "Traceback (most recent call last)" in err
        assert "ZeroDivisionError" in err

    def test_bad_data_suggests_validate_data(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        prices = pl.read_parquet(workdir / "prices.parquet")
        prices.with_columns(
            pl.when(pl.int_range(pl.len()) == 3)
            .then(-1.0)
            .otherwise(pl.col("close"))
            .alias("close")
        ).write_parquet(workdir / "prices.parquet")
        code, _, err = run_main(capsys, "run", "run.toml")
        assert code == 1
        assert "row 3" in err
        assert "validate-data" in err
        (workdir / "fix.toml").write_text(
            RUN.replace('.parquet"\n', '.parquet"\nrepair = "drop"\n', 1)
        )
        code, _, err = run_main(capsys, "run", "fix.toml")
        assert code == 0, err


class TestRunFlow:
    def test_overwrite_and_reproduce_from_saved_run_file(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run_main(capsys, "run", "run.toml")
        assert code == 0, err
        first = BacktestResult.load(workdir / "run-result")
        code, _, err = run_main(capsys, "run", "run.toml")
        assert code == 1
        assert "add --overwrite" in err
        code, _, err = run_main(capsys, "run", "run.toml", "--overwrite")
        assert code == 0, err
        # The run file saved with the result repeats the run exactly.
        saved_run = workdir / "run-result" / "run.toml"
        code, _, err = run_main(capsys, "run", str(saved_run), "-o", "again")
        assert code == 0, err
        again = BacktestResult.load(workdir / "again")
        assert again.metrics == first.metrics
        assert again.equity_curve.equals(first.equity_curve)

    def test_progress_bar_is_fed_when_the_engine_reports_progress(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[tuple[int, int]] = []
        real = engine_module.BacktestEngine

        class ReportingEngine(real):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, progress: Any = None, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._progress = progress

            def run(self) -> BacktestResult:
                result = super().run()
                total = self.feed.n_timestamps
                for done in (total // 2, total):
                    calls.append((done, total))
                    self._progress(done, total)
                return result

        assert "progress" in inspect.signature(ReportingEngine).parameters
        monkeypatch.setattr(engine_module, "BacktestEngine", ReportingEngine)
        code, out, err = run_main(capsys, "run", "run.toml")
        assert code == 0, err
        assert calls[-1][0] == calls[-1][1] > 0
        assert f"{calls[-1][1]}/{calls[-1][1]}" in out
        assert "bars/s" in out

    def test_report_of_a_folder_that_is_not_a_result(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "empty").mkdir()
        code, _, err = run_main(capsys, "report", "empty")
        assert code == 1
        assert "not a complete result directory" in err
        assert "hint: pass a directory written by" in err

    def test_report_pdf_needs_pdf_suffix(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_main(capsys, "run", "run.toml")[0] == 0
        code, _, err = run_main(capsys, "report", "run-result", "--pdf", "-o", "x.html")
        assert code == 1
        assert "--pdf writes a .pdf file" in err


class TestRunSpec:
    def test_paths_are_relative_to_the_run_file(self, tmp_path: Path) -> None:
        sub = tmp_path / "cfg"
        sub.mkdir()
        (sub / "r.toml").write_text(
            '[data]\npath = "../p.parquet"\n[strategy]\npath = "s.py:X"\n'
            '[output]\ndirectory = "res"\ntearsheet = "PDF"\n'
        )
        spec = RunSpec.from_file(sub / "r.toml")
        assert spec.data["path"] == str((tmp_path / "p.parquet").resolve())
        assert spec.strategy_path == f"{(sub / 's.py').resolve()}:X"
        assert spec.output == (sub / "res").resolve()
        assert spec.tearsheet == "pdf"

    def test_both_path_and_dataset_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "r.toml").write_text(
            '[data]\npath = "a.csv"\ndataset = "sp500_sample"\n[strategy]\npath = "m:X"\n'
        )
        with pytest.raises(ConfigError, match="exactly one of"):
            RunSpec.from_file(tmp_path / "r.toml")

    def test_strategy_class_must_be_a_strategy(self) -> None:
        with pytest.raises(ConfigError, match="does not name a Strategy subclass"):
            load_strategy_class("ml4t.backtest.cli_run:RunSpec")
        with pytest.raises(ConfigError, match="must look like"):
            load_strategy_class("no_colon")


class TestValidateData:
    def _frame(self) -> pl.DataFrame:
        days = [dt.datetime(2020, 1, d) for d in (2, 2, 3, 3, 6, 7, 8)]
        return pl.DataFrame(
            {
                "timestamp": days,
                "asset": ["A", "B", "A", "B", "A", "B", "B"],
                "open": [10.0, 20.0, 10.0, 20.0, 10.0, 20.0, 20.0],
                "high": [11.0, 21.0, 9.0, 21.0, 11.0, 21.0, 19.0],
                "low": [9.0, 19.0, 9.5, 19.0, 9.0, 19.0, 21.0],
                "close": [10.0, 20.0, 10.0, -1.0, 10.0, None, 20.0],
                "volume": [1.0, 1.0, 1.0, 1.0, -5.0, 1.0, 1.0],
            }
        )

    def test_find_problems_lists_each_check_with_rows(self) -> None:
        problems = {p.check: p for p in find_problems(self._frame())}
        assert problems["non_finite_price"].rows == (5,)
        assert problems["non_positive_price"].rows == (3,)
        assert problems["negative_volume"].rows == (4,)
        assert problems["high_below_low"].rows == (2, 6)
        assert problems["high_below_low"].count == 2
        assert "repair" in problems["high_below_low"].fix

    def test_cli_clean_and_structural(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        good = self._frame().head(2)
        good.write_parquet(tmp_path / "good.parquet")
        code, out, _ = run_main(capsys, "validate-data", str(tmp_path / "good.parquet"))
        assert code == 0
        assert "passes every check (2 rows)" in out
        good.drop("volume").write_csv(tmp_path / "thin.csv")
        code, out, err = run_main(capsys, "validate-data", str(tmp_path / "thin.csv"))
        assert code == 1
        assert "missing_columns" in out
        code, _, err = run_main(capsys, "validate-data", str(tmp_path / "x.txt"))
        assert code == 1
        assert "does not exist" in err


def test_module_exports() -> None:
    assert cli_module.EXIT_USAGE == 2
    assert set(cli_module.__all__) == {"EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli", "main"}
