"""A partition is replaced in one transaction: a concurrent reader never sees a partial
partition, and a writer killed with SIGKILL in the middle of its COPY leaves the old rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.cli_runner import flowstone_executable, run_cli
from tests.io.postgres.conftest import sql_rows, write_project

DAY = "2025-01-05"
ASSETS = '''
import os

import pyarrow as pa
from flowstone_cli import DailyPartitions, asset


@asset(io_manager="pg", partitions=DailyPartitions(start="2025-01-01"))
def events(context):
    rows = int(os.environ["PG_ROWS"])
    marker = int(os.environ["PG_MARKER"])
    return pa.table({"id": pa.array(range(rows), pa.int64()),
                     "marker": pa.array([marker] * rows, pa.int64()),
                     "payload": pa.array(["x" * 40] * rows)})
'''

READER = '''
import sys, time, psycopg
dsn, schema, day, out, stop = sys.argv[1:]
seen = []
with psycopg.connect(dsn, autocommit=True) as con:
    while True:
        done = __import__("os").path.exists(stop)
        n, markers = con.execute(
            f'SELECT count(*), count(DISTINCT marker) FROM "{schema}".events '
            "WHERE _partition = %s", (day,)).fetchone()
        seen.append(f"{n} {markers}")
        if done:
            break
open(out, "w").write("\\n".join(seen))
'''


def _materialize(project: Path, dsn: str, rows: int, marker: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    env.update(PG_DSN=dsn, PG_ROWS=str(rows), PG_MARKER=str(marker))
    return subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize",
                             "events", "--partition", DAY, "--force"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(condition, what: str, deadline: float = 300) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_reader_never_sees_a_partial_partition(tmp_path: Path, pg_server, pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema)
    first = _materialize(project, pg_server.dsn, 200_000, 1)
    assert first.wait(600) == 0, first.communicate()
    other = run_cli("-p", str(project), "materialize", "events", "--partition", "2025-01-06",
                    env={"PG_DSN": pg_server.dsn, "PG_ROWS": "7", "PG_MARKER": "9"})
    assert other.code == 0, other.stderr
    out, stop = tmp_path / "seen.txt", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, pg_server.dsn, pg_schema, DAY,
                               str(out), str(stop)])
    try:
        second = _materialize(project, pg_server.dsn, 300_000, 2)
        assert second.wait(600) == 0, second.communicate()
    finally:
        stop.touch()
        assert reader.wait(120) == 0
    seen = out.read_text().split("\n")
    assert set(seen) <= {"200000 1", "300000 1"}, sorted(set(seen))[:5]
    assert seen[0] == "200000 1" and seen[-1] == "300000 1"
    # The other partition was not touched.
    assert sql_rows(pg_server, f'SELECT count(*), min(marker) FROM "{pg_schema}".events '
                    "WHERE _partition = '2025-01-06'") == [(7, 9)]


def test_kill_9_mid_copy_leaves_the_previous_partition(tmp_path: Path, pg_server,
                                                       pg_schema) -> None:
    project = write_project(tmp_path / "p", ASSETS, schema=pg_schema)
    first = _materialize(project, pg_server.dsn, 1_000, 1)
    assert first.wait(600) == 0, first.communicate()
    big = 500_000
    # Hold the COPY in flight: every table created in the schema gets a row trigger that,
    # for the row the big value ends with, waits on an advisory lock this test holds. (A
    # partition's rows are COPYed into a new table that is attached when they are all in.)
    sql_rows(pg_server, f'''CREATE FUNCTION "{pg_schema}".hold_copy() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
            IF NEW.id = {big - 1} THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
            RETURN NEW;
        END $$''')
    sql_rows(pg_server, f'''CREATE FUNCTION "{pg_schema}".add_hold() RETURNS event_trigger
        LANGUAGE plpgsql AS $$ DECLARE created record; BEGIN
            FOR created IN SELECT * FROM pg_event_trigger_ddl_commands()
                    WHERE command_tag = 'CREATE TABLE' AND schema_name = '{pg_schema}' LOOP
                EXECUTE format('CREATE TRIGGER hold BEFORE INSERT ON %s FOR EACH ROW '
                               'EXECUTE FUNCTION "{pg_schema}".hold_copy()',
                               created.object_identity);
            END LOOP;
        END $$''')
    hold = f"hold_{pg_schema}"
    sql_rows(pg_server, f'CREATE EVENT TRIGGER "{hold}" ON ddl_command_end '
                        f"WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION \"{pg_schema}\".add_hold()")
    blocker = psycopg.connect(pg_server.dsn, autocommit=True)
    blocker.execute("SELECT pg_advisory_lock(4242)")
    writer = _materialize(project, pg_server.dsn, big, 2)
    try:
        copying = ("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%' "
                   "AND wait_event_type = 'Lock'")
        _wait_for(lambda: sql_rows(pg_server, copying) == [(1,)], "the writer's COPY")
        # Mid-COPY, readers still see exactly the previous rows.
        assert sql_rows(pg_server, f'SELECT count(*), max(marker) FROM "{pg_schema}".events '
                        "WHERE _partition = %s", DAY) == [(1_000, 1)]
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(60)
    finally:
        blocker.execute("SELECT pg_advisory_unlock(4242)")
        blocker.close()
        sql_rows(pg_server, f'DROP EVENT TRIGGER IF EXISTS "{hold}"')
    # The server notices the dead client and rolls its transaction back.
    _wait_for(lambda: sql_rows(pg_server, "SELECT count(*) FROM pg_stat_activity WHERE "
                               "query LIKE 'COPY%%'") == [(0,)], "the rollback")
    assert sql_rows(pg_server, f'SELECT count(*), min(marker), max(marker) FROM '
                    f'"{pg_schema}".events WHERE _partition = %s', DAY) == [(1_000, 1, 1)]
    assert sql_rows(pg_server, f'SELECT rows FROM "{pg_schema}"._flowstone_partitions') == [
        (1_000,)]
    again = _materialize(project, pg_server.dsn, 10, 3)
    assert again.wait(600) == 0, again.communicate()
    assert sql_rows(pg_server, f'SELECT count(*), max(marker) FROM "{pg_schema}".events '
                    "WHERE _partition = %s", DAY) == [(10, 3)]
