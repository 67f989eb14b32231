"""The built-in table checks on each table type, and their argument validation at load."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from flowstone_cli import CheckResult, accepted_values, asset_check, freshness, not_null, \
    row_count, unique
from tests.cli_runner import run_cli

ROWS = [{"id": 1, "kind": "a", "ts": datetime.now(timezone.utc)},
        {"id": 2, "kind": "b", "ts": datetime.now(timezone.utc) - timedelta(days=3)},
        {"id": 2, "kind": "zzz", "ts": None},
        {"id": None, "kind": "a", "ts": None}]


def tables() -> list[object]:
    return [ROWS, pa.Table.from_pylist(ROWS), pd.DataFrame(ROWS)]


@pytest.mark.parametrize("table", tables(), ids=["rows", "arrow", "pandas"])
def test_builtin_checks_find_what_is_wrong(table: object) -> None:
    assert not_null("t", "id").evaluate(table).metadata["null_rows"] == 1
    assert not not_null("t", "id").evaluate(table).passed
    assert not_null("t", "kind").evaluate(table).passed
    dup = unique("t", "id").evaluate(table)
    assert (dup.passed, dup.metadata["duplicate_rows"]) == (False, 1)
    assert unique("t", "kind").evaluate(table).metadata["duplicate_rows"] == 1
    bad = accepted_values("t", "kind", ["a", "b"]).evaluate(table)
    assert (bad.passed, bad.metadata["unaccepted_rows"], bad.metadata["examples"]) == \
        (False, 1, ["zzz"])
    assert accepted_values("t", "kind", ["a", "b", "zzz"]).evaluate(table).passed
    assert row_count("t", min=4, max=4).evaluate(table).passed
    assert not row_count("t", min=5).evaluate(table).passed
    assert freshness("t", "ts", "1h").evaluate(table).passed
    stale = freshness("t", "ts", "1h").evaluate(
        [r for r in ROWS if r["id"] == 2 and r["ts"] is not None])
    assert not stale.passed and "old" in stale.message


def test_a_missing_column_or_a_non_table_fails_with_a_message() -> None:
    result = not_null("t", "nope").evaluate(pa.table({"a": [1]}))
    assert not result.passed and "`nope` is not in the table" in result.message
    result = unique("t", "a").evaluate({"a": 1})
    assert not result.passed and "needs a pyarrow Table" in result.message


def test_custom_checks_take_the_value_and_optionally_context() -> None:
    @asset_check(asset="orders", blocking=True)
    def positive(orders):
        """Amounts are positive."""
        return all(o > 0 for o in orders)

    @asset_check(asset="orders", severity="warn")
    def sized(orders, context):
        return CheckResult(len(orders) < 3, metadata={"n": len(orders), "p": context})

    assert positive.description == "Amounts are positive."
    assert positive.blocks and not sized.blocks
    assert positive.evaluate([1, 2]).passed and not positive.evaluate([0]).passed
    assert sized.evaluate([1, 2, 3], "ctx").metadata == {"n": 3, "p": "ctx"}


BAD_CHECKS = '''
from flowstone_cli import asset, asset_check, accepted_values, row_count, freshness, not_null


@asset
def orders():
    return [{"id": 1}]


empty = accepted_values("orders", "id", [])
inverted = row_count("orders", min=5, max=1)
never = freshness("orders", "ts", "soon")
wrong_asset = not_null("ordrs", "id")
twice_a = not_null("orders", "id")
twice_b = not_null("orders", "id")


@asset_check(asset="orders", severity="fatal")
def two_values(orders, other):
    return True
'''


def test_check_reports_every_bad_check_with_its_line(tmp_path: Path) -> None:
    project = tmp_path / "bad"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "bad"\n')
    (project / "assets" / "pipeline.py").write_text(BAD_CHECKS)
    result = run_cli("-p", str(project), "--json", "check")
    assert result.code == 2
    problems = result.json()["problems"]
    text = "\n".join(f"{p['message']} @ {p['location']}" for p in problems)
    assert "values must be a non-empty list" in text
    assert "min (5) is greater than max (1)" in text
    assert "max_age 'soon' is not a duration" in text
    assert "unknown asset `ordrs` (did you mean `orders`?)" in text
    assert "declared twice" in text
    assert "severity must be 'error' or 'warn'" in text
    assert "exactly one parameter" in text
    lines = {p["message"].split(":")[0]: p["location"] for p in problems}
    assert lines["check `orders.accepted_values_id`"].endswith("pipeline.py:10")
