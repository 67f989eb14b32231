"""`flowstone sql`: one read-only query over the metadata store."""

from __future__ import annotations

from flowstone_cli.api.lineage import metadata_store
from flowstone_cli.metadata.lineage_queries import QueryResult
from flowstone_cli.project.loader import Project


DEFAULT_TIMEOUT = 5.0
DEFAULT_LIMIT = 1000


def run_sql(project: Project, sql: str, *, timeout: float | None = DEFAULT_TIMEOUT,
            limit: int | None = DEFAULT_LIMIT) -> QueryResult:
    """Run one SELECT over the project's metadata store, read-only, without file or network
    access (a project without a store answers from empty tables).

    The query is interrupted after `timeout` seconds (None: no limit), so it never holds the
    store longer than that, and at most `limit` rows are returned (`truncated` says if more
    existed).

    Raises:
        UsageError: not a single read statement, a SQL error, an attempt to read a file, or
            the query ran past `timeout`.
        MetadataStoreBusyError: a writer held the store past the lock timeout.
    """
    with metadata_store(project).reader() as reader:
        return reader.read_only_query(sql, timeout=timeout, limit=limit)
