"""What a run looks like on a terminal: the live display and the end-of-run table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

from flowstone_cli.cli.output import Printer
from flowstone_cli.cli.progress import RunView, summary_table
from flowstone_cli.events import Event, EventKind


def _event(kind: EventKind, step: str | None = None, **data: object) -> Event:
    return Event(kind, "run-1", message=f"{step} {kind.value}", asset=step, step_id=step,
                 data=dict(data))


def test_the_live_display_never_shows_more_running_steps_than_workers() -> None:
    # The coordinator hands an executor up to twice its worker count (so a worker never waits
    # for the next task); the extra steps wait in the executor's queue, in order.
    view = RunView(Printer())
    view(_event(EventKind.RUN_STARTED, steps=6, slots=2))
    for step in ("a", "b", "c", "d"):
        view(_event(EventKind.STEP_STARTED, step))
    assert view.running_and_queued() == (["a", "b"], 2)
    view(_event(EventKind.STEP_SUCCEEDED, "a"))
    assert view.running_and_queued() == (["b", "c"], 1)
    view(_event(EventKind.STEP_RETRYING, "b"))  # re-queued: no longer running
    view(_event(EventKind.STEP_STARTED, "e"))
    view(_event(EventKind.STEP_STARTED, "f"))
    assert view.running_and_queued() == (["c", "d"], 2)
    head = view._render().renderables[0].plain
    assert "2 running · 2 queued" in head


def test_a_checkpoint_waiting_for_approval_is_no_longer_running() -> None:
    view = RunView(Printer())
    view(_event(EventKind.RUN_STARTED, steps=3, slots=1))
    view(_event(EventKind.STEP_STARTED, "review"))
    view(_event(EventKind.STEP_STARTED, "other"))
    assert view.running_and_queued() == (["review"], 1)
    view(_event(EventKind.STEP_WAITING, "review", request_id="r-1"))
    assert view.running_and_queued() == (["other"], 0)
    assert view.done == 1
    # Waiting for another run's claim is not a finished step: it has no step id yet.
    view(Event(EventKind.STEP_WAITING, "run-1", message="x waits", asset="x"))
    assert view.running_and_queued() == (["other"], 0) and view.done == 1


def test_a_canceled_step_that_never_started_gets_no_line_without_a_terminal(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = RunView(Printer())
    view(_event(EventKind.RUN_STARTED, steps=5, slots=1))
    for step in ("a", "b", "c"):
        view(_event(EventKind.STEP_STARTED, step))
    for step in ("a", "b", "c"):
        view(_event(EventKind.STEP_CANCELED, step))
    view(_event(EventKind.STEP_CANCELED, "never-submitted"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith(" a step_canceled")  # only the step that was running


def _outcome(key: str, status: str, reason: str = "", ms: float | None = None) -> object:
    return SimpleNamespace(key=key, status=SimpleNamespace(value=status), reason=reason,
                           duration_ms=ms)


def test_the_end_of_run_table_counts_steps_that_did_not_run() -> None:
    steps = [_outcome("load", "succeeded", ms=1200.0), _outcome("clean", "failed", "boom", 10.0)]
    steps += [_outcome(f"day[{i}]", "canceled", "run canceled") for i in range(57)]
    steps += [_outcome(f"report[{i}]", "skipped", "upstream clean failed") for i in range(3)]
    steps += [_outcome("publish", "skipped", "review was rejected by ann: no")]
    steps += [_outcome(f"old[{i}]", "up_to_date", "up to date") for i in range(300)]
    summary = SimpleNamespace(run_id="run-1", status=SimpleNamespace(value="canceled"),
                              steps=steps)
    console = Console(width=200, record=True)
    console.print(summary_table(summary, str))
    body = [ln for ln in console.export_text().splitlines() if "│" in ln]  # not the header
    assert len(body) == 6, "\n".join(body)
    text = "\n".join(body)
    assert "load" in text and "clean" in text and "boom" in text
    assert "57 steps" in text and text.count("│ canceled") == 1
    assert "3 steps" in text and "upstream clean failed" in text
    assert "publish" in text and "rejected by ann" in text  # one step keeps its name
    assert "300 steps" in text
