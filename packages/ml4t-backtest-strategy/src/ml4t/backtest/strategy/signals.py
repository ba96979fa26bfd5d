"""Signal strategies: entries/exits as feed columns, run by callbacks or by a numba loop.

`SignalStrategy` is an ordinary `Strategy`: on each bar, for each asset in column order that
has no order working, it sells the whole position when the exit column is non-zero, or, when
flat, buys the quantity the config's ``sizing`` gives when the entry column is non-zero.
Stops come from ``config.risk`` and costs from ``config.commission``/``slippage``, enforced
by the engine as for any strategy.

`run_signals` runs the same strategy through the numba kernel `simulate_signals_nb` and gives
the same `BacktestResult` (to the cent and to the trade) many times faster. The fast path
supports what the kernel mirrors; `fast_path_unsupported` names anything else.

Example:
    >>> import numpy as np
    >>> from ml4t.backtest.core.data import DataFeed
    >>> close = np.array([[10.0], [11.0], [12.0], [11.5]])
    >>> sig = {"entry": np.array([[1.0], [0.0], [0.0], [0.0]]),
    ...        "exit": np.array([[0.0], [0.0], [1.0], [0.0]])}
    >>> feed = DataFeed(np.arange(4) * 86_400 * 10**9, ["X"],
    ...                 {"open": close, "high": close, "low": close, "close": close,
    ...                  "volume": close * 0 + 1e6, **sig})
    >>> cfg = BacktestConfig(commission={"kind": "none"}, slippage={"kind": "none"},
    ...                      sizing={"method": "fixed_quantity", "quantity": 10})
    >>> fast = run_signals(feed, SignalStrategy("entry", "exit"), cfg)
    >>> fast.trades["net_pnl"].to_list()  # bought at 11.0, sold at 11.5
    [5.0]
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import mmap
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy import _venue
from ml4t.backtest.strategy.config import (
    AccountPolicy,
    BacktestConfig,
    CashShortfallPolicy,
    FillTiming,
    ShareRounding,
)
from ml4t.backtest.strategy.result import (
    EQUITY_CURVE_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    POSITIONS_SCHEMA,
    TRADES_SCHEMA,
    BacktestResult,
    equity_curve_frame,
)
from ml4t.backtest.strategy.strategy import Strategy, round_quantity

if TYPE_CHECKING:
    from ml4t.backtest.strategy.bar import Bar

__all__ = [
    "SignalStrategy",
    "WeightStrategy",
    "entry_quantity",
    "fast_path_unsupported",
    "run_signals",
]


def _kernels() -> ModuleType:
    # The numba kernels (`strategy.nb`), imported on first use: only the fast path needs
    # them, and importing numba costs about 60 MB and a second.
    from ml4t.backtest.strategy import nb  # noqa: PLC0415

    return nb


_TAGS = {
    0: "",
    1: "stop_loss",
    2: "trailing_stop",
    4: "take_profit",
    5: "time_exit",
    7: "end_of_backtest",
    8: "rebalance",
}
_REASONS = {
    0: "",
    1: "insufficient funds at submit (cash account)",
    2: "insufficient buying power at fill",
    3: "resized by buying power; remainder canceled",
    4: "canceled by a risk exit",
    5: "canceled at the end of the backtest",
    6: "insufficient buying power at fill: not even one lot affordable",
}
_STATUS = {2: "ACCEPTED", 3: "PARTIALLY_FILLED", 4: "FILLED", 5: "CANCELED", 6: "REJECTED"}
_TS = pl.Datetime("ns", "UTC")


def entry_quantity(
    config: BacktestConfig, *, equity: float, price: float, multiplier: float, step: float
) -> float:
    """Return the units an entry buys under ``config.sizing`` (0.0 when none).

    Example:
        >>> entry_quantity(BacktestConfig(sizing={"percent": 0.5}), equity=10_000.0,
        ...                price=30.0, multiplier=1.0, step=1.0)
        166.0
    """
    sizing = config.sizing
    if sizing.method == "percent_equity":
        q = sizing.percent * equity / (price * multiplier)
    elif sizing.method == "fixed_quantity":
        q = sizing.quantity
    else:
        q = sizing.value / (price * multiplier)
    return round_quantity(q, step)


class WeightStrategy(Strategy):
    """Rebalance every bar to the target weights in one feed column (NaN = leave alone).

    Each bar whose row has a finite weight calls ``rebalance(row)``: quantities
    ``floor(weight * equity / price)`` on the quantity grid, sells before buys, trades worth
    less than ``config.sizing.min_trade_value`` skipped (full exits always trade).

    Args:
        weights: Name of the weight column (fractions of equity).
    """

    def __init__(self, weights: str) -> None:
        self.weights = weights

    def on_bar(self, bar: Bar) -> None:
        """Rebalance to this bar's weights."""
        row = bar.field(self.weights)
        if not np.isnan(row).all():
            self.rebalance(row)


