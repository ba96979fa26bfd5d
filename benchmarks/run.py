"""Side-by-side benchmarks of ml4t-backtest and its peers (issue 7).

Every engine runs every workload in its own process, strictly one at a time (Zipline's in a
second environment, see `ENV_GROUPS`). A child process loads the cached workload frame, does
one untimed warm-up run on the first bars (so numba / JIT compilation is not timed, for ml4t
and VectorBT alike), then times one full run: from the polars frame in memory to the final
equity (data conversion included). The parent records the wall time, asset-bars per second
and the child's peak RSS (its VmHWM; ``os.wait4`` rusage as a cross-check).

Before anything is ranked, each engine's fill count and final equity are compared with
ml4t-backtest's on the same data at the same size; an engine that differs is flagged and left
out of the ratios. Slow peers run a reduced size (marked "reduced"); their time is also shown
scaled linearly to the full size. Peak RSS is compared between full-size rows only: on B every
peer but Zipline runs the full 500 x 2,520 for that (Backtrader takes about 4 minutes).

Usage::

    uv run --group bench python benchmarks/run.py            # default (~15 min on 2 cores)
    uv run --group bench python benchmarks/run.py --quick    # small sizes (~3 min)

Writes benchmarks/results/<run>.json (+ latest-<full|quick>.json); a complete default run also
rewrites docs/benchmarks.md and docs/benchmarks.png (``--docs-from JSON`` rewrites them from
a stored result).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOCS = ROOT / "docs"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

TOLERANCE = 2e-5  # 0.002 % relative on final equity, as in the validation suite

ENGINES = {
    "ml4t": "ml4t_engine",
    "vectorbt": "vectorbt_engine",
    "backtesting.py": "backtesting_engine",
    "backtrader": "backtrader_engine",
    "zipline": "zipline_engine",
}
PATHS = {
    "ml4t": {"cross": ("on_market_data", "on_bar", "fast_path"), "longshort": ("on_bar",)},
    "vectorbt": {"cross": ("from_signals",), "longshort": ("from_orders",)},
    "backtesting.py": {"cross": ("strategy",)},
    "backtrader": {"cross": ("strategy",), "longshort": ("strategy",)},
    "zipline": {"cross": ("algorithm",), "longshort": ("algorithm",)},
}
DISTRIBUTIONS = {"zipline": "zipline-reloaded"}
"""Engines whose version is read in their own child (they live in another environment)."""
ENV_GROUPS = {"zipline": "validation-zipline"}
"""Engines that run in their own environment: the dependency group it is synced with.

