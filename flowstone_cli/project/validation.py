"""Validation at load: every check that needs no user code to run, all problems in one pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from flowstone_cli.dag import DAG
from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.automation import ScheduleSpec, SensorSpec
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.definitions.batch import is_batched
from flowstone_cli.definitions.definitions import did_you_mean
from flowstone_cli.definitions.partitioning import partition_problems
from flowstone_cli.durations import parse_duration
from flowstone_cli.errors import FlowStoneError, Problem
from flowstone_cli.io.registry import BUILTIN_IO_MANAGERS
from flowstone_cli.keys import is_valid_asset_name
from flowstone_cli.project.config import FlowStoneConfig
from flowstone_cli.timing.cron import validate_cron, validate_timezone



def _names(specs: Iterable[AssetSpec]) -> list[str]:
    return list(dict.fromkeys(spec.name for spec in specs))


def check_names(specs: Sequence[AssetSpec]) -> list[Problem]:
    """Invalid identifiers and duplicate names (giving every location)."""
    problems: list[Problem] = []
    by_name: dict[str, list[AssetSpec]] = defaultdict(list)
    for spec in specs:
        by_name[spec.name].append(spec)
        if not is_valid_asset_name(spec.name):
            problems.append(Problem("invalid_name", f"asset name `{spec.name}` is not a valid "
                                    "identifier", spec.location,
                                    "Use letters, digits and underscores, not starting with a "
                                    "digit (at most 128 characters)."))
    for name, group in by_name.items():
        if len(group) > 1:
            places = " and ".join(s.location for s in group)
            problems.append(Problem("duplicate_name", f"asset `{name}` is defined "
                                    f"{len(group)} times: {places}", group[1].location,
                                    "Rename one of them, or pass name= to @asset."))
    return problems


def check_dependencies(specs: Sequence[AssetSpec]) -> list[Problem]:
    """Parameters that are not assets, unknown `deps=`, bad parameter kinds."""
    known = set(_names(specs))
    problems: list[Problem] = []
    for spec in specs:
        for param in spec.bad_params:
            problems.append(Problem("bad_parameter", f"parameter `{param}` of asset `{spec.name}` "
                                    "cannot be a dependency (*args, **kwargs and positional-only "
                                    "parameters are not allowed)", spec.location,
                                    "Name each upstream asset as its own parameter."))
        for param in spec.inputs:
            if param not in known:
                problems.append(Problem(
                    "unknown_parameter", f"parameter `{param}` of asset `{spec.name}` is neither "
                    f"`context` nor an asset{did_you_mean(param, known)}", spec.location,
                    "Parameters name upstream assets; rename it or define that asset."))
        for dep in spec.deps:
            if dep not in known:
                problems.append(Problem(
                    "unknown_dependency", f"asset `{spec.name}` depends on unknown asset "
                    f"`{dep}`{did_you_mean(dep, known)}", spec.location,
                    "Fix the name in deps=[...] or define that asset."))
    return problems


def check_cycles(specs: Sequence[AssetSpec]) -> list[Problem]:
    """One problem per independent cycle found, printing its path."""
    first = {}
    for spec in specs:
        first.setdefault(spec.name, spec)
    dag = DAG({name: spec.upstream for name, spec in first.items()})
    cycle = dag.find_cycle()
    if cycle is None:
        return []
    return [Problem("cycle", "dependency cycle: " + " -> ".join(cycle), first[cycle[0]].location,
                    "Remove one of these dependencies; assets must form a DAG.")]


def check_configured(specs: Sequence[AssetSpec], config: FlowStoneConfig) -> list[Problem]:
    """Every I/O manager, resource and pool an asset names must exist."""
    managers = set(BUILTIN_IO_MANAGERS) | set(config.io_managers)
    problems: list[Problem] = []
    for spec in specs:
        if spec.io_manager not in managers and not is_batched(spec):
            problems.append(Problem(
                "unknown_io_manager", f"asset `{spec.name}` uses I/O manager "
                f"`{spec.io_manager}`, which is not configured"
                f"{did_you_mean(spec.io_manager, managers)}", spec.location,
                f"Add [io_managers.{spec.io_manager}] to flowstone.toml, or use one of: "
                f"{', '.join(sorted(managers))}."))
        for resource in spec.requires:
            if resource not in config.resources:
                problems.append(Problem(
                    "unknown_resource", f"asset `{spec.name}` requires resource `{resource}`, "
                    f"which is not configured{did_you_mean(resource, config.resources)}",
                    spec.location, f"Add [resources.{resource}] with a `type` to "
                                   "flowstone.toml."))
        if spec.pool is not None and spec.pool not in config.pools:
            problems.append(Problem(
                "unknown_pool", f"asset `{spec.name}` uses pool `{spec.pool}`, which is not "
                f"configured{did_you_mean(spec.pool, config.pools)}", spec.location,
                f"Add `{spec.pool} = 4` (how many steps may run at once) under [pools] in "
                "flowstone.toml."))
    return problems


def check_options(specs: Sequence[AssetSpec]) -> list[Problem]:
    """Durations and other decorator arguments that can be checked without running code."""
    problems: list[Problem] = []
    for spec in specs:
        for what, value in (("timeout", spec.timeout), ("max_age", spec.max_age)):
            if value is None:
                continue
            try:
                parse_duration(value, what=f"{what}=")
            except FlowStoneError as exc:
                problems.append(Problem("bad_duration", f"asset `{spec.name}`: {exc.message}",
                                        spec.location, exc.hint))
    return problems


def memory_manager_problems(specs: Iterable[AssetSpec], config: FlowStoneConfig,
                            executor: str) -> list[Problem]:
    """Assets stored by the in-process `memory` manager cannot run on the process executor."""
    if executor not in ("process", "dask"):
        return []
    memory = {"memory"} | {name for name, section in config.io_managers.items()
                           if section.type == "memory"}
    return [Problem("memory_with_processes", f"asset `{spec.name}` uses the in-memory I/O "
                    f"manager `{spec.io_manager}`, which the {executor} executor cannot share "
                    "between workers", spec.location,
                    "Use `--executor inline` (or [executor] type = \"inline\"), or a file-based "
                    "I/O manager such as pickle.")
            for spec in specs if spec.io_manager in memory]


def validate_specs(specs: Sequence[AssetSpec], config: FlowStoneConfig | None) -> list[Problem]:
    """Run every load-time check and return all problems found."""
    problems = check_names(specs) + check_dependencies(specs) + check_options(specs)
    problems += check_cycles(specs)
    first = {}
    for spec in specs:
        first.setdefault(spec.name, spec)
    problems += partition_problems(first, config.project.tenant_dimension if config else None)
    if config is not None:
        problems += check_configured(specs, config)
    return problems


def automation_problems(schedules: Sequence[ScheduleSpec],
                        sensors: Sequence[SensorSpec]) -> list[Problem]:
    """Schedules and sensors: unique names, cron strings and time zones that work, catch-up
    policies, intervals. (Targets are checked against the assets by `flowstone check`.)"""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for spec in [*schedules, *sensors]:
        if not spec.name:
            problems.append(Problem("unnamed_schedule", f"a {spec.kind} has no name",
                                    spec.location, f"Pass name=... to {spec.kind}(...)."))
            continue
        if spec.name in seen:
            problems.append(Problem("duplicate_name", f"{spec.kind} `{spec.name}` is defined "
                                    f"twice: {seen[spec.name]} and {spec.location}",
                                    spec.location, "Schedules and sensors need unique names."))
        seen[spec.name] = spec.location
    for spec in schedules:
        problem = validate_cron(spec.cron)
        if problem:
            problems.append(Problem("bad_cron", f"schedule `{spec.name}`: cron {spec.cron!r}: "
                                    f"{problem}", spec.location,
                                    "Use 5 fields: minute hour day-of-month month day-of-week."))
        problem = validate_timezone(spec.timezone)
        if problem:
            problems.append(Problem("bad_timezone", f"schedule `{spec.name}`: {problem}",
                                    spec.location, "Use an IANA name such as Europe/Berlin."))
        if spec.catch_up not in ("latest", "all", "none"):
            problems.append(Problem("bad_catch_up", f"schedule `{spec.name}`: catch_up="
                                    f"{spec.catch_up!r}", spec.location,
                                    "Use \"latest\", \"all\" or \"none\"."))
        if not isinstance(spec.max_catch_up, int) or spec.max_catch_up < 1:
            problems.append(Problem("bad_catch_up", f"schedule `{spec.name}`: max_catch_up "
                                    "must be a positive integer", spec.location,
                                    "e.g. max_catch_up=24"))
        if not (spec.partition is None or spec.partition == "latest"
                or callable(spec.partition)):
            problems.append(Problem("bad_schedule_partition", f"schedule `{spec.name}`: "
                                    f"partition={spec.partition!r}", spec.location,
                                    "Use None, \"latest\" or a function of the fire time."))
    for spec in sensors:
        try:
            parse_duration(spec.interval, what="interval=")
        except FlowStoneError as exc:
            problems.append(Problem("bad_duration", f"sensor `{spec.name}`: {exc.message}",
                                    spec.location, exc.hint))
    return problems


def check_problems(checks: Sequence[AssetCheckSpec], specs: Sequence[AssetSpec]) -> list[Problem]:
    """Asset checks: the asset exists, names are unique per asset, built-in arguments are valid."""
    problems: list[Problem] = []
    names = [s.name for s in specs]
    seen: dict[str, AssetCheckSpec] = {}
    for check in checks:
        for message in check.problems:
            problems.append(Problem("bad_check", f"check `{check.full_name}`: {message}",
                                    check.location))
        if check.asset not in names:
            problems.append(Problem(
                "unknown_asset", f"check `{check.name}` names unknown asset `{check.asset}`"
                f"{did_you_mean(check.asset, names)}", check.location,
                "Name an asset defined in the project: `flowstone list` shows them."))
        other = seen.get(check.full_name)
        if other is not None:
            problems.append(Problem(
                "duplicate_check", f"check `{check.full_name}` is declared twice (also at "
                f"{other.location})", check.location, "Give one of them another `name=`."))
        seen.setdefault(check.full_name, check)
    return problems
