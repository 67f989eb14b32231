"""How a run looks: a rich live display on a terminal, one plain line per step that ran in CI
and cron (up-to-date steps too with `-v`), nothing but the final object with `--json`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from flowstone_cli.cli.output import Printer
from flowstone_cli.events import Event, EventKind

_FINISHED = {EventKind.STEP_SUCCEEDED, EventKind.STEP_FAILED, EventKind.STEP_SKIPPED,
             EventKind.STEP_CANCELED, EventKind.STEP_TIMED_OUT, EventKind.STEP_UP_TO_DATE}
_STYLE = {EventKind.STEP_SUCCEEDED: "green", EventKind.STEP_FAILED: "red",
          EventKind.STEP_TIMED_OUT: "red", EventKind.STEP_SKIPPED: "yellow",
          EventKind.STEP_CANCELED: "yellow", EventKind.STEP_UP_TO_DATE: "dim",
          EventKind.STEP_RETRYING: "yellow", EventKind.CHECK_FAILED: "yellow"}


class RunView:
    """An `EventSink` that renders a run for people (or stays quiet for `--json`)."""

    def __init__(self, printer: Printer, *, log_format: str = "text",
                 verbose: bool = False, quiet: bool = False) -> None:
        """`quiet`: without a terminal, no line per step (the caller prints a summary)."""
        self.printer = printer
        self.verbose = verbose
        self.quiet = quiet
        self.log_format = log_format
        self.live_mode = printer.is_terminal and not printer.json and log_format == "text"
        self.total = 0
        self.done = 0
        self.failed = 0
        # Steps handed to the executor, in the order they were: the first `slots` run, the
        # rest wait in its queue (workers take them in that order).
        self.running: dict[str, str] = {}
        self.slots: int | None = None
        self._began: set[str] = set()  # steps that reached a worker
        self.started = time.monotonic()
        self._live: Live | None = None
        self._recent: list[Text] = []

    def __enter__(self) -> RunView:
        if self.live_mode:
            self._live = Live(self._render(), console=self.printer.out, refresh_per_second=8,
                              transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.RUN_STARTED:
            self.total = int(event.data.get("steps", 0))
            slots = event.data.get("slots")
            self.slots = int(slots) if isinstance(slots, int) and slots > 0 else None
            if event.data.get("dashboard") and not self.printer.json:
                sys.stderr.write(f"Dask dashboard: {event.data['dashboard']}\n")
        elif event.kind is EventKind.STEP_STARTED and event.step_id:
            self.running[event.step_id] = event.step_label
        ran = True
        # A checkpoint that ran and now waits for approval holds no worker: it is done for this
        # run (a claim wait has no step id: that step has not started).
        waits_for_review = event.kind is EventKind.STEP_WAITING and bool(event.step_id)
        if event.kind in _FINISHED or event.kind is EventKind.STEP_RETRYING or waits_for_review:
            if event.step_id:
                ran = self.slots is None or event.step_id in self._began
                self.running.pop(event.step_id, None)
                self._began.discard(event.step_id)
            if event.kind in _FINISHED or waits_for_review:
                self.done += 1
                self.failed += event.kind in (EventKind.STEP_FAILED, EventKind.STEP_TIMED_OUT)
        if event.kind is not EventKind.STEP_CANCELED:
            # A worker took the next queued steps (a cancel frees no worker for them).
            self._began.update(self.running_and_queued_ids()[0])
        # A step canceled before it started did not run: the closing counts say how many.
        if event.kind is EventKind.STEP_CANCELED and not ran and not self.verbose:
            if self._live is not None:
                self._live.update(self._render())
            return
        self._show(event)

    def _show(self, event: Event) -> None:
        if self.printer.json:
            return
        if self.log_format == "json":
            sys.stderr.write(self.printer.to_json(event.to_dict()) + "\n")
            return
        # A step waiting (for another run's claim, or an approval) says what it waits for.
        important = event.kind in _FINISHED or event.kind in (
            EventKind.STEP_RETRYING, EventKind.STEP_WAITING, EventKind.CHECK_FAILED)
        if self._live is not None:
            if important and event.kind is not EventKind.STEP_UP_TO_DATE:
                self._recent = (self._recent + [Text(self.printer.clean(event.message),
                                                     style=_STYLE.get(event.kind, ""))])[-8:]
            self._live.update(self._render())
        elif important and not self.quiet and (self.verbose
                                               or event.kind is not EventKind.STEP_UP_TO_DATE):
            # Without a terminal: a line per step that ran; up-to-date steps only with -v.
            elapsed = time.monotonic() - self.started
            sys.stdout.write(self.printer.clean(
                f"[{elapsed:7.2f}s] {self.done}/{self.total} {event.message}") + "\n")
            sys.stdout.flush()

    def running_and_queued(self) -> tuple[list[str], int]:
        """The labels of the steps running now (never more than the workers) and how many
        more wait in the executor's queue."""
        ids, queued = self.running_and_queued_ids()
        return [self.running[i] for i in ids], queued

    def running_and_queued_ids(self) -> tuple[list[str], int]:
        ids = list(self.running)
        if self.slots is None:
            return ids, 0
        return ids[:self.slots], max(0, len(ids) - self.slots)

    def _render(self) -> Group:
        elapsed = time.monotonic() - self.started
        running, queued = self.running_and_queued()
        head = Text(f"{self.done}/{self.total} steps done · {len(running)} running · "
                    + (f"{queued} queued · " if queued else "")
                    + f"{self.failed} failed · {elapsed:.1f}s elapsed", style="bold")
        shown = Text("running: " + ", ".join(running[:6]) + (" …" if len(running) > 6 else ""),
                     style="cyan") if running else Text("")
        return Group(head, shown, *self._recent)


