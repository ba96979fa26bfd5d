"""The ``ml4t-backtest`` command line.

Commands: ``demo``, ``run RUN.toml``, ``report RESULT_DIR``, ``compare DIR...``,
``validate-data FILE``; options ``--version`` and ``--debug``. Exit codes: 0 success, 1 the
command ran and failed (bad data, strategy error, problems found), 2 bad usage (unknown
command or option, missing argument). Errors print one line and a hint; ``--debug`` prints the
full traceback instead.
"""

from __future__ import annotations

import inspect
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ml4t.backtest.core.errors import (
    BacktestError,
    ConfigError,
    DataValidationError,
    MissingDependencyError,
    StrategyError,
)
from ml4t.backtest.strategy.persistence import ResultFormatError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli", "main"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
DISTRIBUTIONS: Final = (
    "ml4t-backtest",
    "ml4t-backtest-core",
    "ml4t-backtest-execution",
    "ml4t-backtest-portfolio",
    "ml4t-backtest-strategy",
    "ml4t-backtest-reporting",
)
DEMO_OUTPUT: Final = "ml4t-backtest-demo"
PROGRESS_EVERY: Final = 64  # bars between progress updates when the engine reports progress

# Markup off: paths, messages and metric names may contain [brackets].
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class ProblemsFoundError(BacktestError, ValueError):
    """validate-data found problems (exit code 1); the table above says which."""


@dataclass(slots=True)
class _State:
    debug: bool = False


_STATE = _State()


# --- the group -------------------------------------------------------------------------------


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    versions = []
    for dist in DISTRIBUTIONS:
        try:
            versions.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            versions.append((dist, "not installed"))
    out.print(f"ml4t-backtest {versions[0][1]}")
    for dist, version in versions[1:]:
        out.print(f"  {dist} {version}")
    ctx.exit(EXIT_OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of the ml4t-backtest distributions and exit.",
)
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
def cli(debug: bool) -> None:
    """Event-driven backtesting: run strategies, and report, compare and check results."""
    _STATE.debug = _STATE.debug or debug


# --- commands --------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(DEMO_OUTPUT),
    show_default=True,
    help="Folder for the result directory and the tearsheet(s); replaced if it exists.",
)
@click.option("--pdf", is_flag=True, help="Also write the PDF tearsheet.")
def demo(output: Path, pdf: bool) -> None:
    """Run the demo backtest on the bundled sample data and write its report.

    Momentum rotation over 33 large US stocks (daily, 2013-02 .. 2018-02): every 21 sessions
    hold the 5 with the best 126-session return. Prints the metrics, then writes OUTPUT/result
    (reload it with BacktestResult.load) and OUTPUT/tearsheet.html.
    """
    from ml4t.backtest.cli_demo import DEMO_STRATEGY_PATH, MomentumRotation, demo_config  # noqa: PLC0415
    from ml4t.backtest.core.datasets import SAMPLE_DATASET, sample_feed  # noqa: PLC0415

    strategy = MomentumRotation()
    config = demo_config()
    feed = sample_feed()
    out.print(
        f"Demo: momentum rotation on {len(feed.assets)} stocks, {feed.n_timestamps:,} sessions "
        f"(bundled {SAMPLE_DATASET!r}, data provided for free by IEX)"
    )
    result = _run_with_progress(feed, strategy, config)
    run = {
        "data": {"dataset": SAMPLE_DATASET},
        "strategy": {
            "path": DEMO_STRATEGY_PATH,
            "params": {
                "lookback": strategy.lookback,
                "top": strategy.top,
                "rebalance_every": strategy.rebalance_every,
            },
        },
        "backtest": config.to_dict(),
    }
    output.mkdir(parents=True, exist_ok=True)
    _finish(
        result,
        output / "result",
        run=run,
        feed=feed,
        overwrite=True,
        tearsheet="both" if pdf else "html",
        tearsheet_dir=output,
        title="ml4t-backtest demo: momentum rotation",
    )


@cli.command()
@click.argument("run_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Result directory (default: [output] directory of the run file).",
)
@click.option(
    "--tearsheet",
    type=click.Choice(["html", "pdf", "both", "none"]),
    default=None,
    help="Tearsheet format(s) written into the result directory (default: from the run file).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing result directory.")
