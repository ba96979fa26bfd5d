"""Version of the ml4t-backtest meta-package."""

__all__ = ["__version__"]

__version__ = "0.1.0"