class SignalStrategy(Strategy):
    """Trade long-only from two signal columns of the feed (non-zero = signal).

    Args:
        entries: Name of the entry column.
        exits: Name of the exit column (None: exits only through risk rules).
    """

    def __init__(self, entries: str, exits: str | None = None) -> None:
        self.entries = entries
        self.exits = exits

    def on_bar(self, bar: Bar) -> None:
        """Exit held assets with an exit signal; enter flat assets with an entry signal."""
        api = self.api
        entry_row = _as_signal(bar.field(self.entries))
        exit_row = _as_signal(bar.field(self.exits)) if self.exits is not None else None
        candidates = entry_row if exit_row is None else entry_row | exit_row
        idx = np.flatnonzero(candidates)
        if idx.shape[0] == 0:
            return
        config = self._config
        assert config is not None
        equity = api.portfolio.equity
        assets = bar.assets
        for j in idx.tolist():
            asset = assets[j]
            if api.pending_quantity(asset) != 0.0:
                continue
            held = api.position(asset)
            if held > 0.0 and exit_row is not None and exit_row[j]:
                self.order(asset, -held)
            elif held == 0.0 and entry_row[j]:
                price = api.price(asset)
                if not math.isfinite(price) or price <= 0.0:
                    continue
                q = entry_quantity(
                    config,
                    equity=equity,
                    price=price,
                    multiplier=api.multiplier(asset),
                    step=api.quantity_step(asset),
                )
                if q > 0.0:
                    self.order(asset, q)


