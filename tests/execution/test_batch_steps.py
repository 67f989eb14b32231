"""Batch assets (the mechanism behind dbt models): ready steps of one batch runner go to the
runner together, held while independent upstreams still run; failures skip downstream."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

from flowstone_cli.execution.batching import combined_timeout, expand_batch_result
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask
from tests.cli_runner import run_cli

MODULE = '''
import json, os, time
from pathlib import Path

from flowstone_cli import asset
from flowstone_cli.definitions.batch import AssetCollection, BatchAssetSpec, MemberOutcome

CALLS = Path(__file__).resolve().parent.parent / "calls.txt"


class Runner:
    key = "fake"

    def run(self, members, log):
        CALLS.open("a").write(" ".join(m.asset for m in members) + "\\n")
        log.info("fake tool ran " + str(len(members)))
        failing = os.environ.get("FAIL_ASSET")
        now = time.time()
        return [MemberOutcome(step_id=m.step_id, started_at=now, ended_at=now,
                              status="failed" if m.asset == failing else "succeeded",
                              error_code="fake_failed" if m.asset == failing else None,
                              error_message=f"{m.asset} broke" if m.asset == failing else None,
                              metadata={"members": len(members)})
                for m in members]


RUNNER = Runner()


def batch(name, deps=(), optional=()):
    return BatchAssetSpec(name=name, deps=tuple(deps), runner=RUNNER, file=__file__, line=1,
                          optional_deps=tuple(optional), explicit_code_version="v1",
                          kind_label="fake model")


@asset
def src():
    time.sleep(1.0)  # the batch waits for it rather than running twice
    return 1


@asset(deps=["b1"])
def mid():
    return 2


tool = AssetCollection((batch("c1"), batch("b1", optional=["src", "not_an_asset"]),
                        batch("b2", deps=["b1"]), batch("b3", deps=["mid", "b2"])))
'''


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "batches"\n')
    (project / "assets" / "pipeline.py").write_text(textwrap.dedent(MODULE))
    return project


def _calls(project: Path) -> list[list[str]]:
    return [line.split() for line in (project / "calls.txt").read_text().splitlines()]


def test_ready_batch_steps_run_together_and_wait_for_independent_upstreams(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    listed = run_cli("-p", str(project), "list", "--json")
    assert listed.code == 0, listed.stderr
    ran = run_cli("-p", str(project), "materialize", "*", "--json")
    assert ran.code == 0, ran.stdout + ran.stderr
    assert ran.json()["counts"] == {"succeeded": 6}
    # b1 waits for src (an optional dependency resolved by name); b3 waits for mid, which
    # depends on b1: so two invocations, the first holding c1 until src is done.
    calls = _calls(project)
    assert [sorted(call) for call in calls] == [["b1", "b2", "c1"], ["b3"]]
    assert calls[0].index("b1") < calls[0].index("b2")  # dependency order
    shown = run_cli("-p", str(project), "runs", "show", ran.json()["run_id"], "--json").json()
    members = {s["asset"]: s["metadata"].get("members") for s in shown["steps"]}
    assert members["c1"] == 3 and members["b3"] == 1
    lineage = run_cli("-p", str(project), "lineage", "upstream", "b2", "--json").json()
    assert {e["asset"] for e in lineage["entries"]} == {"b1", "src"}


def test_failed_batch_member_skips_exactly_its_downstream(tmp_path: Path) -> None:
    project = _project(tmp_path)
    ran = run_cli("-p", str(project), "materialize", "*", "--json", env={"FAIL_ASSET": "b1"})
    assert ran.code == 1, ran.stdout + ran.stderr
    status = {s["asset"]: s["status"] for s in ran.json()["steps"]}
    assert status == {"src": "succeeded", "c1": "succeeded", "b1": "failed",
                      "b2": "skipped", "mid": "skipped", "b3": "skipped"}
    assert [sorted(call) for call in _calls(project)] == [["b1", "b2", "c1"]]


def test_a_batch_asset_cannot_be_a_parameter(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with (project / "assets" / "pipeline.py").open("a") as handle:
        handle.write("\n\n@asset\ndef reads_b2(b2):\n    return b2\n")
    checked = run_cli("-p", str(project), "check", "--json")
    assert checked.code == 2
    assert "batch_asset_parameter" in checked.stdout + checked.stderr


def _task(step_id: str) -> StepTask:
    return StepTask(step_id=step_id, run_id="r", asset=step_id, partition=None, attempt=1)


def test_a_batch_failing_as_a_whole_fails_every_member() -> None:
    members = (_task("a"), _task("b"))
    whole = StepResult(step_id="batch", status=ResultStatus.TIMED_OUT, started_at=1.0,
                       ended_at=2.0, pid=1, host="h", logs=((1.0, "info", "x"),),
                       error=StepError("timed_out", "Timeout", "ran too long"))
    expanded = expand_batch_result(whole, members)
    assert [r.step_id for r in expanded] == ["a", "b"]
    assert {r.status for r in expanded} == {ResultStatus.TIMED_OUT}
    assert expanded[0].logs and not expanded[1].logs
    own = StepResult(step_id="b", status=ResultStatus.SUCCEEDED, started_at=1.0, ended_at=2.0,
                     pid=1, host="h")
    mixed = expand_batch_result(replace(whole, members=(own,)), members)
    assert mixed[0].status is ResultStatus.TIMED_OUT and mixed[1] is own


def test_combined_timeout() -> None:
    assert combined_timeout([10.0, 5.0]) == 15.0
    assert combined_timeout([10.0, None]) is None
    assert json.dumps(combined_timeout([])) == "null"
