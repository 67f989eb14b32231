"""Tests of the example project's assets, written as a FlowStone user writes them: only
`flowstone_cli.testing` (and the pytest plugin's `flowstone_project` fixture), a fake resource,
nothing on disk outside temporary folders."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from flowstone_cli.testing import build_context, materialize_to_memory

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
DAY = "2025-01-15"


class FakeFx:
    """Stands in for the exchange-rate service: one fixed rate, calls recorded."""

    base = "EUR"

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def to_base(self, amount: float, currency: str) -> float:
        self.calls.append((amount, currency))
        return amount * 0.5


def test_the_daily_report_uses_the_exchange_rate_resource() -> None:
    fx = FakeFx()
    result = materialize_to_memory(EXAMPLE, "+daily_report", partition=DAY,
                                   resources={"fx": fx})
    assert result.success, [f.error_message for f in result.failures]
    report = result.value("daily_report", DAY)
    assert report["day"] == DAY
    assert report["total_revenue_eur"] == pytest.approx(report["total_revenue"] * 0.5, abs=0.01)
    assert fx.calls == [(pytest.approx(report["total_revenue"], abs=0.01), "USD")]
    assert {s.asset for s in result.steps} == {"raw_events", "user_profiles", "cleaned_events",
                                               "daily_metrics", "daily_report"}
    # The example's checks ran on the values and passed.
    assert {c.check_name for c in result.checks} >= {"not_null_user_id",
                                                     "every_country_reported"}
    assert all(c.passed for c in result.checks)


def test_given_inputs_replace_upstream_assets_and_checks_block_bad_data() -> None:
    events = pa.table({"event_id": ["a", "b"], "user_id": [1, 2], "event_type": ["view", "hack"],
                       "amount": [10.0, 5.0], "ts": pa.array([None, None], pa.timestamp("us"))})
    profiles = [{"user_id": 1, "country": "DE"}, {"user_id": 2, "country": "FR"}]
    result = materialize_to_memory(EXAMPLE, "+daily_report", partition=DAY,
                                   resources={"fx": FakeFx()},
                                   inputs={"raw_events": events, "user_profiles": profiles})
    assert not result.success
    failed = result.step("cleaned_events", DAY)
    assert failed.status.value == "succeeded"           # stored, but its blocking check failed
    assert [o.error_code for o in result.summary.failures] == ["check_failed"]
    assert result.value("cleaned_events", DAY).num_rows == 2
    assert result.step("daily_metrics", DAY).status.value == "skipped"
    verdict = {c.check_name: c for c in result.checks}["accepted_values_event_type"]
    assert not verdict.passed and verdict.metadata["examples"] == ["hack"]


def test_a_failing_asset_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenFx(FakeFx):
        def to_base(self, amount: float, currency: str) -> float:
            raise ConnectionError("rates service unreachable")

    result = materialize_to_memory(EXAMPLE, "+daily_report", partition=DAY,
                                   resources={"fx": BrokenFx()})
    assert not result.success
    [failure] = result.failures
    assert failure.asset == "daily_report"
    assert "ConnectionError: rates service unreachable" in failure.error_message
    assert "to_base" in failure.traceback


def test_build_context_fills_the_partition_window_from_the_asset() -> None:
    from flowstone_cli import DailyPartitions, asset

    @asset(partitions=DailyPartitions(start="2025-01-01", timezone="Europe/Berlin"),
           requires=["fx"])
    def converted(context):
        start, end = context.partition_window
        return {"hours": (end.timestamp() - start.timestamp()) / 3600,
                "eur": context.resources.fx.to_base(10, "USD")}

    context = build_context(converted, partition="2025-03-30", resources={"fx": FakeFx()})
    assert converted(context) == {"hours": 23.0, "eur": 5.0}          # the DST day
    with pytest.raises(Exception, match="partitioned"):
        build_context(converted)
    result = materialize_to_memory([converted], partition="2025-03-30",
                                   resources={"fx": FakeFx()})
    assert result.value("converted", "2025-03-30") == {"hours": 23.0, "eur": 5.0}


@pytest.mark.flowstone_project("example_project")
def test_the_plugin_copies_the_project_and_runs_the_real_command(flowstone_project) -> None:
    assert flowstone_project.root != EXAMPLE
    result = flowstone_project.materialize("raw_events", "--partition", DAY)
    assert result.code == 0, result.output
    assert result.json()["counts"] == {"succeeded": 1}
    assert (flowstone_project.root / "data" / "raw_events" / f"{DAY}.parquet").is_file()





def test_a_new_project_ships_tests_that_pass(tmp_path: Path) -> None:
    import subprocess
    import sys

    created = subprocess.run([sys.executable, "-m", "flowstone_cli", "init",
                              str(tmp_path / "demo")], capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests"], cwd=tmp_path / "demo", capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "4 passed" in ran.stdout


def test_the_testing_guide_examples_pass(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    guide = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    for body in re.findall(r"```\w+\n# file: (\S+)\n(.*?)```", guide, re.DOTALL):
        target = tmp_path / body[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body[1])
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests"], cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "5 passed" in ran.stdout