zipline-reloaded needs pandas < 3 and VectorBT 1.2 pandas >= 3 (a [tool.uv] conflict), so
zipline's children run on a second interpreter: $ML4T_BENCH_ZIPLINE_PYTHON, or an
environment this script syncs from uv.lock under benchmarks/results/cache/venv-zipline.
"""
OWN_DATA = {"zipline"}
"""Engines whose module has ``prepare``: their own copy of each workload (zipline's bundle)."""
REFERENCE_PATHS = {"zipline": "zipline_preset"}
"""ml4t path an engine's answer is checked against (default: fast path / on_bar).

Zipline fills at the next bar's close in whole shares: its reference is ml4t under
``BacktestConfig.preset("zipline")`` at the same size (benchmarks/peers/ml4t_engine.py).
"""


@dataclass(frozen=True)
class Workload:
    """A workload and the size each engine runs it at ((assets, bars); None: skipped)."""

    id: str
    kind: str  # "cross" or "longshort"
    title: str
    full: tuple[int, int]
    reduced: dict[str, tuple[int, int] | None] = field(default_factory=dict)


def workloads(quick: bool) -> list[Workload]:
    """The workload table (quick: small sizes for a smoke run)."""
    if quick:
        return [
            Workload(
                "A",
                "cross",
                "1 asset x 1-minute bars, SMA(10)/SMA(30) cross",
                (1, 100_000),
                {"backtesting.py": (1, 20_000), "backtrader": (1, 10_000), "zipline": (1, 7_800)},
            ),
            Workload(
                "B",
                "cross",
                "500 assets x daily bars, same rule",
                (100, 504),
                {"backtesting.py": (10, 504), "backtrader": (5, 504), "zipline": (10, 504)},
            ),
            Workload("C", "cross", "1 asset x 2,520 daily bars, same rule", (1, 2_520)),
            Workload(
                "D",
                "longshort",
                "daily long top 25 / short bottom 25, 0.1% costs",
                (100, 252),
                {"backtrader": (50, 126), "zipline": (50, 126)},
            ),
            Workload(
                "B-sp500",
                "cross",
                "real S&P 500 daily, SMA cross",
                (100, 1_259),
                {"backtesting.py": (10, 1_259), "backtrader": (5, 1_259), "zipline": None},
            ),
        ]
    return [
        Workload(
            "A",
            "cross",
            "1 asset x 1,000,000 one-minute bars, SMA(10)/SMA(30) cross",
            (1, 1_000_000),
            # zipline: 500 XNYS sessions of 390 minutes
            {"backtesting.py": (1, 200_000), "backtrader": (1, 100_000), "zipline": (1, 195_000)},
        ),
        Workload(
            "B",
            "cross",
            "500 assets x 2,520 daily bars, same rule",
            (500, 2_520),  # peak memory is compared here: every peer but zipline at full size
            {"zipline": (50, 2_520)},  # 500 assets: more than 6 minutes
        ),
        Workload("C", "cross", "1 asset x 2,520 daily bars, same rule", (1, 2_520)),
        Workload(
            "D",
            "longshort",
            "500 stocks x 1,260 days, long top 25 / short bottom 25 daily, 0.1% costs",
            (500, 1_260),
            {"backtrader": (50, 252), "zipline": (50, 252)},
        ),
        Workload(
            "B-sp500",
            "cross",
            "real S&P 500 (all clean symbols x 1,259 days), SMA cross",
            (500, 1_259),
            {"zipline": None},
        ),
        Workload(
            "D-sp500",
            "longshort",
            "real S&P 500, long top 25 / short bottom 25 by 20-day momentum, 0.1% costs",
            (500, 1_259),
            {"backtrader": (50, 252), "zipline": None},
        ),
    ]


# ------------------------------------------------------------------------------- child side


def child(engine: str, path: str, workload: str, kind: str, n_assets: int, n_bars: int) -> None:
    """Run one engine once (after a warm-up) and print one JSON line."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    import importlib  # noqa: PLC0415 - the child imports only its engine

    import polars as pl  # noqa: PLC0415
    from workloads import data  # noqa: PLC0415

    module = importlib.import_module(f"peers.{ENGINES[engine]}")
    bars = data.load(workload, n_assets, n_bars)
    if hasattr(module, "setup"):  # untimed: e.g. point zipline at its bundle
        module.setup(workload, n_assets, n_bars)
    stamps = bars["timestamp"].unique().sort()
    warm = stamps[: max(60, min(2_000, len(stamps) // 50))]
    module.run(kind, bars.filter(pl.col("timestamp").is_in(warm.implode())), path)
    out = module.run(kind, bars, path)
    out["asset_bars"] = float(bars.height)
    out["n_assets_actual"] = float(bars["asset"].n_unique())
    out["vm_hwm_kib"] = _vm_hwm_kib()
    if engine in DISTRIBUTIONS:
        from importlib.metadata import version  # noqa: PLC0415

        out["engine_version"] = f"{version(DISTRIBUTIONS[engine])} (pandas {version('pandas')})"
    print("RESULT " + json.dumps(out), flush=True)


def _vm_hwm_kib() -> float | None:
    # Peak resident set of this process since exec (Linux /proc; None elsewhere).
    try:
        for ln in Path("/proc/self/status").read_text().splitlines():
            if ln.startswith("VmHWM:"):
                return float(ln.split()[1])
    except OSError:
        return None
    return None


def prepare(workload: str, n_assets: int, n_bars: int, engine: str | None = None) -> None:
    """Build the cached data of one workload size (in its own process, see `spawn`).

    With `engine`, also the engine's own copy of it (zipline: an ingested bundle).
    """
    from workloads import data  # noqa: PLC0415

    bars = data.load(workload, n_assets, n_bars)
    if engine is not None:
        import importlib  # noqa: PLC0415

        module = importlib.import_module(f"peers.{ENGINES[engine]}")
        module.prepare(workload, bars, n_assets, n_bars)


_PYTHONS: dict[str, str | None] = {}


def python_for(engine: str) -> str | None:
    """The interpreter an engine's children run on (None: its environment is unavailable)."""
    group = ENV_GROUPS.get(engine)
    if group is None:
        return sys.executable
    if engine in _PYTHONS:
        return _PYTHONS[engine]
    given = os.environ.get(f"ML4T_BENCH_{engine.upper()}_PYTHON")
    if given:
        _PYTHONS[engine] = given
        return given
    venv = RESULTS / "cache" / f"venv-{engine}"
    cmd = ["uv", "sync", "--frozen", "--all-packages", "--no-default-groups", "--group", group]
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(venv))
    env.pop("VIRTUAL_ENV", None)
    try:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"{engine}: no environment ({exc}); its rows are skipped", flush=True)
        _PYTHONS[engine] = None
        return None
    _PYTHONS[engine] = str(venv / "bin" / "python")
    return _PYTHONS[engine]


