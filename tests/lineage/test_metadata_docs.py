"""docs/metadata.md describes the store as it is: every table, every column of the stable
tables, every schema version and every step status."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from flowstone_cli.metadata import MetadataStore, StepStatus
from flowstone_cli.metadata.migrations import MIGRATIONS
from tests.cli_runner import REPO

DOC = (REPO / "docs" / "metadata.md").read_text(encoding="utf-8")
STABLE = ("meta", "runs", "steps", "lineage", "events", "backfills", "dynamic_partitions")


def _columns(tmp_path: Path) -> dict[str, list[str]]:
    store = MetadataStore(tmp_path / "fresh.duckdb")
    with store.writer():
        pass
    with duckdb.connect(str(store.path), read_only=True) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "ORDER BY table_name, ordinal_position").fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def test_every_table_is_documented(tmp_path: Path) -> None:
    missing = [t for t in _columns(tmp_path) if f"`{t}`" not in DOC]
    assert missing == []


def test_every_column_of_the_stable_tables_is_documented(tmp_path: Path) -> None:
    tables = _columns(tmp_path)
    for table in STABLE:
        section = DOC.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
        documented = set(re.findall(r"`([a-z_]+)`", section))
        assert set(tables[table]) <= documented, (table, set(tables[table]) - documented)


def test_every_schema_version_and_step_status_is_documented() -> None:
    for migration in MIGRATIONS:
        assert f"\n| {migration.version} |" in DOC, migration.version
    for status in StepStatus:
        assert f"| `{status.value}` |" in DOC, status
