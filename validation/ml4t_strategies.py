"""ml4t-backtest strategies mirroring the peer strategies of the scenarios line by line."""

from __future__ import annotations

from typing import Any

from ml4t.backtest.strategy.strategy import Strategy

__all__ = [
    "AllInReversal",
    "BracketEntry",
    "CrossOnMarketData",
    "PendingEntry",
    "PercentEntry",
    "Pyramid",
    "Reversal",
    "TrailingEntry",
]


def _signals(bar: Any) -> tuple[str, float, float, float]:
    return bar.assets[0], bar.signals["entry"][0], bar.signals["exit"][0], bar.close[0]


class PendingEntry(Strategy):
    """Entry by a working limit/stop/stop-limit order placed at a multiple of the close.

    Cross above when flat: cancel the older working entry, submit a new one (GTC). Cross below:
    cancel the working entry and flatten at market. Mirrors the Backtrader logic.
    """

    def __init__(
        self, *, size: float, limit: float | None = None, stop: float | None = None
    ) -> None:
        self.size = size
        self.limit = limit
        self.stop = stop
        self.entry: Any = None

    def _cancel_entry(self) -> None:
        if self.entry is not None and not self.entry.status.is_terminal:
            self.cancel(self.entry)

    def on_bar(self, bar: Any) -> None:
        asset, entry, exit_, close = _signals(bar)
        pos = self.get_position(asset)
        if entry > 0 and pos == 0:
            self._cancel_entry()
            self.entry = self.buy(
                asset,
                self.size,
                limit_price=close * self.limit if self.limit else None,
                stop_price=close * self.stop if self.stop else None,
            )
        elif exit_ > 0:
            self._cancel_entry()
            if pos != 0:
                self.close_position(asset)


class TrailingEntry(Strategy):
    """Market entry plus a trailing sell stop `trail` (fraction) placed in the same bar."""

    def __init__(self, *, size: float, trail: float) -> None:
        self.size = size
        self.trail = trail
        self.live = False
        self.seen_position = False

    def on_bar(self, bar: Any) -> None:
        asset, entry, _, _ = _signals(bar)
        pos = self.get_position(asset)
        if pos == 0 and entry > 0 and not self.live:
            self.buy(asset, self.size)
            self.sell(asset, self.size, trail=self.trail)
            self.live = True
        if pos == 0 and self.live and self.seen_position:
            self.live = False
            self.seen_position = False
        if pos != 0:
            self.seen_position = True


class BracketEntry(Strategy):
    """Cross above when flat and nothing working: market entry with stop and target."""

    def __init__(self, *, size: float, stop: float, target: float) -> None:
        self.size = size
        self.stop = stop
        self.target = target

    def on_bar(self, bar: Any) -> None:
        asset, entry, _, close = _signals(bar)
        if entry > 0 and self.get_position(asset) == 0 and not self.open_orders(asset):
            self.bracket(
                asset, self.size, stop_loss=close * self.stop, take_profit=close * self.target
            )


class PercentEntry(Strategy):
    """Cross above when flat: buy `percent` of equity (whole units); cross below: flatten."""

    def __init__(self, percent: float) -> None:
        self.percent = percent

    def on_bar(self, bar: Any) -> None:
        asset, entry, exit_, _ = _signals(bar)
        pos = self.get_position(asset)
        if pos == 0 and entry > 0:
            self.buy_percent(asset, self.percent)
        elif pos != 0 and exit_ > 0:
            self.close_position(asset)


class AllInReversal(Strategy):
    """backtesting.py's SmaCross with exclusive orders: close, then all in the other way.

    On a cross above: close what is held and buy with `fraction` of the buying power at the
    next open (sized when the order fills); on a cross below: the same, selling short.
    """

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def on_bar(self, bar: Any) -> None:
        asset, entry, exit_, _ = _signals(bar)
        if entry > 0 or exit_ > 0:
            self.close_position(asset)
            self.order_percent_at_fill(asset, self.fraction if entry > 0 else -self.fraction)


class Reversal(Strategy):
    """Target +size after a cross above, -size after a cross below."""

    def __init__(self, size: float) -> None:
        self.size = size

    def on_bar(self, bar: Any) -> None:
        asset, entry, exit_, _ = _signals(bar)
        if entry > 0:
            self.order_target_quantity(asset, self.size)
        elif exit_ > 0:
            self.order_target_quantity(asset, -self.size)


class Pyramid(Strategy):
    """Add `step` while ``entry`` is set and the position is below `cap`; flatten on ``exit``."""

    def __init__(self, *, step: float, cap: float) -> None:
        self.step = step
        self.cap = cap

    def on_bar(self, bar: Any) -> None:
        asset, entry, exit_, _ = _signals(bar)
        pos = self.get_position(asset)
        if entry > 0 and pos < self.cap:
            self.buy(asset, self.step)
        elif exit_ > 0 and pos > 0:
            self.close_position(asset)


class CrossOnMarketData(Strategy):
    """`CrossStrategy` written for the per-asset ``on_market_data`` path.

    The signal columns are read through ``history(name, 1, asset)`` (the value at this bar).
    """

    def __init__(self, size: float) -> None:
        self.size = size

    def on_market_data(self, event: Any) -> None:
        asset = event.asset
        pos = self.get_position(asset)
        if pos == 0 and self.history("entry", 1, asset)[-1] > 0 and not self.open_orders(asset):
            self.buy(asset, self.size)
        elif pos != 0 and self.history("exit", 1, asset)[-1] > 0:
            self.close_position(asset)
