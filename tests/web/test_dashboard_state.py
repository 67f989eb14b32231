"""`api.dashboard.dashboard_state`: each asset's state, and staleness carried over on quick
reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flowstone_cli.api import dashboard
from flowstone_cli.api.dashboard import dashboard_state, store_signature
from flowstone_cli.api.project import open_project
from tests.cli_runner import run_cli


def test_states_and_carried_staleness(example: Path, monkeypatch) -> None:
    monkeypatch.setattr(dashboard, "MAX_CARRY_SECONDS", 24 * 3600.0)
    project = open_project(example)
    empty = dashboard_state(project)
    assert {s.state for s in empty.assets.values()} == {"never"}
    before = store_signature(project)
    assert run_cli("-p", str(example), "materialize", "+daily_report", "--partition",
                   "2025-01-15").code == 0
    assert store_signature(project) != before
    fresh = dashboard_state(project)
    assert fresh.assets["daily_report"].state == "up_to_date"
    assert fresh.assets["published_report"].state == "never" and fresh.complete
    # A quick read keeps the reasons of the last check...
    checked = datetime.now(timezone.utc)
    previous = replace(fresh, stale={"cleaned_events": "code changed"}, checked_at=checked)
    quick = dashboard_state(project, previous=previous, staleness=False)
    assert quick.assets["cleaned_events"].state == "stale" and not quick.complete
    assert quick.assets["cleaned_events"].reason == "code changed"
    # ... except for assets materialized since that check ...
    earlier = replace(previous, checked_at=checked - timedelta(hours=1))
    assert dashboard_state(project, previous=earlier, staleness=False
                           ).assets["cleaned_events"].state == "up_to_date"
    # ... and a full read computes them again, as does a quick one when the check is too old.
    monkeypatch.setattr(dashboard, "MAX_CARRY_SECONDS", 60.0)
    assert dashboard_state(project, previous=earlier, staleness=False).complete
    full = dashboard_state(project, previous=quick)
    assert full.complete and full.assets["cleaned_events"].state == "up_to_date"


def test_launch_checks_its_input_before_starting_anything(example: Path) -> None:
    import pytest

    from flowstone_cli.api.dashboard import launch_materialize
    from flowstone_cli.automation.launcher import LaunchRequest
    from flowstone_cli.errors import SelectionError, UsageError

    project = open_project(example)
    with pytest.raises(SelectionError):
        launch_materialize(project, ["no_such_asset"])
    with pytest.raises(UsageError, match="START..END"):
        launch_materialize(project, ["daily_report"], partition_range="2025-01-01")
    assert not (example / ".flowstone" / "logs").exists()
    argv = LaunchRequest(run_id="r1", selection=("daily_report",), trigger="ui",
                         partition_range="2025-01-01..2025-01-03").argv(example)
    assert argv[-2:] == ["--partitions", "2025-01-01..2025-01-03"]
