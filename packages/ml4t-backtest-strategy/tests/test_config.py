import pickle

import numpy as np
import pytest

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.config import (
    PRESETS,
    BacktestConfig,
    BracketActivation,
    CashShortfallPolicy,
    FillTiming,
    PerShareCommissionSpec,
    RebalanceOrder,
    TrailReference,
    register_preset,
)


def _custom() -> BacktestConfig:
    return BacktestConfig(
        initial_cash=250_000.0,
        base_currency="EUR",
        fill_timing="same_close",
        commission={"kind": "per_share", "per_share": 0.01, "minimum": 2.0, "maximum": 50.0},
        slippage={"kind": "volume_share", "price_impact": 0.2, "volume_limit": 0.05},
        impact={"kind": "square_root", "coefficient": 0.5},
        account={"policy": "margin", "allow_short": True, "initial_margin": 0.5},
        sizing={"method": "fixed_value", "value": 5_000.0, "min_trade_value": 100.0},
        risk={"stop_loss": 0.05, "trailing_stop": 0.1, "max_positions": 20, "exit_signal": "x"},
        intrabar_policy="ohlc",
        exit_first=False,
        volume_limit=0.1,
        cash_shortfall="resize",
        share_rounding="lot",
        close_positions_at_end=True,
        seed=7,
    )


class TestBacktestConfig:
    def test_defaults_are_the_realistic_preset(self):
        cfg = BacktestConfig()
        assert cfg.initial_cash == 100_000.0
        assert cfg.fill_timing is FillTiming.NEXT_OPEN
        assert cfg.commission == PerShareCommissionSpec(per_share=0.005, minimum=1.0)
        assert cfg.slippage.kind == "fixed_bps"
        assert cfg.cash_shortfall is CashShortfallPolicy.REJECT
        assert BacktestConfig.preset("realistic") == cfg

    @pytest.mark.parametrize("cfg", [BacktestConfig(), _custom()])
    def test_round_trip_dict_toml_yaml_json(self, cfg, tmp_path):
        assert BacktestConfig.from_dict(cfg.to_dict()) == cfg
        assert BacktestConfig.from_toml(cfg.to_toml()) == cfg
        assert BacktestConfig.from_yaml(cfg.to_yaml()) == cfg
        for suffix in (".toml", ".yaml", ".json"):
            path = tmp_path / f"cfg{suffix}"
            cfg.to_file(path)
            assert BacktestConfig.from_file(path) == cfg

    def test_pickle_round_trip(self):
        cfg = _custom()
        assert pickle.loads(pickle.dumps(cfg)) == cfg

    def test_unknown_top_level_key_raises_config_error_naming_it(self):
        with pytest.raises(ConfigError, match=r"unknown key 'initial_csh'"):
            BacktestConfig(initial_csh=1.0)

    def test_unknown_nested_key_in_toml_raises_config_error(self):
        text = "[risk]\nstop_los = 0.05\n"
        with pytest.raises(ConfigError, match=r"risk.stop_los"):
            BacktestConfig.from_toml(text)

    def test_unknown_commission_kind_is_rejected(self):
        with pytest.raises(ConfigError, match="commission"):
            BacktestConfig(commission={"kind": "per_lot"})

    def test_out_of_range_value_names_field_and_value(self):
        with pytest.raises(ConfigError, match=r"initial_cash.*-5"):
            BacktestConfig(initial_cash=-5)

    def test_config_is_frozen(self):
        cfg = BacktestConfig()
        with pytest.raises(Exception, match="frozen"):
            cfg.initial_cash = 1.0  # type: ignore[misc]

    def test_maintenance_above_initial_margin_is_rejected(self):
        with pytest.raises(ConfigError, match="maintenance_margin"):
            BacktestConfig(
                account={"policy": "margin", "initial_margin": 0.3, "maintenance_margin": 0.4}
            )

    def test_config_error_is_a_value_error(self):
        with pytest.raises(ValueError, match="seed"):
            BacktestConfig(seed=-1)

    def test_invalid_toml_and_yaml_raise_config_error(self):
        with pytest.raises(ConfigError, match="TOML"):
            BacktestConfig.from_toml("initial_cash = = 3")
        with pytest.raises(ConfigError, match="YAML"):
            BacktestConfig.from_yaml("a: [1, 2")

    def test_unknown_file_suffix_raises(self, tmp_path):
        with pytest.raises(ConfigError, match="suffix"):
            BacktestConfig().to_file(tmp_path / "cfg.ini")

    def test_replace_validates_and_keeps_other_fields(self):
        cfg = _custom().replace(initial_cash=1.0, risk={"take_profit": 0.2})
        assert cfg.initial_cash == 1.0
        assert cfg.risk.take_profit == 0.2
        assert cfg.risk.stop_loss is None
        assert cfg.seed == 7

    def test_preset_registry_accepts_new_presets_and_overrides(self):
        register_preset(
            "test_frictionless", {"commission": {"kind": "none"}, "slippage": {"kind": "none"}}
        )
        try:
            cfg = BacktestConfig.preset("test_frictionless", initial_cash=10.0)
            assert not cfg.has_costs
            assert cfg.initial_cash == 10.0
        finally:
            PRESETS.pop("test_frictionless")

    def test_unknown_preset_lists_known_ones(self):
        with pytest.raises(ConfigError, match="realistic"):
            BacktestConfig.preset("nope")

    def test_invalid_preset_is_rejected_when_registered(self):
        with pytest.raises(ConfigError):
            register_preset("bad", {"initial_cash": 0})
        assert "bad" not in PRESETS

    def test_specs_build_execution_models_with_the_same_numbers(self):
        cfg = _custom()
        commission = cfg.commission.build()
        assert commission.commission(100, 10.0) == 2.0  # max(100 * 0.01, 2.0)
        assert commission.commission(10_000, 10.0) == 50.0  # capped at maximum
        slip = BacktestConfig(slippage={"kind": "fixed_bps", "bps": 10.0}).slippage.build()
        assert slip.slippage(200.0, 10) == pytest.approx(0.2)

    def test_rounding_step_per_policy(self):
        assert BacktestConfig().rounding_step(100.0) == 1.0
        assert BacktestConfig(share_rounding="lot").rounding_step(100.0) == 100.0
        assert BacktestConfig(share_rounding="fractional").rounding_step(1.0) == 0.0


