"""Helpers for users' own tests: run assets in memory, build a context, drive a project.

```python
from flowstone_cli.testing import build_context, materialize_to_memory

def test_daily_report(fake_fx):
    result = materialize_to_memory("my_project", "+daily_report", partition="2025-01-15",
                                   resources={"fx": fake_fx})
    assert result.success, result.failures
    assert result.value("daily_report", "2025-01-15")["total"] > 0
```

`materialize_to_memory` runs the real planner and coordinator inline (the same code as
`flowstone materialize --executor inline`), with every value kept in memory and the metadata in a
temporary DuckDB file that is removed afterwards. The pytest plugin adds a `flowstone_project`
fixture (see `flowstone_cli/testing/plugin.py`).
"""

from __future__ import annotations

from flowstone_cli.testing.context import build_context
from flowstone_cli.testing.memory import MaterializeResult, materialize_to_memory

__all__ = ["MaterializeResult", "build_context", "materialize_to_memory"]
