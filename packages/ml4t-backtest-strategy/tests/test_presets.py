from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.bar import Bar
from ml4t.backtest.strategy.config import (
    AccountPolicy,
    BacktestConfig,
    CashShortfallPolicy,
    FillTiming,
    IntrabarPolicy,
    ShareRounding,
)
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.presets import (
    PEER_VERSIONS,
    PRESET_GAPS,
    PRESET_NAMES,
    preset_overrides,
)
from ml4t.backtest.strategy.strategy import Strategy


class TestPresetRegistry:
    def test_preset_names_cover_every_peer_and_realistic(self) -> None:
        assert set(PRESET_NAMES) == {
            "realistic",
            "backtrader",
            "vectorbt",
            "backtesting.py",
            "zipline",
        }
        assert set(PEER_VERSIONS) == set(PRESET_NAMES) - {"realistic"}
        assert set(PRESET_GAPS) == set(PEER_VERSIONS)

    @pytest.mark.parametrize("name", PRESET_NAMES)
    def test_preset_resolves_through_backtest_config(self, name: str) -> None:
        cfg = BacktestConfig.preset(name)
        assert isinstance(cfg, BacktestConfig)

    def test_realistic_is_the_defaults(self) -> None:
        assert BacktestConfig.preset("realistic") == BacktestConfig()
        assert preset_overrides("realistic") == {}

    def test_unknown_name_raises_key_error_listing_known_presets(self) -> None:
        with pytest.raises(KeyError, match="known presets: realistic, backtrader"):
            preset_overrides("backtrder")

    def test_unknown_name_through_config_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="unknown preset 'zip'"):
            BacktestConfig.preset("zip")

    def test_overrides_are_a_copy(self) -> None:
        first = preset_overrides("zipline")
        first["commission"]["per_share"] = 99.0
        first["initial_cash"] = 1.0
        again = preset_overrides("zipline")
        assert again["commission"]["per_share"] == 0.001
        assert again["initial_cash"] == 10_000_000.0


class TestPresetSemantics:
    # Each expected value is the peer's default as read in its source (see docs/presets.md).

    def test_backtrader(self) -> None:
        cfg = BacktestConfig.preset("backtrader")
        assert cfg.initial_cash == 10_000.0  # BackBroker cash
        assert cfg.fill_timing is FillTiming.NEXT_OPEN  # coc=False
        assert cfg.commission.kind == "none"
        assert cfg.slippage.kind == "none"
        assert cfg.cash_shortfall is CashShortfallPolicy.REJECT  # checksubmit -> Margin
        assert cfg.share_rounding is ShareRounding.FRACTIONAL  # sizes used as given
        assert cfg.exit_first is False  # submission order
        assert cfg.account.allow_short is True
        assert cfg.close_positions_at_end is False

    def test_vectorbt(self) -> None:
        cfg = BacktestConfig.preset("vectorbt")
        assert cfg.initial_cash == 100.0  # init_cash default
        assert cfg.fill_timing is FillTiming.SAME_CLOSE  # price=close
        assert cfg.cash_shortfall is CashShortfallPolicy.RESIZE  # allow_partial=True
        assert cfg.share_rounding is ShareRounding.FRACTIONAL
        assert cfg.sizing.method == "percent_equity"
        assert cfg.sizing.percent == 1.0  # size=inf: all the cash
        assert cfg.account.policy is AccountPolicy.CASH
        assert cfg.account.allow_short is False  # direction='longonly'
        assert cfg.exit_first is True  # call_seq='auto'

    def test_backtesting_py(self) -> None:
        cfg = BacktestConfig.preset("backtesting.py")
        assert cfg.initial_cash == 10_000.0
        assert cfg.fill_timing is FillTiming.NEXT_OPEN  # trade_on_close=False
        assert cfg.share_rounding is ShareRounding.INTEGER
        assert cfg.sizing.percent == 0.9999  # default size
        assert cfg.account.initial_margin == 1.0  # margin=1: no leverage
        assert cfg.account.allow_short is True
        assert cfg.intrabar_policy is IntrabarPolicy.PESSIMISTIC  # SL before TP
        assert cfg.exit_first is True  # contingent orders queued first

    def test_zipline(self) -> None:
        cfg = BacktestConfig.preset("zipline")
        assert cfg.fill_timing is FillTiming.NEXT_CLOSE
        assert cfg.commission.kind == "per_share"
        assert cfg.commission.per_share == 0.001  # DEFAULT_PER_SHARE_COST
        assert cfg.commission.minimum == 0.0
        assert cfg.slippage.kind == "fixed_bps"
        assert cfg.slippage.bps == 5.0  # FixedBasisPointsSlippage()
        assert cfg.volume_limit == 0.1
        assert cfg.cash_shortfall is CashShortfallPolicy.ALLOW_NEGATIVE
        assert cfg.share_rounding is ShareRounding.INTEGER

    def test_fill_timing_differs_between_peers(self) -> None:
        timing = {n: BacktestConfig.preset(n).fill_timing for n in PRESET_NAMES}
        assert timing == {
            "realistic": FillTiming.NEXT_OPEN,
            "backtrader": FillTiming.NEXT_OPEN,
            "vectorbt": FillTiming.SAME_CLOSE,
            "backtesting.py": FillTiming.NEXT_OPEN,
            "zipline": FillTiming.NEXT_CLOSE,
        }