# ------------------------------------------------------------------------------ parent side


def spawn(engine: str, path: str, wl: Workload, size: tuple[int, int]) -> dict[str, Any]:
    """Run one child process; return its result plus wall time and peak RSS."""
    python = python_for(engine)
    if python is None:
        return {"error": f"no {ENV_GROUPS[engine]} environment", "process_seconds": 0.0}
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        engine,
        path,
        wl.id,
        wl.kind,
        str(size[0]),
        str(size[1]),
    ]
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONHASHSEED="0")
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True, env=env)
        # wait4 gives this child's own rusage: ru_maxrss is its peak RSS (KiB on Linux)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {
            "error": (err.strip().splitlines() or ["no output"])[-1][:300],
            "process_seconds": wall,
        }
    res: dict[str, Any] = json.loads(line[len("RESULT ") :])
    res["process_seconds"] = wall
    # The child's own VmHWM is its peak RSS. wait4's ru_maxrss is kept as a cross-check: on
    # Linux it also counts the parent's RSS at fork time, which is why the parent stays small
    # (it never loads the workload data itself).
    hwm = res.pop("vm_hwm_kib", None)
    res["peak_rss_mib"] = (hwm if hwm else usage.ru_maxrss) / 1024.0
    res["wait4_maxrss_mib"] = usage.ru_maxrss / 1024.0
    return res


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor()
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = round(int(ln.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    for dist in (
        "ml4t-backtest-strategy",
        "vectorbt",
        "backtesting",
        "backtrader",
        "numba",
        "numpy",
        "pandas",
        "polars",
    ):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def label(engine: str, path: str) -> str:
    """Display name of one engine path."""
    return f"ml4t {path}" if engine == "ml4t" else f"{engine} ({path})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--workloads", nargs="*", help="ids to run (default: all)")
    parser.add_argument("--engines", nargs="*", choices=list(ENGINES), help="default: all")
    parser.add_argument("--child", nargs=6, metavar="X", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", nargs="+", metavar="X", help=argparse.SUPPRESS)
    parser.add_argument("--docs-from", metavar="JSON", help="only rewrite the docs from a result")
    args = parser.parse_args(argv)
    if args.child:
        engine, path, wid, kind, a, n = args.child
        child(engine, path, wid, kind, int(a), int(n))
        return 0
    if args.prepare:
        wid, a, n, *engine = args.prepare
        prepare(wid, int(a), int(n), engine[0] if engine else None)
        return 0
    if args.docs_from:
        write_docs(json.loads(Path(args.docs_from).read_text()))
        return 0
    engines = args.engines or list(ENGINES)
    table = [w for w in workloads(args.quick) if not args.workloads or w.id in args.workloads]

    runs: list[dict[str, Any]] = []
    for wl in table:
        sizes = {
            e: size
            for e in engines
            if wl.kind in PATHS[e] and (size := wl.reduced.get(e, wl.full)) is not None
        }
        for size in sorted(set(sizes.values())):  # build and cache the data once, in a child
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--prepare",
                    wl.id,
                    str(size[0]),
                    str(size[1]),
                ],
                check=True,
            )
        for engine, size in sizes.items():  # an engine's own copy of the data (untimed)
            python = python_for(engine) if engine in OWN_DATA else None
            if python is not None:
                subprocess.run(
                    [
                        python,
                        str(Path(__file__).resolve()),
                        "--prepare",
                        wl.id,
                        str(size[0]),
                        str(size[1]),
                        engine,
                    ],
                    check=False,
                )
        # ml4t's reference answer at every size a peer runs (fast path / on_bar: cheap)
        refs: dict[tuple[str, tuple[int, int]], dict[str, Any]] = {}
        ref_path = "fast_path" if wl.kind == "cross" else "on_bar"
        for engine, size in sizes.items():
            want = REFERENCE_PATHS.get(engine, ref_path)
            needed = engine != "ml4t" and (size != wl.full or want != ref_path)
            if needed and (want, size) not in refs:
                refs[(want, size)] = spawn("ml4t", want, wl, size)
        for engine in engines:
            if engine not in sizes:
                continue
            size = sizes[engine]
            for path in PATHS[engine][wl.kind]:
                res = spawn(engine, path, wl, size)
                row = {
                    "workload": wl.id,
                    "kind": wl.kind,
                    "engine": engine,
                    "path": path,
                    "label": label(engine, path),
                    "n_assets": size[0],
                    "n_bars": size[1],
                    "reduced": size != wl.full,
                    **res,
                }
                if engine == "ml4t" and size == wl.full and path == ref_path:
                    refs[(ref_path, size)] = res
                runs.append(row)
                print(
                    f"{wl.id:8s} {row['label']:28s} {size[0]:>4d}x{size[1]:<8d} "
                    f"{res.get('seconds', float('nan')):8.2f}s fills={res.get('fills')} "
                    f"equity={res.get('final_equity')} rss={res.get('peak_rss_mib')}",
                    flush=True,
                )
        for row in runs:
            if row["workload"] != wl.id:
                continue
            want = REFERENCE_PATHS.get(row["engine"], ref_path)
            ref = refs.get((want, (row["n_assets"], row["n_bars"])))
            row["check"] = verdict(row, ref)
            if want != ref_path and ref is not None and "error" not in ref:
                row["reference"] = {"path": want, **ref}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    info = machine()
    for row in runs:  # versions read in the engines' own environments
        if row.get("engine_version"):
            info["versions"][DISTRIBUTIONS[row["engine"]]] = row["engine_version"]
    report = {
        "machine": info,
        "quick": args.quick,
        "tolerance": TOLERANCE,
        "workloads": [asdict(w) for w in table],
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "full"
    (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"latest-{name}.json").write_text(json.dumps(report, indent=2))
    if args.quick or args.workloads or args.engines:
        # a partial run keeps the published report; rewrite it on purpose with --docs-from
        print(f"partial run: docs/benchmarks.md left alone (results in {RESULTS})")
    else:
        write_docs(report)
    return 0


def verdict(row: dict[str, Any], ref: dict[str, Any] | None) -> str:
    """``ok``, ``DIFFERENT: ...`` (flagged, not ranked) or ``error``."""
    if "error" in row:
        return "error"
    if ref is None or "error" in ref:
        return "no reference"
    if row["fills"] != ref["fills"]:
        return f"DIFFERENT: {row['fills']:.0f} fills vs ml4t {ref['fills']:.0f}"
    rel = abs(row["final_equity"] - ref["final_equity"]) / abs(ref["final_equity"])
    if rel > TOLERANCE:
        return f"DIFFERENT: final equity off by {rel:.2e}"
    return "ok"


KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}
"""Why an engine's answer differs on a workload (shown under the table; it stays unranked)."""


