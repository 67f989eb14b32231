"""The schema version recorded in a store file, and bringing a file up to this code's version.

The `meta` table records `schema_version`, the `duckdb_version` that last migrated the file (a file
written by a newer DuckDB cannot be read by an older one) and `created_at`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowstone_cli.errors import MetadataStoreError
from flowstone_cli.metadata.connection import duckdb_module
from flowstone_cli.metadata.ids import utcnow
from flowstone_cli.metadata.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_READ_META = "SELECT value FROM meta WHERE key = ?"
_SET_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
_SET_META_ONCE = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING"


def read_schema_version(conn: DuckDBPyConnection) -> int:
    """The file's schema version; 0 for a file without a `meta` table (new or never migrated).

    Call it outside a transaction: the failed lookup of a missing table would abort one.
    """
    try:
        row = conn.execute(_READ_META, ["schema_version"]).fetchone()
    except duckdb_module().CatalogException:
        # Asking the catalog first (`duckdb_tables()`) costs ~7 ms per session; a missing
        # table is the rare case, so try the read and treat "no such table" as version 0.
        return 0
    return int(row[0]) if row else 0


def refuse_newer(path: Path, version: int) -> None:
    """Raise when the file was written by a FlowStone with a newer schema than this one knows.

    Raises:
        MetadataStoreError: `version` is newer than `CURRENT_SCHEMA_VERSION`.
    """
    if version > CURRENT_SCHEMA_VERSION:
        raise MetadataStoreError(
            f"metadata store {path} was written by a newer FlowStone (schema {version}, this "
            f"FlowStone knows {CURRENT_SCHEMA_VERSION}); it was left untouched",
            hint="Upgrade flowstone-cli (`pip install -U flowstone-cli`) to use this project.")


def migrate(conn: DuckDBPyConnection, from_version: int, duckdb_version: str) -> None:
    """Apply every migration newer than `from_version` and record the result in `meta`.

    Runs inside the caller's transaction: either all of it is committed or none.
    """
    for migration in MIGRATIONS:
        if migration.version > from_version:
            migration.apply(conn)
    conn.execute(_SET_META, ["schema_version", str(CURRENT_SCHEMA_VERSION)])
    conn.execute(_SET_META, ["duckdb_version", duckdb_version])
    conn.execute(_SET_META_ONCE, ["created_at", utcnow().isoformat()])


def read_meta(conn: DuckDBPyConnection) -> dict[str, str]:
    """All `meta` entries (empty for a file that was never migrated)."""
    if not read_schema_version(conn):
        return {}
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())