def run(run_file: Path, output: Path | None, tearsheet: str | None, overwrite: bool) -> None:
    """Run the backtest described by RUN_FILE (TOML: [data], [strategy], [backtest], [output]).

    See docs/cli.md for the format. Prints a metrics table and writes the result directory
    with the tearsheet inside it.
    """
    from ml4t.backtest.cli_run import RunSpec  # noqa: PLC0415

    spec = RunSpec.from_file(run_file)
    feed = spec.build_feed()
    strategy = spec.build_strategy()
    out.print(
        f"Running {spec.strategy_path} on {len(feed.assets):,} assets x {feed.n_timestamps:,} bars"
    )
    result = _run_with_progress(feed, strategy, spec.config)
    _finish(
        result,
        output.resolve() if output is not None else spec.output,
        run=spec.as_run_file(),
        feed=feed,
        overwrite=overwrite,
        tearsheet=tearsheet or spec.tearsheet,
        tearsheet_dir=None,
        title=f"{type(strategy).__name__} tearsheet",
    )


@cli.command()
@click.argument("result_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pdf", is_flag=True, help="Write a PDF instead of HTML.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: RESULT_DIR/tearsheet.html or .pdf).",
)
@click.option("--title", default=None, help="Report title.")
def report(result_dir: Path, pdf: bool, output: Path | None, title: str | None) -> None:
    """Write the tearsheet of a saved result directory (HTML, or PDF with --pdf)."""
    from ml4t.backtest.reporting.tearsheet import write_tearsheet  # noqa: PLC0415
    from ml4t.backtest.strategy.result import BacktestResult  # noqa: PLC0415

    result = BacktestResult.load(result_dir)
    target = output or result_dir / ("tearsheet.pdf" if pdf else "tearsheet.html")
    if pdf and target.suffix.lower() != ".pdf":
        raise ConfigError(f"--pdf writes a .pdf file; --output was {str(target)!r}")
    written = write_tearsheet(result, target, title=title)
    _metrics_table(result.metrics, "Metrics")
    out.print(f"Tearsheet: {written}")


@cli.command()
@click.argument(
    "result_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("compare.html"),
    show_default=True,
    help="HTML page with the metrics table and the equity/drawdown overlay.",
)
def compare(result_dirs: tuple[Path, ...], output: Path) -> None:
    """Compare saved results: metrics side by side and an overlay chart."""
    from ml4t.backtest.reporting.compare import compare as compare_results  # noqa: PLC0415
    from ml4t.backtest.reporting.compare import write_comparison  # noqa: PLC0415
    from ml4t.backtest.reporting.content import format_metric  # noqa: PLC0415
    from ml4t.backtest.strategy.result import BacktestResult  # noqa: PLC0415

    results = [BacktestResult.load(path) for path in result_dirs]
    table = compare_results(results)
    view = Table(title="Comparison", title_justify="left")
    for column in table.columns:
        view.add_column(column, justify="left" if column == "metric" else "right")
    for row in table.iter_rows():
        view.add_row(str(row[0]), *(format_metric(str(row[0]), v) for v in row[1:]))
    out.print(view)
    written = write_comparison(results, output)
    out.print(f"Comparison page: {written.resolve()}")


@cli.command("validate-data")
@click.argument("data_file", type=click.Path(dir_okay=False, path_type=Path))
def validate_data(data_file: Path) -> None:
    """Check a long-format price file (.parquet or .csv) and list every problem with rows.

    Row numbers are 0-based positions in the file as given (the header is not a row). Exits
    with 1 when problems are found.
    """
    from ml4t.backtest.cli_validate import MAX_ROWS_SHOWN, find_problems, read_price_file  # noqa: PLC0415

    frame = read_price_file(data_file)
    problems = find_problems(frame)
    if not problems:
        out.print(f"OK: {data_file} passes every check ({frame.height:,} rows).")
        return
    view = Table(title=f"Problems in {data_file}", title_justify="left", show_lines=True)
    view.add_column("check")
    view.add_column("rows", justify="right")
    view.add_column(f"row numbers (first {MAX_ROWS_SHOWN})")
    view.add_column("what is wrong / fix")
    for problem in problems:
        rows = ", ".join(str(r) for r in problem.rows)
        more = (
            f" (+{problem.count - len(problem.rows)} more)"
            if problem.count > len(problem.rows)
            else ""
        )
        text = problem.description + (f"\nfix: {problem.fix}" if problem.fix else "")
        view.add_row(problem.check, f"{problem.count:,}", rows + more, text)
    out.print(view)
    total = sum(p.count for p in problems)
    raise ProblemsFoundError(f"{len(problems)} problem(s) in {total:,} row(s) of {data_file}")


# --- shared steps ------------------------------------------------------------------------------


class _SpeedColumn(ProgressColumn):
    # Bars per second, from rich's own speed estimate.
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.finished and task.elapsed:
            speed = task.completed / task.elapsed
        return Text(f"{speed:,.0f} bars/s" if speed else "- bars/s", style="cyan")


