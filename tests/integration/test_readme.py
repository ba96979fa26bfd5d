"""The README's Python example runs as written and produces what it promises."""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_readme_example_runs_and_writes_result_and_tearsheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _python_blocks((ROOT / "README.md").read_text())
    assert blocks, "README.md has no python example"
    script = tmp_path / "readme_example.py"
    script.write_text(blocks[0])
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    sharpe, max_dd = (float(x) for x in capsys.readouterr().out.split())
    assert -5.0 < sharpe < 5.0
    assert -1.0 < max_dd <= 0.0
    assert (tmp_path / "runs" / "top-momentum" / "manifest.json").exists()
    html = (tmp_path / "top-momentum.html").read_text()
    assert "plotly" in html.lower()
    assert os.path.getsize(tmp_path / "top-momentum.html") > 100_000
