"""The postgres I/O manager through the real `flowstone` command."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.cli_runner import run_cli
from tests.io.postgres.conftest import sql_rows, write_project
from tests.postgres_server import PASSWORD

ASSETS = '''
import pyarrow as pa
from flowstone_cli import DailyPartitions, asset


@asset(io_manager="pg", partitions=DailyPartitions(start="2025-01-01"))
def events(context):
    day = int(context.partition[-2:])
    return pa.table({"id": list(range(day)), "day": [context.partition] * day})


@asset(io_manager="pg", partitions=DailyPartitions(start="2025-01-01"))
def event_counts(events):
    return [{"n": events.num_rows}]


@asset(io_manager="pg")
def user_metrics():
    return [{"user_id": 1, "segment": "new"}]
'''


def test_thirty_day_backfill_through_the_cli(tmp_path: Path, pg_server, pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema,
                            extra='[io_managers.pg.tables]\nuser_metrics = '
                                  f'"{pg_schema}_reports.user_metrics"\n')
    env = {"PG_DSN": pg_server.dsn}
    checked = run_cli("-p", str(project), "check", env=env)
    assert checked.code == 0, checked.stdout + checked.stderr
    ran = run_cli("-p", str(project), "backfill", "events", "event_counts", "--from",
                  "2025-01-01", "--to", "2025-01-30", env=env, timeout=900)
    assert ran.code == 0, ran.stdout + ran.stderr
    per_day = sql_rows(pg_server, f'SELECT _partition, count(*) FROM "{pg_schema}".events '
                       "GROUP BY 1 ORDER BY 1")
    assert per_day == [(f"2025-01-{d:02d}", d) for d in range(1, 31)]
    counts = sql_rows(pg_server, f'SELECT _partition, n FROM "{pg_schema}".event_counts '
                      "ORDER BY 1")
    assert counts == [(f"2025-01-{d:02d}", d) for d in range(1, 31)]
    assert sql_rows(pg_server, f'SELECT count(*) FROM "{pg_schema}"._flowstone_partitions') \
        == [(60,)]
    assert run_cli("-p", str(project), "materialize", "user_metrics", env=env).code == 0
    assert sql_rows(pg_server, f'SELECT * FROM "{pg_schema}_reports".user_metrics') == [
        (1, "new")]
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        recorded = con.execute(
            "SELECT count(*), count(DISTINCT data_version), sum(\"rows\"), min(size_bytes), "
            "max(uri) FROM steps WHERE asset = 'events' AND status = 'succeeded'").fetchone()
    assert recorded[0] == 30 and recorded[1] == 30 and recorded[2] == sum(range(1, 31))
    assert recorded[3] > 0 and recorded[4].startswith("postgresql://flowstone@127.0.0.1")
    assert PASSWORD not in ran.stdout + ran.stderr + recorded[4]


def test_check_reports_a_wrong_password_without_printing_it(tmp_path: Path, pg_server,
                                                             pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema)
    wrong = "Not-The-Password-42"
    env = {"PG_DSN": pg_server.dsn_with(password=wrong)}
    checked = run_cli("-p", str(project), "check", env=env)
    assert checked.code == 2
    assert "password authentication failed" in checked.stdout + checked.stderr
    assert wrong not in checked.stdout + checked.stderr
    health = run_cli("-p", str(project), "resources", "check", "--json", env=env)
    assert health.code == 1, health.stdout + health.stderr
    [row] = health.json()
    assert row["name"] == "io_managers.pg" and row["healthy"] is False
    assert wrong not in health.stdout + health.stderr
    ran = run_cli("-p", str(project), "materialize", "user_metrics", env=env)
    assert ran.code == 1 and "password authentication failed" in ran.stdout + ran.stderr
    assert wrong not in ran.stdout + ran.stderr


def test_check_reports_an_unreachable_server(tmp_path: Path, pg_server, pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema)
    checked = run_cli("-p", str(project), "check", env={"PG_DSN": pg_server.dsn_with(port=1)})
    assert checked.code == 2
    assert "cannot connect to PostgreSQL at flowstone@127.0.0.1:1/postgres" in (
        checked.stdout + checked.stderr)
    assert PASSWORD not in checked.stdout + checked.stderr


def test_check_validates_the_tables_option(tmp_path: Path, pg_server, pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema,
                            extra='[io_managers.pg.tables]\nno_such_asset = "t"\n')
    checked = run_cli("-p", str(project), "check", env={"PG_DSN": pg_server.dsn})
    assert checked.code == 2
    assert "no asset named 'no_such_asset'" in checked.stdout + checked.stderr


def test_without_the_extra_commands_name_it_and_exit_2(tmp_path: Path, pg_server,
                                                       pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema)
    hide = tmp_path / "hide"
    hide.mkdir()
    # As if the extra were not installed: importing either driver fails.
    (hide / "sitecustomize.py").write_text(
        "import sys\nsys.modules['psycopg'] = None\nsys.modules['adbc_driver_postgresql'] = "
        "None\n", encoding="utf-8")
    env = {"PG_DSN": pg_server.dsn, "PYTHONPATH": str(hide)}
    for args in (["check"], ["materialize", "user_metrics"]):
        result = run_cli("-p", str(project), *args, env=env)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert "pip install 'flowstone-cli[postgres]'" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    listed = run_cli("-p", str(project), "list", env=env)
    assert listed.code == 0, listed.stderr


MULTI = '''
from flowstone_cli import DailyPartitions, MultiPartitions, StaticPartitions, asset


@asset(io_manager="pg", partitions=MultiPartitions(
    date=DailyPartitions(start="2025-01-01"), tenant=StaticPartitions(["acme", "zeta"])))
def sales(context):
    return [{"amount": 1.5}, {"amount": 2.5}]


@asset(io_manager="pg", partitions=MultiPartitions(
    date=DailyPartitions(start="2025-01-01"), tenant=StaticPartitions(["acme", "zeta"])))
def sales_total(sales):
    return [{"total": sum(sales.column("amount").to_pylist())}]
'''


def test_multi_partitions_through_the_cli(tmp_path: Path, pg_server, pg_schema) -> None:
    project = write_project(tmp_path / "p", MULTI, schema=pg_schema)
    ran = run_cli("-p", str(project), "materialize", "sales", "sales_total", "--partition",
                  "tenant=acme,date=2025-01-02", "--partition", "date=2025-01-02,tenant=zeta",
                  env={"PG_DSN": pg_server.dsn})
    assert ran.code == 0, ran.stdout + ran.stderr
    assert sql_rows(pg_server, f'SELECT _partition_tenant, _partition_date, total FROM '
                    f'"{pg_schema}".sales_total ORDER BY 1') == [
        ("acme", "2025-01-02", 4.0), ("zeta", "2025-01-02", 4.0)]
