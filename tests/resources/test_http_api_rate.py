"""The `http_api` resource against a real local HTTP server that answers 429 over its limit.

Two real `flowstone` runs at once (a 200-step backfill on 4 workers and a second run) share one
rate through `.flowstone/ratelimits.sqlite`: the server never sees more than its limit in any
one-second window, and every step succeeds through the server's injected 503s and 429s.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from tests.cli_runner import flowstone_executable, run_cli
from tests.resources.api_server import ApiServer

RATE = 40       # the client's configured rate per second
BURST = 5
LIMIT = 50      # the server's limit: the GCRA bound (rate + burst) plus room for network delay


def write_project(root: Path, url: str, *, rate: str | None = f"{RATE}/second",
                  extra: str = "", assets: str = "") -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    limits = f'rate = "{rate}"\nburst = {BURST}\n' if rate else ""
    (root / "flowstone.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "ratelimit"

        [resources.llm]
        type = "http_api"
        base_url = "{url}"
        headers = {{ Authorization = "Bearer ${{LLM_TOKEN}}" }}
        max_concurrency = 4
        timeout = 30
        retries = 8
        backoff = 0.05
        max_backoff = 1.0
        """) + limits + extra, encoding="utf-8")
    (root / "assets" / "calls.py").write_text(textwrap.dedent(assets or """\
        from flowstone_cli import StaticPartitions, asset

        @asset
        def warmup(context):
            return 0

        def _ask(llm, who, partition):
            return [llm.post("/v1/complete", json={"who": who, "p": partition, "i": i})["text"]
                    for i in range(2)]

        @asset(partitions=StaticPartitions([f"p{i:03d}" for i in range(200)]),
               requires=["llm"])
        def answers_a(context):
            return _ask(context.resources.llm, "a", context.partition)

        @asset(partitions=StaticPartitions([f"q{i:03d}" for i in range(100)]),
               requires=["llm"])
        def answers_b(context):
            return _ask(context.resources.llm, "b", context.partition)
        """), encoding="utf-8")
    return root


ENV = {"LLM_TOKEN": "s3cret-token"}


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    environ.update(ENV)
    return subprocess.Popen([*flowstone_executable(), *args], cwd=project, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_runs_share_the_rate_and_every_step_succeeds(tmp_path: Path) -> None:
    with ApiServer(LIMIT, fail_every=25, retry_after=0.2) as server:
        project = write_project(tmp_path / "p", server.url)
        # Two first runs racing to create the metadata file is another matter: create it first.
        assert run_cli("materialize", "warmup", cwd=project, env=ENV).code == 0
        first = _start(project, "backfill", "answers_a", "--all", "--workers", "4", "--json")
        second = _start(project, "backfill", "answers_b", "--all", "--workers", "4",
                        "--json")
        out1, err1 = first.communicate(timeout=600)
        out2, err2 = second.communicate(timeout=600)
        assert first.returncode == 0, out1[-3000:] + err1[-3000:]
        assert second.returncode == 0, out2[-3000:] + err2[-3000:]
        assert server.over_limit == 0, dict(server.windows)
        assert server.max_per_window() <= LIMIT
        assert server.served == 600          # 300 steps x 2 calls, each succeeded once
        assert server.injected > 0           # ... some of them through retries
    shown = run_cli("runs", "list", "--json", cwd=project, env=ENV)
    assert shown.code == 0, shown.stderr
