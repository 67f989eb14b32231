"""The `json` I/O manager: JSON-serialisable values as deterministic `.json` files."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, ClassVar

from flowstone_cli.errors import IOManagerError
from flowstone_cli.io import failures
from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.files import FileIOManager, Serialisation
from flowstone_cli.io.paths import Location


class _NotSerialisable(TypeError):
    def __init__(self, value: Any) -> None:
        super().__init__(type(value).__name__)
        self.value_type = type(value)


def _refuse(value: Any) -> Any:
    raise _NotSerialisable(value)


class JsonIOManager(FileIOManager):
    """Stores JSON-serialisable values as `<root>/<asset>[/<partition_path>].json`.

    Output is deterministic (sorted keys, compact separators, UTF-8), so equal values get equal
    bytes and therefore equal data versions. Tuples come back as lists; NaN and infinity are
    refused because they are not JSON.
    """

    type_name: ClassVar[str] = "json"
    extension: ClassVar[str] = ".json"

    def _serialisation(self, ctx: StoreContext, location: Location,
                       value: Any) -> Serialisation:
        # Serialise before publishing starts, so an unsupported value touches no storage.
        try:
            data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False, default=_refuse).encode("utf-8")
        except _NotSerialisable as exc:
            raise self._not_serialisable(
                ctx, location, f"it contains a {exc.value_type.__qualname__}") from exc
        except (TypeError, ValueError) as exc:  # NaN/infinity, circular references
            raise self._not_serialisable(
                ctx, location, f"{type(value).__qualname__} value: {failures.describe_cause(exc)}",
            ) from exc

        def write(sink: BinaryIO) -> None:
            sink.write(data)

        rows = len(value) if isinstance(value, (list, tuple, dict)) else None
        return Serialisation(write=write, rows=rows)

    def _not_serialisable(self, ctx: StoreContext, location: Location,
                          reason: str) -> IOManagerError:
        return IOManagerError(
            f"value of {failures.describe(ctx.asset, ctx.partition)} is not JSON-serialisable "
            f"({reason}); nothing was written to {location.uri}",
            hint=f'Return plain dicts, lists, strings, numbers, booleans and None, or use '
                 f'io_manager="pickle" for {ctx.asset}.',
            retryable=False)

    def _read(self, ctx: StoreContext, location: Location) -> Any:
        try:
            return json.loads(self._read_bytes(location))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise failures.corrupt_input_error(ctx.asset, ctx.partition, location.uri,
                                               exc) from exc
