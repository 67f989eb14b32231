"""`flowstone lineage upstream|downstream|impact`, `status`, `report`, `sql` and `wipe`."""

from __future__ import annotations

import csv
import gc
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import (
    CliState,
    ExcludeOpt,
    JsonOpt,
    PartitionOpt,
    PartitionRangeOpt,
    state_of,
)
from flowstone_cli.errors import UsageError

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

lineage_app = typer.Typer(help="Where a partition's data came from and what depends on it.",
                          no_args_is_help=True)
AssetArg = Annotated[str, typer.Argument(help="Asset name.", show_default=False)]
KeyOpt = Annotated[str | None, typer.Option(
    "--partition", metavar="KEY",
    help="Partition key (required for a partitioned asset).", show_default=False)]
DepthOpt = Annotated[int | None, typer.Option("--depth", metavar="N",
                                              min=1, help="At most this many levels.",
                                              show_default=False)]
OptionalSelection = Annotated[list[str] | None, typer.Argument(
    metavar="SELECTOR", help="Assets to select (default: every asset).", show_default=False)]
TenantOpt = Annotated[str | None, typer.Option(
    "--tenant", metavar="TENANT",
    help="Only partitions of this tenant (the project's tenant dimension).",
    show_default=False)]


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a read-only query command runs.

    Loading a project and reading thousands of records allocates many small objects but no
    cycles worth collecting, while every collection pass walks all live objects (the loaded
    definitions, parsed code): ~30 ms of a 0.5 s `status` on 1,000 assets. Reference counting
    still frees everything; collection resumes when the command ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _short(text: str | None, size: int = 12) -> str:
    return (text or "")[:size]


def _state(entry: Any) -> str:
    m = entry.materialization
    if m is None:
        return "never materialized"
    return "wiped" if m.wiped else "current" if m.current else "superseded"


def _head(state: CliState, key: Any, materialization: Any) -> None:
    if materialization is None:
        state.printer.line(f"{key}: never materialized")
        return
    state.printer.line(f"{key}: materialization {materialization.step_id} · run "
                       f"{materialization.run_id} · {_time(materialization.time)} UTC"
                       + (" · wiped" if materialization.wiped else ""))


def _entries(state: CliState, entries: Any, *, title: str, link: str) -> None:
    """A table of lineage entries; `link` names the column of the neighbours that lead there."""
    rows = []
    for e in entries:
        m = e.materialization
        rows.append((e.depth, str(e.key), m.step_id if m else "", (m.run_id or "") if m else "",
                     _time(m.time if m else None), _short(m.data_version if m else None),
                     _state(e), ", ".join(map(str, e.via))))
    state.printer.line(f"{title}:")
    if not rows:
        state.printer.line("  (none)")
        return
    state.printer.table(["depth", "partition", "materialization", "run", "ended (UTC)",
                         "data version", "state", link], rows)


@lineage_app.command("upstream")
def upstream(ctx: typer.Context, asset: AssetArg, partition: KeyOpt = None,
             depth: DepthOpt = None, tenant: TenantOpt = None,
             json_flag: JsonOpt = False) -> None:
    """The exact upstream materializations a partition's latest materialization read, with
    depth (never materialized: what the definitions say it would read)."""
    from flowstone_cli.api import lineage as api

    state = state_of(ctx, json_flag=json_flag)
    with _paused_gc():
        answer = api.upstream(load(state), asset, partition, depth=depth, tenant=tenant)
    if state.json:
        state.printer.emit_json(answer.to_dict())
        return
    _head(state, answer.key, answer.materialization)
    if not answer.recorded:
        state.printer.line("from the definitions, it would read (not recorded):")
    _entries(state, answer.entries, title=f"upstream of {answer.key}", link="read by")
    _decisions(state, answer.checkpoints)


def _decisions(state: Any, checkpoints: Any) -> None:
    """The approval trail of checkpoint partitions in an answer."""
    for request in checkpoints:
        where = request["checkpoint"] + (f"[{request['partition']}]" if request["partition"]
                                         else "")
        decision = request["status"] + (f" by {request['decided_by']}"
                                        if request.get("decided_by") else "")
        reason = f" ({request['reason']})" if request.get("reason") else ""
        patched = (f" · patched {request['before_hash'][:12]} -> {request['after_hash'][:12]}"
                   if request.get("patch") else "")
        state.printer.line(f"checkpoint {where}: request {request['request_id']} "
                           f"{decision}{reason}{patched}")


