"""Tests of result persistence: lossless round trip, atomic writes, refusal of partial saves."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pydantic
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import BacktestError
from ml4t.backtest.strategy import persistence
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.persistence import (
    MANIFEST_NAME,
    DataFingerprint,
    ResultFormatError,
    SavedResult,
    is_result_dir,
    load_result,
    save_result,
)
from ml4t.backtest.strategy.result import BacktestResult
from ml4t.backtest.strategy.strategy import Strategy

UTC_NS = pl.Datetime("ns", "UTC")


class _Costs(pydantic.BaseModel):
    commission_per_share: float = 0.005
    slippage_bps: float = 5.0


class _Config(pydantic.BaseModel):
    # Stand-in for BacktestConfig: nested model, optional field, list, enum-like string.
    initial_cash: float = 1_000_000.0
    fill_timing: str = "next_open"
    benchmark: str | None = None
    assets: list[str] = pydantic.Field(default_factory=list)
    costs: _Costs = pydantic.Field(default_factory=_Costs)
    start: dt.date | None = None


class _SentinelConfig(pydantic.BaseModel):
    # A None that differs from the default: TOML cannot carry it, the manifest must.
    stop_loss: float | None = 0.05


def _timestamps(n: int) -> pl.Series:
    start = dt.datetime(2021, 1, 4, 21, tzinfo=dt.UTC)
    return pl.Series("timestamp", [start + dt.timedelta(days=i) for i in range(n)], dtype=UTC_NS)


def _make_result(config: Any = None) -> SavedResult:
    ts = _timestamps(4)
    equity = pl.DataFrame(
        {
            "timestamp": ts,
            "equity": [100.0, 101.0, 99.5, 102.25],
            "cash": [100.0, 50.0, 50.0, 102.25],
            "market_value": [0.0, 51.0, 49.5, 0.0],
            "gross_exposure": [0.0, 51.0, 49.5, 0.0],
            "net_exposure": [0.0, 51.0, 49.5, 0.0],
            "long_exposure": [0.0, 51.0, 49.5, 0.0],
            "short_exposure": [0.0, 0.0, 0.0, 0.0],
            "leverage": [0.0, 51.0 / 101.0, 49.5 / 99.5, 0.0],
            "returns": [0.0, 0.01, 99.5 / 101.0 - 1, 102.25 / 99.5 - 1],
            "drawdown": [0.0, 0.0, 99.5 / 101.0 - 1, 0.0],
        }
    )
    trades = pl.DataFrame(
        {
            "asset": ["AAPL"],
            "side": pl.Series([1], dtype=pl.Int8),
            "quantity": [0.5],
            "entry_time": ts[1:2],
            "exit_time": ts[3:4],
            "entry_price": [100.0],
            "exit_price": [104.5],
            "gross_pnl": [2.25],
            "net_pnl": [2.25],
            "commission": [0.0],
            "slippage": [0.0],
            "return": [0.045],
            "mae": [-0.03],
            "mfe": [0.045],
            "bars_held": pl.Series([2], dtype=pl.Int32),
            "exit_reason": pl.Series(["signal"], dtype=pl.Categorical),
        }
    )
    fills = pl.DataFrame(
        {
            "timestamp": ts[1:4:2],
            "order_id": pl.Series([1, 2], dtype=pl.Int64),
            "asset": ["AAPL", "AAPL"],
            "side": pl.Series([1, -1], dtype=pl.Int8),
            "quantity": [0.5, 0.5],
            "price": [100.0, 104.5],
            "reference_price": [100.0, float("nan")],
            "commission": [0.0, 0.0],
            "slippage": [0.0, 0.0],
            "impact": [0.0, 0.0],
            "remaining": [0.0, 0.0],
            "multiplier": [1.0, 1.0],
            "tag": ["", "exit"],
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": pl.Series([1, 2, 3], dtype=pl.Int64),
            "asset": ["AAPL", "AAPL", "MSFT"],
            "status": pl.Series(
                ["FILLED", "FILLED", "REJECTED"], dtype=pl.Enum(["FILLED", "CANCELED", "REJECTED"])
            ),
            "reason": ["", "", "insufficient buying power"],
            "limit_price": [None, 105.0, None],
        }
    )
    positions = pl.DataFrame(
        {
            "timestamp": ts[1:3],
            "asset": ["AAPL", "AAPL"],
            "quantity": [0.5, 0.5],
            "market_value": [51.0, 49.5],
        }
    )
    metrics: dict[str, float] = {
        "total_return": 0.0225,
        "sharpe": 1.25,
        "sortino": math.inf,
        "calmar": math.nan,
        "min_return": -math.inf,
        "trades": 1.0,
    }
    return SavedResult(
        equity_curve=equity,
        trades=trades,
        fills=fills,
        orders=orders,
        positions=positions,
        metrics=metrics,
        config=config if config is not None else _Config(assets=["AAPL", "MSFT"]),
        extra_frames={"state": equity.select("timestamp", "equity")},
    )


def _assert_metrics_equal(a: dict[str, float], b: dict[str, float]) -> None:
    assert list(a) == list(b)
    for key, value in a.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(b[key]), key
        else:
            assert value == b[key], key


class TestRoundTrip:
    def test_save_then_load_returns_every_frame_with_same_columns_and_dtypes(
        self, tmp_path: Path
    ) -> None:
        original = _make_result()
        out = save_result(original, tmp_path / "run")
        loaded = load_result(out, config_type=_Config)
        for name in persistence.FRAME_NAMES:
            assert_frame_equal(getattr(loaded, name), getattr(original, name), check_exact=True)
        assert_frame_equal(loaded.extra_frames["state"], original.extra_frames["state"])
        assert loaded.trades.schema["exit_reason"] == pl.Categorical
        assert loaded.orders.schema["status"] == original.orders.schema["status"]
        assert loaded.equity_curve.schema["timestamp"] == UTC_NS

    def test_metrics_keep_order_and_non_finite_values(self, tmp_path: Path) -> None:
        original = _make_result()
        loaded = load_result(save_result(original, tmp_path / "run"))
        _assert_metrics_equal(loaded.metrics, original.metrics)
        # The JSON on disk is standard JSON (no bare NaN / Infinity tokens).
        text = (tmp_path / "run" / "metrics.json").read_text()
        assert json.loads(text)["calmar"] == "NaN"
        assert "NaN," not in text.replace('"NaN"', "")

    def test_config_round_trips_to_equal_model(self, tmp_path: Path) -> None:
        config = _Config(
            initial_cash=250_000.0,
            assets=["AAPL", "MSFT"],
            costs=_Costs(slippage_bps=2.5),
            start=dt.date(2021, 1, 4),
        )
        out = save_result(_make_result(config), tmp_path / "run")
        loaded = load_result(out, config_type=_Config)
        assert loaded.config == config
        # config.toml is the human-readable exact config (None fields omitted).
        on_disk = tomllib.loads((out / "config.toml").read_text())
        assert on_disk["costs"] == {"commission_per_share": 0.005, "slippage_bps": 2.5}
        assert "benchmark" not in on_disk
        assert json.loads((out / MANIFEST_NAME).read_text())["config_json"] is None

    def test_config_with_none_over_non_none_default_is_kept_in_manifest(
        self, tmp_path: Path
    ) -> None:
        config = _SentinelConfig(stop_loss=None)
        out = save_result(_make_result(config), tmp_path / "run")
        loaded = load_result(out, config_type=_SentinelConfig)
        assert loaded.config.stop_loss is None
        assert json.loads((out / MANIFEST_NAME).read_text())["config_json"] == {"stop_loss": None}

    def test_mapping_config_round_trips_as_mapping(self, tmp_path: Path) -> None:
        config = {"initial_cash": 1e6, "venue": {"name": "XNYS", "lot": 1}}
        loaded = load_result(save_result(_make_result(config), tmp_path / "run"))
        assert loaded.config == config

    def test_loaded_result_saves_again_identically(self, tmp_path: Path) -> None:
        first = load_result(save_result(_make_result(), tmp_path / "a"), config_type=_Config)
        second = load_result(save_result(first, tmp_path / "b"), config_type=_Config)
        for name in persistence.FRAME_NAMES:
            assert_frame_equal(getattr(second, name), getattr(first, name))
        assert second.config == first.config

    def test_empty_frames_round_trip(self, tmp_path: Path) -> None:
        empty = pl.DataFrame(schema={"asset": pl.String, "timestamp": UTC_NS})
        res = SavedResult(empty, empty, empty, empty, empty, {}, {})
        loaded = load_result(save_result(res, tmp_path / "run"))
        assert_frame_equal(loaded.trades, empty)
        assert loaded.metrics == {}


class TestManifest:
    def test_manifest_records_fingerprint_versions_and_checksums(self, tmp_path: Path) -> None:
        fp = DataFingerprint(
            "deadbeef", "2021-01-04T21:00:00+00:00", "2021-01-07T21:00:00+00:00", ("AAPL", "MSFT")
        )
        out = save_result(_make_result(), tmp_path / "run", data=fp)
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        assert manifest["data"] == {
            "hash": "deadbeef",
            "start": "2021-01-04T21:00:00+00:00",
            "end": "2021-01-07T21:00:00+00:00",
            "assets": ["AAPL", "MSFT"],
        }
        assert "polars" in manifest["versions"]
        assert "ml4t-backtest-strategy" in manifest["versions"]
        assert set(manifest["files"]) >= {"equity_curve.parquet", "metrics.json", "config.toml"}
        assert load_result(out).data == fp

    def test_fingerprint_defaults_to_frames_date_range_and_assets(self, tmp_path: Path) -> None:
        loaded = load_result(save_result(_make_result(), tmp_path / "run"))
        assert loaded.data.start == "2021-01-04T21:00:00+00:00"
        assert loaded.data.end == "2021-01-07T21:00:00+00:00"
        assert loaded.data.assets == ("AAPL",)
        assert loaded.data.hash == ""

    def test_fingerprint_is_taken_from_feed(self, tmp_path: Path) -> None:
        class _Feed:
            timestamps = _timestamps(3).cast(pl.Int64).to_numpy()
            assets = ("MSFT", "AAPL")

            def fingerprint(self) -> str:
                return "feedhash"

        loaded = load_result(save_result(_make_result(), tmp_path / "run", feed=_Feed()))
        assert loaded.data == DataFingerprint(
            "feedhash",
            "2021-01-04T21:00:00+00:00",
            "2021-01-06T21:00:00+00:00",
            ("AAPL", "MSFT"),
        )

    def test_run_description_round_trips(self, tmp_path: Path) -> None:
        run = {"data": {"path": "prices.parquet"}, "strategy": {"path": "m:S", "params": {"n": 3}}}
        loaded = load_result(save_result(_make_result(), tmp_path / "run", run=run))
        assert loaded.run == run
        assert loaded.name == "run"


class TestAtomicity:
    def test_directory_without_manifest_does_not_load(self, tmp_path: Path) -> None:
        out = save_result(_make_result(), tmp_path / "run")
        (out / MANIFEST_NAME).unlink()
        with pytest.raises(ResultFormatError, match=r"manifest\.json is missing"):
            load_result(out)
        assert not is_result_dir(out)

    def test_missing_directory_raises_result_format_error(self, tmp_path: Path) -> None:
        with pytest.raises(ResultFormatError, match="does not exist"):
            load_result(tmp_path / "nope")
        assert issubclass(ResultFormatError, BacktestError)
        assert issubclass(ResultFormatError, ValueError)

    def test_truncated_file_fails_checksum(self, tmp_path: Path) -> None:
        out = save_result(_make_result(), tmp_path / "run")
        data = (out / "trades.parquet").read_bytes()
        (out / "trades.parquet").write_bytes(data[: len(data) // 2])
        with pytest.raises(ResultFormatError, match=r"trades\.parquet does not match"):
            load_result(out)

    def test_deleted_file_is_reported_missing(self, tmp_path: Path) -> None:
        out = save_result(_make_result(), tmp_path / "run")
        (out / "fills.parquet").unlink()
        with pytest.raises(ResultFormatError, match=r"fills\.parquet listed in the manifest"):
            load_result(out)

    def test_failure_while_writing_leaves_no_target_and_no_temp_dir(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = {"n": 0}
        real = persistence._write_text

        def failing_write(file: Path, text: str) -> str:
            calls["n"] += 1
            if file.name == MANIFEST_NAME:
                raise OSError("disk full")
            return real(file, text)

        monkeypatch.setattr(persistence, "_write_text", failing_write)
        with pytest.raises(OSError, match="disk full"):
            save_result(_make_result(), tmp_path / "run")
        assert calls["n"] >= 2
        assert os.listdir(tmp_path) == []

    def test_interrupted_save_in_temp_dir_is_not_a_result(self, tmp_path: Path) -> None:
        # Simulate a crash after the frames were written but before the manifest.
        out = save_result(_make_result(), tmp_path / "run")
        partial = tmp_path / ".run.tmp-crashed"
        partial.mkdir()
        for file in out.iterdir():
            if file.name != MANIFEST_NAME:
                (partial / file.name).write_bytes(file.read_bytes())
        with pytest.raises(ResultFormatError, match="not a complete result directory"):
            load_result(partial)

    def test_existing_target_is_refused_without_overwrite(self, tmp_path: Path) -> None:
        save_result(_make_result(), tmp_path / "run")
        with pytest.raises(ResultFormatError, match="already exists; pass overwrite=True"):
            save_result(_make_result(), tmp_path / "run")

    def test_overwrite_replaces_directory_and_leaves_no_leftovers(self, tmp_path: Path) -> None:
        save_result(_make_result(), tmp_path / "run")
        changed = _make_result()
        changed = SavedResult(
            changed.equity_curve,
            changed.trades,
            changed.fills,
            changed.orders,
            changed.positions,
            {"sharpe": 9.0},
            changed.config,
        )
        save_result(changed, tmp_path / "run", overwrite=True)
        assert load_result(tmp_path / "run").metrics == {"sharpe": 9.0}
        assert sorted(os.listdir(tmp_path)) == ["run"]
        assert not (tmp_path / "run" / "state.parquet").exists()

    def test_newer_format_version_is_refused(self, tmp_path: Path) -> None:
        out = save_result(_make_result(), tmp_path / "run")
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        manifest["format_version"] = persistence.FORMAT_VERSION + 1
        (out / MANIFEST_NAME).write_text(json.dumps(manifest))
        with pytest.raises(ResultFormatError, match="newer than this library reads"):
            load_result(out)


class TestErrors:
    def test_non_numeric_metric_is_refused_before_anything_is_written(self, tmp_path: Path) -> None:
        res = _make_result()
        bad = SavedResult(
            res.equity_curve,
            res.trades,
            res.fills,
            res.orders,
            res.positions,
            {"sharpe": [1, 2]},
            res.config,
        )  # type: ignore[dict-item]
        with pytest.raises(ResultFormatError, match="metric 'sharpe'"):
            save_result(bad, tmp_path / "run")
        assert os.listdir(tmp_path) == []

    def test_non_polars_frame_is_refused(self, tmp_path: Path) -> None:
        res = _make_result()
        bad = SavedResult(
            res.equity_curve,
            {"a": 1},
            res.fills,
            res.orders,  # type: ignore[arg-type]
            res.positions,
            res.metrics,
            res.config,
        )
        with pytest.raises(ResultFormatError, match=r"result\.trades is dict"):
            save_result(bad, tmp_path / "run")

    def test_missing_parent_directories_are_created(self, tmp_path: Path) -> None:
        saved = save_result(_make_result(), tmp_path / "a" / "b")
        assert Path(saved) == tmp_path / "a" / "b"
        assert load_result(tmp_path / "a" / "b").metrics == _make_result().metrics

    def test_parent_that_is_a_file_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "a").write_text("not a folder")
        with pytest.raises(ResultFormatError, match="is a file"):
            save_result(_make_result(), tmp_path / "a" / "b")


class TestWithTheEngine:
    def test_engine_result_round_trips_through_backtest_result_save_and_load(
        self, tmp_path: Path
    ) -> None:
        close = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 21.0], [11.5, 22.0]])
        ts = np.arange(1, 5, dtype=np.int64) * 86_400 * 10**9
        feed = DataFeed(
            ts,
            ["A", "B"],
            {
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": np.full_like(close, 1e6),
            },
        )

        class Rotate(Strategy):
            def on_bar(self, bar: Any) -> None:
                if self.get_position("A") == 0:
                    self.buy("A", 10)
                else:
                    self.close_position("A")
                    self.sell("B", 5)

        config = BacktestConfig(
            initial_cash=1_000.0, account={"allow_short": True, "policy": "margin"}
        )
        result = BacktestEngine(feed, Rotate(), config).run()
        assert result.fills.height > 0
        out = result.save(tmp_path / "run", feed=feed)
        loaded = BacktestResult.load(out)
        for name in persistence.FRAME_NAMES:
            assert_frame_equal(getattr(loaded, name), getattr(result, name), check_exact=True)
        _assert_metrics_equal(loaded.metrics, result.metrics)
        assert loaded.config == result.config
        assert loaded.data["hash"] == feed.fingerprint()
        assert loaded.data["assets"] == ["A", "B"]
