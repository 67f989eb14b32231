"""Tests of this project's assets (run them with `pytest`).

`materialize_to_memory` runs the real planner and coordinator with every value in memory;
`flowstone_project` (a pytest fixture FlowStone installs) copies the project to a temporary
folder and runs the real `flowstone` command there.
"""

from pathlib import Path

from flowstone_cli.testing import build_context, materialize_to_memory

PROJECT = Path(__file__).resolve().parents[1]


def test_summary_counts_the_greetings():
    result = materialize_to_memory(PROJECT, "+summary")
    assert result.success, [f.error_message for f in result.failures]
    assert result.value("summary") == {"longest": "bonjour", "count": 4}


def test_visits_can_be_given_instead_of_computed():
    result = materialize_to_memory(PROJECT, "+published_visits", partition="2025-01-15",
                                   inputs={"visits": {"day": "2025-01-15", "visits": 12}})
    assert result.value("published_visits", "2025-01-15")["published"] is True


def test_an_asset_function_called_directly():
    from assets.daily import visits  # noqa: PLC0415 - the project's own module

    assert visits(build_context(visits, partition="2025-01-15"))["visits"] == 115


def test_the_command_on_a_copy_of_the_project(flowstone_project):
    result = flowstone_project.run("materialize", "+summary", "--json")
    assert result.code == 0, result.output
    assert result.json()["counts"] == {"succeeded": 3}
