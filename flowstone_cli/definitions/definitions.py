"""`Definitions`: the immutable, validated set of a project's assets and their graph."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flowstone_cli.dag import DAG
from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.automation import ScheduleSpec, SensorSpec
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.errors import NotFoundError


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ` (did you mean `x`?)` suffix when a close match exists, else an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


@dataclass(frozen=True)
class Definitions:
    """A project's validated definitions. Made once per command and passed explicitly.

    Attributes:
        assets: asset name -> spec, in definition order.
        dag: the dependency graph over asset names.
        order: asset names in a topological order (dependencies first).
    """

    assets: Mapping[str, AssetSpec]
    dag: DAG[str]
    order: tuple[str, ...]
    schedules: Mapping[str, ScheduleSpec] = field(default_factory=dict)
    sensors: Mapping[str, SensorSpec] = field(default_factory=dict)
    checks: Mapping[str, tuple[AssetCheckSpec, ...]] = field(default_factory=dict)

    @classmethod
    def from_specs(cls, specs: Iterable[AssetSpec], schedules: Iterable[ScheduleSpec] = (),
                   sensors: Iterable[SensorSpec] = (),
                   checks: Iterable[AssetCheckSpec] = ()) -> Definitions:
        """Build definitions from specs that already passed validation.

        Raises:
            ValueError: the specs have a cycle (validation should have caught it).
        """
        assets = {spec.name: spec for spec in specs}
        dag = DAG({name: spec.upstream for name, spec in assets.items()})
        order = tuple(dag.topological_order())
        by_asset: dict[str, list[AssetCheckSpec]] = {}
        for check in checks:
            by_asset.setdefault(check.asset, []).append(check)
        return cls(assets=MappingProxyType(assets), dag=dag, order=order,
                   schedules=MappingProxyType({s.name: s for s in schedules}),
                   sensors=MappingProxyType({s.name: s for s in sensors}),
                   checks=MappingProxyType({a: tuple(c) for a, c in by_asset.items()}))

    def checks_of(self, asset: str) -> tuple[AssetCheckSpec, ...]:
        """The checks declared for `asset`, in declaration order."""
        return self.checks.get(asset, ())

    @property
    def all_checks(self) -> list[AssetCheckSpec]:
        """Every check, by asset in topological order."""
        return [c for name in self.order for c in self.checks.get(name, ())]

    def __len__(self) -> int:
        return len(self.assets)

    def get(self, name: str) -> AssetSpec:
        """The spec named `name`.

        Raises:
            NotFoundError: no asset has that name; the message suggests a close match.
        """
        try:
            return self.assets[name]
        except KeyError:
            raise NotFoundError(f"no asset named `{name}`{did_you_mean(name, self.assets)}",
                                hint="Run `flowstone list` to see the project's assets.") from None

    @property
    def groups(self) -> list[str]:
        """Group names in first-seen order."""
        return list(dict.fromkeys(spec.group for spec in self.assets.values()))
