"""Checks `flowstone check` adds to load-time validation: ones that need the selection
machinery (schedule and sensor targets). Kept light: `list` and `check` import it."""

from __future__ import annotations

from flowstone_cli.errors import FlowStoneError, Problem
from flowstone_cli.partitions import MultiPartitions, TimeWindowPartitions
from flowstone_cli.planning.selection import select
from flowstone_cli.project.loader import Project


def target_problems(project: Project) -> list[Problem]:
    """Schedules and sensors whose target selects nothing, schedules that would launch a
    partitioned target without partitions, or whose partition="latest" has no time partitions
    to take the latest of."""
    definitions = project.definitions
    problems: list[Problem] = []
    for spec in [*definitions.schedules.values(), *definitions.sensors.values()]:
        try:
            chosen = select(definitions, [spec.target], state=lambda term: set(definitions.assets))
        except FlowStoneError as exc:
            problems.append(Problem("bad_target", f"{spec.kind} `{spec.name}`: {exc.message}",
                                    spec.location, exc.hint))
            continue
        partitioned = [a for a in chosen.assets if definitions.assets[a].partitions is not None]
        if spec.kind == "schedule" and spec.fn is None and spec.partition is None and partitioned:
            # Every run it launches would stop at start-up asking which partitions to run.
            first = definitions.assets[partitioned[0]]
            problems.append(Problem(
                "bad_schedule_partition", f"schedule `{spec.name}` targets partitioned asset "
                f"`{first.name}` ({first.partitions.describe()}) without partition=: every "
                "run it launches would fail at start-up", spec.location,
                "Add partition=\"latest\" (the newest complete window) or a function of the "
                "fire time, or use @schedule on a function returning the keys."))
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
