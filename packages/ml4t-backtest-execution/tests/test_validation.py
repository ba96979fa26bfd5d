import pytest

from ml4t.backtest.core.assets import Crypto, Equity, Future
from ml4t.backtest.core.enums import OrderSide, OrderType, TimeInForce
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.execution.account import SimpleAccount
from ml4t.backtest.execution.orders import Order
from ml4t.backtest.execution.validation import normalize_order, validate_order

BUY, SELL = OrderSide.BUY, OrderSide.SELL
AAPL = Equity(asset_id="AAPL")


class TestNormalize:
    def test_quantity_rounds_down_to_lot(self):
        order = Order.market("BTC", BUY, 0.123456789)
        assert normalize_order(order, Crypto(asset_id="BTC")) is None
        assert order.quantity == 0.12345678

    def test_below_one_lot_is_rejected_with_reason(self):
        reason = normalize_order(Order.market("AAPL", BUY, 0.5), AAPL)
        assert "below one lot" in reason
        assert "lot_size=1.0" in reason

    @pytest.mark.parametrize(
        ("side", "raw", "expected"),
        [(BUY, 100.019, 100.01), (SELL, 100.011, 100.02), (BUY, 0.1 + 0.2, 0.3)],
    )
    def test_limit_rounds_to_less_aggressive_tick(self, side, raw, expected):
        order = Order.limit("AAPL", side, 1, raw)
        normalize_order(order, AAPL)
        assert order.limit_price == expected

    @pytest.mark.parametrize(
        ("side", "raw", "expected"), [(BUY, 4000.1, 4000.25), (SELL, 4000.4, 4000.25)]
    )
    def test_stop_rounds_so_it_never_triggers_earlier(self, side, raw, expected):
        es = Future(asset_id="ES", tick_size=0.25, multiplier=50.0)
        order = Order.stop("ES", side, 1, raw)
        normalize_order(order, es)
        assert order.stop_price == expected


class TestValidate:
    def test_auction_type_with_wrong_time_in_force_is_rejected(self):
        order = Order("AAPL", BUY, 1, OrderType.MARKET_ON_CLOSE, time_in_force=TimeInForce.GTC)
        assert "not allowed for MARKET_ON_CLOSE" in validate_order(order, AAPL)

    def test_stop_with_opg_is_rejected(self):
        order = Order.stop("AAPL", BUY, 1, 10.0, time_in_force=TimeInForce.OPG)
        assert "OPG is not allowed" in validate_order(order, AAPL)

    def test_short_of_non_shortable_asset_is_rejected(self):
        gme = Equity(asset_id="GME", shortable=False)
        reason = validate_order(Order.market("GME", SELL, 1), gme, account=SimpleAccount(1e6))
        assert "not shortable" in reason

    def test_short_on_account_without_shorting_is_rejected(self):
        reason = validate_order(
            Order.market("AAPL", SELL, 1), AAPL, account=SimpleAccount(1e6, allow_short=False)
        )
        assert "account may not short" in reason

    def test_selling_a_long_is_an_exit_and_needs_no_permission(self):
        acct = SimpleAccount(1e6, allow_short=False)
        acct.apply_fill(FillEvent(0, 1, "AAPL", BUY, 10.0, 100.0))
        assert validate_order(Order.market("AAPL", SELL, 10), AAPL, account=acct) is None
        assert "short sale" in validate_order(Order.market("AAPL", SELL, 11), AAPL, account=acct)

    def test_buying_power_checked_at_limit_or_reference_price(self):
        acct = SimpleAccount(1000.0)
        assert validate_order(Order.limit("AAPL", BUY, 10, 99.0), AAPL, account=acct) is None
        reason = validate_order(Order.limit("AAPL", BUY, 10, 101.0), AAPL, account=acct)
        assert "insufficient buying power" in reason
        market = Order.market("AAPL", BUY, 10)
        assert validate_order(market, AAPL, account=acct, reference_price=100.0) is None
        market = Order.market("AAPL", BUY, 11)
        assert "needs 1100.00" in validate_order(market, AAPL, account=acct, reference_price=100.0)

    def test_pending_position_counts_as_held(self):
        acct = SimpleAccount(0.0, allow_short=False)
        order = Order.stop("AAPL", SELL, 10, 95.0)
        assert validate_order(order, AAPL, account=acct, pending_position=10.0) is None
