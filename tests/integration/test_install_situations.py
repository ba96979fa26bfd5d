"""The three install situations of the namespaced distributions.

1. The editable workspace: every sub-package and the facade import from their source folders.
2. Fresh venvs with only some wheels: ``ml4t.backtest.core`` (and execution on top of it)
   import, and the facade is absent.
3. A fresh venv with all wheels: ``from ml4t.backtest import ...`` works.

The wheels are built once per test session with ``uv build --all-packages``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
SUBPACKAGES = [name.removeprefix("ml4t-backtest-") for name in PACKAGES if name != "ml4t-backtest"]

pytestmark = pytest.mark.install


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; install it with `python3 -m pip install uv`")
    return uv


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--all-packages", "--wheel", "--out-dir", str(out), cwd=ROOT)
    found: dict[str, Path] = {}
    for wheel in out.glob("*.whl"):
        dist = wheel.name.split("-")[0].replace("_", "-")
        found[dist] = wheel
    assert set(found) == set(PACKAGES), f"wheels built: {sorted(found)}, expected {PACKAGES}"
    return found


def _fresh_venv(tmp_path: Path, *wheel_files: Path) -> Path:
    venv = tmp_path / "venv"
    _run(_uv(), "venv", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    _run(_uv(), "pip", "install", "--python", str(python), *map(str, wheel_files))
    return python


def _python(python: Path, code: str) -> str:
    return _run(str(python), "-c", code).stdout.strip()


class TestEditableWorkspace:
    def test_every_subpackage_imports_from_its_source_folder(self) -> None:
        for part in SUBPACKAGES:
            module = importlib.import_module(f"ml4t.backtest.{part}")
            assert module.__file__ is not None
            expected = ROOT / "packages" / f"ml4t-backtest-{part}" / "src"
            assert Path(module.__file__).is_relative_to(expected), module.__file__

    def test_facade_extends_its_path_to_every_distribution(self) -> None:
        facade = importlib.import_module("ml4t.backtest")
        folders = {Path(p).parents[2].name for p in facade.__path__}
        assert folders == set(PACKAGES)

    def test_ml4t_level_is_a_namespace_without_init(self) -> None:
        assert not list((ROOT / "packages").glob("*/src/ml4t/__init__.py"))
        owners = list((ROOT / "packages").glob("*/src/ml4t/backtest/__init__.py"))
        assert [p.parents[3].name for p in owners] == ["ml4t-backtest"]


class TestWheelsInFreshVenvs:
    def test_core_wheel_alone_imports_core_and_has_no_facade(
        self, wheels: dict[str, Path], tmp_path: Path
    ) -> None:
        python = _fresh_venv(tmp_path, wheels["ml4t-backtest-core"])
        out = _python(
            python,
            "import ml4t.backtest as b, ml4t.backtest.core as c;"
            "print(c.__version__, getattr(b, '__file__', None), hasattr(b, 'BacktestEngine'))",
        )
        assert out == f"{_version('core')} None False"
        # The bundled sample data ships inside the wheel.
        out = _python(
            python,
            "from ml4t.backtest.core.datasets import load_sample_prices;"
            "print(load_sample_prices().height > 10_000)",
        )
        assert out == "True"

    def test_core_and_execution_wheels_work_without_higher_layers(
        self, wheels: dict[str, Path], tmp_path: Path
    ) -> None:
        python = _fresh_venv(
            tmp_path, wheels["ml4t-backtest-core"], wheels["ml4t-backtest-execution"]
        )
        out = _python(
            python,
            "import importlib.util as u, ml4t.backtest.execution as e;"
            "print(e.__version__, u.find_spec('ml4t.backtest.portfolio') is None)",
        )
        assert out == f"{_version('execution')} True"

    def test_all_wheels_give_the_facade(self, wheels: dict[str, Path], tmp_path: Path) -> None:
        python = _fresh_venv(tmp_path, *wheels.values())
        out = _python(
            python,
            "from ml4t.backtest import __version__, DataFeed, BacktestEngine, Strategy;"
            "import ml4t.backtest.reporting;"
            "print(__version__)",
        )
        assert out == _version("meta")


def _version(part: str) -> str:
    folder = "ml4t-backtest" if part == "meta" else f"ml4t-backtest-{part}"
    sub = "" if part == "meta" else f"{part}/"
    text = (ROOT / "packages" / folder / "src/ml4t/backtest" / sub / "_version.py").read_text()
    return text.split('__version__ = "')[1].split('"')[0]
