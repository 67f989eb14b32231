"""The shared `--tenant` filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstone_cli.api.tenants import TenantFilter
from tests.cli_runner import copy_fixture, run_cli


def test_owns_and_admits_read_the_tenant_dimension_exactly() -> None:
    only = TenantFilter("tenant", "acme")
    assert only.owns("tenant=acme,date=2025-01-01")
    assert not only.owns("tenant=acmeco,date=2025-01-01")
    assert not only.owns("date=2025-01-01") and not only.owns(None)
    assert only.admits("date=2025-01-01") and only.admits(None)
    assert not only.admits("region=eu,tenant=globex")
    assert not TenantFilter("t", "x").owns("tenant=x")


@pytest.mark.parametrize("command", [["list"], ["runs", "list"],
                                     ["partitions", "status", "first"]])
def test_tenant_without_a_tenant_dimension_is_a_clear_error(tmp_path: Path,
                                                            command: list[str]) -> None:
    project = copy_fixture("daily_chain", tmp_path)
    result = run_cli("-p", str(project), *command, "--tenant", "acme")
    assert result.code == 2, result.stdout + result.stderr
    assert "tenant_dimension" in result.stderr
