"""Large books of price-less orders are matched with numpy, without loading numba.

`SimulationBroker._pass` sends a book of more than 16 slots to the numba kernel
`match_orders_nb` unless every order in it is price-less (market, market-on-open,
market-on-close); then it computes the kernel's market branch as arrays. Both must give the
same fills, and a run with only such orders must not import numba.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from ml4t.backtest.core.enums import OrderSide, TimeInForce
from ml4t.backtest.execution import Order, SimpleAccount, SimulationBroker
from ml4t.backtest.execution import broker as broker_module
from ml4t.backtest.execution.fills import FillTiming


def _drive(seed: int, timing: FillTiming) -> list[Any]:
    rng = np.random.default_rng(seed)
    n_a, n_t = 40, 12
    names = [f"S{j}" for j in range(n_a)]
    broker = SimulationBroker(names, account=SimpleAccount(1e9), fill_timing=timing)
    close = 30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0))
    opens = close * np.exp(rng.normal(0.0, 0.01, (n_t, n_a)))
    opens[rng.random((n_t, n_a)) < 0.1] = np.nan  # assets without a bar
    fills: list[Any] = []
    for t in range(n_t):
        o, c = opens[t], close[t]
        hl = (np.fmax(o, c), np.fmin(o, c))
        fills += broker.process_bar(t, t, o, hl[0], hl[1], c, np.full(n_a, 1e6))
        for j in rng.choice(n_a, size=30, replace=False).tolist():
            side = OrderSide.BUY if rng.random() < 0.6 else OrderSide.SELL
            kind = rng.integers(0, 3)
            if kind == 0:
                order = Order.market(names[j], side, float(rng.integers(1, 50)))
            elif kind == 1:
                order = Order.market_on_open(names[j], side, float(rng.integers(1, 50)))
            else:
                order = Order.market(
                    names[j], side, float(rng.integers(1, 50)), time_in_force=TimeInForce.DAY
                )
            broker.submit(order)
        fills += broker.process_close(t, t, c, np.full(n_a, 1e6))
    return fills


@pytest.mark.parametrize("timing", [FillTiming.NEXT_BAR_OPEN, FillTiming.NEXT_BAR_CLOSE])
@pytest.mark.parametrize("seed", range(4))
def test_market_only_books_match_as_the_kernel_does(
    seed: int, timing: FillTiming, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _drive(seed, timing)
    monkeypatch.setattr(broker_module, "_PRICELESS_INT", ())  # force the numba kernel
    kernel = _drive(seed, timing)
    assert len(arrays) > 100
    assert arrays == kernel


def test_a_market_only_run_does_not_import_numba() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from ml4t.backtest.execution import Order, SimulationBroker\n"
        "from ml4t.backtest.core.enums import OrderSide\n"
        "names = [f'S{j}' for j in range(40)]\n"
        "b = SimulationBroker(names)\n"
        "for j in range(40):\n"
        "    b.submit(Order.market(names[j], OrderSide.BUY, 1.0))\n"
        "row = np.full(40, 10.0)\n"
        "fills = b.process_bar(0, 0, row, row, row, row, row)\n"
        "assert len(fills) == 40, len(fills)\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