class TestPresetIsAPlainConfig:
    def test_a_field_can_be_changed_on_top_of_a_preset(self) -> None:
        cfg = BacktestConfig.preset(
            "backtrader", commission={"kind": "percent", "rate": 0.001}, initial_cash=50_000
        )
        assert cfg.commission.kind == "percent"
        assert cfg.commission.rate == 0.001
        assert cfg.initial_cash == 50_000.0
        # the rest of the preset stays
        assert cfg.fill_timing is FillTiming.NEXT_OPEN
        assert cfg.exit_first is False

    def test_replace_changes_one_field(self) -> None:
        cfg = BacktestConfig.preset("vectorbt").replace(fill_timing="next_open")
        assert cfg.fill_timing is FillTiming.NEXT_OPEN
        assert cfg.cash_shortfall is CashShortfallPolicy.RESIZE

    @pytest.mark.parametrize("name", PRESET_NAMES)
    def test_preset_round_trips_through_toml_and_yaml(self, name: str) -> None:
        cfg = BacktestConfig.preset(name)
        assert BacktestConfig.from_toml(cfg.to_toml()) == cfg
        assert BacktestConfig.from_yaml(cfg.to_yaml()) == cfg

    def test_invalid_override_on_a_preset_names_the_field(self) -> None:
        with pytest.raises(ConfigError, match="initial_cash"):
            BacktestConfig.preset("zipline", initial_cash=-1.0)


class _BuyTenOnFirstBar(Strategy):
    def on_bar(self, bar: Bar) -> None:
        if bar.index == 0:
            self.buy("X", 10)


def _fill_of(preset: str, **overrides: object) -> tuple[int, float, float]:
    # Three daily bars with distinct opens and closes; returns (bar, price, commission).
    o = np.array([[10.0], [11.0], [12.0]])
    c = np.array([[10.5], [11.5], [12.5]])
    feed = DataFeed(
        np.arange(3) * 86_400 * 10**9,
        ["X"],
        {"open": o, "high": c + 1.0, "low": o - 1.0, "close": c, "volume": o * 0 + 1e6},
    )
    cfg = BacktestConfig.preset(preset, **overrides)
    result = BacktestEngine(data_feed=feed, strategy=_BuyTenOnFirstBar(), config=cfg).run()
    (fill,) = result.fills.iter_rows(named=True)
    bar = int(fill["timestamp"].timestamp()) // 86_400
    return bar, fill["price"], fill["commission"]


class TestPresetsDriveTheEngine:
    # An order placed on bar 0 (open 10.0, close 10.5); bar 1: open 11.0, close 11.5.

    def test_backtrader_fills_at_the_next_open_without_costs(self) -> None:
        assert _fill_of("backtrader") == (1, 11.0, 0.0)

    def test_backtesting_py_fills_at_the_next_open_without_costs(self) -> None:
        assert _fill_of("backtesting.py") == (1, 11.0, 0.0)

    def test_vectorbt_fills_at_the_signal_bars_close(self) -> None:
        assert _fill_of("vectorbt", initial_cash=1_000.0) == (0, 10.5, 0.0)

    def test_zipline_fills_at_the_next_close_with_5_bp_and_per_share_costs(self) -> None:
        bar, price, commission = _fill_of("zipline")
        assert bar == 1
        assert price == pytest.approx(11.5 * 1.0005)  # 5 bp against the buyer
        assert commission == pytest.approx(10 * 0.001)  # $0.001/share, no minimum

    def test_realistic_fills_at_the_next_open_with_default_costs(self) -> None:
        bar, price, commission = _fill_of("realistic")
        assert bar == 1
        assert price == pytest.approx(11.0 * 1.0001)  # 1 bp
        assert commission == 1.0  # 10 x $0.005 = $0.05 -> $1 minimum
