"""Version of the ml4t-backtest-core distribution."""

__all__ = ["__version__"]

__version__ = "0.1.0"
