"""The README's ten-line example runs and prints what it says."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_prints_documented_output():
    text = README.read_text()
    block = re.search(r"## In ten lines\n\n```python\n(.*?)```", text, re.S).group(1)
    code_lines = [line for line in block.splitlines() if not line.startswith("#")]
    assert len([line for line in code_lines if line.strip()]) <= 12
    expected = [line[2:] for line in block.splitlines() if line.startswith("# ")][-1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile("\n".join(code_lines), str(README), "exec"), {})
    assert out.getvalue().strip() == expected
