"""What the built-in managers know about the values they store: row counts and Arrow conversion.

pandas is never imported here: a value can only be a DataFrame if pandas is already loaded.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

ARROW_TYPES = "pyarrow.Table, pyarrow.RecordBatch, a list of RecordBatches or a pandas DataFrame"


class UnsupportedValueError(TypeError):
    """A value of a type a manager cannot store; the manager turns it into IOManagerError."""


def is_dataframe(value: Any) -> bool:
    """True when `value` is a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _is_arrow(value: Any) -> bool:
    return type(value).__module__.startswith("pyarrow")


def count_rows(value: Any) -> int | None:
    """Rows in `value` when that is meaningful: lists, tuples, dicts, Arrow data, DataFrames."""
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    if _is_arrow(value) and isinstance(getattr(value, "num_rows", None), int):
        return int(value.num_rows)
    if is_dataframe(value):
        return len(value)
    return None


def to_arrow_table(value: Any, *, allow_records: bool = False) -> tuple[pa.Table, bool]:
    """Convert a tabular value to a `pyarrow.Table`.

    Accepts an Arrow Table, a RecordBatch, a non-empty list of RecordBatches, a pandas
    DataFrame and, with `allow_records`, a non-empty list of dicts.

    Returns:
        The table and whether the value was a pandas DataFrame.

    Raises:
        UnsupportedValueError: the value is none of those.
    """
    # lazy: keeps CLI start-up fast
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value, False
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value]), False
    if is_dataframe(value):
        return pa.Table.from_pandas(value), True
    if isinstance(value, list) and value:
        if all(isinstance(item, pa.RecordBatch) for item in value):
            return pa.Table.from_batches(value), False
        if allow_records and all(isinstance(item, dict) for item in value):
            return pa.Table.from_pylist(value), False
    raise UnsupportedValueError(type(value).__name__)
