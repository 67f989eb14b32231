"""The `IOManager` base class and the records that cross its boundary.

Every subclass, built-in or user-written, gets its `store`/`load`/`exists`/`delete` wrapped once
(in `__init_subclass__`, as Kedro's `AbstractDataset` does), so that any failure that is not
already a `FlowStoneError` becomes an `IOManagerError` naming the operation, asset, partition and
URI, with the original exception as `__cause__`. A back-end never has to remember to wrap errors.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from flowstone_cli.errors import FlowStoneError, IOManagerError
from flowstone_cli.io import failures
from flowstone_cli.io.filesystems import open_filesystem, scrub, secret_strings
from flowstone_cli.io.paths import Location, StorageRoot, locate, parse_root, relative_path
from flowstone_cli.keys import validate_asset_name

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_OPERATIONS = ("store", "load", "exists", "delete")
_GUARD_MARK = "__flowstone_io_guard__"
_F = TypeVar("_F", bound=Callable[..., Any])
_E = TypeVar("_E", bound=FlowStoneError)


@dataclass(frozen=True)
class StoreContext:
    """Which value an I/O manager call is about.

    Attributes:
        asset: the asset name (validated again by the manager before any path is built).
        partition: canonical partition key, or None when the asset is unpartitioned.
        partition_path: relative path for the partition, e.g. `2025-01-15` or
            `tenant=acme/date=2025-01-15`; None when unpartitioned (then `partition`, if set,
            is used as a single path segment).
        run_id: the run storing or loading the value, when known.
        sync_directory: whether `store` must make the rename durable itself by fsyncing the
            directory. The coordinator passes False and fsyncs each touched directory once,
            before it records the materializations (a group commit), which saves one fsync
            per value.
        expected_version: on load, the data version the store records for the value; a file
            manager refuses a local file whose bytes do not match it (see `io/verification.py`).
            None: no check (the value has no recorded version, or the caller is not a step).
    """

    asset: str
    partition: str | None = None
    partition_path: str | None = None
    run_id: str | None = None
    sync_directory: bool = True
    expected_version: str | None = None


@dataclass(frozen=True)
class StoredValue:
    """What `IOManager.store` reports about a value it published.

    Attributes:
        uri: where the value now lives (file path, `s3://` URL, `duckdb://file#table`).
        size_bytes: bytes written, when known.
        rows: row count when known (Arrow table, DataFrame, list).
        data_version: hex sha256 of the published bytes (or of a canonical serialisation);
            None when it cannot be known.
    """

    uri: str
    size_bytes: int | None
    rows: int | None
    data_version: str | None


class IOManager(abc.ABC):
    """Base class of every I/O manager: stores and loads the values of assets.

    Subclasses implement `store`, `load`, `exists` and `delete` (and usually `uri_for`). The
    base class guarantees the error contract: names are validated before the method runs, any
    exception that is not a `FlowStoneError` becomes `IOManagerError` (`CorruptInputError` when
    a stored value cannot be decoded, a "materialize it first" error for `FileNotFoundError` on
    load), and credentials from `storage_options` never appear in a message or repr.

    Attributes:
        type_name: the name configuration uses for this manager (`"parquet"`); user classes
            default to `"module:ClassName"`.
        supports_processes: False when values only live in this process (the memory manager),
            so the executor must run consumers in the same process.
        extension: file extension (with dot) the default `uri_for` appends.
        root: the absolute local path or URL values are stored under.
        options: the extra keyword options given to the constructor.
        fs: the fsspec file system of the root, created on first use.
    """

    type_name: ClassVar[str]
    supports_processes: ClassVar[bool] = True
    extension: ClassVar[str] = ""

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None,
                 **options: Any) -> None:
        self._root: StorageRoot = parse_root(root)
        self._storage_options: dict[str, Any] = dict(storage_options or {})
        self._secrets: tuple[str, ...] = secret_strings(self._storage_options)
        self._fs: AbstractFileSystem | None = None
        self._options: dict[str, Any] = dict(options)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(getattr(cls, "type_name", None), str):
            cls.type_name = f"{cls.__module__}:{cls.__qualname__}"
        for operation in _OPERATIONS:
            method = cls.__dict__.get(operation)
            if callable(method) and not getattr(method, _GUARD_MARK, False):
                setattr(cls, operation, _guard(operation, method))

    @property
    def root(self) -> str:
        """The absolute local path or URL values are stored under."""
        return self._root.url

    @property
    def options(self) -> Mapping[str, Any]:
        """The extra keyword options given to the constructor (read-only)."""
        return MappingProxyType(self._options)

    @property
    def is_local(self) -> bool:
        """True when the root is a directory on the local file system."""
        return self._root.is_local

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec file system of the root, created on first use."""
        if self._fs is None:
            self._fs = open_filesystem(self._root, self._storage_options)
        return self._fs

    def location(self, ctx: StoreContext) -> Location:
        """Validated path and URI of `ctx`'s value, following the standard layout.

        `<root>/<asset><ext>` when unpartitioned, `<root>/<asset>/<partition_path><ext>` when
        partitioned.

        Raises:
            InvalidNameError: the asset name or partition path is unsafe, or escapes the root.
        """
        relative = relative_path(ctx.asset, ctx.partition, ctx.partition_path, self.extension)
        return locate(self._root, relative)

    def uri_for(self, ctx: StoreContext) -> str:
        """Where `ctx`'s value lives (or would live), without credentials."""
        return self.location(ctx).uri

    @abc.abstractmethod
    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        """Publish `value` for `ctx` atomically and describe what was written."""

    @abc.abstractmethod
    def load(self, ctx: StoreContext) -> Any:
        """Return the value stored for `ctx`."""

    @abc.abstractmethod
    def exists(self, ctx: StoreContext) -> bool:
        """Whether a value is stored for `ctx`."""

    @abc.abstractmethod
    def delete(self, ctx: StoreContext) -> None:
        """Remove the value stored for `ctx`; deleting a missing value is not an error."""

    def __repr__(self) -> str:
        # Type and root only: storage_options hold credentials.
        return f"{type(self).__name__}(type={self.type_name!r}, root={self._root.display!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Managers are shipped to worker processes; a live file system (sessions, event loops,
        # caches) is not, the worker makes its own on first use.
        state = self.__dict__.copy()
        state["_fs"] = None
        return state

    def _safe_uri(self, ctx: StoreContext) -> str:
        """`uri_for(ctx)` for an error message, never failing itself."""
        try:
            return self.uri_for(ctx)
        except Exception as exc:  # noqa: BLE001 - reporting another error; must not mask it
            return f"<no uri: {failures.describe_cause(exc)}>"

    def _translate(self, operation: str, ctx: StoreContext, exc: Exception) -> IOManagerError:
        uri = self._safe_uri(ctx)
        if operation == "load" and isinstance(exc, FileNotFoundError):
            error = failures.missing_value_error(ctx.asset, ctx.partition, uri)
        elif operation == "load" and failures.looks_corrupt(exc):
            error = failures.corrupt_input_error(ctx.asset, ctx.partition, uri, exc)
        else:
            error = failures.operation_error(operation, ctx.asset, ctx.partition, uri, exc,
                                             manager=self.type_name)
        return self._scrubbed(error)

    def _scrubbed(self, error: _E) -> _E:
        """Remove credentials from `error`'s message and hint (in place) and return it."""
        if self._secrets:
            message = scrub(error.message, self._secrets)
            error.hint = scrub(error.hint, self._secrets)
            if message != error.message:
                error.message = message
                error.args = (message,)
        return error


