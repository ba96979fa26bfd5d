"""Save a backtest result to a directory and load it back without loss.

A result directory holds one parquet file per result frame, the metrics as JSON, the exact
configuration as TOML and a ``manifest.json`` written last::

    my_run/
      equity_curve.parquet  trades.parquet  fills.parquet  orders.parquet  positions.parquet
      metrics.json          config.toml     run.toml (optional: the CLI run description)
      manifest.json         <- format version, data fingerprint, library versions, checksums

Writing is atomic: everything goes into a hidden temporary directory next to the target, every
file is fsynced, the manifest is written last, and only then is the directory renamed into
place. A directory without a manifest (an interrupted save, or a foreign folder) never loads:
`load_result` raises `ResultFormatError` saying so. The manifest also records a SHA-256 of each
file, so a truncated or edited file is caught on load.

TOML has no null, so `None` values of the configuration are left out of ``config.toml``; the
configuration class fills them back from its defaults when the file is read. A field whose
default is not `None` but that was set to `None` is therefore the one thing TOML cannot carry;
such configurations are written with their JSON form in the manifest as well, and loaded from
there.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import platform
import shutil
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import polars as pl
import tomli_w

from ml4t.backtest.core.errors import ResultFormatError

__all__ = [
    "FORMAT_VERSION",
    "FRAME_NAMES",
    "MANIFEST_NAME",
    "DataFingerprint",
    "ResultFormatError",
    "SavedResult",
    "ResultLike",
    "save_result",
    "load_result",
    "is_result_dir",
]

FORMAT_VERSION: Final = 1
"""Version of the on-disk layout; `load_result` refuses directories written by a newer one."""

MANIFEST_NAME: Final = "manifest.json"
"""The completion marker: written last, so a directory without it is not a finished save."""

FRAME_NAMES: Final = ("equity_curve", "trades", "fills", "orders", "positions")
"""The result frames every result carries (see docs/architecture/0002-layer-contracts.md)."""

_METRICS_NAME: Final = "metrics.json"
_CONFIG_NAME: Final = "config.toml"
_RUN_NAME: Final = "run.toml"
_VERSIONED_DISTRIBUTIONS: Final = (
    "ml4t-backtest",
    "ml4t-backtest-core",
    "ml4t-backtest-execution",
    "ml4t-backtest-portfolio",
    "ml4t-backtest-strategy",
    "ml4t-backtest-reporting",
    "numpy",
    "polars",
    "pydantic",
)
# Non-finite floats are not valid JSON; they are written as these strings and read back.
_NON_FINITE: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@runtime_checkable
class ResultLike(Protocol):
    """What `save_result` and the reporters need of a result: the frames, metrics and config."""

    @property
    def equity_curve(self) -> pl.DataFrame:
        """Per-bar portfolio state (timestamp, equity, cash, exposures, returns, drawdown)."""
        ...

    @property
    def trades(self) -> pl.DataFrame:
        """Closed round trips."""
        ...

    @property
    def fills(self) -> pl.DataFrame:
        """One row per execution."""
        ...

    @property
    def orders(self) -> pl.DataFrame:
        """One row per order, final status and reason."""
        ...

    @property
    def positions(self) -> pl.DataFrame:
        """Per-bar quantity and market value per asset, long format."""
        ...

    @property
    def metrics(self) -> Mapping[str, float]:
        """Summary statistics by name."""
        ...

    @property
    def config(self) -> Any:
        """The exact configuration (a pydantic `BacktestConfig`, or a plain mapping)."""
        ...


@dataclass(frozen=True, slots=True)
class DataFingerprint:
    """What identifies the input data of a run, so that the run can be reproduced.

    Attributes:
        hash: The feed's stable hash (`DataFeed.fingerprint()`), or "" when unknown.
        start: First timestamp, ISO 8601 UTC, or "" when the run had no bars.
        end: Last timestamp, ISO 8601 UTC, or "".
        assets: The assets of the feed, sorted.

    Example:
        >>> fp = DataFingerprint("ab12", "2020-01-02T00:00:00+00:00", "2020-12-31T00:00:00+00:00",
        ...                      ("AAPL", "MSFT"))
        >>> DataFingerprint.from_dict(fp.as_dict()) == fp
        True
    """

    hash: str = ""
    start: str = ""
    end: str = ""
    assets: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the fingerprint as a JSON-ready mapping."""
        return {
            "hash": self.hash,
            "start": self.start,
            "end": self.end,
            "assets": list(self.assets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFingerprint:
        """Build a fingerprint from the mapping `as_dict` returns."""
        return cls(
            hash=str(data.get("hash", "")),
            start=str(data.get("start", "")),
            end=str(data.get("end", "")),
            assets=tuple(str(a) for a in data.get("assets", ())),
        )


@dataclass(frozen=True, slots=True)
class SavedResult:
    """A result read back from disk: the same frames, metrics and config as the run produced.

    It has the attributes of `ResultLike`, so the reporters and `save_result` accept it like a
    live `BacktestResult`.

    Attributes:
        equity_curve: Per-bar portfolio state.
        trades: Closed round trips.
        fills: Executions.
        orders: Orders with their final status.
        positions: Per-bar positions per asset (long format).
        metrics: Summary statistics.
        config: The `BacktestConfig` when the strategy package offers it, else the mapping.
        data: Fingerprint of the input data.
        versions: Library versions that produced the result.
        run: The run description (data path, strategy, parameters) when the CLI saved it.
        extra_frames: Further frames the result carried (e.g. per-bar state of a strategy).
        path: Directory the result was read from.
        created: When the result was saved (ISO 8601 UTC).
    """

    equity_curve: pl.DataFrame
    trades: pl.DataFrame
    fills: pl.DataFrame
    orders: pl.DataFrame
    positions: pl.DataFrame
    metrics: dict[str, float]
    config: Any
    data: DataFingerprint = DataFingerprint()
    versions: dict[str, str] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    extra_frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    path: Path | None = None
    created: str = ""

    @property
    def name(self) -> str:
        """Return a short label for the result: the directory name, or "result"."""
        return self.path.name if self.path is not None else "result"


def is_result_dir(path: str | os.PathLike[str]) -> bool:
    """Return True when `path` is a directory holding a finished save (it has the manifest).

    Example:
        >>> is_result_dir("/nonexistent/dir")
        False
    """
    p = Path(path)
    return p.is_dir() and (p / MANIFEST_NAME).is_file()


def save_result(
    result: ResultLike,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    data: DataFingerprint | None = None,
    feed: Any = None,
    run: Mapping[str, Any] | None = None,
) -> Path:
    """Write `result` to the directory `path`, atomically.

    Args:
        result: A `BacktestResult` or `SavedResult` (anything with the `ResultLike` attributes).
            Extra frames in a ``result.extra_frames`` mapping are saved too.
        path: The result directory to create; missing parent folders are created.
        overwrite: Replace an existing directory at `path`; otherwise that is an error.
        data: The input data's fingerprint. Without it, one is taken from `feed`, then from a
            ``result.data`` / ``result.data_fingerprint`` attribute, then made from the frames
            (date range and assets, empty hash).
        feed: The `DataFeed` the run used; its ``fingerprint()``, timestamps and assets are kept.
        run: A run description (data path, strategy import path, parameters), kept as run.toml
            so that ``ml4t-backtest run`` can repeat the run.

    Returns:
        The path of the finished directory.

    Raises:
        ResultFormatError: `path` exists and `overwrite` is False, or `path` is a file, or a
            frame or the config cannot be serialised.

    Example:
        >>> import tempfile, polars as pl
        >>> empty = pl.DataFrame()
        >>> res = SavedResult(empty, empty, empty, empty, empty, {"sharpe": 1.5}, {"cash": 1e6})
        >>> out = save_result(res, Path(tempfile.mkdtemp()) / "run1")
        >>> load_result(out).metrics
        {'sharpe': 1.5}
    """
    target = Path(path).absolute()
    if target.exists() and not target.is_dir():
        raise ResultFormatError(
            f"cannot save result to {str(target)!r}: it is a file, not a directory"
        )
    if target.exists() and not overwrite:
        raise ResultFormatError(
            f"result directory {str(target)!r} already exists; pass overwrite=True "
            "(CLI: --overwrite) or choose another path"
        )
    if target.parent.exists() and not target.parent.is_dir():
        raise ResultFormatError(
            f"cannot save result to {str(target)!r}: {str(target.parent)!r} is a file"
        )
    target.parent.mkdir(parents=True, exist_ok=True)  # like `mkdir -p`; the target stays atomic

    frames = _collect_frames(result)
    metrics = _encode_metrics(result.metrics)
    config_dict, config_class = _config_to_dict(result.config)
    fingerprint = _resolve_fingerprint(result, data, feed, frames)

    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        checksums: dict[str, str] = {}
        for name, frame in frames.items():
            file = tmp / f"{name}.parquet"
            frame.write_parquet(file, compression="zstd", statistics=True)
            checksums[file.name] = _fsync_and_hash(file)
        checksums[_METRICS_NAME] = _write_text(
            tmp / _METRICS_NAME, json.dumps(metrics, indent=2, sort_keys=False, allow_nan=False)
        )
        toml_text, lossless = _config_to_toml(result.config, config_dict)
        checksums[_CONFIG_NAME] = _write_text(tmp / _CONFIG_NAME, toml_text)
        if run is not None:
            checksums[_RUN_NAME] = _write_text(tmp / _RUN_NAME, tomli_w.dumps(_strip_none(run)))
        manifest: dict[str, Any] = {
            "format": "ml4t-backtest-result",
            "format_version": FORMAT_VERSION,
            "complete": True,
            "created": _utc_now_iso(),
            "frames": list(frames),
            "config_class": config_class,
            "config_json": None if lossless else config_dict,
            "data": fingerprint.as_dict(),
            "versions": _library_versions(),
            "files": checksums,
        }
        _write_text(tmp / MANIFEST_NAME, json.dumps(manifest, indent=2))
        _fsync_dir(tmp)
        _move_into_place(tmp, target, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_result(
    path: str | os.PathLike[str], *, verify: bool = True, config_type: Any = None
) -> SavedResult:
    """Read a result directory written by `save_result`.

    Args:
        path: The result directory.
        verify: Check each file against the SHA-256 in the manifest (catches truncated or edited
            files); on by default.
        config_type: The pydantic class to read the config into. By default the class recorded
            at save time, when it can still be imported; otherwise the config stays a mapping.

    Returns:
        The frames, metrics, config, data fingerprint and versions, exactly as saved.

    Raises:
        ResultFormatError: The directory does not exist, has no manifest (an interrupted or
            foreign save), was written by a newer format, or a file is missing or altered.

    Example:
        >>> try:
        ...     load_result("/nonexistent/run")
        ... except ResultFormatError as error:
        ...     print(error)
        result directory '/nonexistent/run' does not exist; check the path
    """
    root = Path(path)
    if not root.is_dir():
        raise ResultFormatError(f"result directory {str(root)!r} does not exist; check the path")
    manifest_file = root / MANIFEST_NAME
    if not manifest_file.is_file():
        raise ResultFormatError(
            f"{str(root)!r} is not a complete result directory: {MANIFEST_NAME} is missing "
            "(the save was interrupted, or the folder was not written by save_result); save the "
            "result again"
        )
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFormatError(
            f"{str(manifest_file)!r} is not valid JSON ({exc}); save the result again"
        ) from exc
    if manifest.get("format") != "ml4t-backtest-result" or not manifest.get("complete"):
        raise ResultFormatError(
            f"{str(manifest_file)!r} does not mark a complete ml4t-backtest result; save the "
            "result again"
        )
    version = int(manifest.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise ResultFormatError(
            f"result {str(root)!r} has format_version={version}, newer than this library reads "
            f"({FORMAT_VERSION}); upgrade ml4t-backtest-strategy"
        )
    files: dict[str, str] = dict(manifest.get("files", {}))
    for name, digest in files.items():
        file = root / name
        if not file.is_file():
            raise ResultFormatError(
                f"result {str(root)!r} is incomplete: {name} listed in the manifest is missing"
            )
        if verify and _hash_file(file) != digest:
            raise ResultFormatError(
                f"result {str(root)!r} is damaged: {name} does not match its checksum in the "
                "manifest; save the result again"
            )

    frames = {name: pl.read_parquet(root / f"{name}.parquet") for name in manifest["frames"]}
    metrics = _decode_metrics(json.loads((root / _METRICS_NAME).read_text(encoding="utf-8")))
    config_json = manifest.get("config_json")
    if config_json is None:
        config_json = tomllib.loads((root / _CONFIG_NAME).read_text(encoding="utf-8"))
    if config_type is not None:
        config = config_type.model_validate(dict(config_json))
    else:
        config = _config_from_dict(config_json, manifest.get("config_class"))
    run_file = root / _RUN_NAME
    run = tomllib.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
    empty = pl.DataFrame()
    return SavedResult(
        equity_curve=frames.pop("equity_curve", empty),
        trades=frames.pop("trades", empty),
        fills=frames.pop("fills", empty),
        orders=frames.pop("orders", empty),
        positions=frames.pop("positions", empty),
        metrics=metrics,
        config=config,
        data=DataFingerprint.from_dict(manifest.get("data", {})),
        versions={str(k): str(v) for k, v in manifest.get("versions", {}).items()},
        run=run,
        extra_frames=frames,
        path=root.absolute(),
        created=str(manifest.get("created", "")),
    )


# --- helpers -------------------------------------------------------------------------------


def _collect_frames(result: ResultLike) -> dict[str, pl.DataFrame]:
    frames: dict[str, pl.DataFrame] = {}
    for name in FRAME_NAMES:
        frame = getattr(result, name, None)
        if frame is None:
            frame = pl.DataFrame()
        if not isinstance(frame, pl.DataFrame):
            raise ResultFormatError(
                f"result.{name} is {type(frame).__name__}, expected a polars DataFrame"
            )
        frames[name] = frame
    extra = getattr(result, "extra_frames", None) or {}
    for name, frame in dict(extra).items():
        if name in frames or not str(name).isidentifier():
            raise ResultFormatError(
                f"extra frame name {name!r} is invalid: use an identifier not in {FRAME_NAMES}"
            )
        if not isinstance(frame, pl.DataFrame):
            raise ResultFormatError(
                f"extra frame {name!r} is {type(frame).__name__}, expected a polars DataFrame"
            )
        frames[str(name)] = frame
    return frames


def _encode_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(metrics).items():
        if isinstance(value, bool | int | str) or value is None:
            out[str(key)] = value
            continue
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ResultFormatError(
                f"metric {key!r} has value {value!r}, which is not a number; metrics must be floats"
            ) from exc
        if math.isnan(number):
            out[str(key)] = "NaN"
        elif math.isinf(number):
            out[str(key)] = "Infinity" if number > 0 else "-Infinity"
        else:
            out[str(key)] = number
    return out


def _decode_metrics(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _NON_FINITE[value] if isinstance(value, str) and value in _NON_FINITE else value
        for key, value in raw.items()
    }


def _config_to_dict(config: Any) -> tuple[dict[str, Any], str | None]:
    if config is None:
        return {}, None
    dump = getattr(config, "model_dump", None)
    if callable(dump):
        data = dump(mode="json")
        cls = type(config)
        return dict(data), f"{cls.__module__}:{cls.__qualname__}"
    if isinstance(config, Mapping):
        return json.loads(json.dumps(dict(config), default=str)), None
    raise ResultFormatError(
        f"result.config is {type(config).__name__}; expected a pydantic model (BacktestConfig) "
        "or a mapping"
    )


def _config_to_toml(config: Any, config_dict: dict[str, Any]) -> tuple[str, bool]:
    # Returns the TOML text and whether reading it back gives config_dict exactly.
    to_toml = getattr(config, "to_toml", None)
    text = to_toml() if callable(to_toml) else tomli_w.dumps(_strip_none(config_dict))
    if not isinstance(text, str):
        text = tomli_w.dumps(_strip_none(config_dict))
    reread = tomllib.loads(text)
    lossless = _config_from_dict(reread, _class_path(config)) == _config_from_dict(
        config_dict, _class_path(config)
    )
    return text, lossless


def _class_path(config: Any) -> str | None:
    if callable(getattr(config, "model_dump", None)):
        cls = type(config)
        return f"{cls.__module__}:{cls.__qualname__}"
    return None


def _config_from_dict(data: Mapping[str, Any], class_path: str | None) -> Any:
    if not class_path:
        return dict(data)
    module_name, _, qualname = class_path.partition(":")
    try:
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        # The class is gone (renamed, or a test-only class): keep the plain mapping.
        return dict(data)
    validate = getattr(cls, "model_validate", None)
    return validate(dict(data)) if callable(validate) else dict(data)


def _strip_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_strip_none(v) for v in value if v is not None]
    return value


def _resolve_fingerprint(
    result: ResultLike,
    data: DataFingerprint | None,
    feed: Any,
    frames: Mapping[str, pl.DataFrame],
) -> DataFingerprint:
    if data is not None:
        return data
    if feed is not None:
        timestamps = np.asarray(feed.timestamps, dtype=np.int64)
        return DataFingerprint(
            hash=str(feed.fingerprint()),
            start=_ns_to_iso(int(timestamps[0])) if timestamps.size else "",
            end=_ns_to_iso(int(timestamps[-1])) if timestamps.size else "",
            assets=tuple(sorted(str(a) for a in feed.assets)),
        )
    for attr in ("data", "data_fingerprint"):
        value = getattr(result, attr, None)
        if isinstance(value, DataFingerprint) and value != DataFingerprint():
            return value
        if isinstance(value, Mapping):
            return DataFingerprint.from_dict(value)
    start = end = ""
    equity = frames.get("equity_curve", pl.DataFrame())
    if "timestamp" in equity.columns and equity.height:
        ts = equity.get_column("timestamp")
        start, end = _iso(ts.min()), _iso(ts.max())
    assets: set[str] = set()
    for name in ("positions", "trades", "fills"):
        frame = frames.get(name, pl.DataFrame())
        if "asset" in frame.columns:
            assets.update(str(a) for a in frame.get_column("asset").unique().to_list())
    return DataFingerprint(hash="", start=start, end=end, assets=tuple(sorted(assets)))


def _iso(value: Any) -> str:
    if value is None:
        return ""
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def _ns_to_iso(ns: int) -> str:
    return str(pl.Series([ns]).cast(pl.Datetime("ns", "UTC")).item().isoformat())


def _utc_now_iso() -> str:
    import datetime as _dt  # noqa: PLC0415  (only needed at save time)

    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in _VERSIONED_DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return versions


def _write_text(file: Path, text: str) -> str:
    with file.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return _hash_file(file)


def _fsync_and_hash(file: Path) -> str:
    with file.open("rb+") as handle:
        os.fsync(handle.fileno())
    return _hash_file(file)


def _hash_file(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    # Directory fsync makes the new entries durable; not supported on every platform.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, target: Path, *, overwrite: bool) -> None:
    if target.exists():
        if not overwrite:  # appeared while we were writing
            raise ResultFormatError(
                f"result directory {str(target)!r} already exists; pass overwrite=True"
            )
        # Move the old directory aside first so the target name is never half-written; the
        # old one is deleted only once the new one is in place.
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        target.rename(old)
        try:
            tmp.rename(target)
        except BaseException:
            old.rename(target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)
    _fsync_dir(target.parent)
