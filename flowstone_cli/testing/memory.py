"""`materialize_to_memory`: run assets with the real planner and coordinator, in memory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from flowstone_cli.api.materialize import MaterializeOptions, materialize
from flowstone_cli.api.wiring import build_resources
from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.definitions.checkpoint import CheckpointSpec, checkpoint_problems
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.errors import DefinitionError, NotFoundError
from flowstone_cli.execution.outcomes import RunSummary
from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.io.memory_manager import MemoryIOManager
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus, StepStatus
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.project.config import FlowStoneConfig, ProjectSection
from flowstone_cli.project.loader import Project, collect_specs, load_project, resolve_checkpoints
from flowstone_cli.project.validation import check_problems, validate_specs
from flowstone_cli.resources.base import ResourceSet

Target = str | os.PathLike[str] | ModuleType | Iterable[AssetSpec | AssetCheckSpec]
_FAILED = (StepStatus.FAILED, StepStatus.TIMED_OUT)


@dataclass
class MaterializeResult:
    """What `materialize_to_memory` did.

    Attributes:
        run_id: the run's id.
        summary: the run summary (`summary.counts`, `summary.status`).
        steps: every step row the run recorded (with errors and tracebacks).
        checks: every asset check result the run recorded.
    """

    run_id: str
    summary: RunSummary
    steps: list[StepRecord]
    checks: list[CheckRecord]
    _values: dict[tuple[str, str | None], Any] = field(repr=False, default_factory=dict)

    @property
    def success(self) -> bool:
        """True when every step ran or was up to date (no failure, nothing waiting)."""
        return self.summary.status is RunStatus.SUCCEEDED

    @property
    def failures(self) -> list[StepRecord]:
        """Steps that failed or timed out; `error_message` and `traceback` say why."""
        return [s for s in self.steps if s.status in _FAILED]

    def value(self, asset: str, partition: str | None = None) -> Any:
        """The value the run stored for `asset[partition]`.

        Raises:
            NotFoundError: the run did not materialize it.
        """
        try:
            return self._values[(asset, partition)]
        except KeyError:
            made = ", ".join(a if p is None else f"{a}[{p}]" for a, p in self._values) or "none"
            raise NotFoundError(f"the run did not materialize "
                                f"{asset if partition is None else f'{asset}[{partition}]'}",
                                hint=f"Materialized: {made}.") from None

    def step(self, asset: str, partition: str | None = None) -> StepRecord:
        """The last recorded step of `asset[partition]`.

        Raises:
            NotFoundError: the run has no step for it.
        """
        rows = [s for s in self.steps if (s.asset, s.partition) == (asset, partition)]
        if not rows:
            raise NotFoundError(f"the run has no step for {asset}"
                                + (f"[{partition}]" if partition else ""))
        return max(rows, key=lambda s: s.attempt)


class _GivenResources(ResourceSet):
    """The project's resources, with the test's objects used as they are for given names."""

    def __init__(self, given: Mapping[str, Any], configured: Mapping[str, Any]) -> None:
        super().__init__(configured)
        self._given = dict(given)

    def get(self, name: str) -> Any:
        if name in self._given:
            return self._given[name]
        return super().get(name)


def _changed(spec: AssetSpec, **changes: Any) -> AssetSpec:
    if isinstance(spec, CheckpointSpec):
        return spec.with_fields(**changes)
    return replace(spec, **changes)


def _given_value(values: Mapping[str | None, Any], asset: str) -> Any:
    def given(context: Any) -> Any:
        key = context.partition
        if key in values:
            return values[key]
        if None in values:
            return values[None]
        raise KeyError(f"inputs= has no value for {asset}[{key}]")
    return given


def _with_inputs(specs: list[AssetSpec], inputs: Mapping[Any, Any]) -> list[AssetSpec]:
    by_asset: dict[str, dict[str | None, Any]] = {}
    for key, value in inputs.items():
        asset, partition = key if isinstance(key, tuple) else (key, None)
        by_asset.setdefault(asset, {})[partition] = value
    names = {s.name for s in specs}
    unknown = sorted(set(by_asset) - names)
    if unknown:
        raise NotFoundError(f"inputs= names unknown asset(s): {', '.join(unknown)}",
                            hint=f"Known assets: {', '.join(sorted(names))}.")
    return [_changed(s, fn=_given_value(by_asset[s.name], s.name), inputs=(), deps=(),
                    wants_context=True, requires=(), explicit_code_version="given-by-test")
            if s.name in by_asset else s for s in specs]


def _definitions_of(target: Target) -> tuple[Project | None, list[AssetSpec],
                                             list[AssetCheckSpec]]:
    if isinstance(target, (str, os.PathLike)):
        project = load_project(Path(target).resolve(), os.environ)
        defs = project.definitions
        return project, list(defs.assets.values()), defs.all_checks
    items = list(collect_specs((target,)) + collect_specs((target,), AssetCheckSpec)) \
        if isinstance(target, ModuleType) else list(target)
    specs = resolve_checkpoints([i for i in items if isinstance(i, AssetSpec)])
    checks = [i for i in items if isinstance(i, AssetCheckSpec)]
    problems = [*validate_specs(specs, None), *check_problems(checks, specs),
                *checkpoint_problems(specs, None)]
    if problems:
        raise DefinitionError(problems)
    return None, specs, checks


def materialize_to_memory(target: Target, selection: str | Sequence[str] = "*", *,
                          partition: str | None = None, partitions: Sequence[str] = (),
                          resources: Mapping[str, Any] | None = None,
                          inputs: Mapping[Any, Any] | None = None,
                          tags: Mapping[str, str] | None = None) -> MaterializeResult:
    """Materialize a selection in memory and return what happened; never raises for a failed
    step (the failure is in the result, with its traceback).

    Args:
        target: a project folder, a module of assets, or a list of assets and checks.
        selection: selection terms as on the command line (`"+daily_report"`, `"group:x"`).
        partition: one partition key to run (or `partitions=[...]` for several).
        resources: name -> object to use as that resource (fakes welcome); other resources a
            project configures are set up as usual.
        inputs: values to use instead of computing assets: `{"raw": value}` for every
            partition, `{("raw", "2025-01-15"): value}` for one. Given assets are added to the
            selection and run as sources.
        tags: the run's tags.

    Raises:
        DefinitionError: the assets are not a valid project (every problem listed).
        SelectionError, PartitionError: the selection or partitions do not fit.
    """
    project, specs, checks = _definitions_of(target)
    specs = [_changed(s, io_manager="memory") for s in specs]
    if inputs:
        specs = _with_inputs(specs, inputs)
    terms = [selection] if isinstance(selection, str) else list(selection)
    terms += [name if isinstance(name, str) else name[0] for name in (inputs or {})]
    keys = tuple(partitions) + ((partition,) if partition is not None else ())
    definitions = Definitions.from_specs(specs, (), (), checks)
    given = dict(resources or {})
    with tempfile.TemporaryDirectory(prefix="flowstone-test-") as tmp:
        config = project.config if project is not None else \
            FlowStoneConfig(project=ProjectSection(name="test"))
        test_project = Project(root=project.root if project else Path(tmp), config=config,
                               definitions=definitions, storage_root=tmp,
                               metadata_path=Path(tmp) / "flowstone.duckdb",
                               secrets=project.secrets if project else frozenset(),
                               package=project.package if project else "")
        wanted = {r for s in specs for r in s.requires} - set(given)
        configured = build_resources(test_project, wanted & set(config.resources))
        manager = MemoryIOManager(tmp)
        runtime = StepRuntime(definitions.assets, {"memory": manager},
                              _GivenResources(given, configured),
                              tenant_dimension=config.project.tenant_dimension,
                              checks=definitions.checks)
        try:
            summary = materialize(test_project, MaterializeOptions(
                selection=terms, executor="inline", partitions=PartitionRequest(keys=keys),
                tags=dict(tags or {}), trigger="test", actor="test", command="test"),
                runtime=runtime)
        finally:
            runtime.resources.teardown()
        store = MetadataStore(test_project.metadata_path)
        with store.reader() as reader:
            steps = reader.steps_for_run(summary.run_id)
            recorded = reader.checks_for_runs([summary.run_id])
        values = {}
        for step in steps:
            if step.status is StepStatus.SUCCEEDED:
                context = runtime.store_context(step.asset, step.partition, summary.run_id)
                values[(step.asset, step.partition)] = manager.load(context)
        manager.clear()
    return MaterializeResult(summary.run_id, summary, steps, recorded, values)
