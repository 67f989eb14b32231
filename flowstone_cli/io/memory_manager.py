"""The `memory` I/O manager: values kept in this process only, for tests and quick experiments."""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from flowstone_cli.io import failures
from flowstone_cli.io.base import IOManager, StoreContext, StoredValue
from flowstone_cli.io.paths import relative_path
from flowstone_cli.io.values import count_rows

_Key = tuple[str, str, str | None]

# Deliberately process-wide: the manager is re-created per run and per step, and the values must
# outlive each instance for as long as the process lives. Nothing else is kept here.
_VALUES: dict[_Key, Any] = {}
_LOCK = threading.Lock()


class MemoryIOManager(IOManager):
    """Keeps values in a dictionary for the life of the process, keyed by (root, asset, partition).

    Values are kept by reference (not copied). Because they never leave the process,
    `supports_processes` is False and consumers must run in the same process.
    """

    type_name: ClassVar[str] = "memory"
    supports_processes: ClassVar[bool] = False

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(root, storage_options)

    def uri_for(self, ctx: StoreContext) -> str:
        relative = relative_path(ctx.asset, ctx.partition, ctx.partition_path, "")
        return f"memory://{self._root.display}/{relative}"

    def _key(self, ctx: StoreContext) -> _Key:
        return (self.root, ctx.asset, ctx.partition)

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        uri = self.uri_for(ctx)
        with _LOCK:
            _VALUES[self._key(ctx)] = value
        return StoredValue(uri=uri, size_bytes=None, rows=count_rows(value),
                           data_version=_pickle_sha256(value))

    def load(self, ctx: StoreContext) -> Any:
        with _LOCK:
            if self._key(ctx) in _VALUES:
                return _VALUES[self._key(ctx)]
        raise failures.missing_value_error(ctx.asset, ctx.partition, self.uri_for(ctx))

    def exists(self, ctx: StoreContext) -> bool:
        with _LOCK:
            return self._key(ctx) in _VALUES

    def delete(self, ctx: StoreContext) -> None:
        with _LOCK:
            _VALUES.pop(self._key(ctx), None)

    def clear(self) -> int:
        """Forget every value stored under this manager's root; return how many there were."""
        with _LOCK:
            keys = [key for key in _VALUES if key[0] == self.root]
            for key in keys:
                del _VALUES[key]
        return len(keys)


def _pickle_sha256(value: Any) -> str | None:
    """sha256 of the pickled value, or None when it cannot be pickled (a lock, a generator)."""
    try:
        data = pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None
    return hashlib.sha256(data).hexdigest()
