"""The @asset decorator and default code versions."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from flowstone_cli import Output, RetryPolicy, asset
from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.code_version import function_code_version
from flowstone_cli.errors import DefinitionError, UsageError


def test_bare_decorator_makes_a_frozen_spec_with_inputs_from_parameters() -> None:
    @asset
    def cleaned(context, raw, profiles):
        """Cleaned rows.

        More text."""
        return raw

    assert isinstance(cleaned, AssetSpec)
    assert cleaned.name == "cleaned"
    assert cleaned.inputs == ("raw", "profiles")
    assert cleaned.wants_context
    assert cleaned.description == "Cleaned rows."
    assert cleaned.io_manager == "pickle"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cleaned.name = "other"  # type: ignore[misc]


def test_decorator_arguments_are_kept() -> None:
    @asset(name="renamed", deps=["a"], io_manager="json", group="g", tags={"k": "v"},
           requires=["db"], retry=RetryPolicy(max_attempts=2), code_version="v7")
    def fn(b):
        return b

    assert fn.name == "renamed" and fn.deps == ("a",) and fn.upstream == ("b", "a")
    assert fn.group == "g" and dict(fn.tags) == {"k": "v"} and fn.requires == ("db",)
    assert fn.code_version == "v7"


def test_unknown_decorator_argument_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="unknown argument"):
        asset(io_manger="json")


def test_spec_is_callable_for_unit_tests() -> None:
    @asset
    def double(x):
        return Output(x * 2, metadata={"n": 1})

    assert double(4).value == 8


def _load(tmp_path: Path, name: str, source: str) -> AssetSpec:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - test helper
    return namespace["thing"]


def test_code_version_ignores_docstrings_comments_and_layout(tmp_path: Path) -> None:
    one = _load(tmp_path, "one", '''
        from flowstone_cli import asset

        @asset
        def thing(x):
            """Docstring one."""
            return x + 1  # comment
    ''')
    two = _load(tmp_path, "two", '''
        from flowstone_cli import asset

        @asset(group="other")
        def thing(x):
            """A very different
            docstring."""
            # a comment line
            return (x +
                    1)
    ''')
    three = _load(tmp_path, "three", '''
        from flowstone_cli import asset

        @asset
        def thing(x):
            return x + 2
    ''')
    assert one.code_version == two.code_version
    assert one.code_version != three.code_version
    assert len(one.code_version) == 16


def test_code_version_without_source_falls_back_to_bytecode() -> None:
    namespace: dict = {}
    exec("def f(x):\n    return x\n", namespace)  # noqa: S102 - no source file on purpose
    assert len(function_code_version(namespace["f"])) == 16


def test_retry_policy_validates_its_arguments() -> None:
    with pytest.raises(UsageError):
        RetryPolicy(max_attempts=0)
    policy = RetryPolicy(max_attempts=3, delay=1, backoff=2, retry_on=ValueError)
    assert policy.retry_on == (ValueError,)
    assert policy.delay_before(2) == 1 and policy.delay_before(3) == 2
    assert policy.applies_to(ValueError("x")) and not policy.applies_to(KeyError("x"))
