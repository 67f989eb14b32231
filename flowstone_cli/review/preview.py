"""Short, safe previews of values for people deciding on them (and for notifications)."""

from __future__ import annotations

import json
from typing import Any

MAX_ROWS = 10
MAX_TEXT = 2000


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def preview(value: Any) -> dict[str, Any]:
    """A JSON-ready summary of `value`: its type, size and a few rows, items or characters.

    Arrow tables and pandas DataFrames show their schema and first rows; dicts and lists their
    first items; text its first characters; anything else its `repr`, cut short.
    """
    kind = _type_name(value)
    if hasattr(value, "schema") and hasattr(value, "num_rows") and hasattr(value, "slice"):
        rows = value.slice(0, MAX_ROWS).to_pylist()
        return {"type": kind, "rows": value.num_rows,
                "columns": [f"{f.name}: {f.type}" for f in value.schema],
                "head": json.loads(json.dumps(rows, default=str))}
    if hasattr(value, "to_dict") and hasattr(value, "shape") and hasattr(value, "head"):
        return {"type": kind, "rows": int(value.shape[0]),
                "columns": [str(c) for c in value.columns],
                "head": json.loads(value.head(MAX_ROWS).to_json(orient="records",
                                                                default_handler=str))}
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ROWS * 3]
        return {"type": kind, "items": len(value),
                "value": json.loads(json.dumps(dict(items), default=str))}
    if isinstance(value, (list, tuple)):
        return {"type": kind, "items": len(value),
                "head": json.loads(json.dumps(list(value[:MAX_ROWS]), default=str))}
    if isinstance(value, str):
        return {"type": kind, "length": len(value), "text": value[:MAX_TEXT]}
    return {"type": kind, "repr": repr(value)[:MAX_TEXT]}


def render(summary: dict[str, Any]) -> str:
    """A few lines of text for a preview (terminal output of `checkpoints show`)."""
    lines = [f"type: {summary.get('type')}"]
    for key in ("rows", "items", "length"):
        if key in summary:
            lines.append(f"{key}: {summary[key]}")
    if "columns" in summary:
        lines.append("columns: " + ", ".join(summary["columns"]))
    for key in ("head", "value"):
        if key in summary:
            lines.append(json.dumps(summary[key], indent=2, default=str)[:MAX_TEXT])
    if "text" in summary:
        lines.append(summary["text"])
    if "repr" in summary:
        lines.append(summary["repr"])
    return "\n".join(lines)
