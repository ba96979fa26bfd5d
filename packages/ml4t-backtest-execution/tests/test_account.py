import math

import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity, Future
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.execution.account import AccountView, SimpleAccount

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_simple_account_implements_account_view():
    assert isinstance(SimpleAccount(1.0), AccountView)


def test_fills_move_cash_and_positions():
    acct = SimpleAccount(10_000.0)
    acct.apply_fill(FillEvent(0, 1, "A", BUY, 50.0, 20.0, commission=1.0))
    acct.apply_fill(FillEvent(1, 2, "A", SELL, 20.0, 25.0, commission=1.0))
    # 10,000 - 1,000 - 1 + 500 - 1 = 9,498; 30 left, marked at 25
    assert acct.cash == pytest.approx(9498.0)
    assert acct.position("A") == 30.0
    assert acct.equity == pytest.approx(9498.0 + 750.0)


def test_futures_fill_uses_multiplier():
    reg = AssetRegistry([Future(asset_id="ES", multiplier=50.0)])
    acct = SimpleAccount(100_000.0, leverage=10.0, registry=reg)
    acct.apply_fill(FillEvent(0, 1, "ES", BUY, 1.0, 4000.0, multiplier=50.0))
    assert acct.cash == pytest.approx(-100_000.0)
    assert acct.equity == pytest.approx(100_000.0)


def test_buying_power_with_leverage():
    acct = SimpleAccount(10_000.0, leverage=2.0)
    acct.apply_fill(FillEvent(0, 1, "A", BUY, 100.0, 50.0))
    # equity 10,000 * 2 - gross 5,000
    assert acct.buying_power() == pytest.approx(15_000.0)


def test_check_order_reasons():
    reg = AssetRegistry([Equity(asset_id="HTB", shortable=False)])
    acct = SimpleAccount(1000.0, registry=reg)
    assert acct.check_order("A", BUY, 10, 100.0) is None
    assert "insufficient buying power" in acct.check_order("A", BUY, 11, 100.0)
    assert "short sale not permitted" in acct.check_order("HTB", SELL, 1, 10.0)
    acct.apply_fill(FillEvent(0, 1, "HTB", BUY, 5.0, 10.0))
    assert acct.check_order("HTB", SELL, 5, 10.0) is None  # closing is fine


def test_invalid_settings_raise():
    with pytest.raises(ConfigError, match="leverage"):
        SimpleAccount(1.0, leverage=0.5)
    with pytest.raises(ConfigError, match="cash"):
        SimpleAccount(math.nan)
