"""Declarative checks for tables: `not_null`, `unique`, `accepted_values`, `row_count`,
`freshness`.

Each returns an `AssetCheckSpec`; bind it at module level, e.g.
`orders_id_not_null = not_null("orders", "id", blocking=True)`. A table is a pyarrow Table, a
pandas DataFrame or a list of dicts. Arguments are checked when the module is imported and
reported by `flowstone check` with the line that declared the check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.definitions.checks import AssetCheckSpec, CheckResult, build_check_spec
from flowstone_cli.definitions.checks import _caller_location as caller_location
from flowstone_cli.durations import parse_duration
from flowstone_cli.errors import FlowStoneError

_TABLE_HINT = "a pyarrow Table, a pandas DataFrame or a list of dicts"


def _kind(value: Any) -> str:
    module = type(value).__module__
    if module.startswith("pyarrow") and hasattr(value, "column_names"):
        return "arrow"
    if module.startswith("pandas") and hasattr(value, "columns"):
        return "pandas"
    if isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return "rows"
    return ""


def _columns(value: Any, kind: str) -> list[str]:
    if kind == "arrow":
        return list(value.column_names)
    if kind == "pandas":
        return [str(c) for c in value.columns]
    return sorted({k for row in value for k in row})


def _table_check(check: str, column: str | None,
                 body: Callable[[Any, str, str | None], CheckResult]) -> Callable[[Any], CheckResult]:
    def run(value: Any) -> CheckResult:
        kind = _kind(value)
        if not kind:
            return CheckResult(False, {"type": type(value).__name__},
                               message=f"{check} needs {_TABLE_HINT}, got "
                                       f"{type(value).__name__}")
        if column is not None and (kind != "rows" or value) \
                and column not in _columns(value, kind):
            return CheckResult(False, {"column": column},
                               message=f"column `{column}` is not in the table (columns: "
                                       f"{', '.join(_columns(value, kind)[:20])})")
        return body(value, kind, column)
    return run


def _values(value: Any, kind: str, column: str) -> list[Any]:
    if kind == "rows":
        return [row.get(column) for row in value]
    if kind == "pandas":
        series = value[column]
        return [None if v != v else v for v in series.tolist()]  # NaN -> None
    return value.column(column).to_pylist()


def _not_null(value: Any, kind: str, column: str | None) -> CheckResult:
    assert column is not None
    if kind == "arrow":
        nulls = int(value.column(column).null_count)
    elif kind == "pandas":
        nulls = int(value[column].isna().sum())
    else:
        nulls = sum(1 for row in value if row.get(column) is None)
    return CheckResult(nulls == 0, {"null_rows": nulls},
                       message=f"{nulls} null value(s) in `{column}`" if nulls else "")


def _unique(value: Any, kind: str, column: str | None) -> CheckResult:
    assert column is not None
    if kind == "arrow":
        present, duplicates = _arrow_duplicates(value.column(column))
        return CheckResult(duplicates == 0, {"duplicate_rows": duplicates},
                           message=f"{duplicates} duplicate value(s) in `{column}`"
                           if duplicates else "")
    elif kind == "pandas":
        series = value[column]
        present = int(series.notna().sum())
        distinct = int(series.nunique(dropna=True))
    else:
        counts = Counter(v for v in _values(value, kind, column) if v is not None)
        present, distinct = sum(counts.values()), len(counts)
    duplicates = present - distinct
    return CheckResult(duplicates == 0, {"duplicate_rows": duplicates},
                       message=f"{duplicates} duplicate value(s) in `{column}`"
                       if duplicates else "")


def _arrow_duplicates(col: Any) -> tuple[int, int]:
    """(non-null values, duplicates among them) of an Arrow column.

    Numbers and times are checked without hashing: ids usually arrive sorted, which one
    vectorised comparison proves (O(n)); otherwise a sort finds equal neighbours. Other types
    count distinct values with Arrow's hash kernel.
    """
    import pyarrow as pa  # lazy: only workers running checks pay for it
    import pyarrow.compute as pc

    present = len(col) - col.null_count
    kind = col.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        values = (col.drop_null() if col.null_count else col).combine_chunks()
        if pa.types.is_temporal(kind):
            values = values.cast(pa.int64())
        array = values.to_numpy(zero_copy_only=False)
        if len(array) < 2 or bool((array[1:] > array[:-1]).all()):
            return present, 0
        array = array.copy()
        array.sort(kind="stable" if len(array) < 1000 else "quicksort")
        return present, int((array[1:] == array[:-1]).sum())
    return present, present - pc.count_distinct(col, mode="only_valid").as_py()


def _accepted(accepted: Sequence[Any]) -> Callable[[Any, str, str | None], CheckResult]:
    def body(value: Any, kind: str, column: str | None) -> CheckResult:
        assert column is not None
        if kind == "arrow":
            import pyarrow as pa
            import pyarrow.compute as pc
            col = value.column(column)
            ok = pc.is_in(col, value_set=pa.array(list(accepted), type=col.type))
            bad_mask = pc.and_(pc.invert(ok), pc.is_valid(col))
            bad = int(pc.sum(bad_mask).as_py() or 0)
            examples = pc.unique(pc.filter(col, bad_mask)).to_pylist()[:5] if bad else []
        else:
            allowed = set(accepted)
            wrong = [v for v in _values(value, kind, column) if v is not None and v not in allowed]
            bad, examples = len(wrong), list(dict.fromkeys(wrong))[:5]
        return CheckResult(bad == 0, {"unaccepted_rows": bad, "examples": [str(e) for e in
                                                                           examples]},
                           message=f"{bad} value(s) of `{column}` not accepted, e.g. "
                                   f"{', '.join(map(repr, examples))}" if bad else "")
    return body


def _row_count(low: int | None, high: int | None) -> Callable[[Any, str, str | None], CheckResult]:
    def body(value: Any, kind: str, column: str | None) -> CheckResult:
        rows = int(value.num_rows) if kind == "arrow" else len(value)
        ok = (low is None or rows >= low) and (high is None or rows <= high)
        bounds = f"[{low if low is not None else ''}..{high if high is not None else ''}]"
        return CheckResult(ok, {"rows": rows},
                           message="" if ok else f"{rows} rows, outside {bounds}")
    return body


def _freshness(max_age_s: float) -> Callable[[Any, str, str | None], CheckResult]:
    def body(value: Any, kind: str, column: str | None) -> CheckResult:
        assert column is not None
        stamps = [v for v in _values(value, kind, column) if v is not None]
        stamps = [v.to_pydatetime() if hasattr(v, "to_pydatetime") else v for v in stamps]
        if not stamps or not all(isinstance(v, datetime) for v in stamps):
            return CheckResult(False, {"column": column},
                               message=f"`{column}` has no timestamps to judge freshness by")
        newest = max(v if v.tzinfo else v.replace(tzinfo=timezone.utc) for v in stamps)
        age = (datetime.now(timezone.utc) - newest).total_seconds()
        ok = age <= max_age_s
        return CheckResult(ok, {"newest": newest.isoformat(), "age_s": round(age, 1)},
                           message="" if ok else f"newest `{column}` is {age / 3600:.1f} h old "
                                                 f"(limit {max_age_s / 3600:.1f} h)")
    return body


def _describe(check: str, arguments: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items() if v is not None)
    return f"{check}({shown})"


def _column_problem(column: Any) -> list[str]:
    if isinstance(column, str) and column:
        return []
    return [f"column must be a non-empty string, got {column!r}"]


def _make(check: str, asset: str, column: str | None, body: Any, *, name: str | None,
          blocking: bool, severity: str, description: str | None, problems: list[str],
          arguments: dict[str, Any]) -> AssetCheckSpec:
    default = f"{check}_{column}" if isinstance(column, str) and column else check
    return build_check_spec(_table_check(check, column, body), asset=asset,
                            name=name or default, blocking=blocking, severity=severity,
                            description=description or _describe(check, arguments),
                            kind=check, arguments=arguments, problems=tuple(problems),
                            location=caller_location())


def not_null(asset: str, column: str, *, name: str | None = None, blocking: bool = False,
             severity: str = "error", description: str | None = None) -> AssetCheckSpec:
    """`column` of `asset`'s table has no null values."""
    return _make("not_null", asset, column, _not_null, name=name, blocking=blocking,
                 severity=severity, description=description, problems=_column_problem(column),
                 arguments={"column": column})


