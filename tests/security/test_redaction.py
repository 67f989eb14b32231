"""Which `${VAR}` values count as secrets, and how every spelling of one is masked."""

from __future__ import annotations

import json

import pytest

from flowstone_cli.project.interpolate import Interpolator
from flowstone_cli.redaction import Redactor

SECRET = 'Pa"ss\\wörd-7Q'


@pytest.mark.parametrize("name", ["STRIPE_KEY_LIVE", "SIGNING_KEY_PEM", "API_KEY", "GH_TOKEN",
                                  "DB_PASSWORD", "MY_SECRET_2", "PG_DSN", "AWS_CREDENTIALS_X",
                                  "private_key_file", "DB_PASS"])
def test_a_variable_named_like_a_credential_anywhere_in_its_name_is_a_secret(name: str) -> None:
    interpolator = Interpolator({name: "value-123"}, "flowstone.toml")
    interpolator.resolve({"project": {"description": f"${{{name}}}"}})
    assert interpolator.secrets == {"value-123"}


@pytest.mark.parametrize("path", [("resources", "db", "password"),
                                  ("resources", "db", "credentials", "user"),
                                  ("io_managers", "s3", "storage_options", "secret"),
                                  ("io_managers", "s3", "storage_options", "key"),
                                  ("storage", "storage_options", "token")])
def test_every_interpolated_credential_field_is_a_secret(path: tuple[str, ...]) -> None:
    interpolator = Interpolator({"PLAIN": "value-456"}, "flowstone.toml")
    interpolator.resolve("${PLAIN}", path)
    assert interpolator.secrets == {"value-456"}


@pytest.mark.parametrize("path", [("resources", "keyring", "host"), ("storage", "root"),
                                  ("io_managers", "tokens", "path"), ("project", "name")])
def test_plain_fields_with_plain_variables_are_not_secrets(path: tuple[str, ...]) -> None:
    interpolator = Interpolator({"PLAIN": "value-789"}, "flowstone.toml")
    interpolator.resolve("${PLAIN}", path)
    assert interpolator.secrets == set()


def test_every_json_spelling_of_a_secret_is_masked() -> None:
    redactor = Redactor({SECRET})
    for text in (SECRET, json.dumps({"a": SECRET}), json.dumps({"a": SECRET}, ensure_ascii=False),
                 json.dumps({"outer": json.dumps({"a": SECRET})})):
        assert "***" in redactor.text(text)
        assert "ss" not in redactor.text(text).replace("***", ""), text


def test_values_are_redacted_before_serialising_keys_included() -> None:
    redactor = Redactor({SECRET})
    value = redactor.value({"k": [SECRET, (f"x{SECRET}",)], SECRET: {"n": 1}})
    assert value == {"k": ["***", ("x***",)], "***": {"n": 1}}
    assert Redactor({"ab"}).text("ab") == "ab"  # too short to mask without destroying output
