"""Multi-currency: positions in their own currency, cash per currency, base-currency equity."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import ConfigError, DataValidationError, LookAheadError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import FxRates, Portfolio, RegTMargin


def test_rate_is_point_in_time() -> None:
    fx = FxRates.from_polars(
        pl.DataFrame({"timestamp": [10, 20], "currency": ["EUR", "EUR"], "rate": [1.1, 1.2]})
    )
    assert fx.rate("EUR", 19) == 1.1
    assert fx.rate("EUR", 20) == 1.2
    with pytest.raises(LookAheadError, match="first is at"):
        fx.rate("EUR", 9)
    with pytest.raises(ConfigError, match="no FX rates for 'JPY'"):
        fx.rate("JPY", 15)


def test_bad_series_is_rejected_with_row() -> None:
    fx = FxRates()
    with pytest.raises(DataValidationError, match="row 1"):
        fx.add("EUR", [0, 0], [1.0, 1.0])
    with pytest.raises(DataValidationError, match="rate at row 0"):
        fx.add("EUR", [0], [-1.0])


def test_foreign_asset_without_fx_raises_config_error() -> None:
    reg = AssetRegistry([Equity(asset_id="SAP", currency="EUR")])
    with pytest.raises(ConfigError, match="fx=FxRates"):
        Portfolio(["SAP"], reg)


def test_equity_in_base_currency_moves_with_price_and_rate() -> None:
    reg = AssetRegistry([Equity(asset_id="SAP", currency="EUR"), Equity(asset_id="AAPL")])
    fx = FxRates("USD")
    fx.add("EUR", [0, 2], [1.10, 1.20])
    pf = Portfolio(["SAP", "AAPL"], reg, initial_cash=10_000.0, account=RegTMargin(), fx=fx)
    assert pf.currencies == ("USD", "EUR")
    pf.apply_fill(FillEvent(0, 1, "SAP", OrderSide.BUY, 10, 100.0, commission=2.0))
    # EUR cash -1000 (a EUR loan), USD cash 10000 - 2 commission
    assert pf.cash == pytest.approx(9_998.0 - 1_100.0)
    pf.mark(1, np.array([110.0, np.nan]))
    assert pf.market_value == pytest.approx(1_210.0)
    assert pf.equity == pytest.approx(9_998.0 - 1_100.0 + 1_210.0)
    pf.check_invariant()
    pf.mark(2, np.array([110.0, np.nan]))  # EUR up: position + EUR loan both revalue
    assert pf.equity == pytest.approx(9_998.0 + (1_100.0 - 1_000.0) * 1.2)
    pf.check_invariant()
    credited = pf.convert(100.0, "EUR", "USD")
    assert credited == pytest.approx(120.0)
    pf.check_invariant()
