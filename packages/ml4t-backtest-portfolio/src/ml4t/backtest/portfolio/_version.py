"""Version of the ml4t-backtest-portfolio distribution."""

__all__ = ["__version__"]

__version__ = "0.1.0"