def _as_signal(row: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = np.isfinite(row) & (row != 0.0)
    return out


# cash_shortfall -> the kernel's `resize` mode (0 reject, 1 resize, 2 fee-inclusive resize)
_RESIZE_MODE = {CashShortfallPolicy.RESIZE: 1, CashShortfallPolicy.RESIZE_FEE_INCLUSIVE: 2}


def fast_path_unsupported(
    config: BacktestConfig, strategy: SignalStrategy | WeightStrategy | None = None
) -> str | None:
    """Return why `config` cannot run on the fast path, or None when it can.

    Example:
        >>> fast_path_unsupported(BacktestConfig()) is None
        True
        >>> fast_path_unsupported(BacktestConfig(volume_limit=0.1))
        'volume_limit is not supported by the fast path'
    """
    kinds_c = ("none", "per_share", "percent", "fixed")
    kinds_s = ("none", "fixed_bps", "fixed")
    risk = config.risk
    checks = [
        (config.commission.kind not in kinds_c, f"commission kind {config.commission.kind!r}"),
        (config.slippage.kind not in kinds_s, f"slippage kind {config.slippage.kind!r}"),
        (config.impact.kind != "none", f"impact kind {config.impact.kind!r}"),
        (config.volume_limit is not None, "volume_limit"),
        (config.account.policy is not AccountPolicy.CASH, "a margin account"),
        (config.fill_timing is FillTiming.NEXT_CLOSE, "fill_timing 'next_close'"),
        (config.cash_shortfall is CashShortfallPolicy.ALLOW_NEGATIVE, "allow_negative cash"),
        (config.slippage_cap_to_bar, "slippage_cap_to_bar"),
        (risk.atr_stop is not None, "risk.atr_stop"),
        (risk.exit_signal is not None, "risk.exit_signal (use the exits column)"),
        (risk.has_portfolio_rules, "portfolio risk rules"),
    ]
    if isinstance(strategy, WeightStrategy):
        checks += [
            (risk.has_position_rules, "position risk rules with target weights"),
            (config.cash_shortfall is not CashShortfallPolicy.REJECT, "resize with weights"),
            (config.rebalance_order != "asset", "rebalance_order 'value' with weights"),
            (config.share_rounding is ShareRounding.FRACTIONAL, "fractional shares"),
        ]
    for bad, what in checks:
        if bad:
            return f"{what} is not supported by the fast path"
    return None


def run_signals(
    data_feed: Any,
    strategy: SignalStrategy | WeightStrategy,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Run a `SignalStrategy` or `WeightStrategy` in numba; same result as `BacktestEngine`.

    The result's ``config`` and ``metadata`` (data fingerprint, timings) are set when the
    call returns; its frames and ``metrics`` are built from the kernel's outputs when first
    read (each once, the same values as an eager build), so a caller that reads only some
    of them pays only for those. A pickle or copy of the result is a plain
    `BacktestResult` with everything built. ``metadata["wall_seconds"]`` is the time to
    return; ``metadata["kernel_seconds"]`` the kernel's share of it.

    Raises:
        ConfigError: The config uses a feature the fast path does not mirror (the message
            names it; run the strategy through `BacktestEngine` instead), or a signal column
            is missing.
    """
    started = time.perf_counter()
    config = config if config is not None else BacktestConfig()
    reason = fast_path_unsupported(config, strategy)
    if reason is not None:
        raise ConfigError(f"{reason}; run it through BacktestEngine instead")
    fields = data_feed.fields
    if "bid" in fields and "ask" in fields:
        raise ConfigError(
            "feeds with bid/ask quotes fill at the quotes, which the fast path does not "
            "mirror; run the strategy through BacktestEngine instead"
        )
    if isinstance(strategy, WeightStrategy):
        return _run_weights(data_feed, strategy, config, started)
    for name in (strategy.entries, strategy.exits):
        if name is not None and name not in fields:
            raise ConfigError(f"signal column {name!r} is not a field of the feed")
    if config.price_column not in fields:
        raise ConfigError(f"`price_column` {config.price_column!r} is not a field of the feed")
    assets = tuple(data_feed.assets)
    n_t, n_a = data_feed.close.shape
    # the kernel reads the signal columns as they are (finite non-zero = signal)
    entries = _float_array(fields[strategy.entries])
    use_exits = strategy.exits is not None
    exits = _float_array(fields[strategy.exits]) if strategy.exits is not None else entries
    mult, step, lot, lot_dec = _asset_arrays(data_feed, assets, config)
    sizing = config.sizing
    size_mode, size_value = {
        "percent_equity": (0, sizing.percent),
        "fixed_quantity": (1, sizing.quantity),
        "fixed_value": (2, sizing.value),
    }[sizing.method]
    comm_kind, c1, c2, c3, c4 = _commission_params(config)
    slip_kind, slip_value = _slippage_params(config)
    risk = config.risk
    # every entry gives at most an order, a fill and a trade in and out (NaNs count too:
    # an upper bound is all the buffers need, and untouched rows cost no memory)
    n_entries = int(np.count_nonzero(entries))
    fill_cap = 2 * n_entries + 2 * n_a + 1
    order_cap = 4 * n_entries + 3 * n_a + 1
    ts = _timestamps(data_feed)
    # the data's fingerprint is hashed in a second thread while the kernel runs (both
    # release the GIL); a feed computes its digest once and keeps it
    fingerprint_of = _venue.in_thread(_venue.fingerprint, data_feed, threaded=n_t >= _THREAD_MIN)
    kernel_started = time.perf_counter()
    out = _Outputs(n_t, n_a, fill_cap, order_cap)
    fills, orders, trades, n_pos, simple = _kernels().simulate_signals_nb(
        data_feed.open,
        data_feed.high,
        data_feed.low,
        data_feed.close,
        fields[config.price_column],
        entries,
        exits,
        use_exits,
        float(config.initial_cash),
        mult,
        step,
        lot,
        lot_dec,
        size_mode,
        float(size_value),
        comm_kind,
        c1,
        c2,
        c3,
        c4,
        slip_kind,
        slip_value,
        config.fill_timing is FillTiming.SAME_CLOSE,
        _RESIZE_MODE.get(config.cash_shortfall, 0),
        config.exit_first,
        _nan_if_none(risk.stop_loss),
        _nan_if_none(risk.take_profit),
        _nan_if_none(risk.trailing_stop),
        risk.max_bars_held or 0,
        config.close_positions_at_end,
        ts,
        out.curve,
        out.pos_ts,
        out.pos_col,
        out.pos_qty,
        out.pos_value,
        out.fills,
        out.orders,
        out.trades,
    )
    kernel_seconds = time.perf_counter() - kernel_started
    result = _result(
        ts, assets, mult, out, n_pos, simple, fills, orders, trades, config, fingerprint_of,
        started, type(strategy).__qualname__,
    )  # fmt: skip
    result.metadata["kernel_seconds"] = kernel_seconds
    return result


def _run_weights(
    data_feed: Any, strategy: WeightStrategy, config: BacktestConfig, started: float
) -> BacktestResult:
    fields = data_feed.fields
    if strategy.weights not in fields:
        raise ConfigError(f"weight column {strategy.weights!r} is not a field of the feed")
    if config.price_column not in fields:
        raise ConfigError(f"`price_column` {config.price_column!r} is not a field of the feed")
    assets = tuple(data_feed.assets)
    n_t, n_a = data_feed.close.shape
    mult, step, _, _ = _asset_arrays(data_feed, assets, config)
    weights = _float_array(fields[strategy.weights])
    n_rows = int(np.count_nonzero(~np.isnan(weights).all(axis=1)))
    order_cap = n_rows * n_a + 2 * n_a + 1
    comm_kind, c1, c2, c3, c4 = _commission_params(config)
    slip_kind, slip_value = _slippage_params(config)
    ts = _timestamps(data_feed)
    fingerprint_of = _venue.in_thread(_venue.fingerprint, data_feed, threaded=n_t >= _THREAD_MIN)
    kernel_started = time.perf_counter()
    out = _Outputs(n_t, n_a)
    fills, orders, trades, n_pos, simple = _kernels().simulate_weights_nb(
        data_feed.open,
        data_feed.high,
        data_feed.low,
        data_feed.close,
        fields[config.price_column],
        weights,
        float(config.initial_cash),
        mult,
        step,
        float(config.sizing.min_trade_value),
        comm_kind,
        c1,
        c2,
        c3,
        c4,
        slip_kind,
        slip_value,
        config.fill_timing is FillTiming.SAME_CLOSE,
        config.exit_first,
        config.close_positions_at_end,
        order_cap,
        order_cap,
        ts,
        out.curve,
        out.pos_ts,
        out.pos_col,
        out.pos_qty,
        out.pos_value,
    )
    kernel_seconds = time.perf_counter() - kernel_started
    result = _result(
        ts, assets, mult, out, n_pos, simple, fills, orders, trades, config, fingerprint_of,
        started, type(strategy).__qualname__,
    )  # fmt: skip
    result.metadata["kernel_seconds"] = kernel_seconds
    return result


class _Outputs:
    # The outputs of the kernels, in one zeroed numpy allocation: a large one is mapped
    # fresh (zero pages, no memset) with huge pages, so that first touch, most of the cost
    # of writing them, is several times cheaper than for separate arrays or for memory
    # numba allocates; parts a run does not write are never touched and cost no memory.
    # Rows of T: the equity curve's columns (`CURVE_FIELDS`, each contiguous: a frame
    # column without a copy), one row of zeros, the position columns with room for every
    # (bar, asset); then, when `fill_cap` is given, column-major fill (11 columns), order
    # (12) and trade (15) records with room for `fill_cap` fills and trades and
    # `order_cap` orders (every record column contiguous too). The allocation comes from
    # `_POOL`: the one of an earlier run of the same layout whose result is gone, when
    # there is one.
    __slots__ = (
        "curve", "fills", "orders", "pos_col", "pos_qty", "pos_ts", "pos_value", "trades",
        "zeros",
    )  # fmt: skip

    def __init__(self, n_t: int, n_a: int, fill_cap: int = 0, order_cap: int = 0) -> None:
        n_c = len(_kernels().CURVE_FIELDS)
        per_bar = (n_c + 1 + 4 * n_a) * n_t
        sizes = (fill_cap * 11, order_cap * 12, fill_cap * 15)
        flat = _POOL.take((n_t, n_a, fill_cap, order_cap), per_bar + sum(sizes))
        buffer = flat[:per_bar].reshape(n_c + 1 + 4 * n_a, n_t)
        self.curve = buffer[:n_c]
        self.zeros = buffer[n_c]
        pos = buffer[n_c + 1 :].reshape(4, n_t * n_a)
        self.pos_ts, self.pos_col = pos[0].view(np.int64), pos[1].view(np.int64)
        self.pos_qty, self.pos_value = pos[2], pos[3]
        start = per_bar
        records = []
        caps = (fill_cap, order_cap, fill_cap)
        for size, cap, width in zip(sizes, caps, (11, 12, 15), strict=True):
            records.append(flat[start : start + size].reshape((cap, width), order="F"))
            start += size
        self.fills, self.orders, self.trades = records


class _BufferPool:
    # Output buffers of recent runs, lent again once nothing refers to them any more.
    #
    # Writing fresh memory costs more than anything else the fast path does on long runs
    # (page faults, zeroing), so repeated runs (parameter sweeps, benchmarks) reuse the
    # buffer of an earlier run once its result is gone. A buffer is idle when the pool
    # holds the only reference: every view of it (curve rows, position columns, the
    # frames' columns, arrays users take from the frames) refers to it as its `base`.
    # A lent buffer needs no clearing: each run writes every curve row it exposes, the
    # position rows and records it exposes (every field of a record when it is made), and
    # nothing writes the row of zeros (frames are read-only). Buffers larger than
    # `max_bytes` are not kept.

    def __init__(self, size: int, max_bytes: int) -> None:
        self._buffers: list[tuple[tuple[int, ...], npt.NDArray[np.float64]]] = []
        self._size = size
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._idle = self._idle_refcount()

    def take(self, layout: tuple[int, ...], size: int) -> npt.NDArray[np.float64]:
        # a flat buffer of `size` floats, lent for `layout` (how the caller cuts it up): a
        # buffer is reused only for the same layout, so that parts no run writes (the row
        # of zeros) stay zero
        with self._lock:
            for entry in self._buffers:
                if entry[0] == layout and sys.getrefcount(entry[1]) <= self._idle:
                    return entry[1][:]  # (a view: the buffer is busy from here on)
            buffer = np.zeros(size)
            # the rows written on every bar, faulted in beside the kernel
            _populate_in_thread(buffer[: _ALWAYS_WRITTEN * layout[0]])
            if buffer.nbytes <= self._max_bytes:
                self._buffers.append((layout, buffer))
                del self._buffers[: -self._size]
            return buffer[:]

    def _idle_refcount(self) -> int:
        # the count `take` sees for a buffer that nothing else refers to (measured the same
        # way, so that it holds whatever the interpreter counts)
        self._buffers.append(((0,), np.zeros(1)))
        count = 0
        for entry in self._buffers:
            count = sys.getrefcount(entry[1])
        self._buffers.clear()
        return count


_ALWAYS_WRITTEN = (
    6  # leading rows of _kernels().CURVE_FIELDS that record_bar_nb writes on every bar
)
_POOL = _BufferPool(size=2, max_bytes=256 << 20)  # keeps at most two, up to 256 MiB each
_POPULATE_MIN = 4 << 20  # bytes from which pages are faulted in by a second thread
_MADV_POPULATE_WRITE = 23  # Linux >= 5.14: fault pages in writable, contents unchanged


def _load_madvise() -> Callable[[int, int, int], int] | None:
    # libc's madvise on Linux, else None
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return cast("Callable[[int, int, int], int]", fn)


_MADVISE = _load_madvise()


def _populate_in_thread(array: npt.NDArray[np.float64]) -> None:
    # Fault in the pages of a large, contiguous, freshly allocated array in a second thread
    # (madvise releases the GIL), so that the kernel, writing it at the same time, finds
    # most of them mapped: first touch of fresh memory is much of the cost of writing it.
    # Only the page tables change, never the contents, so the race with the kernel is
    # harmless; on a kernel without MADV_POPULATE_WRITE the call fails and nothing happens.
    madvise = _MADVISE
    if madvise is None or array.nbytes < _POPULATE_MIN:
        return
    page = mmap.PAGESIZE
    start = -(-array.ctypes.data // page) * page
    length = (array.ctypes.data + array.nbytes - start) // page * page

    def populate(keep: npt.NDArray[np.float64]) -> None:
        # (`keep`: the array stays allocated until its pages are done)
        madvise(start, length, _MADV_POPULATE_WRITE)

    threading.Thread(
        target=populate, args=(array,), name="ml4t-fast-path-populate", daemon=True
    ).start()


def _float_array(values: Any) -> npt.NDArray[np.float64]:
    # a feed column as float64 (no copy when it already is)
    out: npt.NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    return out


def _timestamps(data_feed: Any) -> npt.NDArray[np.int64]:
    out: npt.NDArray[np.int64] = np.asarray(data_feed.timestamps, dtype=np.int64)
    return out


def _asset_arrays(
    data_feed: Any, assets: tuple[str, ...], config: BacktestConfig
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
    npt.NDArray[np.int64],
]:  # fmt: skip
    # per asset: multiplier, quantity step, lot size and the lot size's decimals
    registry = data_feed.registry
    defs = [registry[a] for a in assets]
    mult = np.array([d.multiplier for d in defs], dtype=np.float64)
    step = np.array([config.rounding_step(d.lot_size) for d in defs], dtype=np.float64)
    lot = np.array([d.lot_size for d in defs], dtype=np.float64)
    lot_dec = np.array([_decimals(d.lot_size) for d in defs], dtype=np.int64)
    return mult, step, lot, lot_dec


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _decimals(step: float) -> int:
    text = repr(float(step))
    if "e-" in text:
        return min(int(text.split("e-")[1]) + len(text.split("e-")[0].split(".")[-1]), 15)
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def _commission_params(config: BacktestConfig) -> tuple[int, float, float, float, float]:
    c = config.commission
    if c.kind == "per_share":
        return (
            1,
            c.per_share,
            c.minimum,
            math.inf if c.maximum is None else c.maximum,
            math.inf if c.max_fraction is None else c.max_fraction,
        )
    if c.kind == "percent":
        return 2, c.rate, c.minimum, 0.0, 0.0
    if c.kind == "fixed":
        return 3, c.amount, 0.0, 0.0, 0.0
    return 0, 0.0, 0.0, 0.0, 0.0


def _slippage_params(config: BacktestConfig) -> tuple[int, float]:
    s = config.slippage
    if s.kind == "fixed_bps":
        return 1, s.bps * 1e-4  # the same rate FixedBpsSlippageSpec.build() passes
    if s.kind == "fixed":
        return 2, s.per_unit
    return 0, 0.0


_THREAD_MIN = 100_000  # bars from which the feed is fingerprinted beside the kernel


def _lookup(mapping: dict[int, str], size: int, default: str = "") -> pl.Series:
    # code -> label as a Series to `gather` from (labels built once, not once per row)
    return pl.Series([mapping.get(code, default) for code in range(size)], dtype=pl.String)


_TAG_LABELS = _lookup(_TAGS, 9)
_REASON_LABELS = _lookup(_REASONS, 7)
_STATUS_LABELS = _lookup(_STATUS, 7)
_ORDER_TYPE_LABELS = _lookup({6: "MARKET_ON_CLOSE"}, 7, "MARKET")


def _labels(table: pl.Series, codes: npt.NDArray[np.int64]) -> pl.Series:
    return table.gather(codes)


def _as_time(ns: npt.NDArray[np.int64]) -> pl.Series:
    return pl.Series(ns, dtype=pl.Int64).cast(_TS)


def _int_columns(
    records: npt.NDArray[np.float64],
    ts: npt.NDArray[np.int64],
    columns: tuple[int, ...],
    times: tuple[int, ...],
) -> npt.NDArray[np.int64]:
    # rows: the record columns `columns` as int64, then the bar columns `times` as timestamps
    # (the output allocated by numpy: cheaper to touch than numba's)
    cols = np.array(columns + times, dtype=np.int64)
    as_time = np.arange(cols.shape[0]) >= len(columns)
    out = np.empty((cols.shape[0], records.shape[0]), dtype=np.int64)
    _kernels().int_columns_nb(records, cols, as_time, ts, out)
    return out


class _Frames:
    # The kernel's outputs of one run and how each result frame is built from them: column
    # by column (numpy -> polars without a copy), labels (assets, tags, statuses) gathered
    # from small lookup Series, integer columns (ids, asset and label codes, bars ->
    # timestamps) from one compiled pass per record array.
    __slots__ = (
        "assets", "config", "fills", "mult", "n_pos", "orders", "out", "simple", "trades",
        "ts",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 (private: arrays in kernel order)
        self,
        ts: npt.NDArray[np.int64],
        assets: tuple[str, ...],
        mult: npt.NDArray[np.float64],
        out: _Outputs,
        n_pos: int,
        simple: bool,
        fills: npt.NDArray[np.float64],
        orders: npt.NDArray[np.float64],
        trades: npt.NDArray[np.float64],
        config: BacktestConfig,
    ) -> None:
        self.ts, self.mult, self.out, self.n_pos, self.simple = ts, mult, out, n_pos, simple
        self.assets = assets  # (a Series is made when a frame needs one)
        self.fills, self.orders, self.trades, self.config = fills, orders, trades, config

    def _names(self) -> pl.Series:
        return pl.Series(self.assets, dtype=pl.String)

    def equity_curve(self) -> pl.DataFrame:
        out = self.out
        rows = dict(zip(_kernels().CURVE_FIELDS, out.curve, strict=True))
        if self.simple:  # rows the kernel left unwritten (see record_bar_nb)
            long_e = rows["long_exposure"]
            rows |= {
                "market_value": long_e,
                "gross_exposure": long_e,
                "net_exposure": long_e,
                "short_exposure": out.zeros,
            }
        curve = {name: rows[name] for name in EQUITY_CURVE_SCHEMA if name != "timestamp"}
        return equity_curve_frame(self.ts, curve)

    def trades_frame(self) -> pl.DataFrame:
        trades, ts = self.trades, self.ts
        n_r = trades.shape[0]
        if trades.shape[1] > 15:  # (target-weight trades carry their side)
            ta = _int_columns(trades, ts, (0, 15, 13, 14), (2, 3))
            sides = ta[1].astype(np.int8)
        else:
            ta = _int_columns(trades, ts, (0, 0, 13, 14), (2, 3))
            sides = np.ones(n_r, dtype=np.int8)
        return pl.DataFrame(
            {
                "asset": self._names().gather(ta[0]),
                "side": sides,
                "quantity": trades[:, 1],
                "entry_time": _as_time(ta[4]),
                "exit_time": _as_time(ta[5]),
                "entry_price": trades[:, 4],
                "exit_price": trades[:, 5],
                "gross_pnl": trades[:, 6],
                "net_pnl": trades[:, 7],
                "commission": trades[:, 8],
                "slippage": trades[:, 9],
                "return": trades[:, 10],
                "mae": trades[:, 11],
                "mfe": trades[:, 12],
                "bars_held": ta[2],
                "exit_reason": _labels(_TAG_LABELS, ta[3]),
            },
            schema=TRADES_SCHEMA,
        )

    def fills_frame(self) -> pl.DataFrame:
        fills = self.fills
        fa = _int_columns(fills, self.ts, (1, 2, 3, 10), (0,))
        n_f = fills.shape[0]
        return pl.DataFrame(
            {
                "timestamp": _as_time(fa[4]),
                "order_id": fa[0],
                "asset": self._names().gather(fa[1]),
                "side": fa[2].astype(np.int8),
                "quantity": fills[:, 4],
                "price": fills[:, 5],
                "reference_price": fills[:, 6],
                "commission": fills[:, 7],
                "slippage": fills[:, 8],
                "impact": np.zeros(n_f),
                "remaining": fills[:, 9],
                "multiplier": self.mult[fa[1]],
                "tag": _labels(_TAG_LABELS, fa[3]),
            },
            schema=FILLS_SCHEMA,
        )

    def orders_frame(self) -> pl.DataFrame:
        orders = self.orders
        oa = _int_columns(orders, self.ts, (0, 3, 4, 6, 7, 10, 11), (1, 2))
        n_o = orders.shape[0]
        nan_o = np.full(n_o, np.nan)
        frame = pl.DataFrame(
            {
                "order_id": oa[0],
                "created_at": _as_time(oa[7]),
                "updated_at": _as_time(oa[8]),
                "asset": self._names().gather(oa[1]),
                "side": oa[2].astype(np.int8),
                "quantity": orders[:, 5],
                "order_type": _labels(_ORDER_TYPE_LABELS, oa[3]),
                "limit_price": nan_o,
                "stop_price": nan_o,
                "time_in_force": pl.repeat("GTC", n_o, dtype=pl.String, eager=True),
                "status": _labels(_STATUS_LABELS, oa[4]),
                "filled_quantity": orders[:, 8],
                "average_fill_price": orders[:, 9],
                "reason": _labels(_REASON_LABELS, oa[5]),
                "tag": _labels(_TAG_LABELS, oa[6]),
            },
            schema=ORDERS_SCHEMA,
        )
        ids = oa[0]
        if n_o > 1 and not bool(np.all(ids[1:] > ids[:-1])):  # rows usually come in id order
            frame = frame.sort("order_id")
        return frame

    def positions_frame(self) -> pl.DataFrame:
        # the kernel wrote the non-zero positions in row-major order (as np.nonzero gives
        # them)
        out, n_pos = self.out, self.n_pos
        if len(self.assets) == 1:
            held = pl.repeat(self.assets[0], n_pos, dtype=pl.String, eager=True)
        else:
            held = self._names().gather(out.pos_col[:n_pos])
        return pl.DataFrame(
            {
                "timestamp": _as_time(out.pos_ts[:n_pos]),
                "asset": held,
                "quantity": out.pos_qty[:n_pos],
                "market_value": out.pos_value[:n_pos],
            },
            schema=POSITIONS_SCHEMA,
        )


# the result's fields by name: the slots of the frozen dataclass, set once each
_FIELDS: dict[str, Any] = {
    f.name: vars(BacktestResult)[f.name] for f in dataclasses.fields(BacktestResult)
}
# the fields a fast-path result builds on first access, and how (from its `_Frames`)
_BUILDERS: dict[str, Callable[[_Frames, BacktestResult], Any]] = {
    "equity_curve": lambda src, _: src.equity_curve(),
    "trades": lambda src, _: src.trades_frame(),
    "fills": lambda src, _: src.fills_frame(),
    "orders": lambda src, _: src.orders_frame(),
    "positions": lambda src, _: src.positions_frame(),
    "metrics": lambda src, res: _venue.compute_metrics(res.equity_curve, res.trades, src.config),
}


class _DeferredResult(BacktestResult):
    # A `BacktestResult` whose frames and metrics are built on first access.
    #
    # Building the five frames and the metrics from the kernel's arrays costs about as much
    # as the kernel on long runs (the metrics alone ~20 ms on 1M bars), and a sweep often
    # reads one number of each result. Each of those fields stays unset until it is read:
    # reading an unset slot of the frozen dataclass raises AttributeError, so Python calls
    # `__getattr__`, which builds the value (under a lock: once, whichever thread asks
    # first), stores it in the slot and returns it; later reads are plain slot reads. The
    # values are exactly those an eager build gives (the same code, on the same arrays,
    # which stay referenced, so the buffer pool does not lend them out meanwhile).
    #
    # A pickle or copy of it is a plain `BacktestResult` with every field built.
    # `config` and `metadata` (the fingerprint, timings) are set when the run returns.
    __slots__ = ("_lock", "_source")

    @classmethod
    def deferred(
        cls, source: _Frames, config: BacktestConfig, metadata: dict[str, Any]
    ) -> _DeferredResult:
        result = object.__new__(cls)
        _FIELDS["config"].__set__(result, config)
        _FIELDS["metadata"].__set__(result, metadata)
        object.__setattr__(result, "_source", source)
        object.__setattr__(result, "_lock", threading.RLock())
        return result

    def __getattr__(self, name: str) -> Any:
        # called only when normal lookup fails: for a field, when it is not built yet
        builder = _BUILDERS.get(name)
        if builder is None:
            raise AttributeError(f"'BacktestResult' object has no attribute {name!r}")
        slot = _FIELDS[name]
        with self._lock:
            try:
                return slot.__get__(self, type(self))  # built by another thread meanwhile
            except AttributeError:
                pass
            value = builder(self._source, self)
            slot.__set__(self, value)
            return value

    def _plain(self) -> BacktestResult:
        # a plain `BacktestResult` with every field built (the same objects)
        return BacktestResult(**{name: getattr(self, name) for name in _FIELDS})

    def __reduce__(self) -> tuple[Any, ...]:
        # pickles (and copies) as a plain `BacktestResult` with every field built
        return (BacktestResult, tuple(getattr(self, name) for name in _FIELDS))

    def __repr__(self) -> str:
        return repr(self._plain())


def _result(  # noqa: PLR0917 (private: two call sites, arrays in kernel order)
    ts: npt.NDArray[np.int64],
    assets: tuple[str, ...],
    mult: npt.NDArray[np.float64],
    out: _Outputs,
    n_pos: int,
    simple: bool,
    fills: npt.NDArray[np.float64],
    orders: npt.NDArray[np.float64],
    trades: npt.NDArray[np.float64],
    config: BacktestConfig,
    fingerprint: Callable[[], dict[str, Any]],
    started: float,
    name: str,
) -> BacktestResult:
    # the result: metadata now, frames and metrics on first access (see _DeferredResult)
    source = _Frames(ts, assets, mult, out, n_pos, simple, fills, orders, trades, config)
    metadata: dict[str, Any] = {
        "strategy": name,
        "engine": "signal_fast_path",
        "completed": True,
        "failed_at_bar": None,
        "n_bars": int(ts.shape[0]),
        "n_assets": len(assets),
        "wall_seconds": time.perf_counter() - started,
        "data": fingerprint(),
    }
    return _DeferredResult.deferred(source, config, metadata)
