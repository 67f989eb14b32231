"""Creating, migrating and refusing metadata files: what happens before any query runs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flowstone_cli.errors import MetadataStoreError, NotFoundError
from flowstone_cli.metadata import (
    CURRENT_SCHEMA_VERSION,
    MetadataStore,
    RunRecord,
    RunStatus,
    schema,
)
from flowstone_cli.metadata.migrations import MIGRATIONS, Migration

REPO = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def make_store_with_schema(path: Path, version: int) -> None:
    with MetadataStore(path).writer() as w:
        w.insert_run(RunRecord("r1", RunStatus.SUCCEEDED))
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", [str(version), "schema_version"])


def test_importing_the_package_does_not_import_duckdb() -> None:
    code = "import sys, flowstone_cli.metadata; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "False"


def test_reader_on_a_missing_file_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "data" / "flowstone.duckdb")
    with store.reader() as r:
        assert r.list_runs() == []
        assert r.runs_with_status("running") == []
        assert r.latest_materializations() == {}
        assert r.latest_attempts(["a"]) == {}
        assert r.steps_for_run("x") == []
        assert r.events_for_run("x") == []
        assert r.lineage_for_steps(["s"]) == {"s": []}
        with pytest.raises(NotFoundError):
            r.get_run("20250101")
    assert not store.exists()
    assert files_in(tmp_path) == []


def test_first_write_creates_folder_and_file_at_the_current_schema(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "deep" / "er" / "flowstone.duckdb")
    with store.writer():
        pass
    assert store.exists()
    with store.reader() as r:
        meta = r.meta()
    assert meta["schema_version"] == str(CURRENT_SCHEMA_VERSION)
    assert meta["duckdb_version"] == duckdb.__version__
    assert meta["created_at"]


def test_reopening_does_not_run_migrations_again(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(m: Migration) -> Migration:
        def apply(conn: duckdb.DuckDBPyConnection) -> None:
            calls.append(m.version)
            m.apply(conn)
        return Migration(m.version, m.description, apply)

    monkeypatch.setattr(schema, "MIGRATIONS", tuple(counted(m) for m in MIGRATIONS))
    path = tmp_path / "flowstone.duckdb"
    with MetadataStore(path).writer():
        pass
    with MetadataStore(path).reader() as r:
        created = r.meta()["created_at"]
    for _ in range(2):
        with MetadataStore(path).writer() as w:
            w.insert_run(RunRecord(f"r{len(calls)}-{_}", RunStatus.RUNNING))
    with MetadataStore(path).reader() as r:
        assert r.meta()["created_at"] == created
    assert calls == list(range(1, CURRENT_SCHEMA_VERSION + 1))


def test_a_file_created_but_never_migrated_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.duckdb"
    duckdb.connect(str(path)).close()  # e.g. a crash before the first commit
    with MetadataStore(path).reader() as r:
        assert r.list_runs() == []
    with MetadataStore(path).writer() as w:
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))
    with MetadataStore(path).reader() as r:
        assert r.get_run("r1").status is RunStatus.RUNNING


@pytest.mark.parametrize("mode", ["reader", "writer"])
def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "flowstone.duckdb"
    make_store_with_schema(path, 999)
    before, listing = sha256(path), files_in(tmp_path)
    store = MetadataStore(path)
    with pytest.raises(MetadataStoreError) as info, getattr(store, mode)():
        pass
    message = str(info.value)
    assert "newer FlowStone" in message and "schema 999" in message
    assert f"knows {CURRENT_SCHEMA_VERSION}" in message and str(path) in message
    assert "upgrade flowstone-cli" in info.value.hint.lower()
    assert sha256(path) == before
    assert files_in(tmp_path) == listing  # no WAL left behind either


def test_a_newer_schema_appearing_between_sessions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.duckdb"
    store = MetadataStore(path)
    with store.writer() as w:  # the store has now checked this file once
        w.insert_run(RunRecord("r0", RunStatus.RUNNING))
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    before = sha256(path)
    with pytest.raises(MetadataStoreError, match="schema 999"), store.writer() as w:
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))
    assert sha256(path) == before


@pytest.mark.parametrize("mode", ["reader", "writer"])
def test_a_file_that_is_not_duckdb_is_refused_naming_the_path(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "flowstone.duckdb"
    path.write_bytes(os.urandom(64 * 1024))
    before = sha256(path)
    with pytest.raises(MetadataStoreError) as info, getattr(MetadataStore(path), mode)():
        pass
    assert str(path) in str(info.value)
    assert "not a DuckDB database" in str(info.value)
    assert info.value.hint
    assert sha256(path) == before
    assert files_in(tmp_path) == ["flowstone.duckdb"]


def test_opening_errors_are_classified_for_the_user() -> None:
    from flowstone_cli.metadata.connection import open_error
    path = Path("/p/flowstone.duckdb")
    newer = open_error(path, "Serialization Error: Trying to read a database file with version "
                             "number 99, but we can only read version 64", "1.0.0")
    assert "newer DuckDB" in str(newer) and "1.0.0" in str(newer) and str(path) in str(newer)
    corrupt = open_error(path, "Corrupt database file: computed checksum 1 does not match", "2")
    assert "corrupt" in str(corrupt)
