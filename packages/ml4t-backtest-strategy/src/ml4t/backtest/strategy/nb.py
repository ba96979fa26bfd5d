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
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "FILL_FIELDS",
    "ORDER_FIELDS",
    "TRADE_FIELDS",
    "commission_nb",
    "floor_to_step_nb",
    "simulate_signals_nb",
]

# Columns of the record arrays the kernel returns (all float64).
FILL_FIELDS = (
    "bar", "order_id", "asset", "side", "quantity", "price", "reference_price",
    "commission", "slippage", "remaining", "tag",
)  # fmt: skip
ORDER_FIELDS = (
    "order_id", "created_bar", "updated_bar", "asset", "side", "quantity", "order_type",
    "status", "filled_quantity", "average_fill_price", "reason", "tag",
)  # fmt: skip
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
def simulate_signals_nb(  # noqa: PLR0917
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
    entries: npt.NDArray[np.bool_],
    exits: npt.NDArray[np.bool_],
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
    resize: bool,
    exit_first: bool,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    max_bars: int,
    close_at_end: bool,
    fill_cap: int,
    order_cap: int,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Run a long-only entry/exit signal strategy; twin of `SignalStrategy` in the engine.

    Returns ``(equity, cash, qty_hist, value_hist, fills, orders, trades)``: per-bar equity
    and cash (T,), positions and their marked values (T, A), and record arrays whose columns
    are `FILL_FIELDS`, `ORDER_FIELDS` and `TRADE_FIELDS`.
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
    equity_out = np.empty(n_t)
    cash_out = np.empty(n_t)
    qty_hist = np.zeros((n_t, n_a))
    value_hist = np.zeros((n_t, n_a))
    fills = np.zeros((fill_cap, 11))
    orders = np.zeros((order_cap, 12))
    trades = np.zeros((fill_cap, 15))
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
    for t in range(n_t):
        # ---------------------------------------------------------- 2/6. broker passes
        for phase in range(2):
            if phase == 1:
                # 5. strategy (and 4. risk) run between the two passes: see below
                # ---- 3. mark
                for j in range(n_a):
                    p = price[t, j]
                    if not math.isnan(p):
                        last[j] = p
                for j in range(n_a):
                    if k_qty[j] != 0.0:
                        if k_qty[j] > 0.0:
                            k_best[j] = np.fmax(k_best[j], high[t, j])
                            k_worst[j] = np.fmin(k_worst[j], low[t, j])
                        else:
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
                equity = cash
                for j in range(n_a):
                    if qty[j] != 0.0:
                        equity += qty[j] * last[j] * mult[j]
                for j in range(n_a):
                    if o_slot[j] >= 0:
                        continue
                    q = 0.0
                    if qty[j] > 0.0 and exits[t, j]:
                        q = -qty[j]
                    elif qty[j] == 0.0 and entries[t, j]:
                        p = last[j]
                        if math.isnan(p) or p <= 0.0:
                            continue
                        if size_mode == 0:
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
            # ---- matching pass: phase 0 = process_bar (open), phase 1 = process_close
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
                for j in range(n_a):  # the broker's last close, after either pass
                    c = close[t, j]
                    if not math.isnan(c):
                        ref_close[j] = c
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
            for j in range(n_a):
                c = close[t, j]
                if not math.isnan(c):
                    ref_close[j] = c
        # ---------------------------------------------------------------- 7. record
        eq = cash
        for j in range(n_a):
            if qty[j] != 0.0:
                v = qty[j] * last[j] * mult[j]
                eq += v
                value_hist[t, j] = v
                qty_hist[t, j] = qty[j]
        equity_out[t] = eq
        cash_out[t] = cash
    return (
        equity_out,
        cash_out,
        qty_hist,
        value_hist,
        fills[:n_fill],
        orders[:n_order],
        trades[:n_trade],
    )
