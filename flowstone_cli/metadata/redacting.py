"""The one place secrets are kept out of the metadata file: every value bound to a statement of a
write session passes through the project's `Redactor` before DuckDB sees it.

Step metadata, checkpoint summaries and previews, events, errors and the notification outbox are
all written through `StoreWriter`, whose connection is this wrapper; so no table module can
forget to redact, and a new table is covered the day it is added. JSON columns are encoded to
text before they are bound, and `Redactor.text` also masks the JSON-escaped spellings of a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowstone_cli.redaction import Redactor

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


class RedactingConnection:
    """A DuckDB connection whose `execute` parameters are redacted; everything else is passed on.

    Args:
        conn: the open connection.
        redactor: the secrets to mask.
    """

    def __init__(self, conn: DuckDBPyConnection, redactor: Redactor) -> None:
        self._conn = conn
        self._redactor = redactor

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> Any:
        """Run `sql` with every string parameter (and strings inside lists) redacted."""
        if parameters is None:
            return self._conn.execute(sql)
        if isinstance(parameters, Mapping):  # named parameters: keep the names
            return self._conn.execute(sql, {k: self._redactor.value(v)
                                            for k, v in parameters.items()})
        return self._conn.execute(sql, self._redactor.value(list(parameters)))

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> Any:
        """Run `sql` once per parameter row, each redacted."""
        return self._conn.executemany(sql, [self._redactor.value(list(p)) for p in parameters])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)
