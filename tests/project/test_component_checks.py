"""`check` validates every [resources.*] and [io_managers.*] type and field when the project loads."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import copy_fixture, run_cli

ENV = {"COUNTER_TOKEN": "tok-secret-123"}


def _edit(project: Path, old: str, new: str) -> None:
    config = project / "flowstone.toml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))


def test_a_misspelled_resource_field_is_reported_with_line_and_suggestion(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    _edit(project, 'label = "${COUNTER_LABEL:-default}"', 'lable = "${COUNTER_LABEL:-default}"')
    result = run_cli("-p", str(project), "check", env=ENV)
    assert result.code == 2
    assert "flowstone.toml:7: unknown key `resources.counter.lable`" in result.stderr
    assert "Did you mean `label`?" in result.stderr
    # materialize refuses to start with the same message, before any step runs.
    run = run_cli("-p", str(project), "materialize", "*", env=ENV)
    assert run.code == 2 and "resources.counter.lable" in run.stderr
    assert "tok-secret-123" not in result.stdout + result.stderr + run.stderr


def test_missing_and_mistyped_resource_fields_are_each_reported(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    _edit(project, "start = 10\n", "")
    _edit(project, 'token = "${COUNTER_TOKEN}"', "token = [1, 2]")
    result = run_cli("-p", str(project), "check", "--json", env=ENV)
    assert result.code == 2
    problems = {p["message"]: p for p in result.json()["problems"]}
    missing = next(p for m, p in problems.items() if "missing key `resources.counter.start`" in m)
    assert missing["location"].endswith("flowstone.toml:4")
    assert any("`resources.counter.token`" in m for m in problems)


def test_a_resource_type_that_cannot_be_imported_is_a_check_problem(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    _edit(project, "lib.counters:Counter", "lib.counters:Countr")
    result = run_cli("-p", str(project), "check", env=ENV)
    assert result.code == 2
    assert "flowstone.toml:5: `resources.counter.type`" in result.stderr
    assert "has no `Countr`" in result.stderr


def test_an_unknown_io_manager_type_is_a_check_problem(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    _edit(project, 'type = "lib.custom_io:UpperTextManager"', 'type = "parquett"')
    result = run_cli("-p", str(project), "check", env=ENV)
    assert result.code == 2
    assert "flowstone.toml:11: `io_managers.upper.type`" in result.stderr
    assert "Did you mean `parquet`?" in result.stderr


def test_an_unknown_io_manager_option_is_a_check_problem(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    _edit(project, 'type = "lib.custom_io:UpperTextManager"',
          'type = "parquet"\ncompresion = "zstd"')
    result = run_cli("-p", str(project), "check", env=ENV)
    assert result.code == 2
    assert "flowstone.toml:12: unknown key `io_managers.upper.compresion`" in result.stderr
    assert "Did you mean `compression`?" in result.stderr


def test_a_valid_configuration_still_passes(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    result = run_cli("-p", str(project), "check", env=ENV)
    assert result.code == 0, result.stderr