@lineage_app.command("downstream")
def downstream(ctx: typer.Context, asset: AssetArg, partition: KeyOpt = None,
               depth: DepthOpt = None, tenant: TenantOpt = None,
               json_flag: JsonOpt = False) -> None:
    """Recorded consumers of a partition, and the partitions that read it by the definitions."""
    from flowstone_cli.api import lineage as api

    state = state_of(ctx, json_flag=json_flag)
    with _paused_gc():
        answer = api.downstream(load(state), asset, partition, depth=depth, tenant=tenant)
    if state.json:
        state.printer.emit_json(answer.to_dict())
        return
    _head(state, answer.key, answer.materialization)
    _entries(state, answer.recorded, title=f"recorded consumers of {answer.key}", link="reads")
    _entries(state, answer.expected, title="by the definitions", link="reads")
    _decisions(state, answer.checkpoints)


@lineage_app.command("impact")
def impact(ctx: typer.Context, asset: AssetArg, partition: KeyOpt = None,
           tenant: TenantOpt = None, json_flag: JsonOpt = False) -> None:
    """If this partition changed now, every downstream partition that would become stale."""
    from flowstone_cli.api import lineage as api

    state = state_of(ctx, json_flag=json_flag)
    with _paused_gc():
        answer = api.impact(load(state), asset, partition, tenant=tenant)
    if state.json:
        state.printer.emit_json(answer.to_dict())
        return
    printer = state.printer
    printer.line(f"if {answer.key} changed now, {len(answer.impacted)} materialized "
                 f"partition(s) would become stale")
    printer.table(["asset", "stale partitions"], list(answer.counts.items()))
    printer.table(["depth", "partition", "materialization", "recorded as reading it"],
                  [(e.depth, str(e.key), e.materialization.step_id if e.materialization
                    else "", "yes" if e.recorded else "no") for e in answer.impacted])
    if answer.missing:
        printer.line("never materialized (already stale): " + ", ".join(
            f"{a} {n}" for a, n in answer.missing.items()))
    _decisions(state, answer.checkpoints)


def status(ctx: typer.Context, selection: OptionalSelection = None, exclude: ExcludeOpt = None,
           partition: PartitionOpt = None, partitions: PartitionRangeOpt = None,
           json_flag: JsonOpt = False) -> None:
    """Stale steps and why: what `materialize SEL` would run. Exits 0 either way.

    Without --partition/--partitions, partitioned assets are checked on every partition that
    was ever attempted."""
    from flowstone_cli.api import status as api
    from flowstone_cli.cli.commands.run import partition_request

    state = state_of(ctx, json_flag=json_flag)
    with _paused_gc():
        report = api.status(load(state), selection or ["*"], exclude or (),
                            partitions=partition_request(partition, partitions))
    if state.json:
        state.printer.emit_json(report.to_dict())
        return
    printer = state.printer
    if report.stale:
        printer.table(["step", "reason", "materialized (UTC)"],
                      [(s.asset if s.partition is None else f"{s.asset}[{s.partition}]",
                        s.reason, _time(s.materialized_at)) for s in report.stale])
        reasons = ", ".join(f"{r}: {n}" for r, n in report.counts.items())
        printer.line(f"{len(report.stale)} of {report.checked} steps stale ({reasons})")
    else:
        printer.line(f"all {report.checked} steps up to date")
    if report.not_checked:
        printer.line(f"not checked (no partition ever attempted; use --partition): "
                     f"{', '.join(report.not_checked)}")


def report(ctx: typer.Context, selection: OptionalSelection = None, exclude: ExcludeOpt = None,
           since: Annotated[str | None, typer.Option(
               "--since", metavar="WHEN",
               help="Only attempts that ended on or after this date or time (UTC "
               "unless a zone is given).", show_default=False)] = None,
           fmt: Annotated[str | None, typer.Option(
               "--format", "-f", metavar="md|html|json|csv",
               help="md, html, json or csv (default: md; json with --json).",
               show_default=False)] = None,
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="Write to this file instead of stdout.",
               show_default=False)] = None,
           force: Annotated[bool, typer.Option(
               "--force", help="Overwrite an existing --output file that is not a report.")
           ] = False,
           json_flag: JsonOpt = False) -> None:
    """Export materialization history, lineage and the audit trail of runs for a selection."""
    from flowstone_cli.api import report as api

    state = state_of(ctx, json_flag=json_flag)
    chosen_format = fmt or ("json" if state.json else "md")
    project = load(state)
    target = None if output is None else api.check_output(project, output, force=force)
    result = api.make_report(project, selection or ["*"], exclude or (), since=since)
    text = state.printer.clean(api.render(result, chosen_format))
    if target is None:
        state.printer.plain(text)
        return
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the report to {output}: {exc.strerror or exc}",
                         hint="Check that the folder exists and is writable.") from None
    message = (f"wrote {output} ({chosen_format}: {len(result.assets)} assets, "
               f"{len(result.history)} attempts, {len(result.runs)} runs)")
    if state.json and chosen_format != "json":
        state.printer.emit_json({"output": str(output), "format": chosen_format})
    else:
        state.printer.err.print(message, markup=False, highlight=False)


