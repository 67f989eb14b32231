"""Multi-dimensional partitions: the cartesian product of named single-dimension definitions.

A multi key names every dimension, in declaration order: `tenant=acme,date=2025-01-15`. The
storage path is hive style, one folder per dimension: `tenant=acme/date=2025-01-15`, which query
engines (DuckDB, Spark, pyarrow) read back as columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import product
from typing import ClassVar

from flowstone_cli.errors import PartitionError
from flowstone_cli.keys import MAX_PARTITION_KEY_LENGTH
from flowstone_cli.partitions.definitions import (
    MEMO_LIMIT,
    DynamicKeys,
    PartitionsDefinition,
    StaticPartitions,
    check_identifier,
    show_key,
)
from flowstone_cli.partitions.time_windows import TimeWindowPartitions


@dataclass(frozen=True, init=False, repr=False)
class MultiPartitions(PartitionsDefinition):
    """Partitions over two or more named dimensions, e.g. tenant x date.

    Each dimension is a single-dimension definition (time, static or dynamic); at most one may
    be time-based. The order of the keyword arguments is the order of the dimensions in keys and
    paths.

    Args:
        **dimensions: dimension name -> definition.

    Example:
        `MultiPartitions(tenant=StaticPartitions(["acme", "globex"]),
        date=DailyPartitions(start="2025-01-01"))` has keys such as
        `tenant=acme,date=2025-01-15`.
    """

    dimensions: tuple[tuple[str, PartitionsDefinition], ...]
    kind: ClassVar[str] = "multi"

    def __init__(self, **dimensions: PartitionsDefinition) -> None:
        if len(dimensions) < 2:
            raise PartitionError("MultiPartitions needs at least two dimensions",
                                 hint="Use the single definition directly for one dimension, "
                                      "e.g. partitions=DailyPartitions(...).")
        for name, definition in dimensions.items():
            check_identifier(name, what="MultiPartitions dimension name")
            if not isinstance(definition, PartitionsDefinition) or isinstance(
                    definition, MultiPartitions):
                raise PartitionError(f"MultiPartitions dimension {name!r} is "
                                     f"{show_key(definition)}, not a single-dimension partitions "
                                     "definition",
                                     hint="Give each dimension a DailyPartitions, "
                                          "StaticPartitions, DynamicPartitions, ...")
        times = [n for n, d in dimensions.items() if isinstance(d, TimeWindowPartitions)]
        if len(times) > 1:
            raise PartitionError(f"MultiPartitions has more than one time dimension "
                                 f"({', '.join(times)})",
                                 hint="Keep one time dimension; the others can be static or "
                                      "dynamic.")
        object.__setattr__(self, "dimensions", tuple(dimensions.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={definition!r}" for name, definition in self.dimensions)
        return f"MultiPartitions({inner})"

    @cached_property
    def dimension_names(self) -> tuple[str, ...]:
        """Names of the dimensions in declaration (= key) order."""
        return tuple(name for name, _ in self.dimensions)

    @cached_property
    def time_dimension(self) -> str | None:
        """Name of the time-based dimension, if there is one."""
        return next((name for name, definition in self.dimensions
                     if isinstance(definition, TimeWindowPartitions)), None)

    @cached_property
    def _by_name(self) -> dict[str, PartitionsDefinition]:
        return dict(self.dimensions)

    @cached_property
    def _parts_memo(self) -> dict[str, tuple[str, ...]]:
        return {}

    @cached_property
    def _valid_memo(self) -> dict[str, str]:
        return {}

    def dimension(self, name: str) -> PartitionsDefinition:
        """The definition of dimension `name`."""
        by_name = self._by_name
        if name not in by_name:
            raise PartitionError(f"multi partitions have no dimension {name!r} "
                                 f"(dimensions: {', '.join(self.dimension_names)})",
                                 hint="Use one of the dimension names.")
        return by_name[name]

    def key_for(self, parts: Mapping[str, str]) -> str:
        """The canonical key from one key per dimension; the parts are not validated."""
        return ",".join(f"{name}={parts[name]}" for name, _ in self.dimensions)

    def keys(self, *, now: datetime | None = None,
             dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """Cartesian product of the dimensions' keys, the first dimension varying slowest."""
        return self.keys_matching({}, now=now, dynamic_keys=dynamic_keys)

    def keys_matching(self, selection: Mapping[str, Sequence[str]], *,
                      now: datetime | None = None,
                      dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """The product of the dimensions' keys, with the dimensions named in `selection`
        restricted to the keys given there (e.g. every tenant for two dates)."""
        unknown = sorted(set(selection) - set(self.dimension_names))
        if unknown:
            raise PartitionError(f"multi partitions have no dimension {', '.join(unknown)}",
                                 hint=f"Dimensions are {', '.join(self.dimension_names)}.")
        value_columns: list[list[str]] = []
        for name, definition in self.dimensions:
            if name in selection:
                value_columns.append([definition.validate_key(key, dynamic_keys=dynamic_keys)
                                      for key in selection[name]])
            else:
                value_columns.append(definition.keys(now=now, dynamic_keys=dynamic_keys))
        part_columns = [[f"{name}={value}" for value in values]
                        for (name, _), values in zip(self.dimensions, value_columns)]
        keys = [",".join(parts) for parts in product(*part_columns)]
        memo = self._parts_memo
        if len(memo) + len(keys) <= MEMO_LIMIT:
            # These keys are valid by construction: remember their parts so that mapping them
            # later does not parse them again.
            memo.update(zip(keys, product(*value_columns)))
        return keys

    def validate_key(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                     check_range: bool = True) -> str:
        # Planning validates the same keys many times, so valid keys are remembered. That is
        # sound because no dimension's answer depends on `dynamic_keys` (dynamic partitions
        # check safety, not membership).
        memo = self._valid_memo if check_range else None
        if memo is not None and type(key) is str and key in memo:
            return memo[key]
        canonical = self.key_for(self.key_dict(key, check_range=check_range))
        if memo is not None and len(memo) < MEMO_LIMIT:
            memo[key] = canonical
        return canonical

    def key_dict(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                 check_range: bool = False) -> dict[str, str]:
        """The key of each dimension, in declaration order (validated; range not checked unless
        `check_range`)."""
        if not check_range:
            return dict(zip(self.dimension_names, self.key_values(key)))
        parts = self._split(key)
        return {name: definition.validate_key(parts[name], dynamic_keys=dynamic_keys)
                for name, definition in self.dimensions}

    def key_values(self, key: str) -> tuple[str, ...]:
        """The key of each dimension in declaration order, checked for form and safety but not
        range; remembered, because planning splits the same keys again and again."""
        memo = self._parts_memo
        if type(key) is str and key in memo:
            return memo[key]
        parts = self._split(key)
        values = tuple(definition.validate_key(parts[name], check_range=False)
                       for name, definition in self.dimensions)
        if len(memo) < MEMO_LIMIT:
            memo[key] = values
        return values

    def key_range(self, start_key: str, end_key: str, *,
                  dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """Every key whose dimensions each lie between those of `start_key` and `end_key`."""
        first = self.key_dict(start_key, dynamic_keys=dynamic_keys, check_range=True)
        last = self.key_dict(end_key, dynamic_keys=dynamic_keys, check_range=True)
        selection = {name: definition.key_range(first[name], last[name],
                                                dynamic_keys=dynamic_keys)
                     for name, definition in self.dimensions}
        return self.keys_matching(selection, dynamic_keys=dynamic_keys)

    def path_for(self, key: str) -> str:
        parts = self.key_dict(key)
        return "/".join(f"{name}={definition.path_for(parts[name])}"
                        for name, definition in self.dimensions)

    def key_from_path(self, path: str) -> str:
        if not isinstance(path, str):
            raise self._bad(path)
        parts: dict[str, str] = {}
        for folder in path.split("/"):
            name, equals, value = folder.partition("=")
            if not equals or name in parts or name not in self.dimension_names:
                raise self._bad(path)
            parts[name] = self.dimension(name).key_from_path(value)
        if len(parts) != len(self.dimensions):
            raise self._bad(path)
        return self.validate_key(self.key_for(parts), check_range=False)

    def describe(self) -> str:
        inner = " x ".join(f"{name} ({definition.describe()})"
                           for name, definition in self.dimensions)
        return f"multi: {inner}"

    def _split(self, key: object) -> dict[str, str]:
        """`name=value` pairs of a key in any dimension order; every dimension exactly once."""
        if not isinstance(key, str) or not key:
            raise self._bad(key)
        parts: dict[str, str] = {}
        for pair in key.split(","):
            name, equals, value = pair.partition("=")
            if not equals:
                raise self._bad(key)
            if name in parts:
                raise PartitionError(f"multi partition key {show_key(key)} names dimension "
                                     f"{name!r} twice", hint=self._expected())
            if name not in self._by_name:
                raise PartitionError(f"multi partition key {show_key(key)} names unknown "
                                     f"dimension {show_key(name)}", hint=self._expected())
            # Each `name=value` becomes one folder of the path: keep it within file-name limits.
            if len(pair) > MAX_PARTITION_KEY_LENGTH:
                raise PartitionError(f"multi partition key {show_key(key)} has a part longer "
                                     f"than {MAX_PARTITION_KEY_LENGTH} characters",
                                     hint="Use shorter keys.")
            parts[name] = value
        missing = [name for name, _ in self.dimensions if name not in parts]
        if missing:
            raise PartitionError(f"multi partition key {show_key(key)} lacks dimension "
                                 f"{', '.join(missing)}", hint=self._expected())
        return parts

    def _expected(self) -> str:
        shapes = ",".join(f"{name}=<{getattr(d, 'key_format', '') or d.kind + ' key'}>"
                          for name, d in self.dimensions)
        return f"Expected {shapes}, e.g. {self._example()}."

    def _example(self) -> str:
        examples = {"daily": "2025-01-15", "hourly": "2025-01-15T03:00",
                    "weekly": "2025-01-13", "monthly": "2025-01"}
        parts = {name: definition.partition_keys[0] if isinstance(definition, StaticPartitions)
                 else examples.get(definition.kind, "key")
                 for name, definition in self.dimensions}
        return self.key_for(parts)

    def _bad(self, key: object) -> PartitionError:
        return PartitionError(f"multi partition key {show_key(key)} is not valid",
                              hint=self._expected())
