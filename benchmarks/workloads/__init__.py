"""Benchmark workloads (issue 7): deterministic seeded data and the real S&P 500 set."""
