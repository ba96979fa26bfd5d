"""Numba kernel of the signal fast path: the engine loop for entry/exit signal strategies.

`simulate_signals_nb` is the array twin of running `SignalStrategy` through `BacktestEngine`
with `SimulationBroker` and `Portfolio`; it repeats their arithmetic operation by operation
(fill price ``ref + side * slippage``, commission on the fill price, the broker's buying-power
checks at submit and at fill, the portfolio's cash flows and the trade tracker's FIFO lots and
excursions), so that both paths give the same numbers. `tests/test_signals.py` proves it on
many random cases.

Supported: long-only entries/exits on a cash account; commission none / per share / percent
/ per trade; slippage none / percentage / fixed per unit; fill timing next open or same close;
REJECT or RESIZE on a cash shortfall; stop loss, take profit, trailing stop and time exit.
`simulate_weights_nb` does the same for target weights (`WeightStrategy`).

The kernels write the result, not a history to derive it from: `record_bar_nb` writes each
bar's equity-curve row and non-zero positions, the record arrays get one row per fill, order
and trade; `int_columns_nb` turns the records' integer fields into frame columns.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "CURVE_FIELDS",
    "FILL_FIELDS",
    "ORDER_FIELDS",
    "TRADE_FIELDS",
    "commission_nb",
    "fee_inclusive_quantity_nb",
    "floor_to_step_nb",
    "int_columns_nb",
    "record_bar_nb",
    "simulate_signals_nb",
    "simulate_weights_nb",
]

# Rows of the equity-curve array and columns of the record arrays (all float64).
FILL_FIELDS = (
    "bar", "order_id", "asset", "side", "quantity", "price", "reference_price",
    "commission", "slippage", "remaining", "tag",
)  # fmt: skip
ORDER_FIELDS = (
    "order_id", "created_bar", "updated_bar", "asset", "side", "quantity", "order_type",
    "status", "filled_quantity", "average_fill_price", "reason", "tag",
)  # fmt: skip
CURVE_FIELDS = (
    "equity",
    "cash",
    "long_exposure",
    "leverage",
    "returns",
    "drawdown",
    "market_value",
    "gross_exposure",
    "net_exposure",
    "short_exposure",
)  # fmt: skip  (rows written every bar first: see record_bar_nb)
TRADE_FIELDS = (
    "asset", "quantity", "entry_bar", "exit_bar", "entry_price", "exit_price", "gross_pnl",
    "net_pnl", "commission", "slippage", "return", "mae", "mfe", "bars_held", "tag",
)  # fmt: skip

# tags (exit reasons) and rejection reasons, as codes
TAG_NONE = 0
TAG_STOP_LOSS = 1
TAG_TRAILING_STOP = 2
TAG_TAKE_PROFIT = 4
TAG_TIME_EXIT = 5
TAG_END = 7
REASON_NONE = 0
REASON_FUNDS_SUBMIT = 1
REASON_FUNDS_FILL = 2
REASON_RESIZED = 3
REASON_RISK_CANCEL = 4
REASON_END_CANCEL = 5
REASON_NO_LOT = 6

# order status codes (OrderStatus)
_ACCEPTED = 2
_PARTIAL = 3
_FILLED = 4
_CANCELED = 5
_REJECTED = 6

_FLOOR_EPS = 1e-9  # broker's grid tolerance (execution._rounding)
_ROUND_EPS = 1e-9  # strategy.round_quantity tolerance


@njit(cache=True)
def floor_to_step_nb(value: float, step: float, decimals: int) -> float:
    """Largest multiple of `step` <= `value`; twin of ``execution._rounding.floor_to_step``."""
    units = value / step
    near = np.round(units)
    u = near if abs(units - near) <= _FLOOR_EPS else math.floor(units)
    out = np.round(u * step, decimals)
    return 0.0 if out == 0.0 else out


@njit(cache=True)
def commission_nb(  # noqa: PLR0917
    kind: int, p1: float, p2: float, p3: float, p4: float, qty: float, price: float, mult: float
) -> float:
    """Commission of one fill; twin of the execution commission models.

    kind 0 none; 1 per share (p1 per unit, p2 minimum, p3 maximum, p4 max fraction);
    2 percent (p1 rate, p2 minimum); 3 per trade (p1 amount).
    """
    if kind == 1:
        value = abs(qty) * price * mult
        fee = max(abs(qty) * p1, p2)
        return max(min(fee, p3, p4 * value), 0.0)
    if kind == 2:
        return max(p1 * abs(qty) * price * mult, p2, 0.0)
    if kind == 3:
        return max(p1, 0.0)
    return 0.0


@njit(cache=True)
def fee_inclusive_quantity_nb(  # noqa: PLR0917
    budget: float,
    kind: int,
    p1: float,
    p2: float,
    p3: float,
    p4: float,
    closing: float,
    price: float,
    mult: float,
) -> float:
    """Largest q with ``q * price * mult + commission(closing + q) <= budget``.

    Twin of ``execution._funds.fee_inclusive_quantity`` with the commission of `commission_nb`.
    """
    unit = price * mult
    if not (budget > 0.0 and unit > 0.0):
        return 0.0
    hi = budget / unit
    lo = max(budget - commission_nb(kind, p1, p2, p3, p4, closing + hi, price, mult), 0.0) / unit
    for _ in range(64):
        if hi - lo <= hi * 1e-15:
            break
        fee_lo = commission_nb(kind, p1, p2, p3, p4, closing + lo, price, mult)
        new_hi = max(budget - fee_lo, 0.0) / unit
        fee_hi = commission_nb(kind, p1, p2, p3, p4, closing + new_hi, price, mult)
        new_lo = max(budget - fee_hi, 0.0) / unit
        if new_hi >= hi and new_lo <= lo:
            break
        hi = min(hi, new_hi)
        lo = max(lo, new_lo)
    return lo


@njit(cache=True)
def _slip(kind: int, value: float, ref: float) -> float:
    # per-unit slippage: 1 percentage of price, 2 fixed per unit
    if kind == 1:
        s = ref * value
    elif kind == 2:
        s = value
    else:
        s = 0.0
    return max(s, 0.0)


@njit(cache=True)
def _round_qty(q: float, step: float) -> float:
    # strategy.round_quantity for q >= 0
    if step <= 0.0:
        return q
    return math.floor(abs(q) / step + _ROUND_EPS) * step


@njit(cache=True)
def _is_signal(x: float) -> bool:
    # a signal column's value counts when finite and non-zero (NaN: no signal)
    return x != 0.0 and math.isfinite(x)


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_simple_rows_nb(curve: npt.NDArray[np.float64], t: int) -> None:
    # The rows `record_bar_nb` leaves unwritten while every bar is simple, for bars 0 to
    # t - 1: market value, gross and net exposure equal the long exposure, short is 0.
    # (Shared by record_bar_nb and the record step written out in simulate_signals_nb;
    # called at most once a run.)
    for u in range(t):
        x = curve[2, u]
        curve[6, u] = x
        curve[7, u] = x
        curve[8, u] = x
        curve[9, u] = 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def record_bar_nb(  # noqa: PLR0917 (a kernel: arrays in, arrays out)
    t: int,
    ts_t: int,
    cash: float,
    qty: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64],
    mult: npt.NDArray[np.float64],
    curve: npt.NDArray[np.float64],
    pos_ts: npt.NDArray[np.int64],
    pos_col: npt.NDArray[np.int64],
    pos_qty: npt.NDArray[np.float64],
    pos_value: npt.NDArray[np.float64],
    n_pos: int,
    prev: float,
    peak: float,
    simple: bool,
) -> tuple[int, float, float, bool]:
    """Record bar `t`: its row of the equity curve and its non-zero positions.

    Writes column `t` of `curve` (rows in `CURVE_FIELDS` order): equity (cash plus each held
    position's ``qty * last * mult``, in column order), cash, market value, long and short
    exposure (sums of the positive and of the negative values), ``gross = long - short``,
    ``net = long + short``, ``leverage = gross / equity`` (NaN where equity is 0),
    ``returns = equity / previous - 1`` and ``drawdown = equity / running peak - 1``, IEEE
    results (inf/NaN) where a divisor is 0, NaN propagating in the peak as in
    ``np.maximum.accumulate``. Appends ``(ts_t, column, qty, value)`` of each non-zero
    position at row `n_pos` of ``pos_*`` (the column only when there are several assets).

    The state carried from bar to bar is `prev` (the previous equity; ``init_cash`` before
    bar 0), `peak` (the running peak; any value before bar 0) and `simple` (True before bar
    0). While every bar is *simple* (no short exposure and market value equal to the long
    exposure, as in any long-only run) the market value, gross, net and short rows (the
    last four) are not written: they equal the long exposure (bit for bit) and zeros, and
    the caller uses those; the first bar that is not simple fills them in for the bars
    before it.

    Returns:
        ``(n_pos, prev, peak, simple)`` after this bar: the new position row count and
        the state for the next bar.
    """
    eq = cash
    mv = 0.0
    lg = 0.0
    sh = 0.0
    n_a = qty.shape[0]
    for j in range(n_a):
        q = qty[j]
        if q != 0.0:
            v = q * last[j] * mult[j]
            eq += v
            mv += v
            if v > 0.0:
                lg += v
            elif v < 0.0:
                sh += v
            pos_ts[n_pos] = ts_t
            if n_a > 1:
                pos_col[n_pos] = j
            pos_qty[n_pos] = q
            pos_value[n_pos] = v
            n_pos += 1
    if simple and not (sh == 0.0 and mv == lg):
        _fill_simple_rows_nb(curve, t)
        simple = False
    gross = lg - sh
    curve[0, t] = eq
    curve[1, t] = cash
    curve[2, t] = lg
    curve[3, t] = gross / eq if eq != 0.0 else np.nan
    curve[4, t] = eq / prev - 1.0
    if t == 0 or not (peak >= eq or math.isnan(peak)):
        peak = eq
    curve[5, t] = eq / peak - 1.0
    if not simple:
        curve[6, t] = mv
        curve[7, t] = gross
        curve[8, t] = lg + sh
        curve[9, t] = sh
    return n_pos, eq, peak, simple


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_signals_nb(  # noqa: PLR0917
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
    entries: npt.NDArray[np.float64],
    exits: npt.NDArray[np.float64],
    use_exits: bool,
    init_cash: float,
    mult: npt.NDArray[np.float64],
    step: npt.NDArray[np.float64],
    lot: npt.NDArray[np.float64],
    lot_decimals: npt.NDArray[np.int64],
    size_mode: int,
    size_value: float,
    comm_kind: int,
    c1: float,
    c2: float,
    c3: float,
    c4: float,
    slip_kind: int,
    slip_value: float,
    same_close: bool,
    resize: int,  # 0 reject, 1 resize, 2 resize fee-inclusive (execution.FundsPolicy)
    exit_first: bool,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    max_bars: int,
    close_at_end: bool,
    ts: npt.NDArray[np.int64],
    curve: npt.NDArray[np.float64],
    pos_ts: npt.NDArray[np.int64],
    pos_col: npt.NDArray[np.int64],
    pos_qty: npt.NDArray[np.float64],
    pos_value: npt.NDArray[np.float64],
    fills: npt.NDArray[np.float64],
    orders: npt.NDArray[np.float64],
    trades: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, bool]:
    """Run a long-only entry/exit signal strategy; twin of `SignalStrategy` in the engine.

    `entries` and `exits` are the feed's signal columns as they are (a finite non-zero
    value is a signal; `exits` is read only when `use_exits`). Each bar is recorded as
    `record_bar_nb` records it (its steps are written out in the loop) into `curve` (the
    equity curve's columns, `CURVE_FIELDS`) and the position rows ``pos_*``; `ts` gives
    the positions' timestamps.

    Returns ``(fills, orders, trades, n_positions, simple)``: the used leading rows of the
    record arrays (columns `FILL_FIELDS`, `ORDER_FIELDS`, `TRADE_FIELDS`), the number of
    position rows written and `record_bar_nb`'s ``simple`` flag.

    The caller allocates the outputs (with numpy, whose allocator makes large arrays far
    cheaper to touch than the kernel's): `curve` of shape (10, T), the position columns
    with room for T * A rows, and record arrays with room for every fill (11 columns),
    order (12) and trade (15); they need not be zeroed (every field of a record is written
    when the record is made).
    """
    n_t, n_a = close.shape
    cash = init_cash
    qty = np.zeros(n_a)
    last = np.full(n_a, np.nan)  # portfolio's last marked price
    ref_close = np.full(n_a, np.nan)  # broker's last close (submit-time funds check)
    # one working order per asset at most
    o_slot = np.full(n_a, -1, dtype=np.int64)  # row in `orders` of the working order
    o_elig = np.zeros(n_a, dtype=np.int64)
    o_close_phase = np.zeros(n_a, dtype=np.bool_)
    # risk state
    r_entry = np.full(n_a, np.nan)
    r_bar = np.full(n_a, -1, dtype=np.int64)
    r_best = np.full(n_a, np.nan)
    # trade tracker state (one lot per asset: entries only when flat)
    k_qty = np.zeros(n_a)
    k_entry = np.zeros(n_a)
    k_time = np.zeros(n_a, dtype=np.int64)
    k_bar = np.zeros(n_a, dtype=np.int64)
    k_cpu = np.zeros(n_a)
    k_spu = np.zeros(n_a)
    k_best = np.zeros(n_a)
    k_worst = np.zeros(n_a)
    bar_count = 0
    n_fill = 0
    n_order = 0
    n_trade = 0
    next_id = 1
    risk_on = (
        not math.isnan(stop_loss)
        or not math.isnan(take_profit)
        or not math.isnan(trailing_stop)
        or max_bars > 0
    )
    cand = np.empty(n_a, dtype=np.int64)
    is_exit = np.zeros(n_a, dtype=np.bool_)
    fill_j = np.empty(n_a, dtype=np.int64)
    n_pos = 0
    prev_eq, peak_eq, simple = init_cash, init_cash, True  # record_bar_nb's state
    t_quiet_end = n_t - 1 if close_at_end else n_t  # the last bar may have to flatten
    t = 0
    while t < n_t:  # (a while loop: a run of quiet bars moves t past itself)
        # ---- a quiet bar (no working order, no risk rule armed, no signal the strategy
        # acts on, not the last bar) only marks and records: the same steps as below,
        # without the passes that would find nothing to do
        quiet = t < t_quiet_end
        for j in range(n_a):
            if not quiet:
                break
            if o_slot[j] >= 0:
                quiet = False
            elif qty[j] > 0.0:
                quiet = not (risk_on or (use_exits and _is_signal(exits[t, j])))
            elif qty[j] == 0.0:
                quiet = not _is_signal(entries[t, j])
        if quiet and n_a == 1 and simple:
            # One asset: the whole run of quiet bars from t on, the state in locals: per
            # bar the steps of the quiet branch below (mark, lot excursions, record_bar_nb
            # for a simple bar, the same arithmetic). Stops before the first bar that is
            # not quiet, that is `t_quiet_end`, or whose value would not be positive (not
            # a simple bar). Written out here rather than called: a call takes a reference
            # to each array it is given (atomic operations, each a memory barrier), which
            # costs more than the bars of a short run.
            q1 = qty[0]
            kq1 = k_qty[0]
            m1 = mult[0]
            last1 = last[0]
            ref1 = ref_close[0]
            best1 = k_best[0]
            worst1 = k_worst[0]
            s1 = t
            while s1 < t_quiet_end:
                p1 = price[s1, 0]
                mark1 = p1 if not math.isnan(p1) else last1
                v1 = q1 * mark1 * m1
                if q1 != 0.0 and not v1 > 0.0:
                    break
                if s1 > t:  # is bar s1 quiet? (bar t is)
                    if q1 > 0.0:
                        if risk_on or (use_exits and _is_signal(exits[s1, 0])):
                            break
                    elif q1 == 0.0 and _is_signal(entries[s1, 0]):
                        break
                last1 = mark1
                cl1 = close[s1, 0]
                if not math.isnan(cl1):
                    ref1 = cl1
                if kq1 > 0.0:
                    best1 = np.fmax(best1, high[s1, 0])
                    worst1 = np.fmin(worst1, low[s1, 0])
                elif kq1 < 0.0:
                    best1 = np.fmin(best1, low[s1, 0])
                    worst1 = np.fmax(worst1, high[s1, 0])
                eq1 = cash
                lg1 = 0.0
                if q1 != 0.0:
                    eq1 += v1
                    lg1 += v1
                    pos_ts[n_pos] = ts[s1]
                    pos_qty[n_pos] = q1
                    pos_value[n_pos] = v1
                    n_pos += 1
                curve[0, s1] = eq1
                curve[1, s1] = cash
                curve[2, s1] = lg1
                curve[3, s1] = (lg1 - 0.0) / eq1 if eq1 != 0.0 else np.nan
                curve[4, s1] = eq1 / prev_eq - 1.0
                if s1 == 0 or not (peak_eq >= eq1 or math.isnan(peak_eq)):
                    peak_eq = eq1
                curve[5, s1] = eq1 / peak_eq - 1.0
                prev_eq = eq1
                s1 += 1
            last[0] = last1
            ref_close[0] = ref1
            k_best[0] = best1
            k_worst[0] = worst1
            bar_count += s1 - t
            if s1 > t:
                t = s1
                continue
        if quiet:
            for j in range(n_a):
                p = price[t, j]
                if not math.isnan(p):
                    last[j] = p
                c = close[t, j]
                if not math.isnan(c):
                    ref_close[j] = c
                if k_qty[j] > 0.0:
                    k_best[j] = np.fmax(k_best[j], high[t, j])
                    k_worst[j] = np.fmin(k_worst[j], low[t, j])
                elif k_qty[j] < 0.0:
                    k_best[j] = np.fmin(k_best[j], low[t, j])
                    k_worst[j] = np.fmax(k_worst[j], high[t, j])
            bar_count += 1
        # ---------------------------------------------------------- 2/6. broker passes
        # (none on a quiet bar: it goes straight to the record)
        for phase in range(0 if quiet else 2):
            if phase == 1:
                # 5. strategy (and 4. risk) run between the two passes: see below
                # ---- 3. mark; the broker's last close is this bar's from the first pass on
                for j in range(n_a):
                    p = price[t, j]
                    if not math.isnan(p):
                        last[j] = p
                    c = close[t, j]
                    if not math.isnan(c):
                        ref_close[j] = c
                    if k_qty[j] > 0.0:
                        k_best[j] = np.fmax(k_best[j], high[t, j])
                        k_worst[j] = np.fmin(k_worst[j], low[t, j])
                    elif k_qty[j] < 0.0:
                        k_best[j] = np.fmin(k_best[j], low[t, j])
                        k_worst[j] = np.fmax(k_worst[j], high[t, j])
                bar_count += 1
                # ---- 4. risk rules (close based)
                if risk_on:
                    for j in range(n_a):
                        if qty[j] == 0.0:
                            continue
                        c = price[t, j]
                        if math.isnan(c):
                            continue
                        sgn = 1.0 if qty[j] > 0.0 else -1.0
                        if sgn > 0:
                            r_best[j] = np.fmax(r_best[j], c)
                        else:
                            r_best[j] = np.fmin(r_best[j], c)
                        move = sgn * (c / r_entry[j] - 1.0)
                        tag = -1
                        if not math.isnan(stop_loss) and move <= -stop_loss:
                            tag = TAG_STOP_LOSS
                        elif not math.isnan(trailing_stop) and (
                            sgn * (c / r_best[j] - 1.0) <= -trailing_stop
                        ):
                            tag = TAG_TRAILING_STOP
                        elif not math.isnan(take_profit) and move >= take_profit:
                            tag = TAG_TAKE_PROFIT
                        elif max_bars > 0 and (t - r_bar[j]) >= max_bars:
                            tag = TAG_TIME_EXIT
                        if tag < 0:
                            continue
                        s = o_slot[j]
                        if s >= 0:  # cancel the working order
                            orders[s, 7] = _CANCELED
                            orders[s, 10] = REASON_RISK_CANCEL
                            orders[s, 2] = t
                            o_slot[j] = -1
                        q = -qty[j]
                        row = n_order
                        n_order += 1
                        orders[row, 0] = next_id
                        orders[row, 8] = 0.0  # (the buffer may be reused)
                        orders[row, 10] = REASON_NONE
                        next_id += 1
                        orders[row, 1] = t
                        orders[row, 2] = t
                        orders[row, 3] = j
                        orders[row, 4] = 1.0 if q > 0 else -1.0
                        orders[row, 5] = abs(q)
                        orders[row, 6] = 0
                        orders[row, 7] = _ACCEPTED
                        orders[row, 9] = np.nan
                        orders[row, 11] = tag
                        o_slot[j] = row
                        o_elig[j] = t if same_close else t + 1
                        o_close_phase[j] = same_close
                # ---- 5. strategy: act only on assets with nothing pending
                equity = math.nan  # computed when an entry sizes by it
                for j in range(n_a):
                    if o_slot[j] >= 0:
                        continue
                    q = 0.0
                    if qty[j] > 0.0 and use_exits and _is_signal(exits[t, j]):
                        q = -qty[j]
                    elif qty[j] == 0.0 and _is_signal(entries[t, j]):
                        p = last[j]
                        if math.isnan(p) or p <= 0.0:
                            continue
                        if size_mode == 0:
                            if math.isnan(equity):
                                equity = cash
                                for k in range(n_a):
                                    if qty[k] != 0.0:
                                        equity += qty[k] * last[k] * mult[k]
                            q = _round_qty(size_value * equity / (p * mult[j]), step[j])
                        elif size_mode == 1:
                            q = _round_qty(size_value, step[j])
                        else:
                            q = _round_qty(size_value / (p * mult[j]), step[j])
                        if q <= 0.0:
                            continue
                    else:
                        continue
                    row = n_order
                    n_order += 1
                    orders[row, 0] = next_id
                    orders[row, 8] = 0.0  # (the buffer may be reused)
                    orders[row, 10] = REASON_NONE
                    next_id += 1
                    orders[row, 1] = t
                    orders[row, 2] = t
                    orders[row, 3] = j
                    orders[row, 4] = 1.0 if q > 0 else -1.0
                    orders[row, 5] = abs(q)
                    orders[row, 6] = 0
                    orders[row, 9] = np.nan
                    orders[row, 11] = TAG_NONE
                    if q > 0 and qty[j] >= 0.0 and not math.isnan(ref_close[j]):
                        rp = ref_close[j]
                        need = q * (abs(rp) * mult[j] * 1.0 * 1.0 + 0.0 * 1.0)
                        if need > cash + 1e-9 * max(abs(cash), 1.0):
                            # the broker also counts what working exits will release
                            releasable = 0.0
                            for k in range(n_a):
                                sk = o_slot[k]
                                if sk < 0 or qty[k] * orders[sk, 4] >= 0:
                                    continue
                                if not math.isnan(ref_close[k]):
                                    rem = orders[sk, 5] - orders[sk, 8]
                                    releasable += min(rem, abs(qty[k])) * ref_close[k] * mult[k]
                            if q * rp * mult[j] > max(cash, 0.0) + releasable:
                                orders[row, 7] = _REJECTED
                                orders[row, 10] = REASON_FUNDS_SUBMIT
                                continue
                    orders[row, 7] = _ACCEPTED
                    o_slot[j] = row
                    o_elig[j] = t if same_close else t + 1
                    o_close_phase[j] = same_close
                # ---- end of run: flatten at this close
                if close_at_end and t == n_t - 1:
                    for j in range(n_a):
                        s = o_slot[j]
                        if s >= 0:
                            orders[s, 7] = _CANCELED
                            orders[s, 10] = REASON_END_CANCEL
                            orders[s, 2] = t
                            o_slot[j] = -1
                    for j in range(n_a):
                        if qty[j] == 0.0:
                            continue
                        q = -qty[j]
                        row = n_order
                        n_order += 1
                        orders[row, 0] = next_id
                        orders[row, 8] = 0.0  # (the buffer may be reused)
                        orders[row, 10] = REASON_NONE
                        next_id += 1
                        orders[row, 1] = t
                        orders[row, 2] = t
                        orders[row, 3] = j
                        orders[row, 4] = 1.0 if q > 0 else -1.0
                        orders[row, 5] = abs(q)
                        orders[row, 6] = 6
                        orders[row, 7] = _ACCEPTED
                        orders[row, 9] = np.nan
                        orders[row, 11] = TAG_END
                        o_slot[j] = row
                        o_elig[j] = t
                        o_close_phase[j] = True
            # ---- matching pass: phase 0 = process_bar (open), phase 1 = process_close.
            # Orders fill at the close only with same_close or when flattening at the end,
            # at the open only without same_close: the other pass has nothing to match.
            if phase == 0 and same_close:
                continue
            if phase == 1 and not (same_close or (close_at_end and t == n_t - 1)):
                continue
            n_c = 0
            for j in range(n_a):
                s = o_slot[j]
                if s < 0 or o_elig[j] > t or o_close_phase[j] != (phase == 1):
                    continue
                ref = open_[t, j] if phase == 0 else close[t, j]
                if phase == 1 and close_at_end and t == n_t - 1 and math.isnan(ref):
                    ref = last[j]  # end of run: the last known price
                if math.isnan(ref):
                    continue
                cand[n_c] = j
                n_c += 1
            if n_c == 0:
                continue
            # order: exits first (position reduced), then by order id
            for i in range(n_c):
                j = cand[i]
                is_exit[j] = qty[j] * orders[o_slot[j], 4] < 0.0
            for i in range(1, n_c):  # insertion sort by (not exit, id)
                j = cand[i]
                k = i - 1
                while k >= 0:
                    jk = cand[k]
                    a_key = (0 if (is_exit[jk] and exit_first) else 1, orders[o_slot[jk], 0])
                    b_key = (0 if (is_exit[j] and exit_first) else 1, orders[o_slot[j], 0])
                    if a_key > b_key:
                        cand[k + 1] = jk
                        k -= 1
                    else:
                        break
                cand[k + 1] = j
            pend_bp = 0.0
            n_f = 0
            for i in range(n_c):
                j = cand[i]
                s = o_slot[j]
                side = orders[s, 4]
                oq = orders[s, 5] - orders[s, 8]
                ref = open_[t, j] if phase == 0 else close[t, j]
                if phase == 1 and close_at_end and t == n_t - 1 and math.isnan(ref):
                    ref = last[j]
                m = mult[j]
                sl = _slip(slip_kind, slip_value, ref)
                if side < 0 and sl > ref:
                    sl = ref
                px = ref + side * sl
                held = qty[j]
                closing = min(oq, abs(held)) if held * side < 0 else 0.0
                opening = oq - closing
                fq = oq
                resized = False
                if opening > 0.0:
                    if side < 0:  # a cash account cannot sell short
                        orders[s, 7] = _REJECTED
                        orders[s, 2] = t
                        o_slot[j] = -1
                        continue
                    have = max(cash, 0.0) + pend_bp
                    comm = commission_nb(comm_kind, c1, c2, c3, c4, fq, px, m)
                    need = opening * px * m + comm
                    if need > have * (1.0 + 1e-12):
                        if not resize:
                            orders[s, 7] = _REJECTED
                            orders[s, 10] = REASON_FUNDS_FILL
                            orders[s, 2] = t
                            o_slot[j] = -1
                            continue
                        if resize == 2:
                            afford = floor_to_step_nb(
                                fee_inclusive_quantity_nb(
                                    have, comm_kind, c1, c2, c3, c4, closing, px, m
                                ),
                                lot[j],
                                lot_decimals[j],
                            )
                        else:
                            afford = floor_to_step_nb(
                                max(have - comm, 0.0) / (px * m), lot[j], lot_decimals[j]
                            )
                        while afford > 0.0:
                            new_qty = closing + afford
                            sl = _slip(slip_kind, slip_value, ref)
                            px = ref + side * sl
                            comm = commission_nb(comm_kind, c1, c2, c3, c4, new_qty, px, m)
                            if afford * px * m + comm <= have:
                                break
                            afford = floor_to_step_nb(afford - lot[j], lot[j], lot_decimals[j])
                        if closing + afford <= 0.0:
                            orders[s, 7] = _REJECTED
                            orders[s, 10] = REASON_NO_LOT
                            orders[s, 2] = t
                            o_slot[j] = -1
                            continue
                        fq = closing + afford
                        opening = afford
                        sl = _slip(slip_kind, slip_value, ref)
                        px = ref + side * sl
                        resized = True
                comm = commission_nb(comm_kind, c1, c2, c3, c4, fq, px, m)
                # order bookkeeping (Order.record_fill: volume-weighted average price)
                filled = orders[s, 8]
                if filled == 0.0:
                    orders[s, 9] = px
                else:
                    orders[s, 9] = (orders[s, 9] * filled + px * fq) / (filled + fq)
                orders[s, 8] = filled + fq
                orders[s, 2] = t
                remaining = orders[s, 5] - orders[s, 8]
                if remaining <= 0.0:
                    orders[s, 7] = _FILLED
                    o_slot[j] = -1
                elif resized:
                    orders[s, 7] = _CANCELED
                    orders[s, 10] = REASON_RESIZED
                    o_slot[j] = -1
                else:
                    orders[s, 7] = _PARTIAL
                pend_bp += (closing - opening) * px * m - comm
                f = n_fill
                n_fill += 1
                fills[f, 0] = t
                fills[f, 1] = orders[s, 0]
                fills[f, 2] = j
                fills[f, 3] = side
                fills[f, 4] = fq
                fills[f, 5] = px
                fills[f, 6] = ref
                fills[f, 7] = comm
                fills[f, 8] = sl * fq * m
                fills[f, 9] = remaining if remaining > 0.0 else 0.0
                fills[f, 10] = orders[s, 11]
                fill_j[n_f] = f
                n_f += 1
                # later checks in this pass see the fill through pend_bp; positions are
                # applied after the pass, as the engine does
            # ---- engine: apply the pass's fills to the portfolio, risk and trade state
            for i in range(n_f):
                f = fill_j[i]
                j = int(fills[f, 2])
                side = fills[f, 3]
                fq = fills[f, 4]
                px = fills[f, 5]
                comm = fills[f, 7]
                m = mult[j]
                signed = fq * side
                old = qty[j]
                new = old + signed
                if abs(new) <= 1e-12 * max(abs(old), abs(signed)):
                    new = 0.0
                cash -= signed * px * m
                if comm:
                    cash -= comm
                if math.isnan(last[j]):
                    last[j] = px
                # engine mirror of the quantity (same snapping as the engine)
                q2 = old + signed
                qty[j] = 0.0 if abs(q2) < 1e-9 * max(1.0, abs(signed)) else q2
                # risk entry state (RiskManager.on_fill)
                if qty[j] == 0.0:
                    r_entry[j] = np.nan
                    r_bar[j] = -1
                    r_best[j] = np.nan
                elif old == 0.0 or (old > 0) != (qty[j] > 0):
                    r_entry[j] = px
                    r_bar[j] = t
                    r_best[j] = px
                elif abs(qty[j]) > abs(old):
                    r_entry[j] = (old * r_entry[j] + signed * px) / qty[j]
                # trade tracker (one lot per asset)
                cpu = comm / fq
                spu = fills[f, 8] / fq
                if k_qty[j] != 0.0 and k_qty[j] * signed < 0.0:
                    take = min(abs(k_qty[j]), fq)
                    ks = 1.0 if k_qty[j] > 0 else -1.0
                    entry = k_entry[j]
                    if ks > 0:
                        best = max(k_best[j], px)
                        worst = min(k_worst[j], px)
                    else:
                        best = min(k_best[j], px)
                        worst = max(k_worst[j], px)
                    gross = ks * (px - entry) * take * m
                    tcomm = take * (k_cpu[j] + cpu)
                    tslip = take * (k_spu[j] + spu)
                    net = gross - tcomm
                    basis = entry * take * m
                    r = n_trade
                    n_trade += 1
                    trades[r, 0] = j
                    trades[r, 1] = take
                    trades[r, 2] = k_time[j]
                    trades[r, 3] = t
                    trades[r, 4] = entry
                    trades[r, 5] = px
                    trades[r, 6] = gross
                    trades[r, 7] = net
                    trades[r, 8] = tcomm
                    trades[r, 9] = tslip
                    trades[r, 10] = net / basis if basis != 0.0 else np.nan
                    trades[r, 11] = ks * (worst - entry) / entry if entry != 0.0 else np.nan
                    trades[r, 12] = ks * (best - entry) / entry if entry != 0.0 else np.nan
                    trades[r, 13] = bar_count - k_bar[j]
                    trades[r, 14] = fills[f, 10]
                    if take >= abs(k_qty[j]) * (1.0 - 1e-12):
                        k_qty[j] = 0.0
                    else:
                        k_qty[j] = k_qty[j] + (1.0 if signed > 0 else -1.0) * take
                    rest = fq - take
                    if rest > 1e-12 * fq:
                        k_qty[j] = (1.0 if signed > 0 else -1.0) * rest
                        k_entry[j] = px
                        k_time[j] = t
                        k_bar[j] = bar_count
                        k_cpu[j] = cpu
                        k_spu[j] = spu
                        k_best[j] = px
                        k_worst[j] = px
                elif k_qty[j] != 0.0:  # add to the lot (not produced by this strategy)
                    k_qty[j] += signed
                else:
                    k_qty[j] = signed
                    k_entry[j] = px
                    k_time[j] = t
                    k_bar[j] = bar_count
                    k_cpu[j] = cpu
                    k_spu[j] = spu
                    k_best[j] = px
                    k_worst[j] = px
        # ---------------------------------------------------------------- 7. record
        # the steps of record_bar_nb, written out here rather than called: an inlined call
        # keeps a reference count on `curve` around every bar (atomic operations, each a
        # memory barrier behind the bar's record writes)
        b_eq = cash
        b_mv = 0.0
        b_lg = 0.0
        b_sh = 0.0
        ts_t = ts[t]
        for j in range(n_a):
            b_q = qty[j]
            if b_q != 0.0:
                b_v = b_q * last[j] * mult[j]
                b_eq += b_v
                b_mv += b_v
                if b_v > 0.0:
                    b_lg += b_v
                elif b_v < 0.0:
                    b_sh += b_v
                pos_ts[n_pos] = ts_t
                if n_a > 1:
                    pos_col[n_pos] = j
                pos_qty[n_pos] = b_q
                pos_value[n_pos] = b_v
                n_pos += 1
        if simple and not (b_sh == 0.0 and b_mv == b_lg):
            _fill_simple_rows_nb(curve, t)
            simple = False
        b_gross = b_lg - b_sh
        curve[0, t] = b_eq
        curve[1, t] = cash
        curve[2, t] = b_lg
        curve[3, t] = b_gross / b_eq if b_eq != 0.0 else np.nan
        curve[4, t] = b_eq / prev_eq - 1.0
        if t == 0 or not (peak_eq >= b_eq or math.isnan(peak_eq)):
            peak_eq = b_eq
        curve[5, t] = b_eq / peak_eq - 1.0
        if not simple:
            curve[6, t] = b_mv
            curve[7, t] = b_gross
            curve[8, t] = b_lg + b_sh
            curve[9, t] = b_sh
        prev_eq = b_eq
        t += 1
    return fills[:n_fill], orders[:n_order], trades[:n_trade], n_pos, simple


TAG_REBALANCE = 8


@njit(cache=True)
def _grow_rows(arr: npt.NDArray[np.float64], need: int) -> npt.NDArray[np.float64]:
    # Return `arr` with at least `need` rows (doubling), copying the existing rows.
    if need <= arr.shape[0]:
        return arr
    rows = max(need, 2 * arr.shape[0])
    out = np.zeros((rows, arr.shape[1]))
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True)
def _book_fill_lots(  # noqa: PLR0917
    j: int,
    signed: float,
    px: float,
    t: int,
    comm: float,
    slip_cost: float,
    tag: float,
    m: float,
    bar_count: int,
    lot_qty: npt.NDArray[np.float64],
    lot_f: npt.NDArray[np.float64],
    lot_i: npt.NDArray[np.int64],
    lot_next: npt.NDArray[np.int64],
    head: npt.NDArray[np.int64],
    tail: npt.NDArray[np.int64],
    free: npt.NDArray[np.int64],
    n_free: int,
    trades: npt.NDArray[np.float64],
    n_trade: int,
) -> tuple[int, int]:
    # TradeTracker.on_fill with FIFO lots; lot_f columns: entry, cpu, spu, best, worst;
    # lot_i columns: entry time (bar), entry bar count. Returns (n_free, n_trade).
    size = abs(signed)
    sign = 1.0 if signed > 0 else -1.0
    cpu = comm / size
    spu = slip_cost / size
    remaining = size
    tol = 1e-12 * size
    while remaining > tol and head[j] >= 0:
        k = head[j]
        lq = lot_qty[k]
        if lq * sign > 0.0:
            break
        lsize = abs(lq)
        take = min(lsize, remaining)
        side = 1.0 if lq > 0 else -1.0
        entry = lot_f[k, 0]
        if side > 0:
            best = max(lot_f[k, 3], px)
            worst = min(lot_f[k, 4], px)
        else:
            best = min(lot_f[k, 3], px)
            worst = max(lot_f[k, 4], px)
        gross = side * (px - entry) * take * m
        tcomm = take * (lot_f[k, 1] + cpu)
        tslip = take * (lot_f[k, 2] + spu)
        net = gross - tcomm
        basis = entry * take * m
        r = n_trade
        n_trade += 1
        trades[r, 0] = j
        trades[r, 1] = take
        trades[r, 2] = lot_i[k, 0]
        trades[r, 3] = t
        trades[r, 4] = entry
        trades[r, 5] = px
        trades[r, 6] = gross
        trades[r, 7] = net
        trades[r, 8] = tcomm
        trades[r, 9] = tslip
        trades[r, 10] = net / basis if basis != 0.0 else np.nan
        trades[r, 11] = side * (worst - entry) / entry if entry != 0.0 else np.nan
        trades[r, 12] = side * (best - entry) / entry if entry != 0.0 else np.nan
        trades[r, 13] = bar_count - lot_i[k, 1]
        trades[r, 14] = tag
        if side < 0:
            trades[r, 15] = -1.0
        else:
            trades[r, 15] = 1.0
        if take >= lsize * (1.0 - 1e-12):
            head[j] = lot_next[k]
            if head[j] < 0:
                tail[j] = -1
            free[n_free] = k
            n_free += 1
        else:
            lot_qty[k] = lq + sign * take
        remaining -= take
    if remaining <= tol:
        return n_free, n_trade
    n_free -= 1
    k = free[n_free]
    lot_qty[k] = sign * remaining
    lot_f[k, 0] = px
    lot_f[k, 1] = cpu
    lot_f[k, 2] = spu
    lot_f[k, 3] = px
    lot_f[k, 4] = px
    lot_i[k, 0] = t
    lot_i[k, 1] = bar_count
    lot_next[k] = -1
    if tail[j] >= 0:
        lot_next[tail[j]] = k
    else:
        head[j] = k
    tail[j] = k
    return n_free, n_trade


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_weights_nb(  # noqa: PLR0917
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    init_cash: float,
    mult: npt.NDArray[np.float64],
    step: npt.NDArray[np.float64],
    min_trade_value: float,
    comm_kind: int,
    c1: float,
    c2: float,
    c3: float,
    c4: float,
    slip_kind: int,
    slip_value: float,
    same_close: bool,
    exit_first: bool,
    close_at_end: bool,
    fill_cap: int,
    order_cap: int,
    ts: npt.NDArray[np.int64],
    curve: npt.NDArray[np.float64],
    pos_ts: npt.NDArray[np.int64],
    pos_col: npt.NDArray[np.int64],
    pos_qty: npt.NDArray[np.float64],
    pos_value: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, bool]:
    """Run a target-weight strategy; twin of `WeightStrategy` (``rebalance`` every bar).

    Cash account, long-only (a sell beyond the holding is refused at submit, as the broker
    does); orders may stay working while an asset has no bar. Takes and returns the same
    outputs as `simulate_signals_nb` (the record arrays are allocated here and grow as
    needed); trades have a 16th column, the side.
    """
    n_t, n_a = close.shape
    cash = init_cash
    qty = np.zeros(n_a)
    last = np.full(n_a, np.nan)
    ref_close = np.full(n_a, np.nan)
    pend_q = np.zeros(n_a)  # unfilled signed quantity of working orders per asset
    # working orders: rows of `orders`, kept in a compact list
    active = np.empty(order_cap, dtype=np.int64)
    n_active = 0
    o_elig = np.zeros(order_cap, dtype=np.int64)
    o_close = np.zeros(order_cap, dtype=np.bool_)
    # FIFO lots
    lot_cap = fill_cap + 1
    lot_qty = np.zeros(lot_cap)
    lot_f = np.zeros((lot_cap, 5))
    lot_i = np.zeros((lot_cap, 2), dtype=np.int64)
    lot_next = np.full(lot_cap, -1, dtype=np.int64)
    head = np.full(n_a, -1, dtype=np.int64)
    tail = np.full(n_a, -1, dtype=np.int64)
    free = np.arange(lot_cap - 1, -1, -1).astype(np.int64)
    n_free = lot_cap
    bar_count = 0
    n_pos = 0
    prev_eq, peak_eq, simple = init_cash, init_cash, True  # record_bar_nb's state
    start_rows = min(order_cap, 4 * n_a + 64)  # record arrays grow as needed
    fills = np.zeros((start_rows, 11))
    orders = np.zeros((start_rows, 12))
    trades = np.zeros((start_rows, 16))
    n_fill = 0
    n_order = 0
    n_trade = 0
    next_id = 1
    cand = np.empty(order_cap, dtype=np.int64)
    exitk = np.empty(order_cap, dtype=np.int64)
    pend_pos = np.zeros(n_a)
    fill_rows = np.empty(order_cap, dtype=np.int64)
    sells = np.empty(n_a, dtype=np.int64)
    buys = np.empty(n_a, dtype=np.int64)
    deltas = np.zeros(n_a)
    for t in range(n_t):
        for phase in range(2):
            if phase == 1:
                # ---- 3. mark
                for j in range(n_a):
                    p = price[t, j]
                    if not math.isnan(p):
                        last[j] = p
                for j in range(n_a):
                    k = head[j]
                    while k >= 0:
                        if lot_qty[k] > 0.0:
                            lot_f[k, 3] = np.fmax(lot_f[k, 3], high[t, j])
                            lot_f[k, 4] = np.fmin(lot_f[k, 4], low[t, j])
                        else:
                            lot_f[k, 3] = np.fmin(lot_f[k, 3], low[t, j])
                            lot_f[k, 4] = np.fmax(lot_f[k, 4], high[t, j])
                        k = lot_next[k]
                bar_count += 1
                # ---- 5. strategy: rebalance to the row's weights (NaN = leave alone)
                any_w = False
                for j in range(n_a):
                    if not math.isnan(weights[t, j]):
                        any_w = True
                        break
                if any_w:
                    equity = cash
                    for j in range(n_a):
                        if qty[j] != 0.0:
                            equity += qty[j] * last[j] * mult[j]
                    n_s = 0
                    n_b = 0
                    for j in range(n_a):
                        w = weights[t, j]
                        if math.isnan(w):
                            continue
                        p = last[j]
                        priced = (not math.isnan(p)) and p > 0.0
                        raw = w * equity / (p * mult[j]) if priced else 0.0
                        if step[j] > 0:
                            units = math.floor(abs(raw) / step[j] + _ROUND_EPS)
                            target = math.copysign(units * step[j], raw)
                        else:
                            target = raw
                        if raw == 0.0:
                            target = 0.0
                        cur = qty[j] + pend_q[j]
                        delta = target - cur
                        full_exit = target == 0.0 and cur != 0.0
                        big = priced and abs(delta) * p * mult[j] >= min_trade_value
                        trade = priced and delta != 0.0 and big
                        if full_exit and (priced or w == 0.0):
                            trade = True
                        if not priced:
                            delta = -cur
                        if not trade:
                            continue
                        deltas[j] = delta
                        if delta < 0:
                            sells[n_s] = j
                            n_s += 1
                        elif delta > 0:
                            buys[n_b] = j
                            n_b += 1
                    for g in range(2):
                        n_g = n_s if g == 0 else n_b
                        for i in range(n_g):
                            j = sells[i] if g == 0 else buys[i]
                            q = deltas[j]
                            orders = _grow_rows(orders, n_order + 1)
                            row = n_order
                            n_order += 1
                            orders[row, 0] = next_id
                            next_id += 1
                            orders[row, 1] = t
                            orders[row, 2] = t
                            orders[row, 3] = j
                            orders[row, 4] = 1.0 if q > 0 else -1.0
                            orders[row, 5] = abs(q)
                            orders[row, 6] = 0
                            orders[row, 9] = np.nan
                            orders[row, 11] = TAG_REBALANCE
                            held = qty[j]
                            side = orders[row, 4]
                            closing = min(abs(q), abs(held)) if held * side < 0 else 0.0
                            opening = abs(q) - closing
                            rejected = False
                            if side < 0 and opening > 0.0:
                                rejected = True  # cash account: no short sales
                            elif opening > 0.0 and not math.isnan(ref_close[j]):
                                rp = ref_close[j]
                                need = opening * (abs(rp) * mult[j] * 1.0 * 1.0 + 0.0 * 1.0)
                                if need > cash + 1e-9 * max(abs(cash), 1.0):
                                    releasable = 0.0
                                    for ii in range(n_active):
                                        s = active[ii]
                                        k = int(orders[s, 3])
                                        if qty[k] * orders[s, 4] >= 0:
                                            continue
                                        if not math.isnan(ref_close[k]):
                                            rem = orders[s, 5] - orders[s, 8]
                                            releasable += (
                                                min(rem, abs(qty[k])) * ref_close[k] * mult[k]
                                            )
                                    if opening * rp * mult[j] > max(cash, 0.0) + releasable:
                                        rejected = True
                            if rejected:
                                orders[row, 7] = _REJECTED
                                orders[row, 10] = REASON_FUNDS_SUBMIT
                                continue
                            orders[row, 7] = _ACCEPTED
                            active[n_active] = row
                            n_active += 1
                            o_elig[row] = t if same_close else t + 1
                            o_close[row] = same_close
                            pend_q[j] += q
                # ---- end of run: cancel working orders, flatten at this close
                if close_at_end and t == n_t - 1:
                    for ii in range(n_active):
                        s = active[ii]
                        orders[s, 7] = _CANCELED
                        orders[s, 10] = REASON_END_CANCEL
                        orders[s, 2] = t
                    n_active = 0
                    for j in range(n_a):
                        pend_q[j] = 0.0
                    for j in range(n_a):
                        if qty[j] == 0.0:
                            continue
                        q = -qty[j]
                        orders = _grow_rows(orders, n_order + 1)
                        row = n_order
                        n_order += 1
                        orders[row, 0] = next_id
                        next_id += 1
                        orders[row, 1] = t
                        orders[row, 2] = t
                        orders[row, 3] = j
                        orders[row, 4] = 1.0 if q > 0 else -1.0
                        orders[row, 5] = abs(q)
                        orders[row, 6] = 6
                        orders[row, 7] = _ACCEPTED
                        orders[row, 9] = np.nan
                        orders[row, 11] = TAG_END
                        active[n_active] = row
                        n_active += 1
                        o_elig[row] = t
                        o_close[row] = True
                        pend_q[j] += q
            # ---- matching pass
            n_c = 0
            for ii in range(n_active):
                s = active[ii]
                if o_elig[s] > t or o_close[s] != (phase == 1):
                    continue
                j = int(orders[s, 3])
                ref = open_[t, j] if phase == 0 else close[t, j]
                if phase == 1 and close_at_end and t == n_t - 1 and math.isnan(ref):
                    ref = last[j]
                if math.isnan(ref):
                    continue
                cand[n_c] = s
                exitk[n_c] = 0 if (exit_first and qty[j] * orders[s, 4] < 0.0) else 1
                n_c += 1
            n_f = 0
            if n_c > 0:
                for i in range(1, n_c):  # insertion sort by (not exit, id)
                    s = cand[i]
                    e = exitk[i]
                    k = i - 1
                    while k >= 0 and (
                        exitk[k] > e or (exitk[k] == e and orders[cand[k], 0] > orders[s, 0])
                    ):
                        cand[k + 1] = cand[k]
                        exitk[k + 1] = exitk[k]
                        k -= 1
                    cand[k + 1] = s
                    exitk[k + 1] = e
                pend_bp = 0.0
                for j in range(n_a):
                    pend_pos[j] = 0.0
                for i in range(n_c):
                    s = cand[i]
                    j = int(orders[s, 3])
                    side = orders[s, 4]
                    oq = orders[s, 5] - orders[s, 8]
                    ref = open_[t, j] if phase == 0 else close[t, j]
                    if phase == 1 and close_at_end and t == n_t - 1 and math.isnan(ref):
                        ref = last[j]
                    m = mult[j]
                    sl = _slip(slip_kind, slip_value, ref)
                    if side < 0 and sl > ref:
                        sl = ref
                    px = ref + side * sl
                    held = qty[j] + pend_pos[j]
                    closing = min(oq, abs(held)) if held * side < 0 else 0.0
                    opening = oq - closing
                    if opening > 0.0:
                        if side < 0:
                            orders[s, 7] = _REJECTED
                            orders[s, 2] = t
                            continue
                        have = max(cash, 0.0) + pend_bp
                        comm = commission_nb(comm_kind, c1, c2, c3, c4, oq, px, m)
                        if opening * px * m + comm > have * (1.0 + 1e-12):
                            orders[s, 7] = _REJECTED
                            orders[s, 10] = REASON_FUNDS_FILL
                            orders[s, 2] = t
                            continue
                    comm = commission_nb(comm_kind, c1, c2, c3, c4, oq, px, m)
                    filled = orders[s, 8]
                    if filled == 0.0:
                        orders[s, 9] = px
                    else:
                        orders[s, 9] = (orders[s, 9] * filled + px * oq) / (filled + oq)
                    orders[s, 8] = filled + oq
                    orders[s, 2] = t
                    orders[s, 7] = _FILLED
                    pend_pos[j] += side * oq
                    pend_bp += (closing - opening) * px * m - comm
                    fills = _grow_rows(fills, n_fill + 1)
                    f = n_fill
                    n_fill += 1
                    fills[f, 0] = t
                    fills[f, 1] = orders[s, 0]
                    fills[f, 2] = j
                    fills[f, 3] = side
                    fills[f, 4] = oq
                    fills[f, 5] = px
                    fills[f, 6] = ref
                    fills[f, 7] = comm
                    fills[f, 8] = sl * oq * m
                    fills[f, 9] = 0.0
                    fills[f, 10] = orders[s, 11]
                    fill_rows[n_f] = f
                    n_f += 1
                # drop finished orders from the working list
                n_keep = 0
                for ii in range(n_active):
                    s = active[ii]
                    if orders[s, 7] == _ACCEPTED:
                        active[n_keep] = s
                        n_keep += 1
                    else:
                        j = int(orders[s, 3])
                        pend_q[j] -= orders[s, 4] * orders[s, 5]
                n_active = n_keep
            # ---- engine: apply the fills to the portfolio and the trade tracker
            for i in range(n_f):
                f = fill_rows[i]
                j = int(fills[f, 2])
                signed = fills[f, 4] * fills[f, 3]
                px = fills[f, 5]
                comm = fills[f, 7]
                m = mult[j]
                cash -= signed * px * m
                if comm:
                    cash -= comm
                if math.isnan(last[j]):
                    last[j] = px
                q2 = qty[j] + signed
                qty[j] = 0.0 if abs(q2) < 1e-9 * max(1.0, abs(signed)) else q2
                n_lots = 0  # a fill closes at most every open lot of its asset
                k = head[j]
                while k >= 0:
                    n_lots += 1
                    k = lot_next[k]
                trades = _grow_rows(trades, n_trade + n_lots + 1)
                n_free, n_trade = _book_fill_lots(
                    j, signed, px, t, comm, fills[f, 8], fills[f, 10], m, bar_count,
                    lot_qty, lot_f, lot_i, lot_next, head, tail, free, n_free, trades, n_trade,
                )  # fmt: skip
            for j in range(n_a):
                c = close[t, j]
                if not math.isnan(c):
                    ref_close[j] = c
        # ---------------------------------------------------------------- 7. record
        n_pos, prev_eq, peak_eq, simple = record_bar_nb(
            t, ts[t], cash, qty, last, mult, curve, pos_ts, pos_col, pos_qty, pos_value,
            n_pos, prev_eq, peak_eq, simple,
        )  # fmt: skip
    return fills[:n_fill], orders[:n_order], trades[:n_trade], n_pos, simple


@njit(cache=True, nogil=True)
def int_columns_nb(
    records: npt.NDArray[np.float64],
    columns: npt.NDArray[np.int64],
    as_time: npt.NDArray[np.bool_],
    ts: npt.NDArray[np.int64],
    out: npt.NDArray[np.int64],
) -> None:
    """Fill `out` with the integer `columns` of a record array, one row each, in one pass.

    Row ``c`` of `out` (shape ``(len(columns), len(records))``, allocated by the caller)
    gets column ``columns[c]`` truncated to int64 (NaN -> 0, as
    ``np.nan_to_num(x).astype(np.int64)`` gives), mapped through `ts` when ``as_time[c]``
    (a bar index -> its timestamp).
    """
    n = records.shape[0]
    for c in range(columns.shape[0]):
        k = columns[c]
        for i in range(n):
            x = records[i, k]
            v = 0 if math.isnan(x) else int(x)
            out[c, i] = ts[v] if as_time[c] else v
