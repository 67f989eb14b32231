"""What `flowstone check` and `flowstone resources check` learn by building the configured I/O
managers: options a manager refuses, per-asset options that name no asset (a manager's
`configuration_problems`), and a server that cannot be reached (a manager's `health_check`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowstone_cli.errors import FlowStoneError, Problem
from flowstone_cli.project.config import CONFIG_FILE
from flowstone_cli.project.loader import Project


@dataclass(frozen=True)
class ManagerHealth:
    """One configured I/O manager that can check its back-end; `problem` None when healthy."""

    name: str
    type: str
    problem: str | None


def io_manager_health(project: Project) -> list[ManagerHealth]:
    """Run `health_check()` of every configured I/O manager that has one (a database
    manager connects); a manager that cannot even be built reports why."""
    # lazy: `check` and `list` import this module and must start fast
    from flowstone_cli.api.wiring import build_io_managers

    results: list[ManagerHealth] = []
    for name, section in project.config.io_managers.items():
        try:
            manager = build_io_managers(project, [name])[name]
        except FlowStoneError as exc:
            results.append(ManagerHealth(name, section.type, exc.message))
            continue
        check: Callable[[], str | None] | None = getattr(manager, "health_check", None)
        if callable(check):
            results.append(ManagerHealth(name, section.type, check()))
    return results


def io_manager_problems(project: Project) -> list[Problem]:
    """Problems of the configured I/O managers, for `flowstone check`."""
    # lazy: `check` and `list` import this module and must start fast
    from flowstone_cli.api.wiring import build_io_managers

    where = str(project.root / CONFIG_FILE)
    problems: list[Problem] = []
    users: dict[str, list[str]] = {}
    for spec in project.definitions.assets.values():
        users.setdefault(spec.io_manager, []).append(spec.name)
    for name, section in project.config.io_managers.items():
        try:
            manager = build_io_managers(project, [name])[name]
        except FlowStoneError as exc:
            problems.append(Problem("bad_io_manager", f"[io_managers.{name}]: {exc.message}",
                                    where, exc.hint))
            continue
        configured: Callable[..., list[str]] | None = getattr(manager, "configuration_problems",
                                                              None)
        if callable(configured):
            problems += [Problem("bad_io_manager", f"[io_managers.{name}]: {message}", where,
                                 "Fix the I/O manager's options in flowstone.toml.")
                         for message in configured(users.get(name, []))]
        check: Callable[[], str | None] | None = getattr(manager, "health_check", None)
        if callable(check):
            problem = check()
            if problem is not None:
                problems.append(Problem("io_manager_unreachable",
                                        f"[io_managers.{name}]: {problem}", where,
                                        "Start the server or fix the DSN, then run "
                                        "`flowstone check` again."))
    return problems
