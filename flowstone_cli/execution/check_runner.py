"""Running an asset's checks on a value, in the worker that computed (or loaded) it.

A check that raises is a failed check carrying the exception's message, never a failed step: the
value is already stored. Results are plain dicts so they cross the process boundary in a
`StepResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.definitions.checks import AssetCheckSpec, Severity
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.metadata.ids import new_id

_MAX_MESSAGE = 2000


def _json_like(metadata: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(metadata or {}).items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[str(key)] = value
        elif isinstance(value, (list, tuple)):
            out[str(key)] = [v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
                             for v in value]
        else:
            out[str(key)] = str(value)
    return out


def run_checks(checks: Sequence[AssetCheckSpec], value: Any,
               context: Callable[[], Any]) -> tuple[dict[str, Any], ...]:
    """Evaluate each check on `value`; `context` builds the check's context when one asks."""
    results: list[dict[str, Any]] = []
    for check in checks:
        started = time.time()
        try:
            outcome = check.evaluate(value, context() if check.wants_context else None)
            passed, message = bool(outcome.passed), outcome.message
            metadata = _json_like(outcome.metadata)
            severity = outcome.severity or check.severity.value
            if severity not in (Severity.ERROR.value, Severity.WARN.value):
                severity = check.severity.value
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed check
            passed, metadata, severity = False, {"error_type": type(exc).__name__}, \
                check.severity.value
            message = f"check raised {type(exc).__name__}: {exc}"
        results.append({"name": check.name, "passed": passed, "severity": severity,
                        "blocking": check.blocking, "message": message[:_MAX_MESSAGE],
                        "metadata": metadata, "executed_at": time.time(),
                        "duration_ms": round((time.time() - started) * 1000, 2)})
    return tuple(results)


def blocking_failures(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results that keep a value from flowing downstream."""
    return [r for r in results if not r["passed"] and r["blocking"]
            and r["severity"] == Severity.ERROR.value]


def check_records(results: Sequence[dict[str, Any]], *, asset: str, partition: str | None,
                  materialization: str, run_id: str | None) -> list[CheckRecord]:
    """Rows of the `checks` table for results of `run_checks`."""
    return [CheckRecord(check_id=new_id(), check_name=r["name"], asset=asset,
                        partition=partition, materialization=materialization, run_id=run_id,
                        passed=r["passed"], severity=r["severity"], blocking=r["blocking"],
                        message=r["message"] or None,
                        metadata={**r["metadata"], "duration_ms": r.get("duration_ms")},
                        executed_at=datetime.fromtimestamp(r["executed_at"], tz=timezone.utc))
            for r in results]


def failure_text(failures: Sequence[dict[str, Any]], asset: str) -> str:
    """`check orders.not_null_id failed: 3 null value(s) in `id``, for one or more failures."""
    parts = [f"{asset}.{r['name']}" + (f" ({r['message']})" if r["message"] else "")
             for r in failures]
    return f"blocking check{'s' if len(parts) > 1 else ''} failed: {'; '.join(parts)}"