def unique(asset: str, column: str, *, name: str | None = None, blocking: bool = False,
           severity: str = "error", description: str | None = None) -> AssetCheckSpec:
    """The non-null values of `column` are all different."""
    return _make("unique", asset, column, _unique, name=name, blocking=blocking,
                 severity=severity, description=description, problems=_column_problem(column),
                 arguments={"column": column})


def accepted_values(asset: str, column: str, values: Sequence[Any], *, name: str | None = None,
                    blocking: bool = False, severity: str = "error",
                    description: str | None = None) -> AssetCheckSpec:
    """Every non-null value of `column` is one of `values`."""
    problems = _column_problem(column)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        problems.append(f"values must be a non-empty list, got {values!r}")
        values = []
    return _make("accepted_values", asset, column, _accepted(list(values)), name=name,
                 blocking=blocking, severity=severity, description=description,
                 problems=problems, arguments={"column": column, "values": list(values)})


def row_count(asset: str, *, min: int | None = None, max: int | None = None,  # noqa: A002
              name: str | None = None, blocking: bool = False, severity: str = "error",
              description: str | None = None) -> AssetCheckSpec:
    """The table has between `min` and `max` rows (either bound may be left out)."""
    problems = []
    for label, bound in (("min", min), ("max", max)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)
                                  or bound < 0):
            problems.append(f"{label} must be a whole number >= 0, got {bound!r}")
    if min is None and max is None:
        problems.append("row_count needs min=, max= or both")
    elif not problems and min is not None and max is not None and min > max:
        problems.append(f"min ({min}) is greater than max ({max})")
    return _make("row_count", asset, None, _row_count(min, max), name=name, blocking=blocking,
                 severity=severity, description=description, problems=problems,
                 arguments={"min": min, "max": max})


def freshness(asset: str, column: str, max_age: str, *, name: str | None = None,
              blocking: bool = False, severity: str = "error",
              description: str | None = None) -> AssetCheckSpec:
    """The newest timestamp in `column` is at most `max_age` old (e.g. "26h")."""
    problems = _column_problem(column)
    seconds = 0.0
    try:
        seconds = parse_duration(max_age, what="max_age").total_seconds()
    except FlowStoneError as exc:
        problems.append(exc.message)
    return _make("freshness", asset, column, _freshness(seconds), name=name, blocking=blocking,
                 severity=severity, description=description, problems=problems,
                 arguments={"column": column, "max_age": max_age})
