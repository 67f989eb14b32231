"""Numbered schema migrations of the metadata store.

Each `mNNNN_*.py` module holds `VERSION`, `DESCRIPTION` and `apply(conn)`. `MIGRATIONS` lists them
in order; a write session applies every one newer than the file's `schema_version`, inside its
transaction, so a crash mid-migration leaves the file as it was. Never edit a released migration:
add the next number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowstone_cli.metadata.migrations import (
    m0001_initial,
    m0002_partitions,
    m0003_ownership,
    m0004_automation,
    m0005_checkpoints,
    m0006_checks,
    m0007_step_sequence,
)

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


@dataclass(frozen=True)
class Migration:
    """One schema step: from `version - 1` to `version`."""

    version: int
    description: str
    apply: Callable[[DuckDBPyConnection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(m0001_initial.VERSION, m0001_initial.DESCRIPTION, m0001_initial.apply),
    Migration(m0002_partitions.VERSION, m0002_partitions.DESCRIPTION, m0002_partitions.apply),
    Migration(m0003_ownership.VERSION, m0003_ownership.DESCRIPTION, m0003_ownership.apply),
    Migration(m0004_automation.VERSION, m0004_automation.DESCRIPTION, m0004_automation.apply),
    Migration(m0005_checkpoints.VERSION, m0005_checkpoints.DESCRIPTION,
              m0005_checkpoints.apply),
    Migration(m0006_checks.VERSION, m0006_checks.DESCRIPTION, m0006_checks.apply),
    Migration(m0007_step_sequence.VERSION, m0007_step_sequence.DESCRIPTION,
              m0007_step_sequence.apply),
)

# Versions must run 1, 2, 3...: a gap or a duplicate would skip or repeat a schema change.
if [m.version for m in MIGRATIONS] != list(range(1, len(MIGRATIONS) + 1)):
    raise RuntimeError("metadata migrations must be numbered 1, 2, 3... without gaps")

CURRENT_SCHEMA_VERSION: int = MIGRATIONS[-1].version
