"""Automation for the ml4t-backtest workspace.

``uv run nox`` runs every session CI needs (see ``nox.options.sessions``). Each ``tests``
session installs ONE distribution with only what it declares (``uv sync --package``) into a
fresh virtual environment and runs its tests: this is what proves that every distribution
declares its dependencies honestly and that none reaches upward.

Interpreters are never downloaded (``UV_PYTHON_DOWNLOADS=never``): the machine's CPython 3.11
is used.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

import nox

os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
os.environ.setdefault("PYTHONHASHSEED", "0")

ROOT = Path(__file__).parent
PACKAGES_DIR = ROOT / "packages"
REPORTS = ROOT / ".nox-reports"
PYTHON = "3.11"

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "lint",
    "layers",
    "tests",
    "integration",
    "build",
    "docs",
    "examples",
]

# Distributions in layer order (lowest first); the meta-package last.
LAYER_ORDER = ["core", "execution", "portfolio", "strategy", "reporting", "live"]


def _distributions() -> list[str]:
    """Return the short names of the distributions present under packages/, in layer order."""
    present = {p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").exists()}
    names = [name for name in LAYER_ORDER if f"ml4t-backtest-{name}" in present]
    if "ml4t-backtest" in present:
        names.append("meta")
    return names


def _dist_name(package: str) -> str:
    return "ml4t-backtest" if package == "meta" else f"ml4t-backtest-{package}"


def _sync(session: nox.Session, *args: str) -> None:
    """Install the locked workspace (or a part of it) into the session's venv."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--inexact",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


def _run_pytest(session: nox.Session, name: str, *paths: str) -> None:
    """Run pytest on `paths` and keep a JUnit report for the CI summary.

    A run that collects no test exits with code 5, which fails the session: a package whose
    tests vanished must not pass silently (the root conftest.py says so in plain words).
    """
    REPORTS.mkdir(exist_ok=True)
    session.run(
        "pytest",
        *paths,
        f"--junitxml={REPORTS / f'junit-{name}.xml'}",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session(python=PYTHON)
@nox.parametrize("package", _distributions())
def tests(session: nox.Session, package: str) -> None:
    """Install one distribution with only what it declares, then run its tests and doctests."""
    dist = _dist_name(package)
    _sync(session, "--package", dist)
    tests_dir = f"packages/{dist}/tests"
    src_dir = f"packages/{dist}/src"
    if not any(Path(tests_dir).glob("test_*.py")):
        session.error(f"{dist} has no tests under {tests_dir}")
    _run_pytest(session, package, tests_dir, src_dir, "--doctest-modules")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Run the cross-package tests (tests/integration) on the whole editable workspace.

    Includes the install-situation tests, which build wheels and make fresh virtual
    environments with only some of them installed.
    """
    _sync(session, "--all-packages")
    _run_pytest(session, "integration", "tests/integration")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check on everything, mypy --strict on all distribution sources."""
    _sync(session, "--all-packages")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    src_dirs = [str(p) for p in sorted(PACKAGES_DIR.glob("*/src"))]
    session.run("mypy", "--strict", *src_dirs)


@nox.session(python=PYTHON)
def layers(session: nox.Session) -> None:
    """Check the import-linter contracts: lower layers never import higher ones."""
    _sync(session, "--all-packages")
    session.run("lint-imports", "--config", "pyproject.toml", "--no-cache")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build wheels and sdists of every distribution and check their metadata."""
    _sync(session, "--only-group", "dev")
    out = ROOT / "dist"
    shutil.rmtree(out, ignore_errors=True)
    session.run("uv", "build", "--all-packages", "--out-dir", str(out), external=True)
    artifacts = sorted(str(p) for p in out.iterdir() if p.suffix in {".whl", ".gz"})
    expected = len(_distributions()) * 2
    if len(artifacts) != expected:
        session.error(f"expected {expected} artifacts (wheel + sdist each), found {artifacts}")
    session.run("twine", "check", "--strict", *artifacts)
    _check_wheel_layout(session, out)


def _check_wheel_layout(session: nox.Session, out: Path) -> None:
    """Fail when a wheel breaks the namespace layout (see docs/architecture/0001)."""
    for wheel in sorted(out.glob("*.whl")):
        names = zipfile.ZipFile(wheel).namelist()
        if "ml4t/__init__.py" in names:
            session.error(f"{wheel.name} ships ml4t/__init__.py; ml4t must stay a namespace")
        is_meta = wheel.name.startswith("ml4t_backtest-")
        if ("ml4t/backtest/__init__.py" in names) != is_meta:
            session.error(f"{wheel.name}: only the meta-package may ship ml4t/backtest/__init__.py")
        if not any(name.endswith("py.typed") for name in names):
            session.error(f"{wheel.name} lacks py.typed")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with mkdocs --strict (broken links fail)."""
    _sync(session, "--all-packages", "--group", "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Run every script in examples/; each must exit 0."""
    _sync(session, "--all-packages")
    scripts = sorted((ROOT / "examples").glob("*.py"))
    if not scripts:
        session.error("examples/ holds no scripts")
    for script in scripts:
        session.log(f"running {script.name}")
        session.run("python", str(script), env={"MPLBACKEND": "Agg"})


if (ROOT / "tools" / "nox_validation.py").exists():
    # Validation against peer frameworks and side-by-side benchmarks (not in the default list).
    sys.path.insert(0, str(ROOT / "tools"))
    import nox_validation  # noqa: F401  (registers the `validation` and `bench` sessions)
