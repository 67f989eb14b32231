"""The examples that end each command's `--help` (shown as the help's last block)."""

from __future__ import annotations

from typing import Any

# Command path (as typed after `flowstone`) -> 2 or 3 example command lines.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("flowstone init my_project", "flowstone -p my_project materialize '*'",
         "flowstone help selection"),
    "approve": ("flowstone checkpoints list --status pending",
                "flowstone approve 3f2a --reason 'numbers checked'",
                "flowstone approve --backfill 9c1e --reason 'January looks right'"),
    "backfill": ("flowstone backfill '+daily_report' --from 2025-01-01 --to 2025-01-31",
                 "flowstone backfill list", "flowstone backfill resume 9c1e"),
    "backfill run": ("flowstone backfill run '+daily_report' --from 2025-01-01 --to 2025-01-31",
                     "flowstone backfill run daily_report --partitions 2025-01-03 2025-01-09",
                     "flowstone backfill run raw_events --all --max-parallel 4"),
    "backfill cancel": ("flowstone backfill list", "flowstone backfill cancel 9c1e"),
    "backfill list": ("flowstone backfill list", "flowstone backfill list -n 5 --json"),
    "backfill resume": ("flowstone backfill resume 9c1e",
                        "flowstone backfill resume 9c1e --executor inline"),
    "backfill show": ("flowstone backfill show 9c1e", "flowstone --json backfill show 9c1e"),
    "check": ("flowstone check", "flowstone -p example_project check"),
    "check-assets": ("flowstone check-assets cleaned_events",
                     "flowstone check-assets 'group:analytics' "
                     "--partitions 2025-01-01..2025-01-31"),
    "checkpoints": ("flowstone checkpoints list", "flowstone checkpoints show 3f2a"),
    "checkpoints expire": ("flowstone checkpoints expire",
                           "flowstone checkpoints expire --json"),
    "checkpoints list": ("flowstone checkpoints list",
                         "flowstone checkpoints list --status pending"),
    "checkpoints show": ("flowstone checkpoints show 3f2a",
                         "flowstone --json checkpoints show 3f2a"),
    "checks": ("flowstone checks list",
               "flowstone checks show cleaned_events.not_null_user_id"),
    "checks list": ("flowstone checks list", "flowstone --json checks list"),
    "checks show": ("flowstone checks show cleaned_events.not_null_user_id",
                    "flowstone checks show not_null_user_id -n 5"),
    "cron": ("flowstone cron", "flowstone cron | crontab -"),
    "graph": ("flowstone graph", "flowstone graph '+daily_report' --format mermaid",
              "flowstone graph --format dot | dot -Tsvg > graph.svg"),
    "help": ("flowstone help", "flowstone help selection", "flowstone help exit-codes"),
    "init": ("flowstone init my_project", "flowstone init my_project --template default",
             "flowstone templates"),
    "lineage": ("flowstone lineage upstream daily_report --partition 2025-01-15",
                "flowstone lineage impact raw_events --partition 2025-01-15"),
    "lineage downstream": ("flowstone lineage downstream raw_events --partition 2025-01-15",
                           "flowstone lineage downstream user_profiles --depth 1"),
    "lineage impact": ("flowstone lineage impact raw_events --partition 2025-01-15",
                       "flowstone --json lineage impact user_profiles"),
    "lineage upstream": ("flowstone lineage upstream daily_report --partition 2025-01-15",
                         "flowstone lineage upstream daily_report --partition 2025-01-15 "
                         "--depth 1"),
    "list": ("flowstone list", "flowstone list 'tag:tier=gold,group:analytics'",
             "flowstone list 'status:stale+'"),
    "materialize": ("flowstone materialize '+daily_report' --partition 2025-02-03",
                    "flowstone materialize 'group:analytics' --partitions "
                    "2025-01-01..2025-01-07 --workers 2",
                    "flowstone materialize user_profiles --force --executor inline"),
    "partitions": ("flowstone partitions status daily_report",
                   "flowstone partitions add customers acme globex"),
    "partitions add": ("flowstone partitions add customers acme globex",
                       "flowstone partitions list customers"),
    "partitions list": ("flowstone partitions list customers",
                        "flowstone --json partitions list customers"),
    "partitions remove": ("flowstone partitions remove customers globex",
                          "flowstone partitions list customers"),
    "partitions status": ("flowstone partitions status daily_report",
                          "flowstone partitions status tenant_orders --tenant acme"),
    "plan": ("flowstone plan '+daily_report' --partition 2025-02-03",
             "flowstone plan 'modified+'", "flowstone plan '*' --force"),
    "reject": ("flowstone reject 3f2a --reason 'totals do not match the ledger'",
               "flowstone checkpoints list --status rejected"),
    "report": ("flowstone report '*' --format html -o report.html",
               "flowstone report 'group:analytics' --since 2025-01-01",
               "flowstone report --format csv"),
    "resources": ("flowstone resources check", "flowstone --json resources check"),
    "resources check": ("flowstone resources check", "flowstone --json resources check"),
    "runs": ("flowstone runs list", "flowstone runs show 4b7d", "flowstone runs resume 4b7d"),
    "runs cancel": ("flowstone runs list --status running", "flowstone runs cancel 4b7d",
                    "flowstone runs cancel 4b7d --wait 0"),
    "runs export-otel": ("flowstone runs export-otel 4b7d",
                         "flowstone runs export-otel --since 2025-01-01 "
                         "--endpoint http://127.0.0.1:4318"),
    "runs list": ("flowstone runs list", "flowstone runs list --status failed -n 5",
                  "flowstone --json runs list"),
    "runs logs": ("flowstone runs logs 4b7d", "flowstone --json runs logs 4b7d"),
    "runs resume": ("flowstone runs resume 4b7d", "flowstone runs resume 4b7d --workers 2"),
    "runs show": ("flowstone runs show 4b7d", "flowstone --json runs show 4b7d"),
    "schedules": ("flowstone schedules list", "flowstone schedules preview nightly"),
    "schedules list": ("flowstone schedules list", "flowstone --json schedules list"),
    "schedules preview": ("flowstone schedules preview nightly",
                          "flowstone schedules preview nightly -n 3"),
    "sensors": ("flowstone sensors list", "flowstone --json sensors list"),
    "sensors list": ("flowstone sensors list", "flowstone --json sensors list"),
    "show": ("flowstone show daily_report", "flowstone --json show daily_report"),
    "gc": ("flowstone gc", "flowstone --json gc"),
    "sql": ("flowstone sql 'SELECT status, count(*) FROM runs GROUP BY status'",
            "flowstone sql --csv 'SELECT * FROM materializations LIMIT 10'"),
    "status": ("flowstone status", "flowstone status '+daily_report' --partition 2025-02-03"),
    "templates": ("flowstone templates", "flowstone init my_project --template default"),
    "tick": ("flowstone tick", "flowstone tick --now 2025-02-03T02:00:00+00:00"),
    "ui": ("flowstone ui", "flowstone ui --port 9000 --no-open",
           "flowstone ui --read-only --host 0.0.0.0"),
    "wipe": ("flowstone wipe daily_report --partition 2025-01-15",
             "flowstone wipe user_profiles"),
}


def epilog_for(path: str) -> str | None:
    """The `Examples:` block for a command path, as rich text that keeps its line breaks."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    body = "\n".join(f"  $ {line}" for line in lines)
    return "Examples:\n" + body.replace("[", "\\[")


def attach(app: Any, prefix: str = "") -> None:
    """Give every command and group of a Typer app its examples (an epilog), recursively."""
    if getattr(app.info, "epilog", None) in (None, "") or _is_default(app.info.epilog):
        app.info.epilog = epilog_for(prefix)
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        path = f"{prefix} {name}".strip()
        if not command.epilog:
            command.epilog = epilog_for(path)
    for group in app.registered_groups:
        name = group.name if not _is_default(group.name) else group.typer_instance.info.name
        attach(group.typer_instance, f"{prefix} {name}".strip())


def _is_default(value: Any) -> bool:
    return type(value).__name__ == "DefaultPlaceholder"
