"""SQL of the `checks` table: one row per evaluation of an asset check on a materialization."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowstone_cli.metadata.codec import Column, Kind, Table

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


@dataclass(frozen=True)
class CheckRecord:
    """One evaluation of one check.

    Attributes:
        check_id: random id of this row.
        check_name: the check's name (unique per asset).
        asset: the asset checked.
        partition: its partition key, or None.
        materialization: the step id of the value checked.
        run_id: the run whose step ran the check; None for `flowstone check-assets`.
        passed: the verdict.
        severity: "error" or "warn".
        blocking: whether the check was declared blocking.
        message: one line from the check (or its exception).
        metadata: details the check returned.
        executed_at: when it ran.
    """

    check_id: str
    check_name: str
    asset: str
    partition: str | None
    materialization: str
    run_id: str | None
    passed: bool
    severity: str
    blocking: bool
    message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    executed_at: datetime | None = None

    @property
    def blocks(self) -> bool:
        """A failure that keeps the value from flowing downstream."""
        return not self.passed and self.blocking and self.severity == "error"

    @property
    def full_name(self) -> str:
        """`asset.check`."""
        return f"{self.asset}.{self.check_name}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"check": self.check_name, "asset": self.asset, "partition": self.partition,
                "materialization": self.materialization, "run_id": self.run_id,
                "passed": self.passed, "severity": self.severity, "blocking": self.blocking,
                "message": self.message, "metadata": self.metadata,
                "executed_at": self.executed_at.isoformat() if self.executed_at else None}


CHECKS: Table[CheckRecord] = Table("checks", CheckRecord, [
    Column("check_id", "VARCHAR"),
    Column("check_name", "VARCHAR"),
    Column("asset", "VARCHAR"),
    Column("partition", "VARCHAR"),
    Column("materialization", "VARCHAR"),
    Column("run_id", "VARCHAR"),
    Column("passed", "BOOLEAN"),
    Column("severity", "VARCHAR"),
    Column("blocking", "BOOLEAN"),
    Column("message", "VARCHAR"),
    Column("metadata", "VARCHAR", Kind.JSON),
    Column("executed_at", "TIMESTAMPTZ", Kind.TIME),
])

# The newest verdict of each check on each of the given materializations.
_VERDICTS = f"""
    SELECT {CHECKS.select_list} FROM checks
    WHERE rowid IN (
        SELECT arg_max(rowid, (executed_at, check_id)) FROM checks
        WHERE materialization IN (SELECT UNNEST(?::VARCHAR[]))
        GROUP BY materialization, check_name
    )
    ORDER BY asset, "partition" NULLS FIRST, check_name
"""
_OF_RUNS = (f"SELECT {CHECKS.select_list} FROM checks WHERE run_id IN "
            "(SELECT UNNEST(?::VARCHAR[])) ORDER BY executed_at, asset, check_name")
_HISTORY = (f"SELECT {CHECKS.select_list} FROM checks WHERE asset = ? "
            "AND (? IS NULL OR check_name = ?) ORDER BY executed_at DESC, check_id LIMIT ?")


def insert(conn: DuckDBPyConnection, rows: Sequence[CheckRecord]) -> None:
    """Insert a batch of check results."""
    if rows:
        conn.execute(CHECKS.insert_sql, CHECKS.insert_params(rows))


def verdicts(conn: DuckDBPyConnection, materializations: Collection[str]) -> list[CheckRecord]:
    """The newest result of each check on each materialization."""
    if not materializations:
        return []
    return CHECKS.decode_all(conn.execute(_VERDICTS, [sorted(materializations)]).fetchall())


def for_runs(conn: DuckDBPyConnection, run_ids: Collection[str]) -> list[CheckRecord]:
    """Every check result recorded by these runs."""
    if not run_ids:
        return []
    return CHECKS.decode_all(conn.execute(_OF_RUNS, [sorted(run_ids)]).fetchall())


def history(conn: DuckDBPyConnection, asset: str, check: str | None,
            limit: int) -> list[CheckRecord]:
    """The newest results for an asset (optionally one check), newest first."""
    return CHECKS.decode_all(conn.execute(_HISTORY, [asset, check, check, limit]).fetchall())
