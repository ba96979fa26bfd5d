"""Where ml4t-backtest's peak RSS goes on one benchmark workload, stage by stage.

Runs one ml4t path in this process the way a `benchmarks/run.py` child does (imports, the
cached frame, an untimed warm-up, then the timed run) and prints the resident set after each
stage and the peak reached within it (a 1 ms sampling thread). The run itself is split into
building the `DataFeed`, the bar loop and building the result.

Usage::

    uv run --group bench python benchmarks/memory_profile.py on_bar          # B, 500 x 2,520
    uv run --group bench python benchmarks/memory_profile.py fast_path --workload A --size 1x1000000

One path per process: numba, polars and the allocator keep what they have reserved, so the
numbers of a second path in the same process would not be a child's.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


class RssMeter:
    """Samples this process's resident set every millisecond; reports stage by stage."""

    def __init__(self) -> None:
        self.peak = self.now()
        self.last = self.peak
        threading.Thread(target=self._sample, daemon=True).start()

    @staticmethod
    def now() -> float:
        """Return the current resident set, MiB (Linux /proc)."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            time.sleep(0.001)

    def stage(self, name: str) -> None:
        """Print the RSS after stage `name`, its growth and the peak reached during it."""
        time.sleep(0.01)
        rss = self.now()
        print(
            f"{name:34s} rss {rss:7.1f} MiB  ({rss - self.last:+7.1f})  peak {self.peak:7.1f}",
            flush=True,
        )
        self.last = rss
        self.peak = rss


def _wrap(owner: Any, name: str, meter: RssMeter) -> None:
    # Report the RSS before and after every call of owner.name.
    original: Callable[..., Any] = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        meter.stage(f"  before {name}")
        out = original(*args, **kwargs)
        meter.stage(f"  after {name}")
        return out

    setattr(owner, name, wrapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("path", choices=["on_market_data", "on_bar", "fast_path"])
    parser.add_argument("--workload", default="B")
    parser.add_argument("--size", default="500x2520", help="assets x bars")
    args = parser.parse_args(argv)
    n_assets, n_bars = (int(v) for v in args.size.split("x"))

    meter = RssMeter()
    meter.stage("python")
    import numpy  # noqa: F401, PLC0415
    import polars as pl  # noqa: PLC0415

    meter.stage("import numpy, polars")
    import ml4t.backtest.strategy.engine as engine  # noqa: PLC0415
    from ml4t.backtest.core import data as core_data  # noqa: PLC0415
    from ml4t.backtest.strategy import signals  # noqa: PLC0415

    meter.stage("import ml4t (numba included)")
    from peers import ml4t_engine  # noqa: PLC0415
    from workloads import data  # noqa: PLC0415

    bars = data.load(args.workload, n_assets, n_bars)
    meter.stage(f"load frame ({bars.estimated_size() / 2**20:.0f} MiB of columns)")
    stamps = bars["timestamp"].unique().sort()
    warm = stamps[: max(60, min(2_000, len(stamps) // 50))]
    kind = "longshort" if args.workload.startswith("D") else "cross"
    ml4t_engine.run(kind, bars.filter(pl.col("timestamp").is_in(warm.implode())), args.path)
    meter.stage("warm-up run (numba dispatch)")

    _wrap(core_data.DataFeed, "from_polars", meter)
    for name in ("_loop_lazy", "_loop_eager", "build_result"):
        _wrap(engine._Run, name, meter)
    _wrap(signals, "run_signals", meter)
    ml4t_engine.run_signals = signals.run_signals  # the harness imported the name
    out = ml4t_engine.run(kind, bars, args.path)
    meter.stage("timed run done")
    print(f"peak RSS of the process (VmHWM): {_hwm():.1f} MiB; result {out}")
    return 0


def _hwm() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


if __name__ == "__main__":
    sys.exit(main())
