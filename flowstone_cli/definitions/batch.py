"""Assets computed together in one batch by an external tool (dbt models are the first).

A `BatchAssetSpec` is an asset whose value lives in the tool's own storage (a warehouse table),
not in a FlowStone I/O manager, and whose steps the coordinator hands over in groups: every ready
step of the same batch runner and partition goes to the runner at once, so that the tool runs
once for all of them. The runner reports one `MemberOutcome` per step.

`AssetCollection` lets one call in an asset module define many assets (`dbt_assets(...)` returns
one); the project loader expands it. Sources of the tool that are named like a FlowStone asset
become dependencies through `optional_deps`, resolved when the whole project is known.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.context import StepLog
from flowstone_cli.errors import Problem

EXTERNAL_IO_MANAGER = "external"
"""The `io_manager` name of assets stored by their batch runner, not by an I/O manager."""


@dataclass(frozen=True)
class BatchMember:
    """One step handed to a batch runner.

    Attributes:
        step_id: the attempt's id (also its materialization id on success).
        asset: the asset name.
        partition: the partition key, or None.
        partition_window: for time partitions, `(start, end)` as ISO strings.
        partition_keys: for multi partitions, dimension -> key.
        run_id: the run.
        attempt: 1 for the first attempt.
        tags: the run's tags.
    """

    step_id: str
    asset: str
    partition: str | None
    partition_window: tuple[str, str] | None
    partition_keys: Mapping[str, str]
    run_id: str
    attempt: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberOutcome:
    """How a batch runner's tool ended one step, as plain data.

    Attributes:
        step_id: the member's step id.
        status: `succeeded`, `failed` or `skipped` (the tool did not run it because something
            it depends on failed; the coordinator skips it with that upstream as the reason).
        started_at: epoch seconds.
        ended_at: epoch seconds.
        rows: rows written, when the tool reports them.
        uri: where the value lives (e.g. `dbt://"warehouse"."main"."orders"`).
        metadata: what `runs show` displays for the step.
        logs: `(epoch seconds, level, message)` lines about this member.
        error_code: a stable code when failed.
        error_message: one line when failed.
        hint: what to do when failed.
    """

    step_id: str
    status: str
    started_at: float
    ended_at: float
    rows: int | None = None
    uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    logs: tuple[tuple[float, str, str], ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    hint: str = ""


class BatchRunner(Protocol):
    """Runs a group of `BatchAssetSpec` steps with one invocation of a tool.

    `key` identifies the runner: steps are grouped only with steps of the same key.
    """

    key: str

    def run(self, members: Sequence[BatchMember], log: StepLog) -> list[MemberOutcome]:
        """Run every member; lines not about one member go to `log`."""


def _not_callable(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("this asset is computed by its batch runner (e.g. dbt), not by a Python "
                    "function; materialize it with `flowstone materialize`")


@dataclass(frozen=True)
class BatchAssetSpec(AssetSpec):
    """An asset computed by a `BatchRunner` together with the other steps of its group.

    Attributes:
        runner: the batch runner (compared by identity, never pickled by tasks).
        optional_deps: names that become dependencies if the project has such assets
            (a dbt source named like a FlowStone asset).
        kind_label: what `list`/`show` call it (`dbt model`, `dbt seed`, ...).
    """

    fn: Any = field(default=_not_callable, repr=False, compare=False)
    io_manager: str = EXTERNAL_IO_MANAGER
    runner: Any = field(default=None, repr=False, compare=False)
    optional_deps: tuple[str, ...] = ()
    kind_label: str = "batch asset"


@dataclass(frozen=True)
class AssetCollection:
    """Several assets defined by one call; bind it at module level like an asset."""

    specs: tuple[AssetSpec, ...]

    def __iter__(self) -> Iterator[AssetSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, name: str) -> AssetSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """The assets' names, in definition order."""
        return [spec.name for spec in self.specs]


def is_batched(spec: AssetSpec) -> bool:
    """True for assets a batch runner computes."""
    return isinstance(spec, BatchAssetSpec) and spec.runner is not None


def resolve_optional_deps(specs: list[AssetSpec]) -> list[AssetSpec]:
    """Turn each batch asset's optional dependencies that name a project asset into deps."""
    names = {spec.name for spec in specs}
    resolved: list[AssetSpec] = []
    for spec in specs:
        if isinstance(spec, BatchAssetSpec) and spec.optional_deps:
            extra = tuple(d for d in spec.optional_deps if d in names and d not in spec.deps
                          and d != spec.name)
            spec = replace(spec, deps=spec.deps + extra, optional_deps=())
        resolved.append(spec)
    return resolved


def batch_problems(specs: Sequence[AssetSpec]) -> list[Problem]:
    """Python assets cannot receive a batch asset's value as a parameter: it lives in the
    tool's own storage, which the asset reads itself after declaring the dependency."""
    batched = {spec.name for spec in specs if isinstance(spec, BatchAssetSpec)}
    problems: list[Problem] = []
    for spec in specs:
        for param in spec.inputs:
            if param in batched:
                problems.append(Problem(
                    "batch_asset_parameter", f"parameter `{param}` of asset `{spec.name}` names "
                    f"a {kind_label_of(specs, param)}, whose table lives in the tool's warehouse, "
                    "not in a FlowStone I/O manager", spec.location,
                    f"Declare @asset(deps=[\"{param}\"]) and read the table from the "
                    "warehouse (see docs/dbt.md)."))
    return problems


def kind_label_of(specs: Sequence[AssetSpec], name: str) -> str:
    """The kind label of the batch asset `name` (`dbt model`, ...)."""
    for spec in specs:
        if spec.name == name and isinstance(spec, BatchAssetSpec):
            return spec.kind_label
    return "batch asset"
