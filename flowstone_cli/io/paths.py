"""Where a value lives: safe relative paths for (asset, partition) and storage roots they stay in.

Asset names and partition keys come from user code and the command line, and they end up in file
paths and object keys. Every part is validated with `flowstone_cli.keys` *before* a path is
built, and the joined path is checked again to be inside the root (following symlinks locally).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from flowstone_cli.errors import InvalidNameError
from flowstone_cli.keys import validate_asset_name, validate_partition_key_part

# Linux and macOS refuse file names longer than 255 bytes; refuse them here with a clear message
# instead of failing with ENAMETOOLONG half-way through a store.
MAX_FILE_NAME_BYTES = 255


@dataclass(frozen=True)
class StorageRoot:
    """A normalised storage root.

    Attributes:
        url: the root as fsspec needs it: an absolute local path, or `protocol://...` without a
            trailing slash.
        display: the same root with any password in the URL replaced by `***` (for messages).
        is_local: True when the root is a directory on the local file system.
        protocol: `"file"` for local roots, else the URL scheme (`"s3"`, `"gs"`, `"memory"` ...).
    """

    url: str
    display: str
    is_local: bool
    protocol: str


@dataclass(frozen=True)
class Location:
    """One value's place in storage.

    Attributes:
        path: the path to hand to the file system (`os` for local roots, fsspec otherwise).
        uri: the user-facing location: a local path or a `protocol://` URL, without secrets.
    """

    path: str
    uri: str


def parse_root(root: str) -> StorageRoot:
    """Normalise `root` (a local path, `file://` URL or any fsspec URL).

    Raises:
        InvalidNameError: `root` is empty or not a string.
    """
    if not isinstance(root, str) or not root.strip() or "\x00" in root:
        raise InvalidNameError(f"storage root {root!r} is empty or not a valid path",
                               hint="Give a directory such as `data` or a URL such as "
                                    "`s3://bucket/prefix`.")
    if root.startswith("file://"):
        root = root[len("file://"):]
    if "://" not in root:
        path = os.path.abspath(os.path.expanduser(root))
        return StorageRoot(url=path, display=path, is_local=True, protocol="file")
    protocol = root.split("://", 1)[0].lower()
    url = root.rstrip("/")
    return StorageRoot(url=url, display=redact_url(url), is_local=False, protocol=protocol)


def redact_url(url: str) -> str:
    """Return `url` with the password of its user-info part (if any) replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def validate_partition_path(partition_path: str) -> tuple[str, ...]:
    """Split `partition_path` into its `/`-separated segments and validate each one.

    A segment is either a key (`2025-01-15`) or a hive-style `dimension=key` pair
    (`tenant=acme`), where the dimension must be an ASCII identifier.

    Raises:
        InvalidNameError: a segment is empty, unsafe or malformed.
    """
    if not isinstance(partition_path, str) or not partition_path:
        raise InvalidNameError(f"partition path {partition_path!r} is empty or not a string",
                               hint="Give a key such as `2025-01-15`.")
    segments = tuple(partition_path.split("/"))
    for segment in segments:
        if "=" in segment:
            dimension, key = segment.split("=", 1)
            if not (dimension.isascii() and dimension.isidentifier()):
                raise InvalidNameError(
                    f"partition dimension {dimension!r} in {partition_path!r} is not an "
                    "identifier", hint="Name dimensions with letters, digits and underscores.")
            validate_partition_key_part(key, what=f"partition key of dimension {dimension!r}")
        else:
            validate_partition_key_part(segment)
    return segments


def relative_path(asset: str, partition: str | None, partition_path: str | None,
                  extension: str) -> str:
    """The `/`-separated path of a value below its root, after validating every part.

    `<asset><ext>` when unpartitioned, `<asset>/<partition_path><ext>` when partitioned. When
    only the canonical `partition` key is known it is used as a single path segment.

    Raises:
        InvalidNameError: the asset name or a partition segment is unsafe, or a file name would
            be longer than the file system allows.
    """
    validate_asset_name(asset)
    path_source = partition_path if partition_path is not None else partition
    if path_source is None:
        segments: tuple[str, ...] = (f"{asset}{extension}",)
    else:
        parts = validate_partition_path(path_source)
        segments = (asset, *parts[:-1], f"{parts[-1]}{extension}")
    for segment in segments:
        if len(segment.encode("utf-8")) > MAX_FILE_NAME_BYTES:
            raise InvalidNameError(
                f"file name {segment[:40]!r}... for asset {asset!r} is longer than "
                f"{MAX_FILE_NAME_BYTES} bytes", hint="Use a shorter partition key.")
    relative = "/".join(segments)
    # Belt and braces: validated segments cannot contain `..` or separators, so normalising must
    # be a no-op. If it is not, something above is wrong and we refuse rather than guess.
    if posixpath.normpath(relative) != relative or relative.startswith("/"):
        raise InvalidNameError(f"path {relative!r} for asset {asset!r} is not a plain relative "
                               "path", hint="Use plain partition keys without `.` segments.")
    return relative


def locate(root: StorageRoot, relative: str) -> Location:
    """Join `relative` onto `root` and check that the result stays inside the root.

    Local roots are checked with `os.path.realpath`, so a symlink inside the root that points
    elsewhere is refused too.

    Raises:
        InvalidNameError: the joined path resolves outside the root.
    """
    if root.is_local:
        path = os.path.join(root.url, *relative.split("/"))
        real_root = os.path.realpath(root.url)
        real_path = os.path.realpath(path)
        if os.path.commonpath([real_root, real_path]) != real_root or real_path == real_root:
            raise InvalidNameError(f"path for {relative!r} resolves to {real_path}, outside the "
                                   f"storage root {root.display}",
                                   hint="Remove the symlink or choose another storage root.")
        return Location(path=path, uri=path)
    return Location(path=f"{root.url}/{relative}", uri=f"{root.display}/{relative}")
