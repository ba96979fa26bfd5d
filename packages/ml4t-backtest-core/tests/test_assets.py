from __future__ import annotations

import math

import pytest

from ml4t.backtest.core.assets import (
    Asset,
    AssetRegistry,
    Crypto,
    Equity,
    Future,
    FXPair,
    Option,
)
from ml4t.backtest.core.enums import AssetClass, OptionRight
from ml4t.backtest.core.errors import ConfigError, UnknownAssetError


class TestAssets:
    def test_equity_defaults(self) -> None:
        eq = Equity(asset_id="AAPL")
        assert (eq.asset_class, eq.tick_size, eq.lot_size, eq.multiplier) == (
            AssetClass.EQUITY,
            0.01,
            1.0,
            1.0,
        )
        assert eq.shortable
        assert not eq.is_fractional
        assert eq.currency == "USD"

    @pytest.mark.parametrize("field", ["tick_size", "lot_size", "multiplier"])
    @pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
    def test_non_positive_or_non_finite_sizes_raise(self, field: str, bad: float) -> None:
        with pytest.raises(ConfigError, match=f"asset 'X': `{field}` must be finite and > 0"):
            Equity(asset_id="X", **{field: bad})

    def test_empty_asset_id_raises(self) -> None:
        with pytest.raises(ConfigError, match="non-empty string"):
            Asset(asset_id="")

    def test_future_margins(self) -> None:
        es = Future(
            asset_id="ES", multiplier=50.0, initial_margin=12_000.0, maintenance_margin=11_000.0
        )
        assert es.asset_class is AssetClass.FUTURE
        with pytest.raises(ConfigError, match="margins must be >= 0"):
            Future(asset_id="ES", initial_margin=-1.0)
        with pytest.raises(ConfigError, match=r"`maintenance_margin` \(13000.0\) exceeds"):
            Future(asset_id="ES", initial_margin=12_000.0, maintenance_margin=13_000.0)

    def test_option_terms(self) -> None:
        opt = Option(
            asset_id="C200", underlying="AAPL", strike=200.0, expiry=0, right=OptionRight.PUT
        )
        assert opt.multiplier == 100.0
        assert opt.right is OptionRight.PUT
        with pytest.raises(ConfigError, match="`strike`"):
            Option(asset_id="C0", underlying="AAPL", strike=0.0, expiry=0, right=OptionRight.CALL)
        with pytest.raises(ConfigError, match="`underlying` must be set"):
            Option(asset_id="C1", underlying="", strike=1.0, expiry=0, right=OptionRight.CALL)

    def test_fx_pair_currency_is_the_quote_currency(self) -> None:
        pair = FXPair(asset_id="EURUSD", base_currency="EUR", quote_currency="USD")
        assert pair.currency == "USD"
        assert pair.tick_size == 0.00001
        with pytest.raises(ConfigError, match="must equal `quote_currency`"):
            FXPair(asset_id="EURUSD", base_currency="EUR", quote_currency="USD", currency="EUR")

    def test_crypto_is_fractional(self) -> None:
        btc = Crypto(asset_id="BTC-USD")
        assert btc.is_fractional
        assert btc.lot_size == 1e-8

    def test_assets_are_frozen_and_hashable(self) -> None:
        eq = Equity(asset_id="AAPL")
        with pytest.raises(AttributeError):
            eq.tick_size = 1.0  # type: ignore[misc]
        assert {eq: 1}[Equity(asset_id="AAPL")] == 1


class TestRegistry:
    def test_unknown_id_defaults_to_equity_when_not_strict(self) -> None:
        reg = AssetRegistry()
        assert reg["MSFT"] == Equity(asset_id="MSFT")
        assert "MSFT" not in reg
        assert reg.get("MSFT") is None
        assert len(reg) == 0

    def test_strict_registry_raises_with_known_ids_and_fix(self) -> None:
        reg = AssetRegistry([Equity(asset_id="AAPL")], strict=True)
        with pytest.raises(
            UnknownAssetError, match=r"'MSFT' is not registered \(known: AAPL\); add it"
        ):
            reg["MSFT"]

    def test_add_same_definition_twice_is_fine_but_a_different_one_raises(self) -> None:
        reg = AssetRegistry([Equity(asset_id="AAPL")])
        reg.add(Equity(asset_id="AAPL"))
        assert len(reg) == 1
        with pytest.raises(ConfigError, match="already registered"):
            reg.add(Equity(asset_id="AAPL", lot_size=0.001))

    def test_remove_iterate_and_multipliers(self) -> None:
        es = Future(asset_id="ES", multiplier=50.0)
        reg = AssetRegistry([es, Equity(asset_id="AAPL")])
        assert [a.asset_id for a in reg] == ["ES", "AAPL"]
        assert reg.multipliers(["ES", "AAPL", "ZZZ"]) == [50.0, 1.0, 1.0]
        assert reg.remove("ES") is es
        with pytest.raises(UnknownAssetError, match="'ES' is not registered"):
            reg.remove("ES")
        assert "strict=False" in repr(reg)
