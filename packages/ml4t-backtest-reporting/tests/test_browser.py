"""Open the HTML tearsheet in a real headless Chromium and check it works offline.

Needs Debian's ``chromium`` and ``chromium-driver`` packages (CI installs them with
``apt-get install -y chromium chromium-driver``); skipped with the reason when they are missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ml4t.backtest.reporting import synthetic_result, write_comparison, write_tearsheet
from ml4t.backtest.reporting.html_report import CHART_IDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless browser test needs Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver)",
)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev dependency")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1300,1000",
)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


def _open(driver: Any, page: Path) -> tuple[list[dict[str, Any]], list[str]]:
    driver.get_log("browser")  # drop anything from earlier pages
    driver.get_log("performance")
    driver.get(page.as_uri())
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 300)));"
    )
    console = driver.get_log("browser")
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return console, urls


def _assert_offline_and_drawn(driver: Any, page: Path, expected_charts: int) -> None:
    console, urls = _open(driver, page)
    errors = [e for e in console if e.get("level") in ("SEVERE", "ERROR")]
    assert errors == [], errors
    foreign = [u for u in urls if not u.startswith(("file://", "data:", "blob:"))]
    assert foreign == [], f"page made network requests: {foreign}"
    state = driver.execute_script(
        "const divs = [...document.querySelectorAll('.plotly-graph-div')];"
        "return {total: divs.length, drawn: divs.filter(d => d.querySelector('.main-svg'))"
        ".map(d => d.id), plotly: typeof Plotly !== 'undefined'};"
    )
    assert state["plotly"] is True
    assert state["total"] == expected_charts
    assert len(state["drawn"]) == expected_charts, state


def test_tearsheet_loads_offline_without_console_errors_and_every_chart_draws(
    driver: Any, tmp_path: Path
) -> None:
    result = synthetic_result(30, 900, seed=3)
    ts = result.equity_curve.get_column("timestamp")
    bench = pl.DataFrame({"timestamp": ts, "close": [100.0 + 0.02 * i for i in range(len(ts))]})
    page = write_tearsheet(result, tmp_path / "report.html", benchmark=bench)
    _assert_offline_and_drawn(driver, page, len(CHART_IDS))
    ids = driver.execute_script(
        "return [...document.querySelectorAll('.plotly-graph-div')].map(d => d.id);"
    )
    assert ids == [f"chart-{name}" for name in CHART_IDS]


def test_comparison_page_loads_offline_and_draws(driver: Any, tmp_path: Path) -> None:
    runs = [synthetic_result(4, 300, seed=s) for s in (1, 2)]
    page = write_comparison(runs, tmp_path / "compare.html")
    _assert_offline_and_drawn(driver, page, 1)


def test_a_broken_page_would_be_caught(driver: Any, tmp_path: Path) -> None:
    # Guard for the checks above: a page with a script error and a remote request fails them.
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><script>undefinedFunction()</script>"
        '<img src="http://127.0.0.1:9/x.png"></body></html>'
    )
    console, urls = _open(driver, page)
    assert any(e.get("level") == "SEVERE" for e in console)
    assert any(u.startswith("http://127.0.0.1") for u in urls)
