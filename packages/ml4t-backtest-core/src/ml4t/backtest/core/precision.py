"""Rounding of prices to tick size, quantities to lot size, and money for reports.

Binary floats cannot hold most decimal grid points exactly: ``0.1 + 0.2`` is
``0.30000000000000004`` and ``0.3 / 0.01`` is ``29.999999999999996``. A naive
``math.floor(value / step)`` therefore lands one grid point too low. Every function here
first expresses the value in grid units (``units = value / step``) and treats anything within
a tolerance of a grid point (or of a half-way point, for `RoundingMode.NEAREST`) as lying
exactly on it. The tolerance is relative to the grid, not to the value::

    tolerance = GRID_EPSILON + abs(units) * FLOAT_RESOLUTION      (in grid units)

``GRID_EPSILON = 1e-9`` of a step is far below any real price difference and far above the
float noise of ordinary values; the second term (``FLOAT_RESOLUTION = 1e-15``, about 4.5
ulp) widens it for values that are very many steps from zero (e.g. 128.16560767 BTC is
12,816,560,767 satoshis, where one division is already off by ~2e-6 units).

The result is then rebuilt as the float nearest to the decimal grid point (``30 * 0.01``
becomes ``0.3``, not ``0.30000000000000004``), using the number of decimals in `step`.

Money for reports is rounded with `decimal.Decimal` (`round_money`), half-to-even by default
(banker's rounding), so that sums of many rounded amounts carry no upward bias.

Each scalar function has a vectorised numpy twin (`round_to_grid_array`,
`is_on_grid_array`) that gives identical results element by element.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderSide, RoundingMode
from ml4t.backtest.core.errors import ConfigError

__all__ = [
    "GRID_EPSILON",
    "FLOAT_RESOLUTION",
    "RoundingMode",
    "step_decimals",
    "round_to_grid",
    "round_price",
    "round_limit_price",
    "round_quantity",
    "is_on_grid",
    "round_money",
    "round_to_grid_array",
    "round_prices",
    "round_quantities",
    "is_on_grid_array",
]

GRID_EPSILON: Final = 1e-9
"""Tolerance in grid units: a value within this many steps of a grid point is on it."""

FLOAT_RESOLUTION: Final = 1e-15
"""Extra tolerance per grid unit of magnitude, covering float64 division error."""

_MAX_DECIMALS: Final = 15  # beyond this, float64 holds no more decimal digits


def _check_step(step: float, name: str = "step") -> None:
    if not math.isfinite(step) or step <= 0.0:
        raise ConfigError(f"`{name}` must be finite and > 0, was {step!r}")


def step_decimals(step: float) -> int:
    """Return how many decimal places the grid `step` has (0 for whole numbers).

    The count comes from the shortest text that reads back as `step` (``repr``), so
    ``0.01`` has 2 and ``0.25`` has 2 and ``1e-8`` has 8. Capped at 15.

    Args:
        step: Grid spacing, finite and > 0.

    Returns:
        Number of decimal places.

    Raises:
        ConfigError: `step` is not finite and positive.

    Example:
        >>> step_decimals(0.01), step_decimals(0.25), step_decimals(1e-8), step_decimals(5.0)
        (2, 2, 8, 0)
    """
    _check_step(step)
    return _decimals(float(step))


@lru_cache(maxsize=1024)
def _decimals(step: float) -> int:
    # Cached: order submission rounds on every call, and a market has few distinct steps.
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # pragma: no cover - finite steps always give an int
        raise ConfigError(f"`step` must be finite, was {step!r}")
    return min(max(-exponent, 0), _MAX_DECIMALS)


def _grid_units(units: float, mode: RoundingMode, eps: float) -> float:
    # Number of whole steps (as a float) for `units` = value / step, honouring `mode`.
    eps = eps + abs(units) * FLOAT_RESOLUTION
    nearest = round(units)
    if abs(units - nearest) <= eps:
        return float(nearest)
    if mode is RoundingMode.NEAREST:
        lower = math.floor(units)
        if abs(units - (lower + 0.5)) <= eps:  # a tie: away from zero
            return float(lower + 1) if units > 0 else float(lower)
        return float(math.floor(units + 0.5))
    if mode is RoundingMode.DOWN:
        return float(math.floor(units))
    if mode is RoundingMode.UP:
        return float(math.ceil(units))
    if mode is RoundingMode.TOWARD_ZERO:
        return float(math.trunc(units))
    return float(math.floor(units)) if units < 0 else float(math.ceil(units))


def round_to_grid(
    value: float,
    step: float,
    *,
    mode: RoundingMode = RoundingMode.NEAREST,
    eps: float = GRID_EPSILON,
) -> float:
    """Move `value` onto the grid ``k * step`` according to `mode`.

    Args:
        value: Any finite number (NaN and inf are returned unchanged).
        step: Grid spacing, finite and > 0.
        mode: Direction of rounding; `RoundingMode.NEAREST` sends exact ties away from zero.
        eps: Base tolerance in grid units (see `GRID_EPSILON`; widened for large values).

    Returns:
        The grid point, as the float nearest to its decimal value.

    Raises:
        ConfigError: `step` is not finite and positive.

    Example:
        >>> round_to_grid(0.1 + 0.2, 0.01, mode=RoundingMode.DOWN)
        0.3
        >>> round_to_grid(0.125, 0.01)  # a tie goes away from zero
        0.13
        >>> round_to_grid(-0.125, 0.01)
        -0.13
    """
    _check_step(step)
    if not math.isfinite(value):
        return value
    units = _grid_units(value / step, mode, eps)
    result = round(units * step, _decimals(float(step)))
    return 0.0 if result == 0.0 else result  # no negative zero


def round_price(
    price: float, tick_size: float, *, mode: RoundingMode = RoundingMode.NEAREST
) -> float:
    """Round `price` to the tick grid.

    Args:
        price: Price per unit.
        tick_size: The asset's tick, > 0 (e.g. ``Asset.tick_size``).
        mode: `RoundingMode.NEAREST` by default; DOWN/UP for directional rounding.

    Returns:
        The price on the tick grid.

    Example:
        >>> round_price(101.237, 0.05)
        101.25
        >>> round_price(101.237, 0.05, mode=RoundingMode.DOWN)
        101.2
    """
    _check_step(tick_size, "tick_size")
    return round_to_grid(price, tick_size, mode=mode)


def round_limit_price(price: float, tick_size: float, side: OrderSide) -> float:
    """Round a limit price to the tick so the order is never more aggressive than asked.

    A BUY limit rounds down (never pays more than `price`), a SELL limit rounds up (never
    receives less).

    Args:
        price: Requested limit price.
        tick_size: The asset's tick, > 0.
        side: Order side.

    Returns:
        The limit price on the tick grid.

    Example:
        >>> round_limit_price(10.037, 0.01, OrderSide.BUY)
        10.03
        >>> round_limit_price(10.031, 0.01, OrderSide.SELL)
        10.04
    """
    mode = RoundingMode.DOWN if side is OrderSide.BUY else RoundingMode.UP
    return round_price(price, tick_size, mode=mode)


def round_quantity(
    quantity: float, lot_size: float, *, mode: RoundingMode = RoundingMode.TOWARD_ZERO
) -> float:
    """Round `quantity` to whole lots; by default toward zero (never trade more than asked).

    Args:
        quantity: Signed quantity in units.
        lot_size: The asset's lot, > 0 (1 for whole shares, 1e-8 for satoshis).
        mode: `RoundingMode.TOWARD_ZERO` by default.

    Returns:
        The quantity on the lot grid, sign kept.

    Example:
        >>> round_quantity(10.9, 1.0), round_quantity(-10.9, 1.0)
        (10.0, -10.0)
        >>> round_quantity(0.123456789, 1e-8)
        0.12345678
        >>> round_quantity(0.7 + 0.1, 0.1)  # 0.7999999999999999 is 8 lots
        0.8
    """
    _check_step(lot_size, "lot_size")
    return round_to_grid(quantity, lot_size, mode=mode)


def is_on_grid(value: float, step: float, *, eps: float = GRID_EPSILON) -> bool:
    """Return True when `value` is a whole number of `step` within `eps` grid units.

    Example:
        >>> is_on_grid(0.1 + 0.2, 0.01), is_on_grid(0.305, 0.01)
        (True, False)
    """
    _check_step(step)
    if not math.isfinite(value):
        return False
    units = value / step
    return abs(units - round(units)) <= eps + abs(units) * FLOAT_RESOLUTION


def round_money(
    amount: float | Decimal | str | int, places: int = 2, *, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """Round an amount of money exactly, in decimal, for reports.

    A float is read through its shortest text form (``repr``), so ``2.675`` is the decimal
    2.675 (not the binary 2.67499999...), and half-to-even then gives 2.68.

    Args:
        amount: The amount; float, int, Decimal or decimal text.
        places: Decimal places to keep, >= 0.
        rounding: A `decimal` rounding constant, `decimal.ROUND_HALF_EVEN` by default.

    Returns:
        The rounded `Decimal`.

    Raises:
        ConfigError: `places` is negative or `amount` is not finite.

    Example:
        >>> round_money(2.675), round_money(2.665), round_money("1234.5", 0)
        (Decimal('2.68'), Decimal('2.66'), Decimal('1234'))
        >>> from decimal import ROUND_HALF_UP
        >>> round_money(0.125, rounding=ROUND_HALF_UP)
        Decimal('0.13')
    """
    if places < 0:
        raise ConfigError(f"`places` must be >= 0, was {places!r}")
    value = Decimal(repr(float(amount))) if isinstance(amount, float) else Decimal(amount)
    if not value.is_finite():
        raise ConfigError(f"`amount` must be finite, was {amount!r}")
    return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def round_to_grid_array(
    values: npt.ArrayLike,
    step: float,
    *,
    mode: RoundingMode = RoundingMode.NEAREST,
    eps: float = GRID_EPSILON,
) -> npt.NDArray[np.float64]:
    """Vectorised `round_to_grid`: the same result for every element (NaN stays NaN).

    Example:
        >>> round_to_grid_array([0.1 + 0.2, 0.125, -0.125, float("nan")], 0.01).tolist()
        [0.3, 0.13, -0.13, nan]
    """
    _check_step(step)
    arr = np.asarray(values, dtype=np.float64)
    units = arr / step
    tol = eps + np.abs(units) * FLOAT_RESOLUTION
    nearest = np.round(units)
    on_grid = np.abs(units - nearest) <= tol
    if mode is RoundingMode.NEAREST:
        lower = np.floor(units)
        tie = np.abs(units - (lower + 0.5)) <= tol
        away = np.where(units > 0, lower + 1.0, lower)
        k = np.where(tie, away, np.floor(units + 0.5))
    elif mode is RoundingMode.DOWN:
        k = np.floor(units)
    elif mode is RoundingMode.UP:
        k = np.ceil(units)
    elif mode is RoundingMode.TOWARD_ZERO:
        k = np.trunc(units)
    else:
        k = np.where(units < 0, np.floor(units), np.ceil(units))
    k = np.where(on_grid, nearest, k)
    out = np.round(k * step, step_decimals(step))
    out[out == 0.0] = 0.0  # no negative zero
    finite = np.isfinite(arr)
    if not finite.all():
        out = np.where(finite, out, arr)
    return np.ascontiguousarray(out, dtype=np.float64)


def round_prices(
    prices: npt.ArrayLike, tick_size: float, *, mode: RoundingMode = RoundingMode.NEAREST
) -> npt.NDArray[np.float64]:
    """Vectorised `round_price`.

    Example:
        >>> round_prices([101.237, 99.991], 0.05).tolist()
        [101.25, 100.0]
    """
    _check_step(tick_size, "tick_size")
    return round_to_grid_array(prices, tick_size, mode=mode)


def round_quantities(
    quantities: npt.ArrayLike,
    lot_size: float,
    *,
    mode: RoundingMode = RoundingMode.TOWARD_ZERO,
) -> npt.NDArray[np.float64]:
    """Vectorised `round_quantity` (toward zero by default).

    Example:
        >>> round_quantities([10.9, -10.9, 3.0], 1.0).tolist()
        [10.0, -10.0, 3.0]
    """
    _check_step(lot_size, "lot_size")
    return round_to_grid_array(quantities, lot_size, mode=mode)


def is_on_grid_array(
    values: npt.ArrayLike, step: float, *, eps: float = GRID_EPSILON
) -> npt.NDArray[np.bool_]:
    """Vectorised `is_on_grid` (NaN and inf are off the grid).

    Example:
        >>> is_on_grid_array([0.3, 0.305, float("inf")], 0.01).tolist()
        [True, False, False]
    """
    _check_step(step)
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        units = arr / step
        result = np.abs(units - np.round(units)) <= eps + np.abs(units) * FLOAT_RESOLUTION
    return np.asarray(result & np.isfinite(arr), dtype=np.bool_)
