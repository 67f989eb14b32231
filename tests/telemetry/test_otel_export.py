"""Runs exported as OpenTelemetry traces to a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import copy_example, copy_fixture, run_cli
from tests.telemetry.otlp_receiver import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found, server = start_receiver()
    try:
        yield found
    finally:
        server.shutdown()


def _trace_id(run_id: str) -> str:
    return hashlib.sha256(run_id.encode()).digest()[:16].hex()


def test_each_run_is_one_trace_with_a_span_per_step_attempt(tmp_path: Path,
                                                            receiver: Receiver) -> None:
    project = copy_example(tmp_path)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    run = run_cli("-p", str(project), "materialize", "+daily_report", "--partition",
                  "2025-01-15", "--json", env=env)
    assert run.code == 0, run.stderr
    run_id = run.json()["run_id"]
    traces = receiver.traces()
    assert list(traces) == [_trace_id(run_id)]
    spans = {s.name: s for s in traces[_trace_id(run_id)]}
    root = spans["flowstone run +daily_report"]
    assert root.parent_id == "" and root.attributes["flowstone.run_id"] == run_id
    assert root.service == "flowstone:example"
    steps = {n for n, s in spans.items() if s.parent_id == root.span_id}
    assert steps == {"raw_events[2025-01-15]", "user_profiles", "cleaned_events[2025-01-15]",
                     "daily_metrics[2025-01-15]", "daily_report[2025-01-15]"}
    cleaned = spans["cleaned_events[2025-01-15]"]
    assert cleaned.attributes["flowstone.status"] == "succeeded"
    assert cleaned.attributes["flowstone.rows"] > 0
    assert cleaned.attributes["flowstone.attempt"] == 1
    assert "check not_null_user_id" in cleaned.events
    step_ids = {r["asset"]: r["step_id"] for r in run.json()["steps"]}
    assert cleaned.span_id == step_ids["cleaned_events"]


def test_failed_steps_carry_the_error_status_and_reexport_keeps_the_ids(
        tmp_path: Path, receiver: Receiver) -> None:
    project = copy_fixture("failing", tmp_path)
    run = run_cli("-p", str(project), "materialize", "source", "broken", "--json")
    assert run.code == 1
    run_id = run.json()["run_id"]
    assert receiver.spans == []           # no endpoint configured: nothing sent
    exported = run_cli("-p", str(project), "runs", "export-otel", run_id, "--endpoint",
                       receiver.url)
    assert exported.code == 0, exported.stderr
    assert "exported 1 run(s), 3 span(s)" in exported.stdout
    first = sorted((s.trace_id, s.span_id, s.parent_id, s.name, s.status)
                   for s in receiver.spans)
    broken = [s for s in receiver.spans if s.name == "broken"][0]
    assert broken.status == 2                               # STATUS_CODE_ERROR
    assert broken.attributes["flowstone.error_code"] == "user_error"
    root = [s for s in receiver.spans if s.parent_id == ""][0]
    assert root.status == 2 and root.trace_id == _trace_id(run_id)

    again = run_cli("-p", str(project), "runs", "export-otel", "--since", "2000-01-01",
                    "--endpoint", receiver.url)
    assert again.code == 0, again.stderr
    second = sorted((s.trace_id, s.span_id, s.parent_id, s.name, s.status)
                    for s in receiver.spans[len(first):])
    assert second == first


def test_an_unreachable_collector_is_a_warning_for_a_run_and_an_error_on_demand(
        tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    run = run_cli("-p", str(project), "materialize", "source", "independent", env=env)
    assert run.code == 0
    assert "were not exported" in run.stderr and "Connection refused" in run.stderr
    assert "Traceback" not in run.stderr
    refused = run_cli("-p", str(project), "runs", "export-otel", "--since", "2000-01-01",
                      env=env)
    assert refused.code == 1
    assert "did not accept the traces" in refused.stderr
    nothing = run_cli("-p", str(project), "runs", "export-otel", "--since", "2000-01-01")
    assert nothing.code == 2 and "no OpenTelemetry endpoint" in nothing.stderr


def test_without_the_extra_the_command_names_it(tmp_path: Path, receiver: Receiver) -> None:
    project = copy_fixture("failing", tmp_path)
    assert run_cli("-p", str(project), "materialize", "source").code == 0
    shadow = tmp_path / "no_otel" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('opentelemetry is not installed')\n")
    env = {"PYTHONPATH": str(shadow.parent), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    refused = run_cli("-p", str(project), "runs", "export-otel", "--since", "2000-01-01",
                      env=env)
    assert refused.code == 2
    assert "pip install 'flowstone-cli[otel]'" in refused.stderr
    run = run_cli("-p", str(project), "materialize", "source", "--force", env=env)
    assert run.code == 0 and "flowstone-cli[otel]" in run.stderr
