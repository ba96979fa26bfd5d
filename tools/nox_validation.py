"""Nox sessions `validation` and `bench` (issue 7), imported by the root noxfile.py.

Both install the locked workspace plus a peer dependency group into the session's own venv
(``uv sync --frozen --group ...``); the peers never reach a runtime dependency.

- ``nox -s validation``: the cross-framework suite (validation/); writes docs/validation.md.
  Its Zipline scenarios compare with zipline's own stored results for its example algorithms,
  because zipline needs pandas < 3 and VectorBT 1.2 pandas >= 3.
- ``nox -s validation_zipline``: zipline-reloaded itself, in the ``validation-zipline`` group
  (declared conflicting in [tool.uv]): live runs on the same bundle (split; dividends paid)
  against ml4t, stored in validation/zipline_live/results.json for the report.
- ``nox -s bench``: benchmarks/run.py; pass ``-- --quick`` for the short run. Writes
  benchmarks/results/*.json, docs/benchmarks.md and docs/benchmarks.png. Zipline's children
  run in a second venv (``.nox/bench-zipline``, group ``validation-zipline``).
"""

from __future__ import annotations

from pathlib import Path

import nox

PYTHON = "3.11"

__all__ = ["bench", "validation", "validation_zipline"]


def _sync(session: nox.Session, *groups: str, location: str | None = None) -> None:
    args = ["uv", "sync", "--frozen", "--inexact", "--all-packages"]
    for group in groups:
        args += ["--group", group]
    session.run_install(
        *args,
        env={"UV_PROJECT_ENVIRONMENT": location or session.virtualenv.location},
        external=True,
    )


@nox.session(python=PYTHON)
def validation(session: nox.Session) -> None:
    """Run every validation scenario against its peer; write docs/validation.md."""
    _sync(session, "validation")
    session.run(
        "pytest",
        "validation",
        "-p",
        "no:cacheprovider",
        "-q",
        *session.posargs,
        env={"TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"},
    )


@nox.session(python=PYTHON)
def validation_zipline(session: nox.Session) -> None:
    """Run zipline-reloaded live (pandas < 3 env) against its stored results and ml4t.

    Writes validation/zipline_live/results.json, which `validation` puts in the report.
    """
    _sync(session, "validation-zipline")
    session.run(
        "pytest",
        "validation/zipline_live",
        "-p",
        "no:cacheprovider",
        "-q",
        *session.posargs,
        env={"PYTHONHASHSEED": "0"},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the side-by-side benchmarks, one engine process at a time.

    Zipline's children run in a second environment next to the session's (the
    ``validation-zipline`` group conflicts with ``bench``: pandas < 3).
    """
    _sync(session, "bench")
    zipline_env = str(Path(session.virtualenv.location).with_name("bench-zipline"))
    _sync(session, "validation-zipline", location=zipline_env)
    session.run(
        "nice",
        "-n",
        "10",
        "python",
        "benchmarks/run.py",
        *session.posargs,
        env={
            "TQDM_DISABLE": "1",
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "Agg",
            "ML4T_BENCH_ZIPLINE_PYTHON": str(Path(zipline_env) / "bin" / "python"),
        },
        external=True,
    )
