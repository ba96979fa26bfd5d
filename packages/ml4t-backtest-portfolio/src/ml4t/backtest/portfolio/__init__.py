"""ml4t.backtest.portfolio."""

from ml4t.backtest.portfolio._version import __version__

__all__ = ["__version__"]
