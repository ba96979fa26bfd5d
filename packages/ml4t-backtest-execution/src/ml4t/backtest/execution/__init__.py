"""ml4t.backtest.execution."""

from ml4t.backtest.execution._version import __version__

__all__ = ["__version__"]
