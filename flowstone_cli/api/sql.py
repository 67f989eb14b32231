"""`flowstone sql`: one read-only query over the metadata store."""

from __future__ import annotations

from flowstone_cli.api.lineage import metadata_store
from flowstone_cli.metadata.lineage_queries import QueryResult
from flowstone_cli.project.loader import Project


def run_sql(project: Project, sql: str) -> QueryResult:
    """Run one SELECT over the project's metadata store, read-only, without file or network
    access (a project without a store answers from empty tables).

    Raises:
        UsageError: not a single read statement, a SQL error, or an attempt to read a file.
        MetadataStoreBusyError: a writer held the store past the lock timeout.
    """
    with metadata_store(project).reader() as reader:
        return reader.read_only_query(sql)
