"""`flowstone report`: materialization history, lineage and audit trail of a selection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timezone
from pathlib import Path

from flowstone_cli._version import __version__
from flowstone_cli.api.lineage import read_session
from flowstone_cli.errors import UsageError
from flowstone_cli.metadata.migrations import CURRENT_SCHEMA_VERSION
from flowstone_cli.api.selecting import select_from
from flowstone_cli.api.wiring import open_store
from flowstone_cli.project.loader import Project
from flowstone_cli.reporting.html import render_html
from flowstone_cli.reporting.model import REPORT_FORMATS, Report, build_report
from flowstone_cli.reporting.tables import CSV_COLUMNS, render_csv, render_markdown

# How each format begins: a file that begins like this is a previous report and may be replaced.
_REPORT_HEADS = ("# FlowStone report: ", '{\n  "report_version":', ",".join(CSV_COLUMNS) + "\n")


def parse_since(text: str | None) -> datetime | None:
    """`--since` as an aware UTC time: a date (`2025-01-15`, midnight UTC) or an ISO time
    (without a zone: UTC).

    Raises:
        UsageError: neither a date nor an ISO time.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text), time())
        except ValueError:
            raise UsageError(f"--since {text!r} is not a date or time",
                             hint="Write e.g. --since 2025-01-15 or "
                                  "--since 2025-01-15T08:00:00+01:00.") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def make_report(project: Project, selection: Sequence[str] = ("*",),
                exclude: Sequence[str] = (), *, since: str | None = None) -> Report:
    """Gather the report of a selection (every asset by default).

    Raises:
        SelectionError: the selection is malformed or matches nothing.
        UsageError: `since` is not a date or time.
    """
    chosen = select_from(project, open_store(project), selection, exclude)
    start = parse_since(since)
    with read_session(project) as reader:
        schema = int(reader.meta().get("schema_version", CURRENT_SCHEMA_VERSION)) if reader \
            else CURRENT_SCHEMA_VERSION
        return build_report(project.definitions, chosen, reader, project=project.name,
                            flowstone_version=__version__, schema_version=schema,
                            selection=tuple(selection), since=start,
                            now=datetime.now(timezone.utc))


def render(report: Report, fmt: str) -> str:
    """The report in one of `REPORT_FORMATS` (`md`, `html`, `json`, `csv`).

    Raises:
        UsageError: an unknown format.
    """
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    raise UsageError(f"unknown report format `{fmt}`",
                     hint=f"Use one of: {', '.join(REPORT_FORMATS)}.")


def is_report(path: Path) -> bool:
    """Whether the file at `path` looks like a report FlowStone wrote (any format)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return head.startswith(_REPORT_HEADS) or (head.lstrip().lower().startswith("<!doctype html>")
                                             and "<title>FlowStone report: " in head)


def check_output(project: Project, output: Path, *, force: bool = False) -> Path:
    """Refuse a `--output` that would destroy something: the metadata store (or its WAL),
    anything under the project's `.flowstone/` folder, a folder, or an existing file that is not
    a previous report (unless `force`).

    Returns:
        The path to write (resolved, symlinks followed).

    Raises:
        UsageError: the path is refused.
    """
    target = output.expanduser().resolve()
    store = project.metadata_path.resolve()
    protected = {store, store.with_name(store.name + ".wal")}
    private = (project.root / ".flowstone").resolve()
    if target in protected or target == private or private in target.parents:
        raise UsageError(f"refusing to write the report to {output}: it is "
                         + ("FlowStone's metadata store" if target in protected
                            else "inside the project's .flowstone/ folder"),
                         hint="Write the report somewhere else, e.g. --output report.html.")
    if target.is_dir():
        raise UsageError(f"cannot write the report to {output}: it is a folder",
                         hint="Give a file name, e.g. --output report.html.")
    if target.exists() and not force and not is_report(target):
        raise UsageError(f"refusing to overwrite {output}: it is not a FlowStone report",
                         hint="Give another file name, or --force to replace it.")
    return target
