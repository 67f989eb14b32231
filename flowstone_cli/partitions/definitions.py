"""The partitions-definition base class and the two key-list kinds: static and dynamic.

A partitions definition says which partition keys an asset has, which string is the canonical
form of each key, and where a key's value is stored relative to the asset's folder. Every key that
leaves this package has been through `validate_key`, which refuses anything that could escape a
storage root (see `flowstone_cli.keys`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import ClassVar

from flowstone_cli.errors import InvalidNameError, PartitionError
from flowstone_cli.keys import validate_partition_key_part

DynamicKeys = Mapping[str, Sequence[str]]
"""Run-time keys of dynamic partitions, by dynamic-partitions name (read from the metadata store)."""

MEMO_LIMIT = 1 << 20
"""Most entries a per-definition memo of parsed keys holds; past it, keys are parsed each time."""

_DIMENSION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SHOWN_KEYS = 5


def show_key(key: object) -> str:
    """A key for an error message: quoted, and shortened so a hostile 10 kB key stays one line."""
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


def show_keys(keys: Sequence[str]) -> str:
    """The first few keys of a list for a message, with the total when some are left out."""
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown if len(keys) <= _SHOWN_KEYS else f"{shown}, ... ({len(keys)} keys)"


def check_key_part(key: object, *, what: str = "partition key") -> str:
    """`validate_partition_key_part`, reporting failures as `PartitionError` like every other
    partition-key problem (callers catch one error type)."""
    try:
        return validate_partition_key_part(key, what=what)  # type: ignore[arg-type]
    except InvalidNameError as err:
        raise PartitionError(err.message, hint=err.hint) from err


def check_identifier(name: object, *, what: str) -> str:
    """Names of dimensions and dynamic partitions: short identifiers, because they appear in keys
    (`tenant=acme`), in hive-style paths and in metadata columns."""
    if not isinstance(name, str) or not _DIMENSION_NAME.fullmatch(name):
        raise PartitionError(f"{what} {show_key(name)} is not a valid name",
                             hint="Use letters, digits and underscores (at most 64), not starting "
                                  "with a digit, e.g. `tenant` or `date`.")
    return name


def escape_path_part(key: str) -> str:
    """Storage form of a safe key: `:` becomes `%3A` (Hive's escape) because Windows, Hadoop and
    Spark refuse `:` in file names. Keys never contain `%`, so the escape is reversible."""
    return key.replace(":", "%3A")


def unescape_path_part(part: str) -> str:
    """Inverse of `escape_path_part`; refuses a raw `:`, which `escape_path_part` never writes."""
    if not isinstance(part, str) or ":" in part:
        raise PartitionError(f"partition path {show_key(part)} is not a stored key",
                             hint="Stored keys write `:` as `%3A`.")
    return part.replace("%3A", ":")


class PartitionsDefinition(ABC):
    """Base of every partitions definition: which keys an asset has and their canonical form.

    Definitions are frozen and compared by value, so two assets declared with equal definitions
    are recognised as compatible. Every method that takes keys accepts `dynamic_keys` so callers
    can treat all kinds alike; only dynamic partitions (directly or as a dimension) use it.

    Attributes:
        kind: short name of the kind (`daily`, `hourly`, `weekly`, `monthly`, `static`,
            `dynamic`, `multi`), used in messages and `--json` output.
    """

    kind: ClassVar[str] = "partitions"

    def __getstate__(self) -> dict[str, object]:
        # Attributes starting with `_` are caches (memos, lookup tables) rebuilt on demand; leave
        # them out so that pickling a definition for a worker stays small.
        return {name: value for name, value in self.__dict__.items() if not name.startswith("_")}

    @abstractmethod
    def keys(self, *, now: datetime | None = None,
             dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """Every key, in order. Time windows list only windows complete at `now` (default: the
        current time); dynamic partitions list the keys found in `dynamic_keys`."""

    @abstractmethod
    def validate_key(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                     check_range: bool = True) -> str:
        """Return the canonical form of `key`, or raise `PartitionError` saying what was expected.

        With `check_range=False` only the form and safety of the key are checked, not whether it
        lies inside the definition (useful for stored partitions of an older definition).
        """

    @abstractmethod
    def key_range(self, start_key: str, end_key: str, *,
                  dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """The keys from `start_key` to `end_key`, both included, in order."""

    @abstractmethod
    def path_for(self, key: str) -> str:
        """Relative storage path of `key` (validated); the inverse of `key_from_path`."""

    @abstractmethod
    def key_from_path(self, path: str) -> str:
        """The canonical key stored at relative `path` (as made by `path_for`)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for people, e.g. `daily from 2025-01-01 (UTC)`."""


@dataclass(frozen=True, init=False, repr=False)
class StaticPartitions(PartitionsDefinition):
    """A fixed list of keys, such as tenants or regions, in declaration order.

    Args:
        keys: the keys; each must be a safe key part (see `flowstone_cli.keys`); no duplicates.

    Example:
        `StaticPartitions(["acme", "globex"])`
    """

    partition_keys: tuple[str, ...]
    kind: ClassVar[str] = "static"

    def __init__(self, keys: Iterable[str]) -> None:
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise PartitionError(f"StaticPartitions needs a list of keys, got {show_key(keys)}",
                                 hint='Write StaticPartitions(["acme", "globex"]).')
        checked = tuple(check_key_part(key, what="static partition key") for key in keys)
        if not checked:
            raise PartitionError("StaticPartitions needs at least one key",
                                 hint='Write StaticPartitions(["acme", "globex"]).')
        duplicates = sorted(key for key, count in Counter(checked).items() if count > 1)
        if duplicates:
            raise PartitionError(f"StaticPartitions lists {show_keys(duplicates)} more than once",
                                 hint="Each static partition key must appear once.")
        object.__setattr__(self, "partition_keys", checked)

    @cached_property
    def _key_set(self) -> frozenset[str]:
        return frozenset(self.partition_keys)

    def __repr__(self) -> str:
        return f"StaticPartitions({list(self.partition_keys)!r})"

    def keys(self, *, now: datetime | None = None,
             dynamic_keys: DynamicKeys | None = None) -> list[str]:
        return list(self.partition_keys)

    def validate_key(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                     check_range: bool = True) -> str:
        if type(key) is str and key in self._key_set:
            return key
        check_key_part(key)
        if check_range:
            raise PartitionError(f"partition key {show_key(key)} is not one of the static "
                                 f"partitions ({show_keys(self.partition_keys)})",
                                 hint="Use one of the keys listed in the asset's "
                                      "StaticPartitions.")
        return key

    def key_range(self, start_key: str, end_key: str, *,
                  dynamic_keys: DynamicKeys | None = None) -> list[str]:
        return ordered_range(self.partition_keys, self.validate_key(start_key),
                             self.validate_key(end_key))

    def path_for(self, key: str) -> str:
        return escape_path_part(self.validate_key(key, check_range=False))

    def key_from_path(self, path: str) -> str:
        return self.validate_key(unescape_path_part(path), check_range=False)

    def describe(self) -> str:
        return f"static ({show_keys(self.partition_keys)})"


@dataclass(frozen=True)
class DynamicPartitions(PartitionsDefinition):
    """Keys added and removed at run time, stored in the metadata store under `name`.

    This object cannot know the keys itself: callers read them from the metadata store and pass
    them as `dynamic_keys={name: [...]}`. `validate_key` checks only that a key is safe; whether
    it is registered is the caller's check (so a key can be validated before it is added).

    Args:
        name: the name the keys are registered under, e.g. `customers`.
    """

    name: str
    kind: ClassVar[str] = "dynamic"

    def __post_init__(self) -> None:
        check_identifier(self.name, what="dynamic partitions name")

    def keys(self, *, now: datetime | None = None,
             dynamic_keys: DynamicKeys | None = None) -> list[str]:
        registered = (dynamic_keys or {}).get(self.name, ())
        # The store should hold only safe, unique keys; check anyway since keys become paths.
        return list(dict.fromkeys(check_key_part(key) for key in registered))

    def validate_key(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                     check_range: bool = True) -> str:
        return check_key_part(key)

    def key_range(self, start_key: str, end_key: str, *,
                  dynamic_keys: DynamicKeys | None = None) -> list[str]:
        registered = self.keys(dynamic_keys=dynamic_keys)
        for key in (start_key, end_key):
            if self.validate_key(key) not in registered:
                raise PartitionError(f"partition key {show_key(key)} is not registered for "
                                     f"dynamic partitions {self.name!r}",
                                     hint="Add the key first, or pick a registered one.")
        return ordered_range(registered, start_key, end_key)

    def path_for(self, key: str) -> str:
        return escape_path_part(self.validate_key(key))

    def key_from_path(self, path: str) -> str:
        return self.validate_key(unescape_path_part(path))

    def describe(self) -> str:
        return f"dynamic ({self.name!r})"


def ordered_range(keys: Sequence[str], start_key: str, end_key: str) -> list[str]:
    """The slice of `keys` from `start_key` to `end_key` inclusive, in list order."""
    first, last = keys.index(start_key), keys.index(end_key)
    if first > last:
        raise PartitionError(f"partition range {start_key}..{end_key} is backwards: "
                             f"{show_key(start_key)} comes after {show_key(end_key)}",
                             hint=f"Write {end_key}..{start_key}.")
    return list(keys[first:last + 1])
