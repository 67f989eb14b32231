"""`flowstone help [TOPIC]`: short guides that a `--help` table has no room for."""

from __future__ import annotations

from typing import Annotated

import typer

from flowstone_cli.errors import UsageError

DOCS = "docs"  # the guides ship in the source tree's docs/ folder

TOPICS: dict[str, tuple[str, str, str]] = {
    "selection": ("How to pick assets (SELECTOR)", "cli.md#selection", """\
Terms separated by spaces are a union; --exclude SELECTOR removes assets.
  name                  the asset                         daily_report
  +name / name+         it and everything up / downstream +daily_report
  2+name, name+1        that many levels up / down        1+daily_metrics
  @name                 it, its downstream, and all that downstream needs
  group:NAME            every asset of a group            group:analytics
  tag:KEY[=VALUE]       assets with that tag (and value)  tag:tier=gold
  *                     every asset (quote it: '*')
  daily_*, group:ana*   globs in names, groups, tag values
  A,B                   intersection: assets every part selects
  status:stale          what `flowstone status` lists as stale
  status:failed         a partition's last attempt failed
  status:never          never materialized
  modified              code changed since the last materialization
Graph operators work on every form: modified+ rebuilds what an edit touched.
Try a selection without running anything: flowstone list SELECTOR"""),
    "partitions": ("Choosing partitions", "partitions.md", """\
A partitioned asset is computed, stored and skipped-when-up-to-date per partition key.
  --partition KEY              one key (repeatable), e.g. 2025-01-15
  --partition dim=K,dim=K      a key of a multi-dimensional asset, in any order
  --partitions START..END      an inclusive range, e.g. 2025-01-01..2025-01-31
  backfill SELECTOR --from START --to END   many partitions, resumable
  partitions status ASSET      materialized, failed and missing partitions
Keys outside the definition's range are refused with the first or last key."""),
    "exit-codes": ("What the exit status means", "cli.md#exit-codes", """\
  0    everything done (or nothing to do)
  1    a step failed or timed out; also an unexpected internal error
  2    bad input: usage, configuration or definitions
  3    paused, waiting for approval (flowstone approve / reject)
  4    the metadata store was held by another process past [metadata] lock_timeout
  130  interrupted with Ctrl-C; the run is recorded as canceled"""),
}


def help_command(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Argument(
        metavar="TOPIC", help="selection, partitions or exit-codes.", show_default=False)] = None,
) -> None:
    """Guides to selection, partitions and exit codes (or the list of topics)."""
    if topic is None:
        typer.echo("Topics (flowstone help TOPIC):")
        for name, (title, _page, _text) in TOPICS.items():
            typer.echo(f"  {name:<12} {title}")
        typer.echo("Every command: flowstone COMMAND --help")
        return
    if topic not in TOPICS:
        raise UsageError(f"no help topic `{topic}`",
                         hint="Topics: " + ", ".join(TOPICS) + ".")
    title, page, text = TOPICS[topic]
    typer.echo(f"{title}\n\n{text}\n\nMore: {DOCS}/{page} in the FlowStone sources")
    del ctx


def register(app: typer.Typer) -> None:
    """Add `flowstone help`."""
    app.command("help")(help_command)
