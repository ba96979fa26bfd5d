from __future__ import annotations

import pytest

from ml4t.backtest.core import errors
from ml4t.backtest.core.errors import (
    BacktestError,
    CalendarError,
    ConfigError,
    DataValidationError,
    InsufficientFundsError,
    InvalidOrderTransitionError,
    InvalidPriceError,
    InvalidQuantityError,
    LookAheadError,
    MissingDependencyError,
    OrderError,
    OrderRejectedError,
    StrategyError,
    UnknownAssetError,
)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (DataValidationError, ValueError),
        (ConfigError, ValueError),
        (InvalidQuantityError, ValueError),
        (InvalidPriceError, ValueError),
        (UnknownAssetError, KeyError),
        (OrderRejectedError, ValueError),
        (InsufficientFundsError, ValueError),
        (InvalidOrderTransitionError, ValueError),
        (LookAheadError, RuntimeError),
        (CalendarError, ValueError),
        (MissingDependencyError, ImportError),
        (StrategyError, RuntimeError),
    ],
)
def test_each_error_is_a_backtest_error_and_its_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, BacktestError)
    assert issubclass(error, builtin)


def test_every_exported_error_derives_from_backtest_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), BacktestError), name


def test_data_validation_error_carries_check_rows_and_column() -> None:
    err = DataValidationError("bad", check="high_below_low", rows=[3, 7], column="high")
    assert (str(err), err.check, err.rows, err.column) == ("bad", "high_below_low", (3, 7), "high")
    assert DataValidationError("x").rows == ()


def test_unknown_asset_error_message_is_not_quoted_like_a_key_error() -> None:
    err = UnknownAssetError("asset 'X' is not registered")
    assert str(err) == "asset 'X' is not registered"
    assert str(UnknownAssetError()) == ""
    with pytest.raises(KeyError):
        raise err


def test_order_rejected_keeps_reason_and_order_id() -> None:
    err = InsufficientFundsError("needs 1,000.00 USD, has 10.00", order_id=7)
    assert (err.reason, err.order_id, str(err)) == (
        "needs 1,000.00 USD, has 10.00",
        7,
        "needs 1,000.00 USD, has 10.00",
    )
    assert isinstance(err, OrderError)


def test_strategy_error_context() -> None:
    err = StrategyError(
        "on_bar raised",
        timestamp="2024-01-02",
        asset="AAPL",
        callback="on_bar",
        traceback_text="Traceback ...",
    )
    assert (err.timestamp, err.asset, err.callback) == ("2024-01-02", "AAPL", "on_bar")
    assert err.traceback_text.startswith("Traceback")
