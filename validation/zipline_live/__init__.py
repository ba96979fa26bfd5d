"""Live zipline-reloaded runs (the ``validation-zipline`` environment, pandas < 3).

Zipline cannot share an environment with VectorBT 1.2, so these scenarios run in their own
nox session (``validation_zipline``) and store their outcome in ``results.json``, which the
main report (docs/validation.md) includes.
"""
