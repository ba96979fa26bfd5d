from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.bar import Bar
from ml4t.backtest.strategy.config import (
    AccountPolicy,
    BacktestConfig,
    BracketActivation,
    CashShortfallPolicy,
    FillTiming,
    IntrabarPolicy,
    ShareRounding,
    TrailReference,
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
        assert cfg.trail_reference is TrailReference.CLOSE  # trailadjust(pclose)
        assert cfg.bracket_activation is BracketActivation.NEXT_BAR  # _toactivate
        assert cfg.slippage_cap_to_bar is True  # slip_match=True, slip_out=False

    def test_other_presets_keep_the_default_trail_bracket_and_cap(self) -> None:
        for name in ("realistic", "vectorbt", "backtesting.py", "zipline"):
            cfg = BacktestConfig.preset(name)
            assert cfg.trail_reference is TrailReference.EXTREME
            assert cfg.bracket_activation is BracketActivation.SAME_BAR
            assert cfg.slippage_cap_to_bar is False

    def test_vectorbt(self) -> None:
        cfg = BacktestConfig.preset("vectorbt")
        assert cfg.initial_cash == 100.0  # init_cash default
        assert cfg.fill_timing is FillTiming.SAME_CLOSE  # price=close
        # allow_partial=True: cash / (price * (1 + fees))
        assert cfg.cash_shortfall is CashShortfallPolicy.RESIZE_FEE_INCLUSIVE
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
        assert cfg.cash_shortfall is CashShortfallPolicy.RESIZE_FEE_INCLUSIVE

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


def _feed(o, h, lo, c, *, assets=("X",), lot=1.0):
    # Daily bars from (bars x assets) lists; equities without a price grid.
    from ml4t.backtest.core.assets import AssetRegistry, Equity  # noqa: PLC0415

    o, h, lo, c = (np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in (o, h, lo, c))
    registry = AssetRegistry([Equity(asset_id=a, tick_size=1e-9, lot_size=lot) for a in assets])
    return DataFeed(
        np.arange(o.shape[0]) * 86_400 * 10**9,
        list(assets),
        {"open": o, "high": h, "low": lo, "close": c, "volume": o * 0 + 1e6},
        registry=registry,
    )


class _Once(Strategy):
    # Calls `action(self)` on bar 0 only.
    def __init__(self, action) -> None:  # type: ignore[no-untyped-def]
        self.action = action

    def on_bar(self, bar: Bar) -> None:
        if bar.index == 0:
            self.action(self)


def _fills(feed: DataFeed, action, cfg: BacktestConfig) -> list[tuple[int, str, float, float]]:  # type: ignore[no-untyped-def]
    result = BacktestEngine(data_feed=feed, strategy=_Once(action), config=cfg).run()
    return [
        (int(f["timestamp"].timestamp()) // 86_400, f["asset"], f["quantity"], f["price"])
        for f in result.fills.iter_rows(named=True)
    ]


class TestBacktraderPresetPeerSemantics:
    # Hand-computed fills under the backtrader preset vs the realistic defaults (no costs).

    def test_trailing_stop_trails_the_close(self) -> None:
        # bar 0 close 100 -> stop 95; bar 1: open 100, high 110, close 101 -> 95.95 (close)
        # or 104.5 (high); bar 2 opens at 103: only the high-trailed stop is gapped through
        # (fills at that open); bar 3 opens at 95 below 95.95: the close-trailed stop fills
        feed = _feed(
            [100, 100, 103, 95], [100, 110, 104, 96], [100, 99, 100, 94], [100, 101, 101, 95]
        )

        def act(s: Strategy) -> None:
            s.buy("X", 10)
            s.sell("X", 10, trail=0.05)

        bt = BacktestConfig.preset("backtrader", slippage={"kind": "none"})
        assert _fills(feed, act, bt) == [(1, "X", 10.0, 100.0), (3, "X", 10.0, 95.0)]
        ours = bt.replace(trail_reference="extreme")
        assert _fills(feed, act, ours)[1] == (2, "X", 10.0, 103.0)

    def test_bracket_children_work_from_the_bar_after_the_entry(self) -> None:
        # entry at bar 1's open 100; bar 1's low 97 reaches the stop 98 only on the entry
        # bar; bar 2's high 103 reaches the target 102
        feed = _feed([100, 100, 100], [100, 101, 103], [100, 97, 99.5], [100, 99, 102])

        def act(s: Strategy) -> None:
            s.bracket("X", 10, stop_loss=98.0, take_profit=102.0)

        bt = BacktestConfig.preset("backtrader")
        assert _fills(feed, act, bt) == [(1, "X", 10.0, 100.0), (2, "X", 10.0, 102.0)]
        same = bt.replace(bracket_activation="same_bar")
        assert _fills(feed, act, same) == [(1, "X", 10.0, 100.0), (1, "X", 10.0, 98.0)]

    def test_slippage_is_capped_at_the_bar_high(self) -> None:
        # $0.05 slippage on a buy at bar 1's open 10.00 whose high is 10.02: pays 10.02
        feed = _feed([10, 10.0], [10, 10.02], [10, 9.9], [10, 10.0])
        bt = BacktestConfig.preset("backtrader", slippage={"kind": "fixed", "per_unit": 0.05})
        (fill,) = _fills(feed, lambda s: s.buy("X", 1), bt)
        assert fill[3] == pytest.approx(10.02)
        (fill,) = _fills(feed, lambda s: s.buy("X", 1), bt.replace(slippage_cap_to_bar=False))
        assert fill[3] == pytest.approx(10.05)


class TestVectorbtPresetPeerSemantics:
    def test_cash_short_buy_is_resized_fee_inclusive(self) -> None:
        # 1,000 cash, 1% fees, fill at the close 10: 1000 / (10 * 1.01) = 99.00990099
        # (lot 1e-8); RESIZE would buy (1000 - 100 * 10 * 0.01) / 10 = 99.0
        feed = _feed([10, 10], [10, 10], [10, 10], [10, 10], lot=1e-8)
        vbt = BacktestConfig.preset(
            "vectorbt", initial_cash=1_000.0, commission={"kind": "percent", "rate": 0.01}
        )
        ((_, _, qty, price),) = _fills(feed, lambda s: s.buy("X", 100), vbt)
        assert (qty, price) == (pytest.approx(99.00990099, abs=1e-8), 10.0)
        ((_, _, qty, _),) = _fills(
            feed, lambda s: s.buy("X", 100), vbt.replace(cash_shortfall="resize")
        )
        assert qty == 99.0

    def test_rebalance_orders_buys_by_value_so_the_largest_is_cash_short(self) -> None:
        # 3 assets at 10, 20, 40 (lot 1e-8), 1,000 cash, 1% fees, weight 1/3 each: the buys
        # are worth 333.33 each, so value order = asset order (ties keep it) ...
        feed = _feed(
            [[10, 20, 40]] * 2, [[10, 20, 40]] * 2, [[10, 20, 40]] * 2, [[10, 20, 40]] * 2,
            assets=("A", "B", "C"), lot=1e-8,
        )  # fmt: skip
        vbt = BacktestConfig.preset(
            "vectorbt", initial_cash=1_000.0, commission={"kind": "percent", "rate": 0.01}
        )
        fills = _fills(feed, lambda s: s.rebalance({"A": 0.2, "B": 0.5, "C": 0.3}), vbt)
        # ... here the values are A 200, C 300, B 500: B goes last and is cut to the cash
        # left: 1000 - 202 - 303 = 495 -> 495 / (20 * 1.01) = 24.50495049
        assert [f[1] for f in fills] == ["A", "C", "B"]
        assert fills[2][2] == pytest.approx(24.50495049, abs=1e-8)
        by_asset = _fills(
            feed,
            lambda s: s.rebalance({"A": 0.2, "B": 0.5, "C": 0.3}),
            vbt.replace(rebalance_order="asset"),
        )
        assert [f[1] for f in by_asset] == ["A", "B", "C"]


class TestFastPathPeerOptions:
    def test_fast_path_refuses_slippage_cap_naming_the_option(self) -> None:
        from ml4t.backtest.strategy.signals import SignalStrategy, run_signals  # noqa: PLC0415

        feed = _feed([10, 10], [10, 10], [10, 10], [10, 10])
        cfg = BacktestConfig.preset("backtrader").replace(account={"policy": "cash"})
        with pytest.raises(ConfigError, match="slippage_cap_to_bar"):
            run_signals(feed, SignalStrategy("entry"), cfg)

    def test_fast_path_fee_inclusive_resize_matches_the_engine(self) -> None:
        from ml4t.backtest.core.assets import AssetRegistry, Equity  # noqa: PLC0415
        from ml4t.backtest.strategy.signals import SignalStrategy, run_signals  # noqa: PLC0415

        c = np.array([[10.0], [10.5], [11.0], [10.0]])
        feed = DataFeed(
            np.arange(4) * 86_400 * 10**9,
            ["X"],
            {
                "open": c, "high": c, "low": c, "close": c, "volume": c * 0 + 1e6,
                "entry": np.array([[1.0], [0.0], [0.0], [0.0]]),
            },
            signal_names=["entry"],
            registry=AssetRegistry([Equity(asset_id="X", tick_size=1e-9, lot_size=1e-8)]),
        )  # fmt: skip
        cfg = BacktestConfig.preset(
            "vectorbt", initial_cash=1_000.0, commission={"kind": "percent", "rate": 0.01}
        )
        fast = run_signals(feed, SignalStrategy("entry"), cfg)
        slow = BacktestEngine(data_feed=feed, strategy=SignalStrategy("entry"), config=cfg).run()
        (qty,) = fast.fills["quantity"].to_list()
        assert qty == pytest.approx(99.00990099, abs=1e-8)  # 1000 / (10 * 1.01)
        assert slow.fills["quantity"].to_list() == [qty]

    @pytest.mark.parametrize(
        ("kind", "p1", "p2"),
        [(0, 0.0, 0.0), (1, 0.005, 1.0), (2, 0.001, 0.0), (2, 0.01, 5.0), (3, 2.0, 0.0)],
    )
    def test_fee_inclusive_kernel_matches_its_python_twin(self, kind, p1, p2) -> None:  # type: ignore[no-untyped-def]
        from ml4t.backtest.execution._funds import fee_inclusive_quantity  # noqa: PLC0415
        from ml4t.backtest.strategy.nb import (  # noqa: PLC0415
            commission_nb,
            fee_inclusive_quantity_nb,
        )

        args = (kind, p1, p2, np.inf, np.inf)
        for budget, price, closing in ((1_000.0, 12.0, 0.0), (1e6, 116.32, 0.0), (50.0, 7.0, 3.0)):
            fast = fee_inclusive_quantity_nb(budget, *args, closing, price, 1.0)
            slow = fee_inclusive_quantity(
                budget, price, lambda q, c=closing, p=price: commission_nb(*args, c + q, p, 1.0)
            )
            assert fast == slow


class TestFuturesBuyingPower:
    @staticmethod
    def _run(quantity: float) -> list[tuple[int, str, float, float]]:
        # 6E: 125,000 EUR per contract at 1.20 (notional 150,000), $2,500 initial margin;
        # backtrader preset (Reg-T margin account, 50% default rate), 100,000 cash
        from ml4t.backtest.core.assets import AssetRegistry, Future  # noqa: PLC0415

        p = np.full((2, 1), 1.2)
        feed = DataFeed(
            np.arange(2) * 86_400 * 10**9,
            ["6E"],
            {"open": p, "high": p, "low": p, "close": p, "volume": p * 0 + 1e6},
            registry=AssetRegistry(
                [Future(asset_id="6E", multiplier=125_000.0, tick_size=5e-5,
                        initial_margin=2_500.0, maintenance_margin=2_500.0)]
            ),
        )  # fmt: skip
        cfg = BacktestConfig.preset("backtrader", initial_cash=100_000.0)
        return _fills(feed, lambda s: s.buy("6E", quantity), cfg)

    def test_fill_check_uses_the_initial_margin_not_the_notional(self) -> None:
        # 10 x 2,500 = 25,000 <= 100,000 of excess (the notional, 1.5M, would not fit)
        assert self._run(10) == [(1, "6E", 10.0, 1.2)]

    def test_margin_beyond_the_excess_is_still_refused(self) -> None:
        # 41 x 2,500 = 102,500 > 100,000
        assert self._run(41) == []
