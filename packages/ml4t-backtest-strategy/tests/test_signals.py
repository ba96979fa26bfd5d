"""The signal fast path gives the engine's result to the cent and to the trade."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.signals import (
    SignalStrategy,
    WeightStrategy,
    entry_quantity,
    run_signals,
)

DAY = 86_400 * 10**9


def random_case(seed: int) -> tuple[DataFeed, BacktestConfig]:
    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(15, 70))
    n_a = int(rng.integers(1, 6))
    ret = rng.normal(0.0, 0.03, size=(n_t, n_a))
    close = 20.0 * np.exp(np.cumsum(ret, axis=0)) * rng.uniform(0.5, 3.0, size=n_a)
    close = np.round(close, 2)
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, size=close.shape)), 2)
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, size=close.shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, size=close.shape))
    missing = rng.random(close.shape) < 0.08
    for arr in (open_, high, low, close):
        arr[missing] = np.nan
    entry = (rng.random(close.shape) < 0.25).astype(float)
    exit_ = (rng.random(close.shape) < 0.2).astype(float)
    feed = DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY + 19_000 * DAY,
        [f"S{j}" for j in range(n_a)],
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.where(missing, np.nan, 1e6),
            "entry": entry,
            "exit": exit_,
        },
        has_bar=~missing,
        signal_names=["entry", "exit"],
    )
    commission = [
        {"kind": "none"},
        {"kind": "per_share", "per_share": 0.01, "minimum": 1.0},
        {"kind": "per_share", "per_share": 0.005, "minimum": 1.0, "max_fraction": 0.01},
        {"kind": "percent", "rate": 0.001, "minimum": 0.5},
        {"kind": "fixed", "amount": 2.5},
    ][int(rng.integers(0, 5))]
    slippage = [
        {"kind": "none"},
        {"kind": "fixed_bps", "bps": float(rng.uniform(0, 20))},
        {"kind": "fixed", "per_unit": 0.01},
    ][int(rng.integers(0, 3))]
    sizing = [
        {"method": "percent_equity", "percent": float(rng.uniform(0.1, 1.2))},
        {"method": "fixed_quantity", "quantity": float(rng.integers(1, 400))},
        {"method": "fixed_value", "value": float(rng.uniform(500, 30_000))},
    ][int(rng.integers(0, 3))]
    risk: dict[str, float | int] = {}
    if rng.random() < 0.4:
        risk["stop_loss"] = float(rng.uniform(0.01, 0.08))
    if rng.random() < 0.3:
        risk["take_profit"] = float(rng.uniform(0.02, 0.15))
    if rng.random() < 0.3:
        risk["trailing_stop"] = float(rng.uniform(0.02, 0.1))
    if rng.random() < 0.3:
        risk["max_bars_held"] = int(rng.integers(1, 8))
    config = BacktestConfig(
        initial_cash=float(rng.choice([5_000.0, 20_000.0, 100_000.0])),
        fill_timing=str(rng.choice(["next_open", "same_close"])),
        commission=commission,
        slippage=slippage,
        sizing=sizing,
        risk=risk,
        cash_shortfall=str(rng.choice(["reject", "resize"])),
        close_positions_at_end=bool(rng.random() < 0.5),
        exit_first=bool(rng.random() < 0.8),
    )
    return feed, config


def assert_same_result(slow, fast) -> None:
    money = {"rel_tol": 0.0, "abs_tol": 1e-6}
    assert_frame_equal(slow.equity_curve, fast.equity_curve, check_exact=False, **money)
    cols = ["timestamp", "order_id", "asset", "side", "quantity", "tag"]
    assert_frame_equal(slow.fills.select(cols), fast.fills.select(cols))
    num = ["price", "reference_price", "commission", "slippage", "remaining"]
    assert_frame_equal(slow.fills.select(num), fast.fills.select(num), check_exact=False, **money)
    assert_frame_equal(slow.trades, fast.trades, check_exact=False, **money)
    ocols = [
        "order_id",
        "asset",
        "side",
        "quantity",
        "order_type",
        "status",
        "filled_quantity",
        "tag",
    ]
    assert_frame_equal(slow.orders.select(ocols), fast.orders.select(ocols))
    assert_frame_equal(slow.positions, fast.positions, check_exact=False, **money)


@pytest.mark.parametrize("seed", range(60))
def test_fast_path_matches_engine_on_random_cases(seed):
    feed, config = random_case(seed)
    strategy = SignalStrategy("entry", "exit")
    slow = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    fast = run_signals(feed, strategy, config)
    assert_same_result(slow, fast)


def test_random_cases_exercise_rejections_resizes_and_risk_exits():
    # the parity test above is only meaningful if the cases hit the hard branches
    reasons: set[str] = set()
    statuses: set[str] = set()
    for seed in range(60):
        feed, config = random_case(seed)
        fast = run_signals(feed, SignalStrategy("entry", "exit"), config)
        reasons.update(fast.trades["exit_reason"].to_list())
        statuses.update(fast.orders["status"].to_list())
    assert {"", "stop_loss", "take_profit", "trailing_stop", "time_exit"} <= reasons
    assert "end_of_backtest" in reasons
    assert {"FILLED", "REJECTED", "CANCELED"} <= statuses


def test_hand_computed_fast_path_round_trip():
    close = np.array([[10.0], [10.0], [12.0], [12.0]])
    open_ = np.array([[10.0], [10.0], [11.0], [12.5]])
    feed = DataFeed(
        np.arange(4, dtype=np.int64) * DAY,
        ["X"],
        {
            "open": open_,
            "high": np.fmax(open_, close),
            "low": np.fmin(open_, close),
            "close": close,
            "volume": np.full((4, 1), 1e6),
            "entry": np.array([[1.0], [0], [0], [0]]),
            "exit": np.array([[0.0], [0], [1], [0]]),
        },
        signal_names=["entry", "exit"],
    )
    config = BacktestConfig(
        initial_cash=1_000.0,
        commission={"kind": "fixed", "amount": 1.0},
        slippage={"kind": "none"},
        sizing={"method": "percent_equity", "percent": 0.5},
    )
    fast = run_signals(feed, SignalStrategy("entry", "exit"), config)
    # entry at bar 0: floor(0.5 * 1000 / 10) = 50 shares, filled at bar 1 open 10.0, fee 1
    # exit at bar 2: sell 50 at bar 3 open 12.5, fee 1 -> cash 1000 - 500 - 1 + 625 - 1
    assert fast.equity_curve["cash"].to_list() == [1000.0, 499.0, 499.0, 1123.0]
    assert fast.equity_curve["equity"].to_list() == [1000.0, 999.0, 1099.0, 1123.0]
    assert fast.trades["net_pnl"].to_list() == [123.0]
    assert fast.trades["bars_held"].to_list() == [2]


def test_entry_quantity_follows_sizing_method():
    cfg = BacktestConfig(sizing={"method": "fixed_value", "value": 1000.0})
    assert entry_quantity(cfg, equity=1e6, price=30.0, multiplier=1.0, step=1.0) == 33.0
    cfg = BacktestConfig(sizing={"method": "fixed_quantity", "quantity": 7.5})
    assert entry_quantity(cfg, equity=1e6, price=30.0, multiplier=1.0, step=1.0) == 7.0


def test_unsupported_config_names_the_feature():
    feed, _ = random_case(0)
    with pytest.raises(ConfigError, match="volume_limit"):
        run_signals(feed, SignalStrategy("entry", "exit"), BacktestConfig(volume_limit=0.5))
    with pytest.raises(ConfigError, match="'nope'"):
        run_signals(feed, SignalStrategy("nope"), BacktestConfig())


def test_fast_path_frames_have_documented_schemas():
    feed, config = random_case(3)
    slow = BacktestEngine(
        data_feed=feed, strategy=SignalStrategy("entry", "exit"), config=config
    ).run()
    fast = run_signals(feed, SignalStrategy("entry", "exit"), config)
    for name in ("equity_curve", "trades", "fills", "orders", "positions"):
        assert getattr(fast, name).schema == getattr(slow, name).schema, name
    assert isinstance(fast.equity_curve, pl.DataFrame)


def random_weight_case(seed: int) -> tuple[DataFeed, BacktestConfig]:
    feed, config = random_case(seed + 1000)
    rng = np.random.default_rng(seed)
    n_t, n_a = feed.close.shape
    weights = rng.uniform(0.0, 1.6 / n_a, size=(n_t, n_a))
    weights[rng.random((n_t, n_a)) < 0.2] = 0.0
    every = int(rng.integers(1, 6))
    weights[np.arange(n_t) % every != 0] = np.nan  # rebalance every `every` bars
    fields = dict(feed.fields)
    fields["w"] = weights
    feed = DataFeed(feed.timestamps, feed.assets, fields, has_bar=feed.has_bar, signal_names=["w"])
    config = config.replace(
        risk={},
        cash_shortfall="reject",
        sizing={"min_trade_value": float(rng.choice([0.0, 50.0, 500.0]))},
    )
    return feed, config


@pytest.mark.parametrize("seed", range(40))
def test_weight_fast_path_matches_engine_on_random_cases(seed):
    feed, config = random_weight_case(seed)
    strategy = WeightStrategy("w")
    slow = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    fast = run_signals(feed, strategy, config)
    assert_same_result(slow, fast)


def test_weight_cases_exercise_partial_closes_and_rejections():
    partial = 0
    statuses: set[str] = set()
    for seed in range(40):
        feed, config = random_weight_case(seed)
        fast = run_signals(feed, WeightStrategy("w"), config)
        statuses.update(fast.orders["status"].to_list())
        trades = fast.trades
        # a lot closed in more than one trade = partial closes happened
        partial += trades.height - trades.select("asset", "entry_time").unique().height
    assert partial > 0
    assert {"FILLED", "REJECTED"} <= statuses


def test_weights_refuse_position_risk_rules():
    feed, config = random_weight_case(0)
    with pytest.raises(ConfigError, match="position risk rules"):
        run_signals(feed, WeightStrategy("w"), config.replace(risk={"stop_loss": 0.1}))


# -- the compiled bar recorder against the numpy expressions it replaces ------------------------
def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


@pytest.mark.parametrize(("seed", "n_a", "shorts"), [(0, 1, False), (1, 1, True), (2, 3, False),
                                                      (3, 5, True), (4, 7, True)])  # fmt: skip
def test_record_bar_kernel_matches_numpy_bit_for_bit(seed: int, n_a: int, shorts: bool) -> None:
    from ml4t.backtest.strategy.nb import CURVE_FIELDS, record_bar_nb  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    n = 400
    qty = rng.integers(1, 50, (n, n_a)).astype(float)
    qty[rng.random((n, n_a)) < 0.4] = 0.0
    if shorts:  # short positions from a third of the way in (the recorder back-fills)
        qty[n // 3 :] *= np.where(rng.random((n - n // 3, n_a)) < 0.3, -1.0, 1.0)
    last = rng.uniform(1.0, 200.0, (n, n_a))
    mult = rng.choice([1.0, 50.0], n_a)
    cash = 1e5 - (qty * last * mult).sum(axis=1) + rng.normal(0.0, 1e3, n)
    cash[10] = -(qty[10] * last[10] * mult).sum()  # equity 0: leverage NaN, inf returns
    ts = np.arange(n, dtype=np.int64) * 7
    curve = np.full((len(CURVE_FIELDS), n), np.nan)
    pos = (np.empty(n * n_a, np.int64), np.empty(n * n_a, np.int64), np.empty(n * n_a),
           np.empty(n * n_a))  # fmt: skip
    n_pos, prev, peak, simple = 0, 1e5, 0.0, True
    for t in range(n):
        n_pos, prev, peak, simple = record_bar_nb(
            t, int(ts[t]), float(cash[t]), qty[t], last[t], mult, curve, *pos, n_pos, prev,
            peak, simple,
        )  # fmt: skip
    assert simple is not shorts
    rows = dict(zip(CURVE_FIELDS, curve, strict=True))
    if simple:  # the caller fills these rows from the long exposure
        for name in ("market_value", "gross_exposure", "net_exposure"):
            rows[name] = rows["long_exposure"]
        rows["short_exposure"] = np.zeros(n)
    value = np.where(qty != 0.0, qty * last * mult, 0.0)
    equity = cash.copy()
    for j in range(n_a):  # in column order, held positions only (as the engine marks)
        equity = np.where(qty[:, j] != 0.0, equity + value[:, j], equity)
    long_e = np.where(value > 0, value, 0.0).sum(axis=1)
    short_e = np.where(value < 0, value, 0.0).sum(axis=1)
    gross = long_e - short_e
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = {
            "equity": equity,
            "cash": cash,
            "market_value": value.sum(axis=1),
            "gross_exposure": gross,
            "net_exposure": long_e + short_e,
            "long_exposure": long_e,
            "short_exposure": short_e,
            "leverage": np.where(equity != 0.0, gross / equity, np.nan),
            "returns": equity / np.concatenate([[1e5], equity[:-1]]) - 1.0,
            "drawdown": equity / np.maximum.accumulate(equity) - 1.0,
        }
    for name, want in expected.items():
        np.testing.assert_array_equal(_bits(rows[name]), _bits(want), err_msg=name)
    rows, cols = np.nonzero(qty)
    assert n_pos == rows.size
    np.testing.assert_array_equal(pos[0][:n_pos], ts[rows])
    if n_a > 1:  # (one asset: the column is not written)
        np.testing.assert_array_equal(pos[1][:n_pos], cols)
    np.testing.assert_array_equal(pos[2][:n_pos], qty[rows, cols])
    np.testing.assert_array_equal(pos[3][:n_pos], value[rows, cols])
