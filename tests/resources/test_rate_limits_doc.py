"""The `http_api` and `RateLimited` examples of docs/rate-limits.md, run against the local API
server (the generic docs test runs the guide's `# file:` project)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_runner import REPO, run_cli
from tests.resources.api_server import ApiServer

DOC = REPO / "docs" / "rate-limits.md"


def example_files(name: str) -> dict[str, str]:
    files = {}
    for body in re.findall(r"```\w+\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        first, _, rest = body.partition("\n")
        match = re.match(rf"#\s*example:\s*{name}/(\S+)", first)
        if match:
            files[match.group(1)] = rest
    return files


def test_the_http_api_example_runs_and_records_its_calls(tmp_path: Path) -> None:
    files = example_files("llm")
    assert {"flowstone.toml", "assets/summaries.py"} <= set(files)
    project = tmp_path / "llm"
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    with ApiServer(1000, fail_every=2, retry_after=0.05) as server:
        env = {"LLM_URL": server.url, "LLM_TOKEN": "doc-token"}
        assert run_cli("check", cwd=project, env=env).code == 0
        ran = run_cli("backfill", "summaries", "--all", "--json", cwd=project, env=env)
        assert ran.code == 0, ran.stdout + ran.stderr
        digest = run_cli("materialize", "digest", "--json", cwd=project, env=env)
        assert digest.code == 0, digest.stdout + digest.stderr
        assert server.quota_checks == 2            # re-queued once, then allowed
    shown = run_cli("runs", "show", ran.json()["run_id"], cwd=project, env=env)
    assert re.search(r"api llm: 3 calls, \d+ retries, 0 failed", shown.stdout), shown.stdout
    assert "total_tokens 24" in shown.stdout
    logs = run_cli("runs", "logs", digest.json()["run_id"], cwd=project, env=env)
    assert "rate limited; re-queued in 0.2s" in logs.stdout
