"""`flowstone report`: materialization history, lineage and audit trail of a selection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timezone

from flowstone_cli._version import __version__
from flowstone_cli.api.lineage import read_session
from flowstone_cli.errors import UsageError
from flowstone_cli.metadata.migrations import CURRENT_SCHEMA_VERSION
from flowstone_cli.api.selecting import select_from
from flowstone_cli.api.wiring import open_store
from flowstone_cli.project.loader import Project
from flowstone_cli.reporting.html import render_html
from flowstone_cli.reporting.model import REPORT_FORMATS, Report, build_report
from flowstone_cli.reporting.tables import render_csv, render_markdown


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
