"""The frozen `Plan`: the steps (asset x partition) a command will consider, in dependency order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import NamedTuple

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.planning.selection import Selection


class StepKey(NamedTuple):
    """Identifies one step: an asset and, when partitioned, one partition key."""

    asset: str
    partition: str | None = None

    def __str__(self) -> str:
        return self.asset if self.partition is None else f"{self.asset}[{self.partition}]"


class Action(str, Enum):
    """What a plan will do with a step."""

    RUN = "run"
    SKIP = "skip"
    BLOCKED = "blocked"  # a checkpoint waiting for (or refused) approval; downstream waits


@dataclass(frozen=True)
class PlannedStep:
    """One step of a plan.

    Attributes:
        key: the asset and partition.
        inputs: upstream steps whose values this step loads, in parameter order.
        deps: upstream steps it only waits for (`deps=`), never loads.
        included_because: why the step is in the plan ("selected", "upstream of x").
        action: run or skip.
        reason: why it will run or skip ("missing", "code changed", "up to date", ...).
    """

    key: StepKey
    inputs: tuple[StepKey, ...] = ()
    deps: tuple[StepKey, ...] = ()
    included_because: str = "selected"
    action: Action = Action.RUN
    reason: str = "not yet materialized"

    @property
    def upstream(self) -> tuple[StepKey, ...]:
        """Every step this one waits for."""
        return tuple(dict.fromkeys(self.inputs + self.deps))

    def to_dict(self) -> dict[str, object]:
        """Plain data for `--json` output."""
        return {"asset": self.key.asset, "partition": self.key.partition,
                "action": self.action.value, "reason": self.reason,
                "included_because": self.included_because,
                "inputs": [str(k) for k in self.inputs], "deps": [str(k) for k in self.deps]}


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps where every step comes after the steps it waits for.

    Attributes:
        steps: the steps in dependency order.
        selection: the selection that produced the plan.
    """

    steps: tuple[PlannedStep, ...]
    selection: Selection
    _index: Mapping[StepKey, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._index:
            object.__setattr__(self, "_index", {s.key: i for i, s in enumerate(self.steps)})

    def __len__(self) -> int:
        return len(self.steps)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get(self, key: StepKey) -> PlannedStep:
        """The step with this key (KeyError if it is not in the plan)."""
        return self.steps[self._index[key]]

    @property
    def to_run(self) -> list[PlannedStep]:
        """The steps the plan will execute."""
        return [s for s in self.steps if s.action is Action.RUN]

    def decide(self, decisions: Mapping[StepKey, tuple[Action, str]]) -> Plan:
        """A copy of the plan with the given steps' action and reason replaced."""
        steps = tuple(replace(s, action=decisions[s.key][0], reason=decisions[s.key][1])
                      if s.key in decisions else s for s in self.steps)
        return Plan(steps=steps, selection=self.selection, _index=self._index)


UpstreamKeys = Callable[[str, "str | None", str], Sequence["str | None"]]


def build_plan(definitions: Definitions, selection: Selection, *,
               partitions_of: Mapping[str, Sequence[str | None]] | None = None,
               upstream_keys: UpstreamKeys | None = None) -> Plan:
    """Build the plan for a selection: one step per selected asset and partition.

    Args:
        definitions: the project's definitions.
        selection: the selected assets in dependency order.
        partitions_of: asset -> the partition keys to plan. Assets missing from the mapping get
            one unpartitioned step (partition None).
        upstream_keys: `(asset, partition, upstream_asset) -> upstream partitions` read by a
            step; by default the same key for a partitioned upstream, None otherwise.
    """
    partitions_of = partitions_of or {}

    def default_keys(asset: str, partition: str | None, up: str) -> Sequence[str | None]:
        return [partition if up in partitions_of else None]

    mapper = upstream_keys or default_keys
    steps: list[PlannedStep] = []
    for asset in selection.assets:
        spec = definitions.assets[asset]
        for partition in partitions_of.get(asset, (None,)):
            inputs = tuple(StepKey(up, p) for up in spec.inputs
                           for p in mapper(asset, partition, up))
            deps = tuple(StepKey(up, p) for up in spec.deps if up not in spec.inputs
                         for p in mapper(asset, partition, up))
            steps.append(PlannedStep(key=StepKey(asset, partition), inputs=inputs, deps=deps,
                                     included_because=selection.reasons[asset]))
    return Plan(steps=tuple(steps), selection=selection)
