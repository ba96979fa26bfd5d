"""One module per engine; each exposes ``run(workload_kind, bars, path) -> dict``."""
