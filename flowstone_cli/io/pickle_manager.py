"""The `pickle` I/O manager, the default: any picklable Python value, one `.pkl` file each."""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO, ClassVar

from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.files import FileIOManager, Serialisation
from flowstone_cli.io.paths import Location
from flowstone_cli.io.values import count_rows

# Protocol 5 (Python 3.8+) frames large buffers efficiently; every supported Python reads it.
PICKLE_PROTOCOL = 5


class PickleIOManager(FileIOManager):
    """Stores any picklable value as `<root>/<asset>[/<partition_path>].pkl`.

    The pickle is streamed into the temporary file, so a value that fails to pickle half-way
    publishes nothing. Loading runs `pickle.load`: only load files your own runs wrote.
    """

    type_name: ClassVar[str] = "pickle"
    extension: ClassVar[str] = ".pkl"

    def _serialisation(self, ctx: StoreContext, location: Location,
                       value: Any) -> Serialisation:
        def write(sink: BinaryIO) -> None:
            pickle.dump(value, sink, protocol=PICKLE_PROTOCOL)

        return Serialisation(write=write, rows=count_rows(value))

    def _read(self, ctx: StoreContext, location: Location) -> Any:
        if self.is_local:
            with self._open_for_reading(location) as file:
                return pickle.load(file)  # noqa: S301 - our own published files
        return pickle.loads(self._read_bytes(location))  # noqa: S301
