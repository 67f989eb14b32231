"""A real PostgreSQL server for the session (one per xdist worker), and per-test helpers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_schema() -> str:
    """A schema name no other test uses (tests share the session's server)."""
    return f"t_{secrets.token_hex(5)}"


def sql_rows(server: PostgresServer, query: str, *params: object) -> list[tuple[object, ...]]:
    """Run one query on a fresh psycopg connection and return its rows."""
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as con:
        cur = con.execute(query, params or None)
        return cur.fetchall() if cur.description is not None else []


def write_project(root: Path, assets: str, *, schema: str, extra: str = "") -> Path:
    """A project using `[io_managers.pg]` with `dsn = "${PG_DSN}"`."""
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text(
        '[project]\nname = "pg"\n\n[io_managers.pg]\ntype = "postgres"\n'
        f'dsn = "${{PG_DSN}}"\nschema = "{schema}"\n{extra}', encoding="utf-8")
    (root / "assets" / "tables.py").write_text(assets, encoding="utf-8")
    return root
