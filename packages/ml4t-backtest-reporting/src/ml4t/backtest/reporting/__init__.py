"""ml4t.backtest.reporting."""

from ml4t.backtest.reporting._version import __version__

__all__ = ["__version__"]
