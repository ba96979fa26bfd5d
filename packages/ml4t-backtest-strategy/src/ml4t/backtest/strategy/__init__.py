"""ml4t.backtest.strategy."""

from ml4t.backtest.strategy._version import __version__

__all__ = ["__version__"]