class TestPeerSemanticFields:
    # trail_reference, bracket_activation, slippage_cap_to_bar, rebalance_order and the
    # fee-inclusive resize: defaults keep today's behaviour, values round-trip and are checked.

    def test_defaults_keep_the_previous_behaviour(self):
        cfg = BacktestConfig()
        assert cfg.trail_reference is TrailReference.EXTREME
        assert cfg.bracket_activation is BracketActivation.SAME_BAR
        assert cfg.slippage_cap_to_bar is False
        assert cfg.rebalance_order is RebalanceOrder.ASSET
        assert cfg.cash_shortfall is CashShortfallPolicy.REJECT

    def test_peer_fields_round_trip_through_toml_and_yaml(self):
        cfg = BacktestConfig(
            trail_reference="close",
            bracket_activation="next_bar",
            slippage_cap_to_bar=True,
            rebalance_order="value",
            cash_shortfall="resize_fee_inclusive",
        )
        assert BacktestConfig.from_toml(cfg.to_toml()) == cfg
        assert BacktestConfig.from_yaml(cfg.to_yaml()) == cfg
        assert cfg.to_dict()["cash_shortfall"] == "resize_fee_inclusive"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("trail_reference", "high"),
            ("bracket_activation", "later"),
            ("rebalance_order", "random"),
            ("cash_shortfall", "resize_fees"),
        ],
    )
    def test_unknown_value_raises_config_error_naming_the_field(self, field, value):
        with pytest.raises(ConfigError, match=field):
            BacktestConfig(**{field: value})

    def test_engine_passes_the_fields_to_the_broker(self):
        from ml4t.backtest.core.data import DataFeed  # noqa: PLC0415
        from ml4t.backtest.execution.fills import (  # noqa: PLC0415
            BracketActivation as Activation,
        )
        from ml4t.backtest.execution.fills import FundsPolicy  # noqa: PLC0415
        from ml4t.backtest.execution.fills import TrailReference as Trail  # noqa: PLC0415
        from ml4t.backtest.strategy import _venue  # noqa: PLC0415

        feed = DataFeed(
            np.arange(2) * 86_400 * 10**9,
            ["X"],
            {k: np.full((2, 1), 10.0) for k in ("open", "high", "low", "close", "volume")},
        )
        cfg = BacktestConfig(
            trail_reference="close",
            bracket_activation="next_bar",
            slippage_cap_to_bar=True,
            cash_shortfall="resize_fee_inclusive",
        )
        broker = _venue.make_broker(cfg, feed, _venue.make_portfolio(cfg, feed))
        assert broker.trail_reference is Trail.CLOSE
        assert broker.bracket_activation is Activation.NEXT_BAR
        assert broker.slippage_cap_to_bar is True
        assert broker.funds_policy is FundsPolicy.RESIZE_FEE_INCLUSIVE
        default = _venue.make_broker(BacktestConfig(), feed, _venue.make_portfolio(cfg, feed))
        assert default.trail_reference is Trail.EXTREME
        assert default.bracket_activation is Activation.SAME_BAR
        assert default.slippage_cap_to_bar is False
        assert default.funds_policy is FundsPolicy.REJECT