def sql(ctx: typer.Context,
        query: Annotated[str, typer.Argument(help="One SELECT statement over the metadata "
                                             "tables (see docs/metadata.md).")],
        csv_flag: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
        timeout: Annotated[float, typer.Option(
            "--timeout", help="Stop the query after this many seconds (0: no limit).")] = 5.0,
        limit: Annotated[int, typer.Option(
            "--limit", help="Print at most this many rows (0: all).")] = 1000,
        json_flag: JsonOpt = False) -> None:
    """Run a read-only SQL query on the metadata store (no writes, no file or network access)."""
    from flowstone_cli.api import sql as api

    state = state_of(ctx, json_flag=json_flag)
    if csv_flag and state.json:
        raise UsageError("give either --json or --csv, not both")
    if timeout < 0 or limit < 0:
        raise UsageError("--timeout and --limit must not be negative")
    result = api.run_sql(load(state), query, timeout=timeout or None, limit=limit or None)
    values = [[_cell(v) for v in row] for row in result.rows]
    if state.json:
        state.printer.emit_json({"columns": list(result.columns), "types": list(result.types),
                                 "rows": values, "truncated": result.truncated})
    elif csv_flag:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(values)
        state.printer.plain(out.getvalue())  # through the printer: secrets are redacted
    else:
        state.printer.table(list(result.columns), values, title=f"{len(values)} rows")
    if result.truncated and not state.json:
        state.printer.err.print(f"only the first {limit} rows are shown; raise --limit "
                                "(0: all)", markup=False)


def _cell(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def wipe(ctx: typer.Context, asset: AssetArg,
         partition: Annotated[list[str] | None, typer.Option(
             "--partition", metavar="KEY", help="Only this partition (repeatable; default: every "
             "materialized partition).", show_default=False)] = None,
         yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for "
                                           "confirmation.")] = False,
         json_flag: JsonOpt = False) -> None:
    """Delete an asset's stored data and mark its materializations wiped; lineage stays."""
    from flowstone_cli.api import wipe as api

    state = state_of(ctx, json_flag=json_flag)
    project = load(state)
    plan = api.plan_wipe(project, asset, partition or ())
    if not plan.targets:
        if state.json:
            state.printer.emit_json(api.WipeResult(asset, (), 0, ()).to_dict())
        else:
            state.printer.line(f"nothing to wipe: `{asset}` has no materialized value"
                               + (" in those partitions" if partition else ""))
        return
    what = (f"{len(plan.targets)} partition(s) of `{asset}`" if plan.targets[0].partition
            is not None else f"`{asset}`")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"wipe would delete the stored data of {what} and needs "
                             "confirmation, but there is no terminal to ask on",
                             hint="Run it in a terminal, or pass --yes.")
        if not typer.confirm(f"Delete the stored data of {what} ({plan.step_count} "
                             "materialization(s))?"):
            state.printer.line("nothing deleted")
            return
    result = api.wipe(project, plan, on_wait=lambda runs: state.printer.err.print(
        f"waiting for run {', '.join(sorted(runs))} to finish before wiping {what}",
        markup=False, highlight=False))
    if state.json:
        state.printer.emit_json(result.to_dict())
        return
    state.printer.line(f"wiped {what}: {result.marked} materialization(s) marked wiped, "
                       f"{len(result.deleted)} value(s) deleted; lineage kept")
    for uri in result.deleted:
        state.printer.line(f"  deleted {uri}")
    if result.skipped_managers:
        state.printer.line("  not deleted (I/O manager no longer configured): "
                           + ", ".join(result.skipped_managers))


def register(app: typer.Typer) -> None:
    """Add `lineage`, `status`, `report`, `sql` and `wipe`."""
    app.add_typer(lineage_app, name="lineage")
    app.command()(status)
    app.command()(report)
    app.command()(sql)
    app.command()(wipe)
