"""Print one closing line 'N passed, N failed, N skipped' from the JUnit reports of a nox run.

Usage: python3 tools/test_summary.py REPORT_DIR

Exits 1 when no report exists or no test ran, so CI cannot pass with zero tests.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else ".nox-reports")
    reports = sorted(folder.glob("junit-*.xml"))
    passed = failed = skipped = 0
    for report in reports:
        root = ET.parse(report).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        r_pass = r_fail = r_skip = 0
        for suite in suites:
            total = int(suite.get("tests", 0))
            fail = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            r_pass += total - fail - skip
            r_fail += fail
            r_skip += skip
        name = report.stem.removeprefix("junit-")
        print(f"  {name}: {r_pass} passed, {r_fail} failed, {r_skip} skipped")
        passed, failed, skipped = passed + r_pass, failed + r_fail, skipped + r_skip
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if reports and passed > 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
