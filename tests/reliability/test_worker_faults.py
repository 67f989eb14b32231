"""User code misbehaving inside a step, through the real CLI: each fault fails only its own step.

Fault cases 8 (a worker SIGKILLed with other steps in flight), 9 (unpicklable exception,
generator or unpicklable return value), 10 (`sys.exit(3)`, `KeyboardInterrupt`) and 11 (a step
past its timeout).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.reliability.harness import flowstone, make_project, rows, spawn, statuses, wait_for

VICTIM = """
    import os, time
    from pathlib import Path
    from flowstone_cli import RetryPolicy, asset

    def _victim():
        marker = Path(os.environ["VICTIM_MARKER"])
        if not marker.exists():  # only the first attempt waits to be killed
            marker.write_text(str(os.getpid()))
            time.sleep(60)
        return "survived"

    @asset
    def victim():
        return _victim()

    @asset(retry=RetryPolicy(max_attempts=2, delay=0))
    def retried_victim():
        return _victim()

    @asset
    def sibling_a():
        time.sleep(1.0)
        return "a"

    @asset
    def sibling_b():
        time.sleep(1.0)
        return "b"

    @asset
    def after_victim(victim):
        return victim
"""


def _kill_worker_when_marked(project: Path, marker: Path, *args: str) -> tuple[int, str]:
    proc = spawn(project, "materialize", *args, "--workers", "3", "--json",
                 env={"VICTIM_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    worker = int(marker.read_text())
    assert worker != proc.pid
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out


def test_a_sigkilled_worker_fails_only_its_own_step(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"victim": VICTIM})
    code, out = _kill_worker_when_marked(project, tmp_path / "victim.pid", "victim",
                                         "after_victim", "sibling_a", "sibling_b")
    assert code == 1
    run_id = rows(project, "SELECT run_id FROM runs")[0][0]
    assert statuses(project, run_id) == {"victim": ["failed"], "after_victim": ["skipped"],
                                         "sibling_a": ["succeeded"], "sibling_b": ["succeeded"]}
    (code_, message), = rows(project, "SELECT error_code, error_message FROM steps "
                                      "WHERE asset = 'victim'")
    assert code_ == "worker_crashed"
    assert message == "the worker running asset `victim` was killed by signal SIGKILL"
    assert rows(project, "SELECT status FROM runs") == [("failed",)]


def test_a_sigkilled_worker_is_retried_under_the_assets_retry_policy(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"victim": VICTIM})
    code, _ = _kill_worker_when_marked(project, tmp_path / "victim.pid", "retried_victim",
                                       "sibling_a")
    assert code == 0
    run_id = rows(project, "SELECT run_id FROM runs")[0][0]
    assert statuses(project, run_id) == {"retried_victim": ["failed", "succeeded"],
                                         "sibling_a": ["succeeded"]}


BAD_VALUES = """
    import threading
    from flowstone_cli import asset

    class NeedsTwoArguments(Exception):
        def __init__(self, first, second):
            super().__init__(f"{first}/{second}")

    @asset
    def raises_unpicklable():
        raise NeedsTwoArguments("left", "right")

    @asset
    def returns_generator():
        return (i for i in range(3))

    @asset
    def returns_unpicklable():
        return threading.Lock()

    @asset
    def fine():
        return 1
"""


def test_unpicklable_errors_and_values_fail_their_step_naming_the_asset(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"bad": BAD_VALUES})
    result = flowstone(project, "materialize", "*", "--json")
    assert result.code == 1, result.stderr
    steps = {s["asset"]: s for s in result.json()["steps"]}
    assert steps["fine"]["status"] == "succeeded"
    assert steps["raises_unpicklable"]["status"] == "failed"
    assert "NeedsTwoArguments: left/right" in steps["raises_unpicklable"]["reason"]
    assert steps["returns_generator"]["reason"] == (
        "asset `returns_generator` returned a generator, which cannot be stored")
    assert steps["returns_unpicklable"]["status"] == "failed"
    assert "returns_unpicklable" in steps["returns_unpicklable"]["reason"]
    assert "Traceback" not in result.stderr


EXITS = """
    import sys
    from flowstone_cli import asset

    @asset
    def exits():
        sys.exit(3)

    @asset
    def interrupts():
        raise KeyboardInterrupt

    @asset
    def fine():
        return 1
"""


@pytest.mark.parametrize("executor", ["process", "inline"])
def test_sys_exit_and_keyboard_interrupt_in_user_code_are_step_failures(
        tmp_path: Path, executor: str) -> None:
    project = make_project(tmp_path / "project", {"exits": EXITS})
    result = flowstone(project, "materialize", "*", "--executor", executor, "--json")
    assert result.code == 1, result.stderr  # not 3, not 130: the CLI did not exit early
    steps = {s["asset"]: (s["status"], s["reason"]) for s in result.json()["steps"]}
    assert steps == {"exits": ("failed", "asset `exits` called sys.exit(3)"),
                     "interrupts": ("failed", "asset `interrupts` raised KeyboardInterrupt"),
                     "fine": ("succeeded", "missing")}
    assert rows(project, "SELECT status FROM runs") == [("failed",)]


HANGS = """
    import time
    from flowstone_cli import asset

    @asset(timeout="1s")
    def hangs_own_timeout():
        time.sleep(60)

    @asset
    def hangs_default_timeout():
        time.sleep(60)

    @asset
    def after_hang(hangs_own_timeout):
        return 1

    @asset
    def quick():
        time.sleep(0.5)
        return 2
"""


def test_steps_past_their_timeout_are_killed_and_recorded_timed_out(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"hangs": HANGS})
    # The steps hang for an hour: the command returning (within the harness's deadline) at
    # all shows they were stopped.
    result = flowstone(project, "materialize", "*", "--step-timeout", "2s", "--workers", "3",
                       "--json")
    assert result.code == 1, result.stderr
    steps = {s["asset"]: s["status"] for s in result.json()["steps"]}
    assert steps == {"hangs_own_timeout": "timed_out", "hangs_default_timeout": "timed_out",
                     "after_hang": "skipped", "quick": "succeeded"}
    messages = dict(rows(project, "SELECT asset, error_message FROM steps WHERE status = "
                                  "'timed_out'"))
    assert messages == {
        "hangs_own_timeout": "asset `hangs_own_timeout` ran longer than its timeout of 1s "
                             "and was killed",
        "hangs_default_timeout": "asset `hangs_default_timeout` ran longer than its timeout "
                                 "of 2s and was killed"}
