"""Which partitions of each selected asset a command covers.

The user names partitions once (`--partition K`, `--partitions START..END`, `--all`); each
partitioned asset of the selection interprets them in its own definition when it can (a daily
key or range for a daily asset, the months a date range overlaps for a monthly one). Assets
that cannot (a monthly roll-up given a day, a multi-partitioned asset given a date) get the
partitions their neighbours in the selection map to through the partition mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.definitions.partitioning import downstream_keys, upstream_keys
from flowstone_cli.errors import FlowStoneError, PartitionError
from flowstone_cli.partitions import (
    DynamicPartitions,
    MultiPartitions,
    PartitionsDefinition,
    TimeWindowPartitions,
)
from flowstone_cli.planning.partition_range_errors import out_of_range
from flowstone_cli.planning.selection import Selection

DynamicKeys = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class PartitionRequest:
    """The partitions a command was asked for.

    Attributes:
        keys: explicit keys (`--partition K`, repeatable; `backfill --partitions K1 K2`).
        start, end: an inclusive range (`--partitions START..END`, `--from/--to`).
        all: every partition of each asset (`backfill --all`).
    """

    keys: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    all: bool = False

    @property
    def empty(self) -> bool:
        """True when no partition was asked for."""
        return not self.keys and self.start is None and not self.all

    def describe(self) -> str:
        """How the request was written, for messages."""
        if self.all:
            return "--all"
        if self.start is not None:
            return f"{self.start}..{self.end}"
        return ", ".join(self.keys)

    def to_dict(self) -> dict[str, object]:
        """Plain data, as recorded with a backfill."""
        if self.all:
            return {"all": True}
        if self.start is not None:
            return {"from": self.start, "to": self.end}
        return {"keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PartitionRequest:
        """The inverse of `to_dict`."""
        if data.get("all"):
            return cls(all=True)
        if "from" in data:
            return cls(start=str(data["from"]), end=str(data["to"]))
        return cls(keys=tuple(str(k) for k in data.get("keys", []) or []))  # type: ignore[union-attr]


def _parse_moment(text: str, zone: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text + "-01" if len(text) == 7 else text),
                                      time())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)  # type: ignore[arg-type]


def _time_range(definition: TimeWindowPartitions, start: str, end: str) -> list[str] | None:
    # A range written in another granularity: every window overlapping [start, end].
    zone = definition.window(definition.first_key)[0].tzinfo
    first, last = _parse_moment(start, zone), _parse_moment(end, zone)
    if first is None or last is None:
        return None
    try:
        first_key = definition.key_for_time(first)
        # `end` names a whole period (a day, a month): include the window holding its last instant.
        span = timedelta(days=1) if len(end) == 10 else timedelta(hours=1) if "T" in end else (
            timedelta(days=31) if len(end) == 7 else timedelta(0))
        last_key = definition.key_for_time(last + span - timedelta(microseconds=1)
                                           if span else last)
        return definition.key_range(first_key, last_key)
    except FlowStoneError:
        return None


def _direct(definition: PartitionsDefinition, request: PartitionRequest, *,
            now: datetime, dynamic_keys: DynamicKeys) -> list[str] | None:
    """Keys of `definition` for the request, or None when the request is not in its terms."""
    if request.all:
        return definition.keys(now=now, dynamic_keys=dynamic_keys)
    try:
        if request.start is not None:
            return definition.key_range(request.start, request.end or request.start,
                                        dynamic_keys=dynamic_keys)
        return [definition.validate_key(k, dynamic_keys=dynamic_keys) for k in request.keys]
    except PartitionError:
        if request.start is not None and isinstance(definition, TimeWindowPartitions):
            return _time_range(definition, request.start, request.end or request.start)
        if isinstance(definition, MultiPartitions) and definition.time_dimension:
            return _multi_by_time(definition, request, now=now, dynamic_keys=dynamic_keys)
        return None


def _multi_by_time(definition: MultiPartitions, request: PartitionRequest, *, now: datetime,
                   dynamic_keys: DynamicKeys) -> list[str] | None:
    """A date (or date range) given for a multi-partitioned asset with a time dimension means
    every combination of its other dimensions for those dates."""
    dimension = definition.time_dimension
    time_keys = _direct(definition.dimension(dimension), request, now=now,
                        dynamic_keys=dynamic_keys)
    if not time_keys:
        return None
    return definition.keys_matching({dimension: time_keys}, now=now, dynamic_keys=dynamic_keys)


def _check_registered(asset: str, definition: PartitionsDefinition, keys: Sequence[str],
                      dynamic_keys: DynamicKeys) -> None:
    dynamic: list[tuple[str, DynamicPartitions]] = []
    if isinstance(definition, DynamicPartitions):
        dynamic = [("", definition)]
    elif isinstance(definition, MultiPartitions):
        dynamic = [(name, dim) for name, dim in definition.dimensions
                   if isinstance(dim, DynamicPartitions)]
    for dimension, dyn in dynamic:
        known = set(dynamic_keys.get(dyn.name, ()))
        for key in keys:
            part = definition.key_dict(key)[dimension] if dimension else key  # type: ignore
            if part not in known:
                raise PartitionError(f"partition `{part}` of asset `{asset}` is not a registered "
                                     f"key of dynamic partitions `{dyn.name}`",
                                     hint=f"Add it: flowstone partitions add {dyn.name} {part}")


def partitions_for(definitions: Definitions, selection: Selection, request: PartitionRequest,
                   *, now: datetime, dynamic_keys: DynamicKeys | None = None
                   ) -> dict[str, list[str | None]]:
    """Asset -> the partition keys to plan ([None] for unpartitioned assets).

    Raises:
        PartitionError: a partitioned asset was selected without partitions, a key does not fit,
            or an asset's partitions cannot be derived from the request.
    """
    dynamic = dynamic_keys or {}
    result: dict[str, list[str | None]] = {}
    partitioned = [a for a in selection.assets if definitions.assets[a].partitions is not None]
    for asset in selection.assets:
        if definitions.assets[asset].partitions is None:
            result[asset] = [None]
    if not partitioned:
        if not request.empty and not request.all and selection.assets:
            names = ", ".join(f"`{a}`" for a in sorted(selection.assets)[:3])
            raise PartitionError(f"{names} {'is' if len(selection.assets) == 1 else 'are'} not "
                                 f"partitioned; `{request.describe()}` does not apply",
                                 hint="Drop --partition/--partitions for unpartitioned assets.")
        return result
    if request.empty:
        spec = definitions.assets[partitioned[0]]
        example = spec.partitions.keys(now=now, dynamic_keys=dynamic)[-1:] or ["KEY"]
        raise PartitionError(
            f"asset `{spec.name}` is partitioned ({spec.partitions.describe()}); say which "
            "partitions to run", hint=f"Add --partition {example[0]} (repeatable), or "
                                      "--partitions START..END, or use `flowstone backfill`.")
    failures: dict[str, str] = {}
    for asset in partitioned:
        definition = definitions.assets[asset].partitions
        keys = _direct(definition, request, now=now, dynamic_keys=dynamic)
        if keys is not None:
            _check_registered(asset, definition, keys, dynamic)
            result[asset] = list(keys)
    _propagate(definitions, selection, result, now=now, dynamic=dynamic)
    for asset in partitioned:
        if asset not in result:
            definition = definitions.assets[asset].partitions
            failures[asset] = definition.describe()
    if failures:
        asset, described = next(iter(failures.items()))
        asked = list(request.keys) or [k for k in (request.start, request.end) if k]
        precise = out_of_range(definitions.assets[asset].partitions, asked)
        if precise is not None:
            raise precise
        if not any(a in result for a in partitioned) and request.keys:
            # No selected asset reads the keys in its own terms: its own message says why.
            definition = definitions.assets[asset].partitions
            for key in request.keys:
                definition.validate_key(key, dynamic_keys=dynamic)
        raise PartitionError(f"cannot tell which partitions of `{asset}` ({described}) "
                             f"`{request.describe()}` means",
                             hint="Give keys in that asset's own format, or select it together "
                                  "with an upstream or downstream asset whose keys map to it.")
    return result


def _propagate(definitions: Definitions, selection: Selection,
               result: dict[str, list[str | None]], *, now: datetime,
               dynamic: DynamicKeys) -> None:
    members = set(selection.assets)
    changed = True
    while changed:
        changed = False
        for asset in selection.assets:
            if asset in result:
                continue
            spec = definitions.assets[asset]
            found: dict[str | None, None] = {}
            # Downstream of known assets first: the partitions that read what we will build.
            for up in spec.upstream:
                if up in result and up in members and definitions.assets[up].partitions:
                    for key in result[up]:
                        found.update(dict.fromkeys(downstream_keys(
                            definitions.assets[up], key, spec, now=now, dynamic_keys=dynamic)))
            if not found:
                for down in definitions.dag.downstream_of(asset):
                    if down in result and down in members:
                        for key in result[down]:
                            found.update(dict.fromkeys(upstream_keys(
                                definitions.assets[down], key, spec, now=now,
                                dynamic_keys=dynamic)))
            keys = [k for k in found if k is not None]
            if keys:
                result[asset] = keys
                changed = True
