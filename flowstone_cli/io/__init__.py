"""I/O managers: how asset values are stored to and loaded from local disk, S3, Parquet and DuckDB.

Every value is published atomically (temp file + rename locally, one PUT on object stores) and
every failure surfaces as an `IOManagerError` naming the asset, partition and URI. Importing this
package is cheap: pyarrow, duckdb, fsspec/s3fs and pandas are imported only when first used.
"""

from flowstone_cli.io.base import IOManager, StoreContext, StoredValue
from flowstone_cli.io.cleanup import cleanup_temp_files
from flowstone_cli.io.duckdb_manager import DuckDBIOManager
from flowstone_cli.io.files import FileIOManager, Serialisation
from flowstone_cli.io.json_manager import JsonIOManager
from flowstone_cli.io.memory_manager import MemoryIOManager
from flowstone_cli.io.parquet_manager import ParquetIOManager
from flowstone_cli.io.pickle_manager import PickleIOManager
from flowstone_cli.io.publish import PublishedFile, publish_file
from flowstone_cli.io.registry import (
    BUILTIN_IO_MANAGERS,
    create_io_manager,
    resolve_io_manager_class,
)

__all__ = [
    "BUILTIN_IO_MANAGERS",
    "DuckDBIOManager",
    "FileIOManager",
    "IOManager",
    "JsonIOManager",
    "MemoryIOManager",
    "ParquetIOManager",
    "PickleIOManager",
    "PublishedFile",
    "Serialisation",
    "StoreContext",
    "StoredValue",
    "cleanup_temp_files",
    "create_io_manager",
    "publish_file",
    "resolve_io_manager_class",
]
