"""The `http_api` resource: retries, Retry-After, non-retryable 4xx, recorded call metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstone_cli import RateLimited
from flowstone_cli.errors import ConfigError, HttpApiError
from flowstone_cli.resources.base import build_resource
from flowstone_cli.resources.http_api import HttpApi, retry_after_seconds
from tests.cli_runner import run_cli
from tests.resources.api_server import ApiServer
from tests.resources.test_http_api_rate import ENV, write_project


def client(url: str, tmp_path: Path, **fields: object):
    config = HttpApi.model_validate({"base_url": url, "state_dir": str(tmp_path / "state"),
                                     "backoff": 0.01, **fields})
    return config.setup()


def test_a_non_retryable_4xx_fails_at_once_with_the_response_message(tmp_path: Path) -> None:
    with ApiServer(100) as server:
        api = client(server.url, tmp_path, retries=5)
        with pytest.raises(HttpApiError) as caught:
            api.post("/v1/bad", json={"model": "gpt-x"})
        assert "HTTP 400" in caught.value.message
        assert "model `gpt-x` does not exist" in caught.value.message
        assert caught.value.retryable is False
        assert len(server.arrivals) == 1          # no retry
    summary = api.flowstone_step_metadata()
    assert summary["calls"] == 1 and summary["failed"] == 1 and summary["retries"] == 0


def test_429_and_503_are_retried_honouring_retry_after_and_usage_is_summed(
        tmp_path: Path) -> None:
    with ApiServer(1000, fail_every=2, retry_after=0.05) as server:
        api = client(server.url, tmp_path, retries=5)
        answers = [api.post("/v1/complete", json={"i": i}) for i in range(4)]
        assert [a["text"] for a in answers] == ["ok"] * 4
        assert server.injected >= 3                # every 2nd request was a 503 or 429
    summary = api.flowstone_step_metadata()
    assert summary["calls"] == 4
    assert summary["retries"] == server.injected
    assert summary["usage"] == {"prompt_tokens": 12, "completion_tokens": 20,
                                "total_tokens": 32}
    assert all(call["status"] == 200 and call["latency_ms"] >= 0 for call in summary["log"])
    assert api.flowstone_step_metadata() is None   # drained: the next step starts afresh


def test_a_429_that_outlasts_the_retries_raises_rate_limited_with_retry_after(
        tmp_path: Path) -> None:
    with ApiServer(1) as server:                   # 1 per second; answers Retry-After: 1
        api = client(server.url, tmp_path, retries=0)
        api.post("/v1/complete", json={})
        with pytest.raises(RateLimited) as caught:
            api.post("/v1/complete", json={})
        assert caught.value.retry_after == 1.0
        assert server.over_limit >= 1


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("garbage") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0   # in the past


def test_configuration_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rate"):
        build_resource("llm", HttpApi, {"base_url": "http://x", "rate": "fast"})
    with pytest.raises(ConfigError, match="base_url"):
        build_resource("llm", HttpApi, {"base_url": "ftp://x"})
    with pytest.raises(ConfigError, match="max_concurrency"):
        build_resource("llm", HttpApi, {"base_url": "http://x", "max_concurrency": 0})


def test_calls_are_recorded_in_step_metadata_and_shown_by_runs_show(tmp_path: Path) -> None:
    with ApiServer(1000, fail_every=3, retry_after=0.05) as server:
        project = write_project(tmp_path / "p", server.url, assets="""\
            from flowstone_cli import asset

            @asset(requires=["llm"])
            def summary(context):
                return [context.resources.llm.post("/v1/complete", json={"i": i})["text"]
                        for i in range(3)]
            """)
        ran = run_cli("materialize", "summary", "--json", cwd=project, env=ENV)
        assert ran.code == 0, ran.stdout + ran.stderr
        run_id = ran.json()["run_id"]
    shown = run_cli("runs", "show", run_id, "--json", cwd=project, env=ENV)
    assert shown.code == 0, shown.stderr
    step = next(s for s in shown.json()["steps"] if s["asset"] == "summary")
    calls = step["metadata"]["api_calls"]["llm"]
    assert calls["calls"] == 3 and calls["retries"] == server.injected >= 1
    assert calls["usage"]["total_tokens"] == 24
    assert len(calls["log"]) == 3
    text = run_cli("runs", "show", run_id, cwd=project, env=ENV)
    assert "api llm: 3 calls" in text.stdout and "total_tokens 24" in text.stdout
    assert ENV["LLM_TOKEN"] not in shown.stdout + text.stdout


def test_a_4xx_fails_the_step_at_once_with_the_api_message(tmp_path: Path) -> None:
    with ApiServer(1000) as server:
        project = write_project(tmp_path / "p", server.url, assets="""\
            from flowstone_cli import RetryPolicy, asset

            @asset(requires=["llm"], retry=RetryPolicy(max_attempts=3))
            def broken(context):
                return context.resources.llm.post("/v1/bad", json={})
            """)
        ran = run_cli("materialize", "broken", cwd=project, env=ENV)
        assert ran.code == 1
        assert "model `gpt-x` does not exist" in ran.stdout + ran.stderr
        assert len(server.arrivals) == 1          # neither the client nor the run retried


def test_health_check_reports_an_unreachable_base_url(tmp_path: Path) -> None:
    import socket
    with ApiServer(10) as server:
        assert HttpApi.model_validate({"base_url": server.url}).health_check() is None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    problem = HttpApi.model_validate({"base_url": f"http://127.0.0.1:{port}/v1",
                                      "timeout": 5}).health_check()
    assert problem is not None and f"cannot connect to 127.0.0.1:{port}" in problem
