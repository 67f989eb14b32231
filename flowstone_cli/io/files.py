"""`FileIOManager`: the shared logic of managers that keep one file per value.

A subclass says how a value becomes bytes (`_writer`) and how bytes become a value (`_read`);
this class publishes atomically (see `publish`), reports size, rows and content hash, and answers
`exists`/`delete` on the local disk or any fsspec file system.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from flowstone_cli.io import failures
from flowstone_cli.io.base import IOManager, StoreContext, StoredValue
from flowstone_cli.io.filesystems import fs_path
from flowstone_cli.io.paths import Location
from flowstone_cli.io.contained import unlink_contained
from flowstone_cli.io.publish import Writer, publish_file
from flowstone_cli.io.verification import read_verified, remember


@dataclass(frozen=True)
class Serialisation:
    """How one value becomes the bytes of its file.

    Attributes:
        write: serialises the value into the binary file it is given.
        rows: the row count to report for the value (None when unknown).
    """

    write: Writer
    rows: int | None


class FileIOManager(IOManager):
    """Base of the file-per-value managers (pickle, json, parquet).

    Layout: `<root>/<asset><ext>`, or `<root>/<asset>/<partition_path><ext>` when partitioned.
    """

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(root, storage_options)

    @abc.abstractmethod
    def _serialisation(self, ctx: StoreContext, location: Location,
                       value: Any) -> Serialisation:
        """Check `value` and say how to serialise it into a binary file.

        Errors about the value itself (wrong type, not serialisable) are raised here, before
        anything is written.
        """

    @abc.abstractmethod
    def _read(self, ctx: StoreContext, location: Location) -> Any:
        """Read the value at `location`; raise FileNotFoundError when there is none."""

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        location = self.location(ctx)
        serialisation = self._serialisation(ctx, location, value)
        published = publish_file(location.path, serialisation.write,
                                 fs=None if self.is_local else self.fs,
                                 sync_directory=ctx.sync_directory,
                                 root=self.root if self.is_local else None)
        if self.is_local:
            remember(location.path, published.sha256)
        return StoredValue(uri=location.uri, size_bytes=published.size_bytes,
                           rows=serialisation.rows, data_version=published.sha256)

    def load(self, ctx: StoreContext) -> Any:
        location = self.location(ctx)
        try:
            if ctx.expected_version and self.is_local:
                return read_verified(location.path, ctx.expected_version,
                                     lambda: self._read(ctx, location), asset=ctx.asset,
                                     partition=ctx.partition)
            return self._read(ctx, location)
        except FileNotFoundError:
            raise failures.missing_value_error(ctx.asset, ctx.partition, location.uri) from None

    def exists(self, ctx: StoreContext) -> bool:
        location = self.location(ctx)
        if self.is_local:
            return os.path.isfile(location.path)
        path = fs_path(self.fs, location.path)
        # Another process may have published since fsspec cached the listing.
        self.fs.invalidate_cache(path)
        # Not `fs.exists`/`fs.isfile`: s3fs answers False when the server cannot be reached,
        # which would make an unreachable store look empty. `info` raises instead.
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return False
        return info.get("type") != "directory"

    def delete(self, ctx: StoreContext) -> None:
        location = self.location(ctx)
        # Deleting what is not there is not an error: `wipe` must be safe to repeat.
        if self.is_local:
            unlink_contained(self.root, location.path)  # never through a symlink below the root
            return
        path = fs_path(self.fs, location.path)
        try:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)
        finally:
            self.fs.invalidate_cache(path)

    def _open_for_reading(self, location: Location) -> BinaryIO:
        """Open the stored file (FileNotFoundError when missing)."""
        if self.is_local:
            return open(location.path, "rb")  # noqa: SIM115 - the caller closes it
        return self.fs.open(fs_path(self.fs, location.path), "rb")  # type: ignore[no-any-return]

    def _read_bytes(self, location: Location) -> bytes:
        """All bytes of the stored file, in one GET for remote roots."""
        if self.is_local:
            with open(location.path, "rb") as file:
                return file.read()
        return bytes(self.fs.cat_file(fs_path(self.fs, location.path)))
