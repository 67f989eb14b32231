"""`@checkpoint`: a node of the asset graph where a person may have to approve a value.

    @checkpoint(timeout="24h", on_timeout="reject", escalate_after="4h", notify=["slack"])
    def quality_review(context, daily_report):
        return daily_report["confidence"] < 0.9       # True: a person must decide

Downstream assets depend on the checkpoint by its name and receive the upstream value once it
is approved (or the approver's modified value). When the condition is False the value passes
straight through and the pass is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flowstone_cli.definitions.asset import AssetSpec, build_asset_spec
from flowstone_cli.durations import parse_duration
from flowstone_cli.errors import DefinitionError, FlowStoneError, Problem

ON_TIMEOUT = ("reject", "approve")


class CheckpointSpec(AssetSpec):
    """An `AssetSpec` whose function is a condition, plus the approval settings.

    The checkpoint is stored like an asset (its value is the approved upstream value), so
    everything that works for assets — plans, partitions, lineage, staleness — works for it.
    """

    kind = "checkpoint"

    def __init__(self, base: AssetSpec, *, timeout: str | None, on_timeout: str,
                 escalate_after: str | None, notify: tuple[str, ...],
                 inherit_partitions: bool = False, inherit_io_manager: bool = False) -> None:
        fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
        super().__init__(**fields)
        object.__setattr__(self, "approval_timeout", timeout)
        object.__setattr__(self, "on_timeout", on_timeout)
        object.__setattr__(self, "escalate_after", escalate_after)
        object.__setattr__(self, "notify", notify)
        object.__setattr__(self, "inherit_partitions", inherit_partitions)
        object.__setattr__(self, "inherit_io_manager", inherit_io_manager)

    def resolved(self, upstream: AssetSpec) -> CheckpointSpec:
        """This checkpoint with the upstream's partitions and I/O manager where it gave none,
        so it stores one decision per upstream partition, in the upstream's format."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if self.inherit_partitions:
            fields["partitions"] = upstream.partitions
        if self.inherit_io_manager:
            fields["io_manager"] = upstream.io_manager
        return CheckpointSpec(AssetSpec(**fields), timeout=self.approval_timeout,
                              on_timeout=self.on_timeout, escalate_after=self.escalate_after,
                              notify=self.notify)

    def with_fields(self, **changes: Any) -> CheckpointSpec:
        """A copy with some `AssetSpec` fields changed (`dataclasses.replace` for checkpoints)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields.update(changes)
        return CheckpointSpec(AssetSpec(**fields), timeout=self.approval_timeout,
                              on_timeout=self.on_timeout, escalate_after=self.escalate_after,
                              notify=self.notify, inherit_partitions=self.inherit_partitions,
                              inherit_io_manager=self.inherit_io_manager)

    def deadlines(self, requested_at: datetime) -> tuple[datetime | None, datetime | None]:
        """When a request made at `requested_at` times out, and when it escalates."""
        timeout = (requested_at + parse_duration(self.approval_timeout)
                   if self.approval_timeout else None)
        escalate = (requested_at + parse_duration(self.escalate_after)
                    if self.escalate_after else None)
        return timeout, escalate

    @property
    def upstream_input(self) -> str:
        """The single upstream asset whose value is under review."""
        return self.inputs[0] if self.inputs else ""


def checkpoint(fn: Callable[..., Any] | None = None, /, *, timeout: str | None = None,
               on_timeout: str = "reject", escalate_after: str | None = None,
               notify: Iterable[str] = (), description: str | None = None,
               name: str | None = None, group: str | None = None,
               io_manager: str | None = None, partitions: Any = None,
               partition_mappings: Any = None, tags: Any = None) -> Any:
    """Declare a checkpoint whose function decides whether a person must approve.

    Args:
        timeout: after this long (e.g. "24h") an undecided request is decided by `on_timeout`.
        on_timeout: "reject" (default) or "approve".
        escalate_after: after this long the request is escalated once and `notify` is told.
        notify: names of `[notifications.NAME]` sections to tell about requests, escalations
            and decisions.
        description: free text (default: the docstring's first paragraph).
        name, group, io_manager, partitions, partition_mappings, tags: as for `@asset`;
            partitions default to the upstream's being mapped one-to-one.
    """

    def decorate(func: Callable[..., Any]) -> CheckpointSpec:
        if on_timeout not in ON_TIMEOUT:
            code = getattr(func, "__code__", None)
            where = f"{code.co_filename}:{code.co_firstlineno}" if code else ""
            raise DefinitionError([Problem("bad_argument", f"@checkpoint(on_timeout="
                                           f"{on_timeout!r}) must be 'reject' or 'approve'",
                                           where)])
        base = build_asset_spec(func, name=name, io_manager=io_manager, partitions=partitions,
                                partition_mappings=partition_mappings, description=description,
                                group=group, tags=tags)
        return CheckpointSpec(base, timeout=timeout, on_timeout=on_timeout,
                              escalate_after=escalate_after, notify=tuple(notify),
                              inherit_partitions=partitions is None,
                              inherit_io_manager=io_manager is None)

    return decorate(fn) if fn is not None else decorate


def checkpoint_problems(specs: list[AssetSpec], notifications: Iterable[str] | None
                        ) -> list[Problem]:
    """Load-time checks of checkpoints: one data dependency, durations, notify targets."""
    problems: list[Problem] = []
    known = None if notifications is None else set(notifications)
    for spec in specs:
        if not isinstance(spec, CheckpointSpec):
            continue
        if len(spec.inputs) != 1:
            problems.append(Problem("checkpoint_inputs", f"checkpoint `{spec.name}` must take "
                                    f"exactly one upstream value, it takes {len(spec.inputs)} "
                                    f"({', '.join(spec.inputs) or 'none'})", spec.location,
                                    "Write def name(context, upstream_asset): ..."))
        for what, value in (("timeout", spec.approval_timeout),
                            ("escalate_after", spec.escalate_after)):
            if value is not None:
                try:
                    parse_duration(value, what=f"{what}=")
                except FlowStoneError as exc:
                    problems.append(Problem("bad_duration", f"checkpoint `{spec.name}`: "
                                            f"{exc.message}", spec.location, exc.hint))
        if known is not None:
            for target in spec.notify:
                if target not in known:
                    problems.append(Problem("unknown_notification", f"checkpoint `{spec.name}` "
                                            f"notifies `{target}`, which is not configured",
                                            spec.location, f"Add [notifications.{target}] to "
                                                           "flowstone.toml."))
    return problems
