"""`flowstone tick`: schedules and sensors, launched at most once, DST-exact, with catch-up."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from croniter import croniter

from flowstone_cli.api.automation import run_tick
from flowstone_cli.automation.launcher import LaunchRequest
from flowstone_cli.project.loader import load_project
from tests.cli_runner import copy_fixture, flowstone_executable, run_cli

UTC = timezone.utc


def wait_for_runs(project: Path, count: int, timeout: float = 120) -> list[tuple]:
    """Wait until `count` runs exist and none is running; return (trigger, status, selection)."""
    deadline = time.monotonic() + timeout
    db = project / "data" / "flowstone.duckdb"
    rows: list[tuple] = []
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(str(db), read_only=True) as con:
                rows = con.execute("SELECT trigger, status, selection FROM runs").fetchall()
        except (duckdb.IOException, duckdb.CatalogException):
            rows = []
        if len(rows) >= count and all(r[1] != "running" for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"expected {count} finished runs, got {rows}")


def ticks(project: Path, schedule: str) -> list[tuple]:
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        return con.execute("SELECT epoch_us(fire_time), status, partition_keys FROM "
                           "schedule_ticks WHERE schedule = ? ORDER BY fire_time",
                           [schedule]).fetchall()


def test_nightly_schedule_launches_yesterdays_partition_once(tmp_path: Path) -> None:
    project = copy_fixture("scheduled", tmp_path)
    first = run_cli("-p", str(project), "tick", "--now", "2025-01-16T01:05:00Z", "--json")
    assert first.code == 0, first.stderr
    nightly = [a for a in first.json()["actions"] if a["source"] == "schedule:nightly"]
    assert [(a["outcome"], a["fire_time"], a["partitions"]) for a in nightly] == [
        ("launched", "2025-01-16T01:00:00+00:00", ["2025-01-15"])]
    again = run_cli("-p", str(project), "tick", "--now", "2025-01-16T01:05:00Z", "--json")
    assert [a for a in again.json()["actions"] if a["outcome"] == "launched"] == []
    runs = wait_for_runs(project, 2)
    assert ("schedule:nightly", "succeeded", "daily") in runs
    assert (project / "data" / "daily" / "2025-01-15.pkl").exists()


def test_two_concurrent_ticks_launch_exactly_one_run(tmp_path: Path) -> None:
    project = copy_fixture("scheduled", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    procs = [subprocess.Popen([*flowstone_executable(), "-p", str(project), "tick", "--now",
                               "2025-01-16T01:05:00Z", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    launched = [a for out, _ in outputs for a in json.loads(out)["actions"]
                if a["source"] == "schedule:nightly" and a["outcome"] == "launched"]
    assert len(launched) == 1
    wait_for_runs(project, 2)
    assert len(ticks(project, "nightly")) == 1


class Recorder:
    """A launcher that records requests instead of starting processes."""

    def __init__(self) -> None:
        self.requests: list[LaunchRequest] = []

    def __call__(self, root: Path, request: LaunchRequest) -> str:
        self.requests.append(request)
        return "recorded"


def croniter_instants(expr: str, zone: str, after: datetime, until: datetime) -> list[datetime]:
    it = croniter(expr, after.astimezone(ZoneInfo(zone)))
    out: list[datetime] = []
    while True:
        moment = it.get_next(datetime).astimezone(UTC)
        if moment > until:
            return sorted(set(out))
        out.append(moment)


@pytest.mark.parametrize(("start", "end"), [
    (datetime(2026, 3, 26, 12, tzinfo=UTC), datetime(2026, 4, 1, 12, tzinfo=UTC)),
    (datetime(2026, 10, 22, 12, tzinfo=UTC), datetime(2026, 10, 28, 12, tzinfo=UTC)),
])
def test_dst_fire_times_are_exactly_croniters_one_run_each(tmp_path: Path, start: datetime,
                                                           end: datetime) -> None:
    project = load_project(copy_fixture("scheduled", tmp_path), {})
    recorder = Recorder()
    run_tick(project, now=start, launcher=recorder)        # first tick: the latest fire time
    seen_first = len(recorder.requests)
    moment = start
    while moment < end:                                     # then a tick every 3 hours
        moment += timedelta(hours=3)
        run_tick(project, now=moment, launcher=recorder)
    recorded = [datetime.fromtimestamp(us / 1e6, UTC)
                for us, status, _ in ticks(project.root, "dst_half_past_two")]
    expected = croniter_instants("30 2 * * *", "Europe/Berlin",
                                 recorded[0] - timedelta(seconds=1), moment)
    assert recorded == expected
    assert len(set(recorded)) == len(recorded)
    assert seen_first >= 1
    if start.month == 10:   # fall back: 02:30 happens twice on 2026-10-25
        assert sum(1 for t in recorded if t.date() == datetime(2026, 10, 25).date()) == 2


@pytest.mark.parametrize(("policy", "launched"), [("latest", 1), ("all", 24), ("none", 0)])
def test_catch_up_after_thirty_days_without_a_tick(tmp_path: Path, policy: str, launched: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATCH_UP", policy)
    project = load_project(copy_fixture("scheduled", tmp_path), os.environ)
    recorder = Recorder()
    start = datetime(2025, 3, 1, 0, 0, 30, tzinfo=UTC)
    run_tick(project, now=start, launcher=recorder)
    before = len([r for r in recorder.requests if r.trigger == "schedule:every_five"])
    report = run_tick(project, now=start + timedelta(days=30, minutes=3), launcher=recorder)
    after = [a for a in report.actions if a.source == "schedule:every_five"
             and a.outcome == "launched"]
    assert before == 1
    assert len(after) == launched


def test_file_sensor_on_s3_launches_one_run_per_new_file(tmp_path: Path, s3_bucket) -> None:
    project = copy_fixture("scheduled", tmp_path)
    env = {"S3_ENDPOINT": s3_bucket.endpoint_url, "BUCKET": s3_bucket.bucket,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for name in ("a.csv", "b.csv", "c.csv"):
        s3_bucket.fs.pipe(f"{s3_bucket.bucket}/drops/{name}", b"x,y\n1,2\n")
    first = run_cli("-p", str(project), "tick", "--now", "2025-01-16T01:05:00Z", "--json",
                    env=env)
    assert first.code == 0, first.stderr
    sensor = [a for a in first.json()["actions"] if a["source"] == "sensor:drops"]
    assert [a["outcome"] for a in sensor] == ["launched"] * 3
    keys = {a["message"] for a in sensor}
    assert len(keys) == 3
    again = run_cli("-p", str(project), "tick", "--now", "2025-01-16T01:06:00Z", "--json",
                    env=env)
    assert [a for a in again.json()["actions"] if a["source"] == "sensor:drops"
            and a["outcome"] == "launched"] == []
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        run_keys = con.execute("SELECT run_key FROM run_keys WHERE sensor = 'drops'").fetchall()
    assert sorted(k[0] for k in run_keys) == sorted(
        f"s3://{s3_bucket.bucket}/drops/{n}" for n in ("a.csv", "b.csv", "c.csv"))
    sensors = run_cli("-p", str(project), "sensors", "list", "--json", env=env).json()
    drops = next(s for s in sensors if s["name"] == "drops")
    assert drops["last_status"] == "no_requests" and drops["last_evaluated"]
    wait_for_runs(project, 4)


@pytest.mark.parametrize(("cron", "words"), [("0 2 * * * *", "6 fields"),
                                             ("@reboot", "@reboot"), ("*/0 * * * *", "0"),
                                             ("0 0 31 2 *", "never fires")])
def test_bad_cron_strings_are_load_time_errors(tmp_path: Path, cron: str, words: str) -> None:
    project = copy_fixture("scheduled", tmp_path)
    module = project / "assets" / "jobs.py"
    module.write_text(module.read_text().replace('cron="0 2 * * *"', f'cron="{cron}"'))
    result = run_cli("-p", str(project), "check")
    assert result.code == 2
    assert "schedule `nightly`" in result.stderr and words in result.stderr


def test_listing_and_preview(tmp_path: Path) -> None:
    project = copy_fixture("scheduled", tmp_path)
    listed = run_cli("-p", str(project), "schedules", "list", "--json").json()
    assert {s["name"] for s in listed} == {"nightly", "dst_half_past_two", "every_five"}
    preview = run_cli("-p", str(project), "schedules", "preview", "nightly", "--count", "3",
                      "--json").json()
    assert len(preview) == 3 and all(p.endswith(("+01:00", "+02:00")) for p in preview)
    assert "T02:00:00" in preview[0]
    dry = run_cli("-p", str(project), "tick", "--now", "2025-01-16T01:05:00Z", "--dry-run",
                  "--json").json()
    assert any(a["outcome"] == "would_launch" for a in dry["actions"])
    assert not (project / "data" / "flowstone.duckdb").exists()


def test_cron_install_is_idempotent(tmp_path: Path) -> None:
    project = copy_fixture("scheduled", tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    table = tmp_path / "crontab.txt"
    fake = bin_dir / "crontab"
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = \"-l\" ]; then cat {table} 2>/dev/null || exit 1;"
                    f" else cat > {table}; fi\n")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    printed = run_cli("-p", str(project), "cron", env=env)
    assert printed.code == 0 and "tick" in printed.stdout and str(project) in printed.stdout
    assert run_cli("-p", str(project), "cron", "--install", env=env).code == 0
    assert run_cli("-p", str(project), "cron", "--install", env=env).code == 0
    lines = [line for line in table.read_text().splitlines() if "flowstone" in line]
    assert len(lines) == 1 and lines[0].startswith("* * * * * ")


def test_asset_sensor_requests_a_run_per_new_materialization(tmp_path: Path) -> None:
    root = copy_fixture("scheduled", tmp_path)
    (root / "assets" / "watch.py").write_text(
        "from flowstone_cli import AssetSensor\n\n"
        "watcher = AssetSensor('watcher', watch=['daily'], target='plain', interval='1s')\n")
    assert run_cli("-p", str(root), "materialize", "daily", "--partition", "2025-01-02").code == 0
    project = load_project(root, {})
    recorder = Recorder()
    first = run_tick(project, now=datetime(2025, 1, 3, 12, tzinfo=UTC), launcher=recorder)
    launched = [a for a in first.actions if a.source == "sensor:watcher"
                and a.outcome == "launched"]
    assert [a.partitions for a in launched] == [("2025-01-02",)]
    again = run_tick(project, now=datetime(2025, 1, 3, 12, 1, tzinfo=UTC), launcher=recorder)
    assert [a for a in again.actions if a.source == "sensor:watcher"
            and a.outcome == "launched"] == []
    assert run_cli("-p", str(root), "materialize", "daily", "--partition", "2025-01-03").code == 0
    third = run_tick(project, now=datetime(2025, 1, 3, 12, 2, tzinfo=UTC), launcher=recorder)
    assert [a.partitions for a in third.actions if a.source == "sensor:watcher"
            and a.outcome == "launched"] == [("2025-01-03",)]
