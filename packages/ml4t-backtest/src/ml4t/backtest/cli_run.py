"""Run files for ``ml4t-backtest run``: where the data is, which strategy, which settings.

A run file is TOML with four tables; paths are relative to the run file::

    [data]
    path = "prices.parquet"        # .parquet or .csv, long format; or dataset = "sp500_sample"
    # assets = ["AAPL", "MSFT"]    # optional filters, for either source
    # start = "2014-01-01"
    # end = "2017-12-31"
    # repair = "drop"              # None (default: refuse bad data), "drop" or "fix"

    [strategy]
    path = "my_package.strategies:Momentum"   # or "strategies.py:Momentum"
    [strategy.params]                         # keyword arguments of the class
    lookback = 126

    [backtest]                     # a BacktestConfig, see docs/configuration.md
    initial_cash = 100000.0

    [output]
    directory = "results/momentum" # result directory (default: <run file stem>-result)
    tearsheet = "html"             # "html", "pdf", "both" or "none"

Unknown tables or keys are errors, so a typo does not silently change a run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.strategy import Strategy

__all__ = ["TEARSHEET_CHOICES", "RunSpec", "load_prices", "load_strategy_class"]

TEARSHEET_CHOICES: Final = ("html", "pdf", "both", "none")
_TABLES: Final = {"data", "strategy", "backtest", "output"}
_DATA_KEYS: Final = {"path", "dataset", "assets", "start", "end", "repair"}
_STRATEGY_KEYS: Final = {"path", "params"}
_OUTPUT_KEYS: Final = {"directory", "tearsheet"}


@dataclass(frozen=True, slots=True)
class RunSpec:
    """A parsed run file.

    Attributes:
        source: The run file.
        data: The ``[data]`` table (``path`` made absolute).
        strategy_path: ``module:Class`` or ``file.py:Class`` (file made absolute).
        params: Keyword arguments for the strategy class.
        config: The validated `BacktestConfig`.
        output: Result directory.
        tearsheet: One of `TEARSHEET_CHOICES`.
        raw: The run file's content, kept with the result as run.toml.
    """

    source: Path
    data: dict[str, Any]
    strategy_path: str
    params: dict[str, Any]
    config: BacktestConfig
    output: Path
    tearsheet: str = "html"
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path) -> RunSpec:
        r"""Read and check a run file.

        Raises:
            ConfigError: The file is missing, not TOML, or has unknown/missing keys or
                invalid values; the message names the table and key.

        Example:
            >>> import tempfile
            >>> run = Path(tempfile.mkdtemp()) / "run.toml"
            >>> _ = run.write_text('[data]\ndataset = "sp500_sample"\n'
            ...     '[strategy]\npath = "ml4t.backtest.cli_demo:MomentumRotation"\n')
            >>> spec = RunSpec.from_file(run)
            >>> spec.output.name, spec.tearsheet, spec.config.initial_cash
            ('run-result', 'html', 100000.0)
        """
        source = Path(path)
        if not source.is_file():
            raise ConfigError(f"run file {str(source)!r} does not exist; check the path")
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"run file {str(source)!r} is not valid TOML: {exc}") from None
        base = source.absolute().parent
        _check_keys(raw, _TABLES, "the run file")
        data = dict(_table(raw, "data", required=True))
        _check_keys(data, _DATA_KEYS, "[data]")
        if ("path" in data) == ("dataset" in data):
            raise ConfigError("[data] needs exactly one of `path` (a file) or `dataset` (bundled)")
        if "path" in data:
            data["path"] = str((base / str(data["path"])).resolve())
        strategy = _table(raw, "strategy", required=True)
        _check_keys(strategy, _STRATEGY_KEYS, "[strategy]")
        if not isinstance(strategy.get("path"), str):
            raise ConfigError(
                '[strategy] needs `path`, e.g. path = "my_package.strategies:Momentum"'
            )
        strategy_path = _absolute_strategy_path(str(strategy["path"]), base)
        params = dict(_table(strategy, "params", required=False))
        config = BacktestConfig.from_dict(_table(raw, "backtest", required=False))
        output = _table(raw, "output", required=False)
        _check_keys(output, _OUTPUT_KEYS, "[output]")
        directory = output.get("directory", f"{source.stem}-result")
        tearsheet = str(output.get("tearsheet", "html")).lower()
        if tearsheet not in TEARSHEET_CHOICES:
            raise ConfigError(
                f"[output] tearsheet = {tearsheet!r} is not one of {list(TEARSHEET_CHOICES)}"
            )
        return cls(
            source=source,
            data=data,
            strategy_path=strategy_path,
            params=params,
            config=config,
            output=(base / str(directory)).resolve(),
            tearsheet=tearsheet,
            raw=raw,
        )

    def as_run_file(self) -> dict[str, Any]:
        r"""Return the run with absolute paths and the full config: a run file that repeats it.

        Example:
            >>> import tempfile
            >>> run = Path(tempfile.mkdtemp()) / "run.toml"
            >>> _ = run.write_text('[data]\ndataset = "sp500_sample"\n'
            ...     '[strategy]\npath = "ml4t.backtest.cli_demo:MomentumRotation"\n')
            >>> sorted(RunSpec.from_file(run).as_run_file())
            ['backtest', 'data', 'output', 'strategy']
        """
        return {
            "data": dict(self.data),
            "strategy": {"path": self.strategy_path, "params": dict(self.params)},
            "backtest": self.config.to_dict(),
            "output": {"directory": str(self.output), "tearsheet": self.tearsheet},
        }

    def build_feed(self) -> DataFeed:
        """Load the data and build the validated feed."""
        repair = self.data.get("repair")
        if repair not in (None, "drop", "fix"):
            raise ConfigError(f"[data] repair = {repair!r} must be 'drop' or 'fix' (or left out)")
        return DataFeed.from_polars(load_prices(self.data), repair=repair)

    def build_strategy(self) -> Strategy:
        """Import the strategy class and create it with `params`."""
        cls = load_strategy_class(self.strategy_path)
        try:
            return cls(**self.params)
        except TypeError as exc:
            raise ConfigError(
                f"[strategy.params] do not fit {self.strategy_path}: {exc}; check the parameter "
                "names"
            ) from None


def load_prices(data: Mapping[str, Any]) -> pl.DataFrame:
    """Return the price frame a ``[data]`` table describes (file or bundled data set).

    Example:
        >>> load_prices({"dataset": "sp500_sample", "assets": ["AAPL"], "end": "2013-02-11"}).height
        2
    """
    assets = data.get("assets")
    if "dataset" in data:
        return load_sample_prices(
            assets, start=data.get("start"), end=data.get("end"), name=str(data["dataset"])
        )
    path = Path(str(data["path"]))
    if not path.is_file():
        raise ConfigError(f"[data] path {str(path)!r} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pl.read_parquet(path)
    elif suffix == ".csv":
        frame = pl.read_csv(path, try_parse_dates=True)
    else:
        raise ConfigError(f"[data] path {str(path)!r}: use a .parquet or .csv file")
    if assets is not None and "asset" in frame.columns:
        frame = frame.filter(pl.col("asset").cast(pl.String).is_in([str(a) for a in assets]))
    if "timestamp" in frame.columns and (data.get("start") or data.get("end")):
        ts = frame.get_column("timestamp")
        if ts.dtype == pl.String:
            frame = frame.with_columns(pl.col("timestamp").str.to_datetime())
        if data.get("start"):
            frame = frame.filter(pl.col("timestamp") >= pl.lit(str(data["start"])).str.to_date())
        if data.get("end"):
            frame = frame.filter(pl.col("timestamp") <= pl.lit(str(data["end"])).str.to_date())
    return frame


def load_strategy_class(path: str) -> type[Strategy]:
    """Import ``module:Class`` or ``/path/to/file.py:Class`` and check it is a `Strategy`.

    Example:
        >>> load_strategy_class("ml4t.backtest.cli_demo:MomentumRotation").__name__
        'MomentumRotation'
    """
    module_part, sep, class_name = path.rpartition(":")
    if not sep or not module_part or not class_name:
        raise ConfigError(
            f"strategy path {path!r} must look like 'package.module:ClassName' or "
            "'file.py:ClassName'"
        )
    if module_part.endswith(".py"):
        file = Path(module_part)
        if not file.is_file():
            raise ConfigError(f"strategy file {module_part!r} does not exist; check the path")
        digest = hashlib.sha1(str(file.resolve()).encode(), usedforsecurity=False).hexdigest()
        name = f"ml4t_user_strategy_{file.stem}_{digest[:8]}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import strategy file {module_part!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"cannot import strategy module {module_part!r} ({exc}); check the name and that "
                "it is installed or on PYTHONPATH"
            ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(
            f"{path!r} does not name a Strategy subclass (found {type(cls).__name__}); check the "
            "class name"
        )
    return cls


def _table(raw: Mapping[str, Any], name: str, *, required: bool) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        if required:
            raise ConfigError(f"the run file needs a [{name}] table")
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table, was {type(value).__name__}")
    return dict(value)


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _absolute_strategy_path(path: str, base: Path) -> str:
    module_part, sep, class_name = path.rpartition(":")
    if sep and module_part.endswith(".py"):
        return f"{(base / module_part).resolve()}:{class_name}"
    return path
