"""fsspec file systems for storage roots, and keeping their credentials out of messages.

`storage_options` often hold credentials (s3fs keeps them in its `storage_options`), so nothing
here puts them in a message or repr; `secret_strings` + `scrub` remove them from any text that
might have picked them up (an exception message from a library, for instance).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowstone_cli.io.paths import StorageRoot

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# Object stores publish a whole object per PUT and have no atomic rename (S3 `mv` is copy+delete),
# so values for them are serialised fully first and uploaded once.
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl",
                                    "oss"})
_S3_PROTOCOLS = frozenset({"s3", "s3a"})

# Option names (or name parts) whose values are credentials.
_SECRET_NAME_PARTS = ("secret", "password", "token", "credential", "passphrase", "private",
                      "connection_string", "sas")
_SECRET_NAMES = frozenset({"key", "access_key", "account_key", "aws_access_key_id",
                           "access_key_id", "api_key"})
# Very short strings are not credentials, and scrubbing them would garble every message.
_MIN_SECRET_LENGTH = 4
REDACTED = "***"


def fsspec_options(protocol: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments to give fsspec for `protocol`.

    For S3, a top-level `endpoint_url` is moved into `client_kwargs`, which every s3fs version
    understands (MinIO, moto, Ceph and other S3-compatible servers need it).
    """
    options = dict(storage_options or {})
    if protocol in _S3_PROTOCOLS and "endpoint_url" in options:
        client_kwargs = dict(options.get("client_kwargs") or {})
        client_kwargs.setdefault("endpoint_url", options.pop("endpoint_url"))
        options["client_kwargs"] = client_kwargs
    return options


def open_filesystem(root: StorageRoot,
                    storage_options: Mapping[str, Any] | None) -> AbstractFileSystem:
    """Create (or fetch from fsspec's instance cache) the file system for `root`."""
    # lazy: keeps CLI start-up fast (fsspec ~80 ms, s3fs ~250 ms to import)
    import fsspec

    return fsspec.filesystem(root.protocol, **fsspec_options(root.protocol, storage_options))


def fs_path(fs: AbstractFileSystem, url: str) -> str:
    """`url` as a path for `fs` (protocol removed), which every fsspec method accepts."""
    return str(fs._strip_protocol(url))  # noqa: SLF001 - fsspec's documented way to do this


def is_object_store(fs: AbstractFileSystem) -> bool:
    """True when `fs` publishes whole objects with one PUT (S3, GCS, Azure ...)."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return any(p in OBJECT_STORE_PROTOCOLS for p in protocols)


def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith("_key") or any(
        part in lowered for part in _SECRET_NAME_PARTS)


def _walk_secrets(options: Mapping[str, Any], inherited: bool) -> Iterator[str]:
    for name, value in options.items():
        secret = inherited or _is_secret_name(str(name))
        if isinstance(value, Mapping):
            yield from _walk_secrets(value, secret)
        elif isinstance(value, str):
            if secret:
                yield value
            elif "://" in value:
                password = urlsplit(value).password
                if password:
                    yield password


def secret_strings(storage_options: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Every credential-looking string in `storage_options` (nested mappings included).

    Longest first, so that scrubbing a secret that contains another one works.
    """
    found = {s for s in _walk_secrets(storage_options or {}, False)
             if len(s) >= _MIN_SECRET_LENGTH}
    return tuple(sorted(found, key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every occurrence of each secret in `text` with `***`."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
