"""ml4t.backtest.reporting: tearsheets (HTML and PDF) and run comparison.

`write_tearsheet` is also what ``BacktestResult.tearsheet(path)`` calls (it is registered in the
``ml4t.backtest.reporters`` entry-point group). Results are saved and loaded with
``BacktestResult.save`` / ``BacktestResult.load`` (module ``ml4t.backtest.strategy.persistence``).
"""

from ml4t.backtest.reporting._version import __version__
from ml4t.backtest.reporting.compare import compare, write_comparison
from ml4t.backtest.reporting.content import TearsheetContent
from ml4t.backtest.reporting.downsample import MAX_DISPLAY_POINTS, lttb_indices, stride_indices
from ml4t.backtest.reporting.synthetic import synthetic_result
from ml4t.backtest.reporting.tearsheet import write_tearsheet

__all__ = [
    "__version__",
    "MAX_DISPLAY_POINTS",
    "TearsheetContent",
    "compare",
    "lttb_indices",
    "stride_indices",
    "synthetic_result",
    "write_comparison",
    "write_tearsheet",
]
