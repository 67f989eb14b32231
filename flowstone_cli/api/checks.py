"""Checks `flowstone check` adds to load-time validation: ones that need the selection
machinery (schedule and sensor targets). Kept light: `list` and `check` import it."""

from __future__ import annotations

from flowstone_cli.errors import FlowStoneError, Problem
from flowstone_cli.partitions import MultiPartitions, TimeWindowPartitions
from flowstone_cli.planning.selection import select
from flowstone_cli.project.loader import Project


def target_problems(project: Project) -> list[Problem]:
    """Schedules and sensors whose target selects nothing, or whose partition="latest" has
    no time partitions to take the latest of."""
    definitions = project.definitions
    problems: list[Problem] = []
    for spec in [*definitions.schedules.values(), *definitions.sensors.values()]:
        try:
            chosen = select(definitions, [spec.target], state=lambda term: set(definitions.assets))
        except FlowStoneError as exc:
            problems.append(Problem("bad_target", f"{spec.kind} `{spec.name}`: {exc.message}",
                                    spec.location, exc.hint))
            continue
        if getattr(spec, "partition", None) == "latest":
            timed = [a for a in chosen.assets
                     if isinstance(definitions.assets[a].partitions, TimeWindowPartitions)
                     or (isinstance(definitions.assets[a].partitions, MultiPartitions)
                         and definitions.assets[a].partitions.time_dimension)]
            if not timed:
                problems.append(Problem("bad_schedule_partition", f"schedule `{spec.name}`: "
                                        "partition=\"latest\" needs a time-partitioned asset in "
                                        f"`{spec.target}`", spec.location,
                                        "Drop partition=, or target time-partitioned assets."))
    return problems
