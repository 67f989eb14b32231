"""`flowstone ui` in a real headless Chromium: the coloured graph, live updates from a run in
another process, approving in the page, the loser of a concurrent decision, read-only mode and
escaped `<script>` payloads. The screenshots of docs/ui.md are taken here, so they stay current.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli_runner import REPO, flowstone_executable, run_cli
from tests.web.conftest import run_status, wait_for

IMAGES = REPO / "docs" / "images"
EXAMPLE_ASSETS = {"raw_events", "user_profiles", "tenant_orders", "cleaned_events",
                  "monthly_revenue", "daily_metrics", "daily_report", "report_review",
                  "published_report"}

GATE = '''
import time
from pathlib import Path

from flowstone_cli import asset


@asset(group="ops")
def gated(context):
    """Waits until the test creates `release` in the project folder."""
    while not (Path(__file__).resolve().parents[1] / "release").exists():
        time.sleep(0.1)
    return 1
'''

PAYLOADS = '''
from flowstone_cli import Output, asset

SCRIPT = "<script>window.__pwned = 1</script>"


@asset(group="ops", description="<img src=x onerror=\\"window.__pwned = 2\\">")
def hostile_metadata():
    return Output(1, metadata={"note": SCRIPT})


@asset(group="ops")
def hostile_error():
    raise ValueError("<script>window.__pwned = 3</script>"
                     "<img src=x onerror=\\"window.__pwned = 4\\">")
'''


def _shot(page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / name), full_page=False)


def test_graph_shows_every_asset_coloured_by_state(ui, example: Path, page) -> None:
    assert run_cli("-p", str(example), "materialize", "+daily_report", "--partition",
                   "2025-01-15").code == 0
    server = ui()
    page.goto(server.page_url("/"))
    page.wait_for_selector("body[data-graph-ready='1']")
    names = set(page.eval_on_selector_all("#graph .node", "ns => ns.map(n => n.dataset.name)"))
    assert names == EXAMPLE_ASSETS
    state = json.loads(server.get("/api/state", headers={
        "Cookie": f"flowstone_token_{server.port}={server.token}"})[2])
    shown = dict(page.eval_on_selector_all(
        "#graph .node", "ns => ns.map(n => [n.dataset.name, n.dataset.state])"))
    assert shown == {name: value[0] for name, value in state["assets"].items()}
    assert shown["daily_report"] == "up_to_date" and shown["published_report"] == "never"
    fills = dict(page.eval_on_selector_all(
        "#graph .node", "ns => ns.map(n => [n.dataset.state, "
                        "getComputedStyle(n.querySelector('rect')).fill])"))
    assert len(set(fills.values())) == len(fills) >= 2  # each state has its own colour
    _shot(page, "ui-graph.png")
    # Search dims the others; clicking a node opens its page, and back returns to the graph.
    page.fill("#search", "daily")
    assert page.eval_on_selector_all("#graph .node.hit", "ns => ns.length") == 2
    page.click("#graph .node[data-name='daily_report']")
    page.wait_for_selector("h1:has-text('daily_report')")
    page.click(".pgrid a.cell.s-succeeded")
    page.wait_for_selector("h2:has-text('Lineage of daily_report[2025-01-15]')")
    _shot(page, "ui-asset.png")
    page.go_back()
    page.go_back()
    page.wait_for_selector("#graph")


def test_a_run_in_another_process_updates_open_pages(ui, example: Path, page) -> None:
    (example / "assets" / "gate.py").write_text(GATE)
    server = ui()
    page.goto(server.page_url("/"))
    page.wait_for_selector("#graph .node[data-name='gated'][data-state='never']")
    run_id = "20250101-000000-ui0001"
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(example), "materialize",
                             "gated", "--run-id", run_id], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        page.wait_for_selector("#graph .node[data-name='gated'][data-state='running']")
        run_page = page.context.new_page()
        run_page.goto(server.page_url(f"/runs/{run_id}"))
        run_page.wait_for_selector("#run-status[data-status='running']")
        (example / "release").write_text("go")
        page.wait_for_selector("#graph .node[data-name='gated'][data-state='up_to_date']")
        run_page.wait_for_selector("#run-status[data-status='succeeded']")
        assert run_page.evaluate("performance.getEntriesByType('navigation').length") == 1
        _shot(run_page, "ui-run.png")
    finally:
        (example / "release").write_text("go")
        proc.wait(timeout=300)


def test_approve_in_the_page_and_lose_to_the_cli(ui, example: Path, page) -> None:
    for day in ("2025-01-08", "2025-01-09"):
        run_cli("-p", str(example), "materialize", "+published_report", "--partition", day)
    pending = json.loads(run_cli("-p", str(example), "checkpoints", "list", "--status",
                                 "pending", "--json").stdout)
    by_day = {r["partition"]: r["request_id"] for r in pending}
    assert {"2025-01-08", "2025-01-09"} <= set(by_day), pending
    server = ui()
    page.goto(server.page_url("/approvals"))
    first = by_day["2025-01-08"]
    card = page.locator(f"section[data-request='{first}']")
    card.wait_for()
    _shot(page, "ui-approvals.png")
    card.locator("form:has(button.approve) input.reason").fill("revenue checked")
    card.locator("button.approve").click()
    page.wait_for_selector(".flash.ok:has-text('approved')")
    shown = json.loads(server.cli("checkpoints", "show", first, "--json").stdout)
    assert shown["status"] == "approved" and shown["reason"] == "revenue checked"
    resumed = wait_for(lambda: json.loads(server.cli("checkpoints", "show", first,
                                                     "--json").stdout)["resumed_run_id"],
                       what="resumed run id")
    assert wait_for(lambda: run_status(server, resumed) == "succeeded", what="downstream run")
    assert (example / "data" / "published_report" / "2025-01-08.json").exists()

    # A second reviewer decides from the CLI while this page's form is being filled in.
    other = by_day["2025-01-09"]
    page.reload()
    card = page.locator(f"section[data-request='{other}']")
    card.locator("form:has(button.approve) input.reason").fill("looks fine")
    cli = server.cli("approve", other, "--by", "cli-reviewer", "--reason", "first",
                     "--no-resume")
    assert cli.code == 0, cli.stderr
    card.locator("button.approve").click()
    page.wait_for_selector(".flash.bad:has-text('already decided')")
    assert "cli-reviewer" in page.inner_text(".flash")
    shown = json.loads(server.cli("checkpoints", "show", other, "--json").stdout)
    assert shown["decided_by"] == "cli-reviewer" and shown["reason"] == "first"


def test_read_only_page_has_no_buttons(ui, example: Path, page) -> None:
    run_cli("-p", str(example), "materialize", "+published_report", "--partition", "2025-01-08")
    server = ui("--read-only")
    page.goto(server.page_url("/approvals"))
    page.wait_for_selector("section.card")
    assert page.locator("button").count() == 0
    page.goto(server.page_url("/assets/daily_report"))
    page.wait_for_selector("h1:has-text('daily_report')")
    assert page.locator("form.act").count() == 0 and page.locator("button").count() == 0


def test_script_payloads_are_shown_as_text_and_never_run(ui, example: Path, page) -> None:
    (example / "assets" / "hostile.py").write_text(PAYLOADS)
    run_cli("-p", str(example), "materialize", "hostile_metadata", "hostile_error")
    failed = [r for r in json.loads(run_cli("-p", str(example), "runs", "list",
                                            "--json").stdout)]
    run_id = failed[0]["run_id"]
    server = ui()
    page.goto(server.page_url("/assets/hostile_metadata"))
    page.wait_for_selector("h1:has-text('hostile_metadata')")
    assert "<script>window.__pwned = 1</script>" in page.inner_text("main")
    assert '<img src=x onerror="window.__pwned = 2">' in page.inner_text("main")
    page.goto(server.page_url(f"/runs/{run_id}"))
    page.wait_for_selector("text=window.__pwned = 3")
    page.goto(server.page_url("/"))
    page.wait_for_selector("body[data-graph-ready='1']")
    for path in ("/assets/hostile_metadata", f"/runs/{run_id}", "/assets/hostile_error"):
        page.goto(server.page_url(path))
        page.wait_for_selector("main h1")
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.querySelectorAll('script').length") == 1
        assert page.evaluate("document.querySelectorAll('main img').length") == 0
