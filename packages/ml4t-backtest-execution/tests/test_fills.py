import math

import pytest

from ml4t.backtest.core.enums import OrderType
from ml4t.backtest.execution.fills import (
    IntrabarPolicy,
    MatchCode,
    first_touch,
    intrabar_path,
    match_order,
    trailing_stop_level,
    update_trailing,
)

NAN = math.nan
M, L, S, SL, TS = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
    OrderType.TRAILING_STOP,
)


@pytest.mark.parametrize(
    ("side", "kind", "limit", "stop", "bar", "expected"),
    [
        # market: at the market price, or the open when none
        (1, M, NAN, NAN, (100, 101, 99, 100.5), (100.5, MatchCode.MARKET)),
        # buy limit: gap below the limit fills at the open (price improvement)
        (1, L, 99.0, NAN, (98.0, 99.5, 97.0, 98.0), (98.0, MatchCode.GAP)),
        (1, L, 99.0, NAN, (100.0, 101.0, 98.5, 99.0), (99.0, MatchCode.TOUCH)),
        (1, L, 99.0, NAN, (100.0, 101.0, 99.01, 99.5), (NAN, MatchCode.NONE)),
        (-1, L, 101.0, NAN, (102.0, 103.0, 100.0, 101.0), (102.0, MatchCode.GAP)),
        (-1, L, 101.0, NAN, (100.0, 101.0, 99.0, 100.0), (101.0, MatchCode.TOUCH)),
        # stops: gap through fills at the (worse) open, touch at the stop
        (-1, S, NAN, 95.0, (93.0, 94.0, 92.0, 93.0), (93.0, MatchCode.GAP)),
        (-1, S, NAN, 95.0, (97.0, 98.0, 94.0, 96.0), (95.0, MatchCode.TOUCH)),
        (1, S, NAN, 105.0, (106.0, 107.0, 105.5, 106.0), (106.0, MatchCode.GAP)),
        (1, S, NAN, 105.0, (104.0, 105.0, 103.0, 104.0), (105.0, MatchCode.TOUCH)),
        (1, S, NAN, 105.0, (104.0, 104.9, 103.0, 104.0), (NAN, MatchCode.NONE)),
        # stop-limit: trigger within limit fills at trigger price
        (1, SL, 106.0, 105.0, (104.0, 107.0, 103.0, 106.0), (105.0, MatchCode.TOUCH)),
        # gap over stop and limit, then trades back to the limit: fills at the limit
        (1, SL, 106.0, 105.0, (108.0, 109.0, 105.5, 107.0), (106.0, MatchCode.TOUCH)),
        # gap over stop and limit, never back: armed
        (1, SL, 106.0, 105.0, (108.0, 109.0, 107.0, 108.0), (NAN, MatchCode.ARMED)),
        # touched inside the bar but limit below the stop: armed (path unknowable)
        (1, SL, 104.0, 105.0, (103.0, 106.0, 102.0, 104.0), (NAN, MatchCode.ARMED)),
        # trailing stop with no level yet never fills
        (-1, TS, NAN, NAN, (100.0, 101.0, 1.0, 50.0), (NAN, MatchCode.NONE)),
        (-1, TS, NAN, 97.0, (100.0, 101.0, 96.0, 98.0), (97.0, MatchCode.TOUCH)),
    ],
)
def test_match_order_table(side, kind, limit, stop, bar, expected):
    o, h, lo, market = bar
    price, code = match_order(side, kind, limit, stop, False, o, h, lo, market)
    exp_price, exp_code = expected
    assert code == exp_code
    if math.isnan(exp_price):
        assert math.isnan(price)
    else:
        assert price == exp_price


def test_armed_stop_limit_works_as_limit():
    assert match_order(1, SL, 104.0, 105.0, True, 104.5, 105.0, 103.5, 104.5) == (
        104.0,
        MatchCode.TOUCH,
    )


def test_no_bar_never_fills():
    assert match_order(1, M, NAN, NAN, False, NAN, NAN, NAN, 10.0)[1] == MatchCode.NONE


class TestIntrabarPath:
    def test_paths(self):
        assert intrabar_path(IntrabarPolicy.OHLC, 1, 3, 0, 2) == (1, 3, 0, 2)
        assert intrabar_path(IntrabarPolicy.OLHC, 1, 3, 0, 2) == (1, 0, 3, 2)

    def test_first_touch_times(self):
        path = (100.0, 110.0, 90.0, 95.0)
        assert first_touch(105.0, True, path) == 0.5
        assert first_touch(95.0, False, path) == pytest.approx(1.75)
        assert first_touch(100.0, False, path) == 0.0
        assert first_touch(120.0, True, path) == math.inf


class TestTrailing:
    def test_levels(self):
        assert trailing_stop_level(-1, 50.0, 1.5, NAN) == 48.5
        assert trailing_stop_level(1, 50.0, NAN, 0.1) == pytest.approx(55.0)

    def test_sell_trail_follows_highs_only(self):
        ref, level = update_trailing(-1, 100.0, NAN, 0.1, 110.0, 90.0)
        assert (ref, level) == (110.0, pytest.approx(99.0))
        ref, level = update_trailing(-1, ref, NAN, 0.1, 105.0, 80.0)
        assert ref == 110.0

    def test_buy_trail_follows_lows_and_starts_from_nan(self):
        assert update_trailing(1, NAN, 2.0, NAN, 60.0, 50.0) == (50.0, 52.0)
