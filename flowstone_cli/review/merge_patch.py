"""JSON merge patch (RFC 7396): how an approver modifies a JSON-like value before approving."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from flowstone_cli.errors import UsageError


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7396 says; `target` is not modified.

    Objects merge key by key (a null value removes the key); anything else replaces.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_like(value: Any) -> bool:
    """Whether `value` is made only of dicts with string keys, lists, str, numbers, bools, None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_like(v) for k, v in value.items())
    return False


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of a JSON-like value (sorted keys, compact)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def load_patch(text: str, source: str) -> Any:
    """Parse a patch file's text.

    Raises:
        UsageError: not valid JSON.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}",
                         hint="A merge patch is a JSON object, e.g. {\"title\": \"Fixed\"}.") \
            from None
