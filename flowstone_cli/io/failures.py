"""The errors I/O managers raise, each naming the asset, the partition and the URI.

Built-in managers and the `IOManager` boundary build their errors here so that every message
has the same shape: what failed, for which asset and partition, where, and why.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

from flowstone_cli.errors import CorruptInputError, IOManagerError

# OSErrors that repeating the same call will not fix.
_PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError,
                        NotADirectoryError, FileExistsError)


def describe(asset: str, partition: str | None) -> str:
    """`asset 'x'` or `asset 'x' partition 'p'`, for messages."""
    if partition is None:
        return f"asset {asset!r}"
    return f"asset {asset!r} partition {partition!r}"


def describe_cause(exc: BaseException) -> str:
    """`Type: message` of an exception, on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure with `exc` may go away on retry (network trouble, a busy store)."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    # Client libraries have their own trees (botocore's EndpointConnectionError is not an
    # OSError); judge those by name rather than importing them.
    if any(kind.__name__.endswith(("ConnectionError", "TimeoutError", "Timeout"))
           for kind in type(exc).__mro__):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, _PERMANENT_OS_ERRORS)


def looks_corrupt(exc: BaseException) -> bool:
    """Whether `exc`, raised while reading a stored value, means the stored bytes are damaged."""
    if isinstance(exc, (pickle.UnpicklingError, EOFError, json.JSONDecodeError,
                        UnicodeDecodeError)):
        return True
    # Checked by name so that this module does not import pyarrow.
    kind = type(exc)
    return kind.__name__ == "ArrowInvalid" and kind.__module__.startswith("pyarrow")


def missing_value_error(asset: str, partition: str | None, uri: str) -> IOManagerError:
    """The value to load was never stored (or was deleted)."""
    hint = f"materialize {asset} first"
    if partition is not None:
        hint += f" for partition {partition!r}"
    return IOManagerError(f"no stored value for {describe(asset, partition)} at {uri}",
                          hint=f"{hint}, e.g. `flowstone materialize {asset}`.",
                          retryable=False)


def corrupt_input_error(asset: str, partition: str | None, uri: str,
                        exc: BaseException) -> CorruptInputError:
    """The stored value exists but cannot be read back (truncated, torn or not the format)."""
    return CorruptInputError(
        f"corrupt input: stored value of {describe(asset, partition)} at {uri} cannot be read "
        f"({describe_cause(exc)})",
        hint=f"The file is damaged or was written by something else; materialize {asset} "
             "again to replace it.")


def operation_error(operation: str, asset: str, partition: str | None, uri: str,
                    exc: BaseException, *, manager: str) -> IOManagerError:
    """Any other failure of `store`/`load`/`exists`/`delete`."""
    verb = {"exists": "check for"}.get(operation, operation)
    if operation == "store" and _is_pickling_failure(exc):
        return IOManagerError(
            f"could not store {describe(asset, partition)} with the {manager} I/O manager: the "
            f"value cannot be pickled ({describe_cause(exc)})",
            hint=f"{asset} returned a value holding something pickle cannot copy (an open "
                 "connection, file, lock, generator, lambda or locally defined class). Return "
                 "plain data, or create that object inside the asset rather than returning it.",
            retryable=False)
    return IOManagerError(
        f"could not {verb} {describe(asset, partition)} at {uri} with the {manager} I/O "
        f"manager: {describe_cause(exc)}",
        hint="Check that the storage is reachable and writable; run with --debug for the "
             "traceback.",
        retryable=is_retryable(exc))


def _is_pickling_failure(exc: BaseException) -> bool:
    """Whether `exc` says a value cannot be pickled (not that the storage failed)."""
    if isinstance(exc, pickle.PicklingError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (TypeError, AttributeError)) and ("pickle" in text)


def unsupported_value_error(asset: str, partition: str | None, uri: str, value: Any, *,
                            manager: str, accepted: str) -> IOManagerError:
    """The value returned by an asset cannot be stored by this manager."""
    kind = type(value)
    type_name = kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}")
    return IOManagerError(
        f"the {manager} I/O manager cannot store a value of type {type_name} for "
        f"{describe(asset, partition)}; it accepts {accepted}",
        hint=f'Return one of those types, or use io_manager="pickle" for {asset}.',
        retryable=False)