ENGINE_NOTES = {
    "zipline": (
        "zipline (algorithm) runs in its own environment (zipline-reloaded needs pandas < 3) on"
        " a bundle ingested beforehand (untimed, like the parquet cache; its time starts at"
        " `run_algorithm`, which loads the bundle). Zipline fills an order at the next bar's"
        " close in whole shares, so its answer is checked against ml4t `on_bar` under"
        ' `BacktestConfig.preset("zipline")` (the workload\'s costs, no volume limit) at the'
        " same size"
    ),
}
"""What a reader needs to know about an engine's rows (shown under each table it is in)."""


PATH_NOTES = {
    "longshort": (
        "ml4t paths: `on_bar` only. `on_market_data` sees one asset at a time and cannot rank"
        " the universe; the target-weight fast path (`WeightStrategy` through `run_signals`)"
        " needs a cash account, and this workload sells short."
    ),
}
"""Why an ml4t path does not appear for a kind of workload."""


def write_docs(report: dict[str, Any]) -> None:
    """Write docs/benchmarks.md (tables, ratios) and docs/benchmarks.png (chart)."""
    runs = report["runs"]
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/run.py`"
        + (" --quick" if report["quick"] else "")
        + "; do not edit by hand. Each engine runs each workload in its own process, one at a"
        " time, after an untimed warm-up (JIT compilation excluded); time runs from the polars"
        " frame in memory (one contiguous chunk per column) to the final equity. Peak RSS is the"
        " child process's maximum resident set (imports and the loaded frame included); it is"
        " compared only between rows of the full size. On a shared machine timings move by tens"
        " of percent between runs (this table's 2 cores were shared with other work); the ratios"
        " within one run are what the targets refer to.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']},"
        f" {m['date_utc']} UTC. Versions: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + ".",
        "",
        "Every engine's fill count and final equity are checked against ml4t-backtest on the"
        " same data and size before ranking; `DIFFERENT` rows are flagged and not ranked."
        " Reduced rows ran fewer assets or bars (the size column); their time is also shown"
        " scaled linearly to the full size.",
        "",
    ]
    for w in report["workloads"]:
        rows = [r for r in runs if r["workload"] == w["id"]]
        if not rows:
            continue
        measured = [r["asset_bars"] for r in rows if not r["reduced"] and "asset_bars" in r]
        full_ab = max(measured) if measured else w["full"][0] * w["full"][1]
        lines += [
            f"## {w['id']}: {w['title']}",
            "",
            "| engine / path | size (assets x bars) | time (s) | time scaled to full (s) |"
            " asset-bars/s | peak RSS (MiB) | fills | final equity | check |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if "error" in r:
                lines.append(
                    f"| {r['label']} | {r['n_assets']} x {r['n_bars']} | error: "
                    f"{r['error']} | | | | | | error |"
                )
                continue
            tput = r["asset_bars"] / r["seconds"]
            scaled = r["seconds"] * full_ab / r["asset_bars"] if r["reduced"] else r["seconds"]
            n_assets = int(r.get("n_assets_actual") or round(r["asset_bars"] / r["n_bars"]))
            size = f"{n_assets} x {r['n_bars']:,}" + (" (reduced)" if r["reduced"] else "")
            rss = f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"
            lines.append(
                f"| {r['label']} | {size} | {r['seconds']:.3f} | {scaled:.2f} | {tput:,.0f} |"
                f" {rss} | {r['fills']:.0f} | {r['final_equity']:,.2f} | {r['check']} |"
            )
        if w["kind"] in PATH_NOTES:
            lines += ["", PATH_NOTES[w["kind"]]]
        for r in rows:
            note = ENGINE_NOTES.get(r["engine"])
            if note:
                ref = r.get("reference")
                if ref:
                    note += (
                        f" (ml4t: {ref['fills']:.0f} fills,"
                        f" final equity {ref['final_equity']:,.2f})"
                    )
                lines += ["", note + "."]
        for r in rows:
            why = KNOWN_DIFFERENCES.get((r["engine"], r["kind"]))
            if why and str(r.get("check", "")).startswith("DIFFERENT"):
                lines += ["", f"{r['label']} differs: {why}"]
        ours = [r for r in rows if r["engine"] == "ml4t" and r.get("check") == "ok"]
        peers = [r for r in rows if r["engine"] != "ml4t" and r.get("check") == "ok"]
        if ours and peers:
            lines += [
                "",
                "Throughput ratio (ml4t path / peer; > 1 means ml4t is faster):",
                "",
                "| ml4t path | " + " | ".join(p["label"] for p in peers) + " |",
                "|---|" + "---|" * len(peers),
            ]
            for o in ours:
                cells = []
                for p in peers:
                    ratio = (o["asset_bars"] / o["seconds"]) / (p["asset_bars"] / p["seconds"])
                    cells.append(f"{ratio:.3g}x")
                lines.append(f"| {o['path']} | " + " | ".join(cells) + " |")
            lines += _memory_lines(rows)
        lines.append("")
    lines += ["![throughput chart](benchmarks.png)", ""]
    DOCS.mkdir(exist_ok=True)
    (DOCS / "benchmarks.md").write_text("\n".join(lines), encoding="utf-8")
    _chart(report)


def _memory_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The peak-RSS comparison of one workload: full-size rows only (like for like)."""
    full = [r for r in rows if r.get("peak_rss_mib") and not r["reduced"]]
    reduced = [r["label"] for r in rows if r.get("peak_rss_mib") and r["reduced"]]
    if not full:
        return []
    best = min(full, key=lambda r: r["peak_rss_mib"])
    text = (
        f"Lowest peak RSS at full size: {best['label']} ({best['peak_rss_mib']:.0f} MiB)"
        if len(full) > 1
        else ""
    )
    ours = [r for r in full if r["engine"] == "ml4t"]
    peers = [r for r in full if r["engine"] != "ml4t"]
    if ours and peers:
        top = max(peers, key=lambda r: r["peak_rss_mib"])
        low = min(peers, key=lambda r: r["peak_rss_mib"])
        below = [o["path"] for o in ours if o["peak_rss_mib"] < low["peak_rss_mib"]]
        span = f"{low['peak_rss_mib']:.0f}"
        if top is not low:
            span += f"-{top['peak_rss_mib']:.0f}"
        text += (
            f"; peers {span} MiB; ml4t paths below every peer:"
            f" {', '.join(below) if below else 'none'}"
        )
    if reduced:
        text += (
            f". Not compared: {', '.join(reduced)} (reduced size; their peak RSS is not like"
            " for like)"
        )
    return ["", text.lstrip("; ") + "."] if text else []


def _chart(report: dict[str, Any]) -> None:
    # One horizontal bar per (workload, engine path): asset-bars per second, log scale.
    try:
        import matplotlib  # noqa: PLC0415 - optional

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return
    rows = [r for r in report["runs"] if "error" not in r]
    if not rows:
        return
    labels = [
        f"{r['workload']}: {r['label']}" + (" (reduced)" if r["reduced"] else "") for r in rows
    ]
    values = [r["asset_bars"] / r["seconds"] for r in rows]
    colors = ["#1f77b4" if r["engine"] == "ml4t" else "#999999" for r in rows]
    colors = [c if r.get("check") == "ok" else "#d62728" for c, r in zip(colors, rows, strict=True)]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.2))
    ax.barh(range(len(rows)), values, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("asset-bars per second (log scale; red = answer differs from ml4t)")
    ax.set_title("ml4t-backtest (blue) vs peers (grey)")
    fig.tight_layout()
    fig.savefig(DOCS / "benchmarks.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