# Steps with these statuses did not run: the table counts them (per reason) instead of
# giving each its own row, so a canceled 57-step run shows one `canceled` row, not 57.
_COUNTED = ("up_to_date", "skipped", "canceled")
_TABLE_STYLE = {"succeeded": "green", "failed": "red", "timed_out": "red", "skipped": "yellow",
                "canceled": "yellow", "up_to_date": "dim"}


def summary_table(summary: Any, clean: Callable[[str], str]) -> Table:
    """The end-of-run table: a row per step that ran (or waits for approval), then one row
    per status and reason for the steps that did not run, with how many there were.

    `clean` masks secrets and escapes control characters in the reasons (error messages).
    """
    table = Table(title=f"run {summary.run_id}: {summary.status.value}", header_style="bold")
    for column in ("step", "status", "reason / error", "duration"):
        table.add_column(column, overflow="fold")
    counted: dict[tuple[str, str], list[str]] = {}
    for outcome in summary.steps:
        status = outcome.status.value
        if status in _COUNTED:
            counted.setdefault((status, outcome.reason or ""), []).append(str(outcome.key))
            continue
        duration = "" if outcome.duration_ms is None else f"{outcome.duration_ms / 1000:.2f}s"
        table.add_row(str(outcome.key), Text(status, style=_TABLE_STYLE.get(status, "")),
                      clean(outcome.reason or ""), duration)
    for (status, reason), keys in sorted(counted.items(),
                                         key=lambda item: _COUNTED.index(item[0][0])):
        table.add_row(keys[0] if len(keys) == 1 else f"{len(keys)} steps",
                      Text(status, style=_TABLE_STYLE[status]), clean(reason), "")
    return table


# The order of the closing counts line; other statuses follow alphabetically.
_COUNT_ORDER = ("succeeded", "up_to_date", "failed", "timed_out", "skipped", "canceled",
                "waiting_approval")


def counts_line(counts: dict[str, int], duration_s: float) -> str:
    """`3 succeeded, 362 up to date, 0 failed in 12.3s` (zero counts left out)."""
    order = {status: i for i, status in enumerate(_COUNT_ORDER)}
    parts = [f"{n} {status.replace('_', ' ')}" for status, n in
             sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])) if n]
    return f"{', '.join(parts) or 'nothing to do'} in {duration_s:.1f}s"
