"""Benchmarks of the `flowstone ui` dashboard in headless Chromium.

Usage: python bench/ui.py [--repeat 5] [--idle-seconds 20]

For the example project (one day materialized) and a generated project of 1,000 materialized
no-op assets in 10 groups:
1. time until the graph page is interactive (navigation start until `app.js` has wired pan,
   zoom and search), median of N loads, alternating with a floor: the small runs page of the
   same server (what any page costs: connection, HTML, CSS, JS);
2. update latency: `materialize ASSET --force` in another process; from the step's recorded
   end to the moment its node's colour changes in an open page (median of N runs);
3. the server's resident memory after the above;
4. the server's CPU while idle with 3 pages open (graph, runs, approvals) over a window.
Targets: interactive <= 1.5 s at 1,000 assets; update <= 1 s; idle CPU < 2 % of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / "_work"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TICKS = os.sysconf("SC_CLK_TCK")


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWSTONE, "-p", str(project), *args], capture_output=True,
                          text=True, check=False)


def example() -> tuple[Path, str]:
    root = WORK / "ui_example"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "example_project", root,
                    ignore=shutil.ignore_patterns("__pycache__", "data", ".flowstone"))
    cli(root, "materialize", "+daily_report", "--partition", "2025-01-15")
    return root, "user_profiles"


def generated(count: int = 1000) -> tuple[Path, str]:
    root = WORK / f"ui_{count}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text(f'[project]\nname = "ui{count}"\n')
    lines = ["from flowstone_cli import asset", ""]
    for i in range(count):
        layer = i // 10
        params = [] if layer == 0 else sorted({f"a{(layer - 1) * 10 + (i * 7) % 10}",
                                               f"a{(layer - 1) * 10 + (i * 3) % 10}"})
        lines += [f'@asset(group="g{i * 10 // count}", io_manager="json")',
                  f"def a{i}({', '.join(params)}):", "    return 1", "", ""]
    (root / "assets" / "pipeline.py").write_text("\n".join(lines))
    done = cli(root, "materialize", "*")
    assert done.returncode == 0, done.stderr
    return root, f"a{count - 1}"


def start(project: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([FLOWSTONE, "-p", str(project), "ui", "--no-open", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"(http://\S+)\?token=(\S+)", line)
        if found:
            return proc, found.group(0)
    raise RuntimeError("flowstone ui did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_time(context, url: str, ready: str) -> float:
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(ready, timeout=120_000)
    took = time.perf_counter() - started
    page.close()
    return took


def update_latency(context, project: Path, url: str, asset: str) -> float:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-graph-ready='1']")
    page.evaluate("""name => {
        window.__changes = [];
        const node = document.querySelector(`#graph .node[data-name="${name}"]`);
        new MutationObserver(() => window.__changes.push([Date.now(), node.dataset.state]))
            .observe(node, {attributes: true, attributeFilter: ["data-state"]});
    }""", asset)
    done = cli(project, "materialize", asset, "--force", "--json")
    run_id = json.loads(done.stdout)["run_id"]
    steps = json.loads(cli(project, "runs", "show", run_id, "--json").stdout)["steps"]
    ended = max(datetime.fromisoformat(s["ended_at"]).timestamp() for s in steps
                if s["asset"] == asset)
    page.wait_for_function("() => window.__changes.some(c => c[1] === 'up_to_date')",
                           timeout=120_000)
    changes = page.evaluate("window.__changes")
    page.close()
    shown = max(t for t, state in changes if state == "up_to_date") / 1000
    return shown - ended


def measure(name: str, project: Path, asset: str, repeat: int, idle: float, browser) -> dict:
    proc, url = start(project)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        runs_url = url.replace("/?", "/runs?")
        graph, floor = [], []
        for _ in range(repeat):  # alternate with the floor so both see the same load
            graph.append(load_time(context, url, "body[data-graph-ready='1']"))
            floor.append(load_time(context, runs_url, "main h1"))
        latency = [update_latency(context, project, url, asset) for _ in range(repeat)]
        pages = [context.new_page() for _ in range(3)]
        for page, path in zip(pages, ("/", "/runs", "/approvals")):
            page.goto(url.replace("/?", f"{path}?"))
        time.sleep(3)
        before = cpu_seconds(proc.pid)
        time.sleep(idle)
        cpu = (cpu_seconds(proc.pid) - before) / idle * 100
        memory = rss_mb(proc.pid)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"project": name, "interactive": statistics.median(graph),
            "floor": statistics.median(floor), "update": statistics.median(latency),
            "update_max": max(latency), "rss": memory, "idle_cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    projects = [("example (9 assets)", *example()), ("generated (1,000 assets)", *generated())]
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        for name, root, asset in projects:
            rows.append(measure(name, root, asset, options.repeat, options.idle_seconds,
                                browser))
        browser.close()
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| project | graph interactive (median) | floor: runs page | update latency "
          "(median / max) | server RSS | idle CPU, 3 pages |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['project']} | {r['interactive']:.2f} s | {r['floor']:.2f} s | "
              f"{r['update']:.2f} s / {r['update_max']:.2f} s | {r['rss']:.0f} MB | "
              f"{r['idle_cpu']:.2f} % |")


if __name__ == "__main__":
    main()