def _run_with_progress(feed: Any, strategy: Any, config: Any) -> Any:
    from ml4t.backtest.strategy.engine import BacktestEngine  # noqa: PLC0415

    n_bars = int(feed.n_timestamps)
    accepts_progress = "progress" in inspect.signature(BacktestEngine).parameters
    columns = [
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        _SpeedColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    started = time.perf_counter()
    with Progress(*columns, console=out, transient=False) as progress:
        # Without progress reports from the engine the bar pulses (unknown total) until done.
        task = progress.add_task("run", total=n_bars if accepts_progress else None)
        kwargs: dict[str, Any] = {}
        if accepts_progress:

            def report_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            kwargs["progress"] = report_progress
        engine = BacktestEngine(feed, strategy, config, **kwargs)
        result = engine.run()
        progress.update(task, total=n_bars, completed=n_bars)
    elapsed = time.perf_counter() - started
    out.print(f"{n_bars:,} bars in {elapsed:.2f} s ({n_bars / max(elapsed, 1e-9):,.0f} bars/s)")
    return result


def _finish(
    result: Any,
    result_dir: Path,
    *,
    run: Mapping[str, Any],
    feed: Any,
    overwrite: bool,
    tearsheet: str,
    tearsheet_dir: Path | None,
    title: str,
) -> None:
    from ml4t.backtest.reporting.tearsheet import write_tearsheet  # noqa: PLC0415
    from ml4t.backtest.strategy.persistence import save_result  # noqa: PLC0415

    _metrics_table(result.metrics, "Metrics")
    result_dir.absolute().parent.mkdir(parents=True, exist_ok=True)
    saved = save_result(result, result_dir, overwrite=overwrite, feed=feed, run=run)
    out.print(f"Result directory: {saved}")
    folder = tearsheet_dir if tearsheet_dir is not None else saved
    suffixes = {"html": [".html"], "pdf": [".pdf"], "both": [".html", ".pdf"]}.get(tearsheet, [])
    for suffix in suffixes:
        written = write_tearsheet(result, folder / f"tearsheet{suffix}", title=title)
        out.print(f"Tearsheet: {written.resolve()}")


def _metrics_table(metrics: Mapping[str, Any], title: str) -> None:
    from ml4t.backtest.reporting.content import format_metric  # noqa: PLC0415

    view = Table(title=title, title_justify="left")
    view.add_column("metric")
    view.add_column("value", justify="right")
    for key, value in metrics.items():
        view.add_row(key, format_metric(key, value))
    out.print(view)


# --- errors and the entry point ------------------------------------------------------------


def _hint(exc: BaseException) -> str:
    if isinstance(exc, ResultFormatError) and "already exists" in str(exc):
        return "add --overwrite to replace it, or choose another directory with --output"
    hints: Sequence[tuple[type[BaseException], str]] = (
        (
            DataValidationError,
            "run `ml4t-backtest validate-data FILE` to list every problem, or set "
            '[data] repair = "drop" in the run file',
        ),
        (StrategyError, "the strategy raised; rerun with --debug to see its traceback"),
        (MissingDependencyError, "install the package named above"),
        (
            ResultFormatError,
            "pass a directory written by `ml4t-backtest run`/`demo` or BacktestResult.save",
        ),
        (ProblemsFoundError, "fix the rows listed above, or load the file with repair='drop'"),
        (ConfigError, "check the arguments and the run file; add --help for the usage"),
        (BacktestError, "check the arguments; rerun with --debug for the details"),
        (FileNotFoundError, "check the path"),
        (PermissionError, "check the permissions of the path"),
        (OSError, "check the path and free disk space"),
    )
    for kind, hint in hints:
        if isinstance(exc, kind):
            return hint
    return "this looks like a bug; rerun with --debug and report the traceback"


def _report_error(exc: BaseException) -> None:
    if _STATE.debug:
        traceback.print_exception(exc, file=sys.stderr)
        if isinstance(exc, StrategyError) and exc.traceback_text:
            err.print("strategy traceback:", style="bold")
            err.print(exc.traceback_text)
        return
    message = " ".join(str(exc).split()) or type(exc).__name__
    err.print(Text.assemble(("error:", "bold red"), " ", message))
    err.print(Text(f"hint: {_hint(exc)}"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default ``sys.argv[1:]``) and return the exit code.

    Example:
        >>> code = main(["--version"])  # doctest: +ELLIPSIS
        ml4t-backtest ...
        >>> code
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _STATE.debug = "--debug" in args
    try:
        value = cli.main(args=args, prog_name="ml4t-backtest", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show(file=sys.stderr)
        return EXIT_USAGE
    except click.Abort:
        err.print("aborted")
        return EXIT_FAILED
    except click.ClickException as exc:
        exc.show(file=sys.stderr)
        return int(exc.exit_code) if exc.exit_code != EXIT_OK else EXIT_FAILED
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # every failure becomes one line and a hint
        _report_error(exc)
        return EXIT_FAILED
    return int(value) if isinstance(value, int) else EXIT_OK