def _check_context(ctx: Any) -> None:
    if not isinstance(ctx, StoreContext):
        raise IOManagerError(f"expected a StoreContext, got {type(ctx).__name__}",
                             hint="This is a bug in the caller of the I/O manager.",
                             retryable=False)
    validate_asset_name(ctx.asset)
    # Validates every partition segment too; the path is computed but not touched.
    relative_path(ctx.asset, ctx.partition, ctx.partition_path, "")


def _guard(operation: str, method: _F) -> _F:
    """Wrap one I/O manager method with the error contract of `IOManager`."""

    @functools.wraps(method)
    def guarded(self: IOManager, ctx: StoreContext, *args: Any, **kwargs: Any) -> Any:
        _check_context(ctx)
        try:
            result = method(self, ctx, *args, **kwargs)
            if operation == "store":
                return _normalise_stored(self, ctx, result)
            if operation == "exists":
                return bool(result)
            return result
        except FlowStoneError as err:
            self._scrubbed(err)  # already names what failed; only keep credentials out
            raise
        except Exception as exc:
            raise self._translate(operation, ctx, exc) from exc

    setattr(guarded, _GUARD_MARK, True)
    return guarded  # type: ignore[return-value]


def _normalise_stored(manager: IOManager, ctx: StoreContext, result: Any) -> StoredValue:
    if isinstance(result, StoredValue):
        return result
    if result is None:
        return StoredValue(uri=manager.uri_for(ctx), size_bytes=None, rows=None,
                           data_version=None)
    raise IOManagerError(
        f"{type(manager).__name__}.store() returned {type(result).__name__} for "
        f"{failures.describe(ctx.asset, ctx.partition)}; expected StoredValue or None",
        hint="Return a StoredValue (or nothing) from store().", retryable=False)
