"""docs/postgres.md is run: its files form a project that checks and runs its console lines
against the session's PostgreSQL server (the generic docs test has no server)."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import REPO, run_cli
from tests.docs.test_docs import _console_lines, _files
from tests.io.postgres.conftest import sql_rows

GUIDE = REPO / "docs" / "postgres.md"


def test_the_postgres_guide_runs(tmp_path: Path, pg_server, pg_schema) -> None:
    files = _files(GUIDE)
    assert {"flowstone.toml", "assets/shop.py"} <= set(files)
    project = tmp_path / "project"
    for name, text in files.items():
        text = text.replace('"analytics', f'"{pg_schema}')  # a schema of this test's own
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = {"PG_DSN": pg_server.dsn}
    lines = _console_lines(GUIDE)
    assert len(lines) == 4
    for args, expected in lines:
        result = run_cli("-p", str(project), *args, env=env, timeout=600)
        assert result.code == expected, (args, result.stdout, result.stderr)
    assert sql_rows(pg_server, f'SELECT count(DISTINCT _partition), count(*) FROM '
                    f'"{pg_schema}".orders') == [(7, 21)]
    assert sql_rows(pg_server, f'SELECT count(*) FROM "{pg_schema}".user_metrics') == [(2,)]
    totals = sql_rows(pg_server, f'SELECT user_id, "amount_sum" FROM "{pg_schema}".order_totals '
                      "WHERE _partition = '2025-01-02' ORDER BY 1")
    assert totals == [(1, 9.5), (2, 20.0), (3, 2.0)]
