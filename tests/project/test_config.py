"""flowstone.toml parsing: sections, unknown keys, types and ${VAR} interpolation."""

from __future__ import annotations

import pytest

from flowstone_cli.errors import ConfigError
from flowstone_cli.project.config import parse_config
from flowstone_cli.project.interpolate import redact


def parse(text: str, env: dict[str, str] | None = None):
    return parse_config(text, source="flowstone.toml", env=env or {})


def test_minimal_config_gets_defaults() -> None:
    config, secrets = parse('[project]\nname = "p"\n')
    assert config.project.name == "p"
    assert config.storage.root == "data"
    assert config.executor.type == "process"
    assert config.metadata.lock_timeout == 30
    assert secrets == frozenset()


def test_unknown_key_names_key_file_and_line_with_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[project]\nname = "p"\n\n[executor]\nworkerz = 2\n')
    problem = info.value.problems[0]
    assert "unknown key `executor.workerz`" in problem.message
    assert problem.location == "flowstone.toml:5"
    assert "`workers`" in problem.hint


def test_wrong_type_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[project]\nname = "p"\n[executor]\nworkers = "many"\n')
    assert "`executor.workers`" in info.value.problems[0].message


def test_missing_project_name_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse("[storage]\nroot = 'x'\n")
    assert "project" in info.value.problems[0].message


def test_invalid_toml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse("[project\nname=1")


def test_env_interpolation_with_defaults_and_escape() -> None:
    config, _ = parse('[project]\nname = "${NAME}"\n[storage]\nroot = "${ROOT:-/tmp/x}"\n'
                      '[io_managers.raw]\ntype = "pickle"\nroot = "$${LITERAL}"\n',
                      env={"NAME": "proj"})
    assert config.project.name == "proj"
    assert config.storage.root == "/tmp/x"
    assert config.io_managers["raw"].root == "${LITERAL}"


def test_unset_variable_without_default_is_an_error() -> None:
    with pytest.raises(ConfigError, match="BUCKET is not set"):
        parse('[project]\nname = "p"\n[storage]\nroot = "s3://${BUCKET}/x"\n')


def test_secret_values_are_collected_and_redacted() -> None:
    config, secrets = parse('[project]\nname = "p"\n[io_managers.lake]\ntype = "parquet"\n'
                            'storage_options = { key = "${AWS_ACCESS_KEY_ID}", '
                            'secret = "${AWS_SECRET_ACCESS_KEY}" }\n',
                            env={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                                 "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"})
    assert secrets == {"AKIAEXAMPLE", "s3cr3t-value"}
    assert config.io_managers["lake"].storage_options["secret"] == "s3cr3t-value"
    assert redact("failed with s3cr3t-value", secrets) == "failed with ***"


def test_io_manager_options_are_the_extra_keys() -> None:
    config, _ = parse('[project]\nname = "p"\n[io_managers.wh]\ntype = "duckdb"\n'
                      'path = "w.duckdb"\nlock_timeout = 5\n')
    assert config.io_managers["wh"].options == {"path": "w.duckdb", "lock_timeout": 5}
